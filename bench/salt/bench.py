"""Salt's own virt states against virtconverge.converged on the same N domains of the real libvirtd.

    bench/salt/run.sh [--quick] [--n N] [--runs R] [--scenarios stopped,running] [--out FILE]

Scenarios (each on the same domains vcs-b-d1..vcs-b-dN, created by Salt's virt state and managed
by both tools):

- ``stopped``: ``virt.defined`` (cpu 1, mem 64 MiB) vs ``virtconverge.converged`` (a document of N
  domains, ``state: stopped``): a no-op run, and a run that changes every domain's memory
  64 MiB → 96 MiB (before each timed change run both tools get the same untimed reset to 64 MiB).
- ``running``: ``virt.running`` vs ``virtconverge.converged`` with ``state: running``: a no-op run
  on N running KVM guests.

Each timed run is one ``salt-call --local state.apply`` (a new process, as an operator or a minion
runs it): the wall time of the whole command, and Salt's own sum of the state durations (no
interpreter start or module loading). Runs alternate between the tools. Every run is checked:
a no-op must report no changes and every state True; a change run must report N changed domains.
Exit status 1 when a check fails. Objects are removed on exit.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
URI = "qemu:///system"
PREFIX = "vcs-b-"
# Both tools run from one venv as an operator installs them: Salt with saltext-virt and the
# virtconverge extension's wheel (the modules come from the installed package, not a file root).
DEFAULT_VENV = os.path.join(REPO, "build", "salt-ext", "venv")
MAKE_VENV = ("scripts/build-salt-ext.sh build/salt-ext && "
             "tests/salt/make-venv.sh build/salt-ext build/salt-ext/venv")


def virsh(*args, check=False):
    p = subprocess.run(["virsh", "-q", "-c", URI] + list(args), capture_output=True, text=True,
                       timeout=300)
    if check and p.returncode != 0:
        raise RuntimeError(f"virsh {args}: {p.stderr}")
    return p.stdout


def cleanup():
    for line in virsh("list", "--all", "--name").splitlines():
        name = line.strip()
        if name.startswith(PREFIX):
            virsh("destroy", name)
            virsh("undefine", name)


class Bench:
    def __init__(self, args):
        self.args = args
        self.n = args.n
        self.races = 0
        self.work = args.work
        self.salt_call = os.path.join(args.venv, "bin", "salt-call")
        self.names = [f"{PREFIX}d{i}" for i in range(1, self.n + 1)]
        self.conf = os.path.join(self.work, "conf")
        self.states = os.path.join(self.work, "states")
        os.makedirs(self.conf, exist_ok=True)
        os.makedirs(self.states, exist_ok=True)
        with open(os.path.join(self.conf, "minion"), "w") as f:
            f.write(f"""id: vcs-bench
root_dir: {self.work}/root
file_client: local
file_roots:
  base: [{self.states}]
virtconverge.binary: {args.binary}
virtconverge.connection: {URI}
""")

    def call(self, *args):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        start = time.perf_counter()
        p = subprocess.run([self.salt_call, "--local", "-c", self.conf, "--out", "json",
                            "--log-level", "error"] + list(args),
                           capture_output=True, text=True, timeout=1800, env=env)
        wall = time.perf_counter() - start
        try:
            out = json.loads(p.stdout)["local"]
        except (ValueError, KeyError):
            raise RuntimeError(f"salt-call {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}") from None
        return wall, out

    def write_sls(self, name, text):
        with open(os.path.join(self.states, name + ".sls"), "w") as f:
            f.write(text)

    def salt_virt_sls(self, function, mem_var=True):
        mem = "{{ pillar.get('mem', 64) }}" if mem_var else "64"
        return "".join(f"""{d}:
  {function}:
    - cpu: 1
    - mem: {mem}
    - vm_type: kvm
    - connection: {URI}
""" for d in self.names)

    def converged_sls(self, state):
        return f"""{{% set mem = pillar.get('mem', 64) %}}
bench:
  virtconverge.converged:
    - connection: {URI}
    - document:
        version: 1
        domains:
{{% for i in range(1, {self.n} + 1) %}}
          {PREFIX}d{{{{ i }}}}: {{vcpus: 1, memory: {{{{ mem }}}}MiB, max_memory: {{{{ mem }}}}MiB, state: {state}}}
{{% endfor %}}
"""

    def reset(self, state, mem=64):
        """Untimed: every domain back to 64 MiB with the engine's CLI. max_memory is declared (as
        in the converged document) because Salt's ``mem`` sets both <memory> and <currentMemory>,
        and virtconverge compares only what a document declares."""
        doc = {"version": 1, "domains": {d: {"vcpus": 1, "memory": f"{mem}MiB",
                                             "max_memory": f"{mem}MiB", "state": state}
                                         for d in self.names}}
        p = subprocess.run([self.args.binary, "apply", "-", "--connection", URI],
                           input=json.dumps(doc), capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"reset failed: {p.stdout}\n{p.stderr}")

    # libvirt words it "no domain with matching id" or "... matching name 'x'", by the lookup.
    RACE = "no domain with matching "

    def timed(self, sls, expect_changes, pillar=None):
        """One timed run. Salt's virt.list_domains looks up every running domain by id after listing
        the ids, so a transient domain of another user of the daemon that goes away in between fails
        the state ("no domain with matching id" or "... name"); such a run is discarded, counted and
        run again."""
        for _ in range(5):
            try:
                return self._timed(sls, expect_changes, pillar)
            except RuntimeError as exc:
                if self.RACE not in str(exc) or not sls.startswith("salt_"):
                    raise
                self.races += 1
                print(f"bench: {sls}: discarded a run that met the list/lookup race", flush=True)
        raise RuntimeError(f"{sls}: the list/lookup race 5 times in a row")

    def _timed(self, sls, expect_changes, pillar=None):
        args = ["state.apply", sls]
        if pillar:
            args.append("pillar=" + json.dumps(pillar))
        wall, out = self.call(*args)
        if not isinstance(out, dict):
            raise RuntimeError(f"{sls}: {out}")
        rets = list(out.values())
        failed = [r for r in rets if r.get("result") is not True]
        if failed:
            raise RuntimeError(f"{sls}: {len(failed)} state(s) not True, e.g. {failed[0]}")
        if sls.startswith("vc_"):
            changed = len(rets[0]["changes"])
        else:
            changed = sum(1 for r in rets if r["changes"])
        if changed != expect_changes:
            raise RuntimeError(f"{sls}: expected {expect_changes} changed domains, got {changed}: "
                               f"{[r['changes'] for r in rets if r['changes']][:2]}")
        states_ms = sum(r.get("duration", 0) for r in rets)
        return wall, states_ms / 1000.0

    def scenario(self, state, salt_function, n):
        self.n, self.names = n, [f"{PREFIX}d{i}" for i in range(1, n + 1)]
        runs = self.args.runs
        self.write_sls("salt_" + state, self.salt_virt_sls(salt_function))
        self.write_sls("vc_" + state, self.converged_sls(state))
        # Salt's virt state creates the domains; both then manage the same ones.
        self.timed_setup("salt_" + state)
        results = {}
        tools = [("Salt " + salt_function, "salt_" + state), ("virtconverge.converged", "vc_" + state)]
        # Warm-up (and proof that each tool sees the other's result as converged).
        for _, sls in tools:
            self.timed(sls, 0)
        for r in range(runs):
            order = tools if r % 2 == 0 else list(reversed(tools))
            for label, sls in order:
                results.setdefault((label, "no-op"), []).append(self.timed(sls, 0))
        if state == "stopped":
            for r in range(runs):
                order = tools if r % 2 == 0 else list(reversed(tools))
                for label, sls in order:
                    self.reset(state)
                    results.setdefault((label, "change"), []).append(
                        self.timed(sls, n, pillar={"mem": 96}))
            self.reset(state)
            for _, sls in tools:
                self.timed(sls, 0)
        return results

    def timed_setup(self, sls):
        for _ in range(5):
            wall, out = self.call("state.apply", sls)
            if self.RACE not in json.dumps(out):
                break
            self.races += 1
        bad = [r for r in out.values() if r.get("result") is not True] if isinstance(out, dict) else [out]
        if bad:
            raise RuntimeError(f"setup {sls}: {bad[0]}")


def fmt(values):
    """median (min–max): robust against a run that met a busy moment of the shared machine."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "virtconverge"))
    ap.add_argument("--venv", default=DEFAULT_VENV,
                    help="Salt with the installed extension (tests/salt/make-venv.sh)")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--n-running", type=int, default=10,
                    help="domains of the running scenario (each idle KVM guest costs CPU)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", default="stopped,running")
    ap.add_argument("--work", default="/tmp/vcs-bench")
    ap.add_argument("--out", help="also write the markdown table here")
    ap.add_argument("--quick", action="store_true", help="N = 5 stopped and 2 running, 1 run (for CI)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.n_running, args.runs, args.scenarios = 5, 2, 1, "stopped,running"
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"bench: {args.binary} is not built")
    if not os.access(os.path.join(args.venv, "bin", "salt-call"), os.X_OK):
        sys.exit(f"bench: no Salt in {args.venv}: {MAKE_VENV}")
    subprocess.run(["rm", "-rf", args.work], check=True)
    os.makedirs(args.work)
    os.chmod(args.work, 0o755)

    # Interrupted or terminated: still remove every vcs-b- domain.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cleanup()
    rows = []
    try:
        bench = Bench(args)
        salt_version = subprocess.run([bench.salt_call, "--version"], capture_output=True,
                                      text=True).stdout.strip()
        for state in args.scenarios.split(","):
            function = {"stopped": "virt.defined", "running": "virt.running"}[state]
            n = args.n if state == "stopped" else args.n_running
            results = bench.scenario(state, function, n)
            for (label, kind), values in results.items():
                rows.append((n, state, kind, label, fmt([v[0] for v in values]),
                             fmt([v[1] for v in values]), len(values)))
                print(f"bench: {n} {state} {kind} {label}: wall {rows[-1][4]} s, states {rows[-1][5]} s",
                      flush=True)
            cleanup()
    finally:
        cleanup()
        subprocess.run(["rm", "-rf", args.work], check=False)
    lines = [f"Real libvirtd ({URI}); {salt_version}; each value the median (min–max) of "
             f"{args.runs} run(s) in seconds.", "",
             "| domains | run | states | salt-call wall (s) | Salt's state time (s) | runs |",
             "|---|---|---|---|---|---|"]
    for n, state, kind, label, wall, st, count in rows:
        what = "no-op" if kind == "no-op" else "memory 64 → 96 MiB on every domain"
        lines.append(f"| {n} {state} | {what} | {label} | {wall} | {st} | {count} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    print("bench: every run checked (no-op: no changes; change: every domain changed); "
          f"Salt runs discarded for the list/lookup race: {bench.races}")


if __name__ == "__main__":
    main()
