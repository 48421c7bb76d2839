"""Adopting guests another tool made: virt-install (Debian's virtinst, a real client) on the real
libvirtd, as a new user would (issue 15, point 5; docs/adopting.md).

virt-install makes domains with the common options: --memory 256,maxmemory=1024 and --vcpus
1,maxvcpus=4, --cpu host-model (under TCG: nested KVM cannot run host-model guests here), a
qcow2 disk in a directory pool virt-install creates itself, a network; one left running, one
stopped. Then `observe | plan -` must find nothing to do: the running guest has no balloon
driver (no OS), so its memory stays at 1GiB while its config says 256MiB; that is shown as
pending (with the reason), never as a live change that fails every apply after a 15 s wait.
`observe | apply -` exits 0 at once and changes nothing. Partial declarations then take them
under management one field at a time (vcpus hot-plugged on the running one, written to the
stopped one's config), and the round trip stays clean.

Objects are named vcvi- (not vct-: the other suites remove every vct- object), files live in
/tmp/vcvi-it; this suite removes exactly what it made."""

import json
import os
import shutil
import subprocess
import time
import unittest

from vctest import URI, remove, require_libvirtd, run, virsh

WORK = "/tmp/vcvi-it"
POOL = "vcvi-pool"          # virt-install names the pool it creates after the directory
NETWORK = "vcvi-net"
RUNNING = "vcvi-run"
STOPPED = "vcvi-stop"


def virt_install(name):
    p = subprocess.run(
        ["virt-install", "--connect", URI, "--name", name, "--virt-type", "qemu",
         "--memory", "256,maxmemory=1024", "--vcpus", "1,maxvcpus=4", "--cpu", "host-model",
         "--import", "--disk",
         f"path={WORK}/{POOL}/{name}.qcow2,size=0.0625,format=qcow2,bus=virtio",
         "--network", f"network={NETWORK}", "--osinfo", "detect=on,require=off",
         "--graphics", "none", "--noautoconsole"],
        capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"virt-install {name} failed: {p.stdout}{p.stderr}")


def cleanup():
    remove(domains=(RUNNING, STOPPED), pools=(POOL,), networks=(NETWORK,), dirs=(WORK,))


class AdoptVirtInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        if shutil.which("virt-install") is None:
            raise AssertionError("virt-install is missing: scripts/install-deps.sh installs virtinst")
        cleanup()

    def setUp(self):
        os.makedirs(os.path.join(WORK, POOL), exist_ok=True)
        self.doc = os.path.join(WORK, "doc.yaml")

    def tearDown(self):
        cleanup()

    def engine(self, *args, stdin=None):
        return run([*args, "--connection", URI], stdin=stdin, timeout=300)

    def observe(self):
        rc, out, err = self.engine("observe")
        self.assertEqual(rc, 0, out + err)
        return out

    def assert_round_trip_is_clean(self):
        observed = self.observe()
        rc, out, err = self.engine("plan", "-", "--format", "json", "--detailed-exitcode",
                                   stdin=observed)
        self.assertEqual(rc, 0, "observe | plan - is not a no-op:\n" + out + err)
        return json.loads(out)

    def test_observe_plans_clean_and_partial_declarations_take_over(self):
        # A network with no addresses (isolated, no <ip>): made here, as virt-install expects one.
        with open(self.doc, "w") as f:
            f.write(f"version: 1\nnetworks:\n  {NETWORK}: {{mode: isolated}}\n")
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)
        virt_install(RUNNING)
        virt_install(STOPPED)
        virsh("destroy", STOPPED)
        self.assertIn(POOL, virsh("pool-list", "--all", "--name"))
        self.assertEqual(virsh("domstate", RUNNING), "running")

        plan = self.assert_round_trip_is_clean()
        self.assertEqual(plan["changes"], [])
        pending = {(p["address"], p["path"]): p for p in plan["pending"]}
        memory = pending.get((f"domain.{RUNNING}", "memory"))
        self.assertIsNotNone(memory, plan["pending"])
        self.assertEqual((memory["live"], memory["config"]), ("1GiB", "256MiB"))
        self.assertIn("balloon driver does not answer", memory["reason"])

        observed = self.observe()
        for name in (RUNNING, STOPPED):
            self.assertIn(f"  {name}:", observed)
        rc, out, err = self.engine("plan", "-", stdin=observed)
        self.assertIn("balloon driver does not answer", out)

        # Applying what observe printed: nothing to do, at once (no 15 s balloon wait).
        started = time.monotonic()
        rc, out, err = self.engine("apply", "-", stdin=observed)
        self.assertEqual(rc, 0, out + err)
        self.assertLess(time.monotonic() - started, 10, "apply waited for a balloon")
        self.assertEqual(virsh("dommemstat", RUNNING).splitlines()[0].split()[1], "1048576")

        # Take them under management one field at a time.
        pid = virsh("domid", RUNNING)
        with open(self.doc, "w") as f:
            f.write(f"version: 1\ndomains:\n  {RUNNING}: {{vcpus: 2}}\n  {STOPPED}: {{vcpus: 3}}\n")
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"hot-plug vCPUs of domain.{RUNNING} to 2", out)
        self.assertEqual(virsh("domid", RUNNING), pid, "the guest was restarted")
        self.assertEqual(virsh("vcpucount", RUNNING, "--live", "--current"), "2")
        self.assertEqual(virsh("vcpucount", STOPPED, "--config", "--current"), "3")
        self.assertEqual(virsh("domstate", STOPPED), "shut off")
        rc, out, err = self.engine("plan", self.doc, "--detailed-exitcode")
        self.assertEqual(rc, 0, out + err)
        self.assert_round_trip_is_clean()


if __name__ == "__main__":
    unittest.main()
