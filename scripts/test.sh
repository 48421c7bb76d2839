#!/usr/bin/env bash
# Every test: install dependencies, build, start the real services (libvirtd with the QEMU
# driver), run ctest, and stop exactly the processes this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

started_libvirtd=no
cleanup() {
  if [ "$started_libvirtd" = yes ]; then scripts/libvirtd-down.sh; fi
}
trap cleanup EXIT
if ! pgrep -x libvirtd >/dev/null; then
  scripts/libvirtd-up.sh
  started_libvirtd=yes
fi

ctest --test-dir build --output-on-failure -j 1 "$@"
