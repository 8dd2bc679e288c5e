/* base64_decode() (coco/util.c): the strict decoder of base64 members in API bodies (VLEK
 * hashsticks, imported certificates, reports to verify). Checks: 0 or -EINVAL only; on
 * success the input is canonical: encoding the output gives the input back byte for byte;
 * outputs untouched on failure. */
#include <errno.h>
#include <string.h>

#include "coco/util.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = (uint8_t *)0x1;
	size_t n = 77;
	int r = base64_decode((const char *)data, size, &out, &n);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_CHECK(out == (uint8_t *)0x1 && n == 77);
		return 0;
	}
	FUZZ_CHECK(n <= size / 4 * 3);
	char *e = base64_encode(out, n);
	FUZZ_CHECK(e && strlen(e) == size && memcmp(e, data, size) == 0);
	free(e);
	free(out);
	return 0;
}
