"""Backups and restores on the real libvirtd (docs/backup.md).

A running no-OS guest (KVM) with a qcow2 data volume made through the engine. Patterns are written
into its disk through the running QEMU (HMP qemu-io on the guest's own block backend, so the
checkpoint's dirty bitmap sees them); a full backup, a second pattern, an incremental backup that
must be much smaller; then both points are restored into new volumes and read back with qemu-io.
Also the refusals: stopped or unknown domain, a directory that cannot be made, --incremental with
nothing to build on, a qcow2 v2 disk, a restore onto an existing volume. A guest with an RBD disk
(real Ceph) beside its volume: the RBD disk is copied in full by every backup.

Objects are named vcb- (not vct-: the other suites remove every vct- object) and live in
/tmp/vcb-it; this suite removes exactly what it made."""

import hashlib
import json
import os
import re
import subprocess
import unittest

from vctest import (CEPH_CONF, URI, qemu_img_info, remove, require_ceph, require_libvirtd, run,
                    virsh)

WORK = "/tmp/vcb-it"
POOL = "vcb-bpool"
DOMAIN = "vcb-bdom"
MIB = 1024 * 1024


def document(state):
    return f"""version: 1
pools:
  {POOL}: {{type: dir, path: {WORK}/images}}
volumes:
  {POOL}/data: {{format: qcow2, capacity: 64MiB}}
domains:
  {DOMAIN}:
    vcpus: 1
    memory: 128MiB
    disks:
      - volume: {POOL}/data
        target: vda
    state: {state}
"""


def volumes():
    """The volumes of the suite's pool (virsh 9.0's vol-list has no --name)."""
    out = virsh("vol-list", POOL, check=False)
    return sorted(line.split()[0] for line in out.splitlines() if line.split())


def cleanup():
    remove(domains=(DOMAIN,), pools=(POOL,), dirs=(WORK,))


def qemu_io(image, command):
    """Runs one qemu-io command on a (not running) image; (exit code, output)."""
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", command, image],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BackupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_libvirtd()
        cleanup()

    def setUp(self):
        os.makedirs(WORK, exist_ok=True)
        os.chmod(WORK, 0o755)
        self.backups = os.path.join(WORK, "backups")
        self.doc = os.path.join(WORK, "doc.yaml")

    def tearDown(self):
        cleanup()

    def apply(self, state):
        with open(self.doc, "w") as f:
            f.write(document(state))
        rc, out, err = run(["apply", self.doc, "--connection", URI])
        self.assertEqual(rc, 0, out + err)

    def engine(self, *args):
        return run([*args, "--connection", URI], timeout=300)

    def refused(self, expected, *args):
        """The command exits 1 with `expected` (a regex) in its error, and left nothing behind."""
        before = self.state()
        rc, out, err = self.engine(*args)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, expected)
        self.assertEqual(self.state(), before, "a refused command changed something")
        return err

    def state(self):
        files = {}
        for root, _, names in os.walk(WORK):
            for n in names:
                path = os.path.join(root, n)
                if n != "doc.yaml":
                    files[path] = os.path.getsize(path)
        checkpoints = virsh("checkpoint-list", DOMAIN, "--name", check=False) \
            if DOMAIN in virsh("list", "--all", "--name").split() else ""
        return files, checkpoints, volumes()

    def backend(self):
        """The guest disk's block backend, as HMP's qemu-io -d wants it."""
        out = virsh("qemu-monitor-command", DOMAIN, "--hmp", "info block")
        m = re.search(r"Attached to:\s+(\S+)", out)
        self.assertIsNotNone(m, out)
        return m.group(1)

    def guest_write(self, pattern, offset, length):
        """Writes through the running QEMU (its own block backend: the dirty bitmap sees it)."""
        out = virsh("qemu-monitor-command", DOMAIN, "--hmp",
                    f'qemu-io -d {self.backend()} "write -P {pattern} {offset} {length}"')
        self.assertEqual(out.strip(), "", out)  # HMP's qemu-io prints only errors

    def manifest(self):
        with open(os.path.join(self.backups, "virtconverge-backup.json")) as f:
            return json.load(f)

    def test_full_incremental_and_restore_of_both_points(self):
        self.apply("stopped")
        self.refused(r"domain vcb-bdom is not running", "backup", DOMAIN, "--to", self.backups)
        self.assertFalse(os.path.exists(self.backups))
        self.refused(r"domain vcb-nobody: Domain not found", "backup", "vcb-nobody", "--to", self.backups)

        image = os.path.join(WORK, "images", "data")
        # The engine makes qcow2 volumes v3 (compat 1.1), which can hold a checkpoint's bitmap.
        self.assertEqual(qemu_img_info(image)["format-specific"]["data"]["compat"], "1.1")
        # A v2 image (libvirt's own default, or made by another tool) cannot: refused, with the
        # fix named, nothing left.
        subprocess.run(["qemu-img", "amend", "-f", "qcow2", "-o", "compat=0.10", image],
                       check=True, timeout=60)
        self.apply("running")
        self.refused(r"qcow2 v3.*qemu-img amend", "backup", DOMAIN, "--to", self.backups)
        self.assertFalse(os.path.exists(self.backups))  # made for the backup, removed again
        virsh("destroy", DOMAIN)
        subprocess.run(["qemu-img", "amend", "-f", "qcow2", "-o", "compat=1.1", image],
                       check=True, timeout=60)
        virsh("start", DOMAIN)

        self.refused(r"--incremental: backup directory .* holds no backup of vcb-bdom",
                     "backup", DOMAIN, "--to", self.backups, "--incremental")
        not_a_dir = os.path.join(WORK, "a-file")
        with open(not_a_dir, "w") as f:
            f.write("x")
        self.refused(r"backup directory .*a-file/sub cannot be made", "backup", DOMAIN, "--to",
                     os.path.join(not_a_dir, "sub"))
        os.remove(not_a_dir)

        # Pattern 1, full backup.
        self.guest_write("0xab", 0, "4M")
        rc, out, err = self.engine("backup", DOMAIN, "--to", self.backups)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(err, r"64\.0 MiB of 64\.0 MiB \(100%\)")  # progress
        self.assertIn("checkpoint vc-full-", out)
        full = self.manifest()["backups"][0]
        self.assertEqual(full["kind"], "full")
        self.assertEqual(virsh("checkpoint-list", DOMAIN, "--name").split(), [full["checkpoint"]])

        # Pattern 2 elsewhere, incremental backup: only the changed blocks.
        self.guest_write("0xcd", 32 * MIB, "1M")
        rc, out, err = self.engine("backup", DOMAIN, "--to", self.backups, "--incremental")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("on top of " + full["name"], out)
        backups = self.manifest()["backups"]
        self.assertEqual(len(backups), 2)
        inc = backups[1]
        self.assertEqual((inc["kind"], inc["parent"], inc["parent_checkpoint"]),
                         ("incremental", full["name"], full["checkpoint"]))
        full_disk, inc_disk = full["disks"][0], inc["disks"][0]
        self.assertEqual((inc_disk["target"], inc_disk["mode"]), ("vda", "incremental"))
        self.assertEqual(full["processed"], 64 * MIB)
        self.assertEqual(inc["processed"], 1 * MIB)
        self.assertLess(inc_disk["file_size"] * 2, full_disk["file_size"],
                        f"incremental {inc_disk['file_size']} B is not much smaller than full "
                        f"{full_disk['file_size']} B")
        for b in backups:
            self.assertEqual(os.path.getsize(os.path.join(self.backups, b["disks"][0]["file"])),
                             b["disks"][0]["file_size"])
        print(f"\nfull backup {full_disk['file_size']} B, incremental {inc_disk['file_size']} B")

        # Restore both points into new volumes and read the patterns back.
        rc, out, err = self.engine("restore", "--from", self.backups, "--backup", full["name"],
                                   "--disk", "vda", "--to", f"{POOL}/restored-full")
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.engine("restore", "--from", self.backups, "--disk", "vda",
                                   "--to", f"{POOL}/restored-inc")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("backup " + inc["name"], out)
        restored_full = virsh("vol-path", "restored-full", "--pool", POOL)
        restored_inc = virsh("vol-path", "restored-inc", "--pool", POOL)

        self.assertEqual(qemu_io(restored_full, "read -P 0xab 0 4M")[0], 0)
        self.assertEqual(qemu_io(restored_full, "read -P 0 32M 1M")[0], 0)
        rc, out = qemu_io(restored_full, "read -P 0xcd 32M 1M")
        self.assertIn("Pattern verification failed", out)
        self.assertEqual(qemu_io(restored_inc, "read -P 0xab 0 4M")[0], 0)
        self.assertEqual(qemu_io(restored_inc, "read -P 0xcd 32M 1M")[0], 0)
        self.assertEqual(qemu_io(restored_inc, "read -P 0 4M 28M")[0], 0)
        info = qemu_img_info(restored_inc)
        self.assertEqual(info["virtual-size"], 64 * MIB)
        self.assertNotIn("backing-filename", info)

        # Never overwrites: the existing volume is untouched.
        digest = sha256(restored_full)
        self.refused(r"volume vcb-bpool/restored-full exists; restore never overwrites",
                     "restore", "--from", self.backups, "--disk", "vda", "--to",
                     f"{POOL}/restored-full")
        self.assertEqual(sha256(restored_full), digest)
        self.refused(r"backup vcb-none is not in", "restore", "--from", self.backups,
                     "--backup", "vcb-none", "--disk", "vda", "--to", f"{POOL}/vcb-x")
        self.refused(r"has no disk vdz", "restore", "--from", self.backups, "--disk", "vdz",
                     "--to", f"{POOL}/vcb-x")


class RbdBackupTest(BackupTest):
    """A guest with a qcow2 volume (vda) and an RBD image (vdb) on the real Ceph cluster: the RBD
    disk cannot carry a checkpoint bitmap, so every backup copies it in full, in the same job as
    the volume's incremental one; restored into a volume, it reads back what was written."""

    test_full_incremental_and_restore_of_both_points = None  # BackupTest's, run there once
    IMAGE = "rbd/vcb-rbd"
    CONF = CEPH_CONF

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_ceph()
        cls.remove_image()

    @classmethod
    def remove_image(cls):
        subprocess.run(["rbd", "-c", cls.CONF, "rm", cls.IMAGE], capture_output=True, timeout=120)

    def tearDown(self):
        super().tearDown()
        self.remove_image()

    def apply(self, state):
        with open(self.doc, "w") as f:
            f.write(document(state).replace("version: 1\n", f"""version: 1
ceph: {{conf: {self.CONF}, user: admin}}
rbd_images:
  {self.IMAGE}: {{size: 32MiB}}
""").replace("        target: vda\n", f"""        target: vda
      - rbd: {self.IMAGE}
        target: vdb
"""))
        rc, out, err = run(["apply", self.doc, "--connection", URI])
        self.assertEqual(rc, 0, out + err)

    def backends(self):
        out = virsh("qemu-monitor-command", DOMAIN, "--hmp", "info block")
        found = dict((("vd" + "ab"[int(m.group(2))]), m.group(1))
                     for m in re.finditer(r"Attached to:\s+(\S*virtio-disk(\d)\S*)", out))
        self.assertEqual(sorted(found), ["vda", "vdb"], out)
        return found

    def write(self, target, pattern, offset, length):
        out = virsh("qemu-monitor-command", DOMAIN, "--hmp",
                    f'qemu-io -d {self.backends()[target]} "write -P {pattern} {offset} {length}"')
        self.assertEqual(out.strip(), "", out)

    def restore(self, disk, volume):
        """Restores `disk` of the directory's last backup into a new volume; returns its path."""
        rc, out, err = self.engine("restore", "--from", self.backups, "--disk", disk,
                                   "--to", f"{POOL}/{volume}")
        self.assertEqual(rc, 0, out + err)
        return virsh("vol-path", volume, "--pool", POOL)

    def test_an_rbd_disk_is_copied_in_full_beside_an_incremental_volume(self):
        self.apply("running")
        self.write("vda", "0x11", 0, "1M")
        self.write("vdb", "0x21", 0, "1M")
        rc, out, err = self.engine("backup", DOMAIN, "--to", self.backups)
        self.assertEqual(rc, 0, out + err)
        self.write("vda", "0x12", 16 * MIB, "1M")
        self.write("vdb", "0x22", 8 * MIB, "1M")
        rc, out, err = self.engine("backup", DOMAIN, "--to", self.backups, "--incremental")
        self.assertEqual(rc, 0, out + err)
        full, inc = self.manifest()["backups"]
        modes = {d["target"]: (d["mode"], d["checkpoint"]) for d in inc["disks"]}
        self.assertEqual(modes, {"vda": ("incremental", True), "vdb": ("full", False)})
        self.assertEqual({d["target"]: d["mode"] for d in full["disks"]},
                         {"vda": "full", "vdb": "full"})
        # The checkpoint tracks the volume only.
        self.assertEqual(virsh("checkpoint-list", DOMAIN, "--name").split(),
                         [full["checkpoint"], inc["checkpoint"]])

        restored = self.restore("vdb", "restored-rbd")
        self.assertEqual(qemu_io(restored, "read -P 0x21 0 1M")[0], 0)
        self.assertEqual(qemu_io(restored, "read -P 0x22 8M 1M")[0], 0)
        self.assertEqual(qemu_io(restored, "read -P 0 1M 7M")[0], 0)
        self.assertEqual(qemu_img_info(restored)["virtual-size"], 32 * MIB)
        restored = self.restore("vda", "restored-vol")
        self.assertEqual(qemu_io(restored, "read -P 0x11 0 1M")[0], 0)
        self.assertEqual(qemu_io(restored, "read -P 0x12 16M 1M")[0], 0)


class FrontEndBackupTest(BackupTest):
    """The same backup through `serve` and the HTTP server (docs/backup.md)."""

    test_full_incremental_and_restore_of_both_points = None  # BackupTest's, run there once

    def test_serve_and_the_http_api_take_backups_and_refuse_what_they_must(self):
        self.apply("running")
        self.guest_write("0xab", 0, "4M")
        # serve: a full, then an incremental backup, each answered with its record.
        target = os.path.join(WORK, "serve-backups")
        lines = [{"id": 1, "command": "backup", "backup": {"domain": DOMAIN, "to": target},
                  "options": {"connection": URI}},
                 {"id": 2, "command": "backup", "backup": {"domain": DOMAIN, "to": target,
                                                           "incremental": True}},
                 {"id": 3, "command": "backup", "backup": {"domain": DOMAIN, "to": "relative/dir"}},
                 {"id": 4, "command": "backup", "backup": {"domain": DOMAIN, "to": target, "bogus": 1}},
                 {"id": 5, "command": "plan", "backup": {"domain": DOMAIN, "to": target}},
                 {"id": 6, "command": "version"}]
        rc, out, err = run(["serve"], stdin="".join(json.dumps(l) + "\n" for l in lines), timeout=300)
        self.assertEqual(rc, 0, err)
        answers = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([a["id"] for a in answers], [1, 2, 3, 4, 5, 6])
        self.assertTrue(answers[0]["ok"], answers[0])
        self.assertEqual(answers[0]["result"]["backup"]["kind"], "full")
        self.assertTrue(answers[1]["ok"], answers[1])
        self.assertEqual(answers[1]["result"]["backup"]["kind"], "incremental")
        self.assertEqual(answers[1]["result"]["backup"]["parent"], answers[0]["result"]["backup"]["name"])
        for bad in answers[2:5]:
            self.assertFalse(bad["ok"], bad)
        self.assertIn("backup.to", answers[2]["error"])
        self.assertEqual(answers[3]["code"], "unknown_field")
        self.assertTrue(answers[5]["ok"], "the session goes on")
        with open(os.path.join(target, "virtconverge-backup.json")) as f:
            self.assertEqual(len(json.load(f)["backups"]), 2)

        # The HTTP server: only under --backup-dir, a plain name, with the token.
        import http.client
        import socket
        token = "vcb-token-" + os.urandom(8).hex()
        token_file = os.path.join(WORK, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        os.chmod(token_file, 0o600)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        root = os.path.join(WORK, "http-backups")
        os.makedirs(root)
        log = open(os.path.join(WORK, "server.log"), "w")
        server = subprocess.Popen([os.environ.get("VC_BINARY", "../../build/virtconverge"), "server",
                                   "--listen", f"127.0.0.1:{port}", "--token-file", token_file,
                                   "--connection", URI, "--backup-dir", root, "--drift-interval", "0"],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            def post(body, auth=token):
                for _ in range(100):
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                        conn.request("POST", "/v1/backups", body=json.dumps(body),
                                     headers={"Authorization": "Bearer " + auth,
                                              "Content-Type": "application/json"})
                        r = conn.getresponse()
                        answer = r.status, json.loads(r.read())
                        conn.close()
                        return answer
                    except ConnectionRefusedError:
                        import time
                        time.sleep(0.1)
                raise AssertionError("the server did not answer")
            status, answer = post({"domain": DOMAIN, "name": "nightly"}, auth="wrong-" + token)
            self.assertEqual(status, 401)
            self.assertEqual(os.listdir(root), [])
            status, answer = post({"domain": DOMAIN, "name": "../escape"})
            self.assertEqual(status, 400, answer)
            self.assertIn("name", answer["error"]["message"])
            status, answer = post({"domain": DOMAIN, "name": "nightly"})
            self.assertEqual(status, 201, answer)
            self.assertEqual(answer["backup"]["kind"], "full")
            status, answer = post({"domain": DOMAIN, "name": "nightly", "incremental": True})
            self.assertEqual(status, 201, answer)
            self.assertEqual(answer["backup"]["kind"], "incremental")
            self.assertEqual(sorted(os.listdir(root)), ["nightly"])
            status, answer = post({"domain": "vcb-nobody", "name": "other"})
            self.assertEqual(status, 404, answer)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    unittest.main()
