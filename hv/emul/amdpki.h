/* hv/emul/amdpki.h: the emulated AMD key infrastructure: an ARK (RSA-4096, self-signed), ASK
 * and ASVK (RSA-4096, signed by the ARK), per-chip VCEKs and VLEKs (ECDSA P-384, signed by the
 * ASK / ASVK), all RSA-PSS SHA-384 with AMD's subject names and VCEK extensions
 * (1.3.6.1.4.1.3704.1.x), generated once per state directory and stable across restarts. It
 * plays AMD's KDS too (emul_kds_get), and wraps/unwraps VLEK hashsticks under the emulator's
 * wrapping key (what AMD does for a cloud provider / what the firmware undoes at
 * SNP_VLEK_LOAD). Nothing here is trusted by a verifier unless the operator says so. */
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/product.h"

struct emul_amd_pki;

/* Load <dir>/emul-amd-<product>/ (product in lower case: milan, genoa, turin) or create it:
 * ark/ask/asvk .pem + .key (PKCS#8, 0600), derive.secret (48 bytes) and vlek-wrap.key (32),
 * all staged in a private temporary directory, fsynced and renamed into place at once, so a
 * crash leaves either the whole set or none, and two racing creators agree on one set.
 * -EINVAL: unknown product or a damaged set (keys not matching their certificates, a set of
 * another product, wrong secret sizes); -ENOENT: a file of the set missing; -EPERM: a key file
 * readable by group or others. */
int emul_amd_pki_open(const char *dir, enum snp_product product, struct emul_amd_pki **ret);
void emul_amd_pki_free(struct emul_amd_pki *pki);
enum snp_product emul_amd_pki_product(const struct emul_amd_pki *pki);
/* Bytes of CHIP_ID that make up the KDS hwID: 64, Turin 8. 0 for an unknown product. */
size_t emul_amd_hwid_len(enum snp_product product);

/* Borrowed references, valid while pki lives. */
X509 *emul_amd_pki_ark(struct emul_amd_pki *pki);
X509 *emul_amd_pki_ask(struct emul_amd_pki *pki);
X509 *emul_amd_pki_asvk(struct emul_amd_pki *pki);

/* The VCEK for (chip id, reported TCB), thread-safe like the rest of this interface: key derived
 * (HKDF-SHA-384) from a per-PKI secret, the hwid and the TCB (as the real VCEK derives from the
 * chip secret and the TCB); hwid = chip id, Turin its first 8 bytes only, so that KDS, which
 * knows only the hwid, issues the same key; certificate signed by the ASK with hwID = hwid and
 * the TCB extensions in the product's layout. New references: the caller frees. */
int emul_amd_pki_vcek(struct emul_amd_pki *pki, const uint8_t chip_id[64], uint64_t tcb,
		      EVP_PKEY **ret_key, X509 **ret_cert);
/* Either out-parameter of _vcek/_vlek may be NULL. -EINVAL: the TCB has nonzero reserved
 * bytes for this product (snp_tcb_decode). Certificates are cached in memory (bounded); the
 * keys are the same after a restart, the certificates re-signed (same fields). */

/* The VLEK of a cloud provider for a TCB: certificate signed by the ASVK. */
int emul_amd_pki_vlek(struct emul_amd_pki *pki, uint64_t tcb, EVP_PKEY **ret_key,
		      X509 **ret_cert);
/* Wrap that VLEK's private key for SNP_VLEK_LOAD: the 432-byte wrapped hashstick. */
#define EMUL_VLEK_HASHSTICK_SIZE 432
int emul_amd_pki_wrap_vlek(struct emul_amd_pki *pki, uint64_t tcb,
			   uint8_t ret[EMUL_VLEK_HASHSTICK_SIZE]);
/* Unwrap (firmware side): checks the layout and the authentication tag; returns the TCB it
 * was issued for and the private key. -EBADMSG: tampered or not ours; -EINVAL: bad layout. */
int emul_amd_pki_unwrap_vlek(struct emul_amd_pki *pki,
			     const uint8_t hashstick[EMUL_VLEK_HASHSTICK_SIZE], uint64_t *ret_tcb,
			     EVP_PKEY **ret_key);

/* Test knob: the ARK revokes the certificate with this serial (ASK 0x10001 / 0x20002 /
 * 0x30001, ASVK 0x<gen>0101, as AMD's); both CRLs list it from then on (in memory, at most
 * 1024 entries; -ENOSPC beyond). */
int emul_amd_pki_revoke(struct emul_amd_pki *pki, uint64_t serial);
/* The ARK's CRL for the VCEK (vlek false) or VLEK chain: v2, signed RSA-PSS SHA-384 like the
 * certificates, thisUpdate now, nextUpdate a week later. New reference. */
int emul_amd_pki_crl(struct emul_amd_pki *pki, bool vlek, X509_CRL **ret);

/* AMD's KDS, emulated: `path` as KDS takes it after the base URL, with query, e.g.
 * "/vcek/v1/Genoa/<hwid hex>?blSPL=3&teeSPL=0&snpSPL=20&ucodeSPL=209",
 * "/vcek/v1/Genoa/cert_chain", "/vlek/v1/Genoa/cert_chain", "/vcek/v1/Genoa/crl".
 * Returns 0 with an HTTP status (200, 400, 404) and a body (DER for VCEK, PEM for chains, DER
 * CRL) that the caller frees; negative errno only for internal failures. Errors carry a
 * one-line text/plain body. 400: unknown product name, hwid of the wrong length or not hex,
 * an SPL missing, repeated, unknown, not decimal or above 255, fmcSPL off Turin, a query on
 * cert_chain/crl. 404: any other path, a product other than this PKI's, and VLEKs by hwid:
 * AMD hands VLEKs to cloud providers only (wrapped, through its authenticated CSP
 * interface), so the public KDS has no /vlek/v1/{product}/{hwid}. */
int emul_kds_get(struct emul_amd_pki *pki, const char *path, int *ret_http_status,
		 uint8_t **ret_body, size_t *ret_len, const char **ret_content_type);
