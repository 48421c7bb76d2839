#!/usr/bin/env bash
# Regenerates the rbd_image transcript shown in docs/puppet.md: real `puppet apply` runs of real
# manifests against the real Ceph cluster of scripts/ceph-up.sh (as its least-privilege
# client.virtconverge) and the real libvirtd (qemu:///system). Objects are rbd/vcp-doc-* images and
# the domain vcp-doc-rbd-web1, removed at the end (teardown.pp, then rbd and virsh for anything a
# failure left). Prints the transcript on stdout and checks that no cephx key is in it.
#
#   tests/puppet/doc-transcript-rbd.sh [ENGINE]     # ENGINE: default build/virtconverge
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export VIRTCONVERGE_BIN=${1:-$root/build/virtconverge}
CEPH_DIR=${VC_CEPH_DIR:-/tmp/vc-ceph}
P=/tmp/vcp-doc-rbd
O=(--confdir="$P/etc" --vardir="$P/var" --codedir="$P/code" --logdir="$P/log" --rundir="$P/run"
   --publicdir="$P/public" --modulepath="$P/modules" --color=false)
noise='^Error: Facter: .*/proc/1/environ'
out=$P/transcript
pa() { set +e; puppet apply "${O[@]}" "$@" 2>&1 | grep -v "$noise"; local rc=${PIPESTATUS[0]}; set -e; return "$rc"; }
step() { local label=$1; shift; echo "\$ puppet apply $label"; local rc=0; pa "$@" || rc=$?; echo "[exit $rc]"; }
rbdc() { rbd -c "$CEPH_DIR/ceph.conf" "$@" 2>/dev/null; }
cleanup() {
  for d in $(virsh -q -c qemu:///system list --all --name | grep '^vcp-doc-rbd-' || true); do
    virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
  done
  for _ in 1 2 3; do   # clones before their parents
    for i in $(rbdc ls rbd | grep '^vcp-doc-' || true); do
      for s in $(rbdc snap ls rbd/"$i" | awk 'NR > 1 { print $2 }'); do rbdc snap unprotect rbd/"$i@$s" || true; done
      rbdc snap purge rbd/"$i" >/dev/null || true
      rbdc rm --no-progress rbd/"$i" >/dev/null || true
    done
  done
  rm -rf "$P"
}
trap cleanup EXIT
cleanup
mkdir -p "$P/modules" && chmod 755 "$P" && ln -s "$root/puppet" "$P/modules/virtconverge"
cd "$P"

site() {  # site ROOT_SIZE GOLDEN_SNAPSHOTS SCRATCH_SIZE
  cat <<EOF
Rbd_image {
  ceph_conf => '$CEPH_DIR/ceph.virtconverge.conf',
  ceph_user => 'virtconverge',
}

rbd_image { 'rbd/vcp-doc-golden':
  size      => '1GiB',
  features  => ['layering', 'exclusive-lock', 'object-map', 'fast-diff'],
  snapshots => $2,
}

rbd_image { 'rbd/vcp-doc-web1-root':
  clone_from => 'rbd/vcp-doc-golden@base',
  size       => '$1',
}

rbd_image { 'rbd/vcp-doc-scratch':
  size => '$3',
}

virt_domain { 'vcp-doc-rbd-web1':
  vcpus  => 1,
  memory => '256MiB',
  disks  => [{ 'rbd' => 'rbd/vcp-doc-web1-root', 'target' => 'vda' }],
  state  => 'running',
}
EOF
}
site 2GiB "['base']" 512MiB > site.pp
site 4GiB "['base', 'v2']" 512MiB > site2.pp
site 4GiB "['base', 'v2', 'v3']" 256MiB > errors.pp
cat > teardown.pp <<EOF
Rbd_image {
  ceph_conf => '$CEPH_DIR/ceph.virtconverge.conf',
  ceph_user => 'virtconverge',
}

rbd_image { ['rbd/vcp-doc-golden', 'rbd/vcp-doc-web1-root', 'rbd/vcp-doc-scratch']:
  ensure        => absent,
  allow_destroy => true,
}

virt_domain { 'vcp-doc-rbd-web1':
  ensure           => absent,
  shutdown_timeout => 10,
}
EOF

{
  step '--detailed-exitcodes site.pp' --detailed-exitcodes site.pp
  step '--detailed-exitcodes site.pp' --detailed-exitcodes site.pp
  echo "(QEMU pid $(cat /run/libvirt/qemu/vcp-doc-rbd-web1.pid))"
  step "--noop site.pp          # web1-root 2GiB -> 4GiB, golden snapshots [base] -> [base, v2]" --noop site2.pp
  step '--detailed-exitcodes site.pp' --detailed-exitcodes site2.pp
  echo "(QEMU pid $(cat /run/libvirt/qemu/vcp-doc-rbd-web1.pid); rbd info: $(rbdc info rbd/vcp-doc-web1-root | grep -E '^\s*size' | sed -E 's/^\s+//'))"
  step '--detailed-exitcodes errors.pp      # scratch 512MiB -> 256MiB, golden snapshots + v3' --detailed-exitcodes errors.pp
  echo "\$ CEPH_CONF=$CEPH_DIR/ceph.conf puppet resource rbd_image rbd/vcp-doc-web1-root"
  CEPH_CONF=$CEPH_DIR/ceph.conf puppet resource "${O[@]}" rbd_image rbd/vcp-doc-web1-root 2>&1 | grep -v "$noise"
  step '--detailed-exitcodes teardown.pp' --detailed-exitcodes teardown.pp
  step '--detailed-exitcodes teardown.pp' --detailed-exitcodes teardown.pp
} > "$out"
cat "$out"
for f in "$CEPH_DIR"/ceph.client.*.keyring; do
  key=$(awk '$1 == "key" { print $3 }' "$f")
  if grep -rqF "$key" "$out" "$P/var"; then echo "FAIL: the key of $f is in the transcript or Puppet's state" >&2; exit 1; fi
done
echo "(no cephx key of $CEPH_DIR/ceph.client.*.keyring in this transcript or in Puppet's state and reports)"
