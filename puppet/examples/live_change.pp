# A change to a running VM: raising vCPUs within max_vcpus is a vCPU hot-plug, raising memory
# within max_memory is a DIMM hot-add; the guest keeps running. Try it with --noop first:
#
#   puppet apply --noop examples/live_change.pp
#   Notice: virt_domain[web1]: would change: vcpus changed 1 to 2 (live: hot-plug)
#   Notice: /Stage[main]/Main/Virt_domain[web1]/vcpus: current_value 1, should be 2 (noop)
virt_domain { 'web1':
  vcpus  => 2,
  memory => '512MiB',
}
