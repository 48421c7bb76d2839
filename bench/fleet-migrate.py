#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Live migration by the engine against plain `virsh migrate`, on the same guest (issue #11): the
tiny Linux test guest (TCG, 256 MiB, its disk on the real Ceph cluster) on a two-host fleet
(tests/integration/fleet.py starts and stops both private libvirtd's). Rounds alternate:

  engine: `virtconverge apply fleet.yaml` after editing the domain's host: (A→B, then B→A): the
          whole run (connect to both hosts, observe both, CPU check, plan, migrate, verify) and
          the migration step's own time and downtime as apply reports them;
  virsh:  `virsh migrate --live --persistent --undefinesource` (A→B, then B→A): its wall time
          and the destination's completed-job downtime.

Prints a Markdown table of medians (min–max).

  bench/fleet-migrate.py [--rounds 5]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import fleet  # noqa: E402

BINARY = os.environ.get("VC_BINARY", os.path.join(REPO, "build", "virtconverge"))
NAME = "vcf-bench"


def cell(values, unit):
    if not values:
        return "–"
    return f"{statistics.median(values):.{2 if unit == 's' else 0}f} ({min(values):.{2 if unit == 's' else 0}f}–" \
           f"{max(values):.{2 if unit == 's' else 0}f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="vcf-bench-")
    results = {"engine run": [], "engine step": [], "engine downtime": [], "virsh": [], "virsh downtime": []}
    with fleet.Fleet(log=lambda *a: None) as f:
        image = f.create_rbd_image()
        log = f.serial_log(NAME)
        f.a.define(fleet.guest_xml(NAME, image, log))
        f.a.virsh("start", NAME)
        fleet.GuestConsole(log).wait_ready(timeout=180)

        def document(host):
            path = os.path.join(work, "fleet.yaml")
            with open(path, "w") as out:
                out.write("version: 1\nhosts:\n")
                for h in f.hosts:
                    out.write(f"  {h.name}: {{connection: \"{h.uri}\"}}\n")
                out.write(f"domains:\n  {NAME}: {{host: {host}, vcpus: 1, memory: 256MiB}}\n")
            return path

        for _ in range(args.rounds):
            for src, dst in ((f.a, f.b), (f.b, f.a)):
                start = time.monotonic()
                p = subprocess.run([BINARY, "apply", document(dst.name)], capture_output=True, text=True,
                                   env=dict(os.environ, NO_COLOR="1"))
                wall = time.monotonic() - start
                m = re.search(r"migrated to \S+ in ([0-9.]+) s, downtime ([0-9]+) ms", p.stdout)
                if p.returncode != 0 or m is None:
                    sys.exit("engine migration failed:\n" + p.stdout + p.stderr)
                results["engine run"].append(wall)
                results["engine step"].append(float(m.group(1)))
                results["engine downtime"].append(float(m.group(2)))
            for src, dst in ((f.a, f.b), (f.b, f.a)):
                wall, job = fleet.virsh_migrate(src, dst, NAME)
                results["virsh"].append(wall)
                if job.get("downtime_ms") is not None:
                    results["virsh downtime"].append(float(job["downtime_ms"]))
    n = len(results["virsh"])
    print(f"{n} migrations each, median (min–max):\n")
    print("| | wall (s) | downtime (ms) |")
    print("|---|---:|---:|")
    print(f"| virtconverge apply (whole run) | {cell(results['engine run'], 's')} | {cell(results['engine downtime'], 'ms')} |")
    print(f"| virtconverge's migrate step | {cell(results['engine step'], 's')} | |")
    print(f"| virsh migrate | {cell(results['virsh'], 's')} | {cell(results['virsh downtime'], 'ms')} |")


if __name__ == "__main__":
    main()
