# The whole host from one pillar document (pillar/site.sls), converged in one engine call.
#   salt 'hv*' state.apply site test=True
site:
  virtconverge.converged:
    - document: {{ pillar['virtconverge'] | json }}
    - allow_restart: {{ pillar.get('virtconverge_allow_restart', False) }}
    - allow_destroy: {{ pillar.get('virtconverge_allow_destroy', False) }}
