# hv/pki.cmake: sources of the pki area: target_sources(hv PRIVATE ...)
