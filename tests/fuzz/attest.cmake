# tests/fuzz/attest.cmake: harnesses of attest/: the SEV-SNP report parser and verifier, the
# TDREPORT and the TDX quote parsers.
list(APPEND COCOD_FUZZ_HARNESSES snp_report tdreport tdx_quote)
set(fuzz_libs_snp_report attest)
set(fuzz_libs_tdreport attest)
set(fuzz_libs_tdx_quote attest)
# The POST /v1/guests body (cocod/guest_launch.c).
list(APPEND COCOD_FUZZ_HARNESSES guest_spec)
set(fuzz_libs_guest_spec cocosvc)
