# tests/fuzz/tdx.cmake: harnesses of the hv tdx area (README.md): the TDX module blob parser
# (pure, cocopure), the TDX host sysfs text parsers (hv), the TDVF metadata/MRTD and the TD
# event log (CCEL) replay (pure, cocopure), and Intel's mapping_file.json (pure, cocopure).
list(APPEND COCOD_FUZZ_HARNESSES tdx_blob tdx_sysfs tdvf ccel tdx_mapping)
set(fuzz_libs_tdx_blob cocopure)
set(fuzz_libs_tdx_sysfs hv)
set(fuzz_libs_tdvf cocopure)
set(fuzz_libs_ccel cocopure)
set(fuzz_libs_tdx_mapping cocopure)
