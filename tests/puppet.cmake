# The Puppet module (puppet/): its rspec unit tests, end-to-end `puppet apply` runs against the real
# libvirtd, and a quick run of the 200-domain benchmark. Debian's ruby, rspec and puppet
# (scripts/install-deps-puppet.sh); absolute paths, so a missing package fails the tests loudly.
set(VC_PUPPET_RUBY /usr/bin/ruby)
set(VC_PUPPET_RSPEC /usr/bin/rspec)

# Types, providers and the engine client. The provider specs drive the real engine on libvirt's
# test driver (test:///default), so no daemon is needed. Also: the types' fields (from the
# generated table) against schemas/desired-state.schema.json, a field added to the schema reaching
# a type and the provider's documents with no edit, and every canned plan against
# schemas/plan.schema.json (with Debian's python3-jsonschema, /usr/bin/python3).
add_test(NAME puppet_unit
  COMMAND ${VC_PUPPET_RSPEC}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/puppet)
set_tests_properties(puppet_unit PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>"
  LABELS puppet TIMEOUT 300)

# The one field table: puppet/lib/puppet_x/virtconverge/fields.rb is what
# scripts/generate-frontend-fields.py writes from schemas/desired-state.schema.json today (it
# regenerates in memory and compares; on a difference it prints the diff and how to regenerate).
add_test(NAME puppet_fields_generated
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/scripts/generate-frontend-fields.py --check
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(puppet_fields_generated PROPERTIES LABELS puppet TIMEOUT 60)

# The module's examples/*.pp compile and plan (`puppet apply --noop` on the test driver).
add_test(NAME puppet_examples
  COMMAND ${VC_PUPPET_RSPEC} examples_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_examples PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>"
  LABELS puppet TIMEOUT 300)

# Real manifests, real `puppet apply`, real libvirtd (qemu:///system): create, no-op second run,
# puppet resource, --noop, live vCPU hot-plug (same QEMU process), pending restart, allow_restart,
# per-resource engine errors, ensure => absent. Objects are named vcp-e2e-* and removed.
# Puppet loads the module installed from its release tarball (puppet_module_artefact below, which
# also proves the installed files are the source tree's), so one run covers both: the module as
# shipped, and the source it is built from.
add_test(NAME puppet_real_libvirt
  COMMAND ${VC_PUPPET_RSPEC} real_libvirt_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_real_libvirt PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>;VC_PUPPET_MODULEPATH=${CMAKE_BINARY_DIR}/puppet-module/modulepath"
  FIXTURES_REQUIRED puppet_module_installed
  LABELS "real;puppet;package" RESOURCE_LOCK libvirtd TIMEOUT 900)

# A virt_domain's cloud_init and snapshots, real `puppet apply` against the real libvirtd: a running
# no-OS guest on a qcow2 volume created with a NoCloud seed (the CD-ROM on <domain>-cidata.iso,
# read with virsh) and a first snapshot (the overlay <volume>@<name> in the pool directory, the
# guest's vda on it, `virtconverge observe` listing it); no-op second run; a second snapshot taken
# live (same QEMU pid, overlay chain checked with qemu-img); deleting the first refused without
# allow_destroy (nothing changed), merged with it (overlay gone, observe lists the other); a
# changed user_data under --noop (needs restart, no restart planned, seed unchanged), then applied
# (seed rewritten, same QEMU pid). The user-data's passwords are looked for in Puppet's output and
# every file Puppet wrote, after every run. Objects are vcpup-sn-* under /tmp/vcpup-sn/spec,
# removed by name.
add_test(NAME puppet_real_snapshots_cloud_init
  COMMAND ${VC_PUPPET_RSPEC} real_snapshots_cloud_init_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_real_snapshots_cloud_init PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>"
  LABELS "real;puppet" RESOURCE_LOCK libvirtd TIMEOUT 900)

# rbd_image and RBD disks, real `puppet apply` against the real Ceph cluster (scripts/ceph-up.sh,
# the least-privilege client.virtconverge) and libvirtd: --noop of the new site without warnings,
# a golden image with a snapshot, a clone grown after cloning, a KVM domain on the clone (dependency
# order from autorequire), no-op second run, puppet resource, --noop, live grow under the running
# domain, shrink refused without allow_destroy (that resource only), a Sensitive ceph_conf
# redacted, teardown in reverse order without `require`, and no cephx key in any output or report.
# Objects are vcp-rbd-*, removed.
add_test(NAME puppet_real_ceph
  COMMAND ${VC_PUPPET_RSPEC} real_ceph_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_real_ceph PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>"
  LABELS "real;puppet" RESOURCE_LOCK libvirtd TIMEOUT 900)

# The benchmark's checks at a small size: one engine process per run, create and delete report
# changes, no-op runs exit 0 (domains vcp-bench-*, removed afterwards).
add_test(NAME puppet_bench_quick
  COMMAND ${VC_PUPPET_RUBY} ${CMAKE_SOURCE_DIR}/bench/puppet/bench.rb
          --n 20 --runs 1 --engine $<TARGET_FILE:virtconverge>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(puppet_bench_quick PROPERTIES
  LABELS "real;puppet" RUN_SERIAL TRUE TIMEOUT 600)

# virt_host, real `puppet apply` against the real libvirtd: KSM pages_to_scan and sleep_millisecs
# set through the manifest and read back from /sys/kernel/mm/ksm (--noop changes nothing; second
# run no-op; puppet resource virt_host), and the host's cpu_allocation_ratio refusing a virt_domain
# of the catalog with the engine's over_committed (nothing defined; allow_overcommit lets it
# through). The machine's KSM settings are restored afterwards. Objects are vcpup-*, removed.
add_test(NAME puppet_real_host
  COMMAND ${VC_PUPPET_RSPEC} real_host_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_real_host PROPERTIES
  ENVIRONMENT "VIRTCONVERGE_BIN=$<TARGET_FILE:virtconverge>"
  LABELS "real;puppet" RESOURCE_LOCK libvirtd TIMEOUT 900)

# The module's release tarball, as users install it: scripts/build-puppet-module.sh builds it
# (twice: the same bytes), `puppet module install --ignore-dependencies --target-dir` puts it in a
# fresh module path (build/puppet-module/modulepath), and the installed tree is checked: metadata
# (the project's version, Apache-2.0), every lib/ and examples/ file, checksums.json (also through
# `puppet module changes`), a REFERENCE.md with all six types that the generator writes the same
# from the source tree today. A broken tarball (a lib file gone, REFERENCE.md stale) is shown to
# fail these checks, and a version that disagrees with CMakeLists.txt to stop the build.
add_test(NAME puppet_module_artefact
  COMMAND ${VC_PUPPET_RSPEC} module_artefact_spec.rb
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/puppet)
set_tests_properties(puppet_module_artefact PROPERTIES
  ENVIRONMENT "VC_PUPPET_MODULE_DIR=${CMAKE_BINARY_DIR}/puppet-module"
  FIXTURES_SETUP puppet_module_installed
  LABELS "puppet;package" TIMEOUT 300)

