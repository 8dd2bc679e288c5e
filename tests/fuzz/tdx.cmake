# tests/fuzz/tdx.cmake: harnesses of the hv tdx area (README.md): the TDX module blob parser
# and mapping_file.json parser (pure, cocopure) and the TDX host sysfs text parsers (hv).
list(APPEND COCOD_FUZZ_HARNESSES tdx_blob tdx_sysfs tdx_mapping)
set(fuzz_libs_tdx_blob cocopure)
set(fuzz_libs_tdx_sysfs hv)
set(fuzz_libs_tdx_mapping cocopure)
