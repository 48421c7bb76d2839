"""Unit tests of the execution module and the state module's logic. No libvirtd needed: the real
engine runs against libvirt's embedded test driver (test:///default, fresh in every process), and
a recording fake engine shows exactly which argv, stdin and environment the module uses."""

import json
import os
import stat
import textwrap

import pytest
from salt.exceptions import CommandExecutionError

from conftest import BINARY, Minion, load_module

TEST_URI = "test:///default"
DOMAIN = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 1, "memory": "128MiB"}}}


@pytest.fixture
def minion():
    return Minion()


@pytest.fixture
def fake_engine(tmp_path, monkeypatch):
    """A stand-in engine that records argv, stdin and LIBVIRT_DEFAULT_URI, then prints what the test
    put in FAKE_STDOUT and exits with FAKE_RC."""
    record = tmp_path / "record.json"
    script = tmp_path / "virtconverge"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/python3
        import json, os, sys
        data = sys.stdin.read()
        with open({str(record)!r}, "w") as f:
            json.dump({{"argv": sys.argv, "stdin": data,
                       "uri": os.environ.get("LIBVIRT_DEFAULT_URI")}}, f)
        sys.stdout.write(os.environ.get("FAKE_STDOUT", ""))
        sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
        sys.exit(int(os.environ.get("FAKE_RC", "0")))
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_STDOUT", json.dumps({"format_version": 1, "changes": []}))
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)

    def recorded():
        return json.loads(record.read_text())

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

def test_a_document_dict_goes_to_the_engine_as_json_on_stdin_with_an_argv_list(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary)
    m.mod.plan(DOMAIN, connection=TEST_URI, allow_destroy=True, allow_restart=True, prune=True)
    rec = recorded()
    assert rec["argv"] == [binary, "plan", "-", "--format", "json", "--allow-destroy",
                           "--allow-restart", "--prune", "--connection", TEST_URI]
    assert json.loads(rec["stdin"]) == DOMAIN


def test_a_path_is_passed_as_an_argument_and_never_through_a_shell(fake_engine, tmp_path):
    binary, recorded = fake_engine
    evil = tmp_path / "site $(touch pwned); touch pwned2.yaml"
    evil.write_text("version: 1\n")
    m = Minion(binary)
    m.mod.plan(str(evil))
    assert recorded()["argv"][1:3] == ["plan", str(evil)]
    assert recorded()["stdin"] == ""
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned2.yaml")


def test_apply_passes_parallelism_and_shutdown_timeout(fake_engine, monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_STDOUT", json.dumps({"plan": {"changes": []}, "apply": None}))
    Minion(binary).mod.apply(DOMAIN, parallelism=2, shutdown_timeout=5)
    assert recorded()["argv"][1:] == ["apply", "-", "--format", "json", "--parallelism", "2",
                                      "--shutdown-timeout", "5"]


def test_the_configured_default_connection_ranks_below_the_documents_own(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.connection": "test:///default"})
    m.mod.plan(DOMAIN)
    assert recorded()["uri"] == "test:///default"
    assert "--connection" not in recorded()["argv"]  # a document's connection: still wins
    m.mod.plan(DOMAIN, connection="qemu:///session")
    assert recorded()["argv"][-2:] == ["--connection", "qemu:///session"]


def test_salt_urls_are_fetched_with_cp_cache_file(fake_engine, tmp_path):
    binary, recorded = fake_engine
    cached = tmp_path / "site.yaml"
    cached.write_text("version: 1\n")
    m = Minion(binary)
    m.salt["cp.cache_file"] = lambda url: str(cached) if url == "salt://virt/site.yaml" else ""
    m.mod.plan(["salt://virt/site.yaml"])
    assert recorded()["argv"][2] == str(cached)
    with pytest.raises(CommandExecutionError, match="not found on the master"):
        m.mod.plan("salt://virt/missing.yaml")


def test_output_that_is_not_json_is_an_error(fake_engine, monkeypatch):
    binary, _ = fake_engine
    monkeypatch.setenv("FAKE_STDOUT", "garbage")
    with pytest.raises(CommandExecutionError, match="not JSON"):
        Minion(binary).mod.plan(DOMAIN)


def test_bad_document_arguments_are_errors(minion, tmp_path):
    with pytest.raises(CommandExecutionError, match="no document"):
        minion.mod.plan(None)
    with pytest.raises(CommandExecutionError, match="must be a dict"):
        minion.mod.plan(42)
    with pytest.raises(CommandExecutionError, match="no such document file"):
        minion.mod.plan(str(tmp_path / "absent.yaml"))


# --- the real engine on the test driver ---------------------------------------------------------

def test_validate_accepts_a_valid_dict_and_file(minion, tmp_path):
    assert minion.mod.validate(DOMAIN) == {"valid": True, "errors": [],
                                           "summary": "valid: 1 resource(s) in 1 document(s)"}
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\nnetworks:\n  vcs-n:\n    mode: isolated\n")
    assert minion.mod.validate(str(path))["valid"] is True


def test_validate_names_the_file_resource_and_field_of_each_error(minion, tmp_path):
    bad = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 1, "memroy": "1GiB"}}}
    result = minion.mod.validate(bad)
    assert result["valid"] is False
    assert "<stdin>" in result["errors"][0]
    assert "domains.vcs-unit1.memroy: unknown field, did you mean 'memory'?" in result["errors"][0]
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nvolumes:\n  vcs-p/v:\n    capacity: 0\n")
    result = minion.mod.validate(str(path))
    assert result["valid"] is False and str(path) in result["errors"][0]


def test_plan_returns_the_engines_json_plan(minion):
    plan = minion.mod.plan(DOMAIN, connection=TEST_URI)
    assert plan["format_version"] == 1 and plan["applyable"] is True
    assert plan["connection"] == TEST_URI
    [change] = plan["changes"]
    assert change["address"] == "domain.vcs-unit1" and change["action"] == "create"
    assert {a["path"]: a["after"] for a in change["attributes"]} == {"memory": "128MiB", "vcpus": 1}


def test_plan_of_an_invalid_document_raises_with_the_engines_message(minion):
    bad = {"version": 1, "domains": {"vcs-unit1": {"vcpus": 1}}}
    with pytest.raises(CommandExecutionError) as info:
        minion.mod.plan(bad, connection=TEST_URI)
    assert str(info.value).startswith("error: <stdin>")
    assert "vcs-unit1" in str(info.value) and "memory" in str(info.value)


def test_plan_that_needs_allow_destroy_is_returned_not_applyable(minion):
    doc = {"version": 1, "pools": {"default-pool": {"type": "dir", "path": "/elsewhere"}}}
    plan = minion.mod.plan(doc, connection=TEST_URI)
    assert plan["applyable"] is False
    assert plan["changes"][0]["disruption"] == "destructive"
    assert minion.mod.plan(doc, connection=TEST_URI, allow_destroy=True)["applyable"] is True


def test_apply_returns_the_plan_and_the_report(minion):
    out = minion.mod.apply(DOMAIN, connection=TEST_URI)
    assert out["apply"]["ok"] is True
    [outcome] = out["apply"]["outcomes"]
    assert outcome["converged"] is True
    assert outcome["steps"] == ["create domain.vcs-unit1", "start domain.vcs-unit1"]


def test_apply_refused_raises_with_the_plan_in_info_and_changes_nothing(minion):
    doc = {"version": 1, "pools": {"default-pool": {"type": "dir", "path": "/elsewhere"}}}
    with pytest.raises(CommandExecutionError) as info:
        minion.mod.apply(doc, connection=TEST_URI)
    assert "destructive change refused without --allow-destroy" in str(info.value)
    assert "Additional info" not in str(info.value)
    assert info.value.info["apply"] is None
    assert info.value.info["plan"]["applyable"] is False


def test_observe_returns_the_host_as_a_document(minion):
    doc = minion.mod.observe(connection=TEST_URI)
    assert doc["version"] == 1 and doc["domains"]["test"]["vcpus"] == 2


def test_an_unreachable_connection_raises_with_the_engines_message(minion):
    with pytest.raises(CommandExecutionError, match="cannot connect to libvirt at test:///nonexistent"):
        minion.mod.observe(connection="test:///nonexistent")


# --- the state module's logic, with a scripted execution module ---------------------------------

PLAN_UPDATE = {
    "format_version": 1, "connection": "qemu:///system", "fingerprint": "fnv1a64:0", "applyable": True,
    "changes": [{"address": "domain.web1", "kind": "domain", "name": "web1", "action": "update",
                 "disruption": "live",
                 "attributes": [{"path": "vcpus", "before": 1, "after": 2, "disruption": "live",
                                 "reason": "hot-plug"}]}],
    "pending": [], "diagnostics": [],
    "summary": {"create": 0, "update": 1, "replace": 0, "delete": 0, "live": 1, "restart": 0,
                "destructive": 0},
}
PLAN_NONE = dict(PLAN_UPDATE, changes=[], summary=dict(PLAN_UPDATE["summary"], update=0, live=0))


class Scripted:
    """A stand-in execution module that records calls and answers from a script."""

    def __init__(self, plan=PLAN_UPDATE, apply=None, error=None):
        self.calls = []
        self.plan_result, self.apply_result, self.error = plan, apply, error
        self.opts = {"test": False}
        self.states = load_module("states", self.opts, {
            "virtconverge.plan": self._plan, "virtconverge.apply": self._apply})

    def _plan(self, document, **kw):
        self.calls.append(("plan", document, kw))
        return self.plan_result

    def _apply(self, document, **kw):
        self.calls.append(("apply", document, kw))
        if self.error:
            raise self.error
        return self.apply_result

    def run(self, fun, test, **kwargs):
        self.opts["test"] = test
        return getattr(self.states, fun)(**kwargs)


def test_state_test_mode_only_plans_and_predicts_old_new_and_disruption():
    s = Scripted()
    ret = s.run("domain_present", True, name="web1", vcpus=2, memory="1GiB", allow_restart=True)
    assert [c[0] for c in s.calls] == ["plan"]
    assert s.calls[0][1] == {"version": 1, "domains": {"web1": {"vcpus": 2, "memory": "1GiB"}}}
    assert s.calls[0][2]["allow_restart"] is True and s.calls[0][2]["allow_destroy"] is False
    assert ret["result"] is None
    assert ret["changes"] == {"domain.web1": {
        "action": "update", "disruption": "live",
        "attributes": {"vcpus": {"old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}}}}
    assert "vcpus 1 → 2  (live: hot-plug)" in ret["comment"]


def test_state_live_mode_applies_once_and_reports_the_steps():
    report = {"ok": True, "verification_error": None, "pending": [],
              "outcomes": [{"address": "domain.web1", "action": "update", "ok": True, "error": None,
                            "steps": ["hot-plug vCPUs of domain.web1 to 2"], "converged": True,
                            "remaining": []}]}
    s = Scripted(apply={"plan": PLAN_UPDATE, "apply": report})
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB")
    assert [c[0] for c in s.calls] == ["apply"]
    assert ret["result"] is True
    assert ret["changes"]["domain.web1"]["steps"] == ["hot-plug vCPUs of domain.web1 to 2"]
    assert ret["changes"]["domain.web1"]["attributes"]["vcpus"] == {
        "old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}


def test_state_with_nothing_to_do_is_true_without_changes_in_both_modes():
    for test in (True, False):
        s = Scripted(plan=PLAN_NONE, apply={"plan": PLAN_NONE, "apply": None})
        ret = s.run("network_present", test, name="n1", mode="isolated")
        assert ret["result"] is True and ret["changes"] == {}, ret
        assert "nothing to do" in ret["comment"]


def test_state_reports_a_resource_that_did_not_converge_as_failed():
    report = {"ok": False, "verification_error": None, "pending": [],
              "outcomes": [{"address": "domain.web1", "action": "update", "ok": False,
                            "error": "detach timed out", "steps": [], "converged": False,
                            "remaining": ["disks"]}]}
    err = CommandExecutionError("domain.web1: detach timed out")
    err.info = {"plan": PLAN_UPDATE, "apply": report, "exit_code": 1}
    s = Scripted(error=err)
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB")
    assert ret["result"] is False and ret["changes"] == {}
    assert "detach timed out" in ret["comment"]


def test_state_reports_pending_restart_changes():
    plan = dict(PLAN_UPDATE, changes=[dict(PLAN_UPDATE["changes"][0], disruption="restart")])
    report = {"ok": True, "verification_error": None,
              "pending": [{"address": "domain.web1", "path": "max_vcpus", "live": 2, "config": 4}],
              "outcomes": [{"address": "domain.web1", "action": "update", "ok": True, "error": None,
                            "steps": ["write persistent config of domain.web1"], "converged": True,
                            "remaining": []}]}
    s = Scripted(apply={"plan": plan, "apply": report})
    ret = s.run("domain_present", False, name="web1", vcpus=2, memory="1GiB", max_vcpus=4)
    assert ret["result"] is True
    assert ret["changes"]["domain.web1"]["pending"] == {"max_vcpus": {"running": 2, "next_boot": 4}}
    assert "pending restart" in ret["comment"]


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
        sent = json.loads(recorded()["stdin"])
        assert sent == dict(doc, ceph={"conf": LP_CONF, "user": "libvirt"})
        assert "--ceph-conf" not in recorded()["argv"]
        assert json.dumps(doc, sort_keys=True) == original, "the caller's dict (pillar) was changed"


def test_a_document_without_rbd_gets_no_ceph_section(fake_engine):
    binary, recorded = fake_engine
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF})
    doc = {"version": 1, "domains": {"d": {"vcpus": 1, "memory": "1GiB",
                                           "disks": [{"volume": "p/v", "target": "vda"}]}}}
    m.mod.plan(doc, ceph_conf="/other/ceph.conf")
    assert json.loads(recorded()["stdin"]) == doc  # the engine would contact Ceph for nothing
    assert recorded()["argv"] == [binary, "plan", "-", "--format", "json"]


BOTH = json.dumps({"format_version": 1, "changes": [], "plan": {"changes": []}, "apply": None})


def test_the_documents_own_ceph_section_ranks_below_the_arguments_and_above_the_config(fake_engine,
                                                                                     monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_STDOUT", BOTH)  # answers plan and apply
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF, "virtconverge.ceph_user": "libvirt"})
    doc = dict(RBD_DOC, ceph={"conf": "/doc/ceph.conf", "user": "doc"})
    m.mod.plan(doc)
    assert json.loads(recorded()["stdin"])["ceph"] == {"conf": "/doc/ceph.conf", "user": "doc"}
    m.mod.apply(doc, ceph_user="arg")
    assert json.loads(recorded()["stdin"])["ceph"] == {"conf": "/doc/ceph.conf", "user": "arg"}
    m.mod.plan(doc, ceph_conf="/arg/ceph.conf", ceph_user="arg")
    assert json.loads(recorded()["stdin"])["ceph"] == {"conf": "/arg/ceph.conf", "user": "arg"}
    assert doc["ceph"] == {"conf": "/doc/ceph.conf", "user": "doc"}
    # No configuration and no arguments: the document goes as it is (the engine says what is missing).
    Minion(binary).mod.plan(RBD_DOC)
    assert json.loads(recorded()["stdin"]) == RBD_DOC


def test_document_files_get_the_arguments_as_ceph_flags_and_not_the_config(fake_engine, tmp_path,
                                                                          monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_STDOUT", BOTH)
    path = tmp_path / "rbd.yaml"
    path.write_text("version: 1\n")
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF})
    m.mod.plan(str(path))
    assert recorded()["argv"] == [binary, "plan", str(path), "--format", "json"]
    m.mod.apply(str(path), ceph_conf="/arg/ceph.conf", ceph_user="libvirt", allow_destroy=True)
    assert recorded()["argv"] == [binary, "apply", str(path), "--format", "json", "--allow-destroy",
                                  "--ceph-conf", "/arg/ceph.conf", "--ceph-user", "libvirt"]


def test_observe_includes_ceph_when_configured_or_asked(fake_engine, monkeypatch):
    binary, recorded = fake_engine
    monkeypatch.setenv("FAKE_STDOUT", json.dumps({"version": 1}))
    Minion(binary).mod.observe()
    assert recorded()["argv"] == [binary, "observe", "--format", "json"]
    m = Minion(binary, {"virtconverge.ceph_conf": LP_CONF, "virtconverge.ceph_user": "libvirt"})
    m.mod.observe()
    assert recorded()["argv"][2:] == ["--format", "json", "--ceph-conf", LP_CONF, "--ceph-user", "libvirt"]
    m.mod.observe(ceph_conf="/arg/ceph.conf", ceph_user="admin")
    assert recorded()["argv"][4:] == ["--ceph-conf", "/arg/ceph.conf", "--ceph-user", "admin"]
    m.mod.observe(ceph_conf=False)
    assert recorded()["argv"] == [binary, "observe", "--format", "json"]


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
        assert "rbd_images need the ceph: section" in ret["comment"]
        assert "set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf" in ret["comment"]
