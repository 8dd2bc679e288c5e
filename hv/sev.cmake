# hv/sev.cmake: sources of the sev area: target_sources(hv PRIVATE ...)
