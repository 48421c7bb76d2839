#!/usr/bin/env bash
# Salt's virt.defined / virt.running states against virtconverge.converged on the same N domains of
# the real libvirtd (bench/salt/bench.py says how). Table for docs/benchmarks-salt.md.
#
#   bench/salt/run.sh [--quick] [--n N] [--n-running M] [--runs R] [--scenarios stopped,running] [--out FILE]
#                     [--binary PATH] [--venv DIR]
#
#   --binary  the engine (default build/virtconverge beside this directory, or $VC_BINARY)
#   --venv    Salt with the extension's wheel installed (default: the source tree's
#             build/salt-ext/venv, which ctest makes, as do scripts/build-salt-ext.sh build/salt-ext
#             && tests/salt/make-venv.sh build/salt-ext build/salt-ext/venv)
#   --quick   N = 5 stopped, 2 running, one run: checks the benchmark still works (CI)
# Creates domains vcs-b-d1..vcs-b-dN and removes them on exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=$here/../../build/salt-ext/venv
binary=${VC_BINARY:-$here/../../build/virtconverge}
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --venv) venv=${2:?}; shift 2 ;;
    --binary) binary=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -x "$venv/bin/python" ] || { echo "run.sh: no Salt venv at $venv (see --venv above)" >&2; exit 1; }
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" "$here/bench.py" --binary "$binary" --venv "$venv" "${args[@]}"
