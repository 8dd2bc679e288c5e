/* attest/snp_verify.h: verify an SEV-SNP attestation report against AMD's certificate chain
 * (or an operator-trusted root such as the emulated platform's) and an optional policy. Every
 * check is named in the result (attest/check.h):
 *   report.format         layout, version, reserved bytes (attest/snp_report.h)
 *   report.signature_algo SIGNATURE_ALGO = 1 (ECDSA P-384 with SHA-384)
 *   report.policy_reserved POLICY bit 17 = 1
 *   product               explicit, else the report's CPUID (v3+), else the VEK's productName,
 *                         else the pinned ARK's product
 *   vek.extensions        the VCEK/VLEK extensions parse (coco/snp/amdcert.h)
 *   report.signing_key    KEY_INFO.SIGNING_KEY matches the certificate type (VCEK 0, VLEK 1)
 *   chain.ark chain.ask chain.vek   ARK pinned or trusted and self-signed, ARK -> ASK/ASVK ->
 *                         VCEK/VLEK, RSA-PSS SHA-384; cached by fingerprints (snp_chain_cache)
 *   vek.product vek.hwid vek.tcb    productName, hwID == CHIP_ID (Turin: 8 bytes), SPLs ==
 *                         REPORTED_TCB in the product's layout
 *   report.signature      ECDSA P-384 over SHA-384 of the raw bytes 0x000..0x29F
 *   crl                   only with a CRL: signed by the ARK, current, ASK/VEK not revoked
 *   policy.*              only those asked for (the others are listed as skipped)
 * Pure apart from the cache's lock. */
#pragma once
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "attest/check.h"
#include "attest/snp_report.h"
#include "coco/snp/product.h"

/* Each has_* / value: the check runs only when set. */
struct snp_verify_policy {
	bool has_measurement;
	uint8_t measurement[48];
	bool has_host_data;
	uint8_t host_data[32];
	bool has_report_data;
	uint8_t report_data[64];
	bool has_min_tcb; /* each REPORTED_TCB component >= (fmc only on Turin) */
	struct snp_tcb min_tcb;
	bool forbid_debug;    /* POLICY.DEBUG must be 0 */
	bool forbid_smt;      /* POLICY.SMT must be 0 */
	bool forbid_migrate_ma; /* POLICY.MIGRATE_MA must be 0 */
	bool has_vmpl;
	uint32_t vmpl;
	bool has_id_key_digest;
	uint8_t id_key_digest[48];
	bool has_author_key_digest;
	uint8_t author_key_digest[48];
	bool has_min_abi; /* the firmware's CURRENT_MAJOR.MINOR >= */
	uint8_t min_abi_major, min_abi_minor;
};

struct snp_chain_cache;

struct snp_verify_input {
	const uint8_t *report; /* raw bytes, as received */
	size_t report_len;
	enum snp_product product; /* SNP_PRODUCT_UNKNOWN: find out (see "product" above) */
	X509 *ark, *ask, *vek;	  /* ask is the ASVK for a VLEK */
	X509 *const *trusted;	  /* operator-trusted roots besides AMD's pinned ones */
	size_t n_trusted;
	X509_CRL *crl; /* optional */
	time_t now;
	const struct snp_verify_policy *policy; /* optional */
	struct snp_chain_cache *cache;		/* optional */
};

/* Fills *ret (always: attest_ok() says whether everything passed). */
void snp_verify(const struct snp_verify_input *in, struct attest_result *ret);

/* Chain results keyed by SHA-256 over (product, ARK, ASK, VEK fingerprints, trusted roots'
 * fingerprints): a hit means this exact chain verified before under the same trust, and is
 * honoured only inside the chain's common validity window. Thread-safe; at most capacity
 * entries, least recently used evicted. Failures are never cached. */
struct snp_chain_cache *snp_chain_cache_new(size_t capacity);
void snp_chain_cache_free(struct snp_chain_cache *c);
void snp_chain_cache_stats(struct snp_chain_cache *c, uint64_t *ret_hits, uint64_t *ret_misses,
			   size_t *ret_entries);
