"""`virtconverge server` on the real libvirtd, driven with a real HTTP client (http.client).

Every JSON answer is checked against schemas/openapi.json (the response schema of its path,
method and status). The server is started by each test class and stopped by its PID.

- propose a change to a running guest, see it classed live, apply exactly that plan, follow its
  log as server-sent events, see it converge; the guest keeps running (same QEMU pid);
- no token or a wrong one: 401, nothing changed; a foreign Origin: 403;
- the host changed between plan and apply: 412 changed_since_plan, nothing changed;
- two applies at once: the second gets 409;
- a plan made with allow_destroy needs it again: 412 needs_allow_destroy;
- hostile bodies (not JSON, unknown fields, wrong types, a bad document, too large, the wrong
  media type, a plan id that is not one): an error naming the field, the server goes on;
- configured documents and drift, as JSON and as Prometheus metrics;
- the token never in a response or the log; a token file others can read, or a non-loopback
  address without TLS, refuse to start; HTTPS with a certificate.
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from vctest import BINARY, URI, WORK, RealLibvirtTest, qemu_pid, run, snapshot, virsh

OPENAPI = os.path.join(os.path.dirname(__file__), "../../schemas/openapi.json")
TOKEN = "vct-token-" + os.urandom(12).hex()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_token(path, token=TOKEN, mode=0o600):
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, mode)


class OpenApi:
    """The response schemas of schemas/openapi.json, resolved for jsonschema."""

    def __init__(self):
        with open(OPENAPI) as f:
            self.spec = json.load(f)

    def template(self, path):
        for template in self.spec["paths"]:
            parts, actual = template.split("/"), path.split("?")[0].split("/")
            if len(parts) == len(actual) and all(p == a or p.startswith("{") for p, a in zip(parts, actual)):
                return template
        raise AssertionError(f"{path} is not in the OpenAPI description")

    def check(self, method, path, status, content_type, body):
        import jsonschema
        operation = self.spec["paths"][self.template(path)].get(method.lower())
        assert operation is not None, f"{method} {path} is not in the OpenAPI description"
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {path} answered {status}, not described"
        media = content_type.split(";")[0].strip()
        if "content" not in response:
            return
        assert media in response["content"], f"{method} {path} {status}: {media} not described"
        if media != "application/json":
            return
        schema = dict(response["content"][media]["schema"])
        schema["components"] = self.spec["components"]
        jsonschema.Draft202012Validator(schema).validate(json.loads(body))


class Server:
    """A `virtconverge server` subprocess on a free loopback port."""

    def __init__(self, *extra, token_file, tls=None):
        self.port = free_port()
        self.tls = tls
        self.log = open(os.path.join(WORK, f"server-{self.port}.log"), "w+")
        self.proc = subprocess.Popen(
            [BINARY, "server", "--listen", f"127.0.0.1:{self.port}", "--token-file", token_file,
             "--connection", URI, *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _, _ = self.request("GET", "/v1/health")
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError("the server exited: " + self.output())
            time.sleep(0.2)
        raise AssertionError("the server did not answer within 30 s: " + self.output())

    def connection(self, timeout=120):
        if self.tls:
            context = ssl.create_default_context(cafile=self.tls)
            context.check_hostname = False
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=TOKEN, headers=None, content_type="application/json"):
        conn = self.connection()
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            h["Content-Type"] = content_type
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode()
        conn.close()
        return r.status, r.getheader("Content-Type", ""), data

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class ServerTest(RealLibvirtTest):
    openapi = OpenApi()

    def setUp(self):
        super().setUp()
        self.token_file = os.path.join(WORK, "token")
        write_token(self.token_file)
        self.docs = os.path.join(WORK, "documents")
        os.makedirs(self.docs, exist_ok=True)
        self.server = Server("--documents", self.docs, "--drift-interval", "1", token_file=self.token_file)

    def tearDown(self):
        self.server.stop()
        super().tearDown()

    def call(self, method, path, body=None, expect=None, **kw):
        """A request whose JSON answer is checked against the OpenAPI description."""
        status, ctype, data = self.server.request(method, path, body, **kw)
        self.openapi.check(method, path, status, ctype, data)
        if expect is not None:
            self.assertEqual(status, expect, data)
        self.assertNotIn(TOKEN, data)
        return status, (json.loads(data) if ctype.startswith("application/json") else data)

    def events(self, plan_id, timeout=120):
        """The apply's server-sent events, until `done`: [(event, data)]."""
        conn = self.server.connection(timeout=timeout)
        conn.request("GET", f"/v1/plans/{plan_id}/events", headers={"Authorization": "Bearer " + TOKEN})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/event-stream"))
        out, event = [], None
        while True:
            line = r.fp.readline().decode()
            if not line:
                break
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
                if event == "done":
                    break
        conn.close()
        return out

    def running_guest(self, name="vct-srv1"):
        self.apply_ok(self.write("guest.yaml", f"""version: 1
domains:
  {name}: {{vcpus: 1, max_vcpus: 2, memory: 128MiB, state: running}}
"""))
        return qemu_pid(name)

    def propose(self, document, options=None, expect=201):
        body = {"document": document}
        if options is not None:
            body["options"] = options
        return self.call("POST", "/v1/plans", body, expect=expect)[1]

    def test_a_live_change_is_proposed_reviewed_applied_and_the_guest_keeps_running(self):
        pid = self.running_guest()
        plan = self.propose("version: 1\ndomains:\n  vct-srv1: {vcpus: 2, max_vcpus: 2, memory: 128MiB}\n")
        self.assertRegex(plan["id"], r"^p-[0-9a-f]{32}$")
        change = plan["plan"]["changes"][0]
        self.assertEqual((change["address"], change["disruption"]), ("domain.vct-srv1", "live"))
        self.assertIn("vcpus 1 → 2", plan["text"])
        _, listed = self.call("GET", "/v1/plans", expect=200)
        self.assertEqual(listed["plans"][0]["id"], plan["id"])
        _, started = self.call("POST", f"/v1/plans/{plan['id']}/apply", {}, expect=202)
        self.assertEqual(started["status"], "applying")
        events = self.events(plan["id"])
        self.assertEqual(events[-1][0], "done", events)
        self.assertEqual(events[-1][1]["status"], "applied", events)
        self.assertTrue(any(e == "progress" and "vct-srv1" in d["line"] for e, d in events), events)
        _, shown = self.call("GET", f"/v1/plans/{plan['id']}", expect=200)
        self.assertEqual(shown["status"], "applied")
        self.assertEqual((shown["apply"]["outcomes"][0]["ok"], shown["apply"]["outcomes"][0]["converged"]),
                         (True, True), shown["apply"])
        self.assertEqual(virsh("vcpucount", "vct-srv1", "--current", "--live"), "2")
        self.assertEqual(qemu_pid("vct-srv1"), pid, "the guest must not be restarted")
        # Applied once: a second apply of the same plan is refused.
        _, again = self.call("POST", f"/v1/plans/{plan['id']}/apply", {}, expect=409)
        self.assertEqual(again["error"]["code"], "already_applied")
        self.assertNotIn(TOKEN, self.server.output())

    def test_no_token_or_a_wrong_one_is_401_and_nothing_changes(self):
        before = snapshot()
        body = {"document": "version: 1\ndomains:\n  vct-srv2: {vcpus: 1, memory: 64MiB}\n"}
        for token in (None, "wrong-" + TOKEN, TOKEN[:-1], TOKEN + "x", ""):
            for method, path in (("GET", "/v1/health"), ("POST", "/v1/plans"), ("GET", "/metrics"),
                                 ("GET", "/v1/observe"), ("GET", "/v1/plans")):
                status, _ = self.call(method, path, body if method == "POST" else None, token=token)
                self.assertEqual(status, 401, (token, method, path))
        self.assertEqual(snapshot(), before)
        _, plans = self.call("GET", "/v1/plans", expect=200)
        self.assertEqual(plans["plans"], [], "nothing was planned without the token")
        # A page elsewhere cannot drive it: a foreign Origin is refused, even with the token.
        status, _ = self.call("POST", "/v1/plans", body, headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        # A rebound DNS name whose Host header matches its Origin is still another origin.
        status, _ = self.call("POST", "/v1/plans", body, headers={
            "Origin": f"http://evil.example:{self.server.port}", "Host": f"evil.example:{self.server.port}"})
        self.assertEqual(status, 403)
        status, _ = self.call("GET", "/v1/health", headers={"Origin": f"http://127.0.0.1:{self.server.port}"})
        self.assertEqual(status, 200)
        status, ctype, page = self.server.request("GET", "/", token=None)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/html"))
        self.assertNotIn(TOKEN, page)

    def test_a_plan_the_host_no_longer_matches_is_refused_with_nothing_changed(self):
        self.running_guest()
        plan = self.propose("version: 1\ndomains:\n  vct-srv1: {vcpus: 2, max_vcpus: 2, memory: 128MiB}\n")
        virsh("setvcpus", "vct-srv1", "2", "--live")  # behind the plan's back
        virsh("setvcpus", "vct-srv1", "2", "--config")
        before = snapshot()
        status, answer = self.call("POST", f"/v1/plans/{plan['id']}/apply", {})
        self.assertEqual(status, 412, answer)
        self.assertEqual(answer["error"]["code"], "changed_since_plan")
        self.assertEqual(snapshot(), before)
        _, shown = self.call("GET", f"/v1/plans/{plan['id']}", expect=200)
        self.assertEqual(shown["status"], "refused")

    def test_two_applies_at_once_one_waits_its_turn_with_409(self):
        doc = "version: 1\ndomains:\n  {}: {{vcpus: 1, memory: 64MiB, state: running}}\n"
        first = self.propose(doc.format("vct-srv3"))
        second = self.propose(doc.format("vct-srv4"))
        results = {}

        def apply(plan):
            results[plan["id"]] = self.server.request("POST", f"/v1/plans/{plan['id']}/apply", "{}")[0]
        threads = [threading.Thread(target=apply, args=(p,)) for p in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results.values()), [202, 409], results)
        winner = first if results[first["id"]] == 202 else second
        loser = second if winner is first else first
        self.assertEqual(self.events(winner["id"])[-1][1]["status"], "applied")
        _, shown = self.call("GET", f"/v1/plans/{loser['id']}", expect=200)
        self.assertEqual(shown["status"], "planned", "the refused one may be applied later")
        self.call("POST", f"/v1/plans/{loser['id']}/apply", {}, expect=202)
        self.assertEqual(self.events(loser["id"])[-1][1]["status"], "applied")
        self.assertEqual(sorted(d for d in virsh("list", "--name").split() if d.startswith("vct-srv")),
                         ["vct-srv3", "vct-srv4"])

    def test_the_allows_a_plan_was_made_with_are_needed_again(self):
        pool = os.path.join(WORK, "srvpool")
        os.makedirs(pool, exist_ok=True)
        head = f"version: 1\npools:\n  vct-srvpool: {{type: dir, path: {pool}}}\nvolumes:\n"
        self.apply_ok(self.write("vol.yaml", head + "  vct-srvpool/v1: {format: qcow2, capacity: 16MiB}\n"))
        doc = head + "  vct-srvpool/v1: {ensure: absent}\n"
        refused = self.propose(doc)
        self.assertFalse(refused["plan"]["applyable"], "deleting a volume needs allow_destroy")
        self.call("POST", f"/v1/plans/{refused['id']}/apply", {}, expect=422)
        plan = self.propose(doc, {"allow_destroy": True})
        status, answer = self.call("POST", f"/v1/plans/{plan['id']}/apply", {})
        self.assertEqual((status, answer["error"]["code"]), (412, "needs_allow_destroy"))
        self.assertIn("v1", virsh("vol-list", "vct-srvpool"))
        self.call("POST", f"/v1/plans/{plan['id']}/apply", {"allow_destroy": True}, expect=202)
        self.assertEqual(self.events(plan["id"])[-1][1]["status"], "applied")
        self.assertNotIn("v1", virsh("vol-list", "vct-srvpool"))

    def test_hostile_requests_get_an_error_naming_the_field_and_the_server_goes_on(self):
        before = snapshot()
        cases = [
            ("POST", "/v1/plans", "{not json", "application/json", 400, "invalid_document"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n"} trailing', "application/json", 400, "invalid_document"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n", "document": "x"}', "application/json", 400, "invalid_document"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n", "bogus": 1}', "application/json", 400, "unknown_field"),
            ("POST", "/v1/plans", '{"document": 5}', "application/json", 400, "invalid_value"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n", "options": {"allow_destroy": "yes"}}', "application/json", 400, "invalid_value"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n", "options": {"parallelism": 4}}', "application/json", 400, "unknown_field"),
            ("POST", "/v1/plans", '[' * 100000, "application/json", 400, "invalid_document"),
            ("POST", "/v1/plans", "version: 1\n", "text/plain", 400, "invalid_document"),
            ("POST", "/v1/plans", '{"document": "version: 1\\ndomains:\\n  ../x: {vcpus: 1, memory: 1MiB}\\n"}', "application/json", 422, "invalid_value"),
            ("POST", "/v1/plans", '{"document": "version: 1\\n\\u00e9\\udcff"}', "application/json", 400, "invalid_document"),
            ("POST", "/v1/plans", "x" * (17 << 20), "application/json", 413, "too_large"),
            ("POST", "/v1/plans/p-00000000000000000000000000000000/apply", "{}", "application/json", 404, "not_found"),
            ("POST", "/v1/plans/../../etc/apply", "{}", "application/json", 404, "not_found"),
            ("GET", "/v1/documents/..%2F..%2Fetc%2Fpasswd", None, None, 404, "not_found"),
            ("GET", "/v1/nope", None, None, 404, "not_found"),
        ]
        for method, path, body, ctype, expected, code in cases:
            status, ctype_out, data = self.server.request(method, path, body, content_type=ctype or "application/json")
            self.assertEqual(status, expected, (path, (body or "")[:80], data[:300]))
            self.assertEqual(json.loads(data)["error"]["code"], code, (path, (body or "")[:80], data[:300]))
            if not path.startswith("/v1/plans/..") and not path.startswith("/v1/nope") and "%2F" not in path:
                self.openapi.check(method, path, status, ctype_out, data)
        # Bodies the library would read without its limit: refused before they are read.
        for headers, expected in (({"Transfer-Encoding": "chunked"}, 411),
                                  ({"Content-Encoding": "gzip", "Content-Length": "10"}, 415)):
            conn = self.server.connection()
            conn.putrequest("POST", "/v1/plans")
            conn.putheader("Authorization", "Bearer " + TOKEN)
            conn.putheader("Content-Type", "application/json")
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            if "Transfer-Encoding" in headers:
                conn.send(b"5\r\n{\"a\":\r\n")  # and never the rest
            r = conn.getresponse()
            self.assertEqual(r.status, expected, r.read())
            conn.close()
        invalid = self.propose("version: 1\ndomains:\n  vct-x: {vcpus: 0, memory: 1MiB}\n", expect=422)
        self.assertIn("domains.vct-x.vcpus", json.dumps(invalid["diagnostics"]))
        plan = self.propose("version: 1\n")
        status, answer = self.call("POST", f"/v1/plans/{plan['id']}/apply", {"allow_everything": True})
        self.assertEqual((status, answer["error"]["code"]), (400, "unknown_field"))
        self.assertEqual(snapshot(), before)
        self.call("GET", "/v1/health", expect=200)
        self.assertEqual(self.server.proc.poll(), None, "the server is still running")

    def test_configured_documents_drift_and_metrics(self):
        self.running_guest("vct-srv6")
        with open(os.path.join(self.docs, "guests.yaml"), "w") as f:
            f.write("version: 1\ndomains:\n  vct-srv6: {vcpus: 2, max_vcpus: 2, memory: 128MiB}\n"
                    "  vct-srv7: {vcpus: 1, memory: 64MiB, state: stopped}\n")
        with open(os.path.join(self.docs, "broken.yaml"), "w") as f:
            f.write("version: 1\ndomains: [\n")
        os.symlink("/etc/passwd", os.path.join(self.docs, "passwd.yaml"))
        _, docs = self.call("GET", "/v1/documents", expect=200)
        self.assertEqual([d["name"] for d in docs["documents"]], ["broken.yaml", "guests.yaml"])
        _, doc = self.call("GET", "/v1/documents/guests.yaml", expect=200)
        self.assertIn("vct-srv7", doc["content"])
        self.call("GET", "/v1/documents/passwd.yaml", expect=404)
        deadline = time.time() + 60
        while True:
            _, drift = self.call("GET", "/v1/drift", expect=200)
            by_name = {d["name"]: d for d in drift["documents"]}
            if "guests.yaml" in by_name and by_name["guests.yaml"]["hosts"].get(URI, {}).get("differ") == 2:
                break
            self.assertLess(time.time(), deadline, drift)
            time.sleep(0.5)
        self.assertIsNotNone(by_name["broken.yaml"]["error"])
        _, metrics = self.call("GET", "/metrics", expect=200)
        self.assertIn("virtconverge_up 1", metrics)
        self.assertIn(f'virtconverge_drift_resources{{document="guests.yaml",host="{URI}"}} 2', metrics)
        self.assertIn('virtconverge_drift_errors{document="broken.yaml"} 1', metrics)
        # Converged: the drift goes to zero.
        self.apply_ok(os.path.join(self.docs, "guests.yaml"))
        deadline = time.time() + 60
        while f'virtconverge_drift_resources{{document="guests.yaml",host="{URI}"}} 0' not in metrics:
            self.assertLess(time.time(), deadline, metrics)
            time.sleep(0.5)
            _, metrics = self.call("GET", "/metrics", expect=200)
        _, observed = self.call("GET", "/v1/observe", expect=200)
        self.assertIn("vct-srv7", observed["document"]["domains"])
        self.assertGreater(observed["host"]["cpus"], 0)


class ServerStartTest(unittest.TestCase):
    def setUp(self):
        os.makedirs(WORK, exist_ok=True)
        self.dir = tempfile.mkdtemp(dir=WORK)
        self.token_file = os.path.join(self.dir, "token")

    def start(self, *args):
        p = subprocess.run([BINARY, "server", *args], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr

    def test_a_token_file_others_can_read_or_a_short_token_is_refused(self):
        write_token(self.token_file, mode=0o644)
        rc, out = self.start("--token-file", self.token_file, "--listen", f"127.0.0.1:{free_port()}")
        self.assertEqual(rc, 1)
        self.assertIn("chmod 600", out)
        self.assertNotIn(TOKEN, out)
        write_token(self.token_file, token="short")
        rc, out = self.start("--token-file", self.token_file, "--listen", f"127.0.0.1:{free_port()}")
        self.assertEqual(rc, 1)
        self.assertIn("16 to 4096", out)
        rc, out = self.start("--listen", f"127.0.0.1:{free_port()}")
        self.assertEqual(rc, 1)
        self.assertIn("--token-file is required", out)

    def test_a_non_loopback_address_needs_tls_and_https_works_with_a_certificate(self):
        write_token(self.token_file)
        rc, out = self.start("--token-file", self.token_file, "--listen", "0.0.0.0:8470")
        self.assertEqual(rc, 1)
        self.assertIn("not a loopback address", out)
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        server = Server("--tls-cert", cert, "--tls-key", key, token_file=self.token_file, tls=cert)
        try:
            status, _, body = server.request("GET", "/v1/health")
            self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))
            status, _, _ = server.request("GET", "/v1/health", token="nope-" + TOKEN)
            self.assertEqual(status, 401)
            # Plain HTTP to the TLS port is no way in.
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            with self.assertRaises((http.client.HTTPException, OSError)):
                conn.request("GET", "/v1/health", headers={"Authorization": "Bearer " + TOKEN})
                r = conn.getresponse()
                if r.status == 200:
                    self.fail("plain HTTP was answered")
                raise http.client.HTTPException("refused")
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
