# The Salt modules (salt/): pytest suites run with the Salt venv's interpreter
# (scripts/install-deps-salt.sh makes it; override with -DVC_SALT_VENV=...).
set(VC_SALT_VENV /opt/virtconverge-salt-venv CACHE PATH "virtualenv holding Salt and pytest for the Salt tests")
set(VC_SALT_PYTHON ${VC_SALT_VENV}/bin/python)
set(VC_SALT_ENV
  "VC_BINARY=$<TARGET_FILE:virtconverge>"
  "VC_SALT_BIN=${VC_SALT_VENV}/bin"
  "PYTHONDONTWRITEBYTECODE=1")

# Unit tests of both modules: the engine on libvirt's test driver and a recording fake engine;
# every canned plan checked against schemas/plan.schema.json (Debian's python3-jsonschema); the
# fields (test_fields.py): every field of schemas/desired-state.schema.json reaches the document
# through Salt's own call machinery and the engine accepts it, an unknown one fails the state with
# the engine's unknown_field.
add_test(NAME salt_modules
  COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_modules.py test_fields.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
set_tests_properties(salt_modules PROPERTIES ENVIRONMENT "${VC_SALT_ENV}" TIMEOUT 300)

# On the real libvirtd: every state in test and live mode (in-process), salt-call --local with
# the example state files and pillar, a salt-master with two salt-minions on 127.0.0.1, and the
# benchmark in its quick form. They create only vcs-* objects and remove them.
# fleet: two private libvirtd's it starts and stops itself (scripts/host-up.sh vcs-a, vcs-b in
# /tmp/vc-salt-fleet, 127.0.0.92/.93), a fleet document from pillar converged by
# salt/examples/states/fleet.sls with salt-call --local and through a salt-master with
# `salt-run state.orchestrate orch.fleet`; the domain vcs-sf-web migrated live between them.
# host: virtconverge.host_present sets KSM's pages_to_scan and sleep_millisecs (checked in
# /sys/kernel/mm/ksm, the machine's own settings restored afterwards), and converged refuses a
# domain past a hosts: entry's cpu_allocation_ratio (over_committed, nothing defined) unless
# allow_overcommit; objects vcs-h-*, removed.
foreach(suite states salt_call master_minion fleet host)
  add_test(NAME salt_real_${suite}
    COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_${suite}.py
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
  set_tests_properties(salt_real_${suite} PROPERTIES
    ENVIRONMENT "${VC_SALT_ENV}" LABELS real RUN_SERIAL TRUE TIMEOUT 900)
endforeach()

# Ceph RBD on the real single-node cluster (scripts/ceph-up.sh) and the real libvirtd: the rbd_image
# states, domains with RBD disks, converged with a ceph: section, observe, salt-call with
# salt/examples/states/ceph.sls; no cephx key in any return, comment or log. Images rbd/vcs-r-*,
# rbd/vcs-ex-*, removed afterwards.
add_test(NAME salt_real_rbd
  COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_rbd.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
set_tests_properties(salt_real_rbd PROPERTIES
  ENVIRONMENT "${VC_SALT_ENV}" LABELS real RUN_SERIAL TRUE TIMEOUT 900)

add_test(NAME salt_real_bench_quick
  COMMAND ${CMAKE_SOURCE_DIR}/bench/salt/run.sh --quick
          --binary $<TARGET_FILE:virtconverge> --venv ${VC_SALT_VENV})
set_tests_properties(salt_real_bench_quick PROPERTIES LABELS real RUN_SERIAL TRUE TIMEOUT 900)
