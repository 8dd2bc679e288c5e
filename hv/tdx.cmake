# hv/tdx.cmake: sources of the tdx area: target_sources(hv PRIVATE ...)
