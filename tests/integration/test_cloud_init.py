"""cloud-init NoCloud seeds on the real libvirtd, proven from inside the tiny test guest.

The guest (tests/guest, TCG) is defined by hand (kernel boot, serial log, a virtio-scsi controller:
not document fields) and adopted by a document that declares its `cloud_init:`. The engine builds
the cidata image, writes it into a volume of a dir pool, attaches it as a read-only CD-ROM and
starts the guest, whose init mounts the CD-ROM and prints the meta-data's hostname
(GUEST-SEED hostname=...). A second plan is empty (the seed read back from the volume hashes the
same); a changed user-data and hostname is planned per attribute as a restart with the diff shown
and the password redacted, in the text and in the JSON plan; applied with the restart allowed,
the rebooted guest reports the new hostname.

Everything here is named vcc- and removed by this suite alone (other suites remove vct- objects).
"""

import json
import os
import subprocess
import unittest
import xml.etree.ElementTree as ET

import guest
from guest import Console
from vctest import URI, disruptions, qemu_img_info, remove, require_libvirtd, run, steps_of

NAME = "vcc-ci"
POOL = "vcc-cipool"
WORK = "/tmp/vcc-it/work"
SECRET1 = "vcc-first-Secret-4711"
SECRET2 = "vcc-second-Secret-0815"


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-q", "-c", URI] + list(args), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {p.stderr}")
    return p.stdout.strip()


GUESTS = ("vcc-g1", "vcc-g2")


def cleanup():
    remove(domains=(NAME,) + GUESTS, pools=(POOL,), dirs=(WORK,))


def document(*, hostname="vcc-seeded", secret=SECRET1, packages="[htop]", instance="vcc-1",
             on_change="restart", bus="scsi"):
    return f"""version: 1
pools:
  {POOL}: {{type: dir, path: {WORK}/images}}
domains:
  {NAME}:
    vcpus: 1
    memory: 256MiB
    state: running
    cloud_init:
      pool: {POOL}
      bus: {bus}
      user_data:
        users:
          - name: ops
            plain_text_passwd: {secret}
        packages: {packages}
      meta_data: {{instance_id: {instance}, local_hostname: {hostname}}}
      on_change: {on_change}
"""


class CloudInitSeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        cls.kernel, cls.initrd = guest.ensure_guest_images()

    def setUp(self):
        cleanup()
        os.makedirs(WORK, exist_ok=True)
        os.chmod(WORK, 0o755)
        self.serial_log = guest.serial_log_path(NAME)
        xml = guest.guest_domain_xml(NAME, vcpus=1, max_vcpus=1, memory_mib=256, max_memory_mib=512,
                                     serial_log=self.serial_log, kernel=self.kernel, initrd=self.initrd)
        dom = ET.fromstring(xml)
        ET.SubElement(dom.find("devices"), "controller", type="scsi", model="virtio-scsi")
        virsh("define", self.write("guest.xml", ET.tostring(dom, encoding="unicode")))

    def tearDown(self):
        cleanup()
        guest.remove_serial_log(self.serial_log)

    def write(self, name, text):
        path = os.path.join(WORK, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def plan(self, path, *extra):
        rc, out, err = run(["plan", path, "--connection", URI, *extra])
        self.assertIn(rc, (0, 2), out + err)
        return out

    def apply(self, path, *extra):
        rc, out, err = run(["apply", path, "--connection", URI, *extra])
        self.assertEqual(rc, 0, f"apply failed:\n{out}\n{err}")
        return out

    def test_the_guest_boots_with_its_seed_and_a_change_is_a_redacted_restart(self):
        path = self.write("ci.yaml", document())
        text = self.plan(path)
        self.assertIn("write the cloud-init seed of domain." + NAME, text)
        self.assertNotIn(SECRET1, text)
        plan = json.loads(self.plan(path, "--format", "json"))
        self.assertNotIn(SECRET1, json.dumps(plan))
        seeds = steps_of(plan, "write_seed")
        self.assertEqual(len(seeds), 1)
        self.assertEqual(seeds[0]["args"]["volume"], f"{NAME}-cidata.iso")
        self.assertRegex(seeds[0]["args"]["seed"], r"^sha256:[0-9a-f]{64}$")
        out = self.apply(path)
        self.assertNotIn(SECRET1, out)

        # The volume and the read-only CD-ROM in the domain's XML.
        self.assertIn(f"{NAME}-cidata.iso", virsh("vol-list", POOL))
        disk = [d for d in ET.fromstring(virsh("dumpxml", "--inactive", NAME)).iter("disk")
                if d.get("device") == "cdrom"]
        self.assertEqual(len(disk), 1)
        self.assertEqual(disk[0].find("source").get("volume"), f"{NAME}-cidata.iso")
        self.assertEqual(disk[0].find("source").get("pool"), POOL)
        self.assertIsNotNone(disk[0].find("readonly"))

        # The guest finds the cidata CD-ROM and reports the hostname of its meta-data.
        console = Console(self.serial_log)
        line = console.wait_line(r"GUEST-SEED hostname=", timeout=180)
        self.assertIn("GUEST-SEED hostname=vcc-seeded instance=vcc-1", line)

        # observe reads the seed back and shows it with the password redacted.
        rc, out, err = run(["observe", "--format", "json", "--connection", URI])
        self.assertEqual(rc, 0, err)
        observed = json.loads(out)
        seed = observed.get("document", observed)["domains"][NAME]["cloud_init"]
        self.assertEqual(seed["meta_data"], {"instance_id": "vcc-1", "local_hostname": "vcc-seeded"})
        self.assertIn("plain_text_passwd: (redacted)", seed["user_data"])
        self.assertNotIn(SECRET1, out)

        # Read back from the volume, the seed hashes the same: nothing to do.
        rc, out, err = run(["plan", path, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("No changes", out)

        # A new password, a new package and a new hostname: per attribute, a restart, the
        # user-data diff shown with the password redacted, never the secret itself.
        changed = self.write("ci2.yaml", document(hostname="vcc-renamed", secret=SECRET2,
                                                  packages="[htop, curl]", instance="vcc-2"))
        text = self.plan(changed)
        self.assertIn("cloud_init.user_data <text, 6 lines> → <text, 7 lines>  (needs restart: "
                      "cloud-init reads its seed at boot)", text)
        self.assertIn("cloud_init.meta_data {instance_id: vcc-1, local_hostname: vcc-seeded} → "
                      "{instance_id: vcc-2, local_hostname: vcc-renamed}  (needs restart", text)
        self.assertIn("        +  - curl\n", text)
        # The password changed: its line shows as changed, redacted on both sides.
        self.assertIn("        -    plain_text_passwd: (redacted)\n", text)
        self.assertIn("        +    plain_text_passwd: (redacted)\n", text)
        plan = json.loads(self.plan(changed, "--format", "json"))
        dumped = json.dumps(plan)
        for secret in (SECRET1, SECRET2):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, dumped)
        paths = disruptions(plan)
        self.assertEqual(paths.get("cloud_init.user_data"), "restart", paths)
        self.assertEqual(paths.get("cloud_init.meta_data"), "restart", paths)

        # Applied without the restart: the seed volume is rewritten, the guest keeps running on
        # the seed it booted with, and every later plan says so (pending, not a change).
        pid = virsh("domid", NAME)
        out = self.apply(changed)
        self.assertEqual(virsh("domid", NAME), pid, "the guest was restarted")
        plan = json.loads(self.plan(changed, "--format", "json"))
        self.assertEqual(plan["changes"], [])
        self.assertIn({"address": f"domain.{NAME}", "path": "cloud_init",
                       "live": "the seed it booted with", "config": "the seed written since",
                       "reason": "cloud-init reads its seed at boot"}, plan["pending"])

        # Applied with the restart allowed: the rebooted guest reads the new seed.
        console = Console(self.serial_log, from_end=True)
        out = self.apply(changed, "--allow-restart")
        for secret in (SECRET1, SECRET2):
            self.assertNotIn(secret, out)
        line = console.wait_line(r"GUEST-SEED hostname=", timeout=180)
        self.assertIn("GUEST-SEED hostname=vcc-renamed instance=vcc-2", line)
        rc, out, err = run(["plan", changed, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0, out + err)

        # on_change: next_boot, the instance id kept: the seed is rewritten in place, classed
        # live, not restarted even with the restart allowed, and nothing is pending after.
        later = self.write("ci3.yaml", document(hostname="vcc-later", secret=SECRET2,
                                                packages="[htop, curl]", instance="vcc-2",
                                                on_change="next_boot"))
        plan = json.loads(self.plan(later, "--format", "json"))
        paths = disruptions(plan)
        self.assertEqual(paths, {"cloud_init.meta_data": "live"})
        seeds = steps_of(plan, "write_seed")
        self.assertEqual([s["args"]["mark_pending"] for s in seeds], [False])
        self.assertIn("read by cloud-init at the guest's next boot (on_change: next_boot)",
                      self.plan(later))
        pid = virsh("domid", NAME)
        self.apply(later, "--allow-restart")
        self.assertEqual(virsh("domid", NAME), pid, "the guest was restarted")
        rc, out, err = run(["plan", later, "--connection", URI, "--detailed-exitcode",
                            "--allow-restart"])
        self.assertEqual(rc, 0, out + err)
        plan = json.loads(self.plan(later, "--format", "json"))
        self.assertEqual(plan["pending"], [])
        # Its next boot (here: forced off and started by hand) reads the new seed.
        console = Console(self.serial_log, from_end=True)
        virsh("destroy", NAME)
        virsh("start", NAME)
        line = console.wait_line(r"GUEST-SEED hostname=", timeout=180)
        self.assertIn("GUEST-SEED hostname=vcc-later instance=vcc-2", line)

        # A new instance id is a new guest identity: a restart even with next_boot.
        renewed = self.write("ci4.yaml", document(hostname="vcc-later", secret=SECRET2,
                                                  packages="[htop, curl]", instance="vcc-3",
                                                  on_change="next_boot"))
        plan = json.loads(self.plan(renewed, "--format", "json"))
        paths = disruptions(plan)
        self.assertEqual(paths, {"cloud_init.meta_data": "restart"})

    def test_a_seed_on_an_ide_cdrom_is_found(self):
        # IDE (machine type pc): the guest's ata_piix driver finds the CD-ROM as sr0.
        path = self.write("ide.yaml", document(bus="ide", hostname="vcc-ide"))
        self.apply(path)
        disk = [d for d in ET.fromstring(virsh("dumpxml", "--inactive", NAME)).iter("disk")
                if d.get("device") == "cdrom"]
        self.assertEqual([d.find("target").get("bus") for d in disk], ["ide"])
        line = Console(self.serial_log).wait_line(r"GUEST-SEED hostname=", timeout=180)
        self.assertIn("GUEST-SEED hostname=vcc-ide instance=vcc-1", line)
        rc, out, err = run(["plan", path, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0, out + err)

    def test_one_document_brings_up_guests_from_one_image_each_with_its_own_seed(self):
        # Two guests (defined by hand for their kernel boot), each on a qcow2 overlay of one
        # golden volume and each with its own seed: one apply, and each reports its own hostname.
        logs = {}
        for name in GUESTS:
            logs[name] = guest.serial_log_path(name)
            self.addCleanup(guest.remove_serial_log, logs[name])
            virsh("define", self.write(f"{name}.xml", guest.guest_domain_xml(
                name, vcpus=1, max_vcpus=1, memory_mib=192, max_memory_mib=384,
                serial_log=logs[name], kernel=self.kernel, initrd=self.initrd)))
        doc = f"""version: 1
pools:
  {POOL}: {{type: dir, path: {WORK}/images}}
volumes:
  {POOL}/golden: {{format: qcow2, capacity: 16MiB}}
"""
        for name in GUESTS:
            doc += f"""  {POOL}/{name}-root: {{format: qcow2, capacity: 16MiB, backing_volume: {POOL}/golden}}
"""
        doc += "domains:\n"
        for i, name in enumerate(GUESTS):
            doc += f"""  {name}:
    disks: [{{volume: {POOL}/{name}-root, target: vda}}]
    state: running
    cloud_init:
      pool: {POOL}
      bus: ide
      user_data: {{packages: [htop]}}
      meta_data: {{instance_id: {name}-1, local_hostname: {name}.example}}
"""
        path = self.write("guests.yaml", doc)
        self.apply(path)
        for name in GUESTS:
            line = Console(logs[name]).wait_line(r"GUEST-SEED hostname=", timeout=180)
            self.assertIn(f"GUEST-SEED hostname={name}.example instance={name}-1", line)
            info = qemu_img_info(os.path.join(WORK, "images", f"{name}-root"), "-U")
            self.assertEqual(info["backing-filename"], os.path.join(WORK, "images", "golden"))
            # The guest sees its overlay disk.
            guest.Console(logs[name]).wait_status(lambda st: "vda" in st["blk"], timeout=60)
        rc, out, err = run(["plan", path, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main()
