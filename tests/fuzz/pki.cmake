# tests/fuzz/pki.cmake: harnesses of the hv pki area: the VLEK hashstick unwrap (432 untrusted
# bytes) and the emulated KDS path parser.
list(APPEND COCOD_FUZZ_HARNESSES vlek kds_path hashstick)
set(fuzz_libs_vlek hv)
set(fuzz_libs_kds_path hv)
set(fuzz_libs_hashstick sevd)
