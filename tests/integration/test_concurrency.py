"""One writer per host, on the real libvirtd: concurrent applies of conflicting documents take
turns on the host's lock and leave it equal to exactly one document; a run that finds the lock
held waits, or refuses with exit 3 and changes nothing; a plan says an apply is running."""

import fcntl
import glob
import os
import random
import subprocess
import time
import unittest

from vctest import BINARY, URI, WORK, RealLibvirtTest, run, snapshot


def document(variant):
    a = variant == "a"
    return f"""version: 1
pools:
  vct-cc: {{type: dir, path: {WORK}/cc-pool}}
volumes:
  vct-cc/data: {{capacity: {'16MiB' if a else '32MiB'}, format: {'qcow2' if a else 'raw'}}}
networks:
  vct-ccnet: {{mode: isolated, bridge: vct-cc{variant}}}
domains:
  vct-cc-vm:
    vcpus: {1 if a else 2}
    max_vcpus: 2
    memory: {'64MiB' if a else '96MiB'}
    state: stopped
"""


class HostLockTest(RealLibvirtTest):
    def setUp(self):
        super().setUp()
        self.lock_dir = os.path.join(WORK, "locks")
        os.makedirs(self.lock_dir, exist_ok=True)
        self.env = {"VIRTCONVERGE_LOCK_DIR": self.lock_dir}
        self.docs = {v: self.write(f"cc-{v}.yaml", document(v)) for v in ("a", "b")}

    def plan_is_empty(self, variant):
        rc, out, err = run(["plan", self.docs[variant], "--connection", URI, "--detailed-exitcode",
                            "--allow-destroy"], env=self.env)
        self.assertIn(rc, (0, 2), out + err)
        return rc == 0

    def test_twenty_concurrent_conflicting_applies_leave_exactly_one_document(self):
        order = ["a", "b"] * 10
        random.Random(7).shuffle(order)
        env = dict(os.environ, NO_COLOR="1", **self.env)
        procs = [subprocess.Popen([BINARY, "apply", self.docs[v], "--connection", URI, "--allow-destroy",
                                   "--lock-wait", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for v in order]
        results = [(p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for p in procs]
        for rc, out, err in results:
            self.assertEqual(rc, 0, f"an apply failed while taking turns:\n{out}\n{err}")
        empty = [v for v in ("a", "b") if self.plan_is_empty(v)]
        self.assertEqual(len(empty), 1, f"the host is equal to {empty}, not to exactly one document")
        # Every run changed the host only while it held the lock: a run that followed a run of the
        # other document found something to change, and none saw a half-converged host.
        self.assertTrue(any("Apply:" in out for _, out, _ in results))

    def hold_lock(self):
        """Holds the host's lock as another run would (the file the engine made for this host)."""
        rc, out, err = run(["apply", self.docs["a"], "--connection", URI], env=self.env)
        self.assertEqual(rc, 0, out + err)
        files = glob.glob(os.path.join(self.lock_dir, "host-*.lock"))
        self.assertEqual(len(files), 1, files)
        holder = open(files[0], "r+")
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.truncate(0)
        holder.write(f"pid {os.getpid()}, the test's holder, since now\n")
        holder.flush()
        return holder

    def test_a_held_lock_refuses_at_once_or_after_the_wait_and_changes_nothing(self):
        holder = self.hold_lock()
        try:
            before = snapshot()
            rc, out, err = run(["apply", self.docs["b"], "--connection", URI, "--allow-destroy",
                                "--lock-wait", "0"], env=self.env)
            self.assertEqual(rc, 3, out + err)
            self.assertIn("is busy", err)
            self.assertIn("the test's holder", err)
            self.assertIn("nothing was changed", err)
            start = time.monotonic()
            rc, out, err = run(["apply", self.docs["b"], "--connection", URI, "--allow-destroy",
                                "--lock-wait", "2", "--format", "json"], env=self.env)
            waited = time.monotonic() - start
            self.assertEqual(rc, 3, out + err)
            self.assertGreaterEqual(waited, 2.0)
            self.assertIn('"code": "host_busy"', out)
            self.assertIn('"transient": true', out)
            self.assertEqual(snapshot(), before, "a refused apply changed the host")
            # A plan needs no lock; it says an apply is running.
            rc, out, err = run(["plan", self.docs["b"], "--connection", URI, "--allow-destroy"],
                               env=self.env)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("an apply is running on qemu:///system (pid", err)
        finally:
            holder.close()
        # Released (however the holder ends), the next apply goes ahead.
        rc, out, err = run(["apply", self.docs["b"], "--connection", URI, "--allow-destroy",
                            "--lock-wait", "0"], env=self.env)
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(self.plan_is_empty("b"))

    def test_a_waiting_apply_goes_ahead_when_the_holder_ends(self):
        holder = self.hold_lock()
        env = dict(os.environ, NO_COLOR="1", **self.env)
        waiting = subprocess.Popen([BINARY, "apply", self.docs["b"], "--connection", URI, "--allow-destroy",
                                    "--lock-wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
        time.sleep(1.5)
        self.assertIsNone(waiting.poll(), "the apply did not wait for the lock")
        self.assertTrue(self.plan_is_empty("a"), "the waiting apply changed the host before its turn")
        holder.close()
        rc = waiting.wait(timeout=120)
        self.assertEqual(rc, 0, waiting.stdout.read() + waiting.stderr.read())
        self.assertTrue(self.plan_is_empty("b"))


if __name__ == "__main__":
    unittest.main()
