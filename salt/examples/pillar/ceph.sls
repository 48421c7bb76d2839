# Sizes for states/ceph.sls. Growing web2_root_size is live: the running VM sees the new size.
ceph_images:
  golden_size: 64MiB
  web2_root_size: 128MiB
