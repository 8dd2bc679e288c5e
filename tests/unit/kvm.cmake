# tests/unit/kvm.cmake: Check suites of the hv kvm area: UAPI layouts and every emulated KVM
# ioctl (test_kvm), the KVM_EXIT_SNP_REQ_CERTS handler (test_kvm_req_certs), and the SNP launch
# through the emulated KVM + PSP against coco's offline digest (test_snp_launch).
foreach(t kvm kvm_req_certs snp_launch tdx_launch)
  add_executable(test_${t} unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE hv PkgConfig::CHECK)
  target_compile_definitions(test_${t} PRIVATE SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME unit-${t} COMMAND test_${t})
endforeach()
set_tests_properties(unit-snp_launch PROPERTIES TIMEOUT 600)
