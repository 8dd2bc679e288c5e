# tests/fuzz/kvm.cmake: harnesses of the hv kvm area: list(APPEND COCOD_FUZZ_HARNESSES name) and set(fuzz_libs_name lib)
