#!/usr/bin/env bash
# Configures and builds into build/ (Ninja, 2 jobs, ccache when present). Warnings are errors
# here whatever BUILD_TYPE is, so CI stays strict (CMake's own default is OFF for Release).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DVIRTCONVERGE_WERROR=ON >/dev/null
cmake --build build -j "${JOBS:-2}"
