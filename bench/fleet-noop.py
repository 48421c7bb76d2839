#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The no-op plan of a fleet against the slowest of its hosts alone (issue #11): three private
real libvirtd's (scripts/host-up.sh), N stopped no-OS domains on each (defined by the engine
itself), then with hyperfine:

  - `virtconverge plan host-K.yaml` for each host alone (a one-host document, --connection);
  - `virtconverge plan fleet-2.yaml` (hosts 1 and 2) and `fleet-3.yaml` (all three).

Each host is observed in a thread of its own, so a fleet's plan should cost about what its
slowest host costs, not the sum. Prints a Markdown table (and --json FILE writes hyperfine's
numbers); stops exactly the hosts it started.

  bench/fleet-noop.py [--domains 30] [--runs 20]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BINARY = os.environ.get("VC_BINARY", os.path.join(REPO, "build", "virtconverge"))
HOSTS_DIR = "/tmp/vc-bench-fleet"
HOSTS = {"vcb-1": "127.0.0.101", "vcb-2": "127.0.0.102", "vcb-3": "127.0.0.103"}
ENV = dict(os.environ, VC_HOSTS_DIR=HOSTS_DIR, NO_COLOR="1")


def script(name, *args):
    subprocess.run([os.path.join(REPO, "scripts", name), *args], check=True, env=ENV,
                   stdout=subprocess.DEVNULL)


def uri(host):
    with open(os.path.join(HOSTS_DIR, host, "uri")) as f:
        return f.read().strip()


def domains(host, n):
    return "".join(f"  vcb-{host[-1]}-{i:03d}: {{host: {host}, vcpus: 1, memory: 64MiB, state: stopped}}\n"
                   for i in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", type=int, default=30, help="stopped domains per host")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="vcb-fleet-")
    started = []
    try:
        for host, address in HOSTS.items():
            script("host-up.sh", host, address)
            started.append(host)
        docs = {}
        for host in HOSTS:
            path = os.path.join(work, f"{host}.yaml")
            with open(path, "w") as f:
                f.write("version: 1\ndomains:\n" + domains(host, args.domains).replace(f"host: {host}, ", ""))
            docs[host] = (path, ["--connection", uri(host)])
        for size in (2, 3):
            names = list(HOSTS)[:size]
            path = os.path.join(work, f"fleet-{size}.yaml")
            with open(path, "w") as f:
                f.write("version: 1\nhosts:\n")
                for h in names:
                    f.write(f"  {h}: {{connection: \"{uri(h)}\"}}\n")
                f.write("domains:\n" + "".join(domains(h, args.domains) for h in names))
            docs[f"fleet of {size}"] = (path, [])
        rc = subprocess.run([BINARY, "apply", docs["fleet of 3"][0]], env=ENV, capture_output=True, text=True)
        if rc.returncode != 0:
            sys.exit("setting up the hosts failed:\n" + rc.stdout + rc.stderr)
        for name, (path, extra) in docs.items():  # every document is a no-op now
            out = subprocess.run([BINARY, "plan", path, *extra], env=ENV, capture_output=True, text=True)
            if "No changes" not in out.stdout:
                sys.exit(f"{name}: not a no-op plan:\n{out.stdout}{out.stderr}")
        commands = [" ".join([BINARY, "plan", path, *extra]) for path, extra in docs.values()]
        export = os.path.join(work, "hyperfine.json")
        subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(args.runs), "--export-json", export,
                        *commands], env=ENV, check=True, stdout=subprocess.DEVNULL)
        with open(export) as f:
            results = json.load(f)["results"]
        rows = dict(zip(docs, results))
        slowest = max(rows[h]["mean"] for h in HOSTS)
        print(f"| plan of | domains | mean ± σ (ms) | median (ms) | vs slowest single host |")
        print("|---|---:|---:|---:|---:|")
        for name, r in rows.items():
            count = args.domains * (int(name[-1]) if name.startswith("fleet") else 1)
            print(f"| {name} | {count} | {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f} | "
                  f"{r['median'] * 1000:.1f} | {r['mean'] / slowest:.2f}× |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
    finally:
        for host in started:
            script("host-down.sh", host)


if __name__ == "__main__":
    main()
