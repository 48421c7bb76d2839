# The Salt extension (salt/: the saltext.virtconverge package). Its wheel is built by the project's
# own script and installed, with Salt from PyPI, into a fresh venv; every Salt test then runs with
# that venv's interpreter and Salt, so the modules come from the installed package and Salt's loader
# finds them through its entry point (no file roots, nothing synced).
# scripts/install-deps-salt.sh makes the tooling venv (its pip builds the wheel) and the wheelhouse
# the fresh venv installs from without the network; override with -DVC_SALT_VENV=... and
# -DVC_SALT_WHEELHOUSE=....
set(VC_SALT_VENV /opt/virtconverge-salt-venv CACHE PATH "Salt tooling venv (scripts/install-deps-salt.sh)")
set(VC_SALT_WHEELHOUSE /opt/virtconverge-salt-wheels CACHE PATH
    "wheels of Salt, the test requirements and setuptools (scripts/install-deps-salt.sh)")
set(VC_SALT_EXT_DIR ${CMAKE_BINARY_DIR}/salt-ext)
set(VC_SALT_TEST_VENV ${VC_SALT_EXT_DIR}/venv)
# Through env: the interpreter exists only once the salt_ext_venv fixture has run, and ctest
# looks a test's executable up when it lists the tests.
set(VC_SALT_PYTHON /usr/bin/env ${VC_SALT_TEST_VENV}/bin/python)
set(VC_SALT_ENV
  "VC_BINARY=$<TARGET_FILE:virtconverge>"
  "VC_SALT_BIN=${VC_SALT_TEST_VENV}/bin"
  "VC_SALT_WHEEL_DIR=${VC_SALT_EXT_DIR}"
  "VC_SALT_VENV=${VC_SALT_VENV}"
  "VC_SALT_WHEELHOUSE=${VC_SALT_WHEELHOUSE}"
  "PYTHONDONTWRITEBYTECODE=1")

# Fixtures, run once per ctest run before any Salt test (ctest adds them to a -R or -L selection):
# the wheel (scripts/build-salt-ext.sh), then a fresh venv with Salt and that wheel
# (tests/salt/make-venv.sh). Either failing fails every Salt test.
add_test(NAME salt_ext_build
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/build-salt-ext.sh ${VC_SALT_EXT_DIR})
set_tests_properties(salt_ext_build PROPERTIES FIXTURES_SETUP salt_ext_wheel TIMEOUT 300 LABELS package
  ENVIRONMENT "VC_SALT_VENV=${VC_SALT_VENV};VC_SALT_WHEELHOUSE=${VC_SALT_WHEELHOUSE}")
add_test(NAME salt_ext_venv
  COMMAND ${CMAKE_SOURCE_DIR}/tests/salt/make-venv.sh ${VC_SALT_EXT_DIR} ${VC_SALT_TEST_VENV})
set_tests_properties(salt_ext_venv PROPERTIES
  FIXTURES_REQUIRED salt_ext_wheel FIXTURES_SETUP salt_ext TIMEOUT 600 LABELS package
  ENVIRONMENT "VC_SALT_WHEELHOUSE=${VC_SALT_WHEELHOUSE}")

# The package itself: the wheel holds the sources with the project's version, licence and loader
# entry point, two builds give the same bytes, the venv has it installed, and salt-call --local with an empty file root finds,
# lists and runs the modules through the entry point (the engine on libvirt's test driver).
add_test(NAME salt_package
  COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_package.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
set_tests_properties(salt_package PROPERTIES
  ENVIRONMENT "${VC_SALT_ENV}" FIXTURES_REQUIRED salt_ext LABELS package TIMEOUT 300)

# Unit tests of both modules (imported from the installed package): the engine on libvirt's test
# driver and a recording fake engine; every canned plan checked against schemas/plan.schema.json
# (Debian's python3-jsonschema); the fields (test_fields.py): every field of
# schemas/desired-state.schema.json reaches the document through Salt's own call machinery and the
# engine accepts it, an unknown one fails the state with the engine's unknown_field.
add_test(NAME salt_modules
  COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_modules.py test_fields.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
# RESOURCE_LOCK usr_bin: a test here expects no engine on PATH, and Salt's which() also looks in
# /usr/bin, where package_deb installs one for a moment.
set_tests_properties(salt_modules PROPERTIES
  ENVIRONMENT "${VC_SALT_ENV}" FIXTURES_REQUIRED salt_ext RESOURCE_LOCK usr_bin TIMEOUT 300)

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
# snapshots_cloud_init: a running guest's cloud_init seed and snapshots through domain_present
# (in-process) and a salt-call --local state file: seed CD-ROM and overlays checked with virsh, the
# pool directory and observe, a second snapshot live (same QEMU pid), deleting one refused without
# allow_destroy then merged with it, a changed user_data predicted; no password in any return,
# salt-call output or log. Objects vcs-sn-*, files under /tmp/vcs-sn, removed by name.
foreach(suite states salt_call master_minion fleet host snapshots_cloud_init)
  add_test(NAME salt_real_${suite}
    COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_${suite}.py
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
  set_tests_properties(salt_real_${suite} PROPERTIES
    ENVIRONMENT "${VC_SALT_ENV}" FIXTURES_REQUIRED salt_ext LABELS real RESOURCE_LOCK libvirtd TIMEOUT 900)
endforeach()

# Ceph RBD on the real single-node cluster (scripts/ceph-up.sh) and the real libvirtd: the rbd_image
# states, domains with RBD disks, converged with a ceph: section, observe, salt-call with
# salt/examples/states/ceph.sls; no cephx key in any return, comment or log. Images rbd/vcs-r-*,
# rbd/vcs-ex-*, removed afterwards.
add_test(NAME salt_real_rbd
  COMMAND ${VC_SALT_PYTHON} -m pytest -p no:cacheprovider -v test_rbd.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/salt)
set_tests_properties(salt_real_rbd PROPERTIES
  ENVIRONMENT "${VC_SALT_ENV}" FIXTURES_REQUIRED salt_ext LABELS real RESOURCE_LOCK libvirtd TIMEOUT 900)

add_test(NAME salt_real_bench_quick
  COMMAND ${CMAKE_SOURCE_DIR}/bench/salt/run.sh --quick
          --binary $<TARGET_FILE:virtconverge> --venv ${VC_SALT_TEST_VENV})
set_tests_properties(salt_real_bench_quick PROPERTIES
  FIXTURES_REQUIRED salt_ext LABELS real RUN_SERIAL TRUE TIMEOUT 900)
