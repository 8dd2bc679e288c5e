/* The host-side check of a VLEK hashstick before SNP_VLEK_LOAD: certmgr_hashstick_check()
 * (sevd/certmgr.c) on untrusted bytes (POST /v1/snp/vlek). Byte 0 picks the product (mod 3),
 * the rest is the hashstick. Checks: 0 or -EINVAL only; success exactly when the size is 432,
 * the reserved bytes 0x00C-0x00F and 0x198-0x19F are zero and the TCB at 0x190 decodes for
 * the product, and then the TCB returned is the little-endian u64 at 0x190; the output is
 * untouched on failure. */
#include <errno.h>
#include <string.h>

#include "coco/endian.h"
#include "sevd/certmgr.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const enum snp_product products[] = {SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA,
						    SNP_PRODUCT_TURIN};
	enum snp_product p = products[data[0] % 3];
	const uint8_t *hs = data + 1;
	size_t len = size - 1;
	uint64_t tcb = 0x5a5a5a5a5a5a5a5aull;
	char err[160];
	int r = certmgr_hashstick_check(hs, len, p, &tcb, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	bool want = len == CERTMGR_HASHSTICK_SIZE;
	for (size_t i = 0x00C; want && i < 0x010; i++)
		want = hs[i] == 0;
	for (size_t i = 0x198; want && i < 0x1A0; i++)
		want = hs[i] == 0;
	struct snp_tcb t;
	if (want)
		want = snp_tcb_decode(p, get_le64(hs + CERTMGR_HASHSTICK_TCB_OFF), &t) == 0;
	FUZZ_CHECK((r == 0) == want);
	if (r == 0)
		FUZZ_CHECK(tcb == get_le64(hs + CERTMGR_HASHSTICK_TCB_OFF));
	else
		FUZZ_CHECK(tcb == 0x5a5a5a5a5a5a5a5aull && err[0]);
	return 0;
}
