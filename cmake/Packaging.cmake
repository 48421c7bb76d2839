# Packaging: the systemd unit and bash completion (installed by `cmake --install` as well), and the
# CPack DEB generator (scripts/build-deb.sh; docs/packaging.md). Included from the top-level
# CMakeLists.txt after the install() rules of the binary, the Ceph plugin, the schemas and the man
# page.

# The HTTP server's unit: installed, never enabled (the package has no maintainer scripts).
configure_file(${CMAKE_SOURCE_DIR}/packaging/systemd/virtconverge-server.service.in
               ${CMAKE_BINARY_DIR}/packaging/virtconverge-server.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/virtconverge-server.service
        DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/bash-completion/virtconverge
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME virtconverge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "virtconverge maintainers")
set(CPACK_PACKAGE_CONTACT "virtconverge maintainers <maintainers@virtconverge.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "declarative KVM/QEMU host state through libvirt")
set(CPACK_PACKAGE_DESCRIPTION
  "virtconverge reads what libvirt holds on a KVM/QEMU host (storage pools,\n"
  "volumes, networks, domains, Ceph RBD images), compares it with declared\n"
  "documents, shows a plan of each change and how disruptive it is (live, needs\n"
  "a restart, destroys data) and applies it. The same engine serves Puppet and\n"
  "Salt (JSON on stdin) and an HTTP API with a plan-review page.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # virtconverge_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://virtconverge.invalid/")
# Depends from the real shared libraries of the binary and the plugin (dpkg-shlibdeps, dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)  # a program and a plugin: no public library
# What it drives: a libvirt daemon with QEMU, and qemu-img for restore.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libvirt-daemon-system, qemu-system-x86, qemu-utils")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "ceph-common, libvirt-daemon-driver-storage-rbd")

# Debian's layout on top of the install rules, in the staging directory only (`cmake --install`
# stays as it is): the man page gzipped, /usr/share/doc/virtconverge with copyright, changelog
# and the example document.
set(CPACK_VC_SOURCE_DIR ${CMAKE_SOURCE_DIR})
set(CPACK_VC_MANDIR ${CMAKE_INSTALL_MANDIR})
set(CPACK_VC_DATADIR ${CMAKE_INSTALL_DATADIR})
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/cmake/DebianLayout.cmake)

include(CPack)
