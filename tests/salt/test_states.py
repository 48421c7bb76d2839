"""Every state function on the real libvirtd (qemu:///system), in-process with the real execution
module and engine. Each state runs first with test=True — which must predict the change and leave
the host exactly as it was — then for real, then again in both modes to show there is nothing left
to do. Objects are named vcs-u-* and removed afterwards."""

import os

import pytest

from conftest import (URI, Minion, cleanup, make_work, names, qemu_pid, require_real_libvirtd,
                      snapshot, virsh)

PREFIX = "vcs-u-"
WORK = "/tmp/vcs-u"
POOL_DIR = os.path.join(WORK, "images")


@pytest.fixture(scope="module", autouse=True)
def real_libvirtd():
    require_real_libvirtd()
    cleanup(PREFIX, WORK)
    yield
    cleanup(PREFIX, WORK)


@pytest.fixture
def minion():
    make_work(WORK)
    yield Minion(extra_opts={"virtconverge.connection": URI})
    cleanup(PREFIX, WORK)


def converge(minion, fun, expect, **kwargs):
    """Runs a state in test mode (asserting it changed nothing), then live. expect: "change",
    "none" (already converged) or "refused". Returns (test-mode return, live return)."""
    before = snapshot(PREFIX)
    predicted = minion.state(fun, True, **kwargs)
    assert snapshot(PREFIX) == before, "test=True changed the host"
    applied = minion.state(fun, False, **kwargs)
    if expect == "change":
        assert predicted["result"] is None, predicted
        assert predicted["changes"], predicted
        assert applied["result"] is True, applied["comment"]
        # What test mode predicted is what was applied, attribute by attribute.
        for address, change in predicted["changes"].items():
            assert applied["changes"][address]["attributes"] == change["attributes"]
            assert applied["changes"][address]["disruption"] == change["disruption"]
            # The plan is the program: apply ran exactly the steps test mode showed.
            assert applied["changes"][address]["steps"] == change["steps"], address
        # Now converged: a second run in both modes has nothing to do.
        again = snapshot(PREFIX)
        for test in (True, False):
            ret = minion.state(fun, test, **kwargs)
            assert ret["result"] is True and ret["changes"] == {}, ret
        assert snapshot(PREFIX) == again
    elif expect == "none":
        assert predicted["result"] is True and predicted["changes"] == {}, predicted
        assert applied["result"] is True and applied["changes"] == {}, applied
    elif expect == "refused":
        assert predicted["result"] is False and predicted["changes"] == {}, predicted
        assert applied["result"] is False and applied["changes"] == {}, applied
        assert snapshot(PREFIX) == before, "a refused state changed the host"
    return predicted, applied


def pool(minion):
    converge(minion, "pool_present", "change", name=PREFIX + "images", type="dir", path=POOL_DIR)


def test_pool_present_and_absent(minion):
    name = PREFIX + "images"
    predicted, applied = converge(minion, "pool_present", "change", name=name, type="dir", path=POOL_DIR)
    assert predicted["changes"][f"pool.{name}"]["action"] == "create"
    assert predicted["changes"][f"pool.{name}"]["attributes"]["path"] == {
        "old": None, "new": POOL_DIR, "disruption": "none"}
    assert name in names("pool-list", "--name")
    predicted, _ = converge(minion, "pool_absent", "change", name=name)
    assert predicted["changes"][f"pool.{name}"]["action"] == "delete"
    assert name not in names("pool-list", "--all", "--name")
    converge(minion, "pool_absent", "none", name=name)


def test_network_present_and_absent(minion):
    name = PREFIX + "net"
    converge(minion, "network_present", "change", name=name, mode="isolated", autostart=False)
    assert name in names("net-list", "--name")
    assert "<forward" not in virsh("net-dumpxml", name)
    converge(minion, "network_present", "change", name=name, mode="isolated", autostart=True)
    assert virsh("net-info", name).count("Autostart:      yes") == 1
    converge(minion, "network_absent", "change", name=name)
    assert name not in names("net-list", "--all", "--name")


def test_volume_grows_live_and_shrinking_or_deleting_needs_allow_destroy(minion):
    pool(minion)
    vol = PREFIX + "images/data"
    predicted, _ = converge(minion, "volume_present", "change", name=vol, capacity="16MiB", format="raw")
    assert predicted["changes"][f"volume.{vol}"]["attributes"]["capacity"]["new"] == "16MiB"
    predicted, _ = converge(minion, "volume_present", "change", name="data", pool=PREFIX + "images",
                            capacity="32MiB")
    assert predicted["changes"][f"volume.{vol}"]["attributes"]["capacity"] == {
        "old": "16MiB", "new": "32MiB", "disruption": "live", "reason": "grow"}
    # Shrinking loses data: refused in both modes without allow_destroy, and says how to permit it.
    predicted, applied = converge(minion, "volume_present", "refused", name=vol, capacity="8MiB")
    assert "allow_destroy: True" in applied["comment"]
    assert "capacity 32MiB → 8MiB  (destructive: shrink" in predicted["comment"]
    assert os.path.getsize(os.path.join(POOL_DIR, "data")) == 32 << 20
    # Replacing (raw → qcow2 deletes and recreates the volume) is destructive too; allowed, it runs.
    predicted, _ = converge(minion, "volume_present", "refused", name=vol, capacity="32MiB",
                            format="qcow2")
    assert "format raw → qcow2  (destructive: the volume is deleted" in predicted["comment"]
    predicted, _ = converge(minion, "volume_present", "change", name=vol, capacity="32MiB",
                            format="qcow2", allow_destroy=True)
    assert predicted["changes"][f"volume.{vol}"]["action"] == "replace"
    assert "qcow2" in virsh("vol-dumpxml", "data", "--pool", PREFIX + "images")
    converge(minion, "volume_absent", "refused", name=vol)
    assert os.path.exists(os.path.join(POOL_DIR, "data"))
    converge(minion, "volume_absent", "change", name=vol, allow_destroy=True)
    assert not os.path.exists(os.path.join(POOL_DIR, "data"))


def test_volume_shrink_is_applied_with_allow_destroy(minion):
    pool(minion)
    vol = PREFIX + "images/shrink"
    converge(minion, "volume_present", "change", name=vol, capacity="32MiB", format="raw")
    converge(minion, "volume_present", "change", name=vol, capacity="8MiB", allow_destroy=True)
    assert os.path.getsize(os.path.join(POOL_DIR, "shrink")) == 8 << 20


def test_domain_present_creates_starts_hotplugs_and_absent_removes(minion):
    dom = PREFIX + "web1"
    common = dict(name=dom, max_vcpus=4, memory="64MiB", autostart=False)
    predicted, _ = converge(minion, "domain_present", "change", vcpus=1, domain_state="stopped", **common)
    assert predicted["changes"][f"domain.{dom}"]["attributes"]["state"]["new"] == "stopped"
    assert dom in names("list", "--all", "--name") and dom not in names("list", "--name")
    # Starting is live.
    predicted, _ = converge(minion, "domain_present", "change", vcpus=1, domain_state="running", **common)
    assert predicted["changes"][f"domain.{dom}"]["attributes"]["state"] == {
        "old": "stopped", "new": "running", "disruption": "live", "reason": "start"}
    pid = qemu_pid(dom)
    # A vCPU raise within max_vcpus is hot-plugged into the running guest: same QEMU process.
    predicted, applied = converge(minion, "domain_present", "change", vcpus=2, domain_state="running",
                                  **common)
    assert predicted["changes"][f"domain.{dom}"]["attributes"]["vcpus"]["disruption"] == "live"
    assert any("hot-plug" in s for s in applied["changes"][f"domain.{dom}"]["steps"])
    assert virsh("vcpucount", dom, "--live", "--current") == "2"
    assert qemu_pid(dom) == pid
    # Raising max_vcpus needs a restart: written to the config, reported pending, guest untouched.
    _, applied = converge(minion, "domain_present", "change", vcpus=2, domain_state="running",
                          **dict(common, max_vcpus=6))
    assert applied["changes"][f"domain.{dom}"]["disruption"] == "restart"
    assert applied["changes"][f"domain.{dom}"]["pending"] == {
        "max_vcpus": {"running": 4, "next_boot": 6}}
    assert qemu_pid(dom) == pid
    # ... and allow_restart restarts the guest now.
    ret = minion.state("domain_present", False, vcpus=2, domain_state="running", allow_restart=True,
                       shutdown_timeout=1, **dict(common, max_vcpus=6))
    assert ret["result"] is True, ret["comment"]
    assert virsh("vcpucount", dom, "--live", "--maximum") == "6"
    assert qemu_pid(dom) != pid
    converge(minion, "domain_absent", "change", name=dom, shutdown_timeout=1)
    assert dom not in names("list", "--all", "--name")
    converge(minion, "domain_absent", "none", name=dom)


def test_a_partial_domain_present_changes_only_its_field_and_cannot_create(minion):
    """Partial declarations (issue #15 point 4): a state of an existing domain with only vcpus
    changes the vCPUs and nothing else of it (memory, max_vcpus, autostart, its running guest); the
    same state for a domain that does not exist is refused with the engine's missing_field
    ("creating needs memory") in both modes, and nothing is defined."""
    dom = PREFIX + "part"
    converge(minion, "domain_present", "change", name=dom, vcpus=1, max_vcpus=4, memory="64MiB",
             autostart=False, domain_state="running")
    pid = qemu_pid(dom)
    dominfo = {k: v for k, v in (line.split(":", 1) for line in virsh("dominfo", dom).splitlines())}
    predicted, applied = converge(minion, "domain_present", "change", name=dom, vcpus=2)
    assert predicted["changes"] == {f"domain.{dom}": {
        "action": "update", "disruption": "live",
        "attributes": {"vcpus": {"old": 1, "new": 2, "disruption": "live", "reason": "hot-plug"}},
        "steps": [f"write persistent config of domain.{dom}", f"hot-plug vCPUs of domain.{dom} to 2"]}}
    assert virsh("vcpucount", dom, "--live", "--current") == "2"
    assert virsh("vcpucount", dom, "--config", "--current") == "2"
    assert virsh("vcpucount", dom, "--config", "--maximum") == "4"
    assert qemu_pid(dom) == pid, "the guest was restarted"
    after = {k: v for k, v in (line.split(":", 1) for line in virsh("dominfo", dom).splitlines())}
    for key in ("Max memory", "Used memory", "Autostart", "State", "Id"):
        assert after[key] == dominfo[key], key

    ghost = PREFIX + "ghost"
    predicted, applied = converge(minion, "domain_present", "refused", name=ghost, vcpus=2)
    for ret in (predicted, applied):
        assert f"Error: domains.{ghost}: creating needs memory" in ret["comment"], ret["comment"]
    assert f"[missing_field] domains.{ghost}: creating needs memory" in applied["comment"]
    assert ghost not in names("list", "--all", "--name")


def test_converged_takes_a_whole_document_in_one_call(minion):
    doc = {
        "version": 1,
        "pools": {PREFIX + "images": {"type": "dir", "path": POOL_DIR}},
        "networks": {PREFIX + "net": {"mode": "isolated"}},
        "volumes": {PREFIX + "images/root": {"capacity": "32MiB"}},
        "domains": {PREFIX + "db1": {
            "vcpus": 1, "max_vcpus": 2, "memory": "64MiB", "state": "stopped",
            "disks": [{"volume": PREFIX + "images/root", "target": "vda"}],
            "interfaces": [{"network": PREFIX + "net", "mac": "52:54:00:aa:00:01"}]}},
    }
    predicted, applied = converge(minion, "converged", "change", name="site", document=doc)
    assert sorted(predicted["changes"]) == [f"domain.{PREFIX}db1", f"network.{PREFIX}net",
                                            f"pool.{PREFIX}images", f"volume.{PREFIX}images/root"]
    assert "Plan: 4 to create" in predicted["comment"]
    assert "52:54:00:aa:00:01" in virsh("domiflist", PREFIX + "db1")
    doc["domains"][PREFIX + "db1"]["memory"] = "96MiB"
    predicted, _ = converge(minion, "converged", "change", name="site", document=doc)
    assert list(predicted["changes"]) == [f"domain.{PREFIX}db1"]
    memory = predicted["changes"][f"domain.{PREFIX}db1"]["attributes"]["memory"]
    assert (memory["old"], memory["new"], memory["disruption"]) == ("64MiB", "96MiB", "none")
    # A document naming a field that does not exist fails in both modes with the engine's words.
    doc["domains"][PREFIX + "db1"]["memroy"] = "1GiB"
    for test in (True, False):
        ret = minion.state("converged", test, name="site", document=doc)
        assert ret["result"] is False
        assert "memroy: unknown field, did you mean 'memory'?" in ret["comment"]


def test_a_document_file_works_like_a_dict(minion):
    path = os.path.join(WORK, "site.yaml")
    with open(path, "w") as f:
        f.write(f"version: 1\nnetworks:\n  {PREFIX}filenet:\n    mode: isolated\n    autostart: false\n")
    converge(minion, "converged", "change", name=path, document=path)
    assert PREFIX + "filenet" in names("net-list", "--name")
