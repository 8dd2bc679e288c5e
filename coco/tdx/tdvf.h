/* TDVF (TDX OVMF) metadata and the MRTD a TD built from it gets.
 *
 * The OVMF GUIDed footer table (coco/ovmf.h) holds entry e47a6535-984a-4798-865e-4685a7bf8ec2
 * whose u32 is the offset from the end of the image to the TDX metadata descriptor (edk2
 * OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm; the descriptor's GUID sits in the 16 bytes
 * before it):
 *   0 "TDVF"  4 u32 length (16 + 32 n)  8 u32 version (1)  12 u32 n sections
 *   16 + 32 i: u32 data_offset, u32 raw_size, u64 gpa, u64 mem_size, u32 type, u32 attributes
 * Attributes: bit 0 MR.EXTEND (the pages' contents are measured), bit 1 PAGE.AUG (not added at
 * build time: accepted by the guest later, outside MRTD).
 *
 * MRTD (Intel TDX module base spec, TDH.MEM.PAGE.ADD / TDH.MR.EXTEND): one running SHA-384 over
 * 128-byte records: "MEM.PAGE.ADD" with the page's GPA (u64 LE) at byte 16, and "MR.EXTEND"
 * with the chunk's GPA at byte 16 followed by the chunk's 256 data bytes. Page contents are the
 * section's raw bytes, zero-filled from raw_size to mem_size. Two orders exist:
 *   single-pass (upstream KVM's KVM_TDX_INIT_MEM_REGION): per page, add it, then extend its 16
 *     chunks; the default.
 *   two-pass (older QEMU/KVM trees): per section, add every page, then extend every chunk.
 *
 * Pure: no I/O, no logging; -EINVAL with a message for anything malformed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/ovmf.h"

/* e47a6535-984a-4798-865e-4685a7bf8ec2 */
#define TDVF_GUID_METADATA                                                                         \
	COCO_GUID(0xe47a6535, 0x984a, 0x4798, 0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2)
#define TDVF_SIGNATURE "TDVF"
#define TDVF_DESC_HEADER 16
#define TDVF_SECTION_SIZE 32
#define TDVF_MAX_SECTIONS 64
#define TDVF_ATTR_MR_EXTEND 0x1u
#define TDVF_ATTR_PAGE_AUG 0x2u
#define TDVF_PAGE 4096u
#define TDVF_MR_RECORD 128
#define TDVF_MR_CHUNK 256
/* Our resource limit on what one image may add: 1 GiB of pages (TDVF images add a few MiB). */
#define TDVF_MAX_ADDED_BYTES (1ull << 30)

enum tdvf_section_type {
	TDVF_BFV = 0,
	TDVF_CFV = 1,
	TDVF_TD_HOB = 2,
	TDVF_TEMP_MEM = 3,
	TDVF_PERM_MEM = 4,
	TDVF_PAYLOAD = 5,
	TDVF_PAYLOAD_PARAM = 6,
	TDVF_TD_INFO = 7,
	TDVF_TD_PARAMS = 8,
	TDVF_SECTION_TYPES
};

enum tdvf_order {
	TDVF_SINGLE_PASS = 0, /* add a page, extend it (upstream KVM) */
	TDVF_TWO_PASS = 1,    /* add every page of a section, then extend them (older QEMU) */
};

struct tdvf_section {
	uint32_t data_offset, raw_size;
	uint64_t gpa, mem_size;
	uint32_t type, attributes;
};

struct tdvf {
	const uint8_t *data; /* borrowed */
	size_t size;
	size_t desc_off; /* offset of "TDVF" in the image */
	uint32_t n;
	struct tdvf_section s[TDVF_MAX_SECTIONS];
	uint64_t pages_added, chunks_extended; /* what a build performs */
};

/* Parse the TDX metadata of an image in memory (borrowed). Checks: footer table, descriptor
 * inside the image, signature, version 1, length = 16 + 32 n, 1 <= n <= 64, known types, known
 * attribute bits, not MR.EXTEND and PAGE.AUG together, GPA and memory size page-aligned and
 * below 2^52, raw_size <= mem_size, raw data inside the image, no two sections' GPA ranges
 * overlapping, at most TDVF_MAX_ADDED_BYTES added. */
int tdvf_parse(const uint8_t *data, size_t size, struct tdvf *ret, char *err, size_t errlen);

/* MRTD of a TD built from the image in this order. -ENOMEM if OpenSSL fails. */
int tdvf_mrtd(const struct tdvf *t, enum tdvf_order order, uint8_t ret[48], char *err,
	      size_t errlen);

const char *tdvf_section_name(uint32_t type);
const char *tdvf_order_name(enum tdvf_order o); /* "single-pass" / "two-pass" */

/* A synthetic TDVF image for tests, benchmarks and fuzz seeds: `size` bytes (a multiple of 4 KiB,
 * at least 64 KiB) of deterministic pseudo-random bytes from `seed`, a footer table with the TDX
 * metadata entry, and a descriptor near the end listing BFV (the last half of the image minus the
 * descriptor page, MR.EXTEND), CFV (the first quarter, not extended), TD_HOB and TempMem (added,
 * no data) and, if `with_aug`, a PAGE.AUG PermMem section. *ret is malloc'd. */
int tdvf_synth(size_t size, uint32_t seed, bool with_aug, uint8_t **ret);
