# tests/unit/pki.cmake: Check suites of the hv pki area (the emulated AMD PKI and KDS).
foreach(t amdpki)
  add_executable(test_${t} unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE hv PkgConfig::CHECK)
  target_compile_definitions(test_${t} PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME unit-${t} COMMAND test_${t})
  set_tests_properties(unit-${t} PROPERTIES TIMEOUT 120)
endforeach()
# attest/: report/quote parsing and verification, against the real AMD vectors and the
# emulated PSP, PKI and TDX module.
add_executable(test_attest unit/test_attest.c)
target_link_libraries(test_attest PRIVATE attest hv PkgConfig::CHECK)
target_compile_definitions(test_attest PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  PKI_CACHE_DIR="${CMAKE_BINARY_DIR}/tests/emul-pki")
add_test(NAME unit-attest COMMAND test_attest)
set_tests_properties(unit-attest PROPERTIES TIMEOUT 600)
