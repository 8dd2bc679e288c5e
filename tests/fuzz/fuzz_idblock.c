/* SNP ID block and ID_AUTH_INFO as an untrusted client or guest owner hands them in: the input
 * is an ID block (0x60 bytes), then an ID_AUTH_INFO (up to 0x1000 bytes), then a PEM key.
 * Checks: parse/verify/decode never crash and report errors with messages; a verified
 * ID_AUTH_INFO's ID key digest equals SHA-384 of its ID_KEY field; decode accepts only what
 * re-encodes to the same coordinates. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "coco/snp/idblock.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t blen = size < SNP_ID_BLOCK_SIZE ? size : SNP_ID_BLOCK_SIZE;
	const uint8_t *auth = data + blen;
	size_t alen = size - blen < SNP_ID_AUTH_SIZE ? size - blen : SNP_ID_AUTH_SIZE;
	const uint8_t *pem = auth + alen;
	size_t plen = size - blen - alen;

	struct snp_id_block_fields f;
	err[0] = '\0';
	int r = snp_id_block_parse(data, blen, &f, err, sizeof(err));
	if (r == 0) {
		uint8_t again[SNP_ID_BLOCK_SIZE];
		snp_id_block_build(&f, again);
		FUZZ_CHECK(blen == SNP_ID_BLOCK_SIZE && memcmp(again, data, blen) == 0);
	} else {
		FUZZ_CHECK(r == -EINVAL && err[0]);
	}

	for (int author = 0; author < 2; author++) {
		struct snp_id_auth_verified v;
		err[0] = '\0';
		r = snp_id_auth_verify(data, blen, auth, alen, author, &v, err, sizeof(err));
		if (r == 0) {
			uint8_t d[SNP_LD_SIZE];
			SHA384(auth + SNP_ID_AUTH_ID_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE, d);
			FUZZ_CHECK(memcmp(d, v.id_key_digest, SNP_LD_SIZE) == 0);
			FUZZ_CHECK(v.author_key == (bool)author);
		} else {
			FUZZ_CHECK((r == -EINVAL || r == -EBADMSG || r == -ENOMEM) && err[0]);
		}
	}

	if (alen >= SNP_ID_AUTH_ID_KEY_OFF + SNP_ECDSA_PUBKEY_SIZE) {
		EVP_PKEY *k = NULL;
		r = snp_id_pubkey_decode(auth + SNP_ID_AUTH_ID_KEY_OFF, &k, err, sizeof(err));
		if (r == 0) {
			uint8_t enc[SNP_ECDSA_PUBKEY_SIZE];
			FUZZ_CHECK(snp_id_key_encode(k, enc, err, sizeof(err)) == 0);
			/* Curve and both coordinates survive the round trip; reserved bytes are
			 * not part of the key. */
			const uint8_t *in = auth + SNP_ID_AUTH_ID_KEY_OFF;
			FUZZ_CHECK(memcmp(enc, in, SNP_ECDSA_PUBKEY_QY_OFF + SNP_ECDSA_COORD_SIZE) == 0);
			EVP_PKEY_free(k);
		}
	}

	if (plen) {
		EVP_PKEY *k = NULL;
		r = snp_id_key_from_pem(pem, plen, false, &k, err, sizeof(err));
		if (r == 0) {
			uint8_t d[SNP_LD_SIZE];
			FUZZ_CHECK(snp_id_key_digest(k, d, err, sizeof(err)) == 0);
			EVP_PKEY_free(k);
		}
	}
	return 0;
}
