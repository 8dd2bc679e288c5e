/* TDX module blobs as an operator's module directory or an upload hands them in: the input is
 * a blob. Checks: parse either succeeds with a self-consistent layout or fails with -EINVAL /
 * -EBADMSG and a message, leaving its output untouched; the seamhash check agrees with
 * SHA-384 of the module; v1 -> v2 keeps the payload and parses again to the same sigstruct.
 * The input is also tried with its checksum repaired, so that the fuzzer gets past it. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "coco/tdx/blob.h"
#include "tests/fuzz/fuzz.h"

static void one(const uint8_t *data, size_t size)
{
	char err[256];
	struct tdx_blob b, keep;
	memset(&b, 0x5a, sizeof(b));
	keep = b;
	err[0] = '\0';
	int r = tdx_blob_parse(data, size, &b, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK((r == -EINVAL || r == -EBADMSG) && err[0]);
		FUZZ_CHECK(memcmp(&b, &keep, sizeof(b)) == 0);
		return;
	}
	FUZZ_CHECK(b.version == TDX_BLOB_V1 || b.version == TDX_BLOB_V2);
	FUZZ_CHECK(b.size == size && tdx_blob_sum16(data, size) == 0);
	FUZZ_CHECK(b.sigstruct_off == TDX_SIGSTRUCT_OFF && b.sigstruct_len >= TDX_BLOB_PAGE);
	FUZZ_CHECK(b.sigstruct_off + b.sigstruct_len == b.module_off);
	FUZZ_CHECK(b.module_len > 0 && b.module_off + b.module_len == size);
	FUZZ_CHECK(b.sig.cpuid_count <= TDX_SIGSTRUCT_MAX_CPUID);
	FUZZ_CHECK(b.sig.debug == ((b.sig.module_type >> 31) & 1));

	uint8_t md[48], want[48];
	SHA384(data + b.module_off, b.module_len, want);
	r = tdx_blob_verify(data, &b, md, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == (memcmp(want, b.sig.seamhash, 48) == 0));
	if (r == 0)
		FUZZ_CHECK(memcmp(md, want, 48) == 0);

	uint8_t *v2 = NULL;
	size_t n2 = 0;
	r = tdx_blob_to_v2(data, &b, &v2, &n2, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && err[0]);
		return;
	}
	struct tdx_blob b2;
	FUZZ_CHECK(n2 == size && memcmp(v2 + TDX_BLOB_HEADER_SIZE, data + TDX_BLOB_HEADER_SIZE,
					size - TDX_BLOB_HEADER_SIZE) == 0);
	FUZZ_CHECK(tdx_blob_parse(v2, n2, &b2, err, sizeof(err)) == 0);
	FUZZ_CHECK(b2.version == TDX_BLOB_V2 && b2.module_off == b.module_off &&
		   b2.module_len == b.module_len);
	FUZZ_CHECK(memcmp(&b2.sig, &b.sig, sizeof(b.sig)) == 0);
	free(v2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size >= 4 && size <= TDX_BLOB_MAX_SIZE) {
		uint8_t *c = malloc(size);
		if (!c)
			return 0;
		memcpy(c, data, size);
		c[2] = c[3] = 0;
		uint16_t s = (uint16_t)(0x10000u - tdx_blob_sum16(c, size));
		c[2] = (uint8_t)s;
		c[3] = (uint8_t)(s >> 8);
		one(c, size);
		free(c);
	}
	struct tdx_sigstruct sig;
	char err[128];
	int r = tdx_sigstruct_parse(data, size, &sig, err, sizeof(err));
	FUZZ_CHECK(r == 0 || (r == -EINVAL && err[0]));
	if (r == 0)
		FUZZ_CHECK(sig.cpuid_count <= TDX_SIGSTRUCT_MAX_CPUID);
	return 0;
}
