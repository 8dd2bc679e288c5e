/* hv/emul/amdpki_int.h: shared inside the emulated AMD PKI (amdpki.c, amdpki_x509.c, kds.c);
 * not an interface. */
#pragma once
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <time.h>

#include "hv/emul/amdpki.h"

/* AMD's private arc 1.3.6.1.4.1.3704.1 (the VCEK/VLEK extensions). */
#define EMUL_OID_STRUCT_VERSION "1.3.6.1.4.1.3704.1.1"
#define EMUL_OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define EMUL_OID_TCB "1.3.6.1.4.1.3704.1.3" /* .1 bl .2 tee .3 snp .4-.7 spl .8 ucode .9 fmc */
#define EMUL_OID_HWID "1.3.6.1.4.1.3704.1.4"
#define EMUL_OID_CSP_ID "1.3.6.1.4.1.3704.1.5"
#define EMUL_AMD_CSP_ID "cocod-emulated-csp"

enum emul_amd_ca { EMUL_AMD_ARK, EMUL_AMD_ASK, EMUL_AMD_ASVK };

struct emul_amd_revoked {
	uint64_t serial;
	time_t when;
};

const char *emul_amd_product_lower(enum snp_product p);
int emul_amd_name(const char *cn, X509_NAME **ret);
int emul_amd_sign_ctx(EVP_PKEY *key, EVP_MD_CTX **ret);
/* ARK (self-signed: ark/ark_key unused), ASK or ASVK (signed by ark_key). */
int emul_amd_ca_cert(enum snp_product p, enum emul_amd_ca which, EVP_PKEY *key, X509 *ark,
		     EVP_PKEY *ark_key, time_t nb, X509 **ret);
/* VCEK (hwid, hwid_len) or VLEK (vlek true, hwid unused) for tcb, signed by issuer_key. */
int emul_amd_ek_cert(enum snp_product p, bool vlek, const uint8_t *hwid, size_t hwid_len,
		     uint64_t tcb, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, time_t nb,
		     X509 **ret);
int emul_amd_build_crl(X509 *ark, EVP_PKEY *ark_key, const struct emul_amd_revoked *rev,
		       size_t n_rev, uint64_t number, time_t now, X509_CRL **ret);
int emul_amd_ec_key_from_scalar(const BIGNUM *d, EVP_PKEY **ret);
