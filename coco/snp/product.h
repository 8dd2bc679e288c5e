/* SEV-SNP products (CPU generations) and their TCB_VERSION byte layouts. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bergamo and Siena are Genoa-family parts: AMD's KDS serves them under "Genoa". */
enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
};

/* One TCB_VERSION, by component. fmc exists on Turin only (0 elsewhere). */
struct snp_tcb {
	uint8_t fmc;
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

/* "Milan", "Genoa", "Turin" (KDS spelling); NULL for SNP_PRODUCT_UNKNOWN. */
const char *snp_product_name(enum snp_product p);
/* Case-insensitive; "Bergamo"/"Siena" give Genoa. -EINVAL for anything else. */
int snp_product_from_name(const char *name, enum snp_product *ret);
/* The product of a CPUID Fn0000_0001_EAX signature (family 19h models 0h-Fh Milan,
 * 10h-1Fh/A0h-AFh Genoa/Bergamo/Siena; family 1Ah models 0h-1Fh Turin); UNKNOWN otherwise. */
enum snp_product snp_product_from_cpuid(uint32_t eax);

/* TCB_VERSION u64 <-> components. SNP ABI 1.57 TCB_VERSION: Milan/Genoa: byte 0 BOOT_LOADER,
 * 1 TEE, 2-5 reserved, 6 SNP, 7 MICROCODE. Turin (SNP ABI 1.58 for family 1Ah): byte 0 FMC,
 * 1 BOOT_LOADER, 2 TEE, 3 SNP, 4-6 reserved, 7 MICROCODE. decode refuses (-EINVAL) nonzero
 * reserved bytes; encode refuses fmc != 0 on Milan/Genoa. */
int snp_tcb_encode(enum snp_product p, const struct snp_tcb *t, uint64_t *ret);
int snp_tcb_decode(enum snp_product p, uint64_t v, struct snp_tcb *ret);

/* A URL from an operator's template (the CSP VLEK interface, snp_vlek_url): {product}
 * (Milan/Genoa/Turin), {tcb} (the reported TCB, 16 hex digits), {blSPL} {teeSPL} {snpSPL} {ucodeSPL} {fmcSPL} (decimal; fmcSPL
 * only on Turin). -EINVAL: an unknown or unterminated placeholder, {fmcSPL} off Turin, a TCB
 * whose reserved bytes are set, or no http(s) URL; -ENAMETOOLONG. */
int snp_tcb_url_expand(const char *tmpl, enum snp_product product, uint64_t tcb, char *ret,
		       size_t retlen);
