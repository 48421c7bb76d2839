"""A booted Linux guest moved by editing host: (issue #11, point 6): the tiny test guest (TCG)
with its disk on the real Ceph cluster runs on vcf-a of a two-host fleet (tests/integration/
fleet.py starts both private libvirtd's and stops them by PID); changing its host: in the
document and applying migrates it live to vcf-b and back. Inside the guest, the boot id stays,
uptime continues, the ticker process started at boot (same PID) keeps counting, and its disk
still reads back what it writes. The source holds no domain afterwards.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fleet  # noqa: E402
from vctest import check_plan_schema  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("VC_BINARY", os.path.join(REPO, "build", "virtconverge"))
ENV = dict(os.environ, NO_COLOR="1")
NAME = "vcf-guest"


def engine(*args, timeout=300):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stdout, p.stderr


class FleetGuestTest(unittest.TestCase):
    def setUp(self):
        self.fleet = fleet.Fleet(log=lambda *a: None)
        self.fleet.start()
        self.addCleanup(self.fleet.close)
        self.dir = tempfile.mkdtemp(prefix="vcf-guest-")
        image = self.fleet.create_rbd_image()
        log = self.fleet.serial_log(NAME)
        self.fleet.a.define(fleet.guest_xml(NAME, image, log))
        self.fleet.a.virsh("start", NAME)
        self.console = fleet.GuestConsole(log)
        self.console.wait_ready(timeout=180)

    def document(self, host):
        path = os.path.join(self.dir, "fleet.yaml")
        with open(path, "w") as f:
            f.write("version: 1\nhosts:\n")
            for h in self.fleet.hosts:
                f.write(f"  {h.name}: {{connection: \"{h.uri}\"}}\n")
            f.write(f"domains:\n  {NAME}: {{host: {host}, vcpus: 1, memory: 256MiB}}\n")
        return path

    def move(self, to):
        before = self.console.wait_view(timeout=60)
        doc = self.document(to)
        rc, out, err = engine("plan", doc, "--format", "json")
        self.assertEqual(rc, 0, err)
        plan = json.loads(out)
        check_plan_schema(plan)
        self.assertEqual([(c["address"], c["action"], c["disruption"]) for c in plan["changes"]],
                         [(f"domain.{NAME}@{to}", "migrate", "live")])
        self.assertIn("memory only: every disk is on Ceph", plan["changes"][0]["attributes"][0]["reason"])
        rc, out, err = engine("apply", doc)
        self.assertEqual(rc, 0, out + err)
        measured = re.search(r"migrated to \S+ in ([0-9.]+) s, downtime ([0-9]+) ms", out)
        self.assertIsNotNone(measured, out)
        print(f"\n  engine migration to {to}: {measured.group(1)} s, downtime {measured.group(2)} ms",
              file=sys.stderr)
        after = self.console.wait_view(timeout=60, fresh=True, after=before)
        fleet.assert_continuity(before, after)
        for host in self.fleet.hosts:
            if host.name == to:
                self.assertEqual(host.domstate(NAME), "running")
                self.assertTrue(host.persistent(NAME))
            else:
                self.assertIsNone(host.domstate(NAME), f"{NAME} is still on {host.name}")
        rc, out, err = engine("plan", doc, "--format", "json")
        self.assertEqual(json.loads(out)["changes"], [])

    def test_a_running_linux_guest_on_ceph_moves_there_and_back_and_keeps_running(self):
        rc, out, err = engine("plan", self.document("vcf-a"), "--format", "json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["changes"], [])
        self.move("vcf-b")
        self.move("vcf-a")


if __name__ == "__main__":
    unittest.main(verbosity=2)
