#!/usr/bin/env bash
# Builds the Debian package: a Release build of the binary and the Ceph plugin in build-deb/
# (prefix /usr, ccache, two compile jobs unless JOBS says otherwise), then CPack's DEB generator
# (cmake/Packaging.cmake). Prints the .deb's path on the last line. Incremental: a second run
# recompiles nothing that has not changed. Needs dpkg-dev (dpkg-shlibdeps; scripts/install-deps.sh).
# LINTIAN=1 also runs lintian on the package when it is installed (its findings are printed;
# they do not fail the build).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DEB_DIR:-build-deb}

command -v dpkg-shlibdeps >/dev/null || {
  echo "build-deb.sh: dpkg-shlibdeps is missing (apt-get install dpkg-dev)" >&2
  exit 1
}

# Debian's hardening flags (fortify, stack protector, relro, bind now), as a Debian build would
# use them; without -g (the package is stripped) and with Release's -O3 after -O2.
flag() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
cxxflags="$(flag CPPFLAGS) $(flag CXXFLAGS | sed 's/\(^\| \)-g\( \|$\)/ /')"
ldflags=$(flag LDFLAGS)

# Only the two packaged targets are built (no tests, no benchmarks): installing does not build
# 'all' first.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DBUILD_TESTING=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
  -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_MODULE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" >/dev/null
cmake --build "$dir" -j "${JOBS:-2}" --target virtconverge vc_ceph

rm -f "$dir"/virtconverge_*.deb
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || {
  cat "$dir/cpack.log" >&2
  exit 1
}
debs=("$dir"/virtconverge_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || {
  echo "build-deb.sh: cpack made no single virtconverge_*.deb in $dir" >&2
  cat "$dir/cpack.log" >&2
  exit 1
}
deb=$(realpath "${debs[0]}")

if [ "${LINTIAN:-0}" = 1 ]; then
  if command -v lintian >/dev/null; then
    echo "lintian:" >&2
    lintian --info "$deb" >&2 || true
  else
    echo "build-deb.sh: lintian is not installed; skipped" >&2
  fi
fi
echo "$deb"
