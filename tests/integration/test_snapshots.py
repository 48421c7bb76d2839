"""Declared domain snapshots on the real libvirtd and the real Ceph cluster (docs/snapshots.md).

A running no-OS guest (KVM) with a qcow2 volume (vda) and an RBD image (vdb). Patterns are written
into both disks through the running QEMU (HMP qemu-io on each disk's own block backend), so every
snapshot's point in time holds a known pattern:

  0x11 -> snapshot s1 -> 0x22 -> snapshot s2 -> 0x33

Then: s1 deleted while the guest runs (block commit of the middle overlay; the RBD snapshot
removed), refused first without --allow-destroy; the guest stopped and its disks read (0x33);
`revert` to s2 (0x22 on both disks, the volume's overlay fresh); s2 deleted while stopped (qemu-img
commit, the disk back on its volume, still 0x22). Every step is checked on the host itself
(overlay files, `rbd snap ls`, virsh domstate) and by a second plan that finds nothing to do.
The refusals of `revert` (running without --allow-restart, later snapshots without
--allow-destroy, an unknown snapshot) change nothing.

Objects are named vcsn- (not vct-: the other suites remove every vct- object), files live in
/tmp/vcsn-it; this suite removes exactly what it made."""

import fcntl
import json
import os
import re
import subprocess
import time
import unittest

import guest
from vctest import (BINARY, CEPH_CONF, URI, check_plan_schema, qemu_img_info, remove,
                    require_ceph, require_libvirtd, run, steps_of, virsh)

WORK = "/tmp/vcsn-it"
POOL = "vcsn-pool"
DOMAIN = "vcsn-dom"
IMAGE = "rbd/vcsn-disk"
CONF = CEPH_CONF
CHUNK = 65536


def document(snapshots, state="running"):
    listed = ", ".join(snapshots)
    return f"""version: 1
ceph:
  conf: {CONF}
  user: admin
pools:
  {POOL}: {{type: dir, path: {WORK}/images}}
volumes:
  {POOL}/data: {{format: qcow2, capacity: 64MiB}}
rbd_images:
  {IMAGE}: {{size: 64MiB}}
domains:
  {DOMAIN}:
    vcpus: 1
    memory: 128MiB
    disks:
      - {{volume: {POOL}/data, target: vda}}
      - {{rbd: {IMAGE}, target: vdb}}
    state: {state}
    snapshots: [{listed}]
"""


def rbd(*args, check=True):
    p = subprocess.run(["rbd", "-c", CONF, *args], capture_output=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"rbd {' '.join(args)}: {p.stderr.decode()}")
    return p.stdout


def rbd_snapshots(image=IMAGE):
    out = rbd("snap", "ls", "--format", "json", image, check=False)
    return sorted(s["name"] for s in json.loads(out or b"[]"))


def files(work=WORK):
    images = os.path.join(work, "images")
    return sorted(os.listdir(images)) if os.path.isdir(images) else []


def cleanup(domain=DOMAIN, pool=POOL, work=WORK, image=IMAGE):
    remove(domains=(domain,), pools=(pool,), dirs=(work,))
    if rbd("info", image, check=False):
        rbd("snap", "purge", image, check=False)
        rbd("rm", image, check=False)



class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        require_ceph()
        cleanup()

    def setUp(self):
        os.makedirs(WORK, exist_ok=True)
        os.chmod(WORK, 0o755)
        self.doc = os.path.join(WORK, "doc.yaml")

    def tearDown(self):
        cleanup()

    def write_doc(self, snapshots, state="running"):
        with open(self.doc, "w") as f:
            f.write(document(snapshots, state))

    def engine(self, *args):
        return run([*args, "--connection", URI], timeout=300)

    def apply(self, snapshots, *flags, state="running"):
        self.write_doc(snapshots, state)
        # The no-OS guest never answers ACPI: a short wait before it is forced off.
        rc, out, err = self.engine("apply", self.doc, "--shutdown-timeout", "2", *flags)
        self.assertEqual(rc, 0, out + err)
        return out

    def plan_json(self, *flags):
        rc, out, err = self.engine("plan", self.doc, "--format", "json", *flags)
        self.assertEqual(rc, 0, out + err)
        plan = json.loads(out)
        check_plan_schema(plan)
        return plan

    def assert_converged(self):
        rc, out, err = self.engine("plan", self.doc, "--detailed-exitcode")
        self.assertEqual(rc, 0, "a second plan is not empty:\n" + out + err)

    def host(self):
        """What a refused command must leave as it was."""
        return files(), rbd_snapshots(), virsh("domstate", DOMAIN), virsh("dumpxml", DOMAIN)

    def observed_snapshots(self):
        rc, out, err = self.engine("observe", "--format", "json")
        self.assertEqual(rc, 0, out + err)
        return json.loads(out)["domains"][DOMAIN].get("snapshots", [])

    def backends(self):
        """{target: block backend} of the running guest, as HMP's qemu-io -d wants them."""
        out = virsh("qemu-monitor-command", DOMAIN, "--hmp", "info block")
        found = {}
        for m in re.finditer(r"Attached to:\s+(\S*virtio-disk(\d)\S*)", out):
            found["vd" + "ab"[int(m.group(2))]] = m.group(1)
        self.assertEqual(sorted(found), ["vda", "vdb"], out)
        return found

    def guest_write(self, pattern):
        for target, backend in self.backends().items():
            out = virsh("qemu-monitor-command", DOMAIN, "--hmp",
                        f'qemu-io -d {backend} "write -P {pattern} 0 {CHUNK}"')
            self.assertEqual(out.strip(), "", f"{target}: {out}")

    def read_stopped(self):
        """The first bytes of each disk of the stopped guest: (vda's chain, the RBD image)."""
        xml = virsh("dumpxml", "--inactive", DOMAIN)
        source = re.search(r"<target dev='vda'", xml)
        self.assertIsNotNone(source, xml)
        top = re.findall(r"<source (?:file='([^']+)'|pool='([^']+)' volume='([^']+)')", xml)[0]
        path = top[0] or os.path.join(WORK, "images", top[2])
        p = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", f"read -v 0 16", path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        vda = int(p.stdout.split()[1], 16)
        exported = subprocess.run(["rbd", "-c", CONF, "export", IMAGE, "-"], capture_output=True,
                                  timeout=120)
        self.assertEqual(exported.returncode, 0, exported.stderr.decode())
        return vda, exported.stdout[0], path

    def test_take_delete_live_revert_and_delete_stopped(self):
        self.apply([])
        self.guest_write("0x11")

        # Adding a name takes the snapshot: the plan says how it is made consistent.
        self.write_doc(["s1"])
        plan = self.plan_json()
        taken = steps_of(plan, "snapshot_domain")
        self.assertEqual(len(taken), 1, plan)
        self.assertEqual(taken[0]["args"]["consistency"], "pause",
                         "the no-OS guest has no agent: it is paused, not quiesced")
        self.assertEqual(sorted(d["target"] for d in taken[0]["args"]["disks"]), ["vda", "vdb"])
        rc, text, err = self.engine("plan", self.doc)
        self.assertIn("paused while its disks are snapshotted", text)
        out = self.apply(["s1"])
        self.assertIn("snapshot s1 of domain." + DOMAIN, out)
        self.assertEqual(virsh("domstate", DOMAIN), "running", "the guest was left paused")
        self.assertIn("data@s1", files())
        self.assertEqual(rbd_snapshots(), ["vcsnap-s1"])
        self.assertEqual(self.observed_snapshots(), ["s1"])
        self.assert_converged()

        self.guest_write("0x22")
        self.apply(["s1", "s2"])
        self.assertEqual(rbd_snapshots(), ["vcsnap-s1", "vcsnap-s2"])
        self.guest_write("0x33")

        # Removing a name deletes the snapshot: destructive, refused without the allow.
        self.write_doc(["s2"])
        before = self.host()
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("destructive change refused without --allow-destroy", out + err)
        self.assertEqual(self.host(), before, "a refused apply changed something")
        out = self.apply(["s2"], "--allow-destroy")
        self.assertIn("delete snapshot s1", out)
        self.assertNotIn("data@s1", files())
        self.assertIn("data@s2", files())
        self.assertEqual(rbd_snapshots(), ["vcsnap-s2"])
        self.assertEqual(virsh("domstate", DOMAIN), "running")
        self.assertEqual(self.observed_snapshots(), ["s2"])
        self.assert_converged()

        # Reverting is a command: refused on a running guest without --allow-restart, for an
        # unknown snapshot; nothing changes.
        before = self.host()
        rc, out, err = self.engine("revert", DOMAIN, "s2", "--ceph-conf", CONF)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("--allow-restart", err)
        rc, out, err = self.engine("revert", DOMAIN, "s9", "--allow-restart", "--ceph-conf", CONF)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("has no snapshot s9", err)
        self.assertEqual(self.host(), before, "a refused revert changed something")

        # Stopped: every disk holds what was written last.
        self.apply(["s2"], state="stopped")
        vda, vdb, top = self.read_stopped()
        self.assertEqual((vda, vdb), (0x33, 0x33))
        self.assertTrue(top.endswith("data@s2"), top)

        # Revert to s2: both disks back to 0x22, the snapshot kept.
        rc, out, err = self.engine("revert", DOMAIN, "s2", "--ceph-conf", CONF)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Reverted " + DOMAIN + " to snapshot s2", out)
        self.assertEqual(self.read_stopped()[:2], (0x22, 0x22))
        self.assertEqual(rbd_snapshots(), ["vcsnap-s2"])
        self.assert_converged()

        # Deleting s2 of the stopped guest: merged (qemu-img), the disk back on its volume.
        self.write_doc([], state="stopped")
        plan = self.plan_json("--allow-destroy")
        self.assertEqual(steps_of(plan, "delete_domain_snapshot")[0]["args"]["running"], False)
        self.apply([], "--allow-destroy", state="stopped")
        self.assertEqual(files(), ["data"])
        self.assertEqual(rbd_snapshots(), [])
        vda, vdb, top = self.read_stopped()
        self.assertEqual((vda, vdb), (0x22, 0x22))
        self.assertEqual(os.path.basename(top), "data")
        self.assertEqual(self.observed_snapshots(), [])
        self.assert_converged()

        # And it starts again on its volume.
        self.apply([], state="running")
        self.assertEqual(virsh("domstate", DOMAIN), "running")

    def test_revert_refuses_to_drop_later_snapshots_without_the_allow(self):
        self.apply(["s1", "s2"], state="stopped")
        before = self.host()
        rc, out, err = self.engine("revert", DOMAIN, "s1", "--ceph-conf", CONF)
        self.assertEqual(rc, 1, out + err)
        self.assertIn('drops the snapshots taken after it (["s2"]); pass --allow-destroy', err)
        self.assertEqual(self.host(), before)
        rc, out, err = self.engine("revert", DOMAIN, "s1", "--allow-destroy", "--ceph-conf", CONF,
                                   "--shutdown-timeout", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.observed_snapshots(), ["s1"])
        self.assertEqual(rbd_snapshots(), ["vcsnap-s1"])
        self.assertEqual(sorted(files()), ["data", "data@s1"])

    def test_a_record_virtconverge_did_not_write_is_never_acted_on(self):
        # Someone rewrote the record to point at a file of the host: observe still works (the
        # domain says what is wrong), and neither a plan nor revert acts on it.
        self.apply(["s1"], state="stopped")
        hostile = ('<snapshots><snapshot name="s1" consistency="stopped" created="x">'
                   '<disk target="vda" overlay="/etc/hostname" backing="/etc" format="raw"/>'
                   '</snapshot></snapshots>')
        virsh("metadata", DOMAIN, "https://virtconverge.dev/xmlns/snapshots/1", "--key",
              "vcsnap", "--set", hostile, "--config")
        before = self.host()
        rc, out, err = self.engine("observe", "--format", "json")
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("snapshots", json.loads(out)["domains"][DOMAIN])
        self.write_doc(["s1", "s2"], state="stopped")
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(f"domains.{DOMAIN}: its snapshot record is not one virtconverge writes",
                      out + err)
        self.assertIn("overlay '/etc/hostname'", out + err)
        rc, out, err = self.engine("revert", DOMAIN, "s1", "--allow-destroy", "--ceph-conf", CONF)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("its snapshot record is not one virtconverge writes, so it is not acted on", err)
        self.assertEqual(self.host(), before, "a bad record was acted on")
        self.assertTrue(os.path.exists("/etc/hostname"))

    def test_two_reverts_at_once_take_turns(self):
        # Each takes the host's lock (cli/host_lock.h). The test holds it first, in a lock
        # directory of its own: both reverts wait, nothing changes; released, they run one after
        # the other (the second reverts the already reverted disks again).
        self.apply(["s1", "s2"], state="stopped")
        lock_dir = os.path.join(WORK, "locks")
        os.makedirs(lock_dir)
        digest, readable = 0xcbf29ce484222325, ""
        for c in URI.encode():
            digest = ((digest ^ c) * 0x100000001b3) % (1 << 64)
            readable += chr(c) if chr(c).isalnum() or chr(c) in ".-" else "_"
        lock = open(os.path.join(lock_dir, f"host-{readable}-{digest:016x}.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = self.host()
        command = [BINARY, "revert", DOMAIN, "s1", "--allow-destroy", "--ceph-conf", CONF,
                   "--connection", URI]
        env = dict(os.environ, VIRTCONVERGE_LOCK_DIR=lock_dir)
        procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for _ in range(2)]
        time.sleep(3)
        self.assertEqual([p.poll() for p in procs], [None, None], "a revert did not wait")
        self.assertEqual(self.host(), before, "a revert ran while the lock was held")
        lock.close()  # releases it
        results = [(p.wait(timeout=300), p.stdout.read() + p.stderr.read()) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        self.assertEqual([rc for rc, _ in results], [0, 0], results)
        self.assertEqual(self.observed_snapshots(), ["s1"])
        self.assertEqual(rbd_snapshots(), ["vcsnap-s1"])
        self.assertEqual(sorted(files()), ["data", "data@s1"])
        info = qemu_img_info(os.path.join(WORK, "images", "data@s1"))
        self.assertEqual(info["backing-filename"], os.path.join(WORK, "images", "data"))
        self.write_doc(["s1"], state="stopped")
        self.assert_converged()

    def test_deleting_the_domain_merges_its_snapshots_so_its_disks_keep_the_latest_writes(self):
        self.apply(["s1"])
        self.guest_write("0x44")
        doc = document(["s1"]).replace("    vcpus: 1\n", "    ensure: absent\n    vcpus: 1\n")
        with open(self.doc, "w") as f:
            f.write(doc)
        before = self.host()
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("its snapshots (s1) are merged into its disks and deleted", out + err)
        self.assertEqual(self.host(), before, "a refused apply changed something")
        rc, out, err = self.engine("apply", self.doc, "--allow-destroy", "--shutdown-timeout", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn(DOMAIN, virsh("list", "--all", "--name").split())
        self.assertEqual(files(), ["data"])
        self.assertEqual(rbd_snapshots(), [])
        p = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 0 16",
                            os.path.join(WORK, "images", "data")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(int(p.stdout.split()[1], 16), 0x44, p.stdout + p.stderr)
        exported = subprocess.run(["rbd", "-c", CONF, "export", IMAGE, "-"], capture_output=True,
                                  timeout=120)
        self.assertEqual(exported.stdout[0], 0x44)


class QuiescedSnapshotTest(unittest.TestCase):
    """The tiny Linux guest (TCG) with a guest agent channel runs Debian's qemu-ga and has an ext4
    file system mounted from its volume disk; its agent's fsfreeze hook reports each freeze and
    thaw on the serial console. A snapshot of its volume and RBD disks is planned "quiesce" and
    taken inside exactly one freeze/thaw of the guest's file systems."""

    DOMAIN = "vcsn-qga"
    POOL = "vcsn-qpool"
    WORK = "/tmp/vcsn-qga"
    IMAGE = "rbd/vcsn-qdisk"

    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        require_ceph()
        cls.kernel, cls.initrd = guest.ensure_guest_images()

    def setUp(self):
        self.names = dict(domain=self.DOMAIN, pool=self.POOL, work=self.WORK, image=self.IMAGE)
        cleanup(**self.names)
        os.makedirs(self.WORK, exist_ok=True)
        os.chmod(self.WORK, 0o755)
        self.doc = os.path.join(self.WORK, "doc.yaml")
        self.serial_log = guest.serial_log_path(self.DOMAIN)

    def tearDown(self):
        cleanup(**self.names)
        guest.remove_serial_log(self.serial_log)

    def document(self, snapshots, with_domain=True):
        text = f"""version: 1
ceph:
  conf: {CONF}
  user: admin
pools:
  {self.POOL}: {{type: dir, path: {self.WORK}/images}}
volumes:
  {self.POOL}/data: {{format: qcow2, capacity: 64MiB}}
rbd_images:
  {self.IMAGE}: {{size: 64MiB}}
"""
        if with_domain:
            text += f"""domains:
  {self.DOMAIN}:
    disks:
      - {{volume: {self.POOL}/data, target: vda}}
      - {{rbd: {self.IMAGE}, target: vdb}}
    state: running
    snapshots: [{", ".join(snapshots)}]
"""
        with open(self.doc, "w") as f:
            f.write(text)

    def engine(self, *args):
        return run([*args, "--connection", URI], timeout=300)

    def agent_connected(self):
        return re.search(r"name=.org\.qemu\.guest_agent\.0. state=.connected",
                         virsh("dumpxml", self.DOMAIN)) is not None

    def start_guest(self):
        """The disks first, then the guest defined by hand (kernel boot, serial log, the agent's
        channel: not document fields), adopted by a document that declares its disks; returns
        once its file system is mounted and its agent connected."""
        self.document([], with_domain=False)
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)
        xml = guest.guest_domain_xml(self.DOMAIN, vcpus=1, max_vcpus=1, memory_mib=256,
                                     max_memory_mib=512, serial_log=self.serial_log,
                                     kernel=self.kernel, initrd=self.initrd, agent=True,
                                     cmdline_extra="vc_fs=vda")
        path = os.path.join(self.WORK, "guest.xml")
        with open(path, "w") as f:
            f.write(xml)
        virsh("define", path)
        self.document([])
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)

        console = guest.Console(self.serial_log)
        console.wait_line(r"GUEST-FS vda on /data", timeout=180)
        deadline = time.monotonic() + 60
        while not self.agent_connected():
            self.assertLess(time.monotonic(), deadline, "the guest agent never connected")
            time.sleep(0.5)
        fsinfo = virsh("domfsinfo", self.DOMAIN)
        self.assertRegex(fsinfo, r"/data\s+\S+\s+ext4\s+vda", "the agent sees no file system")

    def host(self):
        return files(self.WORK), rbd_snapshots(self.IMAGE), virsh("domstate", self.DOMAIN)

    def agent(self, command, **arguments):
        out = virsh("qemu-agent-command", self.DOMAIN,
                    json.dumps({"execute": command, "arguments": arguments}))
        return json.loads(out)["return"]

    def test_a_guest_whose_agent_answers_is_frozen_for_the_snapshot(self):
        self.start_guest()
        self.document(["q1"])
        rc, out, err = self.engine("plan", self.doc, "--format", "json")
        self.assertEqual(rc, 0, out + err)
        plan = json.loads(out)
        check_plan_schema(plan)
        taken = steps_of(plan, "snapshot_domain")
        self.assertEqual(len(taken), 1, plan)
        self.assertEqual(taken[0]["args"]["consistency"], "quiesce")
        rc, text, err = self.engine("plan", self.doc)
        self.assertIn("file systems frozen by the guest agent", text)

        console = guest.Console(self.serial_log, from_end=True)
        rc, out, err = self.engine("apply", self.doc)
        self.assertEqual(rc, 0, out + err)
        console.wait_line(r"GUEST-FSFREEZE freeze", timeout=30)
        console.wait_line(r"GUEST-FSFREEZE thaw", timeout=30)
        # Exactly one freeze and one thaw: both disks were snapshotted inside one freeze.
        events = re.findall(r"GUEST-FSFREEZE (\w+)", "\n".join(console.lines))
        self.assertEqual(events, ["freeze", "thaw"], console.tail())
        self.assertIn("data@q1", files(self.WORK))
        self.assertEqual(rbd_snapshots(self.IMAGE), ["vcsnap-q1"])
        self.assertEqual(virsh("domstate", self.DOMAIN), "running")
        # The guest goes on: its file system thawed, it still reports.
        console.wait_status(fresh=True, timeout=30)
        rc, out, err = self.engine("plan", self.doc, "--detailed-exitcode")
        self.assertEqual(rc, 0, "a second plan is not empty:\n" + out + err)

    def test_a_stuck_agent_fails_the_snapshot_within_its_deadline_and_takes_nothing(self):
        self.start_guest()
        # The guest's fsfreeze hook hangs from now on (tests/guest/build-guest.sh).
        handle = self.agent("guest-file-open", path="/var/run/vc-freeze-hang", mode="w")
        self.agent("guest-file-close", handle=handle)
        self.document(["q1"])
        before = self.host()
        started = time.monotonic()
        rc, out, err = self.engine("apply", self.doc)
        took = time.monotonic() - started
        self.assertEqual(rc, 1, out + err)
        self.assertIn("freezing the file systems of domain " + self.DOMAIN, out + err)
        self.assertIn("virsh domfsthaw " + self.DOMAIN, out + err)
        # 30 s for the freeze, up to 5 s for libvirt's sync before the thaw, and the run itself.
        self.assertLess(took, 60, "the apply waited for the stuck agent")
        self.assertEqual(self.host(), before, "a snapshot was taken without its freeze")
        rc, out, err = self.engine("observe", "--format", "json")
        self.assertEqual(json.loads(out)["domains"][self.DOMAIN].get("snapshots", []), [])


if __name__ == "__main__":
    unittest.main()
