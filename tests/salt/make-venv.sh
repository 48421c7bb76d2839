#!/usr/bin/env bash
# A fresh venv for the Salt tests and benchmark: Salt from PyPI and the extension's wheel, installed
# as an operator installs them (pip install), so every test runs the modules from the installed
# package and Salt's loader must find them through its entry point; nothing is copied or synced.
#
#   tests/salt/make-venv.sh WHEEL_DIR VENV
#
# WHEEL_DIR holds the one saltext_virtconverge-*.whl that scripts/build-salt-ext.sh wrote there.
# VENV is removed and made anew (Debian's python3, as the tooling venv). Everything besides the
# wheel is tests/salt/requirements.txt, installed from the wheelhouse of scripts/install-deps-salt.sh
# ($VC_SALT_WHEELHOUSE, default /opt/virtconverge-salt-wheels) without the network; pip resolves
# the wheel's own dependencies (salt, PyYAML) there too, so a dependency it declares wrongly fails
# here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wheel_dir=${1:?usage: make-venv.sh WHEEL_DIR VENV}
venv=${2:?usage: make-venv.sh WHEEL_DIR VENV}
wheelhouse=${VC_SALT_WHEELHOUSE:-/opt/virtconverge-salt-wheels}

wheels=("$wheel_dir"/saltext_virtconverge-*.whl)
if [ ${#wheels[@]} -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "make-venv: want exactly one saltext_virtconverge-*.whl in $wheel_dir (scripts/build-salt-ext.sh)," \
       "found: ${wheels[*]}" >&2
  exit 1
fi
[ -d "$wheelhouse" ] || { echo "make-venv: no wheelhouse at $wheelhouse (run scripts/install-deps-salt.sh)" >&2; exit 1; }

rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "$wheelhouse" \
  -r "$here/requirements.txt" "${wheels[0]}"
"$venv/bin/python" -m pip show saltext.virtconverge | sed -n 's/^\(Name\|Version\|Location\): /make-venv: \1 /p'
"$venv/bin/salt-call" --version
