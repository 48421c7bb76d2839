#!/usr/bin/env python3
"""Baseline for live migration: plain `virsh migrate` of the fleet's test guest between its two
hosts, to compare the engine's own migration with (docs/benchmarks.md).

    bench/migrate-virsh.py [--rounds N] [--memory MIB] [--p2p] [--json FILE]

Starts the two-host fleet of tests/integration/fleet.py (vcf-a 127.0.0.52, vcf-b 127.0.0.53;
Ceph too if it is not running, stopped again at the end), boots the tiny Linux guest (TCG, 1 vCPU,
--memory MiB, default 256, its disk an RBD image) on vcf-a, then N rounds (default 5) of

    virsh -c URI_A migrate --live --persistent --undefinesource vcf-bench URI_B     (A -> B)
    virsh -c URI_B migrate --live --persistent --undefinesource vcf-bench URI_A     (B -> A)

(client-driven; --p2p: peer-to-peer to the destination's qemu+tcp URI instead). Per migration:
the wall time of the virsh command, and from `virsh domjobinfo --completed` on the destination
"Total downtime" (the guest paused for the switch-over), "Time elapsed" (libvirt's migration job,
as libvirt counts it; the wall time also holds virsh's connections and the phases outside it) and
"Data processed". After each one (not timed) it checks that the guest runs on the destination
only, with the same boot id and ticker process, and that the source has no domain. Prints a table
of median, min and max per direction; removes the guest, its image and both hosts on exit, also
on failure.
Exit status 0 when every migration succeeded, 1 otherwise, 2 on bad usage.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import fleet  # noqa: E402

NAME = "vcf-bench"


def mib(text):
    """'94.497 MiB' -> 94.497 (None when absent)."""
    try:
        value, unit = text.split()
    except (AttributeError, ValueError):
        return None
    scale = {"B": 1 / 1048576, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}.get(unit)
    return float(value) * scale if scale else None


def fmt(stats, digits):
    med, lo, hi = stats
    if med is None:
        return "n/a"
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", type=int, default=256, help="guest memory, MiB")
    ap.add_argument("--p2p", action="store_true", help="virsh migrate --p2p to qemu+tcp://ADDR:16519/system")
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    t0 = time.monotonic()
    results = []   # dicts: direction, round, wall_s, downtime_ms, job_ms, data_mib
    rc = 1
    f = fleet.Fleet()
    con = None
    try:
        f.start()
        image = f.create_rbd_image()
        log = f.serial_log(NAME)
        f.a.define(fleet.guest_xml(NAME, image, log, memory_mib=args.memory))
        f.a.virsh("start", NAME)
        con = fleet.GuestConsole(log)
        con.wait_ready(timeout=180)
        con.wait_tick(lambda t: t["disk"] == "ok", timeout=60, what="a tick with disk=ok")
        view = con.wait_view()
        load_before = os.getloadavg()
        for r in range(1, args.rounds + 1):
            for src, dst in ((f.a, f.b), (f.b, f.a)):
                wall, job = fleet.virsh_migrate(src, dst, NAME, p2p=args.p2p)
                after = con.wait_view(timeout=60, fresh=True, after=view)
                fleet.assert_continuity(view, after)
                if src.domains() or dst.domstate(NAME) != "running":
                    raise AssertionError(f"after {src.name} -> {dst.name}: source has {src.domains()}, "
                                         f"destination says {dst.domstate(NAME)}")
                view = after
                row = {"direction": f"{src.name} -> {dst.name}", "round": r, "wall_s": wall,
                       "downtime_ms": job["downtime_ms"], "job_ms": job["total_ms"],
                       "data_mib": mib(job.get("Data processed"))}
                results.append(row)
                print(f"round {r}: {row['direction']}: {wall:.2f} s, downtime {row['downtime_ms']} ms, "
                      f"job {row['job_ms']} ms, {row['data_mib'] or 0:.1f} MiB", flush=True)
        load_after = os.getloadavg()
        f.a.remove_domain(NAME)
        rc = 0
    except Exception as e:
        print(f"FAIL: {e}", file=sys.stderr)
        if con is not None:
            print(con.tail(20), file=sys.stderr)
    finally:
        try:
            f.close()
        except Exception as e:
            print(f"FAIL: {e}", file=sys.stderr)
            rc = 1

    if results:
        mode = "--p2p, qemu+tcp" if args.p2p else "client-driven"
        print()
        print(f"virsh migrate --live --persistent --undefinesource ({mode}); guest: Linux under TCG,"
              f" 1 vCPU, {args.memory} MiB, RBD disk; {args.rounds} round(s)")
        if rc == 0:
            print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after;"
                  f" {os.cpu_count()} CPUs")
        print()
        print("| direction | n | virsh wall s, median (min-max) | QEMU downtime ms | job elapsed ms |"
              " data MiB |")
        print("|---|---|---|---|---|---|")
        for direction in dict.fromkeys(r["direction"] for r in results):
            rows = [r for r in results if r["direction"] == direction]
            print(f"| {direction} | {len(rows)} | {fmt(fleet.summary([r['wall_s'] for r in rows]), 2)} | "
                  f"{fmt(fleet.summary([r['downtime_ms'] for r in rows]), 0)} | "
                  f"{fmt(fleet.summary([r['job_ms'] for r in rows]), 0)} | "
                  f"{fmt(fleet.summary([r['data_mib'] for r in rows]), 1)} |")
        allrows = results
        print(f"| both | {len(allrows)} | {fmt(fleet.summary([r['wall_s'] for r in allrows]), 2)} | "
              f"{fmt(fleet.summary([r['downtime_ms'] for r in allrows]), 0)} | "
              f"{fmt(fleet.summary([r['job_ms'] for r in allrows]), 0)} | "
              f"{fmt(fleet.summary([r['data_mib'] for r in allrows]), 1)} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"rounds": args.rounds, "memory_mib": args.memory, "p2p": args.p2p,
                       "ok": rc == 0, "migrations": results}, out, indent=2)
    print(f"\ntotal {time.monotonic() - t0:.1f} s: {'PASS' if rc == 0 else 'FAIL'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
