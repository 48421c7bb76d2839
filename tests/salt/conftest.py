"""Shared helpers for the Salt module tests.

- load the execution and state modules of the installed extension (saltext.virtconverge, the wheel
  tests/salt/make-venv.sh put into the venv running the tests; never the files under salt/src) the
  way Salt's loader does (module globals ``__salt__``, ``__opts__``), for in-process unit tests;
- snapshot and clean up what the tests create on the real libvirtd (qemu:///system) and the real
  Ceph cluster (scripts/ceph-up.sh, pool ``rbd``). Every object is named with a suite prefix
  starting ``vcs-`` and removed by the suite that made it; objects of anybody else are never
  touched.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SALT_DIR = os.path.join(REPO, "salt")  # its examples/; the modules come from the installed package
PACKAGE = "saltext.virtconverge"
BINARY = os.path.abspath(os.environ.get("VC_BINARY", os.path.join(REPO, "build", "virtconverge")))
# Salt's scripts live beside the interpreter running the tests (the venv of make-venv.sh).
SALT_BIN = os.environ.get("VC_SALT_BIN", os.path.dirname(sys.executable))
URI = "qemu:///system"
CEPH_DIR = os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph")
CEPH_CONF = os.path.join(CEPH_DIR, "ceph.conf")                        # client.admin
CEPH_LP_CONF = os.path.join(CEPH_DIR, "ceph.virtconverge.conf")        # client.virtconverge
CEPH_POOL = "rbd"


def installed_module_path(kind):
    """The file of the installed extension's execution module (kind "modules") or state module
    (kind "states"). Fails the test unless it is in this interpreter's site-packages: a test must
    not pass on a source tree that is not what the wheel holds."""
    module = f"{PACKAGE}.{kind}.virtconverge_mod"
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    site = sysconfig.get_paths()["purelib"]
    if spec is None or not spec.origin.startswith(site + os.sep):
        pytest.fail(f"{module} is not installed in {site} (found: {spec and spec.origin}); run the "
                    "tests with the venv of tests/salt/make-venv.sh (ctest does)")
    return spec.origin


def load_module(kind, opts=None, salt_funcs=None, name=None):
    """Imports the installed extension's execution module (kind "modules") or state module (kind
    "states") as a fresh module with Salt's dunder globals injected, so tests share no state."""
    path = installed_module_path(kind)
    spec = importlib.util.spec_from_file_location(name or f"vcs_{kind}_{time.monotonic_ns()}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = opts if opts is not None else {}
    module.__salt__ = salt_funcs if salt_funcs is not None else {}
    module.__context__ = {}
    return module


@pytest.fixture(scope="session", autouse=True)
def canned_plans_follow_the_plan_schema():
    """After the tests: every plan the tests scripted (canned.plan) validates against
    schemas/plan.schema.json; an error here fails the run."""
    yield
    import canned  # pylint: disable=import-outside-toplevel
    if canned.RECORDED:
        found = canned.problems(canned.RECORDED)
        assert not found, "canned plans that do not follow the plan schema:\n" + "\n".join(found)


class Minion:
    """The execution and state modules wired together as Salt's loader wires them."""

    def __init__(self, binary=BINARY, extra_opts=None):
        self.opts = {"test": False, "virtconverge.binary": binary}
        self.opts.update(extra_opts or {})
        self.salt = {"config.get": lambda key, default="": self.opts.get(key, default)}
        self.mod = load_module("modules", self.opts, self.salt)
        for fun in ("validate", "plan", "apply", "observe", "version"):
            self.salt[f"virtconverge.{fun}"] = getattr(self.mod, fun)
        self.states = load_module("states", self.opts, self.salt)

    def state(self, fun, test, **kwargs):
        self.opts["test"] = bool(test)
        try:
            ret = getattr(self.states, fun)(**kwargs)
        finally:
            self.opts["test"] = False
        assert set(ret) == {"name", "result", "changes", "comment"}, ret
        return ret


# --- the real libvirtd -----------------------------------------------------------------------------

def virsh(*args, check=True, uri=URI):
    p = subprocess.run(["virsh", "-q", "-c", uri] + list(args), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {p.stderr}")
    return p.stdout.strip()


def names(*args):
    return sorted(line.strip() for line in virsh(*args).splitlines() if line.strip())


def snapshot(prefix):
    """Everything of ours (names starting with prefix) that a state could change: the engine's
    observation plus libvirt's raw lists, live XML of running domains included."""
    p = subprocess.run([BINARY, "observe", "--format", "json", "--connection", URI],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    ours = {}
    for section in ("pools", "networks", "volumes", "domains"):
        ours[section] = {k: v for k, v in (doc.get(section) or {}).items() if k.startswith(prefix)}
    ours["domain_list"] = [n for n in names("list", "--all", "--name") if n.startswith(prefix)]
    ours["running"] = [n for n in names("list", "--name") if n.startswith(prefix)]
    ours["pool_list"] = [n for n in names("pool-list", "--all", "--name") if n.startswith(prefix)]
    ours["net_list"] = [n for n in names("net-list", "--all", "--name") if n.startswith(prefix)]
    ours["live_vcpus"] = {n: virsh("vcpucount", n, "--live", "--current", check=False)
                          for n in ours["running"]}
    ours["config_xml"] = {n: virsh("dumpxml", n, "--inactive", check=False)
                          for n in ours["domain_list"]}
    return ours


def cleanup(prefix, work=None):
    """Removes every domain, network, pool (with its volumes) whose name starts with prefix."""
    assert prefix.startswith("vcs-") and len(prefix) > 4, prefix
    for d in names("list", "--all", "--name"):
        if d.startswith(prefix):
            virsh("destroy", d, check=False)
            virsh("undefine", d, check=False)
    for n in names("net-list", "--all", "--name"):
        if n.startswith(prefix):
            virsh("net-destroy", n, check=False)
            virsh("net-undefine", n, check=False)
    for p in names("pool-list", "--all", "--name"):
        if p.startswith(prefix):
            virsh("pool-start", p, check=False)
            # An rbd pool's volumes are the Ceph pool's images, everybody's: never delete them.
            if "type='rbd'" not in virsh("pool-dumpxml", p, check=False):
                for line in virsh("vol-list", p, check=False).splitlines():
                    if line.split():
                        virsh("vol-delete", line.split()[0], "--pool", p, check=False)
            virsh("pool-destroy", p, check=False)
            virsh("pool-undefine", p, check=False)
    if work:
        shutil.rmtree(work, ignore_errors=True)


# --- the real Ceph cluster ----------------------------------------------------------------------------

def rbd(*args, check=True, conf=CEPH_CONF):
    p = subprocess.run(["rbd", "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"rbd {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def rbd_images(prefix):
    """Our images in the test pool (names starting with prefix)."""
    return sorted(i for i in json.loads(rbd("ls", "--format", "json", CEPH_POOL, check=False) or "[]")
                  if i.startswith(prefix))


def rbd_info(image):
    return json.loads(rbd("info", "--format", "json", image))


def rbd_snapshot(prefix):
    """Everything a state could change about our images: `rbd ls`, and per image `rbd info` (size,
    features, parent, flags), its snapshots with their protection, and virtconverge's metadata."""
    ours = {"ls": rbd_images(prefix)}
    for image in ours["ls"]:
        spec = f"{CEPH_POOL}/{image}"
        info = json.loads(rbd("info", "--format", "json", spec, check=False) or "{}")
        for volatile in ("access_timestamp", "modify_timestamp"):
            info.pop(volatile, None)
        snaps = json.loads(rbd("snap", "ls", "--format", "json", spec, check=False) or "[]")
        meta = rbd("image-meta", "list", "--format", "json", spec, check=False)
        ours[image] = {"info": info, "snaps": [(s["name"], s["size"], s.get("protected")) for s in snaps],
                       "meta": json.loads(meta) if meta.strip() else {}}
    return ours


def cleanup_rbd(prefix):
    """Removes every image of the test pool whose name starts with prefix: clones before their
    parents, snapshots unprotected and purged first."""
    assert prefix.startswith("vcs-") and len(prefix) > 4, prefix
    for _ in range(5):
        images = rbd_images(prefix)
        if not images:
            return
        parents = set()
        for image in images:
            info = json.loads(rbd("info", "--format", "json", f"{CEPH_POOL}/{image}", check=False) or "{}")
            parent = info.get("parent") or {}
            if parent.get("pool") == CEPH_POOL:
                parents.add(parent.get("image"))
        for image in images:
            if image in parents:
                continue  # a clone of it is still there: next round
            spec = f"{CEPH_POOL}/{image}"
            for snap in json.loads(rbd("snap", "ls", "--format", "json", spec, check=False) or "[]"):
                if snap.get("protected") == "true":
                    rbd("snap", "unprotect", f"{spec}@{snap['name']}", check=False)
            rbd("snap", "purge", spec, check=False)
            rbd("rm", "--no-progress", spec, check=False)
    assert not rbd_images(prefix), f"could not remove {rbd_images(prefix)}"


def cephx_key(user):
    """client.USER's key, from the keyring the test cluster wrote: what must never be printed."""
    with open(os.path.join(CEPH_DIR, f"ceph.client.{user}.keyring")) as f:
        return re.search(r"key\s*=\s*(\S+)", f.read()).group(1)


def require_ceph():
    p = subprocess.run(["ceph", "-c", CEPH_CONF, "--connect-timeout", "5", "health"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        pytest.fail("the Ceph cluster is not running: start it with scripts/ceph-up.sh\n" + p.stderr)


def require_real_libvirtd():
    p = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        pytest.fail("the real libvirtd is not running: start it with scripts/libvirtd-up.sh\n"
                    + p.stderr)


def make_work(path):
    """A work directory under /tmp that libvirt's QEMU driver may use (mode 755)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    os.chmod(path, 0o755)
    return path


def qemu_pid(domain):
    with open(f"/run/libvirt/qemu/{domain}.pid") as f:
        return int(f.read().strip())
