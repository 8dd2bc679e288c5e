/* The AMD certificate checks (SEV-SNP): what cocod applies to everything it takes from AMD's KDS
 * before caching or serving it, and what attest/ uses to verify reports. AMD's layout of the
 * chain ARK (self-signed RSA-4096) -> ASK (or ASVK for VLEKs) -> VCEK/VLEK (ECDSA P-384 key),
 * every signature RSA-PSS SHA-384, MGF1 SHA-384, salt 48, and the VCEK extensions come from
 * AMD's "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification"
 * (57230) and "VLEK Certificate and KDS Interface Specification" (57229).
 * Pure: no I/O, no logging. Every function returns 0 or a negative errno and writes the reason,
 * naming the failed check, into err (errlen bytes; err may be NULL); outputs are untouched on
 * failure. X509 / X509_CRL outputs are new references the caller frees. */
#pragma once
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "coco/snp/product.h"

#define AMD_CERT_MAX_SIZE (64u * 1024) /* one certificate or a chain, DER or PEM */
#define AMD_CRL_MAX_SIZE (1u << 20)    /* AMD's CRLs are a few KiB */
#define AMD_FINGERPRINT_SIZE 32	       /* SHA-256 of the DER */
#define AMD_HWID_MAX 64

/* One certificate: DER, or exactly one PEM "CERTIFICATE" block with only whitespace around.
 * -EBADMSG: not that, trailing bytes, or over AMD_CERT_MAX_SIZE. */
int amd_cert_parse(const uint8_t *buf, size_t len, X509 **ret, char *err, size_t errlen);
/* KDS cert_chain (PEM): exactly two certificates, the ASK (or ASVK) then the ARK, only
 * whitespace around them. The order is checked here by name only (ARK self-issued, the first
 * issued by it); signatures are amd_chain_verify's job. */
int amd_cert_chain_parse(const uint8_t *pem, size_t len, X509 **ret_ask, X509 **ret_ark, char *err,
			 size_t errlen);
/* A DER CRL (KDS /crl), no trailing bytes. */
int amd_crl_parse(const uint8_t *der, size_t len, X509_CRL **ret, char *err, size_t errlen);

int amd_cert_fingerprint(const X509 *cert, uint8_t ret[AMD_FINGERPRINT_SIZE]);
/* The product whose real AMD ARK this is (SHA-256 of the DER against the pinned constants),
 * SNP_PRODUCT_UNKNOWN for any other certificate. */
enum snp_product amd_ark_pinned_product(const X509 *ark);

/* The ARK is AMD's pinned root of product, or byte-equal to one of trusted[n_trusted].
 * -EKEYREJECTED naming which it is not (the self-signature is not checked here). */
int amd_ark_trusted(enum snp_product product, const X509 *ark, X509 *const *trusted,
		    size_t n_trusted, char *err, size_t errlen);

/* Verify ARK -> ASK/ASVK [-> VCEK/VLEK] (vek may be NULL: a bare KDS cert_chain) for product:
 * the ARK is AMD's pinned root of that product, or byte-equal to one of trusted[n_trusted]
 * (operator-trusted roots such as the emulated platform's ARK); the ARK is self-signed; every
 * signature is RSA-PSS with SHA-384, MGF1 SHA-384, salt 48, trailer 1 (checked explicitly, in
 * the outer and the signed algorithm identifier), the VEK key is ECDSA P-384, every
 * certificate is valid at now, issuer names chain. No X509_V_FLAG_X509_STRICT: AMD's VCEKs
 * have no authority key identifier. -EBADMSG / -EKEYREJECTED with the failing check in err:
 * "ARK: not a pinned AMD root...", "ASK: signature...", "VCEK: not yet valid", ... */
int amd_chain_verify(enum snp_product product, X509 *ark, X509 *ask, X509 *vek,
		     X509 *const *trusted, size_t n_trusted, time_t now, char *err, size_t errlen);

/* The VCEK/VLEK extensions (57230 table 8, 57229): OIDs 1.3.6.1.4.1.3704.1.x. */
struct amd_vek_ext {
	uint32_t struct_version;    /* .1.1 */
	char product_name[32];	    /* .1.2, e.g. "Milan-B0", "Genoa", "Turin" */
	bool has_fmc;		    /* .1.3.9 present (Turin) */
	struct snp_tcb tcb;	    /* .1.3.1 blSPL, .3.2 teeSPL, .3.3 snpSPL, .3.8 ucodeSPL,
				     * .3.9 fmcSPL */
	uint8_t hwid[AMD_HWID_MAX]; /* .1.4, raw: 64 bytes, Turin 8; VCEK only */
	size_t hwid_len;
	bool vlek; /* .1.5 csp_id present (and no hwID) */
	char csp_id[64];
};
/* -EBADMSG: a required extension missing or repeated, an SPL not an INTEGER in 0..255, a
 * product name or csp_id not an IA5String/UTF8String of printable characters, a hwID not
 * 8 or 64 bytes, both or neither of hwID and csp_id. */
int amd_vek_ext_parse(const X509 *vek, struct amd_vek_ext *ret, char *err, size_t errlen);
/* "This VEK is for (product, chip, TCB)": productName is the product's KDS name (optionally
 * followed by "-<stepping>"); for a VCEK hwID equals chip_id's first 64 bytes (Turin: 8; chip_id
 * may be NULL only for a VLEK); each SPL equals tcb's component, fmcSPL present exactly on
 * Turin. -EKEYREJECTED naming the first mismatch with both values. */
int amd_vek_check(const struct amd_vek_ext *ext, enum snp_product product, const uint8_t *chip_id,
		  const struct snp_tcb *tcb, char *err, size_t errlen);

/* Clock skew tolerated for a CRL's thisUpdate (seconds). */
#define AMD_CLOCK_SKEW_S 300

/* The ARK's CRL: RSA-PSS parameters as above, issuer is the ARK, signature verifies with the
 * ARK's key, thisUpdate <= now + AMD_CLOCK_SKEW_S, now < nextUpdate (nextUpdate required), and none of certs[n] (ASK,
 * ASVK, VCEK, VLEK: by serial) is listed. -EBADMSG / -EKEYREJECTED naming the check;
 * a revoked certificate's error names its subject CN and serial. */
int amd_crl_check(X509_CRL *crl, X509 *ark, X509 *const *certs, size_t n, time_t now, char *err,
		  size_t errlen);
