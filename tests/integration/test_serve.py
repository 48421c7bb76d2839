"""`serve` never dies: hostile request lines each get an error response (with the request's id where
one could be read) and the next request is answered; a daemon that never answers costs a request
its own deadline, not the session. Against the real libvirtd."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from vctest import BINARY, URI, RealLibvirtTest, snapshot

GOOD_DOC = {"version": 1, "networks": {"vct-srv": {"mode": "isolated"}}}

# Each: (line sent, the id its error response must carry, the code it must carry or None).
HOSTILE = [
    (b'{"id":1,"command":5}', 1, "invalid_value"),
    (b'{"id":2,"command":"plan","document":{"version":1},"options":{"allow_destroy":"yes"}}', 2,
     "invalid_value"),
    (b'{"id":3,"command":"apply","document":{"version":1},"options":{"parallelism":"8"}}', 3,
     "invalid_value"),
    (b'{"id":4,"command":"plan","document":{"version":1},"options":{"connection":5}}', 4, "invalid_value"),
    (b'{"id":5,"command":"plan","document":{"version":1},"options":"x"}', 5, "invalid_value"),
    (b'{"id":6,"command":"observe","options":{"ceph":{"conf":5,"user":7}}}', 6, "invalid_value"),
    (b'{"id":7,"command":"plan","document":{"version":1},"options":{"parallelism":100000}}', 7,
     "invalid_value"),
    (b'{"id":8,"command":"plan","document":{"version":1},"options":{"lock_wait":-1}}', 8, "invalid_value"),
    (b'{"id":9,"command":"plan","document":[1,2]}', 9, "invalid_value"),
    (b'{"id":10,"command":"plan"}', 10, "invalid_value"),
    (b'{"id":11,"command":"launch"}', 11, "invalid_value"),
    (b'{"id":12,"command":"version","extra":true}', 12, "unknown_field"),
    (b'{"id":13,"command":"plan","document":{"version":1},"options":{"allow_everything":true}}', 13,
     "unknown_field"),
    (b'{"id":{"nested":1},"command":"version"}', None, "invalid_value"),
    (b'[' * 80000 + b']' * 80000, None, None),
    (b'{"id":14,"command":"plan","document":' + b'{"a":' * 5000 + b'1' + b'}' * 5000 + b'}', None, None),
    (b'{"id":15,"command":"version"} {"id":16}', None, None),
    (b'{"id":17,"command":"version","command":"plan"}', None, None),
    (b'{"id":18,"command":"version",}', None, None),
    (b"{'id':19,'command':'version'}", None, None),
    (b'not json at all', None, None),
    (b'{"id":20,"command":"validate","document":{"version":1,"domains":{"x\xff\xfe":{"vcpus":1}}}}',
     None, None),
    (b'{"id":21,"command":"validate","document":{"version":1,"domains":{"' + b'a' * 39 +
     '\u00e9'.encode() * 20 + b'":{"vcpus":1,"memory":"1MiB"}}}}', 21, None),
    (b'{"id":22,"command":"plan","document":{"version":1,"networks":{"vct-srv":{"mode":"isolated"}}},'
     b'"options":{"connection":"qemu+unix:///system?socket=/nonexistent/vc.sock"}}', 22,
     "connection_failed"),
    (b'\x00\x01\x02', None, None),
    (b'{"id":23,"command":"apply","document":{"version":1,"pools":{"vct-srv-p":{"type":"dir",'
     b'"path":"/tmp/../etc"}}}}', 23, None),
]


class ServeTest(RealLibvirtTest):
    def serve(self, lines, timeout=120):
        """Sends the lines to one serve session; returns the responses, one per line."""
        p = subprocess.run([BINARY, "serve"], input=b"\n".join(lines) + b"\n", capture_output=True,
                           timeout=timeout, env=dict(os.environ, LIBVIRT_DEFAULT_URI=URI))
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return [json.loads(line) for line in p.stdout.decode().splitlines()], p

    def test_every_hostile_line_gets_an_error_and_the_next_request_is_answered(self):
        before = snapshot()
        lines = []
        for line, _, _ in HOSTILE:
            lines += [line, b'{"id":"next","command":"version"}']
        responses, _ = self.serve(lines)
        self.assertEqual(len(responses), len(lines), "a line went unanswered")
        for i, (line, want_id, want_code) in enumerate(HOSTILE):
            response, follow = responses[2 * i], responses[2 * i + 1]
            what = line[:80]
            self.assertTrue(follow["ok"] and follow["id"] == "next", f"after {what!r}: {follow}")
            if response.get("ok") and "valid" in response.get("result", {}):
                self.assertFalse(response["result"]["valid"], f"{what!r} was valid: {response}")
                continue
            self.assertFalse(response["ok"], f"{what!r} was accepted: {response}")
            self.assertIn("code", response, response)
            self.assertIsInstance(response["error"], str)
            if want_id is not None:
                self.assertEqual(response["id"], want_id, response)
            if want_code is not None:
                self.assertEqual(response["code"], want_code, f"{what!r}: {response}")
        self.assertEqual(snapshot(), before, "a hostile request changed the host")

    def test_a_silent_daemon_costs_its_request_the_deadline_not_the_session(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "silent.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(8)  # accepts into the backlog; never reads, never answers
            try:
                silent = json.dumps({"id": "hung", "command": "plan", "document": GOOD_DOC,
                                     "options": {"connection": f"qemu+unix:///system?socket={path}"}})
                good = json.dumps({"id": "real", "command": "plan", "document": GOOD_DOC,
                                   "options": {"connection": URI}})
                start = time.monotonic()
                responses, _ = self.serve([silent.encode(), good.encode()], timeout=90)
                took = time.monotonic() - start
            finally:
                listener.close()
        self.assertEqual([r["id"] for r in responses], ["hung", "real"])
        self.assertFalse(responses[0]["ok"])
        self.assertEqual(responses[0]["code"], "timeout")
        self.assertTrue(responses[0]["transient"])
        self.assertIn(path, responses[0]["error"])
        self.assertTrue(responses[1]["ok"], responses[1])
        self.assertEqual(responses[1]["result"]["plan"]["changes"][0]["address"], "network.vct-srv")
        self.assertLess(took, 45, "the session waited past the silent daemon's deadline")


if __name__ == "__main__":
    unittest.main()
