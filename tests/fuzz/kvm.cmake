# tests/fuzz/kvm.cmake: harnesses of the hv kvm area: the KVM_EXIT_SNP_REQ_CERTS handler with a
# guest's gpa/npages and a certificate file's bytes (table check, guest-memory bounds).
list(APPEND COCOD_FUZZ_HARNESSES req_certs)
set(fuzz_libs_req_certs hv)
