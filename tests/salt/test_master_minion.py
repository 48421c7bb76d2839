"""The fleet shape: a real salt-master and two salt-minions on 127.0.0.1 (distinct ids, config
dirs and ports chosen at run time), each minion converging its own part of the real libvirtd
(names vcs-mm1-* and vcs-mm2-*, from its own pillar), targeted from the master with
`salt '*' state.apply site` (salt/examples/states/site.sls). The minions load the virtconverge
modules from the installed extension (tests/salt/make-venv.sh): the master's file roots hold only
the state files, and nothing is synced. The processes are started by this test and stopped by their
process ids."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import (BINARY, SALT_BIN, SALT_DIR, URI, cleanup, make_work, names,
                      require_real_libvirtd, snapshot)

ROOT = "/tmp/vcs-mm"
MINIONS = {"vcs-mm-m1": "vcs-mm1-", "vcs-mm-m2": "vcs-mm2-"}
EXAMPLES = os.path.join(SALT_DIR, "examples")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pillar_for(prefix, vcpus=1):
    return {"virtconverge": {
        "version": 1,
        "networks": {prefix + "net": {"mode": "isolated", "autostart": False}},
        "domains": {prefix + "web": {
            "vcpus": vcpus, "max_vcpus": 2, "memory": "64MiB", "state": "stopped",
            "interfaces": [{"network": prefix + "net"}]}},
    }}


class Fleet:
    def __init__(self):
        self.procs = []
        self.publish_port, self.ret_port = free_port(), free_port()
        self.master_conf = self._write("master", "master", f"""
root_dir: {ROOT}/master
interface: 127.0.0.1
publish_port: {self.publish_port}
ret_port: {self.ret_port}
user: root
auto_accept: True
worker_threads: 2
file_roots:
  base: [{EXAMPLES}/states]
pillar_roots:
  base: [{ROOT}/pillar]
log_file: {ROOT}/master/master.log
log_level_logfile: info
""")
        self.minion_confs = {}
        for mid in MINIONS:
            self.minion_confs[mid] = self._write(mid, "minion", f"""
id: {mid}
root_dir: {ROOT}/{mid}
master: 127.0.0.1
master_port: {self.ret_port}
publish_port: {self.publish_port}
user: root
acceptance_wait_time: 1
random_reauth_delay: 0
virtconverge.binary: {BINARY}
virtconverge.connection: {URI}
log_file: {ROOT}/{mid}/minion.log
log_level_logfile: info
""")
        os.makedirs(f"{ROOT}/pillar")
        self.set_vcpus(1)

    def _write(self, name, kind, text):
        conf = f"{ROOT}/{name}/conf"
        os.makedirs(conf)
        with open(f"{conf}/{kind}", "w") as f:
            f.write(text.lstrip())
        return conf

    def set_vcpus(self, vcpus):
        top = {"base": {mid: [mid.replace("-", "_")] for mid in MINIONS}}
        with open(f"{ROOT}/pillar/top.sls", "w") as f:
            json.dump(top, f)
        for mid, prefix in MINIONS.items():
            with open(f"{ROOT}/pillar/{mid.replace('-', '_')}.sls", "w") as f:
                json.dump(pillar_for(prefix, vcpus), f)

    def start(self, program, conf):
        log = open(os.path.join(os.path.dirname(conf), f"{program}.out"), "w")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        proc = subprocess.Popen([os.path.join(SALT_BIN, program), "-c", conf, "-l", "warning"],
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def salt(self, *args, timeout=300):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        p = subprocess.run([os.path.join(SALT_BIN, "salt"), "-c", self.master_conf, "--static",
                            "--out", "json", "-t", str(timeout)] + list(args),
                           capture_output=True, text=True, timeout=timeout + 60, env=env)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise AssertionError(f"salt {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}") from None

    def wait_for_minions(self, deadline=120):
        end = time.time() + deadline
        last = None
        while time.time() < end:
            for proc in self.procs:
                assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
            try:
                last = self.salt("*", "test.ping", timeout=10)
                if sorted(k for k, v in last.items() if v is True) == sorted(MINIONS):
                    return
            except AssertionError as exc:
                last = exc
            time.sleep(1)
        raise AssertionError(f"the minions did not answer within {deadline} s: {last}")

    def stop(self):
        """SIGTERM to each process we started (and the process group it leads), then SIGKILL."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            # Salt's own children are in the group too: none may outlive the test.
            try:
                os.killpg(proc.pid, 0)
                time.sleep(2)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def fleet():
    require_real_libvirtd()
    for prefix in MINIONS.values():
        cleanup(prefix)
    make_work(ROOT)
    f = Fleet()
    try:
        f.start("salt-master", f.master_conf)
        time.sleep(2)
        for mid in MINIONS:
            f.start("salt-minion", f.minion_confs[mid])
        f.wait_for_minions()
        yield f
    finally:
        f.stop()
        for prefix in MINIONS.values():
            cleanup(prefix)
        cleanup("vcs-mm-", ROOT)


def ours():
    return {prefix: snapshot(prefix) for prefix in MINIONS.values()}


def test_the_master_converges_each_minions_own_connection(fleet):
    # Each minion has the modules from the installed package as it starts: no sync_all first.
    functions = fleet.salt("*", "sys.list_functions", "virtconverge")
    states = fleet.salt("*", "sys.list_state_functions", "virtconverge")
    for mid in MINIONS:
        assert "virtconverge.plan" in functions[mid], functions
        assert "virtconverge.converged" in states[mid], states

    before = ours()
    predicted = fleet.salt("*", "state.apply", "site", "test=True")
    assert sorted(predicted) == sorted(MINIONS)
    for mid, prefix in MINIONS.items():
        [ret] = predicted[mid].values()
        assert ret["result"] is None, ret
        assert sorted(ret["changes"]) == [f"domain.{prefix}web", f"network.{prefix}net"]
    assert ours() == before, "test=True changed the host"

    applied = fleet.salt("*", "state.apply", "site")
    for mid, prefix in MINIONS.items():
        [ret] = applied[mid].values()
        assert ret["result"] is True, ret["comment"]
        assert ret["changes"][f"domain.{prefix}web"]["action"] == "create"
        assert prefix + "web" in names("list", "--all", "--name")
        assert prefix + "net" in names("net-list", "--name")
        # Each minion made only its own objects.
        other = [p for p in MINIONS.values() if p != prefix][0]
        assert not any(other in a for a in ret["changes"])

    converged = ours()
    again = fleet.salt("*", "state.apply", "site")
    for mid in MINIONS:
        [ret] = again[mid].values()
        assert ret["result"] is True and ret["changes"] == {}, ret
    assert ours() == converged

    # One pillar change, the whole fleet: test mode shows before → after on every minion.
    fleet.set_vcpus(2)
    fleet.salt("*", "saltutil.refresh_pillar")
    predicted = fleet.salt("*", "state.apply", "site", "test=True")
    for mid, prefix in MINIONS.items():
        [ret] = predicted[mid].values()
        assert ret["result"] is None
        assert ret["changes"][f"domain.{prefix}web"]["attributes"]["vcpus"]["old"] == 1
        assert ret["changes"][f"domain.{prefix}web"]["attributes"]["vcpus"]["new"] == 2
    assert ours() == converged
    applied = fleet.salt("*", "state.apply", "site")
    for mid, prefix in MINIONS.items():
        [ret] = applied[mid].values()
        assert ret["result"] is True, ret["comment"]
        assert snapshot(prefix)["domains"][prefix + "web"]["vcpus"] == 2
