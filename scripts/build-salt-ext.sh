#!/usr/bin/env bash
# Builds the Salt extension (salt/: the saltext.virtconverge package) into a wheel.
#
#   scripts/build-salt-ext.sh [OUT_DIR]      default OUT_DIR: build/salt-ext
#
# Prints the wheel's path (OUT_DIR/saltext_virtconverge-VERSION-py3-none-any.whl) on the last line.
# Install it with `pip install WHEEL` (`salt-pip install WHEEL` on Salt's onedir packages) on every
# minion; Salt's loader then finds the modules through the package's entry point.
#
# A PEP 517 build (pip wheel) run by the pip of the Salt tooling venv ($VC_SALT_VENV, default
# /opt/virtconverge-salt-venv), its backend (setuptools, pyproject.toml's [build-system]) taken
# from the wheelhouse ($VC_SALT_WHEELHOUSE, default /opt/virtconverge-salt-wheels): both made by
# scripts/install-deps-salt.sh. No index, so no network. The build is isolated on purpose: Salt
# pins packaging 24.0, too old for setuptools' licence expressions, so the backend cannot run
# inside a venv that holds Salt.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out=${1:-$repo/build/salt-ext}
venv=${VC_SALT_VENV:-/opt/virtconverge-salt-venv}
wheelhouse=${VC_SALT_WHEELHOUSE:-/opt/virtconverge-salt-wheels}
python=$venv/bin/python

if [ ! -x "$python" ] || ! ls "$wheelhouse"/setuptools-*.whl >/dev/null 2>&1; then
  echo "build-salt-ext: no Salt tooling venv at $venv or no setuptools in $wheelhouse" \
       "(run scripts/install-deps-salt.sh)" >&2
  exit 1
fi

# Build from a copy: setuptools writes build/ and *.egg-info beside the sources, and a build/lib
# left from an earlier build would carry a module since removed into the new wheel. cp -L makes
# the licence (a symbolic link to the top-level LICENSE) a file in the copy.
src=$(mktemp -d /tmp/vc-salt-ext-src.XXXXXX)
trap 'rm -rf "$src"' EXIT
cp -L "$repo/salt/pyproject.toml" "$repo/salt/README.md" "$repo/salt/LICENSE" "$src/"
cp -r "$repo/salt/src" "$src/src"
find "$src/src" -name __pycache__ -prune -exec rm -rf {} +

mkdir -p "$out"
# The zip entries' dates: the last commit's, so the same commit gives the same bytes.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
# Only the wheel built now may be found there (the test venv installs "the" wheel of OUT_DIR).
rm -f "$out"/saltext_virtconverge-*.whl
"$python" -m pip wheel -q --no-deps --no-index --find-links "$wheelhouse" --wheel-dir "$out" "$src"
wheels=("$out"/saltext_virtconverge-*.whl)
[ -f "${wheels[0]}" ] || { echo "build-salt-ext: no wheel was written to $out" >&2; exit 1; }
echo "${wheels[0]}"
