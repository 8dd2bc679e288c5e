/* The SEV kernel-hashes table that QEMU places in the firmware's SNP_KERNEL_HASHES page for
 * direct kernel boot, which OVMF checks before it runs the kernel (QEMU target/i386/sev.c,
 * OvmfPkg/AmdSev/BlobVerifierLibSevHashes). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/gctx.h"

#define SNP_HASH_TABLE_LEN 168	  /* header GUID, u16 length, three entries */
#define SNP_HASH_TABLE_PADDED 176 /* padded to 16 bytes */

struct snp_kernel_hashes {
	uint8_t cmdline[32]; /* SHA-256 of the command line with its NUL terminator */
	uint8_t initrd[32];  /* SHA-256 of the initrd (of nothing when there is none) */
	uint8_t kernel[32];  /* SHA-256 of the kernel image */
};

/* The padded table bytes. */
void snp_hash_table_build(const struct snp_kernel_hashes *h, uint8_t out[SNP_HASH_TABLE_PADDED]);
/* The 4 KiB page holding the table at the offset of gpa within its page; -EINVAL when the table
 * would cross the page end. */
int snp_hash_table_page(const struct snp_kernel_hashes *h, uint64_t gpa,
			uint8_t page[SNP_PAGE_SIZE]);
/* SHA-256 of cmdline + NUL (NULL or "" hash a lone NUL, as QEMU does). */
void snp_hash_cmdline(const char *cmdline, uint8_t out[32]);
