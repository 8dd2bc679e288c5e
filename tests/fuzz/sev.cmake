# tests/fuzz/sev.cmake: harnesses of the hv sev area: list(APPEND COCOD_FUZZ_HARNESSES name) and set(fuzz_libs_name lib)
