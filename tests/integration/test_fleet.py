"""A fleet on the real parts (issue #11): three private real libvirtd's (scripts/host-up.sh, each
in its own mount namespace with its own sockets, state and loopback address; the third has no
/dev/kvm, so its hypervisor cannot run a KVM guest's CPU) and the real Ceph cluster. One document
with hosts: places every resource; changing a domain's host: is a live migration.

The guests here need no OS (a BIOS that waits): what moves, where it ends, what the plan says
and what stays unchanged are checked through the daemons. tests/integration/test_fleet_guest.py
moves a booted Linux guest and checks from inside it that it kept running.

Every host is started by this module and stopped at its end by PID (scripts/host-down.sh);
domains, pools and RBD images it makes are named vcf-*.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from vctest import check_plan_schema  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("VC_BINARY", os.path.join(REPO, "build", "virtconverge"))
SCRIPTS = os.path.join(REPO, "scripts")
HOSTS_DIR = os.environ.get("VC_FLEET_HOSTS_DIR", "/tmp/vc-fleet-it")
CEPH_CONF = os.path.join(os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph"), "ceph.conf")
# name → (address, no KVM)
HOSTS = {"vcf-a": ("127.0.0.82", False), "vcf-b": ("127.0.0.83", False), "vcf-c": ("127.0.0.84", True)}
ENV = dict(os.environ, NO_COLOR="1", VC_HOSTS_DIR=HOSTS_DIR, VIRTCONVERGE_LOCK_DIR=os.path.join(HOSTS_DIR, "locks"))
started = []


def host_script(script, name, *extra, env=None):
    p = subprocess.run([os.path.join(SCRIPTS, script), name, *extra], capture_output=True, text=True,
                       timeout=180, env=dict(ENV, **(env or {})))
    if p.returncode != 0:
        raise AssertionError(f"{script} {name} failed:\n{p.stdout}{p.stderr}")


def uri(name):
    with open(os.path.join(HOSTS_DIR, name, "uri")) as f:
        return f.read().strip()


def setUpModule():
    os.makedirs(os.path.join(HOSTS_DIR, "locks"), exist_ok=True)
    for name, (address, no_kvm) in HOSTS.items():
        host_script("host-up.sh", name, address, env={"VC_HOST_NO_KVM": "1" if no_kvm else "0"})
        started.append(name)


def tearDownModule():
    for name in started:
        for domain in names(name, "--all"):
            if domain.startswith("vcf-"):
                virsh(name, "destroy", domain, check=False)
                virsh(name, "undefine", domain, "--remove-all-storage", check=False)
        host_script("host-down.sh", name)


def virsh(host, *args, check=True):
    p = subprocess.run(["virsh", "-q", "-c", uri(host), *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh -c {host} {' '.join(args)}: {p.stderr}")
    return p.stdout.strip()


def names(host, *args):
    return sorted(line.split()[0] for line in virsh(host, "list", "--name", *args).splitlines() if line.strip())


def engine(*args, timeout=240):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stdout, p.stderr


def rbd(*args, check=True):
    p = subprocess.run(["rbd", "-c", CEPH_CONF, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"rbd {' '.join(args)}: {p.stderr}")
    return p.stdout


class FleetTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vcf-")

    def tearDown(self):
        for name in HOSTS:
            for domain in names(name, "--all"):
                if domain.startswith("vcf-"):
                    virsh(name, "destroy", domain, check=False)
                    virsh(name, "undefine", domain, check=False)
            for pool in virsh(name, "pool-list", "--all", "--name").split():
                if pool.startswith("vcf-"):
                    for vol in virsh(name, "vol-list", pool, check=False).splitlines():
                        if vol.split():
                            virsh(name, "vol-delete", vol.split()[0], "--pool", pool, check=False)
                    virsh(name, "pool-destroy", pool, check=False)
                    virsh(name, "pool-undefine", pool, check=False)
        for image in rbd("ls", "rbd", check=False).split():
            if image.startswith("vcf-"):
                rbd("rm", f"rbd/{image}", check=False)

    def document(self, body, hosts=("vcf-a", "vcf-b"), maintenance=(), ceph=False):
        text = "version: 1\n"
        if ceph:
            text += f"ceph: {{conf: {CEPH_CONF}, user: admin}}\n"
        text += "hosts:\n"
        for h in hosts:
            text += f"  {h}: {{connection: \"{uri(h)}\"{', maintenance: true' if h in maintenance else ''}}}\n"
        path = os.path.join(self.dir, "fleet.yaml")
        with open(path, "w") as f:
            f.write(text + body)
        return path

    def apply(self, path, *extra):
        rc, out, err = engine("apply", path, "--shutdown-timeout", "0", *extra)
        self.assertEqual(rc, 0, out + err)
        return out

    def plan_json(self, path, *extra):
        rc, out, err = engine("plan", path, "--format", "json", "--shutdown-timeout", "0", *extra)
        plan = json.loads(out)
        check_plan_schema(plan)
        return rc, plan, err

    def assert_no_changes(self, path):
        rc, plan, err = self.plan_json(path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(plan["changes"], [], json.dumps(plan["changes"], indent=1))

    def assert_only_on(self, domain, host, state="running"):
        for other in HOSTS:
            if other == host:
                self.assertIn(domain, names(other, "--all"), f"{domain} is not on {host}")
                self.assertEqual(virsh(other, "domstate", domain), state)
                info = virsh(other, "dominfo", domain)
                self.assertRegex(info, r"Persistent:\s+yes")
            else:
                self.assertNotIn(domain, names(other, "--all"), f"{domain} is still on {other}")

    def test_a_running_guest_with_a_ceph_disk_moves_live_there_and_back_by_editing_host(self):
        body = """rbd_images:
  rbd/vcf-root: {{size: 64MiB}}
domains:
  vcf-web1: {{host: {host}, vcpus: 1, memory: 128MiB, autostart: true, disks: [{{rbd: rbd/vcf-root, target: vda}}]}}
"""
        doc = self.document(body.format(host="vcf-a"), ceph=True)
        self.apply(doc)
        self.assert_only_on("vcf-web1", "vcf-a")
        uuid = virsh("vcf-a", "domuuid", "vcf-web1")

        doc = self.document(body.format(host="vcf-b"), ceph=True)
        rc, plan, err = self.plan_json(doc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(plan["changes"]), 1, json.dumps(plan["changes"], indent=1))
        change = plan["changes"][0]
        self.assertEqual((change["action"], change["disruption"]), ("migrate", "live"))
        self.assertEqual((change["from_host"], change["host"]), ("vcf-a", "vcf-b"))
        self.assertEqual(change["address"], "domain.vcf-web1@vcf-b")
        host = change["attributes"][0]
        self.assertEqual((host["path"], host["before"], host["after"]), ("host", "vcf-a", "vcf-b"))
        self.assertIn("memory only: every disk is on Ceph", host["reason"])
        migrate = change["steps"][0]
        self.assertEqual(migrate["op"], "migrate")
        self.assertEqual(migrate["args"], {"to": "vcf-b", "live": True, "copy_disks": []})
        self.assertEqual(plan["hosts"]["vcf-b"]["connection"], uri("vcf-b"))
        rc, text, err = engine("plan", doc)
        self.assertIn("On vcf-b:", text)
        self.assertIn("» domain.vcf-web1@vcf-b (migrate, live)", text)

        out = self.apply(doc)
        self.assertRegex(out, r"domain\.vcf-web1@vcf-a: migrated to vcf-b in [0-9.]+ s, downtime [0-9]+ ms")
        self.assert_only_on("vcf-web1", "vcf-b")
        self.assertEqual(virsh("vcf-b", "domuuid", "vcf-web1"), uuid)
        self.assertRegex(virsh("vcf-b", "dominfo", "vcf-web1"), r"Autostart:\s+enable")
        self.assert_no_changes(doc)

        doc = self.document(body.format(host="vcf-a"), ceph=True)
        self.apply(doc)
        self.assert_only_on("vcf-web1", "vcf-a")
        self.assertEqual(virsh("vcf-a", "domuuid", "vcf-web1"), uuid)
        self.assert_no_changes(doc)

    def test_local_disks_are_copied_into_volumes_made_first_and_the_sources_go_after(self):
        body = """pools:
  vcf-local: {{type: dir, path: /var/lib/libvirt/vcf-local}}
volumes:
  vcf-local/vcf-disk: {{capacity: 16MiB, format: qcow2}}
domains:
  vcf-copy: {{host: {host}, vcpus: 1, memory: 128MiB, state: {state}, disks: [{{volume: vcf-local/vcf-disk, target: vda}}]}}
"""
        doc = self.document(body.format(host="vcf-a", state="stopped"))
        self.apply(doc)
        # The pool is on both hosts (each its own /var/lib/libvirt); the volume only on vcf-a.
        self.assertIn("vcf-local", virsh("vcf-b", "pool-list", "--name"))
        source = os.path.join(HOSTS_DIR, "vcf-a", "lib", "vcf-local", "vcf-disk")
        target = os.path.join(HOSTS_DIR, "vcf-b", "lib", "vcf-local", "vcf-disk")
        self.assertTrue(os.path.exists(source))
        self.assertFalse(os.path.exists(target))
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xa5 0 1M", source], check=True,
                       capture_output=True)
        doc = self.document(body.format(host="vcf-a", state="running"))
        self.apply(doc)

        # A stopped domain with a local disk is refused; a running one copies it.
        doc = self.document(body.format(host="vcf-b", state="running"))
        rc, plan, err = self.plan_json(doc)
        self.assertEqual(rc, 0, err)
        self.assertEqual([(c["address"], c["action"]) for c in plan["changes"]],
                         [("volume.vcf-local/vcf-disk@vcf-b", "create"),
                          ("domain.vcf-copy@vcf-b", "migrate")])
        move = plan["changes"][1]
        self.assertIn("the copies on vcf-a are deleted once the guest runs on vcf-b",
                      move["attributes"][0]["reason"])
        self.assertEqual([(s["op"], s["address"]) for s in move["steps"][:2]],
                         [("migrate", "domain.vcf-copy@vcf-a"), ("delete", "volume.vcf-local/vcf-disk@vcf-a")])
        self.assertEqual(move["steps"][0]["args"]["copy_disks"], ["vda"])
        self.apply(doc)
        self.assert_only_on("vcf-copy", "vcf-b")
        self.assertFalse(os.path.exists(source), "the source copy was not deleted")
        read = subprocess.run(["qemu-io", "-U", "-r", "-f", "qcow2", "-c", "read -P 0xa5 0 1M", target],
                              capture_output=True, text=True)
        self.assertEqual(read.returncode, 0, read.stdout + read.stderr)
        self.assertNotIn("Pattern verification failed", read.stdout)
        self.assert_no_changes(doc)

        self.apply(self.document(body.format(host="vcf-b", state="stopped")))
        doc = self.document(body.format(host="vcf-a", state="stopped"))
        rc, plan, err = self.plan_json(doc)
        self.assertNotEqual(rc, 0)
        self.assertIn("it is stopped and disk vda is the local volume vcf-local/vcf-disk: only a running "
                      "domain has its disks copied",
                      " ".join(d["summary"] for d in plan["diagnostics"]))

    def test_a_failed_migration_leaves_the_guest_running_where_it_was_with_a_clear_error(self):
        body = "domains:\n  vcf-stay: {{host: {host}, vcpus: 1, memory: 128MiB}}\n"
        self.apply(self.document(body.format(host="vcf-a")))
        # A stale definition with the same UUID on the destination: libvirt refuses the incoming
        # guest there (the plan cannot know: names differ).
        xml = virsh("vcf-a", "dumpxml", "--inactive", "vcf-stay").replace(
            "<name>vcf-stay</name>", "<name>vcf-stale</name>")
        stale = os.path.join(self.dir, "stale.xml")
        with open(stale, "w") as f:
            f.write(xml)
        virsh("vcf-b", "define", stale)
        rc, out, err = engine("apply", self.document(body.format(host="vcf-b")))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out + err, r"domain\.vcf-stay@vcf-b: FAILED \(operation_failed\): migrate domain\.vcf-stay@vcf-a live to vcf-b")
        self.assertEqual(virsh("vcf-a", "domstate", "vcf-stay"), "running")
        self.assertNotIn("vcf-stay", names("vcf-b", "--all"))

    def test_a_fleet_apply_holds_every_hosts_lock(self):
        body = "domains:\n  vcf-lock: {{host: {host}, vcpus: 1, memory: 128MiB}}\n"
        self.apply(self.document(body.format(host="vcf-a")))
        doc = self.document(body.format(host="vcf-b"))
        other = os.path.join(self.dir, "other.yaml")
        with open(other, "w") as f:  # another document touching only vcf-b
            f.write(f"version: 1\nconnection: \"{uri('vcf-b')}\"\ndomains:\n"
                    "  vcf-lock2: {vcpus: 1, memory: 128MiB, state: stopped}\n")
        first = subprocess.Popen([BINARY, "apply", doc], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=ENV)
        try:
            deadline = time.monotonic() + 30
            refused = None
            while time.monotonic() < deadline and first.poll() is None:
                rc, out, err = engine("apply", other, "--lock-wait", "0")
                if rc == 3:
                    refused = err
                    break
                if rc == 0:  # the first run had not taken the lock yet: undo and try again
                    virsh("vcf-b", "undefine", "vcf-lock2")
                time.sleep(0.05)
            self.assertIsNotNone(refused, "no apply was refused while the fleet apply ran")
            self.assertIn("apply", refused)
        finally:
            out, err = first.communicate(timeout=120)
        self.assertEqual(first.returncode, 0, out + err)
        self.assert_only_on("vcf-lock", "vcf-b")
        self.assertNotIn("vcf-lock2", names("vcf-b", "--all"))

    def test_a_stopped_domain_moves_by_its_definition(self):
        body = "domains:\n  vcf-off: {{host: {host}, vcpus: 1, memory: 128MiB, state: stopped, autostart: true}}\n"
        self.apply(self.document(body.format(host="vcf-a")))
        uuid = virsh("vcf-a", "domuuid", "vcf-off")
        doc = self.document(body.format(host="vcf-b"))
        rc, plan, err = self.plan_json(doc)
        change = plan["changes"][0]
        self.assertEqual((change["action"], change["disruption"]), ("migrate", "none"))
        self.assertEqual(change["steps"][0]["args"]["live"], False)
        self.apply(doc)
        self.assert_only_on("vcf-off", "vcf-b", state="shut off")
        self.assertEqual(virsh("vcf-b", "domuuid", "vcf-off"), uuid)
        self.assertRegex(virsh("vcf-b", "dominfo", "vcf-off"), r"Autostart:\s+enable")
        self.assert_no_changes(doc)

    def test_a_cpu_the_destination_cannot_run_is_refused_before_anything_moves(self):
        body = "domains:\n  vcf-kvm: {{host: {host}, vcpus: 1, memory: 128MiB}}\n"
        hosts = ("vcf-a", "vcf-c")
        self.apply(self.document(body.format(host="vcf-a"), hosts=hosts))
        doc = self.document(body.format(host="vcf-c"), hosts=hosts)
        rc, plan, err = self.plan_json(doc)
        self.assertNotEqual(rc, 0)
        self.assertFalse(plan["applyable"])
        summaries = " ".join(d["summary"] for d in plan["diagnostics"])
        self.assertIn("domains.vcf-kvm: cannot move from vcf-a to vcf-c: vcf-c cannot run its CPU", summaries)
        rc, out, err = engine("apply", doc)
        self.assertNotEqual(rc, 0)
        self.assertIn("nothing was changed", err)
        self.assert_only_on("vcf-kvm", "vcf-a")

    def test_a_baseline_cpu_is_one_every_host_runs_and_the_plan_names_it(self):
        # TCG: the nested KVM of the test machine cannot run its own host-model CPU (QEMU fails
        # to set MSR 0x10a), so the guest runs under TCG with the KVM hosts' baseline.
        body = "domains:\n  vcf-base: {{host: {host}, vcpus: 1, memory: 128MiB, virt_type: qemu, cpu: {{mode: baseline}}}}\n"
        doc = self.document(body.format(host="vcf-a"))
        rc, plan, err = self.plan_json(doc)
        self.assertEqual(rc, 0, err)
        cpu = next(a for a in plan["changes"][0]["attributes"] if a["path"] == "cpu")
        self.assertEqual(cpu["after"]["mode"], "custom")
        model = cpu["after"]["model"]
        self.assertTrue(model)
        self.apply(doc)
        self.assertIn(f">{model}</model>", virsh("vcf-a", "dumpxml", "vcf-base"))
        self.assert_no_changes(doc)
        self.apply(self.document(body.format(host="vcf-b")))
        self.assert_only_on("vcf-base", "vcf-b")
        self.assertIn(f">{model}</model>", virsh("vcf-b", "dumpxml", "vcf-base"))

    def test_drain_moves_every_running_domain_to_a_host_that_can_take_it_or_refuses(self):
        body = """domains:
  vcf-d1: {host: vcf-a, vcpus: 1, memory: 256MiB}
  vcf-d2: {host: vcf-a, vcpus: 1, memory: 128MiB}
  vcf-d3: {host: vcf-a, vcpus: 1, memory: 128MiB, state: stopped}
"""
        hosts = ("vcf-a", "vcf-b", "vcf-c")
        self.apply(self.document(body, hosts=hosts))
        doc = self.document(body, hosts=hosts, maintenance=("vcf-a",))
        rc, plan, err = self.plan_json(doc)
        self.assertEqual(rc, 0, err)
        moves = {c["name"]: c for c in plan["changes"]}
        self.assertEqual(sorted(moves), ["vcf-d1", "vcf-d2"])
        for change in moves.values():
            self.assertEqual((change["action"], change["host"]), ("migrate", "vcf-b"))  # vcf-c has no KVM
            self.assertIn("vcf-a is in maintenance; vcf-b keeps its capacity limits with the most headroom left",
                          change["attributes"][0]["reason"])
        self.apply(doc)
        self.assert_only_on("vcf-d1", "vcf-b")
        self.assert_only_on("vcf-d2", "vcf-b")
        self.assert_only_on("vcf-d3", "vcf-a", state="shut off")
        self.assert_no_changes(doc)

        # vcf-b in maintenance too: only vcf-c is left, and it cannot run them. Nothing moves.
        doc = self.document(body, hosts=hosts, maintenance=("vcf-a", "vcf-b"))
        rc, plan, err = self.plan_json(doc)
        self.assertNotEqual(rc, 0)
        summaries = " ".join(d["summary"] for d in plan["diagnostics"])
        self.assertIn("cannot drain vcf-b: no host can take it (vcf-a: in maintenance; vcf-c: ", summaries)
        rc, out, err = engine("apply", doc)
        self.assertNotEqual(rc, 0)
        self.assert_only_on("vcf-d1", "vcf-b")
        self.assert_only_on("vcf-d2", "vcf-b")

    def test_a_host_that_is_down_is_named_and_can_be_skipped(self):
        self.apply(self.document("domains:\n  vcf-up: {host: vcf-a, vcpus: 1, memory: 128MiB}\n"))
        doc = self.document("domains:\n  vcf-up: {host: vcf-a, vcpus: 1, memory: 128MiB, autostart: true}\n"
                            "  vcf-far: {host: vcf-b, vcpus: 1, memory: 128MiB}\n"
                            "  vcf-new: {host: vcf-a, vcpus: 1, memory: 128MiB}\n")
        far = uri("vcf-b")
        host_script("host-down.sh", "vcf-b")
        try:
            rc, out, err = engine("plan", doc)
            self.assertNotEqual(rc, 0)
            self.assertIn("host vcf-b (" + far + ") cannot be reached", err)
            rc, plan, err = self.plan_json(doc, "--skip-unreachable")
            self.assertEqual(rc, 0, err)
            self.assertIsInstance(plan["hosts"]["vcf-b"]["skipped"], str)
            # vcf-new is not created: it might be on the host that did not answer.
            self.assertEqual([c["address"] for c in plan["changes"]], ["domain.vcf-up@vcf-a"])
            summaries = " ".join(d["summary"] for d in plan["diagnostics"])
            self.assertIn("host vcf-b skipped", summaries)
            self.assertIn("domains.vcf-new: not created on vcf-a: vcf-b could not be asked", summaries)
            self.apply(doc, "--skip-unreachable")
            self.assertRegex(virsh("vcf-a", "dominfo", "vcf-up"), r"Autostart:\s+enable")
        finally:
            host_script("host-up.sh", "vcf-b", HOSTS["vcf-b"][0])
        self.apply(doc)
        self.assertIn("vcf-far", names("vcf-b"))
        self.assertIn("vcf-new", names("vcf-a"))
        self.assert_no_changes(doc)

    def test_a_saved_fleet_plan_applies_only_while_the_fleet_is_as_it_was(self):
        body = "domains:\n  vcf-saved: {{host: {host}, vcpus: 1, memory: 128MiB}}\n"
        self.apply(self.document(body.format(host="vcf-a")))
        doc = self.document(body.format(host="vcf-b"))
        saved = os.path.join(self.dir, "move.json")
        rc, out, err = engine("plan", doc, "--out", saved)
        self.assertEqual(rc, 0, err)
        with open(saved) as f:
            self.assertEqual(json.load(f)["connection"], "")
        rc, out, err = engine("apply", "--plan", saved)
        self.assertEqual(rc, 0, out + err)
        self.assert_only_on("vcf-saved", "vcf-b")
        rc, out, err = engine("apply", "--plan", saved)
        self.assertNotEqual(rc, 0)
        self.assertIn("changed since the plan was made", err)

    def test_observe_of_a_fleet_round_trips_to_a_no_op_plan(self):
        body = """pools:
  vcf-p: {type: dir, path: /var/lib/libvirt/vcf-p}
  vcf-only-b: {type: dir, path: /var/lib/libvirt/vcf-only-b, hosts: [vcf-b]}
volumes:
  vcf-p/vcf-v: {capacity: 8MiB, host: vcf-b}
domains:
  vcf-o1: {host: vcf-a, vcpus: 1, memory: 128MiB}
  vcf-o2: {host: vcf-b, vcpus: 1, memory: 128MiB, state: stopped, disks: [{volume: vcf-p/vcf-v, target: vda}]}
"""
        doc = self.document(body)
        self.apply(doc)
        rc, out, err = engine("observe", doc)
        self.assertEqual(rc, 0, err)
        self.assertIn("host: \"vcf-b\"", out)
        observed = os.path.join(self.dir, "observed.yaml")
        with open(observed, "w") as f:
            f.write(out)
        self.assert_no_changes(observed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
