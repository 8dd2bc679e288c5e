# hv/kvm.cmake: sources of the kvm area: KVM ioctls (native backend), the SNP launch sequence,
# the KVM_EXIT_SNP_REQ_CERTS handler, and the emulated KVM.
target_sources(hv PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/kvm.c
  ${CMAKE_CURRENT_SOURCE_DIR}/snp_launch.c
  ${CMAKE_CURRENT_SOURCE_DIR}/snp_req_certs.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kvm.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kvm_snp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kvm_vmsa.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kvm_psp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kvm_tdx.c
  ${CMAKE_CURRENT_SOURCE_DIR}/tdx_launch.c)
