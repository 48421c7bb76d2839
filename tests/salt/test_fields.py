"""One field table: schemas/desired-state.schema.json declares every kind's fields, and the engine
reads the same schema. The ``<kind>_present`` states keep no list of them: they take the fields as
keyword arguments and pass them into the document as they are, and the engine checks them. What
must hold, and is proved here:

- every schema field of a kind reaches the document through Salt's own call machinery
  (salt.utils.args.format_call with the state compiler's internal keywords, as salt/state.py calls
  a state): no field is a name Salt keeps for itself, or one of the state's own arguments, unless
  it is listed under another name (RENAMED), and Salt's ``__pub_*``/``__env__`` keys are dropped;
- a state given every schema field of its kind builds a document the engine accepts;
- a field the schema does not have fails the state, in test and in live mode, with the engine's
  ``unknown_field`` diagnostic naming it;
- ``<kind>_absent`` declares ``ensure: absent``.

Enum values and nested fields are not Salt's to list either: the values are passed through
unchanged and the engine checks them against the same schema."""

import copy
import inspect
import json
import os
import re

import pytest
import salt.state
import salt.utils.args

from conftest import REPO, Minion, load_module

SCHEMA = json.load(open(os.path.join(REPO, "schemas", "desired-state.schema.json")))
TEST_URI = "test:///default"
# The document's sections, and the kind of each: {kind: section}.
# (hosts: is a fleet's hypervisors, not a kind of resource.)
SECTIONS = {node["additionalProperties"]["$ref"].rsplit("/", 1)[1]: section
            for section, node in SCHEMA["properties"].items()
            if section != "hosts" and isinstance(node, dict)
            and "$ref" in (node.get("additionalProperties") or {})}

# Schema fields a state takes under another name: {kind: {field: argument}}.
RENAMED = {
    "domain": {"state": "domain_state"},  # `state` is Salt's (STATE_RUNTIME_KEYWORDS)
}
# Arguments of the states that are not document fields of the kind, with the reason.
SALT_ONLY = {
    "name": "the resource's key in its section (with pool: <pool>/<name>)",
    "pool": "the first half of a volume's or RBD image's key, when name is the second",
    "connection": "where the resource is: the engine's connection option, not a field",
    "allow_destroy": "an engine option of the state's plan and apply",
    "allow_restart": "an engine option of the state's plan and apply",
    "shutdown_timeout": "an engine option of the domain's apply",
    "ceph_conf": "the document's ceph: section (conf)",
    "ceph_user": "the document's ceph: section (user)",
    "allow_overcommit": "an engine option of the domain's plan and apply (--allow-overcommit)",
}
# Sample values of the schema's patterned strings, by their $def or x-type (a new kind of
# patterned string needs one here; a new field of a known shape needs nothing).
SAMPLE_BY_DEF = {"name": "vcs-f", "volume_address": "vcs-p/vcs-v", "size": "1GiB",
                 "absolute_path": "/srv/vcs-f"}
SAMPLE_BY_X_TYPE = {"bridge": "vcsbr0", "target": "vda", "mac": "52:54:00:00:00:01",
                    "cpu_model": "Skylake-Client-v4", "snapshot_spec": "rbd/vcs-golden@base",
                    "uri": TEST_URI}
# A cluster for documents with RBD images (validate and a refused plan connect to none).
CEPH = {"conf": "/etc/ceph/ceph.conf"}


def fields_of(kind):
    """The kind's schema fields, ensure excepted (the _present/_absent pair is Salt's ensure), and
    the placement fields (host, hosts): a state converges one host, its connection; a fleet is one
    document with hosts:, converged by virtconverge.fleet_converged."""
    return {f: n for f, n in SCHEMA["$defs"][kind]["properties"].items()
            if f != "ensure" and n.get("x-change") != "placement"}


def resolve(node):
    """(node with its $ref merged in, the name of the innermost $def or None)."""
    name = None
    node = dict(node)
    while "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[1]
        node = {**SCHEMA["$defs"][name], **node}
    return node, name


def sample(node, path):
    """A value of a schema node that the schema accepts."""
    node, def_name = resolve(node)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    value = SAMPLE_BY_X_TYPE.get(node.get("x-type"), SAMPLE_BY_DEF.get(def_name))
    if value is None and "type" not in node and isinstance(node.get("anyOf"), list):
        # A mapping or a text (cloud_init's user_data): the first alternative that gives one.
        for alternative in node["anyOf"]:
            if alternative.get("type") == "string":
                return sample(alternative, path)
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if value is None and "boolean" in types:
        value = True
    elif value is None and "integer" in types:
        value = node.get("minimum", 1)
    elif value is None and "number" in types:
        value = node.get("minimum", node.get("exclusiveMinimum", 0) + 0.5)
    elif value is None and "array" in types:
        value = [sample(node["items"], path + "[]")]
    elif value is None and "object" in types:
        # The required keys, and those of the first oneOf branch (a disk on a volume).
        keys = list(node.get("required", [])) + list((node.get("oneOf") or [{}])[0].get("required", []))
        if len(keys) < node.get("minProperties", 0):  # ksm: {} is refused; its first settings
            keys += [k for k in node["properties"] if k not in keys][:node["minProperties"] - len(keys)]
        value = {k: sample(node["properties"][k], f"{path}.{k}") for k in node["properties"] if k in keys}
    elif value is None and "string" in types and "pattern" not in node:
        value = "x" * max(1, node.get("minLength", 1))
    assert value is not None, f"{path}: no sample value (add its x-type to SAMPLE_BY_X_TYPE)"
    if isinstance(value, str) and "pattern" in node:
        assert re.search(node["pattern"], value), f"{path}: the sample {value!r} does not match the schema"
    return value


def samples(kind):
    return {field: sample(node, f"{kind}.{field}") for field, node in fields_of(kind).items()}


def key_of(kind):
    return "vcs-p/vcs-x" if kind in ("volume", "rbd_image") else "vcs-x"


class Captured(Exception):
    pass


def states_capturing():
    """The state module with _converge replaced: it raises with the document it was given."""
    states = load_module("states", {"test": True}, {"virtconverge.apply": None})

    def capture(name, document, *args, **kwargs):
        raise Captured(document)

    states._converge = capture  # pylint: disable=protected-access
    return states


def salt_calls(fun, arguments):
    """Calls a state function as salt/state.py does: from a low chunk (the SLS's arguments plus the
    compiler's own keys) through salt.utils.args.format_call, then fun(*args, **kwargs)."""
    low = {"state": "virtconverge", "fun": fun.__name__, "__id__": arguments["name"],
           "__sls__": "vcs-fields", "__env__": "base", "order": 10000, **arguments}
    data = salt.utils.args.format_call(fun, low, expected_extra_kws=salt.state.STATE_INTERNAL_KEYWORDS)
    return fun(*data["args"], **data["kwargs"])


def document_of(states, fun, arguments, through_salt=True):
    with pytest.raises(Captured) as info:
        if through_salt:
            salt_calls(getattr(states, fun), arguments)
        else:
            getattr(states, fun)(**arguments)
    return info.value.args[0]


def test_exceptions_have_reasons():
    for reason in SALT_ONLY.values():
        assert reason


def test_every_kind_has_its_states():
    states = states_capturing()
    for kind in SECTIONS:
        assert callable(getattr(states, f"{kind}_present", None)), f"no {kind}_present"
        assert callable(getattr(states, f"{kind}_absent", None)), f"no {kind}_absent"


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_present_state_names_only_arguments_that_are_not_fields(kind):
    params = inspect.signature(getattr(states_capturing(), f"{kind}_present")).parameters
    keyword = [p for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert keyword, f"{kind}_present takes no **fields"
    named = {p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD}
    renamed = set(RENAMED.get(kind, {}).values())
    unexplained = named - set(SALT_ONLY) - renamed
    assert not unexplained, \
        f"{kind}_present names arguments that are neither listed nor renamed: {sorted(unexplained)}"
    shadowed = set(fields_of(kind)) & named
    assert not shadowed, \
        f"schema fields of {kind} that a named argument of {kind}_present takes: {sorted(shadowed)}"


def test_no_schema_field_is_a_name_salt_keeps():
    for kind in SECTIONS:
        renamed = RENAMED.get(kind, {})
        kept = {f for f in fields_of(kind)
                if f in salt.state.STATE_INTERNAL_KEYWORDS or f.startswith("__")}
        assert kept <= set(renamed), \
            f"{kind} fields Salt keeps for itself (give them a Salt name): {sorted(kept - set(renamed))}"
        stale = set(renamed) - set(fields_of(kind))
        assert not stale, f"renamed fields the schema does not have: {sorted(stale)}"


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_every_schema_field_reaches_the_document_and_the_engine_accepts_it(kind):
    states = states_capturing()
    fields = samples(kind)
    renamed = RENAMED.get(kind, {})
    arguments = {renamed.get(f, f): v for f, v in fields.items()}
    document = document_of(states, f"{kind}_present", {"name": key_of(kind), **copy.deepcopy(arguments)})
    assert document == {"version": 1, SECTIONS[kind]: {key_of(kind): fields}}
    if kind == "rbd_image":
        document["ceph"] = CEPH
    verdict = Minion().mod.validate(document)
    assert verdict["valid"], verdict["errors"]


def test_salt_keys_are_not_fields():
    states = states_capturing()
    document = document_of(states, "network_present", {
        "name": "vcs-n", "mode": "isolated", "__pub_jid": "20240101", "__pub_fun": "state.single",
        "__env__": "base", "__id__": "vcs-n"}, through_salt=False)
    assert document == {"version": 1, "networks": {"vcs-n": {"mode": "isolated"}}}


def test_a_volume_or_image_name_with_pool_is_the_address():
    states = states_capturing()
    document = document_of(states, "volume_present", {"name": "vcs-v", "pool": "vcs-p", "capacity": "1GiB"})
    assert document == {"version": 1, "volumes": {"vcs-p/vcs-v": {"capacity": "1GiB"}}}


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_present_state_does_not_take_ensure(kind):
    for test in (True, False):
        ret = Minion().state(f"{kind}_present", test, name=key_of(kind), ensure="absent")
        assert ret["result"] is False and ret["changes"] == {}
        assert f"use {kind}_absent" in ret["comment"]


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_an_unknown_field_fails_the_state_with_the_engines_unknown_field(kind):
    minion = Minion(extra_opts={"virtconverge.connection": TEST_URI})
    extra = {"ceph_conf": CEPH["conf"]} if kind == "rbd_image" else {}
    renamed = RENAMED.get(kind, {})
    arguments = {renamed.get(f, f): v for f, v in samples(kind).items()}
    for test in (True, False):
        ret = minion.state(f"{kind}_present", test, name=key_of(kind), machine_typo="q35",
                           **arguments, **extra)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[unknown_field]" in ret["comment"], ret["comment"]
        assert f"{SECTIONS[kind]}.{key_of(kind)}.machine_typo: unknown field" in ret["comment"], ret["comment"]


def test_an_unknown_sub_field_fails_the_state_with_the_engines_unknown_field():
    minion = Minion(extra_opts={"virtconverge.connection": TEST_URI})
    for test in (True, False):
        ret = minion.state("domain_present", test, name="vcs-x", vcpus=1, memory="1GiB",
                           disks=[{"volume": "vcs-p/vcs-v", "target": "vda", "colour": "red"}])
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[unknown_field]" in ret["comment"] and "colour" in ret["comment"], ret["comment"]


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_absent_state_declares_ensure_absent(kind):
    states = states_capturing()
    document = document_of(states, f"{kind}_absent", {"name": key_of(kind)})
    [entry] = [e for section in document.values() if isinstance(section, dict) for e in section.values()]
    assert entry == {"ensure": "absent"}
    assert "absent" in SCHEMA["$defs"]["ensure"]["enum"]


# --- host_present: a hosts: entry (kind host, section hosts) ------------------------------------

def test_every_host_field_reaches_the_entry_and_the_engine_accepts_it():
    """host_present takes the host entry's fields as they are; ``connection`` is both its own
    argument and a field of the entry (a hosts: entry names its URI)."""
    states = states_capturing()
    fields = samples("host")
    assert {"connection", "cpu_allocation_ratio", "ram_allocation_ratio", "reserved_memory",
            "ksm"} <= set(fields)
    document = document_of(states, "host_present", {"name": "vcs-hv", **copy.deepcopy(fields)})
    assert document == {"version": 1, "hosts": {"vcs-hv": fields}}
    verdict = Minion().mod.validate(document)
    assert verdict["valid"], verdict["errors"]
    params = inspect.signature(states.host_present).parameters
    named = {p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD}
    assert named == {"name", "connection"}, "host_present names only its key and its connection"


def test_an_unknown_host_field_fails_the_state_with_the_engines_unknown_field():
    minion = Minion(extra_opts={"virtconverge.connection": TEST_URI})
    for test in (True, False):
        ret = minion.state("host_present", test, name="vcs-hv", cpu_allocation_ratio=4.0,
                           overcommit_typo=2)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[unknown_field]" in ret["comment"], ret["comment"]
        assert "hosts.vcs-hv.overcommit_typo: unknown field" in ret["comment"], ret["comment"]
