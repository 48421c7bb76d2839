#!/usr/bin/env bash
# Builds the tiny Linux test guest: a Debian cloud kernel (vmlinuz) and a busybox initramfs
# (initrd.img) whose /init reports the guest's own view of its hardware on the serial console.
# The initramfs also holds Debian's QEMU guest agent (qemu-ga and the libraries it links, taken
# from their Debian packages) and an fsfreeze hook that reports freeze/thaw on the console; /init
# starts the agent when the domain has an org.qemu.guest_agent.0 channel.
#
#   tests/guest/build-guest.sh [OUTDIR]     (default /var/cache/virtconverge-test/guest)
#
# Idempotent: does nothing when OUTDIR/vmlinuz and OUTDIR/initrd.img are newer than
# tests/guest/init and this script. Needs root (apt-get download, mknod) on Debian 12.
# QEMU runs as libvirt-qemu, so OUTDIR, its parents and the files are made world-readable.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
INIT="$HERE/init"
SELF="$HERE/$(basename "$0")"
OUTDIR=${1:-/var/cache/virtconverge-test/guest}
case "$OUTDIR" in /*) ;; *) OUTDIR="$PWD/$OUTDIR" ;; esac

# Loaded by /init in this order (it reads /mod/load-order). Dependencies come first.
REQUIRED_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  virtio_balloon virtio_blk failover net_failover virtio_net evdev button"
# virtio-scsi disks (sdX); a cloud-init seed CD-ROM (sr0, ISO 9660) on virtio-scsi or on IDE
# (libata, ata_piix: machine type pc; the cloud kernel has no AHCI, so no SATA); the guest agent's
# virtio-serial port (virtio_console).
OPTIONAL_MODULES="scsi_common scsi_mod sd_mod virtio_scsi cdrom sr_mod isofs libata ata_piix
  virtio_console"
# The guest agent and every library it links (ldd's closure on Debian 12), from these packages.
AGENT_PACKAGES="qemu-guest-agent libc6 libglib2.0-0 libnuma1 libudev1 liburing2 libpcre2-8-0"

log() { echo "build-guest: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

up_to_date() {
  [ -s "$OUTDIR/vmlinuz" ] && [ -s "$OUTDIR/initrd.img" ] &&
    [ "$OUTDIR/vmlinuz" -nt "$INIT" ] && [ "$OUTDIR/initrd.img" -nt "$INIT" ] &&
    [ "$OUTDIR/vmlinuz" -nt "$SELF" ] && [ "$OUTDIR/initrd.img" -nt "$SELF" ]
}

[ -f "$INIT" ] || die "missing $INIT"
if up_to_date; then
  log "up to date: $OUTDIR"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root"

# Create OUTDIR and any missing parent with mode 755 (libvirt-qemu must traverse them).
mkdir_755() {
  local d=$1
  [ -d "$d" ] && return 0
  mkdir_755 "$(dirname "$d")"
  mkdir -m 755 "$d"
}
mkdir_755 "$OUTDIR"
chmod 755 "$OUTDIR"

# One build at a time (tests may call this concurrently); re-check once we hold the lock.
exec 9>"$OUTDIR/.build.lock"
flock 9
if up_to_date; then
  log "up to date: $OUTDIR (built by a concurrent run)"
  exit 0
fi

t0=$(date +%s.%N)
SCRATCH=$(mktemp -d /tmp/vcg-guest-build.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
chmod 755 "$SCRATCH"
mkdir -p "$SCRATCH/debs"
# apt-get download drops privileges to _apt; let it write there to avoid the "unsandboxed" warning.
if id _apt >/dev/null 2>&1; then chown _apt "$SCRATCH/debs"; fi

apt_download() {   # apt-get download, refreshing the package lists once if that fails
  if ! (cd "$SCRATCH/debs" && apt-get download -q "$@" >/dev/null); then
    log "apt-get download $* failed; running apt-get update and retrying"
    apt-get update -q >/dev/null
    (cd "$SCRATCH/debs" && apt-get download -q "$@" >/dev/null) || die "apt-get download $* failed"
  fi
}

# 1. Download. linux-image-cloud-amd64 is a metapackage: the kernel is the versioned package it
#    depends on (e.g. linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)).
apt_download linux-image-cloud-amd64 busybox-static $AGENT_PACKAGES
META=$(ls "$SCRATCH"/debs/linux-image-cloud-amd64_*.deb)
KDEP=$(dpkg-deb -f "$META" Depends | tr ',' '\n' | grep -o 'linux-image-[^ ]*\( *(= *[^)]*)\)\?' | head -1 || true)
KPKG=$(echo "$KDEP" | awk '{print $1}')
KVER=$(echo "$KDEP" | sed -n 's/.*(= *\([^)]*\)).*/\1/p')
if [ -z "$KPKG" ]; then   # fall back to apt's view of the candidate metapackage
  KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
fi
[ -n "$KPKG" ] || die "cannot resolve the kernel package behind linux-image-cloud-amd64"
log "kernel package: $KPKG${KVER:+ = $KVER}"
apt_download "$KPKG${KVER:+=$KVER}"
t_dl=$(date +%s.%N)

# 2. Unpack.
mkdir -p "$SCRATCH/kernel" "$SCRATCH/busybox"
dpkg-deb -x "$(ls "$SCRATCH"/debs/"$KPKG"_*.deb)" "$SCRATCH/kernel"
dpkg-deb -x "$(ls "$SCRATCH"/debs/busybox-static_*.deb)" "$SCRATCH/busybox"
VMLINUZ=$(ls "$SCRATCH"/kernel/boot/vmlinuz-* | head -1)
[ -f "$VMLINUZ" ] || die "no vmlinuz in $KPKG"
MODROOT=$(ls -d "$SCRATCH"/kernel/lib/modules/*/kernel | head -1)
[ -d "$MODROOT" ] || die "no modules in $KPKG"
BUSYBOX="$SCRATCH/busybox/bin/busybox"
[ -x "$BUSYBOX" ] || die "no busybox in busybox-static"

# 3. The initramfs tree.
ROOT="$SCRATCH/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mod}
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 755 "$ROOT/bin/busybox"
install -m 755 "$INIT" "$ROOT/init"
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

add_module() {   # add_module NAME -> /mod/NAME.ko (decompressed); returns 1 if the kernel lacks it
  local m=$1 f
  f=$(find "$MODROOT" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -1)
  [ -n "$f" ] || return 1
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$ROOT/mod/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$ROOT/mod/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" > "$ROOT/mod/$m.ko" ;;
    *) cp "$f" "$ROOT/mod/$m.ko" ;;
  esac
  echo "$m" >> "$ROOT/mod/load-order"
}
: > "$ROOT/mod/load-order"
for m in $REQUIRED_MODULES; do add_module "$m" || die "module $m not found in $KPKG"; done
for m in $OPTIONAL_MODULES; do add_module "$m" || log "optional module $m not found; skipped"; done

# The guest agent: /usr/sbin/qemu-ga, its libraries where the dynamic loader looks for them, and
# the fsfreeze hook it runs before freezing and after thawing the file systems.
AGENT="$SCRATCH/agent"
mkdir -p "$AGENT" "$ROOT/lib/x86_64-linux-gnu" "$ROOT/lib64" "$ROOT/etc/qemu" "$ROOT/var/run"
for p in $AGENT_PACKAGES; do
  dpkg-deb -x "$(ls "$SCRATCH"/debs/"$p"_*.deb | head -1)" "$AGENT"
done
QGA="$AGENT/usr/bin/qemu-ga"
[ -x "$QGA" ] || QGA="$AGENT/usr/sbin/qemu-ga"
[ -x "$QGA" ] || die "no qemu-ga in qemu-guest-agent"
install -m 755 "$QGA" "$ROOT/usr/sbin/qemu-ga"
# ldd names the closure of shared libraries; each is copied from the unpacked packages.
for so in $(ldd "$QGA" | awk '$1 ~ /^lib.*\.so/ {print $1}'); do
  f=$(find "$AGENT" -name "$so" | head -1)
  [ -n "$f" ] || die "library $so of qemu-ga is in none of: $AGENT_PACKAGES"
  cp -L "$f" "$ROOT/lib/x86_64-linux-gnu/$so"
done
LOADER=$(find "$AGENT" -name 'ld-linux-x86-64.so.2' | head -1)
[ -n "$LOADER" ] || die "no dynamic loader in libc6"
cp -L "$LOADER" "$ROOT/lib64/ld-linux-x86-64.so.2"
cat > "$ROOT/etc/qemu/fsfreeze-hook" <<'HOOK'
#!/bin/busybox sh
# Run by qemu-ga with "freeze" before it freezes the file systems and "thaw" after it thaws them;
# its own output goes nowhere, so it reports on the serial console itself. A test makes a freeze
# hang (a stuck agent) by creating /var/run/vc-freeze-hang through the agent (guest-file-open).
if [ "$1" = freeze ] && [ -e /var/run/vc-freeze-hang ]; then
  echo "GUEST-FSFREEZE hang" > /dev/ttyS0
  sleep 120
fi
echo "GUEST-FSFREEZE $1" > /dev/ttyS0
HOOK
chmod 755 "$ROOT/etc/qemu/fsfreeze-hook"

# 4. Pack (cpio newc + gzip), then install atomically.
if command -v cpio >/dev/null 2>&1; then
  CPIO=(cpio --quiet -o -H newc -R 0:0)
else
  CPIO=("$BUSYBOX" cpio -o -H newc -R 0:0)   # GNU cpio is not always installed
fi
(cd "$ROOT" && find . | LC_ALL=C sort | "${CPIO[@]}" 2>/dev/null) | gzip -9 > "$SCRATCH/initrd.img"
[ -s "$SCRATCH/initrd.img" ] || die "packing the initramfs failed"

install -m 644 "$VMLINUZ" "$OUTDIR/vmlinuz.tmp"
install -m 644 "$SCRATCH/initrd.img" "$OUTDIR/initrd.img.tmp"
{
  echo "kernel_package=$KPKG"
  echo "kernel_version=${KVER:-unknown}"
  echo "kernel_release=$(basename "$(dirname "$MODROOT")")"
  echo "busybox_package=$(basename "$(ls "$SCRATCH"/debs/busybox-static_*.deb)")"
  echo "modules=$(tr '\n' ' ' < "$ROOT/mod/load-order")"
  echo "agent_package=$(basename "$(ls "$SCRATCH"/debs/qemu-guest-agent_*.deb)")"
} > "$OUTDIR/VERSION.tmp"
chmod 644 "$OUTDIR/VERSION.tmp"
mv -f "$OUTDIR/vmlinuz.tmp" "$OUTDIR/vmlinuz"
mv -f "$OUTDIR/VERSION.tmp" "$OUTDIR/VERSION"
mv -f "$OUTDIR/initrd.img.tmp" "$OUTDIR/initrd.img"
t1=$(date +%s.%N)
log "built $OUTDIR/vmlinuz ($(stat -c %s "$OUTDIR/vmlinuz") bytes) and $OUTDIR/initrd.img ($(stat -c %s "$OUTDIR/initrd.img") bytes)"
log "$(awk -v a="$t0" -v b="$t_dl" -v c="$t1" 'BEGIN{printf "download %.1f s, unpack+pack %.1f s", b-a, c-b}')"
