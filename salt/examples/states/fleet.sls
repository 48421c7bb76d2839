# A fleet: several hypervisors converged from one place, the master's own minion (the one machine
# that reaches every hypervisor's libvirt). pillar['virtconverge_fleet'] (pillar/fleet.sls) is the
# document: hosts: names each hypervisor's connection, every domain its host:. Changing a domain's
# host: in pillar migrates it (live when it runs). No connection here: hosts: names them all.
# From the master, with orch/fleet.sls:
#   salt-run state.orchestrate orch.fleet test=True
# or on the master's minion itself:
#   salt-call state.apply fleet test=True
{%- set fleet = salt['pillar.get']('virtconverge_fleet') %}
{%- if fleet %}
fleet:
  virtconverge.converged:
    - document: {{ fleet | json }}
    - allow_restart: {{ salt['pillar.get']('virtconverge_allow_restart', False) }}
    - allow_destroy: {{ salt['pillar.get']('virtconverge_allow_destroy', False) }}
{%- else %}
fleet:
  test.fail_without_changes:
    - name: >-
        minion {{ grains['id'] }} has no virtconverge_fleet pillar: the fleet document belongs to
        the master's own minion (pillar/top.sls), which converges every host of it
{%- endif %}
