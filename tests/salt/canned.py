"""The engine's answers that the unit tests script: whole plans of the engine's contract
(schemas/plan.schema.json, format_version 2), never fragments of one. Every plan made here is
recorded; conftest's session fixture validates all of them against the schema in the tree when
the tests end, so a canned plan cannot drift from what the engine writes.

The Salt venv has no jsonschema; Debian's python3-jsonschema is used through /usr/bin/python3."""

import copy
import inspect
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.abspath(os.path.join(HERE, "..", "..", "schemas", "plan.schema.json"))
PYTHON = "/usr/bin/python3"
_VALIDATOR = """
import json, sys
import jsonschema
validator = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
problems = []
for entry in json.load(open(sys.argv[2])):
    for e in sorted(validator.iter_errors(entry["plan"]), key=str):
        path = "/".join(str(p) for p in e.absolute_path)
        problems.append(f"{entry['from']}: /{path}: {e.message}")
print("\\n".join(problems))
sys.exit(1 if problems else 0)
"""

RECORDED = []


def problems(entries):
    """Problems of [{"from": where, "plan": PLAN}] against the plan schema ("FROM: /PATH: MESSAGE")."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(entries, f)
        f.flush()
        p = subprocess.run([PYTHON, "-c", _VALIDATOR, SCHEMA, f.name], capture_output=True,
                           text=True, timeout=120, check=False)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"cannot validate the canned plans ({PYTHON}, python3-jsonschema): {p.stderr}")
    return [line for line in p.stdout.splitlines() if line.strip()]


def change(address, action="update", disruption="none", attributes=(), steps=(), from_host=None):
    """A change; steps: (op, description), (op, description, args) or (op, description, args,
    address: a migrate step acts on the domain where it is, domain.NAME@FROM_HOST). In a fleet the
    address ends with @HOST (domain.web1@hv-a), which gives the change its host; a migrate change
    also has from_host."""
    kind, name = address.split(".", 1)
    name, _, host = name.partition("@")
    return {"address": address, "kind": kind, "name": name, "host": host or None,
            "from_host": from_host,
            "action": action,
            "disruption": disruption,
            "attributes": [dict({"before": None, "after": None, "reason": ""}, **a)
                           for a in attributes],
            "steps": [{"op": step[0], "address": step[3] if len(step) > 3 else address,
                       "description": step[1], "args": step[2] if len(step) > 2 else {}}
                      for step in steps],
            "before": None if action == "create" else {}, "desired": {}}


def diagnostic(code, summary, address="", related=None, severity="error", detail=""):
    d = {"severity": severity, "code": code,
         "transient": code in ("connection_failed", "connection_lost", "ceph_unavailable"),
         "address": address, "summary": summary, "detail": detail}
    if related is not None:
        d["related"] = related
    return d


def plan(changes=(), diagnostics=(), pending=(), connection="qemu:///system", hosts=None,
         document=None):
    """A plan of one host (connection), or of a fleet: hosts {name: URI, or (URI, why skipped)}
    (the plan's connection is then empty)."""
    changes = [copy.deepcopy(c) for c in changes]
    count = lambda key, value: sum(1 for c in changes if c[key] == value)  # noqa: E731
    result = {
        "format_version": 2, "tool_version": "0.1.0", "connection": connection, "ceph": None,
        "document": document or {"version": 1}, "fingerprint": "fnv1a64:0123456789abcdef",
        "options": {"allow_destroy": False, "allow_restart": False, "prune": False,
                    "shutdown_timeout_seconds": 60, "skip_unreachable": False,
                    "allow_overcommit": False},
        "applyable": not any(d["severity"] == "error" for d in diagnostics),
        "changes": changes, "pending": list(pending), "diagnostics": list(diagnostics),
        "summary": {"create": count("action", "create"), "update": count("action", "update"),
                    "replace": count("action", "replace"), "delete": count("action", "delete"),
                    "migrate": count("action", "migrate"),
                    "live": count("disruption", "live"), "restart": count("disruption", "restart"),
                    "destructive": count("disruption", "destructive")},
        "digest": "sha256:" + "0" * 64,
    }
    if hosts is not None:
        result["connection"] = ""
        result["hosts"] = {name: {"connection": uri[0], "skipped": uri[1]} if isinstance(uri, tuple)
                           else {"connection": uri, "skipped": None} for name, uri in hosts.items()}
    caller = inspect.stack()[1]
    RECORDED.append({"from": f"{os.path.basename(caller.filename)}:{caller.lineno}", "plan": result})
    return result


def outcome(address, steps=(), ok=True, code=None, error=None, action="update", converged=True,
            remaining=(), transient=False):
    return {"address": address, "action": action, "ok": ok, "code": code, "transient": transient,
            "error": error, "steps": list(steps), "converged": converged,
            "remaining": list(remaining)}


def report(outcomes, pending=()):
    return {"ok": all(o["ok"] for o in outcomes), "outcomes": list(outcomes),
            "pending": list(pending), "verification_code": None, "verification_error": None}
