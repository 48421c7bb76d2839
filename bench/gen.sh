#!/usr/bin/env bash
# Generates the inputs of the no-op plan benchmark (see docs/benchmarks.md).
#
#   bench/gen.sh test N DIR   DIR/node.xml: a libvirt test-driver host (test:///DIR/node.xml)
#                             with N domains, 2 pools, their volumes and 2 networks;
#                             DIR/doc.yaml: the document that declares exactly that host, so
#                             planning it changes nothing
#   bench/gen.sh real N DIR   DIR/doc.yaml: N stopped KVM domains vcb-d1..vcb-dN (no OS, no disk,
#                             64 MiB), to be created with `virtconverge apply` on a real libvirtd
#   bench/gen.sh live N DIR [VIRT_TYPE]
#                             for the live-change benchmark (bench/run.sh --live): N running
#                             domains vcb-l1..vcb-lN (no OS, no disk, no NIC; 1 of at most 4 vCPUs,
#                             64 of at most 256 MiB; VIRT_TYPE kvm, the default, or qemu);
#                             DIR/doc-1.yaml declares them with 1 vCPU, DIR/doc-2.yaml with 2 (a
#                             vCPU hot-plug on each), DIR/doc-0.yaml stopped with 1 vCPU (to
#                             reset the config), DIR/names the N names, one a line
#
# N is 1 to 9999. Every object is named vcb-*. The output depends only on the arguments.
set -euo pipefail

usage() { echo "usage: $0 test|real N DIR | $0 live N DIR [kvm|qemu]" >&2; exit 2; }
[ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$1" = live ]; } || usage
kind=$1 n=$2 dir=$3 virt_type=${4:-kvm}
[[ $n =~ ^[1-9][0-9]{0,3}$ ]] || usage  # up to 9999
[[ $virt_type =~ ^(kvm|qemu)$ ]] || usage
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# A fixed MAC per domain and interface: 52:54:00:II:HH:LL (II = interface, HHLL = domain index).
mac() { printf '52:54:00:%02x:%02x:%02x' "$2" $(($1 / 256)) $(($1 % 256)); }

gen_test() {
  local node=$dir/node.xml doc=$dir/doc.yaml images=/var/lib/vcb/images data=/var/lib/vcb/data
  local i vcpus max_vcpus mem_mib max_mib state
  {
    echo "<node>"
    # Networks without <forward> are isolated; the test driver keeps them and starts them.
    for net in front back; do
      echo "  <network>"
      echo "    <name>vcb-$net</name>"
      echo "    <bridge name='vcb${net}0'/>"
      echo "  </network>"
    done
    # Every domain has a qcow2 root volume; every even one also a raw data volume in a second pool.
    echo "  <pool type='dir'>"
    echo "    <name>vcb-images</name>"
    echo "    <target><path>$images</path></target>"
    for ((i = 1; i <= n; i++)); do
      echo "    <volume><name>vcb-d$i-root.qcow2</name><capacity unit='bytes'>$(((8 + i % 5 * 4) * 1073741824))</capacity><target><format type='qcow2'/></target></volume>"
    done
    echo "  </pool>"
    echo "  <pool type='dir'>"
    echo "    <name>vcb-data</name>"
    echo "    <target><path>$data</path></target>"
    for ((i = 2; i <= n; i += 2)); do
      echo "    <volume><name>vcb-d$i-data.raw</name><capacity unit='bytes'>$(((1 + i % 3) * 1073741824))</capacity><target><format type='raw'/></target></volume>"
    done
    echo "  </pool>"
    for ((i = 1; i <= n; i++)); do
      vcpus=$((1 + i % 4)) max_vcpus=$((i % 3 == 0 ? 8 : 4)) mem_mib=$((256 << (i % 4))) max_mib=$((4096))
      # The test driver starts every domain of a node file; its runstate extension (5: shut off)
      # leaves every fourth one stopped, as on a real host.
      echo "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
      echo "    <name>vcb-d$i</name>"
      echo "    <memory unit='KiB'>$((max_mib * 1024))</memory>"
      echo "    <currentMemory unit='KiB'>$((mem_mib * 1024))</currentMemory>"
      echo "    <vcpu placement='static' current='$vcpus'>$max_vcpus</vcpu>"
      echo "    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>"
      echo "    <features><acpi/><apic/></features>"
      echo "    <cpu mode='host-passthrough'/>"
      echo "    <clock offset='utc'/>"
      echo "    <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
      echo "    <devices>"
      # The root disk by path (the engine maps it back to its volume), the data disk by volume.
      echo "      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$images/vcb-d$i-root.qcow2'/><target dev='vda' bus='virtio'/></disk>"
      if ((i % 2 == 0)); then
        echo "      <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='vcb-data' volume='vcb-d$i-data.raw'/><target dev='vdb' bus='virtio'/></disk>"
      fi
      echo "      <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>"
      echo "      <controller type='usb' model='none'/>"
      echo "      <interface type='network'><mac address='$(mac "$i" 1)'/><source network='vcb-front'/><model type='virtio'/></interface>"
      # Odd domains have a second NIC whose MAC libvirt generates (the document omits it).
      if ((i % 2 == 1)); then
        echo "      <interface type='network'><source network='vcb-back'/><model type='e1000'/></interface>"
      fi
      echo "      <serial type='pty'><target port='0'/></serial>"
      echo "      <console type='pty'><target type='serial' port='0'/></console>"
      echo "      <graphics type='vnc' port='-1' autoport='yes'/>"
      echo "      <video><model type='vga' vram='16384' heads='1'/></video>"
      echo "      <memballoon model='virtio'/>"
      echo "    </devices>"
      ((i % 4 == 0)) && echo "    <test:runstate>5</test:runstate>"
      echo "  </domain>"
    done
    echo "</node>"
  } > "$node"

  {
    echo "# Generated by bench/gen.sh test $n: the host test://$node holds, exactly."
    echo "version: 1"
    echo "connection: test://$node"
    echo "pools:"
    # The test driver reports autostart off for what a node file defines.
    echo "  vcb-images: {type: dir, path: $images, autostart: false}"
    echo "  vcb-data: {type: dir, path: $data, autostart: false}"
    echo "networks:"
    echo "  vcb-front: {mode: isolated, bridge: vcbfront0, autostart: false}"
    echo "  vcb-back: {mode: isolated, bridge: vcbback0, autostart: false}"
    echo "volumes:"
    for ((i = 1; i <= n; i++)); do
      echo "  vcb-images/vcb-d$i-root.qcow2: {format: qcow2, capacity: $((8 + i % 5 * 4))GiB}"
      ((i % 2 == 0)) && echo "  vcb-data/vcb-d$i-data.raw: {format: raw, capacity: $((1 + i % 3))GiB}"
    done
    echo "domains:"
    for ((i = 1; i <= n; i++)); do
      vcpus=$((1 + i % 4)) max_vcpus=$((i % 3 == 0 ? 8 : 4)) mem_mib=$((256 << (i % 4)))
      state=$((i % 4 == 0 ? 0 : 1))
      echo "  vcb-d$i:"
      echo "    vcpus: $vcpus"
      echo "    max_vcpus: $max_vcpus"
      echo "    memory: ${mem_mib}MiB"
      echo "    max_memory: 4GiB"
      echo "    disks:"
      echo "      - {volume: vcb-images/vcb-d$i-root.qcow2, target: vda, bus: virtio}"
      ((i % 2 == 0)) && echo "      - {volume: vcb-data/vcb-d$i-data.raw, target: vdb}"
      echo "    interfaces:"
      echo "      - {network: vcb-front, mac: \"$(mac "$i" 1)\", model: virtio}"
      ((i % 2 == 1)) && echo "      - {network: vcb-back, model: e1000}"
      echo "    state: $([ "$state" = 1 ] && echo running || echo stopped)"
      echo "    autostart: false"
    done
  } > "$doc"
}

gen_real() {
  local doc=$dir/doc.yaml i
  {
    echo "# Generated by bench/gen.sh real $n: $n stopped, diskless KVM domains for the benchmark."
    echo "version: 1"
    echo "domains:"
    for ((i = 1; i <= n; i++)); do
      echo "  vcb-d$i: {vcpus: 1, memory: 64MiB, virt_type: kvm, state: stopped, autostart: false}"
    done
  } > "$doc"
}

gen_live() {
  local doc vcpus state i
  for doc in 0 1 2; do
    vcpus=$((doc == 2 ? 2 : 1)) state=$([ "$doc" = 0 ] && echo stopped || echo running)
    {
      echo "# Generated by bench/gen.sh live $n: $n $state, diskless $virt_type domains with $vcpus vCPU(s)."
      echo "version: 1"
      echo "domains:"
      for ((i = 1; i <= n; i++)); do
        echo "  vcb-l$i: {vcpus: $vcpus, max_vcpus: 4, memory: 64MiB, max_memory: 256MiB, virt_type: $virt_type, state: $state, autostart: false}"
      done
    } > "$dir/doc-$doc.yaml"
  done
  for ((i = 1; i <= n; i++)); do echo "vcb-l$i"; done > "$dir/names"
}

case $kind in
  test) gen_test ;;
  real) gen_real ;;
  live) gen_live ;;
  *) usage ;;
esac
