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
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/product.h"

struct emul_amd_pki;

/* Load <dir>/emul-amd-<product>/ or create it (keys 0600, certificates). */
int emul_amd_pki_open(const char *dir, enum snp_product product, struct emul_amd_pki **ret);
void emul_amd_pki_free(struct emul_amd_pki *pki);

/* Borrowed references, valid while pki lives. */
X509 *emul_amd_pki_ark(struct emul_amd_pki *pki);
X509 *emul_amd_pki_ask(struct emul_amd_pki *pki);
X509 *emul_amd_pki_asvk(struct emul_amd_pki *pki);

/* The VCEK for (chip id, reported TCB): key derived deterministically from a per-PKI secret,
 * the chip id and the TCB (as the real VCEK derives from chip secret + TCB); certificate
 * signed by the ASK with hwID = chip id (Turin: first 8 bytes) and the TCB extensions in the
 * product's layout. New references: the caller frees. */
int emul_amd_pki_vcek(struct emul_amd_pki *pki, const uint8_t chip_id[64], uint64_t tcb,
		      EVP_PKEY **ret_key, X509 **ret_cert);

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

/* AMD's KDS, emulated: `path` as KDS takes it after the base URL, with query, e.g.
 * "/vcek/v1/Genoa/<hwid hex>?blSPL=3&teeSPL=0&snpSPL=20&ucodeSPL=209",
 * "/vcek/v1/Genoa/cert_chain", "/vlek/v1/Genoa/cert_chain", "/vcek/v1/Genoa/crl".
 * Returns 0 with an HTTP status (200, 400, 404) and a body (DER for VCEK, PEM for chains, DER
 * CRL) that the caller frees; negative errno only for internal failures. */
int emul_kds_get(struct emul_amd_pki *pki, const char *path, int *ret_http_status,
		 uint8_t **ret_body, size_t *ret_len, const char **ret_content_type);
