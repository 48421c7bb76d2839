"""One field table: schemas/desired-state.schema.json is the normative list of every kind's fields.
Each ``<kind>_present`` state must accept exactly those fields (as arguments that land in the
document it builds), and ``<kind>_absent`` must declare ``ensure: absent``, unless an exception
below says why not.

Enum values and nested fields (a disk's ``discard``, ``cpu.mode``) are not Salt's to list: the
states pass values through unchanged and the engine checks them against the same schema, so a
value the schema gains is accepted at once. What can drift is the set of arguments, which this
test reads from the state functions themselves (their signatures and the documents they build)."""

import inspect
import json
import os

import pytest

from conftest import REPO, load_module

SCHEMA = json.load(open(os.path.join(REPO, "schemas", "desired-state.schema.json")))
KINDS = {"pool": "pool", "network": "network", "volume": "volume", "rbd_image": "rbd_image",
         "domain": "domain"}

# Schema fields a state takes under another name: {kind: {field: argument}}, with the reason.
RENAMED = {
    "domain": {"state": "domain_state"},  # Salt reserves the argument name `state`
}
# Arguments that are not document fields of the kind, with the reason.
SALT_ONLY = {
    "name": "the resource's key in its section (with pool: <pool>/<name>)",
    "pool": "the first half of a volume's or RBD image's key, when name is the second",
    "connection": "where the resource is: the engine's connection option, not a field",
    "allow_destroy": "an engine option of the state's plan and apply",
    "allow_restart": "an engine option of the state's plan and apply",
    "shutdown_timeout": "an engine option of the domain's apply",
    "ceph_conf": "the document's ceph: section (conf)",
    "ceph_user": "the document's ceph: section (user)",
}
# Schema fields a state deliberately does not take: {kind: {field: reason}}.
MISSING_ON_PURPOSE = {
    kind: {"ensure": f"{kind}_present declares present, {kind}_absent absent"} for kind in KINDS
}


class Captured(Exception):
    pass


def states_capturing():
    """The state module with _converge replaced: it raises with the document it was given."""
    states = load_module("states", {"test": True}, {"virtconverge.apply": None})

    def capture(name, document, *args, **kwargs):
        raise Captured(document)

    states._converge = capture  # pylint: disable=protected-access
    return states


def document_of(states, fun, kwargs):
    with pytest.raises(Captured) as info:
        getattr(states, fun)(**kwargs)
    return info.value.args[0]


def test_exceptions_have_reasons():
    for reason in list(SALT_ONLY.values()) + [r for v in MISSING_ON_PURPOSE.values() for r in v.values()]:
        assert reason


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_present_state_accepts_every_schema_field_and_no_other(kind):
    states = states_capturing()
    fun = f"{kind}_present"
    section = {"pool": "pools", "network": "networks", "volume": "volumes", "rbd_image": "rbd_images",
               "domain": "domains"}[kind]
    params = list(inspect.signature(getattr(states, fun)).parameters)
    # Every argument with a value of its own: which document field does it become?
    kwargs = {p: f"value-of-{p}" for p in params}
    kwargs["name"] = "p/x" if kind in ("volume", "rbd_image") else "x"
    kwargs.pop("pool", None)
    document = document_of(states, fun, kwargs)
    [entry] = document[section].values()
    lands = {field: value[len("value-of-"):] for field, value in entry.items()}
    schema_fields = set(SCHEMA["$defs"][kind]["properties"])
    renamed = RENAMED.get(kind, {})
    for field, argument in lands.items():
        assert argument == renamed.get(field, field), f"{fun}: argument {argument} becomes {field}"
    missing = schema_fields - set(lands) - set(MISSING_ON_PURPOSE.get(kind, {}))
    assert not missing, f"{fun} lacks the schema's fields {sorted(missing)}"
    extra = set(lands) - schema_fields
    assert not extra, f"{fun} sends fields the schema lacks: {sorted(extra)}"
    unexplained = set(params) - {renamed.get(f, f) for f in lands} - set(SALT_ONLY)
    assert not unexplained, f"{fun} has arguments that are neither fields nor listed: {sorted(unexplained)}"
    stale = set(MISSING_ON_PURPOSE.get(kind, {})) - schema_fields
    assert not stale, f"exceptions for fields the schema does not have: {sorted(stale)}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_absent_state_declares_ensure_absent(kind):
    states = states_capturing()
    name = "p/x" if kind in ("volume", "rbd_image") else "x"
    document = document_of(states, f"{kind}_absent", {"name": name})
    [entry] = [e for section in document.values() if isinstance(section, dict) for e in section.values()]
    assert entry == {"ensure": "absent"}
    assert "absent" in SCHEMA["$defs"]["ensure"]["enum"]
