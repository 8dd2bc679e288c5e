# tests/unit/tdx.cmake: Check suites of the hv tdx area (add_executable/add_test, as in tests/CMakeLists.txt)
