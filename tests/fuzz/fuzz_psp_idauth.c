/* The emulated PSP's check of SNP_LAUNCH_FINISH's ID block and ID_AUTH_INFO (hv/emul/
 * psp_idauth.c), which a VMM hands in: an ID block (first 0x60 bytes), then an ID_AUTH_INFO
 * (next 0x1000 bytes, zero-padded when the input is shorter; the corpus of fuzz_idblock fits).
 * Checks, with and without the author key: the result is 0, a SEV_RET_* the firmware uses for
 * it (INVALID_PARAM, BAD_SIGNATURE) or -ENOMEM; on success ID_KEY_DIGEST is SHA-384 of the
 * ID_KEY field and AUTHOR_KEY_DIGEST that of AUTHOR_KEY (zero without it); and the verdict is
 * the one coco/snp/idblock.c, written separately, reaches on the same bytes. */
#include <errno.h>
#include <openssl/sha.h>
#include <string.h>

#include "coco/snp/idblock.h"
#include "hv/emul/psp_priv.h"
#include "hv/uapi/sev_compat.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[SNP_ID_BLOCK_SIZE + SNP_ID_AUTH_SIZE];
	const uint8_t *block = buf, *auth = buf + SNP_ID_BLOCK_SIZE;
	char err[256];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < sizeof(buf) ? size : sizeof(buf));
	for (int author = 0; author < 2; author++) {
		uint8_t idd[48], ad[48], want[48], zero[48] = {0};
		int r = psp_id_auth_check(block, auth, author, idd, ad);
		FUZZ_CHECK(r == 0 || r == HV_SEV_RET_INVALID_PARAM ||
			   r == HV_SEV_RET_BAD_SIGNATURE || r == -ENOMEM);
		if (r == 0) {
			SHA384(auth + SNP_ID_AUTH_ID_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE, want);
			FUZZ_CHECK(memcmp(idd, want, 48) == 0);
			if (author)
				SHA384(auth + SNP_ID_AUTH_AUTHOR_KEY_OFF, SNP_ECDSA_PUBKEY_SIZE,
				       want);
			FUZZ_CHECK(memcmp(ad, author ? want : zero, 48) == 0);
		}
		struct snp_id_auth_verified v;
		int c = snp_id_auth_verify(block, SNP_ID_BLOCK_SIZE, auth, SNP_ID_AUTH_SIZE, author,
					   &v, err, sizeof(err));
		if (r != -ENOMEM && c != -ENOMEM)
			FUZZ_CHECK((r == 0) == (c == 0));
		if (r == 0 && c == 0)
			FUZZ_CHECK(memcmp(v.id_key_digest, idd, 48) == 0);
	}
	return 0;
}
