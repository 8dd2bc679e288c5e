/* Synthetic TDX module blobs with Intel's real layouts (coco/tdx/blob.h), for tests and the
 * emulated platform: Intel's module binaries are under a limited-distribution licence, so
 * nothing here is Intel's. The sigstruct has every field P-SEAMLDR checks set to the required
 * value, a seamhash that matches the module, and zeros where the RSA key and signature go
 * (never signed: only the emulated P-SEAMLDR accepts these).
 *
 * The synthetic module binary says which version it is, as a real module does through its
 * own metadata (TDH.SYS.RD), in a header of our own:
 *   0x00 "COCO-EMUL-TDXMOD" (16 bytes)  0x10 u16 major  0x12 u16 minor  0x14 u16 update
 *   0x16 u16 zero  0x18 u64 seed; then bytes derived from (version, seed) to the end.
 * Pure: no I/O, no logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDX_SYNTH_MODULE_MAGIC "COCO-EMUL-TDXMOD"
#define TDX_SYNTH_MODULE_MAGIC_LEN 16
#define TDX_SYNTH_MODULE_HEADER_SIZE 32

struct tdx_blobgen_params {
	uint16_t blob_version; /* TDX_BLOB_V1 (Intel's) or TDX_BLOB_V2; 0 = V1 */
	uint16_t major, minor, update;
	uint32_t module_pages;	   /* 0 = 100 (Intel's range: 101..146 pages) */
	uint32_t extra_sig_pages;  /* v1: N in offset_of_module = 8 KiB + N * 4 KiB */
	bool debug;		   /* module_type bit 31 */
	uint16_t seamsvn;	   /* 0 = update number as the minor SVN */
	uint64_t attributes;
	uint16_t module_hv;	   /* 0 = 1 */
	uint16_t min_update_hv;	   /* 0 = 1 */
	bool no_downgrade;
	const uint32_t *cpuid;	   /* CPUID.1.EAX values; NULL = one entry, cpuid_default */
	uint32_t cpuid_count;
	uint32_t date;		   /* BCD yyyymmdd; 0 = 0x20250101 */
	uint64_t seed;		   /* varies the module bytes (and so MRSEAM) */
};

/* A Sapphire Rapids CPUID.1.EAX (family 6, model 0x8f, stepping 8). */
#define TDX_BLOBGEN_CPUID_DEFAULT 0x000806f8u

/* Build a blob; *ret is malloc'd. -EINVAL for parameters no blob can have. */
int tdx_blobgen(const struct tdx_blobgen_params *p, uint8_t **ret, size_t *ret_size);

/* The version a synthetic module binary declares; -EINVAL when it is not one. */
int tdx_synth_module_version(const uint8_t *module, size_t len, uint16_t *ret_major,
			     uint16_t *ret_minor, uint16_t *ret_update);
