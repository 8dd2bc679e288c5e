/* The SEV-SNP launch digest as the firmware computes it during SNP_LAUNCH_UPDATE
 * (SEV-SNP ABI 1.55, section 8.17.2, table 67 PAGE_INFO): for every page,
 *   LD = SHA-384(PAGE_INFO), PAGE_INFO = LD || CONTENTS || LENGTH=0x70 || PAGE_TYPE || IMI_PAGE
 *        || VMPL3_PERMS || VMPL2_PERMS || VMPL1_PERMS || RSVD || GPA. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SNP_LD_SIZE 48
#define SNP_PAGE_SIZE 4096
#define SNP_PAGE_INFO_SIZE 0x70

/* SNP ABI table 67, PAGE_TYPE. */
enum snp_page_type {
	SNP_PAGE_NORMAL = 0x1,
	SNP_PAGE_VMSA = 0x2,
	SNP_PAGE_ZERO = 0x3,
	SNP_PAGE_UNMEASURED = 0x4,
	SNP_PAGE_SECRETS = 0x5,
	SNP_PAGE_CPUID = 0x6,
};

struct snp_gctx {
	uint8_t ld[SNP_LD_SIZE];
};

void snp_gctx_init(struct snp_gctx *g, const uint8_t *seed /* NULL: zeros */);
/* Fold one page whose contents hash is given (48 bytes; NULL means zeros). */
void snp_gctx_update_page(struct snp_gctx *g, enum snp_page_type type, uint64_t gpa,
			  const uint8_t *contents_hash);
/* Measured pages: SHA-384 of each 4 KiB page of data (len a multiple of 4096). */
int snp_gctx_update_normal(struct snp_gctx *g, uint64_t gpa, const uint8_t *data, size_t len);
/* Same, with the per-page SHA-384s already computed (hashes: npages x 48 bytes). */
void snp_gctx_update_normal_hashed(struct snp_gctx *g, uint64_t gpa, const uint8_t *hashes,
				   size_t npages);
/* Pages of one type whose contents are not hashed (zero, unmeasured, secrets, CPUID). */
void snp_gctx_update_typed(struct snp_gctx *g, enum snp_page_type type, uint64_t gpa, size_t len);
void snp_gctx_update_vmsa(struct snp_gctx *g, uint64_t gpa, const uint8_t page[SNP_PAGE_SIZE]);
/* SHA-384 of n pages, in parallel on up to `threads` threads (0: all online CPUs). */
int snp_hash_pages(const uint8_t *data, size_t npages, uint8_t *out_hashes, unsigned threads);
