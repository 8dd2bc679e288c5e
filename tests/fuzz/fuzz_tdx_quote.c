/* TDX quotes (DCAP v4/v5) as a TD or a control plane hands them in: the input is the quote.
 * Checks: parse either succeeds with a body type and size that belong together (v4: 584; v5:
 * type 2 584, type 3 648), the signature data exactly filling the rest, or fails with
 * -EBADMSG and a message, output untouched; the JSON always says the signature is not
 * verified. */
#include <errno.h>
#include <string.h>

#include "attest/tdx_report.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q, keep;
	char err[256] = "";
	memset(&q, 0x5a, sizeof(q));
	keep = q;
	int r = tdx_quote_parse(data, size, &q, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && err[0]);
		FUZZ_CHECK(memcmp(&q, &keep, sizeof(q)) == 0);
		return 0;
	}
	FUZZ_CHECK(q.version == 4 || q.version == 5);
	FUZZ_CHECK(q.tee_type == TDX_TEE_TYPE_TDX);
	FUZZ_CHECK((q.body_type == 2 && q.body_size == TDX_QUOTE_BODY_V4_SIZE) ||
		   (q.body_type == 3 && q.body_size == TDX_QUOTE_BODY_15_SIZE && q.version == 5));
	FUZZ_CHECK(q.sig_data_off + q.sig_data_len == size);
	size_t body_off = TDX_QUOTE_HEADER_SIZE + (q.version == 5 ? 6 : 0);
	FUZZ_CHECK(q.sig_data_off == body_off + q.body_size + 4);
	FUZZ_CHECK(memcmp(q.body.mrtd, data + body_off + 136, 48) == 0);
	json_object *j = tdx_quote_json(&q);
	FUZZ_CHECK(!json_object_get_boolean(json_object_object_get(j, "signature_verified")));
	json_object_put(j);
	return 0;
}
