# VMs on Ceph RBD: a golden image with a snapshot, a copy-on-write clone of it per VM (grown after
# cloning) and the VMs on their clones. The cluster is $CEPH_CONF, else /etc/ceph/ceph.conf, as
# client.admin, unless ceph_conf and ceph_user say otherwise (a client with `mon 'profile rbd'`,
# `osd 'profile rbd pool=rbd'` caps is enough). The engine reads the cephx key from the keyring the
# conf names and gives it to QEMU through a private libvirt secret: no attribute holds it and it
# never appears in Puppet's output or reports.
#
#   puppet apply --detailed-exitcodes examples/rbd.pp     # exit 2: created; again: exit 0
rbd_image { 'rbd/golden':
  size      => '10GiB',
  features  => ['layering', 'exclusive-lock', 'object-map', 'fast-diff'],
  snapshots => ['base'],
}

['web1', 'web2'].each |$vm| {
  rbd_image { "rbd/${vm}-root":
    clone_from => 'rbd/golden@base',   # after Rbd_image['rbd/golden'] (autorequire)
    size       => '20GiB',
  }

  virt_domain { $vm:
    vcpus  => 1,
    memory => '1GiB',
    disks  => [{ 'rbd' => "rbd/${vm}-root", 'target' => 'vda' }],   # after its image, on its cluster
    state  => 'running',
  }
}
