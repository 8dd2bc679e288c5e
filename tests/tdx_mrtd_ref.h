/* An independent MRTD computation for tests (Intel TDX Module Base Architecture
 * Specification, "MRTD"): SHA-384 over 128-byte records, "MEM.PAGE.ADD" with the GPA at byte
 * 16 per added page, and per measured 256-byte chunk "MR.EXTEND" with its GPA, then the chunk.
 * Written apart from hv/emul/tdx_module.c on purpose: the tests compare the two. */
#pragma once
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline void tdx_ref_record(EVP_MD_CTX *c, const char *tag, uint64_t gpa)
{
	uint8_t r[128] = {0};
	memcpy(r, tag, strlen(tag));
	memcpy(r + 16, &gpa, 8); /* x86-64: little-endian */
	EVP_DigestUpdate(c, r, sizeof(r));
}

/* One page as KVM_TDX_INIT_MEM_REGION adds it: PAGE.ADD, then (measured) 16 MR.EXTENDs. */
static inline void tdx_ref_page(EVP_MD_CTX *c, uint64_t gpa, const uint8_t *page, bool measure)
{
	tdx_ref_record(c, "MEM.PAGE.ADD", gpa);
	for (uint64_t off = 0; measure && off < 4096; off += 256) {
		tdx_ref_record(c, "MR.EXTEND", gpa + off);
		EVP_DigestUpdate(c, page + off, 256);
	}
}
