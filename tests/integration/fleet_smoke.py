#!/usr/bin/env python3
"""Smoke test of the fleet fixture (fleet.py): two private hosts, the tiny Linux guest on an RBD
disk, plain `virsh migrate` there and back, and nothing left afterwards.

    python3 tests/integration/fleet_smoke.py

1. Starts vcf-a and vcf-b (and Ceph if it is not running; stopped again at the end unless another
   client uses it by then).
2. Defines and starts vcf-smoke on vcf-a, waits for GUEST-READY and a first tick with disk=ok.
3. virsh -c URI_A migrate --live --persistent --undefinesource vcf-smoke URI_B (client-driven).
   On vcf-b: running and persistent; the guest reports the same boot id, a larger uptime, the same
   ticker PID with a larger counter and disk=ok; what it wrote on its disk is in Ceph; vcf-a has
   no domain. 4. The same back to vcf-a. 5. Every tick line 1..n is in the serial log exactly
   once, from one process (no reboot, no restart, no lost line).
6. Removes the domain, the image, the serial log and both hosts, then checks that none of it is
   left (processes, directories, images) and that the shared daemon's `virsh list --all`
   (qemu:///system, only read) is what it was before.
Exit status 0 on success, 1 on failure.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

NAME = "vcf-smoke"


def system_domains():
    """`virsh -c qemu:///system list --all` (read only), or its error when that daemon is not up."""
    p = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all"], capture_output=True, text=True,
                       timeout=30)
    return (p.returncode, p.stdout.strip() if p.returncode == 0 else "not running")


def our_processes():
    """PIDs of processes that belong to the fleet: libvirtds and QEMUs of its hosts."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fleet.HOSTS_DIR in cmd or f"guest={NAME}" in cmd:
            found.append((int(pid), cmd[:120]))
    return found


def hop(con, src, dst, before, image):
    wall, job = fleet.virsh_migrate(src, dst, NAME)
    after = con.wait_view(timeout=60, fresh=True, after=before)
    fleet.assert_continuity(before, after)
    assert src.domains() == [], f"{src.name} still has {src.domains()}"
    assert dst.domstate(NAME) == "running", dst.domstate(NAME)
    assert dst.persistent(NAME), f"{NAME} is not persistent on {dst.name}"
    assert dst.qemu_pids().get(NAME), f"no QEMU of {NAME} on {dst.name}"
    assert not src.qemu_pids(), f"QEMU left on {src.name}: {src.qemu_pids()}"
    rec = fleet.disk_records(image)
    assert rec["tick"] and rec["tick"]["boot"] == after.boot and rec["tick"]["pid"] == after.tick_pid \
        and rec["tick"]["n"] >= after.tick_n, f"disk record in Ceph {rec} vs {after}"
    assert rec["pattern"] and rec["pattern"]["boot"] == after.boot, rec
    print(f"{src.name} -> {dst.name}: virsh migrate {wall:.2f} s, QEMU downtime {job['downtime_ms']} ms,"
          f" job {job['total_ms']} ms, {job.get('Data processed')}; guest {after!r}; in Ceph: tick n="
          f"{rec['tick']['n']}")
    return after


def main():
    t0 = time.monotonic()
    sys_before = system_domains()
    rc = 1
    con = image = None
    f = fleet.Fleet()
    try:
        f.start()
        image = f.create_rbd_image()
        log = f.serial_log(NAME)
        f.a.define(fleet.guest_xml(NAME, image, log))
        t = time.monotonic()
        f.a.virsh("start", NAME)
        con = fleet.GuestConsole(log)
        con.wait_ready(timeout=180)
        con.wait_tick(lambda t: t["disk"] == "ok", timeout=60, what="a tick with disk=ok")
        before = con.wait_view(timeout=60)
        print(f"{NAME} on {f.a.name}: ready in {time.monotonic() - t:.1f} s, {before!r}")
        assert before.boot and before.boot == con.boot_id(), (before.boot, con.boot_id())

        mid = hop(con, f.a, f.b, before, image)
        end = hop(con, f.b, f.a, mid, image)
        fleet.assert_continuity(before, end)
        gaps = con.tick_gaps()
        assert not gaps, f"ticks not continuous: {gaps[:3]}"
        pids = {t["pid"] for t in con.ticks}
        assert pids == {before.tick_pid}, pids
        assert [t["n"] for t in con.ticks] == list(range(1, len(con.ticks) + 1)), "tick counter"
        print(f"ticks 1..{len(con.ticks)} from pid {before.tick_pid}, none lost or repeated; boot {end.boot}")
        f.a.remove_domain(NAME)
        rc = 0
    except Exception as e:
        print(f"FAIL: {e}", file=sys.stderr)
        if con is not None:
            print(con.tail(20), file=sys.stderr)
    finally:
        t = time.monotonic()
        try:
            f.close()
        except Exception as e:
            print(f"FAIL: {e}", file=sys.stderr)
            rc = 1
        teardown = time.monotonic() - t

    # Nothing left behind.
    left = []
    for h in f.hosts:
        if os.path.exists(h.dir):
            left.append(h.dir)
    if our_processes():
        left.append(f"processes {our_processes()}")
    if os.path.exists(os.path.join(fleet.SERIAL_DIR, f"{NAME}-serial.log")):
        left.append("serial log")
    if image and fleet.ceph_running() and image in fleet.list_rbd_images():
        left.append(f"image rbd/{image}")
    if system_domains() != sys_before:
        left.append(f"qemu:///system changed: {sys_before} -> {system_domains()}")
    if left:
        print(f"FAIL: left behind: {left}", file=sys.stderr)
        rc = 1
    print(f"fleet start {f.timings.get('start', 0):.1f} s, teardown {teardown:.1f} s, "
          f"total {time.monotonic() - t0:.1f} s: {'PASS' if rc == 0 else 'FAIL'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
