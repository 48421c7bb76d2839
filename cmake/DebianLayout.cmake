# CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS in cmake/Packaging.cmake): runs in the staging
# directory after the install rules and before the .deb is made. Adds what Debian's policy asks of
# a package and `cmake --install` does not do: the man page gzipped (-9n: no name, no time), and
# /usr/share/doc/virtconverge with the copyright file, a changelog.Debian.gz and the example, and
# a lintian override.

set(_root "${CPACK_TEMPORARY_INSTALL_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}")
if(NOT EXISTS "${_root}/bin/virtconverge")
  message(FATAL_ERROR "DebianLayout: no bin/virtconverge under ${_root}")
endif()

set(_man "${_root}/${CPACK_VC_MANDIR}/man1/virtconverge.1")
if(EXISTS "${_man}")
  execute_process(COMMAND gzip -9nf "${_man}" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "DebianLayout: gzip ${_man} failed")
  endif()
endif()

set(_doc "${_root}/${CPACK_VC_DATADIR}/doc/virtconverge")
file(MAKE_DIRECTORY "${_doc}/examples")
configure_file("${CPACK_VC_SOURCE_DIR}/packaging/debian/copyright" "${_doc}/copyright" COPYONLY)
configure_file("${CPACK_VC_SOURCE_DIR}/examples/site.yaml" "${_doc}/examples/site.yaml" COPYONLY)

string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)  # $SOURCE_DATE_EPOCH when set
file(WRITE "${_doc}/changelog.Debian"
  "virtconverge (${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}) unstable; urgency=medium\n\n"
  "  * Built with CPack from the virtconverge source tree (scripts/build-deb.sh).\n\n"
  " -- ${CPACK_PACKAGE_CONTACT}  ${_date}\n")
execute_process(COMMAND gzip -9nf "${_doc}/changelog.Debian" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "DebianLayout: gzip changelog.Debian failed")
endif()

# Not a package for Debian's archive: there is no ITP bug for its first changelog entry to close.
file(WRITE "${_root}/${CPACK_VC_DATADIR}/lintian/overrides/virtconverge"
  "virtconverge: initial-upload-closes-no-bugs\n")
