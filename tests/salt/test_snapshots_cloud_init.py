"""A domain's ``cloud_init`` and ``snapshots`` through the Salt states on the real libvirtd
(qemu:///system; issue #14 point 4). A dir pool, a qcow2 volume and a running guest with no OS,
given a NoCloud seed (a password in its user-data) and a snapshot; a second snapshot is taken live
(the same QEMU process); dropping the first is refused without ``allow_destroy`` and merged with
it; a changed user-data is predicted in test mode, in process and by ``salt-call --local`` with a
small state file. Every state runs in test mode first (the host unchanged), then live; every check
reads the host (virsh, the pool directory, ``virtconverge observe``), and the password is looked
for in every return (comment and changes) and in salt-call's output and log.

The objects are vcs-sn-* (the pool, its volume, the domain, the seed and overlay volumes the
engine makes), the files under /tmp/vcs-sn; all removed by name before and after."""

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import (BINARY, SALT_BIN, URI, Minion, qemu_pid, require_real_libvirtd, snapshot,
                      virsh)

PREFIX = "vcs-sn-"
WORK = "/tmp/vcs-sn"
IMAGES = os.path.join(WORK, "images")
POOL = PREFIX + "pool"
VOLUME = PREFIX + "root"
DOMAIN = PREFIX + "web1"
SEED = f"{DOMAIN}-cidata.iso"
PASSWORD = "S3cret-not-shown"
NEW_PASSWORD = "Fresh-pw-not-shown-2"
SECRETS = (PASSWORD, NEW_PASSWORD)


def cloud_init(password=PASSWORD, hostname="sn1"):
    return {"pool": POOL,
            "user_data": {"hostname": hostname, "users": [{"name": "ops", "passwd": password}]},
            "meta_data": {"instance_id": "i-1", "local_hostname": "sn1"}}


def domain(snapshots, **more):
    """domain_present's arguments: the running no-OS guest on the volume, seeded, with snapshots."""
    return dict({"name": DOMAIN, "vcpus": 1, "memory": "128MiB", "domain_state": "running",
                 "disks": [{"volume": f"{POOL}/{VOLUME}", "target": "vda"}],
                 "cloud_init": cloud_init(), "snapshots": snapshots}, **more)


def overlay(name):
    return os.path.join(IMAGES, f"{VOLUME}@{name}")


def cleanup():
    """Removes by name what this file makes: the domain, the volumes the engine made in the pool
    (the disk, the seed, the snapshot overlays), the pool, and /tmp/vcs-sn."""
    if virsh("dominfo", DOMAIN, check=False):
        virsh("destroy", DOMAIN, check=False)
        virsh("undefine", DOMAIN)
    if virsh("pool-info", POOL, check=False):
        virsh("pool-start", POOL, check=False)
        virsh("pool-refresh", POOL, check=False)
        for volume in (VOLUME, SEED, f"{VOLUME}@before", f"{VOLUME}@after"):
            virsh("vol-delete", volume, "--pool", POOL, check=False)
        virsh("pool-destroy", POOL, check=False)
        virsh("pool-undefine", POOL)
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def real_libvirtd():
    """The tests of this file build on each other: one guest, changed step by step."""
    require_real_libvirtd()
    cleanup()
    os.makedirs(WORK)
    os.chmod(WORK, 0o755)  # QEMU (libvirt-qemu) reaches the pool directory through it
    yield
    cleanup()


@pytest.fixture(scope="module")
def minion():
    return Minion(extra_opts={"virtconverge.connection": URI})


def host():
    """What a state could change: the engine's observation and libvirt's lists and XML of our
    objects (conftest.snapshot), the pool directory's files with their sizes, the seed's bytes
    and the guest's QEMU process."""
    state = snapshot(PREFIX)
    files = sorted(os.listdir(IMAGES)) if os.path.isdir(IMAGES) else []
    state["files"] = {f: os.path.getsize(os.path.join(IMAGES, f)) for f in files}
    state["seed"] = None
    if os.path.exists(os.path.join(IMAGES, SEED)):
        with open(os.path.join(IMAGES, SEED), "rb") as f:
            state["seed"] = f.read()
    state["live_xml"] = virsh("dumpxml", DOMAIN, check=False) if DOMAIN in state["running"] else None
    state["pid"] = qemu_pid(DOMAIN) if DOMAIN in state["running"] else None
    return state


def no_secret(ret):
    text = json.dumps(ret)
    for secret in SECRETS:
        assert secret not in text, f"{secret} in the return: {ret}"
    return ret


def converge(minion, fun, expect, **kwargs):
    """The state in test mode (the host unchanged), then live; expect: "change", "none" or
    "refused". No return holds a password. Returns (test-mode return, live return)."""
    before = host()
    predicted = no_secret(minion.state(fun, True, **kwargs))
    assert host() == before, "test=True changed the host"
    applied = no_secret(minion.state(fun, False, **kwargs))
    if expect == "change":
        assert predicted["result"] is None and predicted["changes"], predicted
        assert applied["result"] is True, applied["comment"]
        for address, change in predicted["changes"].items():
            assert applied["changes"][address]["attributes"] == change["attributes"], address
            assert applied["changes"][address]["steps"] == change["steps"], address
    elif expect == "none":
        assert predicted["result"] is True and predicted["changes"] == {}, predicted
        assert applied["result"] is True and applied["changes"] == {}, applied
        assert host() == before, "a state with nothing to do changed the host"
    else:
        assert predicted["result"] is False and predicted["changes"] == {}, predicted
        assert applied["result"] is False and applied["changes"] == {}, applied
        assert host() == before, "a refused state changed the host"
    return predicted, applied


def live_xml():
    return ET.fromstring(virsh("dumpxml", DOMAIN))


def vda_source():
    disk = live_xml().find("./devices/disk[@device='disk']/target[@dev='vda']/..")
    return disk.find("source").get("file")


def cdrom_sources():
    return [(s.get("pool"), s.get("volume"))
            for s in live_xml().findall("./devices/disk[@device='cdrom']/source")]


def backing_file(path):
    p = subprocess.run(["qemu-img", "info", "-U", "--output", "json", path], capture_output=True,
                       text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout).get("backing-filename")


def observed():
    """The domain as ``virtconverge observe --format json`` reports it."""
    p = subprocess.run([BINARY, "observe", "--format", "json", "--connection", URI],
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["domains"][DOMAIN]


def test_creates_the_pool_the_volume_and_the_running_domain_with_its_seed_and_first_snapshot(minion):
    converge(minion, "pool_present", "change", name=POOL, type="dir", path=IMAGES)
    converge(minion, "volume_present", "change", name=f"{POOL}/{VOLUME}", format="qcow2",
             capacity="64MiB")
    predicted, applied = converge(minion, "domain_present", "change", **domain(["before"]))
    change = applied["changes"][f"domain.{DOMAIN}"]
    assert change["action"] == "create"
    assert change["attributes"]["snapshots"] == {"old": None, "new": ["before"], "disruption": "none"}
    assert change["attributes"]["cloud_init"]["new"]["user_data"] == (
        "#cloud-config\nhostname: sn1\nusers:\n  - name: ops\n    passwd: (redacted)\n")
    seed_step = f"write the cloud-init seed of domain.{DOMAIN} to volume {POOL}/{SEED} (sha256:"
    assert change["steps"][0].startswith(seed_step), change["steps"]
    assert change["steps"][1:] == [f"create domain.{DOMAIN}", f"start domain.{DOMAIN}",
                                   f"snapshot before of domain.{DOMAIN} (guest paused while it is taken)"]
    assert "user_data: <text, 5 lines>}" in predicted["comment"]

    assert virsh("domstate", DOMAIN) == "running"
    # The seed: a CD-ROM on the seed volume of the pool, which holds the user-data with the
    # password (so that its absence from every return means something).
    assert cdrom_sources() == [(POOL, SEED)]
    with open(os.path.join(IMAGES, SEED), "rb") as f:
        seed = f.read()
    assert PASSWORD.encode() in seed and b"hostname: sn1" in seed
    # The snapshot: an external overlay in the pool the guest now writes to, over the volume.
    assert os.path.isfile(overlay("before")), os.listdir(IMAGES)
    assert vda_source() == overlay("before")
    assert backing_file(overlay("before")) == os.path.join(IMAGES, VOLUME)
    seen = observed()
    assert seen["snapshots"] == ["before"]
    assert seen["cloud_init"]["pool"] == POOL
    assert seen["cloud_init"]["meta_data"] == {"instance_id": "i-1", "local_hostname": "sn1"}
    assert PASSWORD not in json.dumps(seen)
    # A second run of each state has nothing to do, in both modes.
    for fun, kwargs in (("pool_present", dict(name=POOL, type="dir", path=IMAGES)),
                        ("volume_present", dict(name=f"{POOL}/{VOLUME}", format="qcow2",
                                                capacity="64MiB")),
                        ("domain_present", domain(["before"]))):
        converge(minion, fun, "none", **kwargs)


def test_takes_a_second_snapshot_live_in_the_same_qemu_process(minion):
    pid, domid = qemu_pid(DOMAIN), virsh("domid", DOMAIN)
    predicted, _ = converge(minion, "domain_present", "change", **domain(["before", "after"]))
    change = predicted["changes"][f"domain.{DOMAIN}"]
    assert (change["action"], change["disruption"]) == ("update", "live")
    assert list(change["attributes"]) == ["snapshots"]  # the seed is left as it is
    snapshots = change["attributes"]["snapshots"]
    assert (snapshots["old"], snapshots["new"], snapshots["disruption"]) == (
        ["before"], ["after", "before"], "live")
    assert snapshots["reason"].startswith("taken live; no guest agent answers, so the guest is paused")
    assert change["steps"] == [f"snapshot after of domain.{DOMAIN} (guest paused while it is taken)"]
    assert (qemu_pid(DOMAIN), virsh("domid", DOMAIN)) == (pid, domid), "the guest was restarted"
    assert virsh("domstate", DOMAIN) == "running"  # not left paused
    assert os.path.isfile(overlay("after")) and os.path.isfile(overlay("before"))
    assert vda_source() == overlay("after")
    assert backing_file(overlay("after")) == overlay("before")
    assert sorted(observed()["snapshots"]) == ["after", "before"]
    converge(minion, "domain_present", "none", **domain(["before", "after"]))


def test_deleting_a_snapshot_is_refused_without_allow_destroy_and_merged_with_it(minion):
    pid, domid = qemu_pid(DOMAIN), virsh("domid", DOMAIN)
    predicted, applied = converge(minion, "domain_present", "refused", **domain(["after"]))
    assert predicted["comment"].startswith(
        "The plan would be refused; nothing would be changed (set allow_destroy: True to permit it).\n")
    assert applied["comment"].startswith(
        "virtconverge refused the plan; nothing was changed (set allow_destroy: True to permit it).\n"
        f"[needs_allow_destroy] domain.{DOMAIN}: destructive change refused without --allow-destroy: "
        "snapshots: snapshot(s) before deleted"), applied["comment"]
    assert os.path.isfile(overlay("before")) and os.path.isfile(overlay("after"))
    assert sorted(observed()["snapshots"]) == ["after", "before"]

    predicted, _ = converge(minion, "domain_present", "change", allow_destroy=True, **domain(["after"]))
    change = predicted["changes"][f"domain.{DOMAIN}"]
    assert change["disruption"] == "destructive" and list(change["attributes"]) == ["snapshots"]
    assert change["steps"] == [f"delete snapshot before of domain.{DOMAIN} (merged into the disks)"]
    assert (qemu_pid(DOMAIN), virsh("domid", DOMAIN)) == (pid, domid), "the guest was restarted"
    assert virsh("domstate", DOMAIN) == "running"
    assert not os.path.exists(overlay("before")), os.listdir(IMAGES)
    assert vda_source() == overlay("after")
    assert backing_file(overlay("after")) == os.path.join(IMAGES, VOLUME)
    assert observed()["snapshots"] == ["after"]
    converge(minion, "domain_present", "none", **domain(["after"]))


CHANGED_USER_DATA = {
    "old": "#cloud-config\nhostname: sn1\nusers:\n  - name: ops\n    passwd: (redacted)\n",
    "new": "#cloud-config\nhostname: sn2\nusers:\n  - name: ops\n    passwd: (redacted)\n",
    "disruption": "restart",
    "reason": "cloud-init reads its seed at boot; diff:\n-hostname: sn1\n+hostname: sn2\n"
              "-    passwd: (redacted)\n+    passwd: (redacted)"}


def check_changed_user_data(change):
    """A changed user-data (hostname and password): written to the seed and the persistent
    config, taken at the next boot (no restart without allow_restart); the passwords redacted."""
    assert (change["action"], change["disruption"]) == ("update", "restart")
    assert change["attributes"] == {"cloud_init.user_data": CHANGED_USER_DATA}
    assert change["steps"][0].startswith(
        f"write the cloud-init seed of domain.{DOMAIN} to volume {POOL}/{SEED} (sha256:")
    assert change["steps"][1:] == [f"write persistent config of domain.{DOMAIN}"]


def test_a_changed_user_data_in_test_mode_needs_a_restart_and_is_redacted(minion):
    before = host()
    ret = no_secret(minion.state("domain_present", True, **domain(
        ["after"], cloud_init=cloud_init(NEW_PASSWORD, "sn2"))))
    assert host() == before, "test=True changed the host"
    assert ret["result"] is None, ret
    check_changed_user_data(ret["changes"][f"domain.{DOMAIN}"])
    assert ("cloud_init.user_data <text, 5 lines> → <text, 5 lines>  (needs restart: cloud-init "
            "reads its seed at boot)\n") in ret["comment"]
    assert "        -    passwd: (redacted)\n        +    passwd: (redacted)\n" in ret["comment"]


def test_salt_call_with_a_state_file_predicts_the_changed_user_data_redacted():
    """salt-call --local, test=True, with a state file of the three states in a temporary file
    root (the modules from the installed extension): the pool and the volume have nothing to do,
    the domain's changed user-data is predicted as in process; no password in salt-call's output,
    errors or log, and the host unchanged."""
    root = os.path.join(WORK, "salt")
    states = os.path.join(root, "states")
    os.makedirs(states)
    os.makedirs(os.path.join(root, "pillar"))
    with open(os.path.join(root, "minion"), "w") as f:
        f.write(yaml.safe_dump({
            "id": PREFIX + "local", "root_dir": os.path.join(root, "root"), "file_client": "local",
            "file_roots": {"base": [states]}, "pillar_roots": {"base": [os.path.join(root, "pillar")]},
            "log_level_logfile": "info", "virtconverge.binary": BINARY,
            "virtconverge.connection": URI}))
    sls = {
        POOL: {"virtconverge.pool_present": [{"type": "dir"}, {"path": IMAGES}]},
        f"{POOL}/{VOLUME}": {"virtconverge.volume_present": [
            {"format": "qcow2"}, {"capacity": "64MiB"}, {"require": [{"virtconverge": POOL}]}]},
        DOMAIN: {"virtconverge.domain_present": [
            {k: v} for k, v in domain(["after"], cloud_init=cloud_init(NEW_PASSWORD, "sn2")).items()
            if k != "name"] + [{"require": [{"virtconverge": f"{POOL}/{VOLUME}"}]}]},
    }
    with open(os.path.join(states, "sn.sls"), "w") as f:
        f.write(yaml.safe_dump(sls, sort_keys=False))

    before = host()
    p = subprocess.run([os.path.join(SALT_BIN, "salt-call"), "--local", "-c", root, "--out", "json",
                        "--log-level", "warning", "state.apply", "sn", "test=True"],
                       capture_output=True, text=True, timeout=300, check=False,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert host() == before, "salt-call test=True changed the host"
    with open(os.path.join(root, "root", "var", "log", "salt", "minion")) as f:
        log = f.read()
    for secret in SECRETS:
        for where, text in (("output", p.stdout), ("errors", p.stderr), ("log", log)):
            assert secret not in text, f"{secret} in salt-call's {where}"
    try:
        rets = {ret["__id__"]: ret for ret in json.loads(p.stdout)["local"].values()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AssertionError(f"salt-call printed no state returns (exit {p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}") from None
    assert sorted(rets) == sorted([POOL, f"{POOL}/{VOLUME}", DOMAIN])
    for sid in (POOL, f"{POOL}/{VOLUME}"):
        assert rets[sid]["result"] is True and rets[sid]["changes"] == {}, rets[sid]
    ret = rets[DOMAIN]
    assert ret["result"] is None, ret
    check_changed_user_data(ret["changes"][f"domain.{DOMAIN}"])
    assert "(needs restart: cloud-init reads its seed at boot)" in ret["comment"]
