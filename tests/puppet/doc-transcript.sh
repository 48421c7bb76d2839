#!/usr/bin/env bash
# Regenerates the transcript shown in docs/puppet.md: real `puppet apply` runs of real manifests
# against the real libvirtd (qemu:///system). Objects are named vcp-doc-* and removed at the end
# (teardown.pp, then virsh for anything a failure left). Prints the transcript on stdout.
#
#   tests/puppet/doc-transcript.sh [ENGINE]     # ENGINE: default build/virtconverge
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export VIRTCONVERGE_BIN=${1:-$root/build/virtconverge}
P=/tmp/vcp-doc
rm -rf "$P" && mkdir -p "$P/modules" && chmod 755 "$P" && ln -s "$root/puppet" "$P/modules/virtconverge"
O=(--confdir="$P/etc" --vardir="$P/var" --codedir="$P/code" --logdir="$P/log" --rundir="$P/run"
   --publicdir="$P/public" --modulepath="$P/modules" --color=false)
noise='^Error: Facter: .*/proc/1/environ'
pa() { set +e; puppet apply "${O[@]}" "$@" 2>&1 | grep -v "$noise"; local rc=${PIPESTATUS[0]}; set -e; return "$rc"; }
step() { local label=$1; shift; echo "\$ puppet apply $label"; local rc=0; pa "$@" || rc=$?; echo "[exit $rc]"; }
cleanup() {
  for d in $(virsh -q -c qemu:///system list --all --name | grep '^vcp-doc-' || true); do
    virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
  done
  virsh -q -c qemu:///system vol-delete web1-root --pool vcp-doc-images >/dev/null 2>&1 || true
  for p in vcp-doc-images; do
    virsh -q -c qemu:///system pool-destroy $p >/dev/null 2>&1 || true
    virsh -q -c qemu:///system pool-undefine $p >/dev/null 2>&1 || true
  done
  virsh -q -c qemu:///system net-destroy vcp-doc-backend >/dev/null 2>&1 || true
  virsh -q -c qemu:///system net-undefine vcp-doc-backend >/dev/null 2>&1 || true
  rm -rf "$P"
}
trap cleanup EXIT
cd "$P"

domain() {  # domain VCPUS MAX_VCPUS MEMORY [extra lines]
  cat <<EOF
virt_pool { 'vcp-doc-images':
  type => 'dir',
  path => '/tmp/vcp-doc/images',
}

virt_network { 'vcp-doc-backend':
  mode => 'isolated',
}

virt_volume { 'vcp-doc-images/web1-root':
  format   => 'qcow2',
  capacity => '2GiB',
}

virt_domain { 'vcp-doc-web1':
  vcpus      => $1,
  max_vcpus  => $2,
  memory     => '$3',
  max_memory => '1GiB',
  disks      => [{ 'volume' => 'vcp-doc-images/web1-root', 'target' => 'vda' }],
  interfaces => [{ 'network' => 'vcp-doc-backend' }],
  state      => 'running',
  autostart  => true,${4:-}
}
EOF
}
domain 1 4 256MiB > site.pp
domain 2 4 768MiB > site2.pp
domain 2 8 768MiB > site3.pp
domain 2 8 768MiB "
  allow_restart    => true,
  shutdown_timeout => 10," > site4.pp
cat > errors.pp <<'EOF'
virt_volume { 'vcp-doc-images/web1-root':
  capacity => '1GiB',                  # shrinking destroys data
}

virt_domain { 'vcp-doc-web2':
  vcpus  => 1,
  memory => '256MiB',
  state  => 'stopped',
  disks  => [{ 'volume' => 'vcp-doc-images/web2-root', 'target' => 'vda' }],   # no such volume
}

virt_domain { 'vcp-doc-web1':
  autostart => false,
}
EOF
cat > teardown.pp <<'EOF'
virt_domain { 'vcp-doc-web1':
  ensure           => absent,
  shutdown_timeout => 10,
}

virt_volume { 'vcp-doc-images/web1-root':
  ensure        => absent,
  allow_destroy => true,
  require       => Virt_domain['vcp-doc-web1'],
}

virt_network { 'vcp-doc-backend':
  ensure  => absent,
  require => Virt_domain['vcp-doc-web1'],
}

virt_pool { 'vcp-doc-images':
  ensure  => absent,
  require => Virt_volume['vcp-doc-images/web1-root'],
}
EOF

step '--detailed-exitcodes site.pp' --detailed-exitcodes site.pp
step '--detailed-exitcodes site.pp' --detailed-exitcodes site.pp
echo "(QEMU pid $(cat /run/libvirt/qemu/vcp-doc-web1.pid))"
step '--noop site.pp          # vcpus 1 -> 2, memory 256MiB -> 768MiB' --noop site2.pp
step '--detailed-exitcodes site.pp' --detailed-exitcodes site2.pp
echo "(QEMU pid $(cat /run/libvirt/qemu/vcp-doc-web1.pid); live vCPUs $(virsh -q -c qemu:///system vcpucount vcp-doc-web1 --live --active))"
step '--detailed-exitcodes site.pp      # max_vcpus 4 -> 8' --detailed-exitcodes site3.pp
step '--detailed-exitcodes errors.pp' --detailed-exitcodes errors.pp
echo '$ puppet resource virt_domain vcp-doc-web1'
puppet resource "${O[@]}" virt_domain vcp-doc-web1 2>&1 | grep -v "$noise"
step '--detailed-exitcodes site.pp      # allow_restart => true, shutdown_timeout => 10' --detailed-exitcodes site4.pp
echo "(QEMU pid $(cat /run/libvirt/qemu/vcp-doc-web1.pid))"
step '--detailed-exitcodes teardown.pp' --detailed-exitcodes teardown.pp
step '--detailed-exitcodes teardown.pp' --detailed-exitcodes teardown.pp
