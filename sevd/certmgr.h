/* sevd/certmgr.h: the certificate table a guest's extended report request gets, made from the
 * persistent cache and, for what the cache lacks, from AMD's KDS.
 *
 * Every certificate is validated before it is stored and again before it is served: the
 * chain ARK -> ASK|ASVK -> VCEK|VLEK verifies (pinned AMD roots, or roots the operator
 * trusts), the VCEK's hwID and TCB extensions equal the chip and the reported TCB, and with
 * a CRL, nothing in the chain is revoked. A certificate that fails is never stored, and a
 * cached one that stops verifying (expired, revoked) is not served.
 *
 * Thread-safe as far as its inputs are (the store is): builds run on worker threads. */
#pragma once
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/product.h"
#include "coco/store.h"
#include "sevd/kds.h"

/* Where missing certificates come from: AMD's KDS (kds_fetch), or the emulated platform's. The
 * url is the full KDS URL (base_url + path). Same contract as kds_fetch. */
struct certmgr_fetcher {
	int (*fetch)(void *ud, const char *url, kds_validate_fn validate, void *vud,
		     uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen);
	void *ud;
	const char *base_url;
	enum coco_cert_source source; /* recorded with what it returns */
};

struct certmgr_params {
	struct coco_store *store;
	const struct certmgr_fetcher *fetcher; /* NULL: cache only */
	X509 *const *trusted;                  /* extra roots (e.g. the emulated ARK) */
	size_t n_trusted;
	bool include_crl; /* put the ARK's CRL in the table (VCEK chain only) */
	/* The cloud provider's VLEK for a TCB (AMD's authenticated CSP interface, or the emulated
	 * platform's), DER; NULL: VLEKs only from import/configuration. Validated like any VEK. */
	int (*vlek_fetch)(void *ud, uint64_t tcb, uint8_t **ret_der, size_t *ret_len, char *err,
			  size_t errlen);
	void *vlek_ud;
	enum coco_cert_source vlek_source;
};

struct certmgr_platform {
	enum snp_product product;
	bool chip_id_known; /* SEV_GET_ID2 worked (not with MASK_CHIP_ID) */
	uint8_t chip_id[64];
	uint64_t reported_tcb;
	bool vlek; /* a VLEK is loaded: the VLEK chain */
};

enum certmgr_mode {
	CERTMGR_CACHE_ONLY,    /* no network: what the cache has */
	CERTMGR_FETCH_MISSING, /* fetch what the cache lacks (or holds expired) */
	CERTMGR_FETCH_ALL,     /* fetch everything again (refresh) */
	/* As FETCH_MISSING, but what expires (or whose CRL's nextUpdate passes) within
	 * CERTMGR_AHEAD_S counts as missing: the refresh before an expiry. */
	CERTMGR_FETCH_EXPIRING,
};
#define CERTMGR_AHEAD_S (24 * 3600)

struct certmgr_table {
	uint8_t *blob; /* the GHCB certificate table; NULL when nothing could be assembled */
	size_t len;
	bool vlek;
	unsigned n_entries;
	unsigned fetched; /* certificates fetched (and stored) by this build */
	/* The CRL revokes part of the chain: the VEK (ASK and ARK still served) or the ASK (no
	 * blob). A table served before must be replaced even though this one is incomplete. */
	bool revoked;
	/* The earliest notAfter of the served certificates and nextUpdate of the CRL (Unix
	 * seconds), 0 when nothing was assembled: when the table must be refreshed. */
	int64_t expires_at;
	/* What could not be had, one line per item ("VCEK: KDS 404 ..."); "" when complete. */
	char missing[1024];
};

/* Build the table for plat. Returns 0 when a complete chain was assembled (ret->missing empty),
 * -ENOENT when something is missing (ret->missing says what, and ret->blob holds what could
 * be assembled when at least ARK and ASK were there: a guest then still gets the chain), or
 * another negative errno (ret zeroed) on internal failure. */
int certmgr_build(const struct certmgr_params *p, const struct certmgr_platform *plat,
		  enum certmgr_mode mode, struct certmgr_table *ret, char *err, size_t errlen);
void certmgr_table_clear(struct certmgr_table *t);

/* The store key of a platform's VEK (VCEK: hwid = CHIP_ID hex, Turin its first 8 bytes). */
int certmgr_vek_key(const struct certmgr_platform *plat, struct coco_cert_key *ret);

/* Validate and store certificates given by an operator (offline import). kind picks the
 * check: ARK (pinned or trusted root), ASK/ASVK (signed by the cached or given ARK), VCEK/VLEK
 * (chain verifies with the cached ASK/ASVK and ARK; VCEK: hwid and TCB from the certificate's
 * own extensions form the key), CRL (signed by the ARK). ret_key says where it went. */
int certmgr_import(const struct certmgr_params *p, enum snp_product product,
		   enum coco_cert_kind kind, const uint8_t *buf, size_t len,
		   struct coco_cert_key *ret_key, char *err, size_t errlen);

/* The hashstick a VLEK load gets (SNP ABI SNP_VLEK_LOAD, WRAPPED_VLEK_HASHSTICK): 432 bytes,
 * IV 0x000 (12), reserved 0x00C (4), wrapped key 0x010 (384), TCB_VERSION 0x190 (8), reserved
 * 0x198 (8), tag 0x1A0 (16). Checks what the host can: the size, zero reserved bytes, and a
 * TCB whose reserved bytes are zero for the product. -EINVAL with a reason. */
#define CERTMGR_HASHSTICK_SIZE 432
#define CERTMGR_HASHSTICK_TCB_OFF 0x190
int certmgr_hashstick_check(const uint8_t *buf, size_t len, enum snp_product product,
			    uint64_t *ret_tcb, char *err, size_t errlen);
