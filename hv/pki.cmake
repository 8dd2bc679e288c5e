# hv/pki.cmake: the emulated AMD key infrastructure (ARK/ASK/ASVK, VCEK/VLEK, hashsticks) and
# the emulated KDS serving it.
target_sources(hv PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/amdpki.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/amdpki_x509.c
  ${CMAKE_CURRENT_SOURCE_DIR}/emul/kds.c)
