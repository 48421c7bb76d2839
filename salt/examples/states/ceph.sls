# A golden Ceph RBD image, a VM's root disk cloned from it, and the VM, as individual virtconverge
# states. The cluster comes from the minion config (or ceph_conf / ceph_user on each state):
#   virtconverge.ceph_conf: /etc/ceph/ceph.conf
#   virtconverge.ceph_user: libvirt
# The sizes come from pillar (pillar/ceph.sls). Apply with:
#   salt 'hv*' state.apply ceph            (test=True first to see the plan)
{% set rbd = pillar['ceph_images'] %}

rbd/vcs-ex-golden:
  virtconverge.rbd_image_present:
    - size: {{ rbd.golden_size }}
    - features: [layering, exclusive-lock, object-map, fast-diff]
    - snapshots: [base]

rbd/vcs-ex-web2-root:
  virtconverge.rbd_image_present:
    - clone_from: rbd/vcs-ex-golden@base
    - size: {{ rbd.web2_root_size }}
    - allow_destroy: {{ rbd.get('allow_destroy', False) }}
    - require:
      - virtconverge: rbd/vcs-ex-golden

vcs-ex-web2:
  virtconverge.domain_present:
    - vcpus: 1
    - memory: 64MiB
    - domain_state: running
    - disks:
      - rbd: rbd/vcs-ex-web2-root
        target: vdb
    - require:
      - virtconverge: rbd/vcs-ex-web2-root
