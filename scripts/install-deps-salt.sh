#!/usr/bin/env bash
# Installs Salt (from PyPI) for the Salt modules' tests and benchmark, into a dedicated venv made
# with Debian's python3, so a fresh Debian 12 (and CI) gets the same interpreter as a developer.
# Also saltext-virt (Salt's own virt module, moved out of Salt's core in 3008; the benchmark's
# baseline) and libvirt-python, which it needs.
# Idempotent; run as root. The venv: $VC_SALT_VENV, default /opt/virtconverge-salt-venv.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
venv=${VC_SALT_VENV:-/opt/virtconverge-salt-venv}

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
# The versions the tests and docs/benchmarks-salt.md were made with (override to try others).
requirements=(
  "salt==${VC_SALT_VERSION:-3008.3}"
  "saltext-virt==${VC_SALTEXT_VIRT_VERSION:-0.1.0}"
  "libvirt-python==${VC_LIBVIRT_PYTHON_VERSION:-12.8.0}"
  "pytest>=8" "PyYAML"
)
# Quick check first, so a machine that has everything does not touch the network.
if "$venv/bin/python" - "${requirements[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for req in sys.argv[1:]:
    name, _, pinned = req.partition("==")
    name = name.split(">")[0]
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and have != pinned:
        sys.exit(1)
PY
then
  [ -x "$venv/bin/salt-call" ] && [ -x "$venv/bin/salt-master" ] && [ -x "$venv/bin/salt-minion" ] && exit 0
fi
echo "install-deps-salt: installing ${requirements[*]} into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install -q "${requirements[@]}"
"$venv/bin/salt-call" --version
