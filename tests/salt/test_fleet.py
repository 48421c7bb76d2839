"""A fleet (a document with hosts:) converged from one place, as on the master's own minion, on
two real private libvirtd's that this suite starts (scripts/host-up.sh vcs-a 127.0.0.92 and vcs-b
127.0.0.93, VC_HOSTS_DIR=/tmp/vc-salt-fleet) and stops (scripts/host-down.sh, exactly those two,
also when a test fails). One domain, vcs-sf-web (no disk, no NIC: a guest without an OS that runs
under KVM), is created on vcs-a and moved by changing its host: in pillar, live:

- salt-call --local with salt/examples/states/fleet.sls, the document from pillar, and the minion
  config's virtconverge.connection set (it is not used for a fleet);
- a real salt-master and the master's own salt-minion, `salt-run state.orchestrate orch.fleet`
  (salt/examples/orch/fleet.sls, targeting the master's minion by the master's id), the pillar
  on the master; then `salt vcs-sf-minion state.apply fleet` from the master.

No networks: hosts on one machine share the kernel's bridges."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BINARY, REPO, SALT_BIN, SALT_DIR, make_work, virsh
from test_master_minion import free_port
from test_salt_call import SaltCall

HOSTS_DIR = "/tmp/vc-salt-fleet"
HOSTS = {"vcs-a": "127.0.0.92", "vcs-b": "127.0.0.93"}
PREFIX = "vcs-sf-"
WEB = PREFIX + "web"
ROOT = "/tmp/vcs-sf"
EXAMPLES = os.path.join(SALT_DIR, "examples")
MINION_ID = "vcs-sf-minion"
LIVE = "live migration, memory only (no disks)"


def host_script(script, name, *args):
    env = dict(os.environ, VC_HOSTS_DIR=HOSTS_DIR)
    return subprocess.run([os.path.join(REPO, "scripts", script), name] + list(args), env=env,
                          capture_output=True, text=True, timeout=240)


def remove_ours(uris):
    """Every vcs-sf-* domain of both hosts gone (a restarted host keeps an earlier run's)."""
    for uri in uris.values():
        for name in virsh("list", "--all", "--name", uri=uri).split():
            if name.startswith(PREFIX):
                virsh("destroy", name, check=False, uri=uri)
                virsh("undefine", name, check=False, uri=uri)


@pytest.fixture(scope="module")
def hosts():
    started = []
    try:
        for name, addr in HOSTS.items():
            started.append(name)
            p = host_script("host-up.sh", name, addr)
            assert p.returncode == 0, f"host-up.sh {name}: {p.stdout}\n{p.stderr}"
        uris = {}
        for name in HOSTS:
            with open(os.path.join(HOSTS_DIR, name, "uri")) as f:
                uris[name] = f.read().strip()
        remove_ours(uris)
        yield uris
    finally:
        for name in reversed(started):
            p = host_script("host-down.sh", name)
            assert p.returncode == 0, f"host-down.sh {name}: {p.stdout}\n{p.stderr}"


def where(uris):
    """{host: (our domains, our running domains)} as libvirt lists them on each host."""
    found = {}
    for host, uri in uris.items():
        ours = lambda *args: sorted(n for n in virsh("list", "--name", *args, uri=uri).split()  # noqa: E731
                                    if n.startswith(PREFIX))
        found[host] = (ours("--all"), ours())
    return found


def fleet_document(uris, host):
    return {"version": 1,
            "hosts": {name: {"connection": uri} for name, uri in uris.items()},
            "domains": {WEB: {"host": host, "vcpus": 1, "memory": "128MiB"}}}


def only_on(host):
    return {h: ([WEB], [WEB]) if h == host else ([], []) for h in HOSTS}


def migration(source, target):
    return {"action": "migrate", "disruption": "live", "host": target, "from_host": source,
            "migration": f"host: {source} -> {target} ({LIVE})",
            "attributes": {"host": {"old": source, "new": target, "disruption": "live",
                                    "reason": LIVE}},
            "steps": [f"migrate domain.{WEB}@{source} live to {target} (memory only)"]}


def check_converged(ret):
    assert ret["result"] is True and ret["changes"] == {}, ret
    assert ret["comment"].startswith("The fleet (vcs-a, vcs-b) matches the document; nothing to do.")


# --- salt-call --local: the master's minion applying states/fleet.sls -----------------------------

def test_salt_call_converges_a_fleet_from_pillar_and_migrates_the_domain_live(hosts):
    remove_ours(hosts)
    make_work(ROOT)
    try:
        local = SaltCall(os.path.join(ROOT, "local"))  # virtconverge.connection: qemu:///system

        def apply(host, test=False):
            args = ["state.apply", "fleet",
                    "pillar=" + json.dumps({"virtconverge_fleet": fleet_document(hosts, host)})]
            out = local.run(*args + (["test=True"] if test else []))
            assert isinstance(out, dict) and len(out) == 1, out
            [ret] = out.values()
            assert ret["__id__"] == "fleet", ret
            return ret

        predicted = apply("vcs-a", test=True)
        assert predicted["result"] is None, predicted["comment"]
        assert list(predicted["changes"]) == [f"domain.{WEB}@vcs-a"]
        created = predicted["changes"][f"domain.{WEB}@vcs-a"]
        assert created["action"] == "create" and created["host"] == "vcs-a"
        assert "On vcs-a:" in predicted["comment"]
        assert where(hosts) == only_on(None), "test=True changed a host"

        applied = apply("vcs-a")
        assert applied["result"] is True, applied["comment"]
        assert applied["changes"][f"domain.{WEB}@vcs-a"]["steps"] == [
            f"create domain.{WEB}@vcs-a", f"start domain.{WEB}@vcs-a"]
        assert where(hosts) == only_on("vcs-a")
        check_converged(apply("vcs-a"))

        # The pillar says vcs-b: test mode shows the live migration and moves nothing.
        predicted = apply("vcs-b", test=True)
        assert predicted["result"] is None, predicted["comment"]
        assert predicted["changes"] == {f"domain.{WEB}@vcs-b": migration("vcs-a", "vcs-b")}
        assert predicted["comment"].startswith(
            "virtconverge would change 1 resource(s) (1 migration(s) between hosts).")
        assert f"» domain.{WEB}@vcs-b (migrate, live)" in predicted["comment"]
        assert where(hosts) == only_on("vcs-a"), "test=True moved the domain"

        moved = apply("vcs-b")
        assert moved["result"] is True, moved["comment"]
        assert moved["changes"] == {f"domain.{WEB}@vcs-b": migration("vcs-a", "vcs-b")}
        assert "1 migration(s) between hosts" in moved["comment"]
        assert where(hosts) == only_on("vcs-b")
        assert virsh("domstate", WEB, uri=hosts["vcs-b"]) == "running"

        for test in (True, False):
            check_converged(apply("vcs-b", test=test))
        assert where(hosts) == only_on("vcs-b")

        # An explicit connection beside a fleet is refused before anything is contacted.
        p = local.raw("state.single", "virtconverge.converged", "name=fleet",
                      "document=" + json.dumps(fleet_document(hosts, "vcs-a")),
                      "connection=" + hosts["vcs-a"])
        [ret] = json.loads(p.stdout)["local"].values()
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert "[invalid_value] connection=" in ret["comment"] and "names one host" in ret["comment"]
        assert where(hosts) == only_on("vcs-b")

        # The execution module observes every host of the fleet.
        observed = local.run("virtconverge.observe",
                             "document=" + json.dumps(fleet_document(hosts, "vcs-b")))
        assert observed["domains"][WEB]["host"] == "vcs-b"
        assert observed["domains"][WEB]["state"] == "running"
    finally:
        remove_ours(hosts)
        shutil.rmtree(ROOT, ignore_errors=True)


# --- a salt-master and its own minion: salt-run state.orchestrate orch.fleet ------------------------

class Master:
    """A salt-master and the master's own salt-minion on 127.0.0.1 (ports chosen at run time), the
    fleet's pillar on the master. The master's id is MINION_ID + "_master", as Salt names a
    master after its host, so orch/fleet.sls targets MINION_ID without being told."""

    def __init__(self, root):
        self.root, self.procs = root, []
        publish, ret = free_port(), free_port()
        self.pillar = os.path.join(root, "pillar")
        os.makedirs(self.pillar)
        with open(os.path.join(self.pillar, "top.sls"), "w") as f:
            json.dump({"base": {MINION_ID: ["fleet"]}}, f)
        self.master_conf = self._write("master", "master", f"""
id: {MINION_ID}_master
root_dir: {root}/master
interface: 127.0.0.1
publish_port: {publish}
ret_port: {ret}
user: root
auto_accept: True
worker_threads: 2
file_roots:
  base: [{EXAMPLES}/states, {EXAMPLES}]
pillar_roots:
  base: [{self.pillar}]
log_file: {root}/master/master.log
log_level_logfile: info
""")
        self.minion_conf = self._write("minion", "minion", f"""
id: {MINION_ID}
root_dir: {root}/minion
master: 127.0.0.1
master_port: {ret}
publish_port: {publish}
user: root
acceptance_wait_time: 1
random_reauth_delay: 0
virtconverge.binary: {BINARY}
virtconverge.connection: qemu:///system
log_file: {root}/minion/minion.log
log_level_logfile: info
""")

    def _write(self, name, kind, text):
        conf = os.path.join(self.root, name, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, kind), "w") as f:
            f.write(text.lstrip())
        return conf

    def set_fleet(self, document):
        with open(os.path.join(self.pillar, "fleet.sls"), "w") as f:
            json.dump({"virtconverge_fleet": document}, f)

    def start(self):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        for program, conf in (("salt-master", self.master_conf), ("salt-minion", self.minion_conf)):
            log = open(os.path.join(os.path.dirname(conf), f"{program}.out"), "w")
            self.procs.append(subprocess.Popen(
                [os.path.join(SALT_BIN, program), "-c", conf, "-l", "warning"], stdout=log,
                stderr=subprocess.STDOUT, env=env, start_new_session=True))
            if program == "salt-master":
                time.sleep(2)
        end, last = time.time() + 120, None
        while time.time() < end:
            for proc in self.procs:
                assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
            last = self._json("salt", "--static", "-t", "10", MINION_ID, "test.ping", check=False)
            if isinstance(last, dict) and last.get(MINION_ID) is True:
                return
            time.sleep(1)
        raise AssertionError(f"the minion did not answer within 120 s: {last}")

    def _json(self, program, *args, check=True, timeout=600):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        p = subprocess.run([os.path.join(SALT_BIN, program), "-c", self.master_conf, "--out", "json",
                            "--log-level", "warning"] + list(args),
                           capture_output=True, text=True, timeout=timeout, env=env)
        try:
            return json.loads(p.stdout)
        except ValueError:
            if not check:
                return p.stdout + p.stderr
            raise AssertionError(f"{program} {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}") from None

    def orchestrate(self, test=False):
        """salt-run state.orchestrate orch.fleet: (the orchestration's states by id, the fleet
        state's return on the master's minion)."""
        out = self._json("salt-run", "state.orchestrate", "orch.fleet",
                         *(["test=True"] if test else []))
        data = out.get("data", out)
        [states] = data.values()
        assert isinstance(states, dict), out
        by_id = {ret["__id__"]: ret for ret in states.values()}
        assert sorted(by_id) == ["converge-fleet"], out
        minion_rets = by_id["converge-fleet"]["changes"].get("ret", {}).get(MINION_ID)
        if minion_rets is None:  # Salt gives the minion's states only when they changed something
            return by_id, None
        assert isinstance(minion_rets, dict) and len(minion_rets) == 1, by_id["converge-fleet"]
        [fleet] = minion_rets.values()
        assert isinstance(fleet, dict) and fleet.get("__id__") == "fleet", by_id["converge-fleet"]
        return by_id, fleet

    def state_apply(self, test=False):
        """salt MINION_ID state.apply fleet from the master: the fleet state's return."""
        out = self._json("salt", "--static", "-t", "600", MINION_ID, "state.apply", "fleet",
                         *(["test=True"] if test else []))
        [ret] = out[MINION_ID].values()
        assert ret["__id__"] == "fleet", out
        return ret

    def stop(self):
        """SIGTERM to each process started here (and the process group it leads), then SIGKILL."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            try:  # Salt's own children are in the group too: none may outlive the test.
                os.killpg(proc.pid, 0)
                time.sleep(2)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_orchestrate_from_the_master_moves_the_domain_with_its_pillar(hosts):
    remove_ours(hosts)
    make_work(ROOT)
    master = Master(os.path.join(ROOT, "mm"))
    try:
        master.set_fleet(fleet_document(hosts, "vcs-b"))
        master.start()

        orch, fleet = master.orchestrate()
        assert orch["converge-fleet"]["result"] is True, orch
        assert fleet["result"] is True, fleet["comment"]
        assert fleet["changes"][f"domain.{WEB}@vcs-b"]["action"] == "create"
        assert where(hosts) == only_on("vcs-b")

        # Only the pillar changes: test mode through the orchestration predicts the move.
        master.set_fleet(fleet_document(hosts, "vcs-a"))
        orch, fleet = master.orchestrate(test=True)
        assert fleet["result"] is None, fleet["comment"]
        assert fleet["changes"] == {f"domain.{WEB}@vcs-a": migration("vcs-b", "vcs-a")}
        assert where(hosts) == only_on("vcs-b"), "test=True moved the domain"

        orch, fleet = master.orchestrate()
        assert orch["converge-fleet"]["result"] is True, orch
        assert fleet["result"] is True, fleet["comment"]
        assert fleet["changes"] == {f"domain.{WEB}@vcs-a": migration("vcs-b", "vcs-a")}
        assert where(hosts) == only_on("vcs-a")

        orch, fleet = master.orchestrate()
        assert orch["converge-fleet"]["result"] is True and fleet is None, orch
        assert orch["converge-fleet"]["comment"] == f"States ran successfully. No changes made to {MINION_ID}."
        # The same state targeted from the master directly: nothing left to do, in both modes.
        for test in (True, False):
            check_converged(master.state_apply(test=test))
        assert where(hosts) == only_on("vcs-a")
    finally:
        master.stop()
        remove_ours(hosts)
        shutil.rmtree(ROOT, ignore_errors=True)
