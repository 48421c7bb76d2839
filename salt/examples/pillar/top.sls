base:
  '*':
    - hypervisor
    - site
    - ceph
