#!/usr/bin/env bash
# Installs Salt (from PyPI) for the Salt extension's build, tests and benchmark:
# - a tooling venv made with Debian's python3 (so a fresh Debian 12, and CI, get the same interpreter
#   as a developer) holding what tests/salt/requirements.txt pins: Salt, saltext-virt (Salt's own
#   virt module, moved out of Salt's core in 3008; the benchmark's baseline) with libvirt-python,
#   pytest;
# - a wheelhouse: the wheels of all of that and their dependencies, and setuptools (the extension's
#   build backend). scripts/build-salt-ext.sh builds the wheel and tests/salt/make-venv.sh installs
#   it into a fresh venv with Salt from there, both without the network.
# Idempotent; run as root. $VC_SALT_VENV (default /opt/virtconverge-salt-venv) and
# $VC_SALT_WHEELHOUSE (default /opt/virtconverge-salt-wheels).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
requirements=$here/../tests/salt/requirements.txt
venv=${VC_SALT_VENV:-/opt/virtconverge-salt-venv}
wheelhouse=${VC_SALT_WHEELHOUSE:-/opt/virtconverge-salt-wheels}
# The build backend of salt/pyproject.toml: 77 reads the licence as an SPDX expression.
build_requirements=("setuptools>=77")

# Debian packages: venv support, and what building libvirt-python needs.
packages=(python3 python3-venv python3-dev libvirt-dev pkg-config gcc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps-salt: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "install-deps-salt: creating $venv"
  /usr/bin/python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)

# Quick checks first, so a machine that has everything does not touch the network.
venv_ready() {
  "$venv/bin/python" - "$requirements" <<'PY' 2>/dev/null || return 1
import re, sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    req = line.split("#")[0].strip()
    if not req:
        continue
    name, pinned = re.match(r"([A-Za-z0-9_.-]+)\s*(?:==\s*(\S+))?", req).groups()
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and have != pinned:
        sys.exit(1)
PY
  [ -x "$venv/bin/salt-call" ] && [ -x "$venv/bin/salt-master" ] && [ -x "$venv/bin/salt-minion" ]
}
# The wheelhouse is complete when pip can resolve everything from it alone.
wheelhouse_ready() {
  [ -d "$wheelhouse" ] && "${pip[@]}" install -q --dry-run --ignore-installed --no-index \
    --find-links "$wheelhouse" -r "$requirements" "${build_requirements[@]}" >/dev/null 2>&1
}

if ! venv_ready; then
  echo "install-deps-salt: installing $(grep -v '^#' "$requirements" | xargs) into $venv"
  "${pip[@]}" install -q --upgrade pip
  "${pip[@]}" install -q -r "$requirements"
  "$venv/bin/salt-call" --version
fi
if ! wheelhouse_ready; then
  echo "install-deps-salt: collecting wheels into $wheelhouse"
  mkdir -p "$wheelhouse"
  "${pip[@]}" wheel -q --wheel-dir "$wheelhouse" -r "$requirements" "${build_requirements[@]}"
  wheelhouse_ready || { echo "install-deps-salt: $wheelhouse is still incomplete" >&2; exit 1; }
fi
