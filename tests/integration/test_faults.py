"""Faults on the real parts (issue #10, point 7): a private real libvirtd (scripts/host-up.sh, its
own mount namespace, sockets and state) is killed or stopped while the engine works on it, and a
libvirt secret is removed behind the engine's back. The shared daemon is never touched."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from vctest import BINARY

SCRIPTS = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../scripts"))
HOSTS_DIR = os.environ.get("VC_HOSTS_DIR", "/tmp/vc-hosts")
WORK = os.environ.get("VC_FAULTS_WORK", "/tmp/vct-faults")
CEPH_CONF = os.path.join(os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph"), "ceph.conf")
LOCK_DIR = os.path.join(WORK, "locks")
ENV = dict(os.environ, NO_COLOR="1", VIRTCONVERGE_LOCK_DIR=LOCK_DIR)

# The engine must notice a dead or stopped daemon itself: these bound every wait in this file.
PLAN_DEADLINE = 40
APPLY_DEADLINE = 60
LOST = re.compile(r"connection_lost|connection to libvirtd\b.*\blost|lost (the )?connection", re.I)
VOLUMES = [f"v{i}" for i in range(1, 7)]


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


class PrivateHost:
    """One private libvirtd started by scripts/host-up.sh; its PID and URI as the script records them."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(HOSTS_DIR, name)

    def up(self):
        p = subprocess.run([os.path.join(SCRIPTS, "host-up.sh"), self.name], capture_output=True, text=True,
                           timeout=90)
        if p.returncode != 0:
            raise AssertionError(f"host-up.sh {self.name} failed:\n{p.stdout}{p.stderr}")
        with open(os.path.join(self.dir, "uri")) as f:
            self.uri = f.read().strip()
        return self

    def down(self):
        p = subprocess.run([os.path.join(SCRIPTS, "host-down.sh"), self.name], capture_output=True, text=True,
                           timeout=90)
        if p.returncode != 0:
            raise AssertionError(f"host-down.sh {self.name} failed:\n{p.stdout}{p.stderr}")

    @property
    def pid(self):
        with open(os.path.join(self.dir, "pids")) as f:
            return int(f.readline())

    def signal(self, sig):
        os.kill(self.pid, sig)

    def virsh(self, *args, check=True):
        p = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"virsh -c {self.uri} {' '.join(args)} failed: {p.stderr}")
        return p.stdout.strip()

    def names(self, *args):
        return sorted(line.split()[0] for line in self.virsh(*args).splitlines() if line.strip())


def engine(*args, timeout=120, stdin=None):
    """Runs the engine to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([BINARY, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stdout, p.stderr


class Running:
    """The engine running in the background, its standard output read line by line as it comes."""

    def __init__(self, *args):
        self.started = time.monotonic()
        self.proc = subprocess.Popen([BINARY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=ENV)
        self.lines, self.err, self.fresh = [], [], queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.lines, True), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False), daemon=True)]
        for t in self._readers:
            t.start()

    def _read(self, stream, into, announce):
        for line in stream:
            into.append(line)
            if announce:
                self.fresh.put(line)
        if announce:
            self.fresh.put(None)

    def wait_line(self, predicate, timeout):
        """The first standard output line for which predicate holds; None if the engine ended first."""
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.fresh.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching output line within {timeout} s; so far:\n{self.out}")
            if line is None or predicate(line):
                return line

    def finish(self, timeout):
        """Waits for the engine to end: (exit code, seconds since start); exit code None if it was
        still running after `timeout` seconds (it is killed then)."""
        try:
            rc = self.proc.wait(timeout=max(0.0, self.started + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        for t in self._readers:
            t.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, time.monotonic() - self.started

    @property
    def out(self):
        return "".join(self.lines)

    @property
    def output(self):
        return "".join(self.lines) + "".join(self.err)


def site(images):
    volumes = "".join(f"  vct-flt-pool/{v}: {{capacity: 16MiB}}\n" for v in VOLUMES)
    return f"""version: 1
pools:
  vct-flt-pool: {{type: dir, path: {images}}}
networks:
  vct-flt-net: {{mode: isolated}}
volumes:
{volumes}domains:
  vct-flt-a:
    vcpus: 1
    memory: 64MiB
    disks: [{{volume: vct-flt-pool/v1, target: vda}}]
    interfaces: [{{network: vct-flt-net}}]
    state: stopped
  vct-flt-b:
    vcpus: 1
    memory: 64MiB
    disks: [{{volume: vct-flt-pool/v2, target: vda}}]
    state: stopped
"""


class PrivateHostTest(unittest.TestCase):
    """Each test gets a host of its own, removed again (whatever state it was left in)."""

    def setUp(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        self.work = os.path.join(WORK, self.id().split(".")[-1])
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)
        self.addCleanup(shutil.rmtree, self.work, True)
        self.host = PrivateHost("vct-f-" + self.id().split(".")[-1].replace("test_", "")[:24].rstrip("_"))
        self.host.down()  # left over from an interrupted run
        self.addCleanup(self.host.down)
        self.host.up()
        self.images = os.path.join(self.work, "images")
        self.doc = os.path.join(self.work, "site.yaml")
        with open(self.doc, "w") as f:
            f.write(site(self.images))

    def apply_ok(self, *extra):
        rc, out, err = engine("apply", self.doc, "--connection", self.host.uri, *extra)
        self.assertEqual(rc, 0, f"apply failed:\n{out}{err}")
        return out

    def assert_no_changes(self):
        rc, out, err = engine("plan", self.doc, "--connection", self.host.uri, "--detailed-exitcode")
        self.assertEqual(rc, 0, f"expected no changes:\n{out}{err}")

    def assert_converged_once(self):
        """A rerun converges, the plan after it is empty, and every object exists exactly once."""
        self.apply_ok("--parallelism", "1")
        self.assert_no_changes()
        h = self.host
        self.assertEqual(h.names("pool-list", "--all", "--name"), ["vct-flt-pool"])
        self.assertEqual(h.names("vol-list", "vct-flt-pool"), VOLUMES)
        self.assertEqual(sorted(os.listdir(self.images)), VOLUMES, "no stray volume files")
        self.assertEqual(h.names("net-list", "--all", "--name"), ["vct-flt-net"])
        self.assertEqual(h.names("list", "--all", "--name"), ["vct-flt-a", "vct-flt-b"])

    def restart_host(self):
        """host-up.sh on the existing state dirs: the same host, a new daemon."""
        old = self.host.pid
        self.host.up()
        self.assertNotEqual(self.host.pid, old)


class LibvirtdKilledTest(PrivateHostTest):
    def test_killed_mid_apply_reports_the_lost_connection_and_a_rerun_converges(self):
        apply = Running("apply", self.doc, "--connection", self.host.uri, "--parallelism", "1")
        # The first progress line: the pool exists; the volumes, network and domains are still to come.
        first = apply.wait_line(lambda l: l.startswith("  pool.vct-flt-pool:"), timeout=60)
        self.assertIsNotNone(first, f"apply ended before its first step:\n{apply.output}")
        self.host.signal(signal.SIGKILL)
        rc, took = apply.finish(APPLY_DEADLINE)
        self.assertIsNotNone(rc, f"apply still running {APPLY_DEADLINE} s after libvirtd was killed:\n{apply.output}")
        self.assertEqual(rc, 1, apply.output)
        report = apply.out[apply.out.index("Applying:"):] + "".join(apply.err)
        self.assertRegex(report, LOST, "the error must say the connection to libvirtd was lost")
        # Every call after the kill failed for the same reason: none may pass for an ordinary
        # failure (libvirt says "End of file while reading data" to the first caller and
        # "client socket is closed" to the next ones).
        failed = re.findall(r"^  \S+: FAILED \((\w+)\)", report, re.M)
        self.assertTrue(failed, report)
        self.assertEqual(sorted(set(failed) - {"skipped"}), ["connection_lost"], report)
        self.restart_host()
        self.assertEqual(self.host.names("pool-list", "--all", "--name"), ["vct-flt-pool"], "state survived")
        self.assert_converged_once()

    def test_killed_mid_apply_gives_connection_lost_in_json_outcomes(self):
        apply = Running("apply", self.doc, "--connection", self.host.uri, "--parallelism", "1", "--format", "json")
        # JSON shows no progress: the first volume file in the pool's directory is the signal.
        end = time.monotonic() + 60
        while not (os.path.isdir(self.images) and os.listdir(self.images)):
            self.assertIsNone(apply.proc.poll(), f"apply ended before creating a volume:\n{apply.output}")
            self.assertLess(time.monotonic(), end, "no volume created within 60 s")
            time.sleep(0.002)
        self.host.signal(signal.SIGKILL)
        rc, took = apply.finish(APPLY_DEADLINE)
        self.assertIsNotNone(rc, f"apply still running {APPLY_DEADLINE} s after libvirtd was killed:\n{apply.output}")
        self.assertEqual(rc, 1, apply.output)
        result = json.loads(apply.out)
        outcomes = (result.get("apply") or {}).get("outcomes", [])
        failed = {o["address"]: o["code"] for o in outcomes if not o["ok"] and o["code"] != "skipped"}
        if result.get("error"):
            failed["error"] = result["error"]["code"]
        if (result.get("apply") or {}).get("verification_code"):
            failed["verification"] = result["apply"]["verification_code"]
        self.assertTrue(failed, apply.output)
        self.assertEqual(set(failed.values()), {"connection_lost"},
                         f"every failure after the kill is connection_lost: {failed}")
        self.restart_host()
        self.assert_converged_once()


class ServeOutlivesLibvirtdTest(PrivateHostTest):
    def test_a_serve_session_reconnects_after_libvirtd_restarts(self):
        # One serve session across a libvirtd restart: the request after it is served on a new
        # connection (the one keepalive closed is not reused), and the apply converges.
        p = subprocess.Popen([BINARY, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=ENV)
        with open(self.doc) as f:
            import yaml  # python3-yaml (scripts/install-deps.sh)
            document = yaml.safe_load(f)

        def ask(i, command):
            p.stdin.write(json.dumps({"id": i, "command": command, "document": document,
                                      "options": {"connection": self.host.uri}}) + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        try:
            self.assertTrue(ask(1, "plan")["ok"])
            self.host.signal(signal.SIGKILL)
            time.sleep(0.5)
            self.restart_host()
            response = ask(2, "apply")
            self.assertTrue(response["ok"], response)
            self.assertTrue(response["result"]["apply"]["ok"], response)
            again = ask(3, "plan")
            self.assertTrue(again["ok"] and again["result"]["plan"]["changes"] == [], again)
        finally:
            p.stdin.close()
            p.wait(timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.read())


class LibvirtdStoppedTest(PrivateHostTest):
    def test_plan_against_a_stopped_libvirtd_fails_within_the_deadline_and_works_after_sigcont(self):
        self.apply_ok()
        self.host.signal(signal.SIGSTOP)
        try:
            plan = Running("plan", self.doc, "--connection", self.host.uri, "--format", "json")
            rc, took = plan.finish(PLAN_DEADLINE + 5)
            self.assertIsNotNone(rc, f"plan still running after {PLAN_DEADLINE + 5} s against a stopped libvirtd")
            self.assertLess(took, PLAN_DEADLINE, f"plan took {took:.1f} s")
            self.assertNotEqual(rc, 0, plan.output)
            error = json.loads(plan.out)["error"]
            self.assertIn(error["code"], ("timeout", "connection_lost", "connection_failed"), plan.output)
            self.assertIn(self.host.uri, error["message"], "the error must name the host")
        finally:
            self.host.signal(signal.SIGCONT)
        self.assert_no_changes()

    def test_apply_against_a_libvirtd_stopped_mid_apply_ends_within_the_deadline(self):
        apply = Running("apply", self.doc, "--connection", self.host.uri, "--parallelism", "1")
        try:
            first = apply.wait_line(lambda l: l.startswith("  pool.vct-flt-pool:"), timeout=60)
            self.assertIsNotNone(first, f"apply ended before its first step:\n{apply.output}")
            self.host.signal(signal.SIGSTOP)
            rc, took = apply.finish(APPLY_DEADLINE + 5)
            self.assertIsNotNone(rc, f"apply hangs: still running after {APPLY_DEADLINE + 5} s:\n{apply.output}")
            self.assertLess(took, APPLY_DEADLINE, f"apply took {took:.1f} s:\n{apply.output}")
            self.assertNotEqual(rc, 0, apply.output)
        finally:
            self.host.signal(signal.SIGCONT)
        self.assert_converged_once()


def rbd(*args):
    return subprocess.run(["rbd", "-c", CEPH_CONF, *args], capture_output=True, text=True, timeout=60)


@unittest.skipUnless(os.path.exists(CEPH_CONF), f"no Ceph cluster ({CEPH_CONF}): start it with scripts/ceph-up.sh")
class SecretRemovedTest(PrivateHostTest):
    IMAGE = "rbd/vct-flt-disk"

    def setUp(self):
        # Everything up to the fault is set-up: a failure here is an error, never an expected failure.
        rbd("rm", self.IMAGE)
        self.addCleanup(rbd, "rm", self.IMAGE)  # runs after host-down: the domain holds it
        super().setUp()
        with open(self.doc, "w") as f:
            f.write(f"""version: 1
ceph:
  conf: {CEPH_CONF}
  user: admin
rbd_images:
  {self.IMAGE}: {{size: 64MiB}}
domains:
  vct-flt-rbd:
    vcpus: 1
    memory: 64MiB
    disks: [{{rbd: {self.IMAGE}, target: vda}}]
    state: stopped
""")
        self.apply_ok()
        xml = self.host.virsh("dumpxml", "vct-flt-rbd", "--inactive")
        self.secret = re.search(r"<secret type='ceph' uuid='([0-9a-f-]+)'", xml).group(1)
        self.assertIn(self.secret, self.host.virsh("secret-list"))
        self.assert_no_changes()
        self.host.virsh("secret-undefine", self.secret)  # on the private host only
        self.assertNotIn(self.secret, self.host.virsh("secret-list"))

    def test_plan_notices_the_removed_cephx_secret_and_apply_restores_it(self):
        rc, out, err = engine("plan", self.doc, "--connection", self.host.uri, "--detailed-exitcode",
                              "--verbose")
        self.assertEqual(rc, 2, f"the domain cannot reach its disk without the secret:\n{out}{err}")
        self.assertIn("ceph_secret", out)
        self.assertIn(f"define again the libvirt secret {self.secret}", out)
        self.apply_ok()
        self.assertIn(self.secret, self.host.virsh("secret-list"))
        self.assert_no_changes()


PRIVATE_CEPH = {"VC_CEPH_DIR": os.environ.get("VC_FAULTS_CEPH_DIR", "/tmp/vct-fceph"),
                "VC_CEPH_PORT_V1": "26789", "VC_CEPH_PORT_V2": "23300", "VC_CEPH_PORT_MIN": "26800"}


class CephOsdStoppedTest(PrivateHostTest):
    """A Ceph cluster of its own (scripts/ceph-up.sh on other ports and another directory): the
    shared one is never disturbed. Its only OSD is stopped (SIGSTOP) while images are created."""

    IMAGES = [f"vct-flt-r{i}" for i in range(1, 5)]

    @classmethod
    def setUpClass(cls):
        cls.ceph_env = dict(os.environ, **PRIVATE_CEPH)
        cls.ceph_conf = os.path.join(PRIVATE_CEPH["VC_CEPH_DIR"], "ceph.conf")
        subprocess.run([os.path.join(SCRIPTS, "ceph-down.sh")], env=cls.ceph_env, capture_output=True, timeout=60)
        p = subprocess.run([os.path.join(SCRIPTS, "ceph-up.sh")], env=cls.ceph_env, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            subprocess.run([os.path.join(SCRIPTS, "ceph-down.sh")], env=cls.ceph_env, capture_output=True, timeout=60)
            raise AssertionError(f"private ceph-up.sh failed:\n{p.stdout}{p.stderr}")

    @classmethod
    def tearDownClass(cls):
        try:
            os.kill(cls.osd_pid(), signal.SIGCONT)
        except (OSError, ValueError):
            pass
        subprocess.run([os.path.join(SCRIPTS, "ceph-down.sh")], env=cls.ceph_env, capture_output=True, timeout=60)

    @classmethod
    def osd_pid(cls):
        with open(os.path.join(PRIVATE_CEPH["VC_CEPH_DIR"], "run", "osd.0.pid")) as f:
            return int(f.read().strip())

    def setUp(self):
        super().setUp()
        images = "".join(f"  rbd/{i}: {{size: 64MiB}}\n" for i in self.IMAGES)
        with open(self.doc, "w") as f:
            f.write(f"""version: 1
ceph:
  conf: {self.ceph_conf}
  user: admin
rbd_images:
{images}domains:
  vct-flt-rd:
    vcpus: 1
    memory: 64MiB
    disks: [{{rbd: rbd/{self.IMAGES[-1]}, target: vda}}]
    state: stopped
""")

    def test_osd_stopped_mid_apply_fails_within_the_deadline_and_a_rerun_converges(self):
        apply = Running("apply", self.doc, "--connection", self.host.uri, "--parallelism", "1")
        try:
            first = apply.wait_line(lambda l: l.startswith(f"  rbd_image.rbd/{self.IMAGES[0]}:"), timeout=60)
            self.assertIsNotNone(first, f"apply ended before its first step:\n{apply.output}")
            os.kill(self.osd_pid(), signal.SIGSTOP)
            rc, took = apply.finish(APPLY_DEADLINE + 5)
            self.assertIsNotNone(rc, f"apply hangs: still running after {APPLY_DEADLINE + 5} s:\n{apply.output}")
            self.assertLess(took, APPLY_DEADLINE, f"apply took {took:.1f} s:\n{apply.output}")
            self.assertEqual(rc, 1, apply.output)
            report = apply.out[apply.out.index("Applying:"):]
            failed = set(re.findall(r"^  \S+: FAILED \((\w+)\)", report, re.M)) - {"skipped"}
            self.assertEqual(failed, {"ceph_unavailable"}, report)
        finally:
            os.kill(self.osd_pid(), signal.SIGCONT)
        # The OSD answers again once it has caught up with the monitor (seconds, longer on a
        # loaded machine): the rerun is meant to converge then, not to race its recovery.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                p = subprocess.run(["rbd", "-c", self.ceph_conf, "--rados-osd-op-timeout", "10",
                                    "info", f"rbd/{self.IMAGES[0]}"],
                                   capture_output=True, text=True, timeout=30)
                if p.returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                pass
            time.sleep(1)
        self.apply_ok("--parallelism", "1")
        self.assert_no_changes()
        p = subprocess.run(["rbd", "-c", self.ceph_conf, "ls", "rbd"], capture_output=True, text=True, timeout=60)
        self.assertEqual(sorted(p.stdout.split()), self.IMAGES)
        self.assertEqual(self.host.names("list", "--all", "--name"), ["vct-flt-rd"])


if __name__ == "__main__":
    unittest.main()
