"""The test guest boots on the real libvirtd and sees live changes: vCPU hot-add, DIMM hot-add,
and the ACPI power button (virsh shutdown), all without a reboot."""

import os
import subprocess
import tempfile
import time
import unittest

import guest
from guest import Console, virsh

NAME = "vcg-smoke"


class GuestSmokeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        p = subprocess.run(["virsh", "-c", guest.URI, "version"], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("the real libvirtd is not running: start it with scripts/libvirtd-up.sh\n" + p.stderr)
        t = time.time()
        cls.kernel, cls.initrd = guest.ensure_guest_images()
        print(f"\nguest images ready in {time.time() - t:.1f} s: {cls.kernel} {cls.initrd}")

    def setUp(self):
        guest.remove_domain(NAME)   # leftovers of an interrupted run
        self.serial_log = guest.serial_log_path(NAME)
        self.tmp = tempfile.mkdtemp(prefix="vcg-smoke-")

    def tearDown(self):
        guest.remove_domain(NAME)
        guest.remove_serial_log(self.serial_log)
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_boot_hotplug_and_power_button(self):
        xml = guest.guest_domain_xml(NAME, vcpus=1, max_vcpus=4, memory_mib=256, max_memory_mib=1024,
                                     serial_log=self.serial_log, kernel=self.kernel, initrd=self.initrd)
        virsh("define", self.write("domain.xml", xml))
        console = Console(self.serial_log)

        t0 = time.time()
        virsh("start", NAME)
        console.wait_ready(timeout=120)
        boot_s = time.time() - t0
        first = console.wait_status(timeout=30)
        print(f"boot to GUEST-READY: {boot_s:.1f} s (guest uptime at first status {first['uptime']:.1f} s)")
        print(f"first status: {first['raw']}")
        self.assertEqual(first["online"], {0})
        self.assertEqual(first["blk"], {})
        self.assertEqual(first["net"], {})
        boot_id, mem0 = first["boot"], first["memtotal_kb"]

        # vCPU hot-add: the guest onlines the new CPU itself.
        t = time.time()
        virsh("setvcpus", NAME, "2", "--live")
        s = console.wait_status(lambda s: s["online"] == {0, 1}, timeout=60, what="2 online CPUs")
        print(f"setvcpus 2 --live: guest online={sorted(s['online'])} present={sorted(s['present'])} "
              f"after {time.time() - t:.1f} s")
        self.assertEqual(virsh("vcpucount", NAME, "--live", "--active"), "2")

        # DIMM hot-add: the kernel onlines it (memhp_default_state=online_movable).
        dimm = self.write("dimm.xml", "<memory model='dimm'><target><size unit='MiB'>256</size>"
                                      "<node>0</node></target></memory>")
        t = time.time()
        virsh("attach-device", NAME, dimm, "--live")
        s = console.wait_status(lambda s: s["memtotal_kb"] - mem0 >= 250 * 1024, timeout=60,
                                what="MemTotal to grow by ~256 MiB")
        grown = s["memtotal_kb"] - mem0
        print(f"DIMM 256 MiB: MemTotal {mem0} -> {s['memtotal_kb']} kB (+{grown} kB) after {time.time() - t:.1f} s")
        self.assertLessEqual(grown, 256 * 1024)

        s = console.wait_status(fresh=True, timeout=30)
        self.assertEqual(s["boot"], boot_id, "the guest rebooted")
        self.assertGreater(s["uptime"], first["uptime"])
        self.assertEqual(s["online"], {0, 1})

        # Graceful shutdown through the ACPI power button.
        t = time.time()
        virsh("shutdown", NAME)
        guest.wait_domstate(NAME, "shut off", timeout=60)
        print(f"virsh shutdown -> shut off in {time.time() - t:.1f} s")
        console.wait_line(r"GUEST: power button -> poweroff", timeout=5)


if __name__ == "__main__":
    unittest.main()
