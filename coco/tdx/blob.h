/* Intel TDX module blobs: the files Intel ships (version 0x100) and the image the Linux 7.2
 * kernel accepts through /sys/class/firmware/tdx_module (version 0x200), and the SEAM_SIGSTRUCT
 * inside both.
 *
 * v1 (0x100), intel/tdx-module-binaries blob_structure.txt:
 *   0x000 u16 version = 0x100      0x002 u16 checksum (16-bit sum of the whole file is 0)
 *   0x004 u32 offset_of_module     0x008 "TDX-BLOB"
 *   0x010 u32 length (= file size) 0x014 u32 reserved0, then u64 reserved1[509] (to 4 KiB)
 *   0x1000 sigstruct (2 KiB), reserved to offset_of_module (= 8 KiB + N * 4 KiB, N >= 0)
 *   offset_of_module: the module binary, 4 KiB aligned, to the end of the file.
 * v2 (0x200), Linux arch/x86/virt/vmx/tdx/seamldr.c struct tdx_image_header (runtime TDX
 * module update series v10, 2026-05):
 *   0x000 u16 version = 0x200      0x002 u16 checksum
 *   0x004 "TDX-BLOB"               0x00c u32 sigstruct_nr_pages   0x010 u32 module_nr_pages
 *   0x014 reserved[4076], zero
 *   then sigstruct_nr_pages (<= 4) pages of sigstruct, then module_nr_pages (<= 496) pages of
 *   module; the size is exactly 4 KiB * (1 + both counts). The kernel checks version, sizes,
 *   signature and reserved bytes, not the checksum; we keep the v1 rule for both versions.
 * v1 -> v2 changes only the first 4 KiB: the payload after it is the same bytes.
 *
 * SEAM_SIGSTRUCT (2048 bytes; Intel "SEAM Loader (SEAMLDR) Interface Specification",
 * SEAM_SIGSTRUCT table, as mirrored by Intel's P-SEAMLDR sources, seam_sigstruct.h):
 *   0 header_type (6)  4 header_length (0xE1 dwords)  8 header_version (0x10000)
 *   12 module_type (bit 31 = debug signed)  16 module_vendor (0x8086)  20 date  24 size (0x200
 *   dwords)  28 key_size (0x60)  32 modulus_size (0x60)  36 exponent_size (1)  40 reserved
 *   128 modulus[384]  512 exponent  516 signature[384]
 *   900 seamhash[48] (SHA-384 of the module = MRSEAM)  948 seamsvn u16 (minor byte, major byte)
 *   950 attributes u64  ... 984 module_hv u16  986 min_update_hv u16  988 no_downgrade u8
 *   1024 cpuid_table_size u32  1028 cpuid_table[255] (u32 CPUID.1.EAX values)
 * The sigstruct does not carry the module's version (the module reports it; the blob's file
 * name carries it: tdx_module_<x.y.z>.blob).
 *
 * Pure: no I/O, no logging; errors are a negative errno plus a message in err:
 * -EINVAL malformed, -EBADMSG integrity (checksum, seamhash), -ENOMEM. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDX_BLOB_V1 0x100
#define TDX_BLOB_V2 0x200
#define TDX_BLOB_PAGE 4096
#define TDX_BLOB_HEADER_SIZE 4096
#define TDX_BLOB_MAGIC "TDX-BLOB"
#define TDX_BLOB_MAGIC_LEN 8

/* v1 header fields */
#define TDX_BLOB_VERSION_OFF 0x00
#define TDX_BLOB_CHECKSUM_OFF 0x02
#define TDX_BLOB_V1_OFFSET_OF_MODULE_OFF 0x04
#define TDX_BLOB_V1_MAGIC_OFF 0x08
#define TDX_BLOB_V1_LENGTH_OFF 0x10
#define TDX_BLOB_V1_RESERVED_OFF 0x14
/* v2 header fields */
#define TDX_BLOB_V2_MAGIC_OFF 0x04
#define TDX_BLOB_V2_SIG_PAGES_OFF 0x0c
#define TDX_BLOB_V2_MODULE_PAGES_OFF 0x10
#define TDX_BLOB_V2_RESERVED_OFF 0x14
/* Kernel limits (seamldr.c SEAMLDR_MAX_NR_SIG_PAGES / SEAMLDR_MAX_NR_MODULE_PAGES): the
 * SEAMLDR_PARAMS page lists. */
#define TDX_BLOB_MAX_SIG_PAGES 4
#define TDX_BLOB_MAX_MODULE_PAGES 496
/* Our resource limit on any blob handed to the parser (Intel's are 412-592 KiB). */
#define TDX_BLOB_MAX_SIZE (16u * 1024 * 1024)

/* SEAM_SIGSTRUCT */
#define TDX_SIGSTRUCT_OFF 0x1000 /* in both versions */
#define TDX_SIGSTRUCT_SIZE 2048
#define TDX_SIGSTRUCT_HEADER_TYPE_OFF 0
#define TDX_SIGSTRUCT_HEADER_LENGTH_OFF 4
#define TDX_SIGSTRUCT_HEADER_VERSION_OFF 8
#define TDX_SIGSTRUCT_MODULE_TYPE_OFF 12
#define TDX_SIGSTRUCT_MODULE_VENDOR_OFF 16
#define TDX_SIGSTRUCT_DATE_OFF 20
#define TDX_SIGSTRUCT_SIZE_OFF 24
#define TDX_SIGSTRUCT_KEY_SIZE_OFF 28
#define TDX_SIGSTRUCT_MODULUS_SIZE_OFF 32
#define TDX_SIGSTRUCT_EXPONENT_SIZE_OFF 36
#define TDX_SIGSTRUCT_MODULUS_OFF 128
#define TDX_SIGSTRUCT_EXPONENT_OFF 512
#define TDX_SIGSTRUCT_SIGNATURE_OFF 516
#define TDX_SIGSTRUCT_SEAMHASH_OFF 900
#define TDX_SIGSTRUCT_SEAMSVN_OFF 948
#define TDX_SIGSTRUCT_ATTRIBUTES_OFF 950
#define TDX_SIGSTRUCT_MODULE_HV_OFF 984
#define TDX_SIGSTRUCT_MIN_UPDATE_HV_OFF 986
#define TDX_SIGSTRUCT_NO_DOWNGRADE_OFF 988
#define TDX_SIGSTRUCT_CPUID_COUNT_OFF 1024
#define TDX_SIGSTRUCT_CPUID_TABLE_OFF 1028
#define TDX_SIGSTRUCT_MAX_CPUID 255 /* (2048 - 1028) / 4 */
/* Values P-SEAMLDR requires (seam_sigstruct.h) */
#define TDX_SIGSTRUCT_HEADER_TYPE 0x6
#define TDX_SIGSTRUCT_HEADER_LENGTH 0xe1
#define TDX_SIGSTRUCT_HEADER_VERSION 0x10000
#define TDX_SIGSTRUCT_VENDOR_INTEL 0x8086
#define TDX_SIGSTRUCT_SIZE_DWORDS 0x200
#define TDX_SIGSTRUCT_KEY_SIZE_DWORDS 0x60
#define TDX_SIGSTRUCT_EXPONENT_SIZE_DWORDS 0x1
#define TDX_SIGSTRUCT_TYPE_DEBUG (1u << 31)
#define TDX_SEAMHASH_SIZE 48

struct tdx_sigstruct {
	uint32_t module_type;
	bool debug; /* module_type bit 31: debug-signed */
	uint32_t date;
	uint8_t seamhash[TDX_SEAMHASH_SIZE];
	uint16_t seamsvn; /* byte 0 minor SVN, byte 1 major SVN */
	uint64_t attributes;
	uint16_t module_hv;     /* hand-off version the module produces */
	uint16_t min_update_hv; /* oldest hand-off version it consumes */
	bool no_downgrade;
	uint32_t cpuid_count;
	uint32_t cpuid[TDX_SIGSTRUCT_MAX_CPUID]; /* CPUID.1.EAX values, cpuid_count of them */
};

/* A parsed blob: offsets into the caller's buffer (borrowed, not copied). */
struct tdx_blob {
	uint16_t version; /* TDX_BLOB_V1 or TDX_BLOB_V2 */
	uint16_t checksum;
	size_t size;
	size_t sigstruct_off; /* 0x1000 */
	size_t sigstruct_len; /* the sigstruct region: v1 offset_of_module - 4 KiB, v2 pages */
	size_t module_off;
	size_t module_len;
	struct tdx_sigstruct sig;
};

/* The 16-bit sum of the little-endian words of data (an odd last byte counts as its value),
 * carries dropped: 0 for an intact blob. */
uint16_t tdx_blob_sum16(const uint8_t *data, size_t size);

/* Parse and check a v1 or v2 blob: header, sizes, reserved bytes, checksum (-EBADMSG), the
 * sigstruct. Does not hash the module (tdx_blob_verify does). */
int tdx_blob_parse(const uint8_t *data, size_t size, struct tdx_blob *ret, char *err,
		   size_t errlen);

/* The 2048-byte SEAM_SIGSTRUCT at p (len >= 2048): the fixed header values P-SEAMLDR requires
 * and a CPUID table that fits. */
int tdx_sigstruct_parse(const uint8_t *p, size_t len, struct tdx_sigstruct *ret, char *err,
			size_t errlen);

/* MRSEAM = SHA-384(module); -EBADMSG unless it equals the sigstruct's seamhash. */
int tdx_blob_verify(const uint8_t *data, const struct tdx_blob *b,
		    uint8_t ret_mrseam[TDX_SEAMHASH_SIZE], char *err, size_t errlen);

/* The sigstruct lists this CPU: CPUID.1.EAX compared without the stepping (bits 3:0). */
bool tdx_sigstruct_supports_cpu(const struct tdx_sigstruct *s, uint32_t cpuid_1_eax);

/* The v2 image of a parsed v1 or v2 blob (a copy for v2): same payload, new 4 KiB header with
 * the page counts and a recomputed checksum. -EINVAL when the sigstruct region or the module
 * is not whole pages or exceeds the kernel's page limits. *ret is malloc'd. */
int tdx_blob_to_v2(const uint8_t *data, const struct tdx_blob *b, uint8_t **ret,
		   size_t *ret_size, char *err, size_t errlen);
