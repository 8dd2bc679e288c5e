# tests/unit/tdx.cmake: Check suites of the hv tdx area (as the foreach in tests/CMakeLists.txt).
foreach(t tdx_blob tdx_sysfs tdx_emul tdx_select tdx_measure)
  add_executable(test_${t} unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE hv PkgConfig::CHECK)
  target_compile_definitions(test_${t} PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME unit-${t} COMMAND test_${t})
  set_tests_properties(unit-${t} PROPERTIES TIMEOUT 120)
endforeach()
# The safe runtime update (tdxd/) on the simulated kernel + emulated module.
add_executable(test_tdxd_update unit/test_tdxd_update.c)
target_link_libraries(test_tdxd_update PRIVATE tdxd PkgConfig::CHECK)
target_compile_definitions(test_tdxd_update PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_test(NAME unit-tdxd_update COMMAND test_tdxd_update)
set_tests_properties(unit-tdxd_update PROPERTIES TIMEOUT 300)
# The synthetic TDVF images and event logs of test_tdx_measure, as files (tests/data/tdx/README,
# bench/tdx-measure).
add_executable(tdvf-synth tdvf_synth.c)
target_link_libraries(tdvf-synth PRIVATE cocopure)
# Synthetic module blobs for a module store (scripts/run-dev, integration-tdx_update).
add_executable(tdx-blobgen tdx_blobgen_tool.c)
target_link_libraries(tdx-blobgen PRIVATE cocopure)
