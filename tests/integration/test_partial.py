"""Partial declarations on the real libvirtd (docs/document.md, "Partial declarations").

A domain, its volume and its pool are made with full declarations; then documents that declare
each of them with only the field they manage (just `vcpus`, just `autostart`, a pool's
`autostart`, a volume's `capacity`) change exactly that and nothing else, and plan clean
afterwards. A partial declaration of something that does not exist is refused by the plan with
"creating needs <field>" (exit 1, nothing created).

Objects are named vcpd- (not vct-: the other suites remove every vct- object), files live in
/tmp/vcpd-it; this suite removes exactly what it made."""

import json
import os
import unittest

from vctest import URI, check_plan_schema, remove, require_libvirtd, run, virsh

WORK = "/tmp/vcpd-it"
POOL = "vcpd-pool"
DOMAIN = "vcpd-dom"

FULL = f"""version: 1
pools:
  {POOL}: {{type: dir, path: {WORK}/images}}
volumes:
  {POOL}/root: {{format: qcow2, capacity: 32MiB}}
domains:
  {DOMAIN}:
    vcpus: 1
    max_vcpus: 4
    memory: 128MiB
    disks:
      - {{volume: {POOL}/root, target: vda}}
"""


def cleanup():
    remove(domains=(DOMAIN, "vcpd-new"), pools=(POOL,), dirs=(WORK,))


class PartialDeclarationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        cleanup()

    def setUp(self):
        os.makedirs(WORK, exist_ok=True)
        self.doc = os.path.join(WORK, "doc.yaml")

    def tearDown(self):
        cleanup()

    def engine(self, *args):
        return run([*args, "--connection", URI], timeout=300)

    def write(self, text):
        with open(self.doc, "w") as f:
            f.write(text)

    def apply(self, text):
        self.write(text)
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.engine("plan", self.doc, "--detailed-exitcode")
        self.assertEqual(rc, 0, "a second plan is not empty:\n" + out + err)
        return out

    def plan(self, text):
        self.write(text)
        rc, out, err = self.engine("plan", self.doc, "--format", "json")
        plan = json.loads(out)
        check_plan_schema(plan)
        return rc, plan

    def test_only_the_declared_fields_are_managed(self):
        self.apply(FULL)
        pid = virsh("domid", DOMAIN)

        # Just vcpus: hot-plugged, nothing else touched (memory, disks stay as they are).
        rc, plan = self.plan(f"version: 1\ndomains:\n  {DOMAIN}: {{vcpus: 2}}\n")
        self.assertEqual(rc, 0, plan)
        self.assertEqual([a["path"] for c in plan["changes"] for a in c["attributes"]], ["vcpus"])
        self.apply(f"version: 1\ndomains:\n  {DOMAIN}: {{vcpus: 2}}\n")
        self.assertIn("2", virsh("vcpucount", DOMAIN, "--live", "--current"))
        self.assertEqual(virsh("domid", DOMAIN), pid, "the guest was restarted")
        self.assertIn("vda", virsh("domblklist", DOMAIN))

        # Just autostart, of the domain and of the pool.
        self.apply(f"version: 1\npools:\n  {POOL}: {{autostart: true}}\n"
                   f"domains:\n  {DOMAIN}: {{autostart: true}}\n")
        self.assertRegex(virsh("dominfo", DOMAIN), r"Autostart:\s+enable")
        self.assertRegex(virsh("pool-info", POOL), r"Autostart:\s+yes")

        # Just a volume's capacity: grown live under the running guest.
        self.apply(f"version: 1\nvolumes:\n  {POOL}/root: {{capacity: 48MiB}}\n")
        self.assertRegex(virsh("domblkinfo", DOMAIN, "vda"), rf"Capacity:\s+{48 * 1024 * 1024}\b")

        # The full document still plans only what differs from it (vcpus and the capacity).
        rc, plan = self.plan(FULL)
        self.assertEqual(rc, 1, plan)  # shrinking the volume back is destructive: refused
        self.assertEqual(sorted(a["path"] for c in plan["changes"] for a in c["attributes"]),
                         ["capacity", "vcpus"])

    def test_creating_from_a_partial_declaration_is_refused_naming_the_field(self):
        rc, plan = self.plan(
            f"version: 1\npools:\n  {POOL}: {{autostart: true}}\n"
            f"volumes:\n  {POOL}/root: {{format: qcow2}}\n"
            "domains:\n  vcpd-new: {vcpus: 2}\n")
        self.assertEqual(rc, 1, plan)
        self.assertFalse(plan["applyable"])
        summaries = sorted(d["summary"] for d in plan["diagnostics"])
        self.assertEqual(summaries, [
            "domains.vcpd-new: creating needs memory",
            f"pools.{POOL}: creating needs type",
            f"volumes.{POOL}/root: creating needs capacity (or backing_volume)",
        ])
        self.assertTrue(all(d["code"] == "missing_field" for d in plan["diagnostics"]))
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("creating needs memory", out + err)
        self.assertNotIn("vcpd-new", virsh("list", "--all", "--name"))
        self.assertNotIn(POOL, virsh("pool-list", "--all", "--name"))


if __name__ == "__main__":
    unittest.main()
