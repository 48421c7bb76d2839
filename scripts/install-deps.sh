#!/usr/bin/env bash
# Installs everything virtconverge needs to build, test and benchmark on Debian 12, from Debian's
# own packages. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libvirt-dev libyaml-cpp-dev nlohmann-json3-dev libboost-program-options-dev libpugixml-dev
  libfmt-dev libgtest-dev googletest libssl-dev libcpp-httplib-dev libisofs-dev
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-storage-rbd qemu-system-x86 qemu-utils qemu-block-extra
  dnsmasq-base iproute2 lvm2
  ceph-mon ceph-osd ceph-mgr ceph-common librbd-dev librados-dev libradospp-dev bc
  python3 python3-jsonschema python3-yaml
  hyperfine clang-format
  virtinst  # a real client that makes guests the way operators do (tests/integration/test_adopt.py)
  dpkg-dev  # the Debian package (scripts/build-deb.sh): dpkg-shlibdeps computes its Depends
  clang libclang-rt-14-dev  # the fuzzers (scripts/fuzz.sh): libFuzzer and the sanitizer runtimes
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The front ends install what they need (Puppet from Debian, Salt from PyPI).
here=$(dirname "$0")
for extra in "$here"/install-deps-*.sh; do
  [ -e "$extra" ] && bash "$extra"
done
