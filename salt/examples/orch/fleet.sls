# Orchestration: converge the fleet from the master.
#   salt-run state.orchestrate orch.fleet test=True     # the plan of every host; nothing changes
#   salt-run state.orchestrate orch.fleet
# The fleet document is pillar of the master's own minion (pillar/fleet.sls): this targets that
# one minion, syncs the virtconverge modules to it and waits until it has loaded them, then
# applies states/fleet.sls there. The target is pillar virtconverge_fleet_minion, e.g.
#   salt-run state.orchestrate orch.fleet pillar='{"virtconverge_fleet_minion": "salt"}'
# else the master's own id without the "_master" Salt appends to it (the master's minion id when
# both take the host's name). In test mode the sync only says it would run: sync once first.
{%- set master = opts['id'] %}
{%- if master.endswith('_master') %}{% set master = master[:-7] %}{% endif %}
{%- set minion = salt['pillar.get']('virtconverge_fleet_minion', master) %}

sync-virtconverge:
  salt.function:
    - name: saltutil.sync_all
    - tgt: {{ minion | json }}
    - kwarg:
        refresh: False

# Salt reloads synced modules asynchronously: without waiting for it, a state run right after the
# sync can find the new state module but not yet the execution module it needs.
load-virtconverge:
  salt.function:
    - name: saltutil.refresh_modules
    - tgt: {{ minion | json }}
    - kwarg:
        async: False
    - require:
      - salt: sync-virtconverge

converge-fleet:
  salt.state:
    - tgt: {{ minion | json }}
    - sls: fleet
    - require:
      - salt: load-virtconverge
