#!/usr/bin/python3
"""Check that the JSON Schemas, the example documents and virtconverge agree.

    check_schema_agreement.py --binary PATH/TO/virtconverge --schemas DIR
    check_schema_agreement.py --schema-only --schemas DIR

DIR is the schemas directory: desired-state.schema.json, plan.schema.json and
examples/{valid,invalid,plan}/.

- examples/valid/*.yaml|*.json: the schema accepts it, and `virtconverge validate FILE` exits 0.
- examples/invalid/*.yaml: the first line is `# expect: TEXT`. The schema rejects the document,
  and every schema error is about TEXT (TEXT occurs in "<field path>: <message>", where the field
  path is written like domains.web1.disks[0].target and includes the missing, unknown or
  malformed key); `virtconverge validate FILE` exits 1 and its stderr contains TEXT.
- every example (valid or invalid) parses to the same data under YAML 1.2 (what virtconverge
  reads) and YAML 1.1 (PyYAML, Ruby: what the Puppet and Salt tests read), with no duplicate keys
  and only string keys; a .json example parses the same as JSON; valid/X.yaml and valid/X.json,
  when both exist, give the same model.
- examples/plan/*.json: plan.schema.json accepts it, and it is consistent (summary counts,
  disruption = worst attribute, address = kind.name, applyable vs errors and allow flags).
- `virtconverge schema desired-state` and `virtconverge schema plan` print JSON equal to the
  schema files.

With --schema-only the binary is not run. Prints one line per file; exits 1 listing every
disagreement, 2 on usage errors, 0 when everything agrees.

Uses only the standard library, python3-jsonschema (>= 4, draft 2020-12) and python3-yaml.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import jsonschema
import jsonschema.validators
import yaml
from jsonschema.exceptions import ValidationError

BINARY_TIMEOUT = 60  # seconds per virtconverge call


# --------------------------------------------------------------------------- YAML loading

class DuplicateKeyError(Exception):
    pass


def _construct_mapping_strict(loader, node, deep=False):
    """A mapping constructor that rejects duplicate and non-string keys."""
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            raise DuplicateKeyError(
                f"line {key_node.start_mark.line + 1}: key {key!r} is a {type(key).__name__}, "
                "not a string (quote it)")
        if key in mapping:
            raise DuplicateKeyError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_map(loader, node):
    data = {}
    yield data
    data.update(_construct_mapping_strict(loader, node, deep=True))


class Yaml11Loader(yaml.SafeLoader):
    """PyYAML's YAML 1.1 safe loader (as Salt and Ruby's Psych read), strict about keys."""


Yaml11Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class Yaml12Loader(yaml.SafeLoader):
    """The YAML 1.2 core schema: only true/false booleans, no yes/no/on/off, no sexagesimal
    or 0-prefixed octal integers, no timestamps, no merge keys."""


Yaml12Loader.yaml_implicit_resolvers = {}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def _construct_int_12(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int_12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _json_object_no_dups(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def canonical(value):
    """A text form that tells 1, 1.0 and true apart, for exact comparisons."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def first_difference(a, b, path=()):
    """The path of the first place where a and b differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return render_path(path + (key,))
            found = first_difference(a[key], b[key], path + (key,))
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, path + (i,))
            if found is not None:
                return found
        return None if len(a) == len(b) else render_path(path) or "(top)"
    if canonical(a) != canonical(b):
        return f"{render_path(path) or '(top)'} ({canonical(a)} vs {canonical(b)})"
    return None


def load_document(path):
    """Returns (data, problems). data is what YAML 1.2 gives (None on a parse error)."""
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = yaml.load(text, Loader=Yaml12Loader)
    except (yaml.YAMLError, DuplicateKeyError, ValueError) as e:
        return None, [f"does not parse as YAML 1.2: {e}"]
    try:
        data11 = yaml.load(text, Loader=Yaml11Loader)
        where = first_difference(data, data11)
        if where is not None:
            problems.append(f"parses differently under YAML 1.2 and YAML 1.1 (Puppet, Salt) at "
                            f"{where}: quote the ambiguous scalar")
    except (yaml.YAMLError, DuplicateKeyError, ValueError) as e:
        problems.append(f"does not parse as YAML 1.1 (Puppet, Salt): {e}")
    if path.endswith(".json"):
        try:
            data_json = json.loads(text, object_pairs_hook=_json_object_no_dups)
            where = first_difference(data, data_json)
            if where is not None:
                problems.append(f"parses differently as YAML 1.2 and as JSON at {where}")
        except (ValueError, DuplicateKeyError) as e:
            problems.append(f"is not valid JSON: {e}")
    return data, problems


# --------------------------------------------------------------------------- schema checking

def ecma_to_python(pattern):
    """JSON Schema patterns are ECMA-262 regular expressions, where `$` (without the m flag)
    matches only at the very end. Python's `$` also matches before a final newline, so
    "web1\\n" would pass ^...$. Translate unescaped `$` outside classes to \\Z."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


def _ecma_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not re.search(ecma_to_python(pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _ecma_pattern})


def render_path(parts):
    """domains.web1.disks[0].target; control characters in keys are shown escaped."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = re.sub(r"[\x00-\x1f\x7f]", lambda m: json.dumps(m.group(0))[1:-1], str(part))
            text += ("." if text else "") + part
    return text


def describe(error):
    """Human descriptions "<field path>: <message>" of one schema error. The path names the
    field the error is about: for a missing or unknown field, and for a malformed key (from
    propertyNames), the key is appended to the path of the object holding it."""
    base = list(error.absolute_path)
    if error.validator == "required":
        missing = [p for p in error.validator_value
                   if isinstance(error.instance, dict) and p not in error.instance]
        return [f"{render_path(base + [p])}: {error.message}" for p in missing] or \
               [f"{render_path(base)}: {error.message}"]
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        extras = [k for k in error.instance if k not in known]
        return [f"{render_path(base + [k])}: {error.message}" for k in extras]
    if "propertyNames" in error.absolute_schema_path:
        return [f"{render_path(base + [error.instance])}: {error.message}"]
    return [f"{render_path(base)}: {error.message}"]


def schema_errors(validator, data):
    return sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


# --------------------------------------------------------------------------- plan consistency

DISRUPTION_ORDER = ["none", "live", "restart", "destructive"]


def plan_consistency(plan):
    problems = []
    changes = plan.get("changes", [])
    for i, change in enumerate(changes):
        where = f"changes[{i}]"
        if change["address"] != f'{change["kind"]}.{change["name"]}':
            problems.append(f"{where}.address is not kind.name")
        attributes = change.get("attributes", [])
        if attributes:
            worst = max((a["disruption"] for a in attributes), key=DISRUPTION_ORDER.index)
            if change["disruption"] != worst:
                problems.append(f"{where}.disruption is {change['disruption']}, the worst "
                                f"attribute disruption is {worst}")
    summary = plan.get("summary", {})
    for action in ["create", "update", "replace", "delete"]:
        n = sum(1 for c in changes if c["action"] == action)
        if summary.get(action) != n:
            problems.append(f"summary.{action} is {summary.get(action)}, changes have {n}")
    for disruption in ["live", "restart", "destructive"]:
        n = sum(1 for c in changes if c["disruption"] == disruption)
        if summary.get(disruption) != n:
            problems.append(f"summary.{disruption} is {summary.get(disruption)}, changes have {n}")
    has_error = any(d["severity"] == "error" for d in plan.get("diagnostics", []))
    needs_flag = any(c["disruption"] == "destructive" for c in changes) and \
        not plan["options"]["allow_destroy"]
    if plan.get("applyable") and (has_error or needs_flag):
        problems.append("applyable is true but " + (
            "an error diagnostic is present" if has_error else
            "a destructive change needs --allow-destroy"))
    return problems


# --------------------------------------------------------------------------- binary

def run_binary(binary, args):
    try:
        proc = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=BINARY_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {BINARY_TIMEOUT}s"
    except OSError as e:
        return None, "", f"cannot run: {e}"
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


def short(text, limit=300):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- main

EXPECT_RE = re.compile(r"^# expect: (.+?)\s*$")


def list_examples(directory, extensions):
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(extensions) and os.path.isfile(os.path.join(directory, f)))


class Checker:
    def __init__(self, schemas_dir, binary):
        self.dir = schemas_dir
        self.binary = binary
        self.failures = []  # (label, [problems])
        self.checked = 0

    def report(self, label, problems):
        self.checked += 1
        if problems:
            self.failures.append((label, problems))
            print(f"FAIL  {label}: " + "; ".join(problems), flush=True)
        else:
            print(f"ok    {label}", flush=True)

    def label(self, path):
        return os.path.relpath(path, os.path.join(self.dir, "examples"))

    def load_schema(self, filename):
        path = os.path.join(self.dir, filename)
        problems = []
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f, object_pairs_hook=_json_object_no_dups)
            Validator.check_schema(schema)
        except (OSError, ValueError, DuplicateKeyError, jsonschema.SchemaError) as e:
            self.report(filename, [f"not a valid draft 2020-12 schema: {short(str(e))}"])
            return None
        if self.binary:
            what = filename.replace(".schema.json", "")
            rc, out, err = run_binary(self.binary, ["schema", what])
            if rc != 0:
                problems.append(f"`virtconverge schema {what}` exited {rc}: {short(err)}")
            else:
                try:
                    printed = json.loads(out, object_pairs_hook=_json_object_no_dups)
                    if canonical(printed) != canonical(schema):
                        problems.append(f"`virtconverge schema {what}` prints JSON that differs "
                                        f"from {filename}")
                except (ValueError, DuplicateKeyError) as e:
                    problems.append(f"`virtconverge schema {what}` does not print JSON: {e}")
        self.report(filename, problems)
        return Validator(schema)

    def check_valid(self, validator, path):
        data, problems = load_document(path)
        if data is not None or not problems:
            for error in schema_errors(validator, data):
                problems += [f"schema rejects it: {d}" for d in describe(error)]
        if self.binary:
            rc, _, err = run_binary(self.binary, ["validate", path])
            if rc != 0:
                problems.append(f"`virtconverge validate` exited {rc}: {short(err)}")
        self.report(self.label(path), problems)
        return data

    def check_real_plan(self, validator, path):
        """The plan the binary makes of a valid document (on the test driver) is what the plan
        schema describes: steps, codes and all."""
        rc, out, err = run_binary(self.binary, ["plan", path, "--connection", "test:///default",
                                                "--format", "json"])
        label = self.label(path) + " (its real plan)"
        try:
            plan = json.loads(out)
        except ValueError:
            self.report(label, [f"`virtconverge plan --format json` exited {rc} without a JSON plan: {short(err)}"])
            return
        if plan.get("plan", "absent") is None:  # failed before planning: the error object
            self.report(label, [] if plan.get("error") or plan.get("diagnostics") else ["no error object"])
            return
        problems = [f"plan schema rejects it: {d}" for e in schema_errors(validator, plan) for d in describe(e)]
        self.report(label, problems)

    def check_invalid(self, validator, path):
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        m = EXPECT_RE.match(first)
        expect = m.group(1) if m else None
        data, problems = load_document(path)
        if expect is None:
            problems.append("the first line is not '# expect: TEXT'")
        if data is not None or not problems:
            errors = schema_errors(validator, data)
            if not errors:
                problems.append("the schema accepts it")
            elif expect is not None:
                for error in errors:
                    descriptions = describe(error)
                    if not any(expect in d for d in descriptions):
                        problems.append(f"the schema also rejects it for another reason than "
                                        f"{expect!r}: {descriptions[0]}")
        if self.binary:
            rc, _, err = run_binary(self.binary, ["validate", path])
            if rc != 1:
                problems.append(f"`virtconverge validate` exited {rc} (expected 1): {short(err)}")
            elif expect is not None and expect not in err:
                problems.append(f"`virtconverge validate` stderr does not contain {expect!r}: "
                                f"{short(err)}")
        self.report(self.label(path), problems)

    def check_plan(self, validator, path):
        problems = []
        try:
            with open(path, encoding="utf-8") as f:
                plan = json.load(f, object_pairs_hook=_json_object_no_dups)
        except (OSError, ValueError, DuplicateKeyError) as e:
            self.report(self.label(path), [f"is not valid JSON: {e}"])
            return
        errors = schema_errors(validator, plan)
        for error in errors:
            problems += [f"schema rejects it: {d}" for d in describe(error)]
        if not errors:
            problems += plan_consistency(plan)
        self.report(self.label(path), problems)

    def run(self):
        examples = os.path.join(self.dir, "examples")
        desired = self.load_schema("desired-state.schema.json")
        plan = self.load_schema("plan.schema.json")

        valid = list_examples(os.path.join(examples, "valid"), (".yaml", ".yml", ".json"))
        invalid = list_examples(os.path.join(examples, "invalid"), (".yaml", ".yml", ".json"))
        plans = list_examples(os.path.join(examples, "plan"), (".json",))
        for what, files in [("valid", valid), ("invalid", invalid), ("plan", plans)]:
            if not files:
                self.report(f"{what}/", [f"no example files in {os.path.join(examples, what)}"])

        if desired is not None:
            models = {}
            for path in valid:
                models[path] = self.check_valid(desired, path)
            # valid/X.yaml and valid/X.json, when both exist, must give the same model.
            for path, data in sorted(models.items()):
                stem, ext = os.path.splitext(path)
                twin = stem + ".json"
                if ext in (".yaml", ".yml") and twin in models and data is not None:
                    label = f"{self.label(path)} == {os.path.basename(twin)}"
                    where = first_difference(data, models[twin])
                    self.report(label, [] if where is None else
                                [f"the two files give different models at {where}"])
            for path in invalid:
                self.check_invalid(desired, path)
        if plan is not None:
            for path in plans:
                self.check_plan(plan, path)
            if self.binary:
                for path in valid:
                    self.check_real_plan(plan, path)

        print()
        mode = "binary " + self.binary if self.binary else "schema only, binary not run"
        if self.failures:
            print(f"{len(self.failures)} of {self.checked} checks disagree ({mode}):")
            for label, problems in self.failures:
                for problem in problems:
                    print(f"  {label}: {problem}")
            return 1
        print(f"all {self.checked} checks agree ({mode})")
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", help="path to the virtconverge binary")
    parser.add_argument("--schemas", required=True, help="the schemas directory")
    parser.add_argument("--schema-only", action="store_true",
                        help="check the schemas and examples only; do not run the binary")
    args = parser.parse_args(argv)
    if not args.schema_only and not args.binary:
        parser.error("give --binary PATH, or --schema-only")
    if args.binary and not args.schema_only:
        if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
            parser.error(f"{args.binary}: not an executable file")
        binary = os.path.abspath(args.binary)
    else:
        binary = None
    if not os.path.isdir(args.schemas):
        parser.error(f"{args.schemas}: not a directory")
    return Checker(args.schemas, binary).run()


if __name__ == "__main__":
    sys.exit(main())
