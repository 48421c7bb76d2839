base:
  '*':
    - hypervisor
    - site
    - ceph
  # The master's own minion (put its id here): the fleet document (states/fleet.sls) is its alone.
  'salt':
    - fleet
