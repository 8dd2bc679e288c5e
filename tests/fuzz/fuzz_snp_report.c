/* SEV-SNP attestation reports as a guest or a control plane hands them in: the input is the
 * report. Checks: parse either succeeds (1184 bytes, version 2/3/5, reserved bytes zero) with
 * the raw bytes kept as given, or fails with -EBADMSG and a message, output untouched; the
 * JSON renders; the verifier without certificates never says verified and names every check
 * exactly once. */
#include <errno.h>
#include <string.h>

#include "attest/snp_verify.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snp_report rep, keep;
	char err[256] = "";
	memset(&rep, 0x5a, sizeof(rep));
	keep = rep;
	int r = snp_report_parse(data, size, &rep, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && err[0]);
		FUZZ_CHECK(memcmp(&rep, &keep, sizeof(rep)) == 0);
	} else {
		FUZZ_CHECK(size == SNP_REPORT_SIZE && memcmp(rep.raw, data, size) == 0);
		FUZZ_CHECK(rep.version == 2 || rep.version == 3 || rep.version == 5);
		FUZZ_CHECK(rep.has_cpuid == (rep.version >= 3));
		json_object *j = snp_report_json(&rep, snp_report_product(&rep));
		FUZZ_CHECK(j && json_object_to_json_string(j));
		json_object_put(j);
	}
	static struct attest_result res;
	struct snp_verify_input in = {.report = data, .report_len = size, .now = 1767225600};
	snp_verify(&in, &res);
	FUZZ_CHECK(!attest_ok(&res));
	FUZZ_CHECK(attest_find(&res, "report.format"));
	for (size_t i = 0; i < res.n; i++)
		for (size_t k = i + 1; k < res.n; k++)
			FUZZ_CHECK(strcmp(res.checks[i].name, res.checks[k].name) != 0);
	return 0;
}
