"""The review page, driven as a person would: headless Chromium (Debian's chromium and
chromium-driver, through Selenium) against the real `virtconverge server` and the real libvirtd.

A running guest (a tiny no-OS domain, defined through the engine) gets a change proposed on the
page; the page shows it classed live (in colour and in words) and arms Apply without a tick; it is
applied, the progress and the verification are shown, the guest converges and keeps running (same
QEMU process). A restart-class change shows a tick box and Apply stays disabled until it is ticked.
A stale plan is refused (412) on the page, a bad document shows its diagnostics (422), and a wrong
token shows the 401 with nothing changed. The screenshot of docs/review-page.png is taken here
(VC_SCREENSHOT=docs/review-page.png to refresh it).

Needs scripts/install-deps-web.sh (Selenium lives in /opt/virtconverge-web-venv; CMake runs this
file with that venv's python)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from vctest import BINARY, RealLibvirtTest, qemu_pid, run, virsh

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # reported in setUpClass, with what to run
    webdriver = None

CHROMIUM = os.environ.get("VC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VC_CHROMEDRIVER", "/usr/bin/chromedriver")
# Into the test's work directory; VC_SCREENSHOT=docs/review-page.png refreshes the one in docs/
# (the suite never writes into the source tree by itself).
SCREENSHOT = os.environ.get("VC_SCREENSHOT") or os.path.join(
    os.environ.get("VC_WEB_WORK", "/tmp/vct-web-shots"), "review-page.png")

NAME = "vct-web1"
HOST = "local"  # the document's one-entry hosts: section, so the plan carries capacity figures
ADDRESS = f"domain.{NAME}@{HOST}"
DRIFT_DOC = "vct-web.yaml"

# The page's disruption colours (web/index.html), as the browser computes them.
LIVE_BACKGROUND = "rgb(220, 245, 228)"
RESTART_BACKGROUND = "rgb(255, 240, 204)"


def document(vcpus=1, extra=""):
    return f"""version: 1
hosts:
  {HOST}:
    connection: qemu:///system
domains:
  {NAME}: {{vcpus: {vcpus}, max_vcpus: 2, memory: 128MiB{extra}, state: running}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerPageTest(RealLibvirtTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if webdriver is None:
            raise AssertionError("selenium is missing: run scripts/install-deps-web.sh and this test with "
                                 "/opt/virtconverge-web-venv/bin/python")
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{path} is missing: run scripts/install-deps-web.sh")
        # The server's own files live outside WORK, which every test's cleanup removes.
        cls.dir = tempfile.mkdtemp(prefix="vct-web-")
        cls.token = os.urandom(24).hex()
        cls.token_file = os.path.join(cls.dir, "token")
        fd = os.open(cls.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cls.token + "\n")
        documents = os.path.join(cls.dir, "documents")
        os.makedirs(documents)
        with open(os.path.join(documents, DRIFT_DOC), "w") as f:
            f.write(document(vcpus=2))
        cls.port = free_port()
        cls.url = f"http://127.0.0.1:{cls.port}"
        cls.log_path = os.path.join(cls.dir, "server.log")
        cls.log = open(cls.log_path, "w")
        cls.server = subprocess.Popen(
            [BINARY, "server", "--listen", f"127.0.0.1:{cls.port}", "--token-file", cls.token_file,
             "--documents", documents, "--drift-interval", "2"],
            stdout=cls.log, stderr=subprocess.STDOUT, env=dict(os.environ, NO_COLOR="1"))
        cls.driver = None
        try:
            cls.wait_for_server()
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1400,1000", "--force-device-scale-factor=1", "--hide-scrollbars",
                        "--lang=en-GB"):
                options.add_argument(arg)
            cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            cls.driver.set_page_load_timeout(30)
        except BaseException:
            cls.stop_server()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.driver is not None:
            cls.driver.quit()
        cls.stop_server()
        shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def stop_server(cls):
        """Stops exactly the server this class started, by its PID."""
        if cls.server.poll() is None:
            cls.server.terminate()
            try:
                cls.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cls.server.kill()
                cls.server.wait(timeout=10)
        cls.log.close()

    @classmethod
    def wait_for_server(cls):
        deadline = time.time() + 30
        while time.time() < deadline:
            if cls.server.poll() is not None:
                raise AssertionError(f"the server exited with {cls.server.returncode}:\n{cls.server_log()}")
            try:
                status, body = cls.api("GET", "/v1/health")
                if status == 200 and body.get("status") == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not answer /v1/health:\n" + cls.server_log())

    @classmethod
    def server_log(cls):
        with open(cls.log_path) as f:
            return f.read()[-4000:]

    @classmethod
    def api(cls, method, path, body=None, token=None):
        """One API request with the token; returns (HTTP status, parsed JSON body)."""
        request = urllib.request.Request(cls.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Authorization", "Bearer " + (token or cls.token))
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    # ---- the guest ----

    def setUp(self):
        super().setUp()
        rc, out, err = run(["apply", self.write("guest.yaml", document(vcpus=1))])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(virsh("domstate", NAME), "running")
        self.pid = qemu_pid(NAME)

    def vcpus(self):
        return int(virsh("vcpucount", NAME, "--live", "--active"))

    def assert_guest_kept_running(self):
        self.assertEqual(virsh("domstate", NAME), "running")
        self.assertEqual(qemu_pid(NAME), self.pid, "the guest must not be restarted")

    # ---- the page ----

    def wait(self, predicate, timeout=30, what="the page"):
        try:
            # The page re-renders parts of itself: an element found a moment ago may be gone.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                                 ).until(lambda d: predicate())
        except Exception as e:
            self.fail(f"timed out waiting for {what} ({e.__class__.__name__}); page says:\n"
                      f"{self.driver.find_element(By.TAG_NAME, 'body').text[:3000]}\n"
                      f"server log:\n{self.server_log()}")

    def by_id(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def open_page(self, token):
        """A fresh tab state: the page loaded, sessionStorage empty, then `token` entered."""
        self.driver.get(self.url + "/")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.url + "/")
        self.assertEqual(self.driver.title, "virtconverge — plan review")
        field = self.by_id("token")
        self.assertEqual(field.get_attribute("type"), "password")
        field.send_keys(token)
        self.by_id("token-save").click()

    def open_page_with_token(self):
        self.open_page(self.token)
        self.wait(lambda: "connected" in self.by_id("health").text, what="the health check")

    def paste(self, text):
        area = self.by_id("doc-text")
        area.clear()
        # send_keys would let the textarea's own behaviour touch the text; set it as a paste would.
        self.driver.execute_script("arguments[0].value = arguments[1]", area, text)

    def plan(self):
        """Presses Plan and waits for a new plan; returns its id."""
        before = self.driver.execute_script(
            "const e = document.getElementById('plan-id'); return e ? e.textContent : null")
        self.by_id("plan-btn").click()
        self.wait(lambda: self.css("#plan-id") and self.css("#plan-id")[0].text != before, 60,
                  "the plan to be shown")
        return self.by_id("plan-id").text

    def attribute_row(self, path):
        rows = self.css(f'[data-testid="change"][data-address="{ADDRESS}"] '
                        f'[data-testid="attribute"][data-path="{path}"]')
        self.assertEqual(len(rows), 1, f"one row for {path}")
        return rows[0]

    def background(self, element):
        return self.driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", element)

    def apply_button(self):
        return self.by_id("apply-btn")

    def apply_and_wait(self):
        self.apply_button().click()
        self.wait(lambda: self.by_id("apply-status").get_attribute("data-status") in ("applied", "failed", "refused"),
                  180, "the apply to end")
        return self.by_id("apply-status").get_attribute("data-status")

    def apply_panel(self):
        return self.by_id("apply-card").text + "\nserver log:\n" + self.server_log()

    def assert_token_never_left_the_header(self):
        self.assertEqual(self.driver.get_cookies(), [])
        self.assertEqual(self.driver.execute_script("return document.cookie"), "")
        self.assertNotIn(self.token, self.driver.current_url)
        self.assertEqual(self.driver.execute_script("return sessionStorage.getItem('virtconverge.token')"),
                         self.token)

    def save_screenshot(self):
        """The whole page at 1400 px wide, for docs/review-page.png."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, min(max(height + 140, 900), 2400))
        time.sleep(0.3)
        os.makedirs(os.path.dirname(os.path.abspath(SCREENSHOT)), exist_ok=True)
        self.assertTrue(self.driver.save_screenshot(SCREENSHOT), SCREENSHOT)
        self.assertGreater(os.path.getsize(SCREENSHOT), 10000, "a blank screenshot")
        self.driver.set_window_size(1400, 1000)

    # ---- the scenarios ----

    def test_live_change_is_shown_live_applied_and_the_guest_keeps_running(self):
        self.open_page_with_token()
        # The server's configured document (vcpus 2) is picked from its list.
        self.wait(lambda: DRIFT_DOC in [o.get_attribute("value") for o in self.css("#doc-select option")],
                  what="the server's documents")
        Select(self.by_id("doc-select")).select_by_value(DRIFT_DOC)
        self.wait(lambda: "vcpus: 2" in self.by_id("doc-text").get_attribute("value"), what="the document's text")
        # Drift: the server's document differs from the host in one resource.
        self.by_id("drift-refresh").click()
        self.wait(lambda: [r.get_attribute("data-differ") for r in self.css(
            f'[data-testid="drift-row"][data-document="{DRIFT_DOC}"][data-host="{HOST}"]')] == ["1"],
            30, "drift to show one differing resource")

        plan_id = self.plan()
        self.assertEqual(self.by_id("plan-status").text, "planned")
        group = self.css(f'[data-testid="host-group"][data-host="{HOST}"]')
        self.assertEqual(len(group), 1, "the change is shown under its host")
        row = self.attribute_row("vcpus")
        self.assertEqual(row.get_attribute("data-disruption"), "live")
        badge = row.find_element(By.CSS_SELECTOR, '[data-testid="disruption"]')
        self.assertEqual(badge.text, "live")
        self.assertEqual(self.background(badge), LIVE_BACKGROUND)
        self.assertIn("1", row.find_element(By.CSS_SELECTOR, ".before").text)
        self.assertIn("2", row.find_element(By.CSS_SELECTOR, ".after").text)
        self.assertIn("hot-plug", row.text)
        steps = [s.text for s in self.css(f'[data-address="{ADDRESS}"] [data-testid="step"]')]
        self.assertTrue(any("hot-plug vCPUs" in s for s in steps), steps)
        self.assertEqual(len(self.css(f'[data-testid="capacity-host"][data-host="{HOST}"]')), 1)
        self.assertIn("1 to update (1 live, 0 need restart)", self.by_id("plan-summary").text)
        # A live change needs no tick: Apply is armed at once.
        self.assertEqual(self.css('[data-testid="ack"]'), [])
        self.assertTrue(self.apply_button().is_enabled(), self.by_id("apply-hint").text)
        self.assertEqual(self.vcpus(), 1, "planning changed nothing")

        self.assertEqual(self.apply_and_wait(), "applied", self.apply_panel())
        self.assertIn(f"{ADDRESS}", self.by_id("apply-log").text, "progress lines were shown")
        verify = self.css('[data-testid="verify-result"]')
        self.assertEqual(len(verify), 1)
        self.assertEqual(verify[0].get_attribute("data-ok"), "true", verify[0].text)
        self.assertEqual([o.get_attribute("data-converged") for o in self.css(
            f'[data-testid="outcome"][data-address="{ADDRESS}"]')], ["true"])
        self.assertEqual(self.by_id("plan-status").text, "applied")
        self.assertFalse(self.apply_button().is_enabled(), "an applied plan cannot be applied again")

        self.assertEqual(self.vcpus(), 2)
        self.assert_guest_kept_running()
        status, body = self.api("GET", f"/v1/plans/{plan_id}")
        self.assertEqual((status, body["status"]), (200, "applied"))
        # Drift follows: the host now matches the server's document.
        self.wait(lambda: self.by_id("drift-refresh").click() or [r.get_attribute("data-differ") for r in self.css(
            f'[data-testid="drift-row"][data-document="{DRIFT_DOC}"][data-host="{HOST}"]')] == ["0"],
            30, "drift to show the document in sync")
        self.assert_token_never_left_the_header()

    def test_restart_change_needs_a_tick_before_apply_arms(self):
        self.open_page_with_token()
        # Uploaded as a file, read by the page: a live change and a restart-class one.
        path = os.path.join(self.dir, "restart.yaml")
        with open(path, "w") as f:
            f.write(document(vcpus=2, extra=", memory_sharing: false"))
        self.by_id("doc-file").send_keys(path)
        self.wait(lambda: "memory_sharing: false" in self.by_id("doc-text").get_attribute("value"),
                  what="the uploaded file in the text area")
        self.plan()

        change = self.css(f'[data-testid="change"][data-address="{ADDRESS}"]')[0]
        self.assertEqual(change.get_attribute("data-disruption"), "restart")
        row = self.attribute_row("memory_sharing")
        self.assertEqual(row.get_attribute("data-disruption"), "restart")
        badge = row.find_element(By.CSS_SELECTOR, '[data-testid="disruption"]')
        self.assertEqual(badge.text, "needs restart")
        self.assertEqual(self.background(badge), RESTART_BACKGROUND)
        self.assertNotEqual(self.background(badge), LIVE_BACKGROUND)
        self.assertEqual(self.attribute_row("vcpus").get_attribute("data-disruption"), "live")

        ticks = self.css(f'[data-testid="ack"][data-address="{ADDRESS}"]')
        self.assertEqual(len(ticks), 1, "one tick box for the restart-class change")
        self.assertFalse(ticks[0].is_selected())
        self.assertFalse(self.apply_button().is_enabled(), "Apply must stay disabled until ticked")
        self.assertIn("Tick", self.by_id("apply-hint").text)
        self.driver.find_element(By.CSS_SELECTOR, f'label[for="{ticks[0].get_attribute("id")}"]').click()
        self.assertTrue(ticks[0].is_selected())
        self.assertTrue(self.apply_button().is_enabled(), self.by_id("apply-hint").text)
        ticks[0].click()
        self.assertFalse(self.apply_button().is_enabled(), "unticking disarms Apply")
        ticks[0].click()
        self.assertTrue(self.apply_button().is_enabled())
        self.assertIn("allow_restart=false", self.by_id("apply-allows").text)

        # Made without allow restart: written to the persistent config, pending; the guest runs on.
        self.assertEqual(self.apply_and_wait(), "applied", self.apply_panel())
        self.assertEqual(self.css('[data-testid="verify-result"]')[0].get_attribute("data-ok"), "true")
        self.save_screenshot()
        self.assertEqual(self.vcpus(), 2)
        self.assert_guest_kept_running()
        self.assertIn("<nosharepages/>", virsh("dumpxml", "--inactive", NAME))
        self.assert_token_never_left_the_header()

    def test_stale_plan_is_refused_on_the_page(self):
        self.open_page_with_token()
        self.paste(document(vcpus=2))
        plan_id = self.plan()
        self.assertTrue(self.apply_button().is_enabled())
        # The host moves behind the page's back: the reviewed plan no longer holds.
        rc, out, err = run(["apply", self.write("moved.yaml", document(vcpus=2))])
        self.assertEqual(rc, 0, out + err)
        self.apply_button().click()
        error = self.by_id("apply-error")
        self.wait(lambda: error.is_displayed(), 60, "the refusal")
        self.assertEqual(error.get_attribute("data-status"), "412", error.text)
        self.assertEqual(error.get_attribute("data-code"), "changed_since_plan", error.text)
        self.assertIn("412", error.text)
        self.assertIn("Nothing was changed", error.text)
        self.assert_guest_kept_running()
        status, body = self.api("GET", f"/v1/plans/{plan_id}")
        self.assertEqual(status, 200)
        self.assertNotEqual(body["status"], "applied")

    def test_bad_document_shows_its_diagnostics(self):
        self.open_page_with_token()
        self.paste(f"version: 1\ndomains:\n  {NAME}: {{vcpus: 0, memory: 128MiB, colour: blue}}\n")
        self.by_id("plan-btn").click()
        banner = self.by_id("error")
        self.wait(lambda: banner.is_displayed(), 30, "the error")
        self.assertIn("422", banner.text)
        codes = [d.get_attribute("data-code") for d in self.css('[data-testid="diagnostic"]')]
        self.assertIn("unknown_field", codes, banner.text)
        self.assertFalse(self.apply_button().is_enabled())
        self.assertEqual(self.vcpus(), 1)
        self.assert_guest_kept_running()

    def test_wrong_token_shows_401_and_changes_nothing(self):
        _, before = self.api("GET", "/v1/plans")
        self.open_page("not-the-token-" + "x" * 20)
        state = self.by_id("token-state")
        self.wait(lambda: "401" in state.text, 30, "the token to be refused")
        banner = self.by_id("error")
        self.wait(lambda: banner.is_displayed() and "401" in banner.text, 30, "the 401 banner")
        self.paste(document(vcpus=2))
        self.by_id("plan-btn").click()
        self.wait(lambda: banner.is_displayed() and "401" in banner.text and "unauthorized" in banner.text,
                  30, "the 401 for the plan")
        self.assertEqual(self.css("#plan-id"), [], "no plan is shown")
        self.assertFalse(self.apply_button().is_enabled())
        _, after = self.api("GET", "/v1/plans")
        self.assertEqual(len(after["plans"]), len(before["plans"]), "no plan was made")
        self.assertEqual(self.vcpus(), 1)
        self.assert_guest_kept_running()
        self.assertEqual(self.driver.get_cookies(), [])


if __name__ == "__main__":
    unittest.main()
