# tests/unit/kvm.cmake: Check suites of the hv kvm area (add_executable/add_test, as in tests/CMakeLists.txt)
