#!/usr/bin/env bash
# Starts a real libvirtd (QEMU driver) and virtlogd without systemd, for tests and CI, and waits
# until qemu:///system answers. Records the PIDs in $VC_LIBVIRT_RUN (default /tmp/vc-libvirt) so
# scripts/libvirtd-down.sh stops exactly these processes. Does nothing if they already run.
set -euo pipefail

RUN=${VC_LIBVIRT_RUN:-/tmp/vc-libvirt}
URI=qemu:///system
mkdir -p "$RUN/logs"
chmod 755 "$RUN"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if running "$RUN/libvirtd.pid" && virsh -c "$URI" version >/dev/null 2>&1; then
  echo "libvirtd already running (pid $(cat "$RUN/libvirtd.pid"))"
  exit 0
fi
if pgrep -x libvirtd >/dev/null; then
  echo "a libvirtd not started by this script is running (pid $(pgrep -x libvirtd)); refusing to start a second" >&2
  exit 1
fi

# Without udev, /dev/kvm stays root-only; QEMU runs as libvirt-qemu (group kvm).
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 660 /dev/kvm
fi

# The packaged NAT network would put a routable address on the host: keep it from autostarting.
rm -f /etc/libvirt/qemu/networks/autostart/default.xml

printf 'log_outputs="3:file:%s/logs/virtlogd.log"\n' "$RUN" > "$RUN/virtlogd.conf"
printf 'log_outputs="3:file:%s/logs/libvirtd.log"\n' "$RUN" > "$RUN/libvirtd.conf"

# A privileged libvirtd does not spawn virtlogd itself; QEMU's output goes through it.
running "$RUN/virtlogd.pid" || virtlogd -d -f "$RUN/virtlogd.conf" -p "$RUN/virtlogd.pid"
libvirtd -d -f "$RUN/libvirtd.conf" -p "$RUN/libvirtd.pid"

# The first connection waits for the QEMU capability probe (several seconds on a cold cache).
for _ in $(seq 1 600); do
  if virsh -c "$URI" version >/dev/null 2>&1; then
    kvm=no
    virsh -c "$URI" domcapabilities --virttype kvm >/dev/null 2>&1 && kvm=yes
    echo "libvirtd ready: pid $(cat "$RUN/libvirtd.pid"), virtlogd pid $(cat "$RUN/virtlogd.pid"), KVM: $kvm"
    exit 0
  fi
  sleep 0.1
done
echo "libvirtd did not answer within 60 s; its log:" >&2
tail -50 "$RUN/logs/libvirtd.log" >&2 || true
exit 1
