"""Shared helpers for the integration tests: run the engine and virsh against the real libvirtd,
snapshot what the host holds, and remove exactly the objects a test created (prefix vct-)."""

import json
import os
import shutil
import subprocess
import time
import unittest

BINARY = os.environ.get("VC_BINARY", os.path.join(os.path.dirname(__file__), "../../build/virtconverge"))
URI = "qemu:///system"
WORK = os.environ.get("VC_TEST_WORK", "/tmp/vct-it")
PREFIX = "vct-"


def run(args, stdin=None, timeout=180, env=None):
    """Runs the engine; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ, NO_COLOR="1")
    full_env.update(env or {})
    p = subprocess.run([BINARY] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=timeout, env=full_env)
    return p.returncode, p.stdout, p.stderr


PLAN_SCHEMA = os.path.join(os.path.dirname(__file__), "../../schemas/plan.schema.json")


def check_plan_schema(plan):
    """Raises AssertionError unless `plan` (a JSON plan the engine wrote) is what
    schemas/plan.schema.json describes."""
    import jsonschema  # python3-jsonschema, installed by scripts/install-deps.sh
    with open(PLAN_SCHEMA) as f:
        schema = json.load(f)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(plan), key=lambda e: list(e.path))
    if errors:
        raise AssertionError("the plan does not match plans.schema.json: " +
                             "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))


def saved_plan(path, connection, *extra):
    """Runs `plan --out`, returns (path of the saved plan, its JSON), checked against the schema."""
    out_path = os.path.join(WORK, os.path.basename(path) + ".plan.json")
    rc, out, err = run(["plan", path, "--connection", connection, "--out", out_path, *extra])
    assert rc == 0, out + err
    with open(out_path) as f:
        plan = json.load(f)
    check_plan_schema(plan)
    return out_path, plan


def steps_of(plan, op):
    """Every step of operation `op` in the plan, in order."""
    return [s for c in plan["changes"] for s in c["steps"] if s["op"] == op]


def disruptions(plan):
    """{attribute path: disruption} of every change in the plan."""
    return {a["path"]: a["disruption"] for c in plan["changes"] for a in c["attributes"]}


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-q", "-c", URI] + list(args), capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {p.stderr}")
    return p.stdout.strip()


def names(*args):
    return sorted(line.strip() for line in virsh(*args).splitlines() if line.strip())


def snapshot():
    """Everything a test could have changed: the observed document and the raw object lists."""
    rc, out, err = run(["observe", "--format", "json", "--connection", URI])
    assert rc == 0, err
    doc = json.loads(out)
    return {
        "observed": doc,
        "domains": names("list", "--all", "--name"),
        "pools": names("pool-list", "--all", "--name"),
        "networks": names("net-list", "--all", "--name"),
    }


def cleanup():
    """Removes every vct- object: domains, networks, volumes and pools."""
    remove(domains=[d for d in names("list", "--all", "--name") if d.startswith(PREFIX)],
           pools=[p for p in names("pool-list", "--all", "--name") if p.startswith(PREFIX)],
           networks=[n for n in names("net-list", "--all", "--name") if n.startswith(PREFIX)],
           dirs=(WORK,))


def remove(domains=(), pools=(), networks=(), dirs=()):
    """Removes exactly the named objects, those that exist: each domain forced off and undefined
    (with its NVRAM and checkpoint metadata), each pool's volumes deleted and the pool stopped and
    undefined, each network stopped and undefined, each directory deleted. For suites that name
    their own objects (not vct-, which cleanup() removes wholesale)."""
    present = virsh("list", "--all", "--name", check=False).split()
    for d in domains:
        if d in present:
            virsh("destroy", d, check=False)
            virsh("undefine", d, "--nvram", "--checkpoints-metadata", check=False)
            if d in virsh("list", "--all", "--name", check=False).split():
                virsh("undefine", d, check=False)
    present = virsh("pool-list", "--all", "--name", check=False).split()
    for p in pools:
        if p in present:
            virsh("pool-start", p, check=False)
            for v in virsh("vol-list", p, check=False).splitlines():
                if v.split():
                    virsh("vol-delete", v.split()[0], "--pool", p, check=False)
            virsh("pool-destroy", p, check=False)
            virsh("pool-undefine", p, check=False)
    present = virsh("net-list", "--all", "--name", check=False).split()
    for n in networks:
        if n in present:
            virsh("net-destroy", n, check=False)
            virsh("net-undefine", n, check=False)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def qemu_img_info(path, *flags):
    """`qemu-img info` of an image as JSON (flags: e.g. -U for one a running guest holds)."""
    p = subprocess.run(["qemu-img", "info", "--output=json", *flags, path], capture_output=True,
                       text=True, check=True, timeout=60)
    return json.loads(p.stdout)


def qemu_pid(domain):
    with open(f"/run/libvirt/qemu/{domain}.pid") as f:
        return int(f.read().strip())


def require_libvirtd():
    """Fails unless the real libvirtd answers (CI starts it with scripts/libvirtd-up.sh)."""
    p = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("the real libvirtd is not running: start it with scripts/libvirtd-up.sh\n" + p.stderr)


CEPH_CONF = os.path.join(os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph"), "ceph.conf")


def require_ceph(conf=CEPH_CONF):
    """Fails unless the Ceph cluster answers (CI starts it with scripts/ceph-up.sh)."""
    if subprocess.run(["ceph", "-c", conf, "--connect-timeout", "10", "health"],
                      capture_output=True, timeout=60).returncode != 0:
        raise AssertionError("the Ceph cluster is not running: start it with scripts/ceph-up.sh")


class RealLibvirtTest(unittest.TestCase):
    """Base: requires the real libvirtd (CI starts it with scripts/libvirtd-up.sh) and cleans up."""

    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        cleanup()

    def setUp(self):
        os.makedirs(WORK, exist_ok=True)
        os.chmod(WORK, 0o755)

    def tearDown(self):
        cleanup()

    def write(self, name, text):
        path = os.path.join(WORK, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def apply_ok(self, *args):
        rc, out, err = run(["apply", *args, "--connection", URI])
        self.assertEqual(rc, 0, f"apply failed:\n{out}\n{err}")
        self.assertIn("converged", out)
        return out

    def assert_no_changes(self, *args):
        rc, out, err = run(["plan", *args, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0, f"expected no changes:\n{out}\n{err}")
        self.assertIn("No changes", out)
        return out

    def wait_for(self, predicate, timeout=30, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        self.fail(f"timed out waiting for {what}")
