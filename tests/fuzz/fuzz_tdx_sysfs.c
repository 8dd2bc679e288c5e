/* The TDX host sysfs texts (hv/tdx.c), as a corrupt or fake tree would hold them. First byte
 * picks the parser (by value mod 5: version, u32, cpu list, fw_upload status, fw_upload
 * error), the rest is the attribute's content. Checks: a failure is -EINVAL/-ERANGE with the
 * output untouched; what is accepted is what the kernel prints: formatting the result gives
 * the input back without its single trailing newline (cpu lists: the same set again). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv/tdx.h"
#include "tests/fuzz/fuzz.h"

static size_t body_len(const char *s, size_t n)
{
	return n && s[n - 1] == '\n' ? n - 1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1, b = body_len(s, n);
	char out[HV_TDX_VERSION_STRLEN + 64];
	int r;
	switch (data[0] % 5) {
	case 0: {
		struct hv_tdx_version v = {7, 7, 7};
		r = hv_tdx_version_parse(s, n, &v);
		if (r < 0) {
			FUZZ_CHECK((r == -EINVAL || r == -ERANGE) && v.major == 7 &&
				   v.minor == 7 && v.update == 7);
			break;
		}
		hv_tdx_version_format(&v, out);
		FUZZ_CHECK(strlen(out) == b && memcmp(out, s, b) == 0);
		break;
	}
	case 1: {
		uint32_t v = 77;
		r = hv_tdx_u32_parse(s, n, UINT32_MAX, &v);
		if (r < 0) {
			FUZZ_CHECK((r == -EINVAL || r == -ERANGE) && v == 77);
			break;
		}
		snprintf(out, sizeof(out), "%u", v);
		FUZZ_CHECK(strlen(out) == b && memcmp(out, s, b) == 0);
		break;
	}
	case 2: {
		static struct hv_cpuset c, again;
		static char list[65536];
		memset(&c, 0xee, sizeof(c));
		r = hv_cpuset_parse(s, n, &c);
		if (r < 0) {
			FUZZ_CHECK(r == -EINVAL || r == -ERANGE);
			FUZZ_CHECK(c.count == 0xeeeeeeeeu);
			break;
		}
		uint32_t pop = 0;
		for (size_t i = 0; i < HV_TDX_MAX_CPUS / 64; i++)
			pop += (uint32_t)__builtin_popcountll(c.bits[i]);
		FUZZ_CHECK(pop == c.count);
		hv_cpuset_format(&c, list, sizeof(list));
		FUZZ_CHECK(hv_cpuset_parse(list, strlen(list), &again) == 0);
		FUZZ_CHECK(memcmp(&again, &c, sizeof(c)) == 0);
		break;
	}
	case 3: {
		enum hv_fw_status st = HV_FW_STATUS_UNKNOWN;
		r = hv_fw_status_parse(s, n, &st);
		if (r < 0) {
			FUZZ_CHECK(r == -EINVAL && st == HV_FW_STATUS_UNKNOWN);
			break;
		}
		const char *name = hv_fw_status_name(st);
		FUZZ_CHECK(strlen(name) == b && memcmp(name, s, b) == 0);
		break;
	}
	default: {
		struct hv_fw_error e = {.failed = true, .at = HV_FW_PROGRAMMING,
					.code = HV_FW_ERR_TIMEOUT};
		r = hv_fw_error_parse(s, n, &e);
		if (r < 0) {
			FUZZ_CHECK(r == -EINVAL && e.failed && e.at == HV_FW_PROGRAMMING &&
				   e.code == HV_FW_ERR_TIMEOUT);
			break;
		}
		if (!e.failed) {
			FUZZ_CHECK(b == 0);
			break;
		}
		FUZZ_CHECK(e.code != HV_FW_ERR_NONE);
		int k = snprintf(out, sizeof(out), "%s:%s", hv_fw_status_name(e.at),
				 hv_fw_err_name(e.code));
		FUZZ_CHECK((size_t)k == b && memcmp(out, s, b) == 0);
		break;
	}
	}
	return 0;
}
