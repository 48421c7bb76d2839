#!/usr/bin/env bash
# Stops the libvirtd and virtlogd that scripts/libvirtd-up.sh started, by their recorded PIDs
# (SIGTERM, then SIGKILL after 10 s). Domains are not touched: tests remove what they created.
set -uo pipefail

RUN=${VC_LIBVIRT_RUN:-/tmp/vc-libvirt}

stop_pid() {
  local name=$1 file=$2
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

stop_pid libvirtd "$RUN/libvirtd.pid"
stop_pid virtlogd "$RUN/virtlogd.pid"
