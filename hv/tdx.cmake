# hv/tdx.cmake: sources of the tdx area.
# The TDX blob/sigstruct parser is pure (coco/): it belongs to cocopure, which exists before hv.
target_sources(cocopure PRIVATE ${CMAKE_SOURCE_DIR}/coco/tdx/blob.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/blobgen.c)
