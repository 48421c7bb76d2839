#!/usr/bin/env bash
# Starts a private real libvirtd (QEMU driver) named NAME, for tests that need a host of their own
# (fault injection, fleets, migration), after the recipe proven in the migration notes.
#
#   scripts/host-up.sh NAME [ADDR]
#
# The daemon runs in its own mount namespace (unshare --mount --propagation private) where
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and /etc/libvirt are
# bind-mounted from $VC_HOSTS_DIR/NAME/{run,lib,cache,log,etc} (default /tmp/vc-hosts), with its
# own host_uuid (two hosts with one UUID refuse to migrate to each other). Its socket is visible
# from outside: the URI is written to $DIR/NAME/uri, the PID to $DIR/NAME/pids (host-down.sh
# stops exactly that). With ADDR, it also listens on ADDR:16519 (TCP, no auth: loopback only).
# QEMU migrates on ADDR (default 127.0.0.2) ports 49700-49719. No virtlogd: QEMU logs to a file.
#
# With VC_HOST_NO_KVM=1 (at its first start), the host has no /dev/kvm (/dev/null is bound over it
# in its namespace): it runs TCG guests only, a host whose hypervisor lacks what a KVM guest needs
# (the fleet tests' CPU refusal). Such a host probes QEMU afresh (no copied cache).
#
# Idempotent: does nothing if NAME already runs and answers. If NAME's directory exists but its
# daemon is gone (killed by a test), it starts again on the same state: same domains, pools,
# networks, secrets and host_uuid (a restart). Waits until `virsh -c URI version` answers.
set -euo pipefail

usage() { echo "usage: $0 NAME [ADDR]" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
NAME=$1
[[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { echo "host-up: bad NAME '$NAME'" >&2; exit 1; }
LISTEN=no
if [ $# -eq 2 ]; then
  ADDR=$2
  LISTEN=yes
  [[ "$ADDR" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "host-up: ADDR must be a loopback address (127/8), got '$ADDR'" >&2; exit 1; }
else
  ADDR=127.0.0.2
fi
PORT=16519
DIR=${VC_HOSTS_DIR:-/tmp/vc-hosts}
H=$DIR/$NAME
URI="qemu+unix:///system?socket=$H/run/libvirt-sock"
DEADLINE=${VC_HOST_UP_TIMEOUT:-60}

# True when PID is the libvirtd this script started for NAME (guards against a reused PID).
ours() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == *"-f $H/libvirtd.conf"* ]]
}
answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

if [ -f "$H/pids" ]; then
  pid=$(head -1 "$H/pids")
  if ours "$pid"; then
    if answers; then
      echo "host $NAME already running (pid $pid), URI $URI"
      exit 0
    fi
    echo "host-up: host $NAME has a libvirtd (pid $pid) that does not answer (stopped?); run scripts/host-down.sh $NAME or SIGCONT it" >&2
    exit 1
  fi
fi

mkdir -p "$DIR" "$H"/{run,lib,cache,log,etc}
chmod 755 "$DIR" "$H" "$H"/{run,lib,cache,log,etc}

# Configuration is written once: a restart keeps the host's identity (host_uuid) and settings.
if [ ! -f "$H/libvirtd.conf" ]; then
  {
    echo 'listen_tls = 0'
    if [ "$LISTEN" = yes ]; then
      echo 'listen_tcp = 1'
      echo "listen_addr = \"$ADDR\""
      echo "tcp_port = \"$PORT\""
      echo 'auth_tcp = "none"'
    else
      echo 'listen_tcp = 0'
    fi
    echo 'auth_unix_rw = "none"'
    echo "host_uuid = \"$(cat /proc/sys/kernel/random/uuid)\""
    echo "log_outputs = \"3:file:$H/libvirtd.log\""
  } >"$H/libvirtd.conf.tmp"
  mv "$H/libvirtd.conf.tmp" "$H/libvirtd.conf"
  echo "$LISTEN $ADDR" >"$H/listen"
  if [ "${VC_HOST_NO_KVM:-0}" = 1 ]; then touch "$H/no-kvm"; fi
fi
if [ ! -f "$H/etc/qemu.conf" ]; then
  # stdio_handler=file: /run/libvirt is overmounted, the system virtlogd is out of sight and a
  # privileged libvirtd does not spawn one, so QEMU writes its log to log/qemu/NAME.log itself.
  # cgroup_controllers=[]: all hosts share one cgroup tree, and names would collide.
  cat >"$H/etc/qemu.conf" <<EOF
stdio_handler = "file"
cgroup_controllers = [ ]
migration_address = "$ADDR"
migration_host = "$ADDR"
migration_port_min = 49700
migration_port_max = 49719
EOF
fi

# A cold QEMU capability probe takes ~8 s; the shared daemon's (or another host's) cache makes
# startup take ~0.2 s. libvirt re-probes by itself if the cache does not match the binary.
if [ ! -d "$H/cache/qemu/capabilities" ] && [ ! -f "$H/no-kvm" ]; then
  for src in /var/cache/libvirt/qemu "$DIR"/*/cache/qemu; do
    if [ -d "$src/capabilities" ] && [ "$src" != "$H/cache/qemu" ]; then
      mkdir -p "$H/cache/qemu"
      cp -a "$src/capabilities" "$H/cache/qemu/" && break
    fi
  done
fi

rm -f "$H/libvirtd.pid" "$H/pids"
LISTEN_ARG=
[ "$(cut -d' ' -f1 "$H/listen" 2>/dev/null)" = yes ] && LISTEN_ARG=--listen
# The mounts exist only in the daemon's namespace and die with it: nothing to unmount later.
if ! unshare --mount --propagation private -- sh -ec "
  mount --bind '$H/run' /run/libvirt
  mount --bind '$H/lib' /var/lib/libvirt
  mount --bind '$H/cache' /var/cache/libvirt
  mount --bind '$H/log' /var/log/libvirt
  mount --bind '$H/etc' /etc/libvirt
  if [ -f '$H/no-kvm' ] && [ -e /dev/kvm ]; then mount --bind /dev/null /dev/kvm; fi
  exec libvirtd -d $LISTEN_ARG -f '$H/libvirtd.conf' -p '$H/libvirtd.pid'"; then
  echo "host-up: libvirtd of host $NAME failed to start; its log:" >&2
  tail -30 "$H/libvirtd.log" >&2 2>/dev/null || true
  exit 1
fi

pid=
end=$((SECONDS + DEADLINE))
while [ $SECONDS -lt $end ]; do
  if [ -z "$pid" ] && [ -s "$H/libvirtd.pid" ]; then
    pid=$(cat "$H/libvirtd.pid")
    echo "$pid" >"$H/pids"
    echo "$URI" >"$H/uri"
  fi
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    break
  fi
  if [ -n "$pid" ] && answers; then
    echo "host $NAME ready: pid $pid, URI $URI$([ -n "$LISTEN_ARG" ] && echo ", tcp $(cut -d' ' -f2 "$H/listen"):$PORT")"
    exit 0
  fi
  sleep 0.1
done
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  echo "host-up: libvirtd of host $NAME (pid $pid) did not answer on $URI within ${DEADLINE} s; its log:" >&2
else
  echo "host-up: libvirtd of host $NAME did not start or exited; its log:" >&2
fi
tail -30 "$H/libvirtd.log" >&2 2>/dev/null || true
exit 1
