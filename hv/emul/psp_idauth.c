/* The emulated firmware's ECDSA P-384 (SNP ABI "ECDSA Signature Format" and "ECDSA Public Key
 * Format": 72-byte little-endian integers, the low 48 bytes used) and its check of the ID
 * authentication information at SNP_LAUNCH_FINISH. Written apart from coco/snp/idblock.c so the
 * two cross-check each other. The inputs come from a VMM, so every field is bounds-checked. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/emul/psp_priv.h"
#include "hv/uapi/sev_compat.h"

#define ECDSA_COORD 72 /* field width */
#define P384_BYTES 48
#define ECDSA_SIG_R_OFF 0x00
#define ECDSA_SIG_S_OFF 0x48
#define ECDSA_SIG_SIZE 0x200
#define ECDSA_PUB_CURVE_OFF 0x00
#define ECDSA_PUB_QX_OFF 0x04
#define ECDSA_PUB_QY_OFF 0x4c
#define ECDSA_PUB_SIZE 0x404
#define ECC_CURVE_P384 2
#define SIG_ALGO_ECDSA_P384_SHA384 1

/* SNP ABI "ID Authentication Information Structure" offsets. */
#define ID_AUTH_ID_KEY_ALGO 0x000
#define ID_AUTH_AUTH_KEY_ALGO 0x004
#define ID_AUTH_ID_BLOCK_SIG 0x040
#define ID_AUTH_ID_KEY 0x240
#define ID_AUTH_ID_KEY_SIG 0x680
#define ID_AUTH_AUTHOR_KEY 0x880
#define ID_BLOCK_SIZE 0x60
#define ID_AUTH_SIZE 0x1000

/* A 72-byte little-endian field whose value fits in 48 bytes, as 48 big-endian bytes. */
static bool coord_to_be48(const uint8_t *le72, uint8_t be[P384_BYTES])
{
	for (size_t i = P384_BYTES; i < ECDSA_COORD; i++)
		if (le72[i])
			return false;
	for (size_t i = 0; i < P384_BYTES; i++)
		be[i] = le72[P384_BYTES - 1 - i];
	return true;
}

int psp_ecdsa_pubkey_decode(const uint8_t pub[ECDSA_PUB_SIZE], EVP_PKEY **ret)
{
	uint8_t point[1 + 2 * P384_BYTES];
	EVP_PKEY *key = NULL;
	int r = -EINVAL;

	if (get_le32(pub + ECDSA_PUB_CURVE_OFF) != ECC_CURVE_P384)
		return -EINVAL;
	point[0] = POINT_CONVERSION_UNCOMPRESSED;
	if (!coord_to_be48(pub + ECDSA_PUB_QX_OFF, point + 1) ||
	    !coord_to_be48(pub + ECDSA_PUB_QY_OFF, point + 1 + P384_BYTES))
		return -EINVAL;

	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY_CTX *check = NULL;
	if (!bld || !ctx ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld))) {
		r = -ENOMEM;
		goto out;
	}
	/* fromdata decodes the point; the public check proves it lies on the curve. */
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!check || EVP_PKEY_public_check(check) <= 0)
		goto out;
	*ret = key;
	key = NULL;
	r = 0;
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_free(key);
	return r;
}

/* 0 if sig (SNP ABI format) is key's ECDSA P-384/SHA-384 signature of msg; -EBADMSG if not. */
int psp_ecdsa_sig_verify(EVP_PKEY *key, const uint8_t sig[ECDSA_SIG_SIZE], const uint8_t *msg,
			 size_t len)
{
	uint8_t rb[P384_BYTES], sb[P384_BYTES];
	unsigned char *der = NULL;
	int r = -EBADMSG;

	if (!coord_to_be48(sig + ECDSA_SIG_R_OFF, rb) || !coord_to_be48(sig + ECDSA_SIG_S_OFF, sb))
		return -EBADMSG;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(rb, sizeof(rb), NULL), *bs = BN_bin2bn(sb, sizeof(sb), NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!es || !br || !bs || !md || !ECDSA_SIG_set0(es, br, bs)) {
		BN_free(br);
		BN_free(bs);
		r = -ENOMEM;
		goto out;
	}
	int dlen = i2d_ECDSA_SIG(es, &der);
	if (dlen <= 0) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)dlen, msg, len) == 1)
		r = 0;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(es);
	return r;
}

int psp_ecdsa_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t ret_sig[ECDSA_SIG_SIZE])
{
	uint8_t der[256];
	size_t dlen = sizeof(der);
	const BIGNUM *br, *bs;
	int r = -EIO;

	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	if (EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &dlen, msg, len) != 1)
		goto out;
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!es)
		goto out;
	ECDSA_SIG_get0(es, &br, &bs);
	memset(ret_sig, 0, ECDSA_SIG_SIZE);
	if (BN_bn2lebinpad(br, ret_sig + ECDSA_SIG_R_OFF, ECDSA_COORD) == ECDSA_COORD &&
	    BN_bn2lebinpad(bs, ret_sig + ECDSA_SIG_S_OFF, ECDSA_COORD) == ECDSA_COORD)
		r = 0;
	ECDSA_SIG_free(es);
out:
	EVP_MD_CTX_free(md);
	return r;
}

int psp_id_auth_check(const uint8_t id_block[ID_BLOCK_SIZE], const uint8_t id_auth[ID_AUTH_SIZE],
		      bool author_key_en, uint8_t ret_id_key_digest[PSP_LD_SIZE],
		      uint8_t ret_author_key_digest[PSP_LD_SIZE])
{
	EVP_PKEY *id_key = NULL, *author_key = NULL;
	int r;

	if (get_le32(id_auth + ID_AUTH_ID_KEY_ALGO) != SIG_ALGO_ECDSA_P384_SHA384)
		return HV_SEV_RET_INVALID_PARAM;
	if (author_key_en && get_le32(id_auth + ID_AUTH_AUTH_KEY_ALGO) != SIG_ALGO_ECDSA_P384_SHA384)
		return HV_SEV_RET_INVALID_PARAM;

	r = psp_ecdsa_pubkey_decode(id_auth + ID_AUTH_ID_KEY, &id_key);
	if (r < 0)
		return r == -EINVAL ? HV_SEV_RET_INVALID_PARAM : r;
	/* ID_BLOCK_SIG: the ID key over the 0x60 ID block bytes. */
	r = psp_ecdsa_sig_verify(id_key, id_auth + ID_AUTH_ID_BLOCK_SIG, id_block, ID_BLOCK_SIZE);
	EVP_PKEY_free(id_key);
	if (r < 0)
		return r == -EBADMSG ? HV_SEV_RET_BAD_SIGNATURE : r;

	if (author_key_en) {
		r = psp_ecdsa_pubkey_decode(id_auth + ID_AUTH_AUTHOR_KEY, &author_key);
		if (r < 0)
			return r == -EINVAL ? HV_SEV_RET_INVALID_PARAM : r;
		/* ID_KEY_SIG: the author key over the 0x404-byte ID_KEY structure. */
		r = psp_ecdsa_sig_verify(author_key, id_auth + ID_AUTH_ID_KEY_SIG,
					 id_auth + ID_AUTH_ID_KEY, ECDSA_PUB_SIZE);
		EVP_PKEY_free(author_key);
		if (r < 0)
			return r == -EBADMSG ? HV_SEV_RET_BAD_SIGNATURE : r;
	}

	/* REPORT.ID_KEY_DIGEST / AUTHOR_KEY_DIGEST: SHA-384 of the whole key structures. */
	SHA384(id_auth + ID_AUTH_ID_KEY, ECDSA_PUB_SIZE, ret_id_key_digest);
	if (author_key_en)
		SHA384(id_auth + ID_AUTH_AUTHOR_KEY, ECDSA_PUB_SIZE, ret_author_key_digest);
	else
		memset(ret_author_key_digest, 0, PSP_LD_SIZE);
	return 0;
}
