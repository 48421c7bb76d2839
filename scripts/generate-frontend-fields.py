#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the front ends' field table from schemas/desired-state.schema.json, the one declaration
of every resource kind's fields (issue #9, "one field table").

Output: puppet/lib/puppet_x/virtconverge/fields.rb, plain Ruby data (the Puppet types load on the
server and the agents from the module's lib/ alone, so they cannot read the schema at run time).
For each kind (host, pool, network, volume, rbd_image, domain: the $defs the document's sections
hold),
its fields in schema order, each with
  type    the Puppet data type, derived from the schema node (enum -> Enum, integer bounds ->
          Integer[a, b], number -> Numeric, boolean -> Boolean, pattern -> Pattern[/\\A...\\z/],
          a size -> Variant[Integer[1], Pattern[...]], array -> Array, object -> Struct with its
          required keys, oneOf/anyOf -> Variant; an exclusiveMinimum as an inclusive bound, the
          engine refusing the bound itself), wrapped in Optional (a field left out is not managed);
  desc    the schema's description (and its default, when the description does not say it);
  size    whether it is a size ($defs/size: bytes, or a size string such as 2GiB);
  policy  whether its x-change is 'policy' (sent to the engine, never observed, never compared).
The kind's `ensure` is left out: each front end spells it its own way (Puppet's ensure, Salt's
<kind>_present / <kind>_absent). Salt needs no table: its states pass the fields through and the
engine checks them.

  scripts/generate-frontend-fields.py           # rewrite the generated file(s)
  scripts/generate-frontend-fields.py --check   # exit 1, with a diff, when one is out of date
  scripts/generate-frontend-fields.py --output-root DIR   # write under DIR instead of the tree

Python 3 standard library only. A schema construct with no mapping fails the run with the field's
path, so a new kind of field is noticed here rather than mistyped.
"""

import argparse
import difflib
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCHEMA = "schemas/desired-state.schema.json"
PUPPET_FIELDS = "puppet/lib/puppet_x/virtconverge/fields.rb"
SCRIPT = "scripts/generate-frontend-fields.py"

INT64_MAX = 2**63 - 1
LINE = 110  # longest generated Ruby line, as far as a line can be broken at a space

# Puppet words that cannot be a bare Enum value or Struct key.
PUPPET_RESERVED = {
    "and", "application", "attr", "case", "class", "consumes", "default", "define", "elsif",
    "else", "false", "function", "if", "import", "in", "inherits", "node", "or", "private",
    "produces", "site", "true", "type", "undef", "unit", "unless",
}


class SchemaError(Exception):
    pass


# --- the schema -------------------------------------------------------------------------------

def resolve(schema, node):
    """A node with its local $ref merged in (the node's own keys win: description, x-*)."""
    node = dict(node)
    while "$ref" in node:
        ref = node.pop("$ref")
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"unsupported $ref {ref}")
        node = {**schema["$defs"][ref[len("#/$defs/"):]], **node}
    return node


def kinds(schema):
    """[(kind, section)] in the document's order: each top-level section whose entries are a $def.
    hosts: is one of them (kind host: a hypervisor's capacity limits and KSM settings, Puppet's
    virt_host); its connection is a field there (a hosts: entry names its URI)."""
    out = []
    for section, node in schema["properties"].items():
        ref = (node.get("additionalProperties") or {}).get("$ref", "") if isinstance(node, dict) else ""
        if node.get("type") == "object" and ref.startswith("#/$defs/"):
            out.append((ref[len("#/$defs/"):], section))
    return out


def fields(schema, kind):
    """[(field, node as written)] of a kind in schema order, ensure excepted, and the placement
    fields (host, hosts) excepted: a Puppet or Salt resource converges one host, its connection;
    a fleet is a document with hosts:, planned by the engine as one."""
    return [(f, n) for f, n in schema["$defs"][kind]["properties"].items()
            if f != "ensure" and n.get("x-change") != "placement"]


# --- Puppet data types ------------------------------------------------------------------------

def puppet_word(value):
    """An Enum value or Struct key: bare when Puppet reads it as a bare word, else quoted."""
    if re.fullmatch(r"[a-z][a-z0-9_-]*", value) and value not in PUPPET_RESERVED and not value.endswith("-"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def puppet_regexp(pattern, path):
    """A JSON Schema pattern as a Puppet regexp literal: ^ and $ anchors become \\A and \\z (Ruby's
    ^ and $ match at every line), / is escaped."""
    if "/" in pattern.replace("\\/", ""):
        pattern = re.sub(r"(?<!\\)/", r"\\/", pattern)
    if pattern.startswith("^"):
        pattern = "\\A" + pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\z"
    if re.search(r"(?<!\\)[\^$]", pattern.replace("[^", "[")):
        raise SchemaError(f"{path}: pattern {pattern!r} has an anchor inside it")
    return f"Pattern[/{pattern}/]"


def integer_type(node):
    low, high = node.get("minimum"), node.get("maximum")
    if high == INT64_MAX:  # Puppet's Integer is 64-bit already
        high = None
    if low is None and high is None:
        return "Integer"
    if high is None:
        return f"Integer[{low}]"
    return f"Integer[{'default' if low is None else low}, {high}]"


def string_type(node, path):
    if "pattern" in node:
        return puppet_regexp(node["pattern"], path)
    if "minLength" in node or "maxLength" in node:
        low = node.get("minLength", 0)
        return f"String[{low}, {node['maxLength']}]" if "maxLength" in node else f"String[{low}]"
    return "String"


def struct_type(schema, node, path, required, excluded=()):
    entries = []
    for key, sub in node.get("properties", {}).items():
        if key in excluded:
            continue
        value = puppet_type(schema, sub, f"{path}.{key}")
        word = puppet_word(key)
        entries.append(f"{word} => {value}" if key in required else f"Optional[{word}] => {value}")
    return "Struct[{" + ", ".join(entries) + "}]"


def object_type(schema, node, path):
    if node.get("additionalProperties") is True and "properties" not in node:
        return "Hash[String, Data]"  # free-form data passed through (a cloud-config mapping)
    if node.get("additionalProperties", True) is not False:
        raise SchemaError(f"{path}: an object must say additionalProperties: false (a Struct is closed)")
    required = set(node.get("required", []))
    branches = node.get("oneOf") or node.get("anyOf")
    if not branches:
        return struct_type(schema, node, path, required)
    # A choice of required keys ({volume} or {rbd}): one Struct per branch, holding that branch's
    # keys and none of the others' (so an entry with both matches no branch, as with oneOf).
    if not all(set(b) == {"required"} for b in branches):
        raise SchemaError(f"{path}: only oneOf/anyOf branches of 'required' lists are mapped on objects")
    chosen = [set(b["required"]) for b in branches]
    every = set().union(*chosen)
    structs = [struct_type(schema, node, path, required | mine, excluded=every - mine - required)
               for mine in chosen]
    return "Variant[" + ", ".join(structs) + "]"


def puppet_type(schema, node, path):
    """The Puppet data type of a schema node (not wrapped in Optional)."""
    node = resolve(schema, node)
    for choice in ("oneOf", "anyOf"):
        if choice in node and node.get("type") != "object":
            rest = {k: v for k, v in node.items() if k != choice}
            return "Variant[" + ", ".join(puppet_type(schema, {**rest, **branch}, path)
                                          for branch in node[choice]) + "]"
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    if "enum" in node:
        values = node["enum"]
        if not all(isinstance(v, str) for v in values):
            raise SchemaError(f"{path}: only string enums are mapped")
        return "Enum[" + ", ".join(puppet_word(v) for v in values) + "]"
    types = node.get("type")
    if types is None:
        raise SchemaError(f"{path}: no type, enum or const")
    if isinstance(types, list):
        return "Variant[" + ", ".join(puppet_type(schema, {**node, "type": t}, path) for t in types) + "]"
    if types == "boolean":
        return "Boolean"
    if types == "integer":
        return integer_type(node)
    if types == "number":
        low, high = node.get("minimum"), node.get("maximum")
        above = node.get("exclusiveMinimum")
        if low is None and high is None and above is None:
            return "Numeric"
        top = "default" if high is None else high
        if above is not None:
            # Puppet's ranges are inclusive: an Integer starts above the bound, a Float at it (the
            # bound itself is left to the engine, which refuses it with the field's path).
            if low is not None or not isinstance(above, int):
                raise SchemaError(f"{path}: exclusiveMinimum is mapped only as an integer bound alone")
            return f"Variant[Integer[{above + 1}, {top}], Float[{above}, {top}]]"
        bounds = f"{'default' if low is None else low}, {top}"
        return f"Variant[Integer[{bounds}], Float[{bounds}]]"
    if types == "string":
        return string_type(node, path)
    if types == "array":
        if "items" not in node:
            raise SchemaError(f"{path}: an array needs items")
        item = puppet_type(schema, node["items"], path + "[]")
        low, high = node.get("minItems"), node.get("maxItems")
        if low is None and high is None:
            return f"Array[{item}]"
        return f"Array[{item}, {low or 0}" + (f", {high}]" if high is not None else "]")
    if types == "object":
        return object_type(schema, node, path)
    raise SchemaError(f"{path}: no Puppet type for the JSON type {types!r}")


def description(schema, node, policy):
    """The field's description, and its default when the description does not mention one."""
    resolved = resolve(schema, node)
    text = " ".join(str(resolved.get("description", "")).split())
    if not text:
        raise SchemaError("every field needs a description")
    default = resolved.get("default")
    if default is not None and not isinstance(default, (list, dict)) and "default" not in text.lower():
        shown = json.dumps(default) if not isinstance(default, str) else default
        text += f" Default{'' if policy else ' at creation'}: {shown}."
    return text


def is_size(node):
    return node.get("$ref") == "#/$defs/size"


# --- Ruby ---------------------------------------------------------------------------------------

def ruby_pieces(text, width):
    """`text` cut at spaces into pieces of about `width` characters (each keeps its trailing space)."""
    pieces, current = [], ""
    for word in re.split(r"(?<= )", text):
        if current and len(current) + len(word) > width:
            pieces.append(current)
            current = ""
        current += word
    pieces.append(current)
    return pieces


def ruby_literal(piece, double):
    if double:
        return '"' + piece + '"'
    # In single quotes only \\ and \' are escapes; any other backslash stands for itself.
    out = re.sub(r"\\(?=\\|'|$)", r"\\\\", piece)
    return "'" + out.replace("'", "\\'") + "'"


def ruby_string(text, indent):
    """A Ruby string expression for `text`, broken over lines with \\ where it is long."""
    double = "'" in text and not re.search(r'["\\#]', text)
    width = max(40, LINE - indent - 4)
    pieces = ruby_pieces(text, width)
    pad = " " * indent  # under the first piece
    return (" \\\n" + pad).join(ruby_literal(p, double) for p in pieces)


def puppet_fields(schema):
    lines = [
        "# frozen_string_literal: true",
        "",
        f"# GENERATED from {SCHEMA} by {SCRIPT}: do not edit.",
        f"# Regenerate after a change of the schema: python3 {SCRIPT}",
        "# (ctest puppet_fields_generated fails while this file is out of date).",
        "#",
        "# Every document field of every resource kind, in schema order (ensure is the types' own):",
        "# type: its Puppet data type, derived from the schema; desc: the schema's description;",
        "# size: bytes or a size string ($defs/size); policy: x-change 'policy', sent to the engine and",
        "# never observed nor compared (a Puppet parameter, not a property). The types and providers",
        "# read it through PuppetX::Virtconverge::FieldAttributes.",
        "module PuppetX",
        "  module Virtconverge",
        "    module Fields",
        "      TABLE = {",
    ]
    for kind, _section in kinds(schema):
        lines.append(f"        '{kind}' => [")
        for field, node in fields(schema, kind):
            path = f"{kind}.{field}"
            try:
                policy = resolve(schema, node).get("x-change") == "policy"
                ptype = f"Optional[{puppet_type(schema, node, path)}]"
                desc = description(schema, node, policy)
            except SchemaError as exc:
                msg = str(exc)
                raise SchemaError(msg if msg.startswith(path) else f"{path}: {msg}") from None
            lines += [
                "          {",
                f"            name: :{field},",
                f"            type: {ruby_string(ptype, 12 + len('type: '))},",
                f"            desc: {ruby_string(desc, 12 + len('desc: '))},",
                f"            size: {'true' if is_size(node) else 'false'},",
                f"            policy: {'true' if policy else 'false'},",
                "          },",
            ]
        lines.append("        ],")
    lines += [
        "      }.freeze",
        "    end",
        "  end",
        "end",
        "",
    ]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------

def generated(schema):
    """{path relative to the tree: text} of every generated file."""
    return {PUPPET_FIELDS: puppet_fields(schema)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff when a generated file is out of date")
    parser.add_argument("--schema", default=os.path.join(ROOT, SCHEMA), help="the schema to read")
    parser.add_argument("--output-root", default=ROOT, help="the tree to write into (default: this one)")
    args = parser.parse_args(argv)
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        files = generated(schema)
    except SchemaError as exc:
        print(f"generate-frontend-fields: {args.schema}: {exc}", file=sys.stderr)
        return 2
    stale = 0
    for rel, text in files.items():
        target = os.path.join(args.output_root, rel)
        try:
            with open(target, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(
                (current or "").splitlines(True), text.splitlines(True),
                fromfile=f"{rel} (in the tree)", tofile=f"{rel} (from {SCHEMA})"))
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {target}")
    if stale:
        print(f"generate-frontend-fields: {stale} generated file(s) out of date with {SCHEMA}; "
              f"run: python3 {SCRIPT}", file=sys.stderr)
        return 1
    if args.check:
        print(f"generate-frontend-fields: {', '.join(files)} up to date with {SCHEMA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
