/* TDREPORTs as a TD hands them in: the input is the TDREPORT_STRUCT. Checks: parse either
 * succeeds (1024 bytes, type 0x81, reserved bytes zero) with fields at their offsets, or fails
 * with -EBADMSG and a message, output untouched; the JSON renders and reference checks with no
 * reference values skip every value check. */
#include <errno.h>
#include <string.h>

#include "attest/tdx_report.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_tdreport t, keep;
	char err[256] = "";
	memset(&t, 0x5a, sizeof(t));
	keep = t;
	int r = tdx_tdreport_parse(data, size, &t, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && err[0]);
		FUZZ_CHECK(memcmp(&t, &keep, sizeof(t)) == 0);
		return 0;
	}
	FUZZ_CHECK(size == TDX_TDREPORT_SIZE && data[0] == TDX_TEE_TYPE_TDX);
	FUZZ_CHECK(memcmp(t.body.report_data, data + 128, 64) == 0);
	FUZZ_CHECK(memcmp(t.body.mrseam, data + 256 + 24, 48) == 0);
	FUZZ_CHECK(memcmp(t.body.mrtd, data + 512 + 16, 48) == 0);
	json_object *j = tdx_tdreport_json(&t);
	FUZZ_CHECK(j && json_object_to_json_string(j));
	json_object_put(j);
	struct tdx_reference ref = {0};
	struct attest_result res = {0};
	tdx_check_reference(&t.body, &ref, false, &res);
	FUZZ_CHECK(!attest_first_failure(&res));
	return 0;
}
