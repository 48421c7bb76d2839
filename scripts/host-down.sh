#!/usr/bin/env bash
# Stops the private host NAME that scripts/host-up.sh started and removes its directory:
#
#   scripts/host-down.sh NAME
#
# 1. SIGCONT its libvirtd (a test may have stopped it); if it answers, destroy its domains and
#    networks through it (bridges live in the shared network namespace).
# 2. Stop exactly the PIDs in $DIR/NAME/pids: SIGTERM, SIGKILL after 10 s.
# 3. Kill what is left of the QEMUs it started (their pid files in its run dir), any bridges its
#    networks left behind, then remove $DIR/NAME.
# A PID is only signalled if it still belongs to this host (its command line names the host's
# libvirtd.conf, or it lives in the host's mount namespace). Idempotent: safe to call twice.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 NAME" >&2; exit 1; }
NAME=$1
[[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { echo "host-down: bad NAME '$NAME'" >&2; exit 1; }
DIR=${VC_HOSTS_DIR:-/tmp/vc-hosts}
H=$DIR/$NAME
URI="qemu+unix:///system?socket=$H/run/libvirt-sock"
[ -d "$H" ] || { echo "host $NAME not present"; exit 0; }

# The daemon this script's host-up started (command line names its own config).
is_daemon() {
  [ -r "/proc/$1/cmdline" ] && [[ "$(tr '\0' ' ' <"/proc/$1/cmdline")" == *"-f $H/libvirtd.conf"* ]]
}
# A process living in a mount namespace descended from the host's: its /run/libvirt is our run dir.
in_host_ns() {
  [ -r "/proc/$1/mountinfo" ] && grep -q " $H/run /run/libvirt " "/proc/$1/mountinfo" 2>/dev/null
}
stop_pid() {  # PID WHAT
  local pid=$1 what=$2
  kill -CONT "$pid" 2>/dev/null
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  echo "stopped $what (pid $pid)"
}

pids=()
[ -f "$H/pids" ] && while read -r p; do
  [ -n "$p" ] && is_daemon "$p" && pids+=("$p")
done <"$H/pids"

for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; done
if [ ${#pids[@]} -gt 0 ] && timeout 5 virsh -c "$URI" version >/dev/null 2>&1; then
  v() { timeout 15 virsh -q -c "$URI" "$@" 2>/dev/null; }
  for d in $(v list --name); do v destroy "$d" >/dev/null; done
  for n in $(v net-list --name); do v net-destroy "$n" >/dev/null; done
fi

for p in "${pids[@]}"; do stop_pid "$p" "libvirtd of host $NAME"; done

# QEMUs still running (the daemon was killed, or would not answer): by their pid files.
for f in "$H"/run/qemu/*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f" 2>/dev/null)
  [ -n "$p" ] && in_host_ns "$p" && stop_pid "$p" "QEMU $(basename "$f" .pid) of host $NAME"
done
# Bridges of networks that were still active (their status files name them).
for f in "$H"/run/network/*.xml; do
  [ -f "$f" ] || continue
  br=$(sed -n "s/.*<bridge name='\([^']*\)'.*/\1/p" "$f" | head -1)
  [ -n "$br" ] && ip link show "$br" >/dev/null 2>&1 && ip link del "$br" && echo "removed bridge $br of host $NAME"
done

rm -rf "$H"
echo "host $NAME removed"
