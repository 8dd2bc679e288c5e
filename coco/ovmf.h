/* OVMF/TDVF image layout shared by SNP and TDX measurement: the GUIDed table that edk2 places
 * at the end of the image (OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm), and the SEV items it
 * points at. Every read is bounds-checked; a hostile image yields an error, never a crash. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/guid.h"

#define OVMF_MAX_TABLE_ENTRIES 64
#define OVMF_MAX_SEV_SECTIONS 64

/* Footer of the table: 96b582de-1fb2-45f7-baea-a366c55a082d, its entry ends 32 bytes before
 * the end of the image (the last 32 bytes are the reset vector). */
#define OVMF_GUID_TABLE_FOOTER                                                                     \
	COCO_GUID(0x96b582de, 0x1fb2, 0x45f7, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d)
/* SEV metadata offset (u32, from the end of the image): dc886566-984a-4798-a75e-5585a7bf67cc */
#define OVMF_GUID_SEV_METADATA                                                                     \
	COCO_GUID(0xdc886566, 0x984a, 0x4798, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc)
/* SEV-ES AP reset block (u32 reset EIP): 00f771de-1a7e-4fcb-890e-68c77e2fb44e */
#define OVMF_GUID_SEV_ES_RESET_BLOCK                                                               \
	COCO_GUID(0x00f771de, 0x1a7e, 0x4fcb, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e)
/* SEV hashes table (u32 GPA, u32 size): 7255371f-3a3b-4b04-927b-1da6efa8d454 */
#define OVMF_GUID_SEV_HASH_TABLE                                                                   \
	COCO_GUID(0x7255371f, 0x3a3b, 0x4b04, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54)

/* OvmfPkg/Include/WorkArea.h / AmdSev metadata section types. */
enum ovmf_sev_section_type {
	OVMF_SEV_SNP_SEC_MEM = 1,
	OVMF_SEV_SNP_SECRETS = 2,
	OVMF_SEV_CPUID = 3,
	OVMF_SEV_SVSM_CAA = 4,
	OVMF_SEV_SNP_KERNEL_HASHES = 0x10,
};

struct ovmf_table_entry {
	struct coco_guid guid;
	size_t offset, len; /* of the entry's data within the image */
};

struct ovmf_sev_section {
	uint32_t gpa, size, type;
};

struct ovmf {
	const uint8_t *data;
	size_t size;
	struct ovmf_table_entry table[OVMF_MAX_TABLE_ENTRIES];
	size_t n_table;
	bool has_sev_metadata;
	struct ovmf_sev_section sections[OVMF_MAX_SEV_SECTIONS];
	size_t n_sections;
	bool has_reset_eip;
	uint32_t sev_es_reset_eip;
	bool has_hash_table;
	uint32_t hash_table_gpa, hash_table_size;
};

/* Parse an image held in memory (not copied: `data` must outlive the result). An image
 * without the GUIDed table parses with n_table == 0. Errors: -EINVAL with a message. */
int ovmf_parse(const uint8_t *data, size_t size, struct ovmf *ret, char *err, size_t errlen);
/* The table entry with this GUID, or NULL. */
const struct ovmf_table_entry *ovmf_find(const struct ovmf *o, struct coco_guid g);
/* GPA where the image is mapped: it ends at 4 GiB. */
static inline uint64_t ovmf_gpa(const struct ovmf *o)
{
	return 0x100000000ull - o->size;
}
bool ovmf_has_section(const struct ovmf *o, enum ovmf_sev_section_type t);
const char *ovmf_sev_section_name(uint32_t type);
