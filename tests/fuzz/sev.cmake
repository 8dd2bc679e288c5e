# tests/fuzz/sev.cmake: harnesses of the hv sev area: the emulated PSP's ID block / ID_AUTH_INFO
# check at SNP_LAUNCH_FINISH (bytes from a VMM), cross-checked against coco/snp/idblock.c.
list(APPEND COCOD_FUZZ_HARNESSES psp_idauth)
set(fuzz_libs_psp_idauth hv)
