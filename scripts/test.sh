#!/usr/bin/env bash
# Every test: install dependencies, build, start the real services (libvirtd with the QEMU
# driver, a single-node Ceph cluster), run ctest, and stop exactly the processes this script
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

started_libvirtd=no
started_ceph=no
cleanup() {
  if [ "$started_ceph" = yes ]; then scripts/ceph-down.sh; fi
  if [ "$started_libvirtd" = yes ]; then scripts/libvirtd-down.sh; fi
}
trap cleanup EXIT
if ! pgrep -x libvirtd >/dev/null; then
  scripts/libvirtd-up.sh
  started_libvirtd=yes
fi
if ! ceph -c "${VC_CEPH_DIR:-/tmp/vc-ceph}/ceph.conf" --connect-timeout 3 health >/dev/null 2>&1; then
  scripts/ceph-up.sh
  started_ceph=yes
fi

# Two jobs: the real-daemon tests run one at a time (RESOURCE_LOCK libvirtd, tests/CMakeLists.txt)
# while the tests that need no daemon run beside them.
ctest --test-dir build --output-on-failure -j 2 "$@"
