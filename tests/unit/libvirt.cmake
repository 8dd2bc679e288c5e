# tests/unit/libvirt.cmake: the libvirt area: domain XML golden files, libvirt's schema, and the
# lifecycle on libvirt's test:///default driver.
add_executable(test_libvirt unit/test_libvirt.c)
target_link_libraries(test_libvirt PRIVATE hv PkgConfig::CHECK)
target_compile_definitions(test_libvirt PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_test(NAME unit-libvirt COMMAND test_libvirt)
