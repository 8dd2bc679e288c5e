# tests/fuzz/pki.cmake: harnesses of the hv pki area: list(APPEND COCOD_FUZZ_HARNESSES name) and set(fuzz_libs_name lib)
