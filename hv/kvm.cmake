# hv/kvm.cmake: sources of the kvm area: target_sources(hv PRIVATE ...)
