#!/usr/bin/env bash
# Stops the cluster scripts/ceph-up.sh started, by its recorded PIDs (OSD first, while the mon is
# up, then mgr, then mon), and removes its directory.
set -uo pipefail
DIR=${VC_CEPH_DIR:-/tmp/vc-ceph}
[ -d "$DIR/run" ] || exit 0
stop() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  # Only signal a process that is still this cluster's daemon.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$DIR/ceph.conf"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $(basename "$file" .pid) (pid $pid)"
  fi
}
for f in "$DIR"/run/osd.*.pid; do stop "$f"; done
stop "$DIR/run/mgr.x.pid"
stop "$DIR/run/mon.a.pid"
rm -rf "$DIR"
