# hv/libvirt.cmake: sources of the libvirt area: the domain XML of a confidential guest (pure)
# and the libvirt connection (define/start, lookup, destroy, list), linked to libvirt directly.
pkg_check_modules(LIBVIRT REQUIRED IMPORTED_TARGET libvirt>=9.0)
target_sources(hv PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/libvirt_xml.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/libvirt.c)
target_link_libraries(hv PUBLIC PkgConfig::LIBVIRT)
