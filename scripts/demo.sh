#!/usr/bin/env bash
# The main job, with nothing to set up: install dependencies, build, then plan and apply
# examples/site.yaml on libvirt's embedded test driver (state lives in this one process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/virtconverge apply examples/site.yaml --connection test:///default
