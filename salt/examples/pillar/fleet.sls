# The fleet document of states/fleet.sls (docs/document.md, "hosts:"), for the master's own minion
# only (top.sls). Each host's connection must be reachable from that minion (qemu+ssh needs its
# key; qemu+tls its certificates). Change web1's host: to hv-b and apply: web1 migrates live.
virtconverge_fleet:
  version: 1
  hosts:
    hv-a:
      connection: qemu+ssh://root@hv-a.example.net/system
    hv-b:
      connection: qemu+ssh://root@hv-b.example.net/system
  domains:
    web1:
      host: hv-a
      vcpus: 2
      memory: 1GiB
      disks:
        - rbd: rbd/web1-root
          target: vda
  ceph:
    conf: /etc/ceph/ceph.conf
    user: libvirt
