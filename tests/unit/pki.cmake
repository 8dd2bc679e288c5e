# tests/unit/pki.cmake: Check suites of the hv pki area (add_executable/add_test, as in tests/CMakeLists.txt)
