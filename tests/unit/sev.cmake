# tests/unit/sev.cmake: Check suites of the hv sev area: /dev/sev commands and names, UAPI
# layouts (test_sev), the emulated PSP's launch digest and attestation reports (test_emul_psp).
foreach(t sev emul_psp)
  add_executable(test_${t} unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE hv PkgConfig::CHECK)
  target_compile_definitions(test_${t} PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME unit-${t} COMMAND test_${t})
endforeach()
