#!/usr/bin/env bash
# The Debian package (issue 15, point 1): scripts/build-deb.sh builds it (incrementally); its
# control data and file list are checked; then it is installed on this machine with apt-get (so
# its Depends are resolved against the real archive state), the installed binary is run from
# /usr/bin only -- --version, validate, a test-driver plan, the Ceph plugin found at its installed
# path -- and the man page, bash completion and the (not enabled) systemd unit are checked. The
# package is always purged again (trap) and /usr/bin/virtconverge must then be gone.
# Needs root and dpkg-dev. Refuses (fails) when a virtconverge package is already installed or
# files it would own already exist: it never replaces what an operator installed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (installs the package with apt-get, then purges it)"

step "build the package (scripts/build-deb.sh)"
buildlog=$(mktemp /tmp/vc-build-deb.XXXXXX.log)
if ! "$src/scripts/build-deb.sh" >"$buildlog" 2>&1; then
  tail -n 60 "$buildlog" >&2
  fail "scripts/build-deb.sh failed (the whole log: $buildlog)"
fi
deb=$(tail -n 1 "$buildlog")
rm -f "$buildlog"
[ -f "$deb" ] || fail "scripts/build-deb.sh printed no package path ($deb)"
echo "$deb"

arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
version=$(sed -n 's/^project(virtconverge VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"

step "control data (dpkg-deb -I)"
dpkg-deb -I "$deb"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = virtconverge ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version-1" ] || fail "Version is '$(field Version)', not $version-1"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)'"
[ "$(field Section)" = admin ] || fail "Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
depends_names=$(tr ',|' '\n\n' <<<"$depends" | sed 's/^ *//; s/ .*//')
# Computed by dpkg-shlibdeps from the binary's and the plugin's real libraries, with versions.
for lib in libc6 libstdc++6 libvirt0 librbd1 librados2 libyaml-cpp0.7 libboost-program-options1.74.0 \
           libssl3 libfmt9 libpugixml1v5 libisofs6; do
  grep -qxF "$lib" <<<"$depends_names" || fail "Depends lacks $lib"
done
grep -q '(>= ' <<<"$depends" || fail "Depends carries no versions: not computed by dpkg-shlibdeps?"
recommends=$(field Recommends)
for p in libvirt-daemon-system qemu-system-x86; do
  grep -q "$p" <<<"$recommends" || fail "Recommends lacks $p"
done
# No maintainer scripts: nothing enables or starts the unit.
control_members=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for script in preinst postinst prerm postrm; do
  if grep -qx "./$script" <<<"$control_members"; then fail "the package has a $script"; fi
done

step "file list (dpkg-deb -c)"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
expected=(
  ./usr/bin/virtconverge
  "./usr/lib/$multiarch/virtconverge/libvc_ceph.so"
  ./usr/share/virtconverge/schemas/desired-state.schema.json
  ./usr/share/virtconverge/schemas/plan.schema.json
  ./usr/share/virtconverge/schemas/openapi.json
  ./usr/share/man/man1/virtconverge.1.gz
  ./usr/share/bash-completion/completions/virtconverge
  ./usr/lib/systemd/system/virtconverge-server.service
  ./usr/share/doc/virtconverge/copyright
  ./usr/share/doc/virtconverge/changelog.Debian.gz
  ./usr/share/doc/virtconverge/examples/site.yaml
)
for f in "${expected[@]}"; do
  grep -qx -- "$f" <<<"$files" || fail "the package lacks $f"
done
if grep -q '^\./usr/local' <<<"$files"; then fail "the package installs under /usr/local"; fi
if grep -q '^\./etc/systemd' <<<"$files"; then fail "the package ships a link under /etc/systemd"; fi
echo "all ${#expected[@]} files present"

step "install it on this machine (apt-get)"
status=$(dpkg-query -W -f='${db:Status-Status}' virtconverge 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] ||
  fail "a virtconverge package is already here (status '$status'); this test does not replace it"
for f in "${expected[@]}"; do
  p=${f#.}
  [ ! -e "$p" ] || fail "$p already exists (an unpackaged install?); this test does not overwrite it"
done

work=$(mktemp -d /tmp/vc-deb-test.XXXXXX)
installed=0
cleanup() {
  rc=$?
  if [ "$installed" = 1 ]; then
    echo "== purge the package"
    dpkg -P virtconverge || rc=1
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
installed=1  # from here on the package is purged, whatever happens (even a half-done install)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"
[ "$(dpkg-query -W -f='${db:Status-Status}' virtconverge)" = installed ] || fail "not installed"

# The installed files only: a clean environment (no VC_*, no LD_*), /usr/bin and /bin on PATH, a
# scratch working directory outside the source and build trees.
run() { (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" LANG=C.UTF-8 "$@"); }
[ "$(run sh -c 'command -v virtconverge')" = /usr/bin/virtconverge ] || fail "virtconverge not on /usr/bin"
plugin=/usr/lib/$multiarch/virtconverge/libvc_ceph.so
for f in /usr/bin/virtconverge "$plugin"; do
  libs=$(ldd "$f")
  if grep -q 'not found' <<<"$libs"; then echo "$libs"; fail "$f: a library is not found"; fi
  if grep -qF "$src" <<<"$libs"; then echo "$libs"; fail "$f: links from the source tree"; fi
  if readelf -d "$f" | grep -Eq 'RPATH|RUNPATH'; then
    readelf -d "$f" | grep -E 'RPATH|RUNPATH'
    fail "$f carries an RPATH"
  fi
done

step "virtconverge --version"
out=$(run virtconverge --version)
echo "$out"
[ "$out" = "virtconverge $version" ] || fail "--version says '$out'"

step "virtconverge validate (the installed example)"
example=/usr/share/doc/virtconverge/examples/site.yaml
run virtconverge validate "$example" || fail "validate failed"
out=$(run virtconverge validate --format json "$example")
grep -q '"valid": *true' <<<"$out" || fail "validate --format json: $out"

step "virtconverge plan --connection test:///default"
set +e
out=$(run virtconverge plan "$example" --connection test:///default --detailed-exitcode 2>&1)
rc=$?
set -e
echo "$out" | tail -n 3
[ "$rc" -eq 2 ] || fail "plan exited $rc, not 2 (changes)"
grep -q '^Plan: 9 to create, 0 to update' <<<"$out" || fail "plan does not create the 9 resources"

step "the Ceph plugin loads from $plugin"
printf 'version: 1\nceph:\n  conf: %s/missing-ceph.conf\nrbd_images:\n  rbd/x:\n    size: 1GiB\n' \
  "$work" >"$work/ceph.yaml"
set +e
out=$(run virtconverge plan ceph.yaml --connection test:///default 2>&1)
set -e
echo "$out"
if grep -q 'cannot be loaded' <<<"$out"; then fail "the installed binary does not find its plugin"; fi
grep -q 'missing-ceph.conf' <<<"$out" || fail "the plugin did not get as far as the Ceph conf"

step "the compiled-in schemas match the installed ones"
for s in desired-state plan; do
  run virtconverge schema "$s" >"$work/$s.json"
  python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(a!=b)' \
    "$work/$s.json" "/usr/share/virtconverge/schemas/$s.schema.json" ||
    fail "virtconverge schema $s differs from the installed file"
done

step "man page"
manpage=/usr/share/man/man1/virtconverge.1.gz
if command -v man >/dev/null; then
  found=$(run man -w virtconverge) || fail "man -w virtconverge found nothing"
  echo "$found"
  [ "$found" = "$manpage" ] || fail "man -w virtconverge: $found"
else
  echo "man-db is not installed: checking $manpage itself"
  [ -f "$manpage" ] || fail "$manpage missing"
fi
zcat "$manpage" | grep -q '^\.TH VIRTCONVERGE 1' || fail "the man page has no .TH"

step "bash completion"
completion=/usr/share/bash-completion/completions/virtconverge
out=$(run bash -c '
  source '"$completion"' || exit 1
  complete -p virtconverge || exit 1
  COMP_WORDS=(virtconverge pl); COMP_CWORD=1; _virtconverge; echo "cmd: ${COMPREPLY[*]}"
  COMP_WORDS=(virtconverge plan --allow-d); COMP_CWORD=2; _virtconverge; echo "opt: ${COMPREPLY[*]}"
  COMP_WORDS=(virtconverge schema ""); COMP_CWORD=2; _virtconverge; echo "schema: ${COMPREPLY[*]}"')
echo "$out"
grep -qx 'cmd: plan' <<<"$out" || fail "completion of 'pl'"
grep -qx 'opt: --allow-destroy' <<<"$out" || fail "completion of 'plan --allow-d'"
grep -q '^schema: desired-state plan' <<<"$out" || fail "completion of 'schema'"

step "systemd unit: installed, not enabled"
unit=/usr/lib/systemd/system/virtconverge-server.service
[ -f "$unit" ] || fail "$unit missing"
grep -q '^ExecStart=/usr/bin/virtconverge server --token-file /etc/virtconverge/token' "$unit" ||
  fail "the unit does not start /usr/bin/virtconverge server"
for key in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes RuntimeDirectory=virtconverge; do
  grep -qx "$key" "$unit" || fail "the unit lacks $key"
done
if command -v systemd-analyze >/dev/null; then
  # Offline (no running systemd needed): the syntax, ExecStart's binary and the man page it names.
  run systemd-analyze verify "$unit" || fail "systemd-analyze verify rejects the unit"
fi
enabled=$(find /etc/systemd/system -name 'virtconverge-server.service' 2>/dev/null || true)
[ -z "$enabled" ] || fail "the unit is enabled: $enabled"

step "purge"
trap - EXIT
installed=0
dpkg -P virtconverge
[ ! -e /usr/bin/virtconverge ] || fail "/usr/bin/virtconverge is still there after purging"
[ ! -e "$plugin" ] || fail "$plugin is still there after purging"
[ ! -e "$unit" ] || fail "$unit is still there after purging"
status=$(dpkg-query -W -f='${db:Status-Status}' virtconverge 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "dpkg still knows the package: $status"
rm -rf "$work"
echo "PASS: $deb installed, ran from /usr/bin, and purged"
