# One hypervisor's storage pool, data volume and VM, as individual virtconverge states.
# The values come from pillar (pillar/hypervisor.sls). Apply with:
#   salt 'hv*' state.apply hypervisor            (test=True first to see the plan)
{% set hv = pillar['hypervisor'] %}

vcs-ex-images:
  virtconverge.pool_present:
    - type: dir
    - path: {{ hv.images_path }}

vcs-ex-images/web1-data:
  virtconverge.volume_present:
    - capacity: {{ hv.web1_data_capacity }}
    - format: raw
    - allow_destroy: {{ hv.get('allow_destroy', False) }}
    - require:
      - virtconverge: vcs-ex-images

vcs-ex-web1:
  virtconverge.domain_present:
    - vcpus: {{ hv.web1_vcpus }}
    - max_vcpus: 4
    - memory: 128MiB
    - max_memory: 512MiB
    - domain_state: running
    - disks:
      - volume: vcs-ex-images/web1-data
        target: vdb
    - allow_restart: {{ hv.get('allow_restart', False) }}
    - require:
      - virtconverge: vcs-ex-images/web1-data
