# tests/unit/sev.cmake: Check suites of the hv sev area (add_executable/add_test, as in tests/CMakeLists.txt)
