# The README's site (examples/site.yaml) as a Puppet manifest: an image pool, an isolated
# back-end network, a root volume per VM and two web servers with headroom for live changes.
#
#   puppet apply --detailed-exitcodes examples/site.pp          # exit 2: created; again: exit 0
virt_pool { 'vc-images':
  type => 'dir',
  path => '/var/lib/virtconverge/images',
}

virt_network { 'vc-backend':
  mode => 'isolated',   # a bridge with no forwarding, no IP address, no DHCP
}

['web1', 'web2'].each |$vm| {
  virt_volume { "vc-images/${vm}-root":
    format   => 'qcow2',
    capacity => '2GiB',
  }

  virt_domain { $vm:
    vcpus      => 1,
    max_vcpus  => 4,          # headroom: vcpus can be raised live up to 4
    memory     => '256MiB',
    max_memory => '1GiB',     # headroom: memory can be added live (DIMM hot-add) up to 1GiB
    disks      => [{ 'volume' => "vc-images/${vm}-root", 'target' => 'vda' }],
    interfaces => [{ 'network' => 'vc-backend' }],
    state      => 'running',
    autostart  => true,
  }
}
