/* POST /v1/attestation/verify on the real daemon (emulated platform): SEV-SNP reports with
 * certificates from the body or the daemon's cache (the emulated root trusted only by
 * configuration), a 422 naming what is missing, TDX quotes whose signature is said not to be
 * verified, and hostile bodies. Vectors: AMD's real Genoa report and chain (tests/data/snp), a
 * report signed by an emulated PSP on the daemon's own state directory (same identity and
 * keys), the quote seeds of tests/fuzz/corpus. */
#include <check.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "harness.h"
#include "hv/emul/psp.h"
#include "tests/check_main.h"

static struct daemon d;
static void teardown(void) { daemon_cleanup(&d); }

static json_object *verify_post(const char *body, long want)
{
	return http_json(&d, "POST", "/v1/attestation/verify", NULL, body, 0, want);
}

static char *b64_file(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SOURCE_DIR, rel);
	char *buf;
	size_t len;
	ck_assert_int_eq(read_file_max(path, 1 << 20, &buf, &len), 0);
	char *b = base64_encode((uint8_t *)buf, len);
	free(buf);
	return b;
}

/* A PEM file as a JSON string value (newlines escaped). */
static char *pem_json(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SOURCE_DIR, rel);
	char *buf;
	size_t len;
	ck_assert_int_eq(read_file_max(path, 1 << 20, &buf, &len), 0);
	json_object *s = json_object_new_string(buf);
	char *out = strdup(json_object_to_json_string(s));
	json_object_put(s);
	free(buf);
	return out;
}

/* A report from an emulated PSP on the daemon's state directory: same chip, TCB and keys. */
static char *emulated_report(void)
{
	char state[128];
	snprintf(state, sizeof(state), "%s/state", d.dir);
	struct emul_psp *psp;
	struct emul_psp_config cfg = {.state_dir = state};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	uint32_t h, fw;
	uint8_t rep[EMUL_SNP_REPORT_SIZE], rd[64] = {0xab};
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000, NULL, &h, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, NULL, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, rd, 0, rep, &fw), 0);
	emul_psp_free(psp);
	return base64_encode(rep, sizeof(rep));
}

START_TEST(snp_reports)
{
	daemon_config(&d, "kds_base_url = emulated\nsnp_trust_emulated_root = yes\n");
	daemon_start(&d);
	daemon_wait_cert_table(&d);
	char body[16384];
	_cleanup_free_ char *genoa = b64_file("tests/data/snp/reports/genoa/report.bin");
	_cleanup_free_ char *vcek = b64_file("tests/data/snp/reports/genoa/vcek.der");
	_cleanup_free_ char *ask = pem_json("tests/data/snp/amd/genoa/ask.pem");
	_cleanup_free_ char *ark = pem_json("tests/data/snp/amd/genoa/ark.pem");

	/* AMD's real report with its chain in the body: verified, every check named. */
	snprintf(body, sizeof(body),
		 "{\"report\": \"%s\", \"certs\": {\"vcek\": \"%s\", \"ask\": %s, \"ark\": %s},"
		 " \"policy\": {\"forbid_debug\": true, \"min_tcb\": {\"snp\": 20}}}",
		 genoa, vcek, ask, ark);
	json_object *j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "type"), "sev-snp");
	ck_assert_str_eq(json_path(j, "result.verified"), "true");
	ck_assert_str_eq(json_path(j, "report.product"), "Genoa");
	json_object_put(j);
	/* The same with a measurement that is not the report's: 200, verified false, named. */
	snprintf(body, sizeof(body),
		 "{\"report\": \"%s\", \"certs\": {\"vcek\": \"%s\", \"ask\": %s, \"ark\": %s},"
		 " \"policy\": {\"measurement\": \"%096d\"}}",
		 genoa, vcek, ask, ark, 0);
	j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "result.verified"), "false");
	ck_assert_str_eq(json_path(j, "result.first_failure"), "policy.measurement");
	json_object_put(j);
	/* Only the VCEK in the body: ARK and ASK come from the cache, which holds this host's
	 * (emulated) chain: the real VCEK is not signed by that ASK. */
	snprintf(body, sizeof(body), "{\"report\": \"%s\", \"certs\": {\"vcek\": \"%s\"}}", genoa,
		 vcek);
	j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "result.verified"), "false");
	ck_assert_str_eq(json_path(j, "result.first_failure"), "chain.vek");
	json_object_put(j);
	/* No certificates and no fetching: this chip's VCEK is not cached: 422 naming it. */
	snprintf(body, sizeof(body), "{\"report\": \"%s\", \"fetch\": false}", genoa);
	j = verify_post(body, 422);
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "vcek (Genoa hwid d2421d97"));
	json_object_put(j);
	json_object_put(verify_post("{\"report\": \"AAAA\", \"fetch\": 1}", 422));
	/* Fetched on the miss: the daemon's KDS (the emulated one here) issues a VCEK for this
	 * chip id and TCB, which passes the chain checks (emulated root trusted by
	 * configuration) but did not sign AMD's real report. */
	snprintf(body, sizeof(body), "{\"report\": \"%s\"}", genoa);
	j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "result.verified"), "false");
	ck_assert_msg(streq(json_path(j, "result.first_failure"), "report.signature"), "%s",
		      json_object_to_json_string(j));
	json_object_put(j);

	/* This host's own (emulated) report: everything from the cache, the emulated root
	 * trusted by configuration. */
	_cleanup_free_ char *emu = emulated_report();
	snprintf(body, sizeof(body),
		 "{\"report\": \"%s\", \"policy\": {\"report_data\": \"ab%0126d\", \"vmpl\": 0}}",
		 emu, 0);
	j = verify_post(body, 200);
	ck_assert_msg(streq(json_path(j, "result.verified"), "true"), "%s",
		      json_object_to_json_string(j));
	json_object_put(j);

	/* Hostile bodies. */
	json_object_put(verify_post("{}", 422));
	json_object_put(verify_post("{\"report\": \"AAAA\", \"quote\": \"AAAA\"}", 422));
	json_object_put(verify_post("{\"report\": \"not base64!\"}", 422));
	json_object_put(verify_post("{\"report\": \"AAAA\"}", 422)); /* 3 bytes: not a report */
	json_object_put(verify_post("{\"report\": 5}", 422));
	json_object_put(verify_post("{\"reprot\": \"AAAA\"}", 422));
	snprintf(body, sizeof(body), "{\"report\": \"%s\", \"policy\": {\"vmpl\": -1}}", emu);
	json_object_put(verify_post(body, 422));
	snprintf(body, sizeof(body), "{\"report\": \"%s\", \"policy\": {\"measurement\": \"00\"}}",
		 emu);
	json_object_put(verify_post(body, 422));
	snprintf(body, sizeof(body), "{\"report\": \"%s\", \"certs\": {\"vcek\": \"AAAA\"}}", emu);
	j = verify_post(body, 422);
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "certs.vcek"));
	json_object_put(j);
}
END_TEST

START_TEST(emulated_root_untrusted)
{
	daemon_config(&d, "kds_base_url = emulated\n");
	daemon_start(&d);
	_cleanup_free_ char *emu = emulated_report();
	char body[4096];
	snprintf(body, sizeof(body), "{\"report\": \"%s\"}", emu);
	/* Not trusted: nothing of the emulated chain was cached, so nothing to verify against. */
	json_object *j = verify_post(body, 422);
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "ark"));
	json_object_put(j);
}
END_TEST

START_TEST(tdx_quotes)
{
	daemon_config(&d, "");
	daemon_start(&d);
	_cleanup_free_ char *q = b64_file("tests/fuzz/corpus/tdx_quote/v5-td15.bin");
	char body[8192];
	snprintf(body, sizeof(body),
		 "{\"quote\": \"%s\", \"reference\": {\"mrtd\": \"%s\", \"rtmr\": [null, null, "
		 "null, null]}}",
		 q,
		 "222222222222222222222222222222222222222222222222222222222222222222222222222222"
		 "222222222222222222");
	json_object *j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "type"), "tdx-quote");
	ck_assert_str_eq(json_path(j, "quote.signature_verified"), "false");
	ck_assert_str_eq(json_path(j, "result.verified"), "false");
	ck_assert_str_eq(json_path(j, "result.reference_checks_passed"), "true");
	json_object_put(j);
	snprintf(body, sizeof(body), "{\"quote\": \"%s\", \"reference\": {\"known_mrseam\": [\"%096d\"]}}",
		 q, 0);
	j = verify_post(body, 200);
	ck_assert_str_eq(json_path(j, "result.reference_checks_passed"), "false");
	ck_assert_str_eq(json_path(j, "result.first_failure"), "tdx.mrseam");
	json_object_put(j);
	_cleanup_free_ char *sgx = b64_file("tests/fuzz/corpus/tdx_quote/v5-sgx.bin");
	snprintf(body, sizeof(body), "{\"quote\": \"%s\"}", sgx);
	json_object_put(verify_post(body, 422));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attest_api");
	TCase *tc = tcase_create("verify");
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, snp_reports);
	tcase_add_test(tc, emulated_root_untrusted);
	tcase_add_test(tc, tdx_quotes);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
