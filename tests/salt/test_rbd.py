"""Ceph RBD through Salt, on the real single-node Ceph cluster (scripts/ceph-up.sh, pool `rbd`) and
the real libvirtd (qemu:///system): rbd_image_present / rbd_image_absent, domain_present with an RBD
disk, converged with a ceph: section, an rbd pool, observe, and one `salt-call --local` run of
salt/examples/states/ceph.sls.

Every state runs first with test=True, which must predict the change and leave Ceph and libvirt
exactly as they were (checked with `rbd ls` / `rbd info` / `rbd snap ls` / `rbd image-meta` through
`rbd -c CONF`, and the engine's and virsh's view of libvirt), then for real, then again in both
modes with nothing left to do. Most states run as the least-privilege client.virtconverge; one
document names client.admin. Neither client's cephx key may appear in any return, comment or log.

Images are rbd/vcs-r-* and rbd/vcs-ex-*, domains and pools vcs-r-* and vcs-ex-web2; all are removed
afterwards (domains first, clones before their parents)."""

import json
import logging
import os

import pytest

from conftest import (CEPH_CONF, CEPH_LP_CONF, CEPH_POOL, URI, Minion, cephx_key, cleanup,
                      cleanup_rbd, make_work, names, qemu_pid, rbd, rbd_info, rbd_snapshot,
                      require_ceph, require_real_libvirtd, snapshot, virsh)
from test_salt_call import SaltCall

PREFIX = "vcs-r-"
LP_USER = "virtconverge"
GOLDEN, CLONE, DATA = (f"{CEPH_POOL}/{PREFIX}{n}" for n in ("golden", "clone", "data"))
FEATURES = ["layering", "exclusive-lock", "object-map", "fast-diff"]
KEYS = {}


@pytest.fixture(scope="module", autouse=True)
def real_cluster():
    require_real_libvirtd()
    require_ceph()
    KEYS.update(admin=cephx_key("admin"), virtconverge=cephx_key(LP_USER))
    cleanup(PREFIX)
    cleanup_rbd(PREFIX)
    yield
    cleanup(PREFIX)  # domains first: QEMU holds their images open
    cleanup_rbd(PREFIX)


class KeyCheckingMinion(Minion):
    """The minion, configured for the least-privilege client, keeping every state's return."""

    def __init__(self):
        super().__init__(extra_opts={"virtconverge.connection": URI,
                                     "virtconverge.ceph_conf": CEPH_LP_CONF,
                                     "virtconverge.ceph_user": LP_USER})
        self.returns = []

    def state(self, fun, test, **kwargs):
        ret = super().state(fun, test, **kwargs)
        self.returns.append(ret)
        return ret


def assert_no_key(*texts):
    for text in texts:
        for user, key in KEYS.items():
            assert key not in text, f"client.{user}'s cephx key was printed"
            assert key[:16] not in text, f"part of client.{user}'s cephx key was printed"


@pytest.fixture
def minion(caplog):
    caplog.set_level(logging.DEBUG)
    m = KeyCheckingMinion()
    yield m
    cleanup(PREFIX)
    cleanup_rbd(PREFIX)
    # Returns, comments, changes, the log records of the test: no key anywhere.
    log = "\n".join(caplog.handler.format(r) for r in caplog.get_records("call"))
    assert m.returns, "the test ran no state"
    assert_no_key(json.dumps(m.returns, default=str), log)
    assert "virtconverge: running" in log, "the module's debug log was not captured"


def secrets():
    """libvirt secrets of the clients the tests use (the engine makes them; they are shared with
    anybody using the same client, so the tests never remove them, only check test mode adds none)."""
    return sorted(line for line in virsh("secret-list").splitlines()
                  if "client.admin virtconverge" in line or f"client.{LP_USER} virtconverge" in line)


def host():
    return {"libvirt": snapshot(PREFIX), "ceph": rbd_snapshot(PREFIX), "secrets": secrets()}


def converge(minion, fun, expect, **kwargs):
    """Runs a state in test mode (asserting it changed nothing in Ceph or libvirt), then live.
    expect: "change", "none" (already converged) or "refused". Returns (test-mode return, live
    return)."""
    before = host()
    predicted = minion.state(fun, True, **kwargs)
    assert host() == before, "test=True changed the host"
    applied = minion.state(fun, False, **kwargs)
    if expect == "change":
        assert predicted["result"] is None, predicted
        assert predicted["changes"], predicted
        assert applied["result"] is True, applied["comment"]
        for address, change in predicted["changes"].items():
            assert applied["changes"][address]["attributes"] == change["attributes"]
            assert applied["changes"][address]["disruption"] == change["disruption"]
        again = host()
        for test in (True, False):
            ret = minion.state(fun, test, **kwargs)
            assert ret["result"] is True and ret["changes"] == {}, ret
            assert "nothing to do" in ret["comment"]
        assert host() == again
    elif expect == "none":
        assert predicted["result"] is True and predicted["changes"] == {}, predicted
        assert applied["result"] is True and applied["changes"] == {}, applied
    elif expect == "refused":
        assert predicted["result"] is False and predicted["changes"] == {}, predicted
        assert applied["result"] is False and applied["changes"] == {}, applied
        assert host() == before, "a refused state changed the host"
    return predicted, applied


def golden(minion, size="64MiB"):
    return converge(minion, "rbd_image_present", "change", name=GOLDEN, size=size,
                    features=FEATURES, snapshots=["base"])


def test_create_with_features_and_a_snapshot(minion):
    predicted, applied = golden(minion)
    assert predicted["changes"] == {f"rbd_image.{GOLDEN}": {
        "action": "create", "disruption": "none", "attributes": {
            "features": {"old": None, "new": sorted(FEATURES), "disruption": "none"},
            "size": {"old": None, "new": "64MiB", "disruption": "none"},
            "snapshots": {"old": None, "new": ["base"], "disruption": "none"}},
        "steps": [f"create rbd_image.{GOLDEN}", f'create snapshots ["base"] of rbd_image.{GOLDEN}']}}
    assert f"+ rbd_image.{GOLDEN} (create, no disruption)" in predicted["comment"]
    assert f'    → create snapshots ["base"] of rbd_image.{GOLDEN}' in predicted["comment"]
    # What ran is what test mode showed.
    assert applied["changes"][f"rbd_image.{GOLDEN}"]["steps"] == predicted["changes"][
        f"rbd_image.{GOLDEN}"]["steps"]
    info = rbd_info(GOLDEN)
    assert info["size"] == 64 << 20
    assert sorted(info["features"]) == sorted(FEATURES)
    assert [s["name"] for s in json.loads(rbd("snap", "ls", "--format", "json", GOLDEN))] == ["base"]
    assert rbd("image-meta", "get", GOLDEN, "virtconverge.managed").strip() == "true"

    # Features are changed live, in dependency order; a new snapshot is added, the old one kept.
    predicted, _ = converge(minion, "rbd_image_present", "change", name=GOLDEN, size="64MiB",
                            features=["layering", "exclusive-lock"], snapshots=["base", "before-upgrade"])
    attributes = predicted["changes"][f"rbd_image.{GOLDEN}"]["attributes"]
    assert attributes["features"]["old"] == sorted(FEATURES)
    assert attributes["features"]["new"] == ["exclusive-lock", "layering"]
    assert attributes["features"]["disruption"] == "live"
    assert attributes["snapshots"] == {"old": ["base"], "new": ["base", "before-upgrade"],
                                       "disruption": "none", "reason": "snapshots created"}
    assert sorted(rbd_info(GOLDEN)["features"]) == ["exclusive-lock", "layering"]
    assert sorted(s["name"] for s in json.loads(rbd("snap", "ls", "--format", "json", GOLDEN))) == [
        "base", "before-upgrade"]
    # name without the pool, with pool=: the same image, nothing to do.
    converge(minion, "rbd_image_present", "none", name=PREFIX + "golden", pool=CEPH_POOL,
             size="64MiB", snapshots=["base"])


def test_clone_grow_live_and_flatten(minion):
    golden(minion)
    # The clone's state alone: its parent is on the host, not in its document.
    predicted, _ = converge(minion, "rbd_image_present", "change", name=CLONE,
                            clone_from=GOLDEN + "@base", size="96MiB")
    assert predicted["changes"][f"rbd_image.{CLONE}"]["attributes"]["clone_from"] == {
        "old": None, "new": GOLDEN + "@base", "disruption": "none"}
    info = rbd_info(CLONE)
    assert (info["parent"]["pool"], info["parent"]["image"], info["parent"]["snapshot"]) == (
        CEPH_POOL, PREFIX + "golden", "base")
    assert info["size"] == 96 << 20, "grown after cloning"
    assert rbd_info(GOLDEN + "@base")["protected"] == "true", "a snapshot clones use is protected"

    # Growing is live.
    predicted, applied = converge(minion, "rbd_image_present", "change", name=CLONE,
                                  clone_from=GOLDEN + "@base", size="128MiB")
    assert predicted["changes"][f"rbd_image.{CLONE}"] == {
        "action": "update", "disruption": "live",
        "attributes": {"size": {"old": "96MiB", "new": "128MiB", "disruption": "live", "reason": "grow"}},
        "steps": [f"grow rbd_image.{CLONE} to 128MiB"]}
    assert "size 96MiB → 128MiB  (live: grow)" in predicted["comment"]
    assert rbd_info(CLONE)["size"] == 128 << 20

    # Flattening copies the parent's data in and drops the link, live.
    predicted, _ = converge(minion, "rbd_image_present", "change", name=CLONE,
                            clone_from=GOLDEN + "@base", size="128MiB", flatten=True)
    flatten = predicted["changes"][f"rbd_image.{CLONE}"]["attributes"]["flatten"]
    assert (flatten["old"], flatten["new"], flatten["disruption"]) == (False, True, "live")
    assert "parent" not in rbd_info(CLONE)


def test_a_clone_waits_in_test_mode_for_a_parent_an_earlier_state_creates(minion):
    before = host()
    ret = minion.state("rbd_image_present", True, name=CLONE, clone_from=GOLDEN + "@base")
    assert host() == before
    assert ret["result"] is None and list(ret["changes"]) == [f"rbd_image.{CLONE}"]
    assert f"once rbd_image.{GOLDEN} exist(s) (an earlier state may create it)" in ret["comment"]
    assert f"rbd_images.{CLONE}.clone_from: rbd_image {GOLDEN} is neither " \
           "declared nor present on the host" in ret["comment"]
    # For real, without the parent, it fails and creates nothing.
    ret = minion.state("rbd_image_present", False, name=CLONE, clone_from=GOLDEN + "@base")
    assert ret["result"] is False and ret["changes"] == {}
    assert host() == before


def test_shrinking_needs_allow_destroy(minion):
    converge(minion, "rbd_image_present", "change", name=DATA, size="64MiB")
    predicted, applied = converge(minion, "rbd_image_present", "refused", name=DATA, size="32MiB")
    assert "size 64MiB → 32MiB  (destructive: shrink" in predicted["comment"]
    assert "The plan would be refused" in predicted["comment"]
    assert "refused the plan; nothing was changed (set allow_destroy: True to permit it)" in applied["comment"]
    assert rbd_info(DATA)["size"] == 64 << 20
    predicted, _ = converge(minion, "rbd_image_present", "change", name=DATA, size="32MiB",
                            allow_destroy=True)
    assert predicted["changes"][f"rbd_image.{DATA}"]["attributes"]["size"]["disruption"] == "destructive"
    assert rbd_info(DATA)["size"] == 32 << 20


def test_absent_needs_allow_destroy_and_removes_clones_before_parents(minion):
    golden(minion)
    converge(minion, "rbd_image_present", "change", name=CLONE, clone_from=GOLDEN + "@base")
    converge(minion, "rbd_image_absent", "refused", name=GOLDEN)
    converge(minion, "rbd_image_absent", "refused", name=CLONE)
    # The parent first: the engine's plan refuses while a clone depends on it (in test mode too),
    # and changes nothing.
    before = host()
    predicted = minion.state("rbd_image_absent", True, name=GOLDEN, allow_destroy=True)
    assert f"rbd_image.{GOLDEN}: cannot delete: the clone {CLONE} depends on it" in predicted["comment"], predicted
    ret = minion.state("rbd_image_absent", False, name=GOLDEN, allow_destroy=True)
    assert ret["result"] is False and ret["changes"] == {}, ret
    assert f"rbd_image.{GOLDEN}: cannot delete: the clone {CLONE} depends on it" in ret["comment"]
    assert host() == before
    # The clone, then the parent.
    predicted, _ = converge(minion, "rbd_image_absent", "change", name=CLONE, allow_destroy=True)
    assert predicted["changes"][f"rbd_image.{CLONE}"]["action"] == "delete"
    assert predicted["changes"][f"rbd_image.{CLONE}"]["disruption"] == "destructive"
    predicted, _ = converge(minion, "rbd_image_absent", "change", name=GOLDEN, allow_destroy=True)
    assert "the image, its snapshots and its data are deleted" in predicted["comment"]
    assert PREFIX + "golden" not in rbd("ls", CEPH_POOL).split()
    converge(minion, "rbd_image_absent", "none", name=GOLDEN, allow_destroy=True)


def test_domain_with_an_rbd_disk_sees_its_image_grow_live(minion):
    converge(minion, "rbd_image_present", "change", name=DATA, size="64MiB")
    dom = PREFIX + "vm"
    predicted, applied = converge(minion, "domain_present", "change", name=dom, vcpus=1,
                                  memory="64MiB", domain_state="running",
                                  disks=[{"rbd": DATA, "target": "vdb"}])
    assert predicted["changes"][f"domain.{dom}"]["attributes"]["disks"]["new"] == [
        {"rbd": DATA, "target": "vdb"}]
    assert virsh("domstate", dom) == "running", "QEMU opened the image with the secret"
    xml = virsh("dumpxml", dom)
    assert f"<source protocol='rbd' name='{DATA}'" in xml
    assert f"<auth username='{LP_USER}'>" in xml and "<secret type='ceph' uuid=" in xml
    assert_no_key(xml)
    pid = qemu_pid(dom)

    # The image grows; QEMU is told, the guest keeps running in the same process.
    predicted, applied = converge(minion, "rbd_image_present", "change", name=DATA, size="96MiB")
    assert predicted["changes"][f"rbd_image.{DATA}"]["attributes"]["size"]["disruption"] == "live"
    assert applied["changes"][f"rbd_image.{DATA}"]["steps"] == [
        f"tell domain.{dom} that vdb is now 96MiB"]
    assert "Capacity:       100663296" in virsh("domblkinfo", dom, "vdb")
    assert qemu_pid(dom) == pid

    converge(minion, "domain_absent", "change", name=dom, shutdown_timeout=1)
    assert dom not in names("list", "--all", "--name")
    assert rbd_info(DATA)["size"] == 96 << 20, "the domain's image is kept"


def test_converged_document_with_a_ceph_section(minion):
    dom = PREFIX + "db"
    doc = {
        "version": 1,
        "ceph": {"conf": CEPH_CONF, "user": "admin"},
        "rbd_images": {GOLDEN: {"size": "64MiB", "snapshots": ["base"]},
                       CLONE: {"clone_from": GOLDEN + "@base", "size": "80MiB"}},
        "domains": {dom: {"vcpus": 1, "memory": "64MiB", "state": "stopped",
                          "disks": [{"rbd": CLONE, "target": "vda"}]}},
    }
    original = json.dumps(doc, sort_keys=True)
    predicted, _ = converge(minion, "converged", "change", name="site", document=doc)
    assert sorted(predicted["changes"]) == [f"domain.{dom}", f"rbd_image.{CLONE}", f"rbd_image.{GOLDEN}"]
    assert "Plan: 3 to create" in predicted["comment"]
    assert "<auth username='admin'>" in virsh("dumpxml", dom, "--inactive"), "the document's user"
    assert rbd_info(CLONE)["parent"]["image"] == PREFIX + "golden"
    # The same document without its ceph: section gets the minion's (client.virtconverge).
    bare = {k: v for k, v in doc.items() if k != "ceph"}
    converge(minion, "converged", "none", name="site", document=bare)
    # The document's own section is not changed by the state (it is pillar data).
    assert json.dumps(doc, sort_keys=True) == original
    # One change through a document: grow the clone.
    doc["rbd_images"][CLONE]["size"] = "100MiB"
    predicted, _ = converge(minion, "converged", "change", name="site", document=doc)
    assert list(predicted["changes"]) == [f"rbd_image.{CLONE}"]
    assert rbd_info(CLONE)["size"] == 100 << 20


def test_a_document_file_with_ceph_conf_and_user_on_the_state(minion):
    work = make_work("/tmp/vcs-r")
    path = os.path.join(work, "rbd.yaml")
    with open(path, "w") as f:
        f.write(f"version: 1\nceph:\n  conf: /nonexistent/ceph.conf\nrbd_images:\n"
                f"  {DATA}:\n    size: 48MiB\n")
    try:
        # The state's ceph_conf / ceph_user rank over the file's ceph: section.
        converge(minion, "converged", "change", name=path, document=path, ceph_conf=CEPH_LP_CONF,
                 ceph_user=LP_USER)
        assert rbd_info(DATA)["size"] == 48 << 20
    finally:
        cleanup(PREFIX, work)


def test_rbd_pool_present_and_absent_keep_the_images(minion):
    converge(minion, "rbd_image_present", "change", name=DATA, size="32MiB")
    pool = PREFIX + "rbdpool"
    predicted, _ = converge(minion, "pool_present", "change", name=pool, type="rbd",
                            ceph_pool=CEPH_POOL, autostart=False)
    assert predicted["changes"][f"pool.{pool}"]["attributes"]["ceph_pool"]["new"] == CEPH_POOL
    assert "running" in virsh("pool-info", pool)
    assert PREFIX + "data" in virsh("vol-list", pool)
    assert_no_key(virsh("pool-dumpxml", pool))
    converge(minion, "pool_absent", "change", name=pool)
    assert pool not in names("pool-list", "--all", "--name")
    assert rbd_info(DATA)["size"] == 32 << 20, "undefining the pool keeps its images"


def test_observe_includes_the_rbd_images_with_the_configured_cluster(minion):
    converge(minion, "rbd_image_present", "change", name=DATA, size="32MiB", features=["layering"])
    doc = minion.mod.observe()
    assert doc["ceph"] == {"conf": CEPH_LP_CONF, "user": LP_USER}
    assert doc["rbd_images"][DATA] == {"size": "32MiB", "features": ["layering"], "snapshots": []}
    admin = minion.mod.observe(ceph_conf=CEPH_CONF, ceph_user="admin")
    assert admin["ceph"] == {"conf": CEPH_CONF, "user": "admin"}
    assert DATA in admin["rbd_images"]
    assert "rbd_images" not in minion.mod.observe(ceph_conf=False)
    # What observe returns plans as it is.
    mine = {"version": 1, "ceph": doc["ceph"], "rbd_images": {DATA: doc["rbd_images"][DATA]}}
    assert minion.mod.plan(mine)["changes"] == []
    assert_no_key(json.dumps(doc), json.dumps(admin))


def test_without_a_ceph_conf_the_state_says_how_to_give_one(minion):
    minion.opts.pop("virtconverge.ceph_conf")
    for test in (True, False):
        ret = minion.state("rbd_image_present", test, name=DATA, size="32MiB")
        assert ret["result"] is False and ret["changes"] == {}
        assert "rbd_images need the ceph: section" in ret["comment"]
        assert "set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf" in ret["comment"]
    assert PREFIX + "data" not in rbd("ls", CEPH_POOL).split()


# --- salt-call --local with salt/examples/states/ceph.sls -------------------------------------------

EX_WORK = "/tmp/vcs-exr"
EX_GOLDEN, EX_ROOT, EX_VM = f"{CEPH_POOL}/vcs-ex-golden", f"{CEPH_POOL}/vcs-ex-web2-root", "vcs-ex-web2"


def ex_host():
    return {"libvirt": snapshot(EX_VM), "ceph": rbd_snapshot("vcs-ex-"), "secrets": secrets()}


@pytest.fixture
def salt_call():
    cleanup(EX_VM)
    cleanup_rbd("vcs-ex-")
    make_work(EX_WORK)
    call = SaltCall(EX_WORK, **{"virtconverge.ceph_conf": CEPH_LP_CONF,
                                "virtconverge.ceph_user": LP_USER,
                                "log_level_logfile": "debug"})
    yield call
    cleanup(EX_VM, EX_WORK)
    cleanup_rbd("vcs-ex-")


def test_salt_call_applies_an_rbd_image_a_clone_and_a_vm_on_it(salt_call):
    outputs = []

    def apply(test=False, **sizes):
        pillar = {"ceph_images": dict({"golden_size": "64MiB", "web2_root_size": "128MiB"}, **sizes)}
        args = ["state.apply", "ceph", "pillar=" + json.dumps(pillar)] + (["test=True"] if test else [])
        p = salt_call.raw(*args)
        outputs.extend([p.stdout, p.stderr])
        rets = json.loads(p.stdout)["local"]
        assert isinstance(rets, dict) and all("__id__" in r for r in rets.values()), rets
        return {ret["__id__"]: ret for ret in rets.values()}

    before = ex_host()
    predicted = apply(test=True)
    assert ex_host() == before, "test=True changed the host"
    assert all(ret["result"] is None for ret in predicted.values()), predicted
    assert f"once rbd_image.{EX_GOLDEN} exist(s)" in predicted[EX_ROOT]["comment"]
    assert f"once rbd_image.{EX_ROOT} exist(s)" in predicted[EX_VM]["comment"]

    applied = apply()
    assert [applied[i]["__run_num__"] for i in (EX_GOLDEN, EX_ROOT, EX_VM)] == [0, 1, 2]
    for sid, ret in applied.items():
        assert ret["result"] is True, f"{sid}: {ret['comment']}"
        assert ret["changes"], sid
    assert rbd_info(EX_ROOT)["parent"]["image"] == "vcs-ex-golden"
    assert rbd_info(EX_ROOT)["size"] == 128 << 20
    assert virsh("domstate", EX_VM) == "running"
    assert f"<source protocol='rbd' name='{EX_ROOT}'" in virsh("dumpxml", EX_VM)
    pid = qemu_pid(EX_VM)

    converged = ex_host()
    for test in (False, True):
        for sid, ret in apply(test=test).items():
            assert ret["result"] is True and ret["changes"] == {}, f"{sid}: {ret}"
    assert ex_host() == converged

    # Grow the VM's disk through pillar: test mode shows it, the real run tells the running VM.
    predicted = apply(test=True, web2_root_size="160MiB")[EX_ROOT]
    assert ex_host() == converged
    assert predicted["result"] is None
    assert "size 128MiB → 160MiB  (live: grow)" in predicted["comment"]
    ret = apply(web2_root_size="160MiB")[EX_ROOT]
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"][f"rbd_image.{EX_ROOT}"]["steps"] == [f"tell domain.{EX_VM} that vdb is now 160MiB"]
    assert qemu_pid(EX_VM) == pid

    # The execution module from the command line: observe includes the images (minion config).
    observed = salt_call.run("virtconverge.observe")
    assert observed["rbd_images"][EX_ROOT]["clone_from"] == EX_GOLDEN + "@base"
    outputs.append(json.dumps(observed))

    with open(salt_call.log_file) as f:
        log = f.read()
    assert "virtconverge: running" in log, "the minion's debug log was not written"
    assert_no_key(log, *outputs)
