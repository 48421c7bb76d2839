#!/usr/bin/env python3
"""The live-migration primitive on two real hosts (issue #11 groundwork).

Starts two private libvirtds with scripts/host-up.sh (their own state, host UUID and loopback
address; see ../shared/notes/migration.md), runs the MigrationTest gtests of libvirt_tests
against them (VC_MIGRATION_HOSTS), and always stops them again with scripts/host-down.sh.
Fails if any of those tests fails or is skipped. The RBD test uses the shared Ceph cluster
(scripts/ceph-up.sh, $VC_CEPH_DIR); its rbd/vct-mig-* images are removed afterwards.

    migration_primitive.py PATH/TO/libvirt_tests
"""

import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
# A directory and addresses of its own: other tests' private hosts live in /tmp/vc-hosts.
HOSTS_DIR = os.environ.get("VC_MIGRATION_HOSTS_DIR", "/tmp/vc-mig-hosts")
HOSTS = [("vct-migA", "127.0.0.42"), ("vct-migB", "127.0.0.43")]
CEPH_CONF = os.path.join(os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph"), "ceph.conf")


def script(name, *args, timeout=120):
    env = dict(os.environ, VC_HOSTS_DIR=HOSTS_DIR)
    return subprocess.run([os.path.join(SCRIPTS, name), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def remove_test_images():
    """rbd/vct-mig-* images a failed run left behind (their domains are gone by now)."""
    if not os.path.exists(CEPH_CONF):
        return
    p = subprocess.run(["rbd", "-c", CEPH_CONF, "ls", "--format", "json", "rbd"], capture_output=True,
                       text=True, timeout=60)
    for image in json.loads(p.stdout or "[]") if p.returncode == 0 else []:
        if image.startswith("vct-mig-"):
            for _ in range(20):
                if subprocess.run(["rbd", "-c", CEPH_CONF, "rm", f"rbd/{image}"], capture_output=True,
                                  timeout=60).returncode == 0:
                    break
                time.sleep(1)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    gtest = sys.argv[1]
    start = time.monotonic()
    for name, _ in HOSTS:  # leftovers of an interrupted run
        script("host-down.sh", name)
    rc = 1
    try:
        for name, address in HOSTS:
            t = time.monotonic()
            p = script("host-up.sh", name, address)
            if p.returncode != 0:
                print(f"host-up.sh {name} {address} failed:\n{p.stdout}{p.stderr}", file=sys.stderr)
                return 1
            print(f"{p.stdout.strip()} ({time.monotonic() - t:.1f} s)")
        env = dict(os.environ, VC_HOSTS_DIR=HOSTS_DIR, VC_MIGRATION_HOSTS=",".join(n for n, _ in HOSTS))
        t = time.monotonic()
        p = subprocess.run([gtest, "--gtest_filter=MigrationTest.*"], capture_output=True, text=True,
                           env=env, timeout=600)
        print(p.stdout, end="")
        print(p.stderr, end="", file=sys.stderr)
        print(f"gtests: {time.monotonic() - t:.1f} s")
        passed = re.search(r"\[  PASSED  \] (\d+) test", p.stdout)
        if p.returncode != 0:
            print("FAIL: a migration test failed", file=sys.stderr)
        elif "[  SKIPPED ]" in p.stdout or not passed or int(passed.group(1)) == 0:
            print("FAIL: migration tests were skipped or none ran", file=sys.stderr)
        else:
            rc = 0
    finally:
        t = time.monotonic()
        for name, _ in HOSTS:
            p = script("host-down.sh", name)
            if p.returncode != 0:
                print(f"host-down.sh {name}: {p.stdout}{p.stderr}", file=sys.stderr)
                rc = 1
        remove_test_images()
        print(f"teardown: {time.monotonic() - t:.1f} s; total {time.monotonic() - start:.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
