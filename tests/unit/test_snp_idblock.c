/* coco/snp/idblock: SEV-SNP ID block and ID authentication info against the reference tool.
 * Vectors: tests/data/snp/idblock/vectors.json, made by running virtee/sev-snp-measure's
 * snp-create-id-block (and its id_block module for non-default fields) on the test-only keys
 * in the same folder; README.md there has the command lines. ID blocks, key structures and key
 * digests must match byte for byte; ECDSA is randomized, so signatures are checked both ways:
 * the reference's verify with ours, ours verify with plain OpenSSL. Also snpctl id-block and
 * key-digest run as a user would (exit codes 0 ok, 1 refused, 2 usage). */
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/wait.h>

#include "coco/snp/idblock.h"
#include "coco/util.h"
#include "tests/check_main.h"

#define DATA SOURCE_DIR "/tests/data/snp/idblock"

static const char *str(json_object *v, const char *k)
{
	json_object *o;
	ck_assert_msg(json_object_object_get_ex(v, k, &o), "vector lacks %s", k);
	return json_object_get_string(o);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_uint_eq(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* Base64 of exactly n bytes (n a multiple of 3 here: 96 and 4096 are not, so allow padding). */
static void unb64(const char *s, uint8_t *out, size_t n)
{
	size_t len = strlen(s), pad = 0;
	ck_assert_uint_eq(len, 4 * ((n + 2) / 3));
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	_cleanup_free_ uint8_t *tmp = malloc(len);
	int r = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	ck_assert_int_eq(r - (int)pad, (int)n);
	memcpy(out, tmp, n);
}

static EVP_PKEY *load(const char *name, bool need_private, int expect, const char *err_has)
{
	char path[PATH_MAX], err[256] = "";
	snprintf(path, sizeof(path), DATA "/%s", name);
	_cleanup_free_ char *pem = NULL;
	size_t len;
	ck_assert_int_eq(read_file_max(path, 1 << 20, &pem, &len), 0);
	EVP_PKEY *key = NULL;
	int r = snp_id_key_from_pem(pem, len, need_private, &key, err, sizeof(err));
	ck_assert_msg(r == expect, "%s: got %d (%s), want %d", name, r, err, expect);
	if (err_has)
		ck_assert_msg(strstr(err, err_has), "%s: error '%s' lacks '%s'", name, err,
			      err_has);
	ck_assert(expect < 0 ? key == NULL : key != NULL);
	ck_assert_uint_eq(ERR_peek_error(), 0); /* nothing left on OpenSSL's error queue */
	return key;
}

static json_object *vectors(void)
{
	json_object *root = json_object_from_file(DATA "/vectors.json"), *v;
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "vectors", &v));
	ck_assert_uint_ge(json_object_array_length(v), 3);
	return root;
}

static void fields_of(json_object *v, struct snp_id_block_fields *f)
{
	*f = (struct snp_id_block_fields){0};
	unhex(str(v, "measurement"), f->ld, SNP_LD_SIZE);
	unhex(str(v, "family_id"), f->family_id, SNP_ID_SIZE);
	unhex(str(v, "image_id"), f->image_id, SNP_ID_SIZE);
	json_object *svn;
	ck_assert(json_object_object_get_ex(v, "guest_svn", &svn));
	f->guest_svn = (uint32_t)json_object_get_int64(svn);
	f->policy = strtoull(str(v, "policy"), NULL, 0);
}

/* Plain OpenSSL, none of idblock.c: does sig (SNP format) verify msg under key? */
static bool openssl_verifies(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t *sig)
{
	uint8_t be[48];
	BIGNUM *bn[2];
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 48; i++)
			be[i] = sig[k * 0x48 + 47 - i];
		bn[k] = BN_bin2bn(be, 48, NULL);
	}
	ECDSA_SIG *s = ECDSA_SIG_new();
	ck_assert_int_eq(ECDSA_SIG_set0(s, bn[0], bn[1]), 1);
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key), 1);
	int ok = EVP_DigestVerify(md, der, (size_t)der_len, msg, len);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok == 1;
}

START_TEST(reference_vectors)
{
	json_object *root = vectors(), *vs;
	json_object_object_get_ex(root, "vectors", &vs);
	for (size_t i = 0; i < json_object_array_length(vs); i++) {
		json_object *v = json_object_array_get_idx(vs, i);
		const char *name = str(v, "name");
		struct snp_id_block_fields f;
		fields_of(v, &f);
		uint8_t blk[SNP_ID_BLOCK_SIZE], ref_blk[SNP_ID_BLOCK_SIZE], digest[SNP_LD_SIZE];
		uint8_t ref_auth[SNP_ID_AUTH_SIZE], auth[SNP_ID_AUTH_SIZE],
		    pub[SNP_ECDSA_PUBKEY_SIZE];
		uint8_t ref_id_digest[SNP_LD_SIZE], ref_author_digest[SNP_LD_SIZE];
		char err[256];
		unb64(str(v, "id_block"), ref_blk, sizeof(ref_blk));
		unb64(str(v, "id_auth"), ref_auth, sizeof(ref_auth));
		unhex(str(v, "id_key_digest"), ref_id_digest, SNP_LD_SIZE);
		unhex(str(v, "author_key_digest"), ref_author_digest, SNP_LD_SIZE);

		/* The ID block: byte for byte, and back. */
		snp_id_block_build(&f, blk);
		ck_assert_msg(memcmp(blk, ref_blk, sizeof(blk)) == 0, "%s: ID block differs", name);
		struct snp_id_block_fields back;
		ck_assert_int_eq(snp_id_block_parse(ref_blk, sizeof(ref_blk), &back, err, 256), 0);
		ck_assert(memcmp(&back.ld, f.ld, SNP_LD_SIZE) == 0);
		ck_assert(memcmp(back.family_id, f.family_id, SNP_ID_SIZE) == 0);
		ck_assert(memcmp(back.image_id, f.image_id, SNP_ID_SIZE) == 0);
		ck_assert_uint_eq(back.guest_svn, f.guest_svn);
		ck_assert_uint_eq(back.policy, f.policy);

		/* Key structures and digests: byte for byte. */
		EVP_PKEY *id = load(str(v, "id_key"), true, 0, NULL);
		EVP_PKEY *author = load(str(v, "author_key"), true, 0, NULL);
		ck_assert_int_eq(snp_id_key_encode(id, pub, err, sizeof(err)), 0);
		ck_assert_msg(memcmp(pub, ref_auth + SNP_ID_AUTH_ID_KEY_OFF, sizeof(pub)) == 0,
			      "%s: ID_KEY differs", name);
		ck_assert_int_eq(snp_id_key_encode(author, pub, err, sizeof(err)), 0);
		ck_assert_msg(memcmp(pub, ref_auth + SNP_ID_AUTH_AUTHOR_KEY_OFF, sizeof(pub)) == 0,
			      "%s: AUTHOR_KEY differs", name);
		ck_assert_int_eq(snp_id_key_digest(id, digest, err, sizeof(err)), 0);
		ck_assert(memcmp(digest, ref_id_digest, SNP_LD_SIZE) == 0);
		ck_assert_int_eq(snp_id_key_digest(author, digest, err, sizeof(err)), 0);
		ck_assert(memcmp(digest, ref_author_digest, SNP_LD_SIZE) == 0);

		/* The reference's signatures verify with ours: the layout is the same. */
		struct snp_id_auth_verified ok;
		ck_assert_msg(snp_id_auth_verify(ref_blk, sizeof(ref_blk), ref_auth,
						 sizeof(ref_auth), true, &ok, err,
						 sizeof(err)) == 0,
			      "%s: %s", name, err);
		ck_assert(ok.author_key);
		ck_assert(memcmp(ok.id_key_digest, ref_id_digest, SNP_LD_SIZE) == 0);
		ck_assert(memcmp(ok.author_key_digest, ref_author_digest, SNP_LD_SIZE) == 0);

		/* Ours: equal to the reference outside the two (randomized) signatures... */
		ck_assert_int_eq(snp_id_auth_sign(blk, id, author, auth, err, sizeof(err)), 0);
		uint8_t masked[2][SNP_ID_AUTH_SIZE];
		memcpy(masked[0], auth, sizeof(auth));
		memcpy(masked[1], ref_auth, sizeof(auth));
		for (int k = 0; k < 2; k++) {
			memset(masked[k] + SNP_ID_AUTH_ID_BLOCK_SIG_OFF, 0, SNP_ECDSA_SIG_SIZE);
			memset(masked[k] + SNP_ID_AUTH_ID_KEY_SIG_OFF, 0, SNP_ECDSA_SIG_SIZE);
		}
		ck_assert_msg(memcmp(masked[0], masked[1], SNP_ID_AUTH_SIZE) == 0,
			      "%s: ID auth differs outside the signatures", name);
		/* ...whose signature fields have nothing past S... */
		for (size_t off = 0x90; off < SNP_ECDSA_SIG_SIZE; off++) {
			ck_assert_uint_eq(auth[SNP_ID_AUTH_ID_BLOCK_SIG_OFF + off], 0);
			ck_assert_uint_eq(auth[SNP_ID_AUTH_ID_KEY_SIG_OFF + off], 0);
		}
		/* ...and verify with plain OpenSSL over the exact bytes, and with ours. */
		ck_assert(
		    openssl_verifies(id, blk, sizeof(blk), auth + SNP_ID_AUTH_ID_BLOCK_SIG_OFF));
		ck_assert(openssl_verifies(author, auth + SNP_ID_AUTH_ID_KEY_OFF,
					   SNP_ECDSA_PUBKEY_SIZE,
					   auth + SNP_ID_AUTH_ID_KEY_SIG_OFF));
		ck_assert(!openssl_verifies(author, blk, sizeof(blk),
					    auth + SNP_ID_AUTH_ID_BLOCK_SIG_OFF));
		ck_assert_int_eq(snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth), true, &ok,
						    err, sizeof(err)),
				 0);
		ck_assert(memcmp(ok.id_key_digest, ref_id_digest, SNP_LD_SIZE) == 0);
		EVP_PKEY_free(id);
		EVP_PKEY_free(author);
	}
	json_object_put(root);
}
END_TEST

START_TEST(without_author_key)
{
	struct snp_id_block_fields f = {.guest_svn = 1, .policy = SNP_ID_DEFAULT_POLICY};
	memset(f.ld, 0xab, sizeof(f.ld));
	uint8_t blk[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE];
	char err[256];
	snp_id_block_build(&f, blk);
	EVP_PKEY *id = load("id_key.pem", true, 0, NULL);
	ck_assert_int_eq(snp_id_auth_sign(blk, id, NULL, auth, err, sizeof(err)), 0);
	ck_assert_uint_eq(auth[SNP_ID_AUTH_ID_KEY_ALGO_OFF], SNP_SIG_ALGO_ECDSA_P384_SHA384);
	for (size_t i = SNP_ID_AUTH_AUTH_KEY_ALGO_OFF; i < SNP_ID_AUTH_ID_BLOCK_SIG_OFF; i++)
		ck_assert_uint_eq(auth[i], 0);
	for (size_t i = SNP_ID_AUTH_ID_KEY_OFF + SNP_ECDSA_PUBKEY_SIZE; i < SNP_ID_AUTH_SIZE; i++)
		ck_assert_uint_eq(auth[i], 0);
	struct snp_id_auth_verified ok;
	memset(&ok, 0xff, sizeof(ok));
	ck_assert_int_eq(
	    snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth), false, &ok, err, sizeof(err)),
	    0);
	ck_assert(!ok.author_key);
	uint8_t zeros[SNP_LD_SIZE] = {0}, digest[SNP_LD_SIZE];
	ck_assert(memcmp(ok.author_key_digest, zeros, SNP_LD_SIZE) == 0);
	ck_assert_int_eq(snp_id_key_digest(id, digest, err, sizeof(err)), 0);
	ck_assert(memcmp(ok.id_key_digest, digest, SNP_LD_SIZE) == 0);
	/* Launched with author-key-enabled=on, this would be refused: AUTH_KEY_ALGO is 0. */
	ck_assert_int_eq(
	    snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth), true, NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "author key"));
	EVP_PKEY_free(id);
}
END_TEST

/* A signed pair to break. */
static void signed_pair(uint8_t blk[SNP_ID_BLOCK_SIZE], uint8_t auth[SNP_ID_AUTH_SIZE])
{
	struct snp_id_block_fields f = {.guest_svn = 3, .policy = 0x30000};
	for (size_t i = 0; i < SNP_LD_SIZE; i++)
		f.ld[i] = (uint8_t)i;
	snp_id_block_build(&f, blk);
	EVP_PKEY *id = load("id_key.pem", true, 0, NULL),
		 *au = load("author_key.pem", true, 0, NULL);
	char err[256];
	ck_assert_int_eq(snp_id_auth_sign(blk, id, au, auth, err, sizeof(err)), 0);
	EVP_PKEY_free(id);
	EVP_PKEY_free(au);
}

static void expect_verify(const uint8_t *blk, size_t blen, const uint8_t *auth, size_t alen,
			  int want, const char *err_has)
{
	char err[256] = "";
	int r = snp_id_auth_verify(blk, blen, auth, alen, true, NULL, err, sizeof(err));
	ck_assert_msg(r == want, "got %d (%s), want %d", r, err, want);
	ck_assert_msg(strstr(err, err_has), "error '%s' lacks '%s'", err, err_has);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

START_TEST(tampered)
{
	uint8_t blk[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE], b[SNP_ID_BLOCK_SIZE];
	uint8_t a[SNP_ID_AUTH_SIZE];
	signed_pair(blk, auth);
	ck_assert_int_eq(
	    snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth), true, NULL, NULL, 0), 0);
	/* Any signed byte of the ID block: LD, ids, SVN, policy. */
	static const size_t block_offs[] = {0x00, 0x2f, 0x30, 0x4f, 0x54, 0x58, 0x5a, 0x5f};
	for (size_t i = 0; i < ARRAY_SIZE(block_offs); i++) {
		memcpy(b, blk, sizeof(b));
		b[block_offs[i]] ^= 0x01;
		expect_verify(b, sizeof(b), auth, sizeof(auth), -EBADMSG, "ID_BLOCK_SIG");
	}
	memcpy(b, blk, sizeof(b));
	b[SNP_ID_BLOCK_VERSION_OFF] = 2;
	expect_verify(b, sizeof(b), auth, sizeof(auth), -EINVAL, "VERSION is 2");
	expect_verify(blk, sizeof(blk) - 1, auth, sizeof(auth), -EINVAL, "95 bytes");
	expect_verify(blk, sizeof(blk), auth, sizeof(auth) - 1, -EINVAL, "4095 bytes");
	expect_verify(blk, sizeof(blk), auth, 0, -EINVAL, "0 bytes");

	struct {
		size_t off;
		uint8_t x; /* xor */
		int want;
		const char *err_has;
	} cases[] = {
	    {SNP_ID_AUTH_ID_KEY_ALGO_OFF, 0x03, -EINVAL, "algorithm is 2"},
	    {SNP_ID_AUTH_AUTH_KEY_ALGO_OFF, 0x01, -EINVAL, "algorithm is 0"},
	    {SNP_ID_AUTH_ID_BLOCK_SIG_OFF, 0x01, -EBADMSG, "ID_BLOCK_SIG) signature"},
	    {SNP_ID_AUTH_ID_BLOCK_SIG_OFF + SNP_ECDSA_SIG_S_OFF + 47, 0x80, -EBADMSG, "ID_BLOCK"},
	    {SNP_ID_AUTH_ID_BLOCK_SIG_OFF + 48, 0x01, -EINVAL, "exceeds 384 bits"},
	    {SNP_ID_AUTH_ID_BLOCK_SIG_OFF + SNP_ECDSA_SIG_S_OFF + 71, 0x01, -EINVAL, "R or S"},
	    {SNP_ID_AUTH_ID_KEY_OFF, 0x01, -EINVAL, "CURVE is 3"},
	    {SNP_ID_AUTH_ID_KEY_OFF + SNP_ECDSA_PUBKEY_QX_OFF, 0x01, -EINVAL, "not a point"},
	    {SNP_ID_AUTH_ID_KEY_OFF + SNP_ECDSA_PUBKEY_QY_OFF + 60, 0x01, -EINVAL, "QX or QY"},
	    {SNP_ID_AUTH_ID_KEY_SIG_OFF + 5, 0x01, -EBADMSG, "ID_KEY_SIG) signature"},
	    {SNP_ID_AUTH_AUTHOR_KEY_OFF + SNP_ECDSA_PUBKEY_QY_OFF, 0x01, -EINVAL, "author key"},
	    /* Reserved bytes of ID_KEY are covered by ID_KEY_SIG (and the key digest). */
	    {SNP_ID_AUTH_ID_KEY_OFF + 0x200, 0x01, -EBADMSG, "ID_KEY_SIG"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memcpy(a, auth, sizeof(a));
		a[cases[i].off] ^= cases[i].x;
		expect_verify(blk, sizeof(blk), a, sizeof(a), cases[i].want, cases[i].err_has);
	}
	/* R = 0 and S = 0: well-formed, never valid. */
	memcpy(a, auth, sizeof(a));
	memset(a + SNP_ID_AUTH_ID_BLOCK_SIG_OFF, 0, SNP_ECDSA_SIG_SIZE);
	expect_verify(blk, sizeof(blk), a, sizeof(a), -EBADMSG, "does not verify");
	/* Another valid key in place of the author key. */
	memcpy(a, auth, sizeof(a));
	memcpy(a + SNP_ID_AUTH_AUTHOR_KEY_OFF, a + SNP_ID_AUTH_ID_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE);
	expect_verify(blk, sizeof(blk), a, sizeof(a), -EBADMSG, "author key (ID_KEY_SIG)");
	/* The ID key swapped for the author key: ID_BLOCK_SIG no longer matches. */
	memcpy(a, auth, sizeof(a));
	memcpy(a + SNP_ID_AUTH_ID_KEY_OFF, auth + SNP_ID_AUTH_AUTHOR_KEY_OFF,
	       SNP_ECDSA_PUBKEY_SIZE);
	expect_verify(blk, sizeof(blk), a, sizeof(a), -EBADMSG, "ID_BLOCK_SIG");
	/* Reserved bytes of ID_AUTH_INFO itself are not signed; the firmware result is unknown,
	 * so we accept them (documented in idblock.h). */
	memcpy(a, auth, sizeof(a));
	a[0x10] = a[0x650] = a[0xfff] = 0xee;
	ck_assert_int_eq(snp_id_auth_verify(blk, sizeof(blk), a, sizeof(a), true, NULL, NULL, 0),
			 0);
}
END_TEST

START_TEST(hostile_keys)
{
	load("p256_key.pem", true, -EINVAL, "prime256v1; SEV-SNP ID and author keys must be P-384");
	load("p256_key.pem", false, -EINVAL, "P-384");
	load("rsa_key.pem", true, -EINVAL, "key is RSA");
	load("garbage.pem", true, -EINVAL, "no PEM private key found");
	load("garbage.pem", false, -EINVAL, "no PEM key found");
	load("encrypted_key.pem", true, -EINVAL, "encrypted");
	load("id_key_pub.pem", true, -EINVAL, "no PEM private key");
	load("README.md", false, -EINVAL, "no PEM key found");

	/* A public key is enough for a digest, and gives the same one. */
	EVP_PKEY *pub = load("id_key_pub.pem", false, 0, NULL);
	EVP_PKEY *priv = load("id_key.pem", false, 0, NULL);
	uint8_t d1[SNP_LD_SIZE], d2[SNP_LD_SIZE];
	char err[256];
	ck_assert_int_eq(snp_id_key_digest(pub, d1, err, sizeof(err)), 0);
	ck_assert_int_eq(snp_id_key_digest(priv, d2, err, sizeof(err)), 0);
	ck_assert(memcmp(d1, d2, SNP_LD_SIZE) == 0);
	/* ...but cannot sign. */
	uint8_t blk[SNP_ID_BLOCK_SIZE] = {0}, auth[SNP_ID_AUTH_SIZE];
	blk[SNP_ID_BLOCK_VERSION_OFF] = 1;
	ck_assert_int_lt(snp_id_auth_sign(blk, pub, NULL, auth, err, sizeof(err)), 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(priv);

	/* Keys that did not come through our loader are still checked. */
	FILE *f = fopen(DATA "/p256_key.pem", "r");
	ck_assert_ptr_nonnull(f);
	EVP_PKEY *p256 = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(p256);
	uint8_t k[SNP_ECDSA_PUBKEY_SIZE];
	ck_assert_int_eq(snp_id_key_encode(p256, k, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(snp_id_auth_sign(blk, p256, NULL, auth, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "prime256v1"));
	EVP_PKEY_free(p256);

	char *big = malloc(SNP_ID_KEY_PEM_MAX + 1);
	memset(big, 'A', SNP_ID_KEY_PEM_MAX + 1);
	EVP_PKEY *none = NULL;
	ck_assert_int_eq(snp_id_key_from_pem(big, SNP_ID_KEY_PEM_MAX + 1, false, &none, err, 256),
			 -EFBIG);
	ck_assert_int_eq(snp_id_key_from_pem(big, 0, false, &none, err, 256), -EINVAL);
	free(big);
	/* A truncated key file. */
	_cleanup_free_ char *pem = NULL;
	size_t len;
	ck_assert_int_eq(read_file_max(DATA "/id_key.pem", 1 << 20, &pem, &len), 0);
	for (size_t cut = 0; cut < len; cut += 13)
		ck_assert_int_eq(snp_id_key_from_pem(pem, cut, true, &none, err, 256), -EINVAL);
	/* A flipped bit in the private scalar's base64: some still decode, none may pass as a
	 * different valid key silently (it would sign, so it must at least be self-consistent). */
	for (size_t i = 40; i < len - 30; i += 7) {
		_cleanup_free_ char *bad = strdup(pem);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		EVP_PKEY *k2 = NULL;
		if (snp_id_key_from_pem(bad, len, true, &k2, err, 256) == 0) {
			ck_assert_int_eq(snp_id_auth_sign(blk, k2, NULL, auth, err, sizeof(err)),
					 0);
			ck_assert_int_eq(snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth),
							    false, NULL, err, sizeof(err)),
					 0);
			EVP_PKEY_free(k2);
		}
		ck_assert_uint_eq(ERR_peek_error(), 0);
	}
	ck_assert_ptr_null(none);
}
END_TEST

START_TEST(pubkey_roundtrip)
{
	static const char *const names[] = {"id_key.pem", "author_key.pem"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		EVP_PKEY *key = load(names[i], false, 0, NULL), *back = NULL;
		uint8_t a[SNP_ECDSA_PUBKEY_SIZE], b[SNP_ECDSA_PUBKEY_SIZE];
		char err[256];
		ck_assert_int_eq(snp_id_key_encode(key, a, err, sizeof(err)), 0);
		ck_assert_uint_eq(a[0], SNP_ECC_CURVE_P384);
		for (size_t off = 0x94; off < SNP_ECDSA_PUBKEY_SIZE; off++)
			ck_assert_uint_eq(a[off], 0);
		ck_assert_int_eq(snp_id_pubkey_decode(a, &back, err, sizeof(err)), 0);
		ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
		ck_assert_int_eq(snp_id_key_encode(back, b, err, sizeof(err)), 0);
		ck_assert(memcmp(a, b, sizeof(a)) == 0);
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
	}
}
END_TEST

/* snpctl next to this test binary (both in build/<preset>/bin). */
static void snpctl_path(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(l, 0);
	self[l] = 0;
	char *slash = strrchr(self, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = 0;
	int w = snprintf(out, n, "%s/snpctl", self);
	ck_assert(w > 0 && (size_t)w < n);
	ck_assert_msg(access(out, X_OK) == 0, "%s not built", out);
}

/* Run snpctl with stdin text; capture stdout and stderr separately; return the exit code. */
static int snpctl(const char *in, char **out, char **errout, const char *const *args)
{
	char bin[PATH_MAX];
	snpctl_path(bin, sizeof(bin));
	const char *argv[32] = {bin};
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char tin[] = "/tmp/snpidb-in-XXXXXX", tout[] = "/tmp/snpidb-out-XXXXXX",
	     terr[] = "/tmp/snpidb-err-XXXXXX";
	int fi = mkstemp(tin), fo = mkstemp(tout), fe = mkstemp(terr);
	ck_assert(fi >= 0 && fo >= 0 && fe >= 0);
	if (in)
		ck_assert_int_eq(write(fi, in, strlen(in)), (ssize_t)strlen(in));
	lseek(fi, 0, SEEK_SET);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	size_t len;
	ck_assert_int_eq(read_file_max(tout, 1 << 20, out, &len), 0);
	ck_assert_int_eq(read_file_max(terr, 1 << 20, errout, &len), 0);
	close(fi), close(fo), close(fe);
	unlink(tin), unlink(tout), unlink(terr);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* "key:  value" line of snpctl id-block's text output. */
static const char *field(const char *out, const char *key, char *buf, size_t n)
{
	const char *p = strstr(out, key);
	ck_assert_msg(p, "no '%s' in output", key);
	p += strlen(key);
	while (*p == ' ')
		p++;
	size_t l = strcspn(p, "\n");
	ck_assert_uint_lt(l, n);
	memcpy(buf, p, l);
	buf[l] = 0;
	return buf;
}

START_TEST(cli)
{
	json_object *root = vectors(), *vs;
	json_object_object_get_ex(root, "vectors", &vs);
	json_object *v0 = json_object_array_get_idx(vs, 0), *v2 = json_object_array_get_idx(vs, 2);
	char *out, *err, buf[8192];
	const char *idk = DATA "/id_key.pem", *ak = DATA "/author_key.pem";
	const char *ld = str(v0, "measurement");

	/* Defaults, hex measurement: the reference's ID block and digests, a verifying auth. */
	const char *a1[] = {"id-block", "--measurement", ld, "--id-key",
			    idk,	"--author-key",	 ak, NULL};
	ck_assert_int_eq(snpctl(NULL, &out, &err, a1), 0);
	ck_assert_str_eq(field(out, "id-block:", buf, sizeof(buf)), str(v0, "id_block"));
	ck_assert_str_eq(field(out, "id-key-digest:", buf, sizeof(buf)), str(v0, "id_key_digest"));
	ck_assert_str_eq(field(out, "author-key-digest:", buf, sizeof(buf)),
			 str(v0, "author_key_digest"));
	ck_assert_str_eq(field(out, "author-key-enabled:", buf, sizeof(buf)), "on");
	ck_assert_str_eq(field(out, "policy:", buf, sizeof(buf)), "0x30000");
	uint8_t blk[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE];
	unb64(str(v0, "id_block"), blk, sizeof(blk));
	unb64(field(out, "id-auth:", buf, sizeof(buf)), auth, sizeof(auth));
	ck_assert_int_eq(
	    snp_id_auth_verify(blk, sizeof(blk), auth, sizeof(auth), true, NULL, NULL, 0), 0);
	ck_assert_str_eq(err, "");
	free(out), free(err);

	/* Non-default fields, base64 measurement, JSON; files written as snpguest does. */
	char ob[] = "/tmp/snpidb-blk-XXXXXX", oa[] = "/tmp/snpidb-auth-XXXXXX";
	close(mkstemp(ob)), close(mkstemp(oa));
	uint8_t ldb[SNP_LD_SIZE];
	char ld64[80];
	unhex(str(v2, "measurement"), ldb, sizeof(ldb));
	EVP_EncodeBlock((unsigned char *)ld64, ldb, sizeof(ldb));
	const char *a2[] = {"--json",
			    "id-block",
			    "--measurement",
			    ld64,
			    "--id-key",
			    idk,
			    "--author-key",
			    ak,
			    "--family-id",
			    str(v2, "family_id"),
			    "--image-id",
			    str(v2, "image_id"),
			    "--guest-svn",
			    "16909060",
			    "--policy",
			    str(v2, "policy"),
			    "--out-id-block",
			    ob,
			    "--out-id-auth",
			    oa,
			    NULL};
	ck_assert_int_eq(snpctl(NULL, &out, &err, a2), 0);
	json_object *j = json_tokener_parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(str(j, "id_block"), str(v2, "id_block"));
	ck_assert_str_eq(str(j, "id_key_digest"), str(v2, "id_key_digest"));
	ck_assert_str_eq(str(j, "author_key_digest"), str(v2, "author_key_digest"));
	ck_assert_str_eq(str(j, "family_id"), str(v2, "family_id"));
	ck_assert_str_eq(str(j, "policy"), "459013"); /* 0x70105 */
	_cleanup_free_ char *fb = NULL, *fa = NULL;
	size_t len;
	ck_assert_int_eq(read_file_max(ob, 1 << 20, &fb, &len), 0);
	ck_assert_str_eq(fb, str(v2, "id_block"));
	ck_assert_int_eq(read_file_max(oa, 1 << 20, &fa, &len), 0);
	ck_assert_str_eq(fa, str(j, "id_auth"));
	unlink(ob), unlink(oa);
	json_object_put(j);
	free(out), free(err);

	/* The same ids in base64. */
	const char *a3[] = {"id-block",
			    "--measurement",
			    ld64,
			    "--id-key",
			    idk,
			    "--family-id-base64",
			    "obLD1OX2BxgpOktcbX6PkA==",
			    "--image-id-base64",
			    "Dx4tPEtaaXiHlqW0w9Lh8A==",
			    "--guest-svn",
			    "0x01020304",
			    "--policy",
			    "0x70105",
			    NULL};
	ck_assert_int_eq(snpctl(NULL, &out, &err, a3), 0);
	ck_assert_str_eq(field(out, "id-block:", buf, sizeof(buf)), str(v2, "id_block"));
	ck_assert_str_eq(field(out, "author-key-enabled:", buf, sizeof(buf)), "off");
	ck_assert_str_eq(field(out, "author-key-digest:", buf, sizeof(buf)), "none");
	free(out), free(err);

	/* From snpctl measure's output on stdin: plain, -v, base64 and --json forms. */
	char in[512];
	const char *const forms[][2] = {{"", "\n"},
					{"Calculated SEV_SNP guest measurement: ", "\n"},
					{"{\"mode\":\"snp\",\"digest\":\"", "\",\"pages\":3}\n"}};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		snprintf(in, sizeof(in), "%s%s%s", forms[i][0], ld, forms[i][1]);
		const char *a4[] = {"id-block", "--measurement", "-", "--id-key", idk, NULL};
		ck_assert_int_eq(snpctl(in, &out, &err, a4), 0);
		ck_assert_str_eq(field(out, "id-block:", buf, sizeof(buf)), str(v0, "id_block"));
		free(out), free(err);
	}

	/* key-digest: private or public key, hex or JSON. */
	const char *k1[] = {"key-digest", "--key", DATA "/id_key_pub.pem", NULL};
	ck_assert_int_eq(snpctl(NULL, &out, &err, k1), 0);
	snprintf(in, sizeof(in), "%s\n", str(v0, "id_key_digest"));
	ck_assert_str_eq(out, in);
	free(out), free(err);
	const char *k2[] = {"key-digest", "--key", ak, "--json", NULL};
	ck_assert_int_eq(snpctl(NULL, &out, &err, k2), 0);
	j = json_tokener_parse(out);
	ck_assert_str_eq(str(j, "key_digest"), str(v0, "author_key_digest"));
	json_object_put(j);
	free(out), free(err);

	/* Refusals: exit 2 for bad input with the reason, 1 for unusable keys. */
	struct {
		int code;
		const char *err_has;
		const char *args[16];
	} bad[] = {
	    {2, "--measurement DIGEST is required", {"id-block", "--id-key", idk}},
	    {2, "--id-key PEM is required", {"id-block", "--measurement", ld}},
	    {2,
	     "not a 48-byte launch digest",
	     {"id-block", "--measurement", "abcd", "--id-key", idk}},
	    {2,
	     "not a 48-byte launch digest",
	     {"id-block", "--measurement",
	      "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b"
	      "1c1d1e1f202122232425262728292a2b2c2d2e2f",
	      "--id-key", idk}},
	    {2,
	     "32 bytes, an SEV or SEV-ES digest",
	     {"id-block", "--measurement",
	      "0d1c2b3a495867768594a3b2c1d0e0ff0d1c2b3a495867768594a3b2c1d0e0ff", "--id-key", idk}},
	    {2,
	     "--family-id 'abcd' is not 32 hex digits",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--family-id", "abcd"}},
	    {2,
	     "--image-id-base64 'AAAA' is not 16 bytes",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--image-id-base64", "AAAA"}},
	    {2,
	     "exclusive",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--family-id",
	      "00112233445566778899aabbccddeeff", "--family-id-base64",
	      "ABEiM0RVZneImaq7zN3u/w=="}},
	    {2,
	     "--guest-svn '4294967296' is not a 32-bit number",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--guest-svn", "4294967296"}},
	    {2,
	     "lacks bit 17",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--policy", "0x10000"}},
	    {2,
	     "--policy '-1'",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--policy", "-1"}},
	    {1, "P-384", {"id-block", "--measurement", ld, "--id-key", DATA "/p256_key.pem"}},
	    {1,
	     "key is RSA",
	     {"id-block", "--measurement", ld, "--id-key", idk, "--author-key",
	      DATA "/rsa_key.pem"}},
	    {1,
	     "no PEM private key",
	     {"id-block", "--measurement", ld, "--id-key", DATA "/garbage.pem"}},
	    {1,
	     "encrypted",
	     {"id-block", "--measurement", ld, "--id-key", DATA "/encrypted_key.pem"}},
	    {1, "No such file", {"id-block", "--measurement", ld, "--id-key", DATA "/none.pem"}},
	    {1, "no PEM key found", {"key-digest", "--key", DATA "/garbage.pem"}},
	    {2, "--key PEM is required", {"key-digest"}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(snpctl("", &out, &err, bad[i].args) == bad[i].code, "case %zu: %s", i,
			      err);
		ck_assert_msg(strstr(err, bad[i].err_has), "case %zu: '%s' lacks '%s'", i, err,
			      bad[i].err_has);
		ck_assert_str_eq(out, "");
		free(out), free(err);
	}
	/* stdin that is not a launch digest. */
	const char *const bad_in[] = {
	    "", "{\"mode\":\"snp:ovmf-hash\",\"digest\":\"00\"}", "{\"digest\":5}",
	    ("Calculated SEV_ES guest measurement: "
	     "0d1c2b3a495867768594a3b2c1d0e0ff0d1c2b3a495867768594a3b2c1d0e0ff")};
	for (size_t i = 0; i < ARRAY_SIZE(bad_in); i++) {
		const char *a5[] = {"id-block", "--measurement", "-", "--id-key", idk, NULL};
		ck_assert_int_eq(snpctl(bad_in[i], &out, &err, a5), 2);
		ck_assert_ptr_nonnull(strstr(err, "--measurement"));
		free(out), free(err);
	}
	json_object_put(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snp-idblock");
	TCase *tc = tcase_create("idblock");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reference_vectors);
	tcase_add_test(tc, without_author_key);
	tcase_add_test(tc, tampered);
	tcase_add_test(tc, hostile_keys);
	tcase_add_test(tc, pubkey_roundtrip);
	tcase_add_test(tc, cli);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
