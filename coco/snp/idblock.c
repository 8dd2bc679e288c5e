/* SEV-SNP ID block and ID authentication information (layouts and sources in idblock.h). */
#include "coco/snp/idblock.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdarg.h>

#include "coco/endian.h"
#include "coco/util.h"

#define P384_BYTES 48 /* significant bytes of a P-384 coordinate, R or S */

__attribute__((format(printf, 4, 5))) static int fail(int r, char *err, size_t errlen,
						      const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	/* OpenSSL's error queue is per thread; leave nothing behind for unrelated callers. */
	ERR_clear_error();
	return r;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

void snp_id_block_build(const struct snp_id_block_fields *f, uint8_t out[SNP_ID_BLOCK_SIZE])
{
	memset(out, 0, SNP_ID_BLOCK_SIZE);
	memcpy(out + SNP_ID_BLOCK_LD_OFF, f->ld, SNP_LD_SIZE);
	memcpy(out + SNP_ID_BLOCK_FAMILY_ID_OFF, f->family_id, SNP_ID_SIZE);
	memcpy(out + SNP_ID_BLOCK_IMAGE_ID_OFF, f->image_id, SNP_ID_SIZE);
	put_le32(out + SNP_ID_BLOCK_VERSION_OFF, SNP_ID_BLOCK_VERSION);
	put_le32(out + SNP_ID_BLOCK_GUEST_SVN_OFF, f->guest_svn);
	put_le64(out + SNP_ID_BLOCK_POLICY_OFF, f->policy);
}

int snp_id_block_parse(const uint8_t *buf, size_t len, struct snp_id_block_fields *ret, char *err,
		       size_t errlen)
{
	if (len != SNP_ID_BLOCK_SIZE)
		return fail(-EINVAL, err, errlen, "ID block is %zu bytes, not %d", len,
			    SNP_ID_BLOCK_SIZE);
	uint32_t version = get_le32(buf + SNP_ID_BLOCK_VERSION_OFF);
	if (version != SNP_ID_BLOCK_VERSION)
		return fail(-EINVAL, err, errlen, "ID block VERSION is %u, only %d is defined",
			    version, SNP_ID_BLOCK_VERSION);
	if (ret) {
		memcpy(ret->ld, buf + SNP_ID_BLOCK_LD_OFF, SNP_LD_SIZE);
		memcpy(ret->family_id, buf + SNP_ID_BLOCK_FAMILY_ID_OFF, SNP_ID_SIZE);
		memcpy(ret->image_id, buf + SNP_ID_BLOCK_IMAGE_ID_OFF, SNP_ID_SIZE);
		ret->guest_svn = get_le32(buf + SNP_ID_BLOCK_GUEST_SVN_OFF);
		ret->policy = get_le64(buf + SNP_ID_BLOCK_POLICY_OFF);
	}
	return 0;
}

/* An EC key on P-384 given as a named curve; anything else gets a message naming what it is. */
static int check_p384(const EVP_PKEY *key, char *err, size_t errlen)
{
	if (!EVP_PKEY_is_a(key, "EC")) {
		const char *t = EVP_PKEY_get0_type_name(key);
		return fail(-EINVAL, err, errlen,
			    "key is %s; SEV-SNP ID and author keys must be ECDSA P-384 (secp384r1)",
			    t ? t : "of an unknown type");
	}
	char group[80];
	size_t glen = 0;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    &glen))
		return fail(-EINVAL, err, errlen,
			    "EC key has explicit curve parameters; SEV-SNP needs the named curve "
			    "P-384 (secp384r1)");
	int nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	if (nid != NID_secp384r1)
		return fail(-EINVAL, err, errlen,
			    "EC key is on curve %s; SEV-SNP ID and author keys must be P-384 "
			    "(secp384r1)",
			    group);
	return 0;
}

static bool has_private(const EVP_PKEY *key)
{
	BIGNUM *d = NULL;
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d))
		return false;
	BN_clear_free(d);
	return true;
}

/* What a freshly decoded key must be: P-384, private if asked, passing OpenSSL's key check. */
static int check_loaded_key(EVP_PKEY *key, bool need_private, char *err, size_t errlen)
{
	int r = check_p384(key, err, errlen);
	if (r < 0)
		return r;
	bool priv = has_private(key);
	if (need_private && !priv)
		return fail(-EINVAL, err, errlen,
			    "a private key is needed to sign, this is public only");
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx)
		return fail(-ENOMEM, err, errlen, "out of memory");
	int ok = priv ? EVP_PKEY_check(ctx) : EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	if (ok != 1)
		return fail(-EINVAL, err, errlen, "EC key fails OpenSSL's key check (corrupt key)");
	return 0;
}

/* Encrypted PEM: record that a passphrase was wanted and refuse; never prompt on a terminal. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	*(bool *)userdata = true;
	return -1;
}

int snp_id_key_from_pem(const void *pem, size_t len, bool need_private, EVP_PKEY **ret_key,
			char *err, size_t errlen)
{
	if (len == 0)
		return fail(-EINVAL, err, errlen, "key file is empty");
	if (len > SNP_ID_KEY_PEM_MAX)
		return fail(-EFBIG, err, errlen, "key file is %zu bytes; a PEM key is at most %d",
			    len, SNP_ID_KEY_PEM_MAX);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return fail(-ENOMEM, err, errlen, "out of memory");
	bool wanted_pass = false;
	EVP_PKEY *key =
	    PEM_read_bio_PrivateKey_ex(bio, NULL, refuse_passphrase, &wanted_pass, NULL, NULL);
	BIO_free(bio);
	if (!key && !wanted_pass && !need_private) {
		ERR_clear_error();
		if (!(bio = BIO_new_mem_buf(pem, (int)len)))
			return fail(-ENOMEM, err, errlen, "out of memory");
		key =
		    PEM_read_bio_PUBKEY_ex(bio, NULL, refuse_passphrase, &wanted_pass, NULL, NULL);
		BIO_free(bio);
	}
	if (!key) {
		if (wanted_pass)
			return fail(-EINVAL, err, errlen,
				    "key is encrypted; decrypt it first (openssl pkey -in KEY -out "
				    "PLAIN)");
		return fail(-EINVAL, err, errlen,
			    need_private ? "no PEM private key found (want \"EC PRIVATE KEY\" or "
					   "PKCS#8 \"PRIVATE KEY\", ECDSA P-384)"
					 : "no PEM key found (want \"EC PRIVATE KEY\", \"PRIVATE "
					   "KEY\" or \"PUBLIC KEY\", ECDSA P-384)");
	}
	int r = check_loaded_key(key, need_private, err, errlen);
	if (r < 0) {
		EVP_PKEY_free(key);
		return r;
	}
	*ret_key = key;
	return 0;
}

int snp_id_key_encode(const EVP_PKEY *key, uint8_t out[SNP_ECDSA_PUBKEY_SIZE], char *err,
		      size_t errlen)
{
	int r = check_p384(key, err, errlen);
	if (r < 0)
		return r;
	BIGNUM *x = NULL, *y = NULL;
	uint8_t buf[SNP_ECDSA_PUBKEY_SIZE] = {0};
	put_le32(buf, SNP_ECC_CURVE_P384);
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
	    BN_bn2lebinpad(x, buf + SNP_ECDSA_PUBKEY_QX_OFF, SNP_ECDSA_COORD_SIZE) < 0 ||
	    BN_bn2lebinpad(y, buf + SNP_ECDSA_PUBKEY_QY_OFF, SNP_ECDSA_COORD_SIZE) < 0)
		r = fail(-EINVAL, err, errlen, "cannot read the EC key's public point");
	else
		memcpy(out, buf, sizeof(buf));
	BN_free(x);
	BN_free(y);
	return r;
}

void snp_id_pubkey_digest(const uint8_t pub[SNP_ECDSA_PUBKEY_SIZE], uint8_t out[SNP_LD_SIZE])
{
	SHA384(pub, SNP_ECDSA_PUBKEY_SIZE, out);
}

int snp_id_key_digest(const EVP_PKEY *key, uint8_t out[SNP_LD_SIZE], char *err, size_t errlen)
{
	uint8_t pub[SNP_ECDSA_PUBKEY_SIZE];
	int r = snp_id_key_encode(key, pub, err, errlen);
	if (r < 0)
		return r;
	snp_id_pubkey_digest(pub, out);
	return 0;
}

int snp_id_pubkey_decode(const uint8_t pub[SNP_ECDSA_PUBKEY_SIZE], EVP_PKEY **ret_key, char *err,
			 size_t errlen)
{
	uint32_t curve = get_le32(pub);
	if (curve != SNP_ECC_CURVE_P384)
		return fail(-EINVAL, err, errlen,
			    "public key CURVE is %u, only %d (P-384) is defined", curve,
			    SNP_ECC_CURVE_P384);
	const uint8_t *qx = pub + SNP_ECDSA_PUBKEY_QX_OFF, *qy = pub + SNP_ECDSA_PUBKEY_QY_OFF;
	if (!all_zero(qx + P384_BYTES, SNP_ECDSA_COORD_SIZE - P384_BYTES) ||
	    !all_zero(qy + P384_BYTES, SNP_ECDSA_COORD_SIZE - P384_BYTES))
		return fail(-EINVAL, err, errlen, "public key QX or QY exceeds 384 bits");
	/* SEC 1 uncompressed point: 04 || X || Y, big-endian. */
	uint8_t point[1 + 2 * P384_BYTES];
	point[0] = 0x04;
	for (int i = 0; i < P384_BYTES; i++) {
		point[1 + i] = qx[P384_BYTES - 1 - i];
		point[1 + P384_BYTES + i] = qy[P384_BYTES - 1 - i];
	}
	char group[] = SN_secp384r1;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
	    OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx)
		return fail(-ENOMEM, err, errlen, "out of memory");
	int ok = EVP_PKEY_fromdata_init(ctx) == 1 &&
		 EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (ok) {
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
		ok = ctx && EVP_PKEY_public_check(ctx) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	if (!ok) {
		EVP_PKEY_free(key);
		return fail(-EINVAL, err, errlen, "public key (QX, QY) is not a point on P-384");
	}
	*ret_key = key;
	return 0;
}

/* ECDSA with SHA-384 over msg, stored in the SNP signature format. */
static int sign_snp(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t out[SNP_ECDSA_SIG_SIZE],
		    char *err, size_t errlen)
{
	uint8_t der[160]; /* DER of two 384-bit INTEGERs is at most 104 bytes */
	size_t der_len = sizeof(der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return fail(-ENOMEM, err, errlen, "out of memory");
	int ok = EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) == 1 &&
		 EVP_DigestSign(md, der, &der_len, msg, len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return fail(-EINVAL, err, errlen, "ECDSA P-384 signing failed");
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!sig)
		return fail(-EINVAL, err, errlen, "ECDSA signature is not DER");
	const BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG_get0(sig, &r, &s);
	uint8_t buf[SNP_ECDSA_SIG_SIZE] = {0};
	ok = BN_bn2lebinpad(r, buf + SNP_ECDSA_SIG_R_OFF, SNP_ECDSA_COORD_SIZE) >= 0 &&
	     BN_bn2lebinpad(s, buf + SNP_ECDSA_SIG_S_OFF, SNP_ECDSA_COORD_SIZE) >= 0;
	ECDSA_SIG_free(sig);
	if (!ok)
		return fail(-EINVAL, err, errlen, "ECDSA signature does not fit the SNP format");
	memcpy(out, buf, sizeof(buf));
	return 0;
}

/* 1: verifies; 0: does not; <0: malformed signature field. */
int snp_ecdsa_sig_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
			 const uint8_t sig_field[SNP_ECDSA_SIG_SIZE], char *err, size_t errlen)
{
	const uint8_t *rb = sig_field + SNP_ECDSA_SIG_R_OFF, *sb = sig_field + SNP_ECDSA_SIG_S_OFF;
	if (!all_zero(rb + P384_BYTES, SNP_ECDSA_COORD_SIZE - P384_BYTES) ||
	    !all_zero(sb + P384_BYTES, SNP_ECDSA_COORD_SIZE - P384_BYTES))
		return fail(-EINVAL, err, errlen, "signature R or S exceeds 384 bits");
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(rb, P384_BYTES, NULL), *s = BN_lebin2bn(sb, P384_BYTES, NULL);
	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		return fail(-ENOMEM, err, errlen, "out of memory");
	}
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (der_len <= 0)
		return fail(-ENOMEM, err, errlen, "out of memory");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) == 1 &&
		 EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok ? 1 : 0;
}

int snp_id_auth_sign(const uint8_t id_block[SNP_ID_BLOCK_SIZE], EVP_PKEY *id_key,
		     EVP_PKEY *author_key, uint8_t out[SNP_ID_AUTH_SIZE], char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = calloc(1, SNP_ID_AUTH_SIZE);
	if (!buf)
		return fail(-ENOMEM, err, errlen, "out of memory");
	int r;
	put_le32(buf + SNP_ID_AUTH_ID_KEY_ALGO_OFF, SNP_SIG_ALGO_ECDSA_P384_SHA384);
	if ((r = snp_id_key_encode(id_key, buf + SNP_ID_AUTH_ID_KEY_OFF, err, errlen)) < 0 ||
	    (r = sign_snp(id_key, id_block, SNP_ID_BLOCK_SIZE, buf + SNP_ID_AUTH_ID_BLOCK_SIG_OFF,
			  err, errlen)) < 0)
		return r;
	if (author_key) {
		put_le32(buf + SNP_ID_AUTH_AUTH_KEY_ALGO_OFF, SNP_SIG_ALGO_ECDSA_P384_SHA384);
		if ((r = snp_id_key_encode(author_key, buf + SNP_ID_AUTH_AUTHOR_KEY_OFF, err,
					   errlen)) < 0 ||
		    (r = sign_snp(author_key, buf + SNP_ID_AUTH_ID_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE,
				  buf + SNP_ID_AUTH_ID_KEY_SIG_OFF, err, errlen)) < 0)
			return r;
	}
	memcpy(out, buf, SNP_ID_AUTH_SIZE);
	return 0;
}

/* Check one (algorithm, key, signature) triple; fills digest with the key structure's SHA-384. */
static int verify_one(const char *what, uint32_t algo, const uint8_t *pub, const uint8_t *sig,
		      const uint8_t *msg, size_t len, uint8_t digest[SNP_LD_SIZE], char *err,
		      size_t errlen)
{
	if (algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return fail(-EINVAL, err, errlen,
			    "%s algorithm is %u, only %d (ECDSA P-384 with SHA-384) is defined",
			    what, algo, SNP_SIG_ALGO_ECDSA_P384_SHA384);
	EVP_PKEY *key = NULL;
	char why[160];
	int r = snp_id_pubkey_decode(pub, &key, why, sizeof(why));
	if (r < 0)
		return fail(r, err, errlen, "%s: %s", what, why);
	r = snp_ecdsa_sig_verify(key, msg, len, sig, why, sizeof(why));
	EVP_PKEY_free(key);
	if (r < 0)
		return fail(r, err, errlen, "%s: %s", what, why);
	if (r == 0)
		return fail(-EBADMSG, err, errlen, "%s signature does not verify", what);
	snp_id_pubkey_digest(pub, digest);
	return 0;
}

int snp_id_auth_verify(const uint8_t *id_block, size_t id_block_len, const uint8_t *id_auth,
		       size_t id_auth_len, bool author_key_en, struct snp_id_auth_verified *ret,
		       char *err, size_t errlen)
{
	if (id_auth_len != SNP_ID_AUTH_SIZE)
		return fail(-EINVAL, err, errlen, "ID auth info is %zu bytes, not %d", id_auth_len,
			    SNP_ID_AUTH_SIZE);
	int r = snp_id_block_parse(id_block, id_block_len, NULL, err, errlen);
	if (r < 0)
		return r;
	struct snp_id_auth_verified v = {0};
	r = verify_one("ID key (ID_BLOCK_SIG)", get_le32(id_auth + SNP_ID_AUTH_ID_KEY_ALGO_OFF),
		       id_auth + SNP_ID_AUTH_ID_KEY_OFF, id_auth + SNP_ID_AUTH_ID_BLOCK_SIG_OFF,
		       id_block, SNP_ID_BLOCK_SIZE, v.id_key_digest, err, errlen);
	if (r < 0)
		return r;
	if (author_key_en) {
		r = verify_one(
		    "author key (ID_KEY_SIG)", get_le32(id_auth + SNP_ID_AUTH_AUTH_KEY_ALGO_OFF),
		    id_auth + SNP_ID_AUTH_AUTHOR_KEY_OFF, id_auth + SNP_ID_AUTH_ID_KEY_SIG_OFF,
		    id_auth + SNP_ID_AUTH_ID_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE, v.author_key_digest,
		    err, errlen);
		if (r < 0)
			return r;
		v.author_key = true;
	}
	if (ret)
		*ret = v;
	return 0;
}
