"""Unit tests of the execution module and the state module's logic. No libvirtd needed: the real
engine runs against libvirt's embedded test driver (test:///default, fresh in every process), and
a recording fake engine shows exactly which argv, stdin and environment the module uses."""

import json
import os
import stat
import textwrap

import pytest
from salt.exceptions import CommandExecutionError

import canned
from conftest import BINARY, Minion, load_module

TEST_URI = "test:///default"
DOMAIN = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 1, "memory": "128MiB"}}}


@pytest.fixture
def minion():
    return Minion()


def serve_answer(result):
    return json.dumps({"id": 1, "ok": True, "result": result})


SERVE_NONE = {"plan": canned.plan(connection=TEST_URI), "text": "Plan for test:///default\n",
              "apply": None}


@pytest.fixture
def fake_engine(tmp_path, monkeypatch):
    """A stand-in engine that records argv, stdin and LIBVIRT_DEFAULT_URI of every run, then prints
    what the test put in FAKE_SERVE (for ``serve``) or FAKE_STDOUT (the CLI) and exits with
    FAKE_RC."""
    record = tmp_path / "record.jsonl"
    script = tmp_path / "virtconverge"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/python3
        import json, os, sys
        data = sys.stdin.read()
        with open({str(record)!r}, "a") as f:
            f.write(json.dumps({{"argv": sys.argv, "stdin": data,
                                "uri": os.environ.get("LIBVIRT_DEFAULT_URI")}}) + "\\n")
        serve = sys.argv[1:2] == ["serve"]
        sys.stdout.write(os.environ.get("FAKE_SERVE" if serve else "FAKE_STDOUT", ""))
        sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
        sys.exit(int(os.environ.get("FAKE_RC", "0")))
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_SERVE", serve_answer(SERVE_NONE))
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(canned.plan(connection=TEST_URI)))
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)

    def recorded(index=-1):
        """The run `index` (default: the last), its stdin parsed when it was a serve request."""
        runs = [json.loads(line) for line in record.read_text().splitlines()]
        run = runs[index]
        if run["argv"][1:2] == ["serve"]:
            run["request"] = json.loads(run["stdin"])
        run["count"] = len(runs)
        return run

    return str(script), recorded


# --- __virtual__ ---------------------------------------------------------------------------------

def test_virtual_refuses_to_load_when_the_configured_binary_is_missing():
    mod = load_module("modules", {"virtconverge.binary": "/nonexistent/virtconverge"})
    ok, reason = mod.__virtual__()
    assert ok is False
    assert "/nonexistent/virtconverge" in reason


def test_virtual_refuses_to_load_when_no_binary_is_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = load_module("modules", {}).__virtual__()
    assert ok is False
    assert "not found on PATH" in reason


def test_virtual_finds_the_binary_on_path(tmp_path, monkeypatch):
    os.symlink(BINARY, tmp_path / "virtconverge")
    monkeypatch.setenv("PATH", str(tmp_path))
    mod = load_module("modules", {})
    assert mod.__virtual__() == "virtconverge"
    assert mod.version().startswith("virtconverge")


def test_virtual_loads_with_a_configured_binary():
    assert load_module("modules", {"virtconverge.binary": BINARY}).__virtual__() == "virtconverge"


def test_state_module_does_not_load_without_the_execution_module():
    ok, reason = load_module("states", {}, {}).__virtual__()
    assert ok is False and "execution module" in reason


# --- how the engine is called ------------------------------------------------------------------

def test_a_document_dict_goes_to_serve_as_json_on_stdin_with_an_argv_list(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary)
    m.mod.plan(DOMAIN, connection=TEST_URI, allow_destroy=True, allow_restart=True, prune=True)
    rec = recorded()
    assert rec["argv"] == [binary, "serve"] and rec["count"] == 1
    assert rec["request"] == {"id": 1, "command": "plan", "document": DOMAIN, "options": {
        "allow_destroy": True, "allow_restart": True, "prune": True, "text": True,
        "connection": TEST_URI}}


def test_a_path_is_read_by_the_engine_and_never_through_a_shell(fake_engine, tmp_path):
    binary, recorded = fake_engine
    evil = tmp_path / "site $(touch pwned); touch pwned2.yaml"
    evil.write_text("version: 1\n")
    m = Minion(binary)
    m.mod.plan(str(evil))
    cli = recorded(0)
    assert cli["argv"][1:] == ["plan", str(evil), "--format", "json"] and cli["stdin"] == ""
    # The engine's canonical document of the files, planned by serve on the connection it used.
    assert recorded()["request"]["document"] == {"version": 1}
    assert recorded()["request"]["options"]["connection"] == TEST_URI
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned2.yaml")


def test_apply_passes_parallelism_and_shutdown_timeout(fake_engine):
    binary, recorded = fake_engine
    Minion(binary).mod.apply(DOMAIN, parallelism=2, shutdown_timeout=5)
    assert recorded()["request"]["command"] == "apply"
    assert recorded()["request"]["options"] == {
        "allow_destroy": False, "allow_restart": False, "prune": False, "parallelism": 2,
        "shutdown_timeout": 5, "text": True}


def test_the_configured_default_connection_ranks_below_the_documents_own(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.connection": "test:///default"})
    m.mod.plan(DOMAIN)
    assert recorded()["uri"] == "test:///default"
    assert "connection" not in recorded()["request"]["options"]  # a document's connection: still wins
    m.mod.plan(DOMAIN, connection="qemu:///session")
    assert recorded()["request"]["options"]["connection"] == "qemu:///session"


def test_salt_urls_are_fetched_with_cp_cache_file(fake_engine, tmp_path):
    binary, recorded = fake_engine
    cached = tmp_path / "site.yaml"
    cached.write_text("version: 1\n")
    m = Minion(binary)
    m.salt["cp.cache_file"] = lambda url: str(cached) if url == "salt://virt/site.yaml" else ""
    m.mod.plan(["salt://virt/site.yaml"])
    assert recorded(0)["argv"][2] == str(cached)
    with pytest.raises(CommandExecutionError, match="not found on the master"):
        m.mod.plan("salt://virt/missing.yaml")


def test_output_that_is_not_json_is_an_error(fake_engine, monkeypatch):
    binary, _ = fake_engine
    monkeypatch.setenv("FAKE_SERVE", "garbage")
    with pytest.raises(CommandExecutionError, match="not JSON"):
        Minion(binary).mod.plan(DOMAIN)


def test_a_request_serve_refuses_raises_with_its_code(fake_engine, monkeypatch):
    binary, _ = fake_engine
    monkeypatch.setenv("FAKE_SERVE", json.dumps({
        "id": 1, "ok": False, "error": "cannot connect to libvirt at qemu:///system: gone",
        "code": "connection_failed", "transient": True}))
    with pytest.raises(CommandExecutionError, match="cannot connect") as info:
        Minion(binary).mod.apply(DOMAIN)
    assert info.value.info == {"code": "connection_failed", "transient": True}


def test_a_cli_failure_is_read_from_its_json_error_object(fake_engine, tmp_path, monkeypatch):
    binary, recorded = fake_engine
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\n")
    monkeypatch.setenv("FAKE_RC", "1")
    monkeypatch.setenv("FAKE_STDERR", "error: some words\n")
    monkeypatch.setenv("FAKE_STDOUT", json.dumps({"plan": None, "apply": None, "error": {
        "code": "ceph_unavailable", "transient": True, "message": "the cluster is down"}}))
    with pytest.raises(CommandExecutionError, match="the cluster is down") as info:
        Minion(binary).mod.plan(str(path))
    assert info.value.info["code"] == "ceph_unavailable" and info.value.info["transient"] is True
    assert recorded()["count"] == 1  # no serve request after a failure


def test_bad_document_arguments_are_errors(minion, tmp_path):
    with pytest.raises(CommandExecutionError, match="no document"):
        minion.mod.plan(None)
    with pytest.raises(CommandExecutionError, match="must be a dict"):
        minion.mod.plan(42)
    with pytest.raises(CommandExecutionError, match="no such document file"):
        minion.mod.plan(str(tmp_path / "absent.yaml"))


# --- the real engine on the test driver ---------------------------------------------------------

def test_validate_accepts_a_valid_dict_and_file(minion, tmp_path):
    assert minion.mod.validate(DOMAIN) == {"valid": True, "resources": 1, "errors": [],
                                           "diagnostics": [], "summary": "valid: 1 resource(s)"}
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\nnetworks:\n  vcs-n:\n    mode: isolated\n")
    assert minion.mod.validate(str(path))["valid"] is True


def test_validate_gives_the_engines_coded_diagnostics_naming_file_resource_and_field(minion, tmp_path):
    bad = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 1, "memroy": "1GiB"}}}
    result = minion.mod.validate(bad)
    assert result["valid"] is False
    [diag] = [d for d in result["diagnostics"] if d["code"] == "unknown_field"]
    assert diag["address"] == "domain.vcs-unit1" and diag["severity"] == "error"
    assert "<stdin>" in result["errors"][0]
    assert "domains.vcs-unit1.memroy: unknown field, did you mean 'memory'?" in result["errors"][0]
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nvolumes:\n  vcs-p/v:\n    capacity: 0\n")
    result = minion.mod.validate(str(path))
    assert result["valid"] is False and str(path) in result["errors"][0]
    assert result["diagnostics"][0]["code"] == "invalid_value"


def test_plan_returns_the_engines_json_plan_and_with_text_its_text(minion):
    plan = minion.mod.plan(DOMAIN, connection=TEST_URI)
    assert plan["format_version"] == 2 and plan["applyable"] is True
    assert plan["connection"] == TEST_URI
    [change] = plan["changes"]
    assert change["address"] == "domain.vcs-unit1" and change["action"] == "create"
    assert {a["path"]: a["after"] for a in change["attributes"]} == {"memory": "128MiB", "vcpus": 1}
    assert [s["op"] for s in change["steps"]] == ["create", "start"]
    out = minion.mod.plan(DOMAIN, connection=TEST_URI, text=True)
    assert out["plan"]["changes"] == plan["changes"]
    assert "+ domain.vcs-unit1 (create, no disruption)" in out["text"]
    assert "    → create domain.vcs-unit1" in out["text"]


def test_plan_of_files_is_the_plan_of_the_engines_merged_document(minion, tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("version: 1\nnetworks:\n  vcs-n:\n    mode: isolated\n")
    b.write_text("version: 1\ndomains:\n  vcs-unit1:\n    vcpus: 1\n    memory: 128MiB\n"
                 "    interfaces:\n      - network: vcs-n\n        mac: 52:54:00:00:00:01\n")
    out = minion.mod.plan([str(a), str(b)], connection=TEST_URI, text=True)
    assert [c["address"] for c in out["plan"]["changes"]] == ["network.vcs-n", "domain.vcs-unit1"]
    mac = out["plan"]["document"]["domains"]["vcs-unit1"]["interfaces"][0]["mac"]
    assert mac == "52:54:00:00:00:01"  # YAML 1.2 as the engine reads it: a string, not a number


def test_plan_of_an_invalid_document_raises_with_the_engines_diagnostics(minion, tmp_path):
    bad = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 0, "memory": "128MiB"}}}
    with pytest.raises(CommandExecutionError) as info:
        minion.mod.plan(bad, connection=TEST_URI)
    assert "domains.vcs-unit1.vcpus: must be between 1 and 4096, got 0" in str(info.value)
    assert info.value.info["code"] == "invalid_value" and info.value.info["transient"] is False
    assert [(d["code"], d["address"]) for d in info.value.info["diagnostics"]] == [
        ("invalid_value", "domain.vcs-unit1")]
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nbogus: 1\n")
    with pytest.raises(CommandExecutionError, match="bogus") as info:
        minion.mod.plan(str(path), connection=TEST_URI)
    assert info.value.info["code"] == "unknown_field" and str(path) in str(info.value)


def test_plan_that_needs_allow_destroy_is_returned_not_applyable(minion):
    doc = {"version": 1, "pools": {"default-pool": {"type": "dir", "path": "/elsewhere"}}}
    plan = minion.mod.plan(doc, connection=TEST_URI)
    assert plan["applyable"] is False
    assert plan["changes"][0]["disruption"] == "destructive"
    assert [d["code"] for d in plan["diagnostics"]] == ["needs_allow_destroy"]
    assert minion.mod.plan(doc, connection=TEST_URI, allow_destroy=True)["applyable"] is True


def test_a_partial_declaration_of_a_domain_that_does_not_exist_is_a_refused_plan(minion):
    """Partial declarations (issue #15 point 4): a domain may be declared with only the fields the
    document manages, and what creating needs is asked only when the plan would create it. For a
    domain that does not exist that is a plan, not an invalid document: returned with its
    missing_field error and not applyable, as a plan that needs allow_destroy is; apply refuses
    it by that code and changes nothing."""
    partial = {"version": 1, "domains": {"vcs-unit9": {"vcpus": 2}}}
    plan = minion.mod.plan(partial, connection=TEST_URI)
    assert plan["applyable"] is False
    [change] = plan["changes"]
    assert (change["address"], change["action"]) == ("domain.vcs-unit9", "create")
    assert [(d["severity"], d["code"], d["address"], d["summary"]) for d in plan["diagnostics"]] == [
        ("error", "missing_field", "domain.vcs-unit9", "domains.vcs-unit9: creating needs memory")]
    with pytest.raises(CommandExecutionError, match="domains.vcs-unit9: creating needs memory") as info:
        minion.mod.apply(partial, connection=TEST_URI)
    assert info.value.info["code"] == "missing_field" and info.value.info["transient"] is False
    assert info.value.info["apply"] is None and info.value.info["plan"]["applyable"] is False
    assert "This plan cannot be applied" in info.value.info["text"]
    # The same fields of a domain that exists (the test driver's `test`) are a plan to apply.
    plan = minion.mod.plan({"version": 1, "domains": {"test": {"vcpus": 1}}}, connection=TEST_URI)
    assert plan["applyable"] is True and plan["diagnostics"] == []
    assert [(a["path"], a["before"], a["after"]) for a in plan["changes"][0]["attributes"]] == [
        ("vcpus", 2, 1)]


def test_a_partial_state_of_a_domain_that_does_not_exist_fails_naming_the_field(minion):
    """domain_present with only vcpus, of a domain that does not exist: refused in both modes like
    any plan the engine refuses (result False, no changes), the comment giving the engine's
    missing_field error and its plan."""
    heads = {True: "The plan would be refused; nothing would be changed (see the errors).\n",
             False: "virtconverge refused the plan; nothing was changed.\n[missing_field] "
                    "domains.vcs-unit9: creating needs memory: it does not exist: declare memory"}
    for test in (True, False):
        ret = minion.state("domain_present", test, name="vcs-unit9", vcpus=2, connection=TEST_URI)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert ret["comment"].startswith(heads[test]), ret["comment"]
        assert "Error: domains.vcs-unit9: creating needs memory" in ret["comment"], ret["comment"]
        assert "+ domain.vcs-unit9 (create" in ret["comment"], ret["comment"]  # the engine's plan


def test_apply_returns_the_plan_the_report_and_the_text(minion):
    out = minion.mod.apply(DOMAIN, connection=TEST_URI)
    assert out["apply"]["ok"] is True
    [outcome] = out["apply"]["outcomes"]
    assert outcome["converged"] is True and outcome["code"] is None
    assert outcome["steps"] == ["create domain.vcs-unit1", "start domain.vcs-unit1"]
    assert "+ domain.vcs-unit1" in out["text"]


def test_apply_refused_raises_with_the_plan_in_info_and_changes_nothing(minion):
    doc = {"version": 1, "pools": {"default-pool": {"type": "dir", "path": "/elsewhere"}}}
    with pytest.raises(CommandExecutionError) as info:
        minion.mod.apply(doc, connection=TEST_URI)
    assert "destructive change refused without --allow-destroy" in str(info.value)
    assert "Additional info" not in str(info.value)
    assert info.value.info["apply"] is None and info.value.info["code"] == "needs_allow_destroy"
    assert info.value.info["plan"]["applyable"] is False
    assert "This plan cannot be applied" in info.value.info["text"]


def test_observe_returns_the_host_as_a_document(minion):
    doc = minion.mod.observe(connection=TEST_URI)
    assert doc["version"] == 1 and doc["domains"]["test"]["vcpus"] == 2


def test_an_unreachable_connection_raises_with_the_engines_message_and_code(minion):
    with pytest.raises(CommandExecutionError, match="cannot connect to libvirt at test:///nonexistent") as info:
        minion.mod.observe(connection="test:///nonexistent")
    assert info.value.info["code"] == "connection_failed" and info.value.info["transient"] is True
    with pytest.raises(CommandExecutionError, match="test:///nonexistent") as info:
        minion.mod.plan(DOMAIN, connection="test:///nonexistent")
    assert info.value.info["code"] == "connection_failed" and info.value.info["transient"] is True


# --- the state module's logic, with a scripted execution module ---------------------------------

VCPUS = {"path": "vcpus", "before": 1, "after": 2, "disruption": "live", "reason": "hot-plug"}
PLAN_UPDATE = canned.plan([canned.change("domain.web1", "update", "live", [VCPUS],
                                         [("set_vcpus_live", "hot-plug vCPUs of domain.web1 to 2", {"vcpus": 2})])])
PLAN_NONE = canned.plan()
# What the engine prints for PLAN_UPDATE (serve's text); the state module only passes it on.
TEXT_UPDATE = ("Plan for qemu:///system (fingerprint fnv1a64:0123456789abcdef)\n\n"
               "~ domain.web1 (update, live)\n    vcpus 1 → 2  (live: hot-plug)\n"
               "    → hot-plug vCPUs of domain.web1 to 2\n\nPlan: 0 to create, 1 to update "
               "(1 live, 0 need restart), 0 to replace, 0 to destroy.\n")


class Scripted:
    """A stand-in execution module that records calls and answers from a script: plan with its
    text, apply's {plan, apply, text}."""

    def __init__(self, plan=PLAN_UPDATE, apply=None, error=None, text=TEXT_UPDATE):
        self.calls = []
        self.plan_result, self.apply_result, self.error, self.text = plan, apply, error, text
        self.opts = {"test": False}
        self.states = load_module("states", self.opts, {
            "virtconverge.plan": self._plan, "virtconverge.apply": self._apply})

    def _plan(self, document, **kw):
        self.calls.append(("plan", document, kw))
        if self.error:
            raise self.error
        return {"plan": self.plan_result, "text": self.text} if kw.get("text") else self.plan_result

    def _apply(self, document, **kw):
        self.calls.append(("apply", document, kw))
        if self.error:
            raise self.error
        return dict(self.apply_result, text=self.text)

    def run(self, fun, test, **kwargs):
        self.opts["test"] = test
        return getattr(self.states, fun)(**kwargs)


def test_state_test_mode_only_plans_and_predicts_old_new_disruption_and_steps():
    s = Scripted()
    ret = s.run("domain_present", True, name="web1", vcpus=2, memory="1GiB", allow_restart=True)
    assert [c[0] for c in s.calls] == ["plan"]
    assert s.calls[0][1] == {"version": 1, "domains": {"web1": {"vcpus": 2, "memory": "1GiB"}}}
    assert s.calls[0][2]["allow_restart"] is True and s.calls[0][2]["allow_destroy"] is False
    assert s.calls[0][2]["text"] is True
    assert ret["result"] is None
    assert ret["changes"] == {"domain.web1": {
        "action": "update", "disruption": "live",
        "attributes": {"vcpus": {"old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}},
        "steps": ["hot-plug vCPUs of domain.web1 to 2"]}}
    assert ret["comment"] == "virtconverge would change 1 resource(s).\n" + TEXT_UPDATE


def test_state_live_mode_applies_once_and_reports_the_steps():
    report = canned.report([canned.outcome("domain.web1", ["hot-plug vCPUs of domain.web1 to 2"])])
    s = Scripted(apply={"plan": PLAN_UPDATE, "apply": report})
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB")
    assert [c[0] for c in s.calls] == ["apply"]
    assert ret["result"] is True
    assert ret["changes"]["domain.web1"]["steps"] == ["hot-plug vCPUs of domain.web1 to 2"]
    assert ret["changes"]["domain.web1"]["attributes"]["vcpus"] == {
        "old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}
    assert TEXT_UPDATE in ret["comment"]
    assert "  domain.web1: hot-plug vCPUs of domain.web1 to 2" in ret["comment"]


def test_state_with_nothing_to_do_is_true_without_changes_in_both_modes():
    for test in (True, False):
        s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None}, text="No changes.\n")
        ret = s.run("network_present", test, name="n1", mode="isolated")
        assert ret["result"] is True and ret["changes"] == {}, ret
        assert "nothing to do" in ret["comment"] and "No changes." in ret["comment"]


def test_state_reports_a_resource_that_did_not_converge_as_failed():
    report = canned.report([canned.outcome("domain.web1", ok=False, code="operation_failed",
                                           error="detach timed out", converged=False,
                                           remaining=["disks"])])
    err = CommandExecutionError("domain.web1: detach timed out")
    err.info = {"plan": PLAN_UPDATE, "apply": report, "text": TEXT_UPDATE,
                "code": "operation_failed", "transient": False}
    s = Scripted(error=err)
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB")
    assert ret["result"] is False and ret["changes"] == {}
    assert "[operation_failed] domain.web1: detach timed out" in ret["comment"]
    assert "FAILED [operation_failed]: detach timed out" in ret["comment"]


def test_state_says_when_a_failure_is_transient():
    err = CommandExecutionError("cannot connect to libvirt at qemu:///system: gone")
    err.info = {"code": "connection_failed", "transient": True}
    for test in (True, False):
        ret = Scripted(error=err).run("network_present", test, name="n1", mode="isolated")
        assert ret["result"] is False
        assert "[connection_failed] cannot connect" in ret["comment"]
        assert "(transient: a later run may succeed without a change)" in ret["comment"]


def test_state_reports_pending_restart_changes():
    plan = canned.plan([canned.change("domain.web1", "update", "restart",
                                      [dict(VCPUS, path="max_vcpus", disruption="restart")],
                                      [("write_config", "write persistent config of domain.web1")])])
    report = canned.report([canned.outcome("domain.web1", ["write persistent config of domain.web1"])],
                           pending=[{"address": "domain.web1", "path": "max_vcpus", "live": 2,
                                     "config": 4}])
    s = Scripted(apply={"plan": plan, "apply": report})
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB", max_vcpus=4)
    assert ret["result"] is True
    assert ret["changes"]["domain.web1"]["pending"] == {"max_vcpus": {"running": 2, "next_boot": 4}}
    assert "domain.web1: max_vcpus pending restart (running 2, next boot 4)" in ret["comment"]


def test_state_test_mode_waits_for_missing_references_by_code_and_related():
    missing = canned.diagnostic("missing_reference", "volumes.p/v.pool: pool p is neither declared "
                                "nor present on the host", address="volume.p/v", related="pool.p")
    plan = canned.plan([canned.change("volume.p/v", "create")], [missing])
    ret = Scripted(plan=plan).run("volume_present", True, name="p/v", capacity="1GiB")
    assert ret["result"] is None and "volume.p/v" in ret["changes"]
    assert "once pool.p exist(s) (an earlier state may create it)" in ret["comment"]
    # The same code without a resource is the missing ceph: section: no waiting, a hint.
    ceph = canned.diagnostic("missing_reference", "rbd_images.rbd/x: rbd_images need the ceph: "
                             "section (conf, user) or --ceph-conf", address="rbd_image.rbd/x")
    plan = canned.plan([canned.change("rbd_image.rbd/x", "create")], [ceph])
    ret = Scripted(plan=plan).run("rbd_image_present", True, name="rbd/x", size="1GiB")
    assert ret["result"] is False and ret["changes"] == {}
    assert "set ceph_conf (and ceph_user) on the state" in ret["comment"]


def test_state_names_the_flag_a_refusal_asks_for_by_its_code():
    for code, hint in (("needs_allow_destroy", "set allow_destroy: True to permit it"),
                       ("needs_allow_restart", "set allow_restart: True to permit it")):
        refused = canned.diagnostic(code, "domain.web1: refused (wording is the engine's)",
                                    address="domain.web1")
        plan = canned.plan([canned.change("domain.web1", "update", "destructive")], [refused])
        ret = Scripted(plan=plan).run("domain_present", True, name="web1", vcpus=2, memory="1GiB")
        assert ret["result"] is False and hint in ret["comment"], ret
        err = CommandExecutionError("domain.web1: refused")
        err.info = {"plan": plan, "apply": None, "text": "the engine's text\n", "code": code}
        ret = Scripted(error=err).run("domain_present", False, name="web1", vcpus=2, memory="1GiB")
        assert ret["result"] is False and hint in ret["comment"] and "the engine's text" in ret["comment"]


def test_every_state_function_builds_the_documented_document():
    cases = [
        ("pool_present", dict(name="p", type="dir", path="/srv/p"),
         {"pools": {"p": {"type": "dir", "path": "/srv/p"}}}),
        ("pool_absent", dict(name="p"), {"pools": {"p": {"ensure": "absent"}}}),
        ("network_present", dict(name="n", mode="isolated", autostart=False),
         {"networks": {"n": {"mode": "isolated", "autostart": False}}}),
        ("network_absent", dict(name="n"), {"networks": {"n": {"ensure": "absent"}}}),
        ("volume_present", dict(name="p/v", capacity="1GiB"), {"volumes": {"p/v": {"capacity": "1GiB"}}}),
        ("volume_present", dict(name="v", pool="p", capacity="1GiB", format="raw"),
         {"volumes": {"p/v": {"capacity": "1GiB", "format": "raw"}}}),
        ("volume_absent", dict(name="v", pool="p"), {"volumes": {"p/v": {"ensure": "absent"}}}),
        ("domain_present", dict(name="d", vcpus=1, memory="1GiB", domain_state="stopped",
                                disks=[{"volume": "p/v", "target": "vda"}]),
         {"domains": {"d": {"vcpus": 1, "memory": "1GiB", "state": "stopped",
                            "disks": [{"volume": "p/v", "target": "vda"}]}}}),
        ("domain_absent", dict(name="d"), {"domains": {"d": {"ensure": "absent"}}}),
    ]
    for fun, kwargs, sections in cases:
        for test in (True, False):
            s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
            s.run(fun, test, **kwargs)
            [(call, document, _)] = s.calls
            assert call == ("plan" if test else "apply"), (fun, test)
            assert document == dict({"version": 1}, **sections), fun


PARTIAL_STATES = [
    # (state, its arguments, the one resource of the document it must send)
    ("domain_present", dict(name="web1", autostart=True), {"domains": {"web1": {"autostart": True}}}),
    ("domain_present", dict(name="web1", vcpus=2), {"domains": {"web1": {"vcpus": 2}}}),
    ("volume_present", dict(name="images/web1-root", capacity="20GiB"),
     {"volumes": {"images/web1-root": {"capacity": "20GiB"}}}),
    ("volume_present", dict(name="web1-root", pool="images", format="qcow2"),
     {"volumes": {"images/web1-root": {"format": "qcow2"}}}),
    ("rbd_image_present", dict(name="rbd/web1-root", snapshots=["base"]),
     {"rbd_images": {"rbd/web1-root": {"snapshots": ["base"]}}}),
    ("rbd_image_present", dict(name="rbd/web1-root", features=["layering"]),
     {"rbd_images": {"rbd/web1-root": {"features": ["layering"]}}}),
    ("pool_present", dict(name="images", autostart=True), {"pools": {"images": {"autostart": True}}}),
]


@pytest.mark.parametrize("fun,kwargs,sections", PARTIAL_STATES,
                         ids=[f"{c[0]}-{'-'.join(k for k in c[1] if k not in ('name', 'pool'))}"
                              for c in PARTIAL_STATES])
def test_a_partial_state_sends_only_the_fields_it_declares(fake_engine, fun, kwargs, sections):
    """Partial declarations (issue #15 point 4): a <kind>_present state sends the fields it was
    given and nothing else. No field is filled from what the host has (no observe, no extra engine
    run): the engine leaves the others alone, and asks for what creating needs when the resource
    does not exist. Both modes, Salt's own keys beside the fields."""
    binary, recorded = fake_engine
    m = Minion(binary)
    for test in (True, False):
        ret = m.state(fun, test, __pub_fun="state.single", __env__="base", **kwargs)
        assert ret["result"] is True, ret
        rec = recorded()
        assert rec["count"] == (1 if test else 2), "one engine run per state, and no observe"
        assert rec["argv"] == [binary, "serve"]
        assert rec["request"]["command"] == ("plan" if test else "apply")
        assert rec["request"]["document"] == dict({"version": 1}, **sections)


# --- Ceph RBD: the ceph: section, --ceph-conf/--ceph-user, observe --------------------------------

RBD_DOC = {"version": 1, "rbd_images": {"rbd/vcs-img": {"size": "1GiB"}}}
LP_CONF = "/etc/ceph/ceph.conf"


def test_a_document_using_rbd_gets_the_configured_ceph_section(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF, "virtconverge.ceph_user": "libvirt"})
    docs = [
        RBD_DOC,
        {"version": 1, "domains": {"d": {"vcpus": 1, "memory": "1GiB",
                                         "disks": [{"rbd": "rbd/vcs-img", "target": "vda"}]}}},
        {"version": 1, "pools": {"p": {"type": "rbd", "ceph_pool": "rbd"}}},
    ]
    for doc in docs:
        original = json.dumps(doc, sort_keys=True)
        m.mod.plan(doc)
        sent = recorded()["request"]["document"]
        assert sent == dict(doc, ceph={"conf": LP_CONF, "user": "libvirt"})
        assert json.dumps(doc, sort_keys=True) == original, "the caller's dict (pillar) was changed"


def test_a_document_without_rbd_gets_no_ceph_section(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF})
    doc = {"version": 1, "domains": {"d": {"vcpus": 1, "memory": "1GiB",
                                           "disks": [{"volume": "p/v", "target": "vda"}]}}}
    m.mod.plan(doc, ceph_conf="/other/ceph.conf")
    assert recorded()["request"]["document"] == doc  # the engine would contact Ceph for nothing
    assert recorded()["argv"] == [binary, "serve"]


def test_the_documents_own_ceph_section_ranks_below_the_arguments_and_above_the_config(fake_engine,
                                                                                     monkeypatch):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF, "virtconverge.ceph_user": "libvirt"})
    doc = dict(RBD_DOC, ceph={"conf": "/doc/ceph.conf", "user": "doc"})
    m.mod.plan(doc)
    assert recorded()["request"]["document"]["ceph"] == {"conf": "/doc/ceph.conf", "user": "doc"}
    m.mod.apply(doc, ceph_user="arg")
    assert recorded()["request"]["document"]["ceph"] == {"conf": "/doc/ceph.conf", "user": "arg"}
    m.mod.plan(doc, ceph_conf="/arg/ceph.conf", ceph_user="arg")
    assert recorded()["request"]["document"]["ceph"] == {"conf": "/arg/ceph.conf", "user": "arg"}
    assert doc["ceph"] == {"conf": "/doc/ceph.conf", "user": "doc"}
    # No configuration and no arguments: the document goes as it is (the engine says what is missing).
    Minion(binary).mod.plan(RBD_DOC)
    assert recorded()["request"]["document"] == RBD_DOC


def test_document_files_get_the_arguments_as_ceph_flags_and_not_the_config(fake_engine, tmp_path,
                                                                          monkeypatch):
    binary, recorded = fake_engine
    path = tmp_path / "rbd.yaml"
    path.write_text("version: 1\n")
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF})
    m.mod.plan(str(path))
    assert recorded(-2)["argv"] == [binary, "plan", str(path), "--format", "json"]
    cluster = {"conf": "/arg/ceph.conf", "user": "libvirt"}
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(dict(canned.plan(connection=TEST_URI), ceph=cluster)))
    m.mod.apply(str(path), ceph_conf="/arg/ceph.conf", ceph_user="libvirt", allow_destroy=True)
    assert recorded(-2)["argv"] == [binary, "plan", str(path), "--format", "json", "--allow-destroy",
                                    "--ceph-conf", "/arg/ceph.conf", "--ceph-user", "libvirt"]
    # The cluster the engine's plan of the files names goes with the document it recorded.
    assert recorded()["request"]["command"] == "apply"
    assert recorded()["request"]["document"] == {"version": 1, "ceph": cluster}


def test_observe_includes_ceph_when_configured_or_asked(fake_engine, monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_SERVE", serve_answer({"document": {"version": 1}, "pending": [],
                                                   "pending_changes": []}))
    assert Minion(binary).mod.observe() == {"version": 1}
    assert recorded()["request"] == {"id": 1, "command": "observe", "options": {}}
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF, "virtconverge.ceph_user": "libvirt"})
    m.mod.observe()
    assert recorded()["request"]["options"] == {"ceph": {"conf": LP_CONF, "user": "libvirt"}}
    m.mod.observe(ceph_conf="/arg/ceph.conf", ceph_user="admin")
    assert recorded()["request"]["options"] == {"ceph": {"conf": "/arg/ceph.conf", "user": "admin"}}
    m.mod.observe(ceph_conf=False)
    assert recorded()["request"]["options"] == {}


def test_rbd_states_build_the_documented_document_and_pass_the_cluster():
    cases = [
        ("rbd_image_present", dict(name="rbd/img", size="1GiB", features=["layering"],
                                   snapshots=["base"], flatten=False),
         {"rbd_images": {"rbd/img": {"size": "1GiB", "features": ["layering"], "snapshots": ["base"],
                                     "flatten": False}}}),
        ("rbd_image_present", dict(name="img", pool="rbd", clone_from="rbd/golden@base"),
         {"rbd_images": {"rbd/img": {"clone_from": "rbd/golden@base"}}}),
        ("rbd_image_absent", dict(name="rbd/img"), {"rbd_images": {"rbd/img": {"ensure": "absent"}}}),
        ("pool_present", dict(name="ceph", type="rbd", ceph_pool="rbd"),
         {"pools": {"ceph": {"type": "rbd", "ceph_pool": "rbd"}}}),
        ("domain_present", dict(name="d", vcpus=1, memory="1GiB", disks=[{"rbd": "rbd/img", "target": "vdb"}]),
         {"domains": {"d": {"vcpus": 1, "memory": "1GiB", "disks": [{"rbd": "rbd/img", "target": "vdb"}]}}}),
    ]
    for fun, kwargs, sections in cases:
        for test in (True, False):
            s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
            s.run(fun, test, ceph_conf="/etc/ceph/ceph.conf", ceph_user="libvirt", **kwargs)
            [(call, document, kw)] = s.calls
            assert call == ("plan" if test else "apply"), (fun, test)
            assert document == dict({"version": 1}, **sections), fun
            assert (kw["ceph_conf"], kw["ceph_user"]) == ("/etc/ceph/ceph.conf", "libvirt"), fun
    s = Scripted(plan=PLAN_NONE)
    s.run("converged", True, name="site", document=RBD_DOC, ceph_conf="/c", ceph_user="u")
    assert s.calls[0][1] == RBD_DOC and s.calls[0][2]["ceph_conf"] == "/c" and s.calls[0][2]["ceph_user"] == "u"


def test_rbd_image_absent_and_shrink_need_allow_destroy_in_the_flags():
    s = Scripted(plan=PLAN_NONE)
    s.run("rbd_image_absent", True, name="rbd/img")
    assert s.calls[0][2]["allow_destroy"] is False
    s.run("rbd_image_present", True, name="rbd/img", size="1GiB", allow_destroy=True)
    assert s.calls[1][2]["allow_destroy"] is True


def test_an_rbd_state_without_a_cluster_says_how_to_name_one(minion):
    minion.opts["virtconverge.connection"] = TEST_URI
    for test in (True, False):
        ret = minion.state("rbd_image_present", test, name="rbd/vcs-img", size="1GiB")
        assert ret["result"] is False and ret["changes"] == {}
        assert "rbd_images need the ceph: section" in ret["comment"], ret
        assert "set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf" in ret["comment"]


# --- fleets (a document with hosts:) -------------------------------------------------------------

FLEET = {"version": 1,
         "hosts": {"hv-a": {"connection": "qemu+ssh://root@hv-a/system"},
                   "hv-b": {"connection": "qemu+ssh://root@hv-b/system"}},
         "domains": {"web1": {"host": "hv-b", "vcpus": 1, "memory": "128MiB"}}}
FLEET_HOSTS = {"hv-a": "qemu+ssh://root@hv-a/system", "hv-b": "qemu+ssh://root@hv-b/system"}
HOST_MOVE = {"path": "host", "before": "hv-a", "after": "hv-b", "disruption": "live",
             "reason": "live migration, memory only (no disks)"}
PLAN_MIGRATE = canned.plan([canned.change(
    "domain.web1@hv-b", "migrate", "live", [HOST_MOVE],
    [("migrate", "migrate domain.web1@hv-a live to hv-b (memory only)",
      {"to": "hv-b", "live": True, "copy_disks": []}, "domain.web1@hv-a")],
    from_host="hv-a")], hosts=FLEET_HOSTS, document=FLEET)
TEXT_MIGRATE = ("Plan for the fleet of 2 host(s) (fingerprint fnv1a64:0123456789abcdef)\n"
                "    hv-a: qemu+ssh://root@hv-a/system\n    hv-b: qemu+ssh://root@hv-b/system\n\n"
                "On hv-b:\n\n» domain.web1@hv-b (migrate, live)\n"
                "    host hv-a → hv-b  (live: live migration, memory only (no disks))\n"
                "    → migrate domain.web1@hv-a live to hv-b (memory only)\n\n"
                "Plan: 0 to create, 0 to update (1 live, 0 need restart), 0 to replace, 0 to "
                "destroy, 1 to migrate.\n")
MIGRATION = {"action": "migrate", "disruption": "live", "host": "hv-b", "from_host": "hv-a",
             "migration": "host: hv-a -> hv-b (live migration, memory only (no disks))",
             "attributes": {"host": {"old": "hv-a", "new": "hv-b", "disruption": "live",
                                     "reason": "live migration, memory only (no disks)"}},
             "steps": ["migrate domain.web1@hv-a live to hv-b (memory only)"]}


def test_a_fleet_goes_to_serve_as_it_is_without_a_connection_or_the_configured_default(fake_engine,
                                                                                         monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_SERVE", serve_answer({"plan": PLAN_MIGRATE, "text": TEXT_MIGRATE}))
    m = Minion(binary, {"virtconverge.connection": "qemu:///system"})
    assert m.mod.plan(FLEET) == PLAN_MIGRATE
    rec = recorded()
    assert rec["argv"] == [binary, "serve"] and rec["count"] == 1
    assert rec["request"]["document"] == FLEET
    assert "connection" not in rec["request"]["options"]
    assert rec["uri"] is None  # virtconverge.connection is for one host, never for a fleet
    monkeypatch.setenv("FAKE_SERVE", serve_answer({"plan": PLAN_MIGRATE, "text": TEXT_MIGRATE,
                                                   "apply": None}))
    m.mod.apply(FLEET)
    assert recorded()["request"]["command"] == "apply" and recorded()["uri"] is None
    assert "connection" not in recorded()["request"]["options"]
    # A document of one host still gets the default.
    m.mod.plan(DOMAIN)
    assert recorded()["uri"] == "qemu:///system"


def test_a_connection_with_a_fleet_is_an_error_before_the_engine_runs(fake_engine, tmp_path):
    binary, _ = fake_engine
    path = tmp_path / "fleet.yaml"
    path.write_text("version: 1\nhosts:\n  hv-a: {connection: 'test:///default'}\n")
    m = Minion(binary)
    for call in (m.mod.plan, m.mod.apply):
        for document in (FLEET, str(path), [str(path)]):
            with pytest.raises(CommandExecutionError, match="names one host") as info:
                call(document, connection="qemu:///system")
            assert info.value.info == {"code": "invalid_value", "transient": False}
            assert "connection=qemu:///system" in str(info.value)
            assert "Leave connection out for a fleet" in str(info.value)
    with pytest.raises(CommandExecutionError, match=r"its hosts: section \(hv-a, hv-b\)"):
        m.mod.observe(connection="qemu:///system", document=FLEET)
    assert not (tmp_path / "record.jsonl").exists(), "the engine ran"


def test_fleet_files_are_read_by_the_engine_without_a_connection(fake_engine, tmp_path, monkeypatch):
    binary, recorded = fake_engine
    path = tmp_path / "fleet.yaml"
    path.write_text("version: 1\nhosts:\n  hv-a: {connection: 'qemu+ssh://root@hv-a/system'}\n")
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(PLAN_MIGRATE))
    monkeypatch.setenv("FAKE_SERVE", serve_answer({"plan": PLAN_MIGRATE, "text": TEXT_MIGRATE}))
    m = Minion(binary, {"virtconverge.connection": "qemu:///system"})
    m.mod.plan(str(path))
    cli = recorded(0)
    assert cli["argv"][1:] == ["plan", str(path), "--format", "json"]  # no --connection
    # serve plans the engine's merged document; the plan's empty connection is not passed on.
    assert recorded()["request"]["document"] == FLEET
    assert "connection" not in recorded()["request"]["options"] and recorded()["uri"] is None


def test_observe_with_a_fleet_observes_every_host_through_the_cli(fake_engine, monkeypatch):
    binary, recorded = fake_engine
    observed = dict(FLEET, domains={"web1": dict(FLEET["domains"]["web1"], state="running")})
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(observed))
    m = Minion(binary, {"virtconverge.connection": "qemu:///system",
                        "virtconverge.ceph_conf": "/etc/ceph/ceph.conf"})
    assert m.mod.observe(document=FLEET) == observed
    rec = recorded()
    assert rec["argv"][1:] == ["observe", "-", "--format", "json", "--ceph-conf",
                               "/etc/ceph/ceph.conf"]
    assert json.loads(rec["stdin"]) == FLEET and rec["uri"] is None
    m.mod.observe(document=FLEET, ceph_conf=False)
    assert recorded()["argv"][1:] == ["observe", "-", "--format", "json"]
    m.mod.observe(document=dict(FLEET, ceph={"conf": "/etc/ceph/other.conf"}))
    assert recorded()["argv"][1:] == ["observe", "-", "--format", "json"]  # the document's own


def test_a_fleet_on_the_test_driver_plans_and_converges_through_serve(minion):
    """The real engine, a fleet of one host on the test driver: serve connects to it from the
    hosts: section, and the addresses carry the host."""
    fleet = {"version": 1, "hosts": {"hv-t": {"connection": TEST_URI}},
             "domains": {"vcs-unit1": {"host": "hv-t", "vcpus": 1, "memory": "128MiB"}}}
    m = Minion(extra_opts={"virtconverge.connection": "test:///nonexistent"})  # not used for it
    plan = m.mod.plan(fleet)
    assert plan["connection"] == "" and plan["hosts"] == {
        "hv-t": {"connection": TEST_URI, "skipped": None}}
    [change] = plan["changes"]
    assert (change["address"], change["host"], change["action"]) == (
        "domain.vcs-unit1@hv-t", "hv-t", "create")
    ret = m.state("converged", True, name="fleet", document=fleet)
    assert ret["result"] is None
    assert ret["changes"]["domain.vcs-unit1@hv-t"]["host"] == "hv-t"
    assert "migration" not in ret["changes"]["domain.vcs-unit1@hv-t"]
    assert "On hv-t:" in ret["comment"]
    ret = m.state("converged", False, name="fleet", document=fleet)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["domain.vcs-unit1@hv-t"]["steps"] == [
        "create domain.vcs-unit1@hv-t", "start domain.vcs-unit1@hv-t"]


def test_state_reports_a_migration_with_its_hosts_and_the_engines_reason():
    s = Scripted(plan=PLAN_MIGRATE, text=TEXT_MIGRATE)
    ret = s.run("converged", True, name="fleet", document=FLEET)
    assert [c[0] for c in s.calls] == ["plan"] and s.calls[0][2]["connection"] is None
    assert ret["result"] is None
    assert ret["changes"] == {"domain.web1@hv-b": MIGRATION}
    assert ret["comment"] == ("virtconverge would change 1 resource(s) (1 migration(s) between "
                              "hosts).\n" + TEXT_MIGRATE)

    report = canned.report([canned.outcome("domain.web1@hv-b", MIGRATION["steps"], action="migrate")])
    s = Scripted(apply={"plan": PLAN_MIGRATE, "apply": report}, text=TEXT_MIGRATE)
    ret = s.run("converged", False, name="fleet", document=FLEET)
    assert [c[0] for c in s.calls] == ["apply"]
    assert ret["result"] is True and ret["changes"] == {"domain.web1@hv-b": MIGRATION}
    assert ret["comment"].startswith("virtconverge changed 1 resource(s) (1 migration(s) between hosts).\n")
    assert "  domain.web1@hv-b: migrate domain.web1@hv-a live to hv-b (memory only)" in ret["comment"]


def test_state_tells_a_stopped_domains_move_and_a_failed_migration():
    moved = dict(HOST_MOVE, disruption="none",
                 reason="stopped: defined on hv-b and removed from hv-a; nothing is copied")
    step = ("migrate", "move the stopped domain.web1@hv-a to hv-b (define it there, remove it here)",
            {"to": "hv-b", "live": False, "copy_disks": []}, "domain.web1@hv-a")
    plan = canned.plan([canned.change("domain.web1@hv-b", "migrate", "none", [moved], [step],
                                      from_host="hv-a")], hosts=FLEET_HOSTS)
    ret = Scripted(plan=plan).run("converged", True, name="fleet", document=FLEET)
    assert ret["changes"]["domain.web1@hv-b"]["migration"] == (
        "host: hv-a -> hv-b (stopped: defined on hv-b and removed from hv-a; nothing is copied)")

    report = canned.report([canned.outcome("domain.web1@hv-b", ok=False, action="migrate",
                                           code="operation_failed", error="migration failed: gone",
                                           converged=False)])
    err = CommandExecutionError("domain.web1@hv-b: migration failed: gone")
    err.info = {"plan": PLAN_MIGRATE, "apply": report, "text": TEXT_MIGRATE,
                "code": "operation_failed", "transient": False}
    ret = Scripted(error=err).run("converged", False, name="fleet", document=FLEET)
    assert ret["result"] is False and ret["changes"] == {}
    assert "domain.web1@hv-b: FAILED [operation_failed]: migration failed: gone" in ret["comment"]


def test_state_with_a_converged_fleet_names_its_hosts_and_any_skipped_one():
    for test in (True, False):
        plan = canned.plan(hosts=FLEET_HOSTS)
        s = Scripted(plan=plan, apply={"plan": plan, "apply": None}, text="No changes.\n")
        ret = s.run("converged", test, name="fleet", document=FLEET)
        assert ret["result"] is True and ret["changes"] == {}, ret
        assert ret["comment"] == ("The fleet (hv-a, hv-b) matches the document; nothing to do.\n"
                                  "No changes.\n")
    plan = canned.plan(hosts={"hv-a": FLEET_HOSTS["hv-a"],
                              "hv-b": (FLEET_HOSTS["hv-b"], "cannot connect to libvirt")})
    ret = Scripted(plan=plan, text="").run("converged", True, name="fleet", document=FLEET)
    assert "Host hv-b was skipped (unreachable): cannot connect to libvirt" in ret["comment"]


def test_state_with_a_connection_and_a_fleet_fails_before_the_engine_runs(fake_engine, tmp_path):
    binary, _ = fake_engine
    m = Minion(binary)
    for test in (True, False):
        ret = m.state("converged", test, name="fleet", document=FLEET, connection="qemu:///system")
        assert ret["result"] is False and ret["changes"] == {}
        assert "[invalid_value] connection=qemu:///system names one host" in ret["comment"]
    assert not (tmp_path / "record.jsonl").exists(), "the engine ran"


def test_a_fleet_with_a_host_down_fails_the_state_naming_the_host_and_changes_nothing(minion):
    fleet = {"version": 1,
             "hosts": {"hv-t": {"connection": TEST_URI},
                       "hv-gone": {"connection": "qemu+unix:///system?socket=/nonexistent/vcs-sock"}},
             "domains": {"vcs-unit1": {"host": "hv-t", "vcpus": 1, "memory": "128MiB"}}}
    for test in (True, False):
        ret = minion.state("converged", test, name="fleet", document=fleet)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[connection_failed] host hv-gone (" in ret["comment"]
        assert "(transient: a later run may succeed without a change)" in ret["comment"]


# --- host settings and capacity (hosts: entries, allow_overcommit) ------------------------------

OVER = canned.diagnostic(
    "over_committed", "host hv-a: the plan takes vCPUs per host CPU from 0.00 to 1.00, over its "
    "cpu_allocation_ratio of 0.50: nothing is changed (wording is the engine's)",
    address="host.hv-a", detail="2 vCPUs on 2 CPUs; 1 domain(s) counted")
ONE_HOST = {"version": 1, "hosts": {"hv-a": {"connection": TEST_URI, "cpu_allocation_ratio": 0.5}},
            "domains": {"web1": {"vcpus": 2, "memory": "128MiB"}}}


def test_allow_overcommit_reaches_serve_and_the_cli(fake_engine, tmp_path):
    binary, recorded = fake_engine
    m = Minion(binary)
    m.mod.plan(ONE_HOST, allow_overcommit=True)
    assert recorded()["request"]["options"]["allow_overcommit"] is True
    assert "connection" not in recorded()["request"]["options"]  # a one-host fleet names it
    m.mod.apply(ONE_HOST)
    assert "allow_overcommit" not in recorded()["request"]["options"]  # the engine's default: refused
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\n")
    m.mod.plan(str(path), allow_overcommit=True)
    assert "--allow-overcommit" in recorded(-2)["argv"]  # the CLI's plan reads the files


def test_host_present_builds_a_one_host_fleet_document_naming_the_connection():
    ksm = {"pages_to_scan": 150, "sleep_millisecs": 30}
    for test in (True, False):
        s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
        s.states.__salt__["config.get"] = lambda key, default="": None
        s.run("host_present", test, name="hv-a", ksm=ksm, cpu_allocation_ratio=4.0,
              __pub_fun="state.single")
        [(call, document, kw)] = s.calls
        assert call == ("plan" if test else "apply")
        assert document == {"version": 1, "hosts": {"hv-a": {
            "ksm": ksm, "cpu_allocation_ratio": 4.0, "connection": "qemu:///system"}}}
        assert kw["connection"] is None  # the entry names it
    s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
    s.states.__salt__["config.get"] = lambda key, default="": {"virtconverge.connection": TEST_URI}.get(key)
    s.run("host_present", True, name="hv-a", ksm=ksm)
    assert s.calls[0][1]["hosts"]["hv-a"]["connection"] == TEST_URI
    s.run("host_present", True, name="hv-a", ksm=ksm, connection="qemu+ssh://hv-a/system")
    assert s.calls[1][1]["hosts"]["hv-a"]["connection"] == "qemu+ssh://hv-a/system"


def test_host_present_reports_ksm_changes_by_the_engines_paths():
    change = canned.change("host.hv-a", "update", "live", [
        {"path": "ksm.pages_to_scan", "before": 100, "after": 150, "disruption": "live",
         "reason": "through libvirt's node memory parameters (shm_pages_to_scan)"}],
        [("set_ksm", "set KSM on hv-a: pages_to_scan = 150", {"settings": {"pages_to_scan": 150}})])
    change["host"] = "hv-a"  # as the engine gives its host change
    plan = canned.plan([change], hosts={"hv-a": TEST_URI})
    ret = Scripted(plan=plan).run("host_present", True, name="hv-a", connection=TEST_URI,
                                  ksm={"pages_to_scan": 150})
    assert ret["result"] is None
    assert ret["changes"] == {"host.hv-a": {
        "action": "update", "disruption": "live", "host": "hv-a",
        "attributes": {"ksm.pages_to_scan": {
            "old": 100, "new": 150, "disruption": "live",
            "reason": "through libvirt's node memory parameters (shm_pages_to_scan)"}},
        "steps": ["set KSM on hv-a: pages_to_scan = 150"]}}


def test_converged_and_domain_present_pass_allow_overcommit_only_when_asked():
    for fun, kwargs in (("converged", dict(name="site", document=ONE_HOST)),
                        ("domain_present", dict(name="web1", vcpus=2, memory="1GiB"))):
        for test in (True, False):
            s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
            s.run(fun, test, allow_overcommit=True, **kwargs)
            s.run(fun, test, **kwargs)
            assert s.calls[0][2]["allow_overcommit"] is True, (fun, test)
            assert "allow_overcommit" not in s.calls[1][2], (fun, test)


def test_an_over_commit_fails_the_state_by_its_code_naming_the_host_and_the_flag():
    plan = canned.plan([canned.change("domain.web1@hv-a", "create")], [OVER],
                       hosts={"hv-a": TEST_URI})
    ret = Scripted(plan=plan).run("converged", True, name="site", document=ONE_HOST)
    assert ret["result"] is False and ret["changes"] == {}
    assert "it takes host hv-a past its cpu_allocation_ratio or ram_allocation_ratio" in ret["comment"]
    assert "set allow_overcommit: True to permit it" in ret["comment"]
    err = CommandExecutionError(OVER["summary"])
    err.info = {"plan": plan, "apply": None, "text": "the engine's text\n", "code": "over_committed"}
    ret = Scripted(error=err).run("converged", False, name="site", document=ONE_HOST)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("virtconverge refused the plan; nothing was changed (it takes host "
                                     "hv-a past its cpu_allocation_ratio")
    assert "[over_committed] host hv-a: the plan takes vCPUs" in ret["comment"]
    assert "the engine's text" in ret["comment"]


def test_a_document_with_hosts_limits_is_refused_on_the_test_driver_unless_allowed(minion):
    """The real engine on the test driver (16 CPUs, its domain `test` of 2 vCPUs): a one-entry
    hosts: section's cpu_allocation_ratio refuses a domain, in test and live mode, by the code."""
    document = {"version": 1,
                "hosts": {"hv-t": {"connection": TEST_URI, "cpu_allocation_ratio": 0.2}},
                "domains": {"vcs-unit-big": {"vcpus": 2, "memory": "64MiB", "state": "stopped"}}}
    plan = minion.mod.plan(document)
    assert plan["applyable"] is False
    assert [(d["code"], d["address"]) for d in plan["diagnostics"] if d["severity"] == "error"] == [
        ("over_committed", "host.hv-t")]
    assert plan["capacity"]["hv-t"]["cpus"] == 16
    for test in (True, False):
        ret = minion.state("converged", test, name="site", document=document)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "set allow_overcommit: True" in ret["comment"]
        assert "over its cpu_allocation_ratio of 0.20" in ret["comment"]
    ret = minion.state("converged", False, name="site", document=document, allow_overcommit=True)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["domain.vcs-unit-big@hv-t"]["action"] == "create"
