"""End to end with real Salt: `salt-call --local` runs the example state files and pillar of
salt/examples/ (file_roots and pillar_roots in a temporary config dir) against the real libvirtd,
with the modules of the installed extension (tests/salt/make-venv.sh): the file roots hold only the
state files, and nothing is synced. Objects are named vcs-ex-*."""

import json
import os
import subprocess

import pytest

from conftest import (BINARY, SALT_BIN, SALT_DIR, URI, cleanup, make_work, qemu_pid,
                      require_real_libvirtd, snapshot, virsh)

PREFIX = "vcs-ex-"
WORK = "/tmp/vcs-ex"
IMAGES = os.path.join(WORK, "images")
EXAMPLES = os.path.join(SALT_DIR, "examples")
WEB1, DB1, DATA = PREFIX + "web1", PREFIX + "db1", PREFIX + "images/web1-data"


class SaltCall:
    def __init__(self, root, **config):
        """config: more minion options (or replacements), e.g. virtconverge.ceph_conf."""
        self.conf = os.path.join(root, "conf")
        self.log_file = os.path.join(root, "root", "var", "log", "salt", "minion")
        os.makedirs(self.conf)
        settings = {"log_level_logfile": "info"}
        settings.update(config)
        with open(os.path.join(self.conf, "minion"), "w") as f:
            f.write(f"""id: vcs-ex-local
root_dir: {root}/root
file_client: local
file_roots:
  base: [{EXAMPLES}/states]
pillar_roots:
  base: [{EXAMPLES}/pillar]
virtconverge.binary: {BINARY}
virtconverge.connection: {URI}
""" + "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))

    def raw(self, *args, timeout=300):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        return subprocess.run([os.path.join(SALT_BIN, "salt-call"), "--local", "-c", self.conf,
                               "--out", "json", "--log-level", "warning"] + list(args),
                              capture_output=True, text=True, timeout=timeout, env=env)

    def run(self, *args, timeout=300):
        p = self.raw(*args, timeout=timeout)
        try:
            return json.loads(p.stdout)["local"]
        except (ValueError, KeyError):
            raise AssertionError(f"salt-call {args} printed no JSON (exit {p.returncode}):\n"
                                 f"{p.stdout}\n{p.stderr}") from None

    def apply(self, sls, test=False, **pillar):
        """state.apply; returns {state id: ret} with the images path pointed at the work dir."""
        hv = {"images_path": IMAGES, "web1_vcpus": 1, "web1_data_capacity": "32MiB"}
        hv.update(pillar)
        args = ["state.apply", sls, "pillar=" + json.dumps({"hypervisor": hv})]
        if test:
            args.append("test=True")
        out = self.run(*args)
        assert isinstance(out, dict) and all(isinstance(r, dict) and "__id__" in r for r in out.values()), \
            f"state.apply {sls} did not run its states: {out}"
        return {ret["__id__"]: ret for ret in out.values()}


@pytest.fixture(scope="module")
def salt_call():
    require_real_libvirtd()
    cleanup(PREFIX, WORK)
    make_work(WORK)
    yield SaltCall(WORK)
    cleanup(PREFIX, WORK)


@pytest.fixture
def fresh(salt_call):
    cleanup(PREFIX)
    yield salt_call
    cleanup(PREFIX)


def all_true_without_changes(rets):
    for sid, ret in rets.items():
        assert ret["result"] is True, f"{sid}: {ret['comment']}"
        assert ret["changes"] == {}, f"{sid}: {ret['changes']}"


def test_apply_creates_everything_and_a_second_run_is_all_true_without_changes(fresh):
    before = snapshot(PREFIX)
    for sls in ("hypervisor", "site"):
        predicted = fresh.apply(sls, test=True)
        assert all(ret["result"] is None for ret in predicted.values()), predicted
    assert snapshot(PREFIX) == before, "test=True changed the host"

    applied = fresh.apply("hypervisor")
    assert [applied[i]["__run_num__"] for i in (PREFIX + "images", DATA, WEB1)] == [0, 1, 2]
    for sid, ret in applied.items():
        assert ret["result"] is True, f"{sid}: {ret['comment']}"
        assert ret["changes"], sid
    assert applied[WEB1]["changes"][f"domain.{WEB1}"]["action"] == "create"
    site = fresh.apply("site")["site"]
    assert site["result"] is True, site["comment"]
    assert sorted(site["changes"]) == [f"domain.{DB1}", f"network.{PREFIX}backend"]

    assert virsh("domstate", WEB1) == "running"
    assert virsh("domstate", DB1) == "shut off"
    assert "52:54:00:e5:00:01" in virsh("domiflist", DB1)
    assert os.path.getsize(os.path.join(IMAGES, "web1-data")) == 32 << 20

    converged = snapshot(PREFIX)
    all_true_without_changes(fresh.apply("hypervisor"))
    all_true_without_changes(fresh.apply("site"))
    all_true_without_changes(fresh.apply("hypervisor", test=True))
    assert snapshot(PREFIX) == converged


def test_test_mode_shows_before_and_after_and_a_live_vcpu_change_keeps_the_guest_running(fresh):
    fresh.apply("hypervisor")
    pid = qemu_pid(WEB1)
    before = snapshot(PREFIX)

    predicted = fresh.apply("hypervisor", test=True, web1_vcpus=2)[WEB1]
    assert snapshot(PREFIX) == before, "test=True changed the host"
    assert predicted["result"] is None
    assert predicted["changes"] == {f"domain.{WEB1}": {
        "action": "update", "disruption": "live",
        "attributes": {"vcpus": {"old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}},
        "steps": [f"write persistent config of domain.{WEB1}", f"hot-plug vCPUs of domain.{WEB1} to 2"]}}
    assert f"~ domain.{WEB1} (update, live)" in predicted["comment"]
    assert "vcpus 1 → 2  (live: hot-plug)" in predicted["comment"]

    applied = fresh.apply("hypervisor", web1_vcpus=2)[WEB1]
    assert applied["result"] is True, applied["comment"]
    assert applied["changes"][f"domain.{WEB1}"]["steps"][-1] == f"hot-plug vCPUs of domain.{WEB1} to 2"
    assert virsh("vcpucount", WEB1, "--live", "--current") == "2"
    assert virsh("vcpucount", WEB1, "--config", "--current") == "2"
    assert qemu_pid(WEB1) == pid, "the guest was restarted"
    all_true_without_changes(fresh.apply("hypervisor", web1_vcpus=2))


def test_a_destructive_change_is_refused_without_allow_destroy(fresh):
    fresh.apply("hypervisor")
    before = snapshot(PREFIX)
    for test in (True, False):
        ret = fresh.apply("hypervisor", test=test, web1_data_capacity="16MiB")[DATA]
        assert ret["result"] is False, ret
        assert ret["changes"] == {}
        assert "capacity 32MiB → 16MiB  (destructive: shrink: data beyond the new end is lost)" in ret["comment"]
        assert "allow_destroy: True" in ret["comment"]
        assert snapshot(PREFIX) == before
    assert os.path.getsize(os.path.join(IMAGES, "web1-data")) == 32 << 20
    # The domain that requires the refused volume is not run at all.
    rets = fresh.apply("hypervisor", web1_data_capacity="16MiB")
    assert rets[WEB1]["result"] is False and "requisite" in rets[WEB1]["comment"].lower()


def test_module_functions_from_the_command_line(fresh):
    fresh.apply("site")
    observed = fresh.run("virtconverge.observe")
    assert observed["domains"][DB1]["vcpus"] == 1
    doc = os.path.join(WORK, "db1.json")
    with open(doc, "w") as f:
        json.dump({"version": 1, "domains": {DB1: {"vcpus": 2, "max_vcpus": 2, "memory": "64MiB",
                                                   "state": "stopped"}}}, f)
    assert fresh.run("virtconverge.validate", doc)["valid"] is True
    plan = fresh.run("virtconverge.plan", doc)
    assert [(a["path"], a["before"], a["after"], a["disruption"]) for a in plan["changes"][0]["attributes"]] \
        == [("vcpus", 1, 2, "none")]
    out = fresh.run("virtconverge.apply", doc)
    assert out["apply"]["ok"] is True
    assert fresh.run("virtconverge.plan", doc)["changes"] == []
    # An engine error comes back as the engine's message, naming the file and the field.
    bad = os.path.join(WORK, "bad.yaml")
    with open(bad, "w") as f:
        f.write(f"version: 1\ndomains:\n  {DB1}:\n    vcpus: 1\n    memroy: 64MiB\n")
    p = fresh.raw("virtconverge.plan", bad)
    assert p.returncode != 0
    assert f"Error running 'virtconverge.plan': {bad}:5:13: domains.{DB1}.memroy: unknown field, did you mean 'memory'?" \
        in p.stdout + p.stderr


def test_a_state_passes_every_field_to_the_engine_and_an_unknown_one_fails_it(fresh):
    """The <kind>_present states keep no list of fields: Salt's state.single hands them over with its
    own keys (__pub_*, __env__, ...) beside them, the state passes the fields on, and the engine's
    schema decides. A field it does not know fails the state with the engine's unknown_field."""
    fresh.apply("hypervisor")
    before = snapshot(PREFIX)
    common = ["virtconverge.domain_present", f"name={WEB1}", "vcpus=1", "memory=128MiB"]
    for test in (True, False):
        out = fresh.run("state.single", *common, "machine_typo=q35", f"test={test}")
        [ret] = out.values()
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[unknown_field]" in ret["comment"], ret["comment"]
        assert f"domains.{WEB1}.machine_typo: unknown field" in ret["comment"], ret["comment"]
        assert "__pub" not in ret["comment"] and "__env__" not in ret["comment"], ret["comment"]
        # The fields it knows, and no key of Salt's, reach the document: nothing to change.
        [ret] = fresh.run("state.single", *common, "max_vcpus=4", "autostart=False", f"test={test}").values()
        assert ret["result"] is True and ret["changes"] == {}, ret
    assert snapshot(PREFIX) == before
