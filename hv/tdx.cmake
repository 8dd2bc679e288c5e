# hv/tdx.cmake: sources of the tdx area.
# The TDX blob/sigstruct parser is pure (coco/): it belongs to cocopure, which exists before hv.
target_sources(cocopure PRIVATE ${CMAKE_SOURCE_DIR}/coco/tdx/blob.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/blobgen.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/version.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/mapping.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/select.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/tdvf.c
                                ${CMAKE_SOURCE_DIR}/coco/tdx/ccel.c)
# The TDX host sysfs backend, and the emulated TDX module + the simulated kernel side of the
# sysfs tree (tests and the emulated platform).
target_sources(hv PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tdx.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/emul/tdx_module.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/emul/tdx_kernel.c)
