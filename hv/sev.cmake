# hv/sev.cmake: sources of the sev area: /dev/sev (native and emulated backends, one function
# per firmware command) and the emulated AMD Secure Processor.
target_sources(hv PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/sev.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/psp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/psp_idauth.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/psp_launch.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/psp_report.c)
