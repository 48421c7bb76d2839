# Orchestration: converge the fleet from the master.
#   salt-run state.orchestrate orch.fleet test=True     # the plan of every host; nothing changes
#   salt-run state.orchestrate orch.fleet
# The fleet document is pillar of the master's own minion (pillar/fleet.sls): this applies
# states/fleet.sls on that one minion, which has the virtconverge modules from the installed
# extension (saltext.virtconverge: nothing to sync). The target is pillar
# virtconverge_fleet_minion, e.g.
#   salt-run state.orchestrate orch.fleet pillar='{"virtconverge_fleet_minion": "salt"}'
# else the master's own id without the "_master" Salt appends to it (the master's minion id when
# both take the host's name).
{%- set master = opts['id'] %}
{%- if master.endswith('_master') %}{% set master = master[:-7] %}{% endif %}
{%- set minion = salt['pillar.get']('virtconverge_fleet_minion', master) %}

converge-fleet:
  salt.state:
    - tgt: {{ minion | json }}
    - sls: fleet
