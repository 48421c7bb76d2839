base:
  '*':
    - hypervisor
    - site
