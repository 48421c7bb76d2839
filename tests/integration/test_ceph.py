"""RBD images, RBD-backed disks and rbd pools on a real single-node Ceph cluster
(scripts/ceph-up.sh) and the real libvirtd."""

import json
import os
import re
import subprocess
import time
import unittest

import guest
from guest import Console
from vctest import URI, WORK, RealLibvirtTest, names, qemu_pid, run, saved_plan, virsh

CEPH_DIR = os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph")
CONF = os.path.join(CEPH_DIR, "ceph.conf")
LEAST_PRIVILEGE_CONF = os.path.join(CEPH_DIR, "ceph.virtconverge.conf")


def rbd(*args, check=True):
    p = subprocess.run(["rbd", "-c", CONF, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"rbd {' '.join(args)}: {p.stderr}")
    return p.stdout


def rbd_info(image):
    return json.loads(rbd("info", "--format", "json", image))


def admin_key():
    with open(os.path.join(CEPH_DIR, "ceph.client.admin.keyring")) as f:
        return re.search(r"key\s*=\s*(\S+)", f.read()).group(1)


def remove_test_images():
    """Every rbd/vct-* image: clones first, snapshots unprotected, then the image."""
    for _ in range(3):
        for image in json.loads(rbd("ls", "--format", "json", "rbd", check=False) or "[]"):
            if not image.startswith("vct-"):
                continue
            for snap in json.loads(rbd("snap", "ls", "--format", "json", f"rbd/{image}", check=False) or "[]"):
                rbd("snap", "unprotect", f"rbd/{image}@{snap['name']}", check=False)
            rbd("snap", "purge", f"rbd/{image}", check=False)
            rbd("rm", f"rbd/{image}", check=False)


HEADER = f"""version: 1
ceph:
  conf: {CONF}
  user: admin
"""

IMAGES = HEADER + """rbd_images:
  rbd/vct-golden:
    size: 256MiB
    features: [layering, exclusive-lock, object-map, fast-diff]
    snapshots: [base]
  rbd/vct-web1-root:
    clone_from: rbd/vct-golden@base
    size: 512MiB
  rbd/vct-web1-data:
    size: {data_size}
"""


class CephTest(RealLibvirtTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = subprocess.run(["ceph", "-c", CONF, "--connect-timeout", "5", "health"], capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("the Ceph cluster is not running: start it with scripts/ceph-up.sh\n" + p.stderr)
        remove_test_images()

    def tearDown(self):
        super().tearDown()  # domains first: they hold the images open
        remove_test_images()

    def images(self, data_size="128MiB"):
        return self.write("rbd.yaml", IMAGES.format(data_size=data_size))

    def test_images_clone_and_snapshot_and_a_second_apply_changes_nothing(self):
        path = self.images()
        # The plan shows every librbd operation, the parent's snapshot protection included.
        _, plan = saved_plan(path, URI)
        clone = next(c for c in plan["changes"] if c["address"] == "rbd_image.rbd/vct-web1-root")
        self.assertEqual([(s["op"], s["address"]) for s in clone["steps"]],
                         [("protect_snapshot", "rbd_image.rbd/vct-golden"), ("create", "rbd_image.rbd/vct-web1-root")])
        self.assertEqual(clone["steps"][0]["args"], {"snapshot": "base"})
        golden = next(c for c in plan["changes"] if c["address"] == "rbd_image.rbd/vct-golden")
        self.assertEqual([s["op"] for s in golden["steps"]], ["create", "create_snapshots"])
        rc, text, _ = run(["plan", path, "--connection", URI])
        self.assertIn("→ protect snapshot base of rbd_image.rbd/vct-golden", text)
        out = self.apply_ok(path)
        self.assertIn("protect snapshot base of rbd_image.rbd/vct-golden", out)
        self.assertIn("Apply: 3 of 3 resource(s) converged.", out)
        golden = rbd_info("rbd/vct-golden")
        self.assertEqual(golden["size"], 256 << 20)
        self.assertEqual(sorted(golden["features"]), ["exclusive-lock", "fast-diff", "layering", "object-map"])
        snaps = json.loads(rbd("snap", "ls", "--format", "json", "rbd/vct-golden"))
        self.assertEqual([s["name"] for s in snaps], ["base"])
        self.assertTrue(json.loads(rbd("info", "--format", "json", "rbd/vct-golden@base"))["protected"] == "true",
                        "a snapshot clones depend on is protected")
        root = rbd_info("rbd/vct-web1-root")
        self.assertEqual(root["parent"]["image"], "vct-golden")
        self.assertEqual(root["size"], 512 << 20, "grown after cloning")
        # Thin: a fresh image uses (almost) nothing of what it provisions.
        du = json.loads(rbd("du", "--format", "json", "rbd/vct-web1-data"))["images"][0]
        self.assertEqual(du["provisioned_size"], 128 << 20)
        self.assertLess(du["used_size"], 8 << 20)
        self.assertEqual(rbd("image-meta", "get", "rbd/vct-web1-data", "virtconverge.managed").strip(), "true")
        self.assert_no_changes(path)
        rc, observed, _ = run(["observe", "--connection", URI, "--ceph-conf", CONF])
        self.assertIn("rbd/vct-web1-root:", observed)
        self.assertIn('clone_from: "rbd/vct-golden@base"', observed)

    def test_grow_is_live_and_shrink_needs_allow_destroy(self):
        self.apply_ok(self.images())
        grown = self.images("192MiB")
        rc, out, _ = run(["plan", grown, "--connection", URI])
        self.assertIn("size 128MiB → 192MiB  (live: grow)", out)
        self.apply_ok(grown)
        self.assertEqual(rbd_info("rbd/vct-web1-data")["size"], 192 << 20)
        shrunk = self.images("64MiB")
        rc, out, err = run(["apply", shrunk, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("destructive change refused without --allow-destroy", out + err)
        self.assertEqual(rbd_info("rbd/vct-web1-data")["size"], 192 << 20, "nothing changed")
        self.apply_ok(shrunk, "--allow-destroy")
        self.assertEqual(rbd_info("rbd/vct-web1-data")["size"], 64 << 20)

    def test_features_toggle_in_dependency_order_and_impossible_ones_fail_clearly(self):
        self.apply_ok(self.images())
        doc = IMAGES.format(data_size="128MiB").replace(
            "features: [layering, exclusive-lock, object-map, fast-diff]", "features: [layering]")
        path = self.write("features.yaml", doc)
        rc, out, _ = run(["plan", path, "--connection", URI])
        self.assertIn("features [exclusive-lock, fast-diff, layering, object-map] → [layering]  (live:", out)
        self.apply_ok(path)
        self.assertEqual(rbd_info("rbd/vct-golden")["features"], ["layering"])
        self.apply_ok(self.images())  # and back on: exclusive-lock before object-map before fast-diff
        self.assertEqual(sorted(rbd_info("rbd/vct-golden")["features"]),
                         ["exclusive-lock", "fast-diff", "layering", "object-map"])
        # Ceph cannot turn layering off on an existing image: a clear error naming it.
        path = self.write("nolayering.yaml", doc.replace("features: [layering]", "features: [exclusive-lock]"))
        rc, out, err = run(["apply", path, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("disabling feature layering of rbd/vct-golden", out)

    def test_snapshots_are_added_and_clones_flatten(self):
        self.apply_ok(self.images())
        doc = IMAGES.format(data_size="128MiB").replace("snapshots: [base]", "snapshots: [base, before-upgrade]")
        doc = doc.replace("    size: 512MiB\n", "    size: 512MiB\n    flatten: true\n")
        path = self.write("more.yaml", doc)
        rc, out, _ = run(["plan", path, "--connection", URI])
        self.assertIn("snapshots [base] → [base, before-upgrade]", out)
        self.assertIn("flatten false → true  (live:", out)
        self.apply_ok(path)
        snaps = [s["name"] for s in json.loads(rbd("snap", "ls", "--format", "json", "rbd/vct-golden"))]
        self.assertEqual(sorted(snaps), ["base", "before-upgrade"])
        self.assertNotIn("parent", rbd_info("rbd/vct-web1-root"))
        self.assert_no_changes(path)

    def test_a_parent_with_clones_is_not_deleted(self):
        self.apply_ok(self.images())
        gone = self.write("gone.yaml", HEADER + "rbd_images:\n  rbd/vct-golden: {ensure: absent}\n")
        rc, out, err = run(["apply", gone, "--connection", URI, "--allow-destroy"])
        self.assertEqual(rc, 1)
        # The plan already refuses, so nothing is attempted.
        self.assertIn("rbd_image.rbd/vct-golden: cannot delete: the clone rbd/vct-web1-root depends on it", out + err)
        self.assertNotIn("Applying:", out)
        self.assertEqual(rbd_info("rbd/vct-golden")["size"], 256 << 20)
        both = self.write("both.yaml", HEADER + "rbd_images:\n  rbd/vct-web1-root: {ensure: absent}\n")
        self.apply_ok(both, "--allow-destroy")
        self.apply_ok(gone, "--allow-destroy")
        self.assertNotIn("vct-golden", rbd("ls", "rbd"))

    def test_wrong_key_is_a_clear_error_and_nothing_changes(self):
        wrong = subprocess.run(["ceph-authtool", "--gen-print-key"], capture_output=True, text=True).stdout.strip()
        bad_keyring = self.write("bad.keyring", f"[client.admin]\n\tkey = {wrong}\n")
        with open(CONF) as f:
            conf = re.sub(r"keyring = .*", f"keyring = {bad_keyring}", f.read())
        bad_conf = self.write("bad.conf", conf)
        doc = self.write("badkey.yaml", IMAGES.format(data_size="128MiB").replace(CONF, bad_conf))
        start = time.time()
        rc, out, err = run(["apply", doc, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("authentication failed (wrong key for client.admin?)", err)
        self.assertLess(time.time() - start, 10)
        self.assertNotIn("vct-golden", rbd("ls", "rbd"))

    def test_a_stopped_cluster_is_a_clear_error_within_ten_seconds(self):
        # A second cluster of our own, so stopping it disturbs nothing else.
        scripts = os.path.join(os.path.dirname(__file__), "../../scripts")
        env = dict(os.environ, VC_CEPH_DIR=os.path.join(WORK, "ceph2"), VC_CEPH_PORT_V1="16889",
                   VC_CEPH_PORT_V2="13389", VC_CEPH_PORT_MIN="16900")
        up = subprocess.run([os.path.join(scripts, "ceph-up.sh")], env=env, capture_output=True, text=True,
                            timeout=120)
        try:
            self.assertEqual(up.returncode, 0, up.stdout + up.stderr)
            conf2 = os.path.join(WORK, "ceph2", "ceph.conf")
            doc = self.write("two.yaml", HEADER.replace(CONF, conf2) + "rbd_images:\n  rbd/vct-two: {size: 32MiB}\n")
            self.apply_ok(doc)
        finally:
            down = subprocess.run([os.path.join(scripts, "ceph-down.sh")], env=dict(env, VC_CEPH_DIR=env["VC_CEPH_DIR"]),
                                  capture_output=True, text=True, timeout=120)
        self.assertIn("stopped mon.a", down.stdout)
        # The conf and keyring are gone with the cluster's directory: keep a copy of the conf.
        with open(CONF) as f:
            conf = re.sub(r"mon host = .*", "mon host = [v2:127.0.0.1:13389,v1:127.0.0.1:16889]", f.read())
        dead = self.write("dead.conf", conf)
        start = time.time()
        rc, out, err = run(["plan", self.write("dead.yaml", HEADER.replace(CONF, dead) +
                                               "rbd_images:\n  rbd/vct-two: {size: 32MiB}\n"),
                            "--connection", URI], timeout=60)
        self.assertEqual(rc, 1)
        self.assertIn("no answer from its monitors within 5 s (is the cluster up?)", err)
        self.assertLess(time.time() - start, 10)

    def test_a_clone_of_an_unknown_snapshot_is_refused_at_plan_time(self):
        self.apply_ok(self.images())
        doc = self.write("badsnap.yaml", HEADER + "rbd_images:\n  rbd/vct-c2: {clone_from: rbd/vct-golden@nosuch}\n")
        rc, out, err = run(["plan", doc, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("rbd_images.rbd/vct-c2.clone_from: snapshot nosuch is neither declared in rbd/vct-golden's "
                      "snapshots nor present", out + err)

    def test_ceph_conf_flag_stands_in_for_the_ceph_section(self):
        doc = self.write("noceph.yaml", "version: 1\nrbd_images:\n  rbd/vct-flag: {size: 32MiB}\n")
        rc, out, err = run(["plan", doc, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("rbd_images.rbd/vct-flag: rbd_images need the ceph: section (conf, user) or --ceph-conf",
                      out + err)
        self.apply_ok(doc, "--ceph-conf", CONF)
        self.assertEqual(rbd_info("rbd/vct-flag")["size"], 32 << 20)

    def test_least_privilege_client_manages_images(self):
        doc = HEADER.replace(CONF, LEAST_PRIVILEGE_CONF).replace("user: admin", "user: virtconverge")
        path = self.write("lp.yaml", doc + "rbd_images:\n  rbd/vct-lp: {size: 64MiB}\n")
        self.apply_ok(path)
        self.assertEqual(rbd_info("rbd/vct-lp")["size"], 64 << 20)
        self.assert_no_changes(path)

    def test_rbd_pool_in_libvirt_uses_the_secret_and_images_are_not_reported_twice(self):
        self.apply_ok(self.images())
        path = self.write("pool.yaml", HEADER + "pools:\n  vct-rbdpool: {type: rbd, ceph_pool: rbd}\n")
        self.apply_ok(path)
        self.assertIn("running", virsh("pool-info", "vct-rbdpool"))
        self.assertIn("vct-web1-data", virsh("vol-list", "vct-rbdpool"))
        self.assert_no_changes(path)
        rc, observed, _ = run(["observe", "--connection", URI, "--ceph-conf", CONF, "--format", "json"])
        doc = json.loads(observed)
        self.assertEqual(doc["pools"]["vct-rbdpool"], {"type": "rbd", "ceph_pool": "rbd", "autostart": True})
        self.assertFalse([v for v in doc["volumes"] if v.startswith("vct-rbdpool/")])
        self.assertIn("rbd/vct-web1-data", doc["rbd_images"])

    def test_prune_deletes_only_marked_images_and_only_with_the_allow(self):
        self.apply_ok(self.write("mine.yaml", HEADER + "rbd_images:\n  rbd/vct-prune-mine: {size: 16MiB}\n"))
        rbd("create", "--size", "16", "rbd/vct-prune-foreign")
        # The whole host as it is, without this test's images: what --prune compares against.
        rc, observed, err = run(["observe", "--format", "json", "--ceph-conf", CONF, "--connection", URI])
        self.assertEqual(rc, 0, err)
        doc = {"version": 1, "ceph": {"conf": CONF, "user": "admin"}}
        for section, resources in json.loads(observed).items():
            if isinstance(resources, dict):
                doc[section] = {k: v for k, v in resources.items()
                                if not k.startswith("vct-") and not k.startswith("rbd/vct-")}
        whole = self.write("whole.json", json.dumps(doc))
        rc, out, err = run(["apply", whole, "--prune", "--connection", URI])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("rbd_image.rbd/vct-prune-mine: destructive change refused without --allow-destroy",
                      out + err)
        self.assertIn("vct-prune-mine", rbd("ls", "rbd"), "a refused prune deleted the image")
        rc, out, err = run(["apply", whole, "--prune", "--allow-destroy", "--connection", URI])
        self.assertEqual(rc, 0, out + err)
        images = rbd("ls", "rbd").split()
        self.assertNotIn("vct-prune-mine", images)
        self.assertIn("vct-prune-foreign", images, "an image without virtconverge's mark is never pruned")

    def test_the_key_never_appears_in_plans_logs_or_output(self):
        key = admin_key()
        domain = """domains:
  vct-rbd1:
    vcpus: 1
    memory: 64MiB
    disks: [{rbd: rbd/vct-web1-data, target: vda}]
"""
        path = self.write("dom.yaml", IMAGES.format(data_size="128MiB") + domain)
        outputs = []
        for args in (["plan", path, "--format", "json"], ["apply", path, "--format", "json"], ["plan", path],
                     ["observe", "--ceph-conf", CONF]):
            rc, out, err = run([*args, "--connection", URI])
            self.assertEqual(rc, 0, out + err)
            outputs += [out, err]
        xml = virsh("dumpxml", "vct-rbd1", "--inactive")
        self.assertIn("<secret type='ceph' uuid=", xml)
        # No process shows the key on its command line (QEMU gets it through libvirt's secret,
        # encrypted with a per-domain master key), while the guest runs.
        cmdlines = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdlines.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass  # gone meanwhile
        self.assertTrue(any("qemu" in c and "vct-rbd1" in c for c in cmdlines), "the guest's QEMU was read")
        for text in outputs + [xml] + cmdlines:
            self.assertNotIn(key, text)
            self.assertNotIn(key[:20], text)
        self.assertEqual(virsh("domstate", "vct-rbd1"), "running", "QEMU reached the image with the secret")


class CephLiveGuestTest(RealLibvirtTest):
    """A TCG Linux guest gets an RBD disk live, and sees it grow live."""

    NAME = "vct-rbdguest"

    def setUp(self):
        super().setUp()
        remove_test_images()
        self.serial_log = guest.serial_log_path(self.NAME)
        kernel, initrd = guest.ensure_guest_images()
        xml = guest.guest_domain_xml(self.NAME, vcpus=1, max_vcpus=2, memory_mib=256, max_memory_mib=512,
                                     serial_log=self.serial_log, kernel=kernel, initrd=initrd)
        virsh("define", self.write("guest.xml", xml))
        virsh("start", self.NAME)
        self.console = Console(self.serial_log)
        self.console.wait_ready(timeout=120)
        self.first = self.console.wait_status(timeout=60)
        self.pid = qemu_pid(self.NAME)

    def tearDown(self):
        super().tearDown()
        remove_test_images()
        guest.remove_serial_log(self.serial_log)

    def doc(self, size, disks):
        return self.write("g.yaml", HEADER + f"""rbd_images:
  rbd/vct-gdisk: {{size: {size}}}
domains:
  {self.NAME}:
    vcpus: 1
    memory: 256MiB
    disks: {disks}
""")

    def test_rbd_disk_attached_and_grown_live(self):
        disks = "[{rbd: rbd/vct-gdisk, target: vdb}]"
        path = self.doc("64MiB", disks)
        rc, out, _ = run(["plan", path, "--connection", URI])
        self.assertIn("disks [] → [{rbd: rbd/vct-gdisk, target: vdb}]  (live: attach vdb)", out)
        self.apply_ok(path)
        s = self.console.wait_status(lambda s: "vda" in s["blk"], timeout=60, fresh=True, what="the RBD disk")
        self.assertEqual(s["blk"]["vda"].sectors, 64 * 2048)
        self.assertGreater(s["blk"]["vda"].discard_max, 0, "discard reaches the guest: freed blocks go back to Ceph")
        path = self.doc("96MiB", disks)
        rc, out, _ = run(["plan", path, "--connection", URI])
        self.assertIn("size 64MiB → 96MiB  (live: grow)", out)
        out = self.apply_ok(path)
        self.assertIn(f"tell domain.{self.NAME} that vdb is now 96MiB", out)
        s = self.console.wait_status(lambda s: s["blk"].get("vda") and s["blk"]["vda"].sectors == 96 * 2048,
                                     timeout=60, fresh=True, what="the grown RBD disk")
        self.assertEqual(s["boot"], self.first["boot"])
        self.assertEqual(qemu_pid(self.NAME), self.pid)
        self.assertEqual(rbd_info("rbd/vct-gdisk")["size"], 96 << 20)
        self.assert_no_changes(path)


if __name__ == "__main__":
    unittest.main()
