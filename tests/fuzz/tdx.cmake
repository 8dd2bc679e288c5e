# tests/fuzz/tdx.cmake: harnesses of the hv tdx area: list(APPEND COCOD_FUZZ_HARNESSES name) and set(fuzz_libs_name lib)
