/* /v1/guests on the real daemon (emulated platform): an SEV-SNP and a TDX guest launched with
 * their expected measurements, the evidence (host-requested SNP report, TDREPORT) verified by
 * POST /v1/attestation/verify with the guest's reference values, a wrong measurement failing the
 * named check, hostile bodies refused with nothing stored, and guests surviving a restart.
 * Inputs: the AmdSev OVMF fixture (tests/data/snp/firmware), a synthetic TDVF (tdvf_synth), and
 * generated kernel/initrd bytes. The expected SNP digest is cross-checked with
 * POST /v1/snp/measurements, the MRTD with coco's tdvf_mrtd; the firmware (emulated PSP, TDX
 * module) computes its own from what the launch fed it. */
#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coco/endian.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "harness.h"
#include "tests/check_main.h"

#define FW SOURCE_DIR "/tests/data/snp/firmware"
/* SNP ABI 1.57, table 23 (ATTESTATION_REPORT): VMPL at 0x30, MEASUREMENT at 0x90, HOST_DATA at
 * 0xC0. TDREPORT_STRUCT: MRTD at 512 + 16. */
#define REPORT_VMPL 0x30
#define REPORT_MEASUREMENT 0x90
#define REPORT_HOST_DATA 0xc0
#define TDREPORT_MRTD 528

static struct daemon d;
static void teardown(void) { daemon_cleanup(&d); }

static void write_bytes(const char *name, const uint8_t *b, size_t n)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/images/%s", d.dir, name);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

static uint8_t tdvf_mrtd_want[48];

/* images/: ovmf.fd (AmdSev fixture), vmlinuz and initrd.img (generated), tdvf.fd. */
static void setup_images(void)
{
	daemon_config(&d, "image_dir = %DIR%/images\nkds_base_url = emulated\n"
			  "snp_trust_emulated_root = yes\n");
	char dir[192], cmd[512];
	snprintf(dir, sizeof(dir), "%s/images", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/ovmf_AmdSev_suffix.bin' '%s/ovmf.fd'", FW, dir);
	ck_assert_int_eq(system(cmd), 0);
	uint8_t k[20000], i[3000];
	for (size_t x = 0; x < sizeof(k); x++)
		k[x] = (uint8_t)(x * 7 + 1);
	for (size_t x = 0; x < sizeof(i); x++)
		i[x] = (uint8_t)(x * 13 + 5);
	write_bytes("vmlinuz", k, sizeof(k));
	write_bytes("initrd.img", i, sizeof(i));
	uint8_t *td;
	ck_assert_int_eq(tdvf_synth(256 * 1024, 7, true, &td), 0);
	write_bytes("tdvf.fd", td, 256 * 1024);
	struct tdvf t;
	char err[128];
	ck_assert_int_eq(tdvf_parse(td, 256 * 1024, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(tdvf_mrtd(&t, TDVF_SINGLE_PASS, tdvf_mrtd_want, err, sizeof(err)), 0);
	free(td);
}

static const char snp_body[] =
	"{\"name\":\"snp-1\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\","
	"\"initrd\":\"initrd.img\",\"cmdline\":\"console=ttyS0\",\"vcpus\":2,"
	"\"vcpu_type\":\"EPYC-Milan\",\"policy\":\"0x30000\",\"memory_mib\":512,"
	"\"host_data\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}";
static const char tdx_body[] =
	"{\"name\":\"td-1\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\",\"vcpus\":2,"
	"\"policy\":268435456,\"mrconfigid\":\"%096d\"}";

static json_object *get(const char *path, long want)
{
	return http_json(&d, "GET", path, NULL, NULL, 0, want);
}

/* POST /v1/guests; 201 and the guest's id. */
static void launch(const char *body, char id[37])
{
	json_object *j = http_json(&d, "POST", "/v1/guests", NULL, body, 0, 201);
	ck_assert_str_eq(json_path(j, "state"), "running");
	ck_assert_uint_eq(strlen(json_path(j, "id")), 36);
	memcpy(id, json_path(j, "id"), 37);
	json_object_put(j);
}

static uint8_t *b64_path(json_object *j, const char *path, size_t want_len)
{
	const char *s = json_path(j, path);
	ck_assert_ptr_nonnull(s);
	uint8_t *b;
	size_t n;
	ck_assert_int_eq(base64_decode(s, strlen(s), &b, &n), 0);
	ck_assert_uint_eq(n, want_len);
	return b;
}

/* The launched SNP guest: host report -> verify with its reference values. */
static void snp_evidence(const char *id, const char *expected)
{
	char path[160], body[16384];
	snprintf(path, sizeof(path), "/v1/snp/reports/host?guest=%s", id);
	json_object *rep = get(path, 200);
	_cleanup_free_ uint8_t *raw = b64_path(rep, "report", 1184);
	char hex[97];
	hex_encode(raw + REPORT_MEASUREMENT, 48, hex);
	ck_assert_str_eq(hex, expected);
	hex_encode(raw + REPORT_HOST_DATA, 32, hex);
	ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	ck_assert_uint_eq(get_le32(raw + REPORT_VMPL), 0xffffffffu); /* host-requested */

	snprintf(path, sizeof(path), "/v1/guests/%s/reference-values", id);
	json_object *ref = get(path, 200);
	ck_assert_str_eq(json_path(ref, "measurement"), expected);
	ck_assert_str_eq(json_path(ref, "policy"), "0x0000000000030000");
	ck_assert_int_eq(json_object_array_length(json_object_object_get(ref, "certs_missing")), 0);
	json_object *certs = json_object_object_get(ref, "certs");
	json_object *pol = json_object_object_get(ref, "verify_policy");
	snprintf(body, sizeof(body), "{\"report\":\"%s\",\"certs\":%s,\"policy\":%s}",
		 json_path(rep, "report"), json_object_to_json_string(certs),
		 json_object_to_json_string(pol));
	json_object *v = http_json(&d, "POST", "/v1/attestation/verify", NULL, body, 0, 200);
	ck_assert_msg(streq(json_path(v, "result.verified"), "true"), "%s",
		      json_object_to_json_string(v));
	json_object_put(v);
	/* A measurement that is not this guest's: the named check fails. */
	snprintf(body, sizeof(body),
		 "{\"report\":\"%s\",\"certs\":%s,\"policy\":{\"measurement\":\"%096d\"}}",
		 json_path(rep, "report"), json_object_to_json_string(certs), 0);
	v = http_json(&d, "POST", "/v1/attestation/verify", NULL, body, 0, 200);
	ck_assert_str_eq(json_path(v, "result.verified"), "false");
	ck_assert_str_eq(json_path(v, "result.first_failure"), "policy.measurement");
	json_object_put(v);
	json_object_put(ref);
	json_object_put(rep);
}

/* The launched TD: TDREPORT -> reference checks with its MRTD and report_data. */
static void tdx_evidence(const char *id, const char *expected)
{
	char path[256], body[8192], rd[129];
	memset(rd, 'c', 128);
	rd[128] = '\0';
	snprintf(path, sizeof(path), "/v1/guests/%s/tdreport?report_data=%s", id, rd);
	json_object *rep = get(path, 200);
	_cleanup_free_ uint8_t *raw = b64_path(rep, "tdreport", 1024);
	char hex[97];
	hex_encode(raw + TDREPORT_MRTD, 48, hex);
	ck_assert_str_eq(hex, expected);
	snprintf(path, sizeof(path), "/v1/guests/%s/reference-values", id);
	json_object *ref = get(path, 200);
	ck_assert_str_eq(json_path(ref, "mrtd"), expected);
	ck_assert_str_eq(json_path(ref, "attributes"), "0x0000000010000000");
	snprintf(body, sizeof(body),
		 "{\"quote\":\"%s\",\"reference\":{\"mrtd\":\"%s\",\"report_data\":\"%s\"}}",
		 json_path(rep, "tdreport"), json_path(ref, "verify_reference.mrtd"), rd);
	json_object *v = http_json(&d, "POST", "/v1/attestation/verify", NULL, body, 0, 200);
	ck_assert_msg(streq(json_path(v, "result.reference_checks_passed"), "true"), "%s",
		      json_object_to_json_string(v));
	json_object_put(v);
	snprintf(body, sizeof(body), "{\"quote\":\"%s\",\"reference\":{\"mrtd\":\"%096d\"}}",
		 json_path(rep, "tdreport"), 0);
	v = http_json(&d, "POST", "/v1/attestation/verify", NULL, body, 0, 200);
	ck_assert_str_eq(json_path(v, "result.reference_checks_passed"), "false");
	ck_assert_str_eq(json_path(v, "result.first_failure"), "tdx.mrtd");
	json_object_put(v);
	json_object_put(ref);
	json_object_put(rep);
}

static void expected_of(const char *id, const char *key, char out[97])
{
	char path[96];
	snprintf(path, sizeof(path), "/v1/guests/%s", id);
	json_object *j = get(path, 200);
	ck_assert_str_eq(json_path(j, "state"), "running");
	snprintf(out, 97, "%s", json_path(j, key));
	json_object_put(j);
}

START_TEST(round_trips_and_restart)
{
	setup_images();
	daemon_start(&d);
	daemon_wait_cert_table(&d);
	char snp_id[37], td_id[37], snp_exp[97], td_exp[97], body[512];
	launch(snp_body, snp_id);
	expected_of(snp_id, "expected_measurement", snp_exp);
	/* The same inputs through the measurement API give the same digest. */
	json_object *m = http_json(&d, "POST", "/v1/snp/measurements", NULL,
				   "{\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\","
				   "\"initrd\":\"initrd.img\",\"cmdline\":\"console=ttyS0\","
				   "\"vcpus\":2,\"vcpu_type\":\"EPYC-Milan\"}",
				   0, 200);
	ck_assert_str_eq(json_path(m, "digest"), snp_exp);
	json_object_put(m);
	snp_evidence(snp_id, snp_exp);

	snprintf(body, sizeof(body), tdx_body, 0);
	launch(body, td_id);
	expected_of(td_id, "expected_mrtd", td_exp);
	char want[97];
	hex_encode(tdvf_mrtd_want, 48, want);
	ck_assert_str_eq(td_exp, want);
	tdx_evidence(td_id, td_exp);

	/* The name is unique: 409, and still two guests. */
	json_object *j = http_json(&d, "POST", "/v1/guests", NULL, snp_body, 0, 409);
	json_object_put(j);
	/* A TDX guest's evidence is not an SNP host report. */
	snprintf(body, sizeof(body), "/v1/snp/reports/host?guest=%s", td_id);
	json_object_put(get(body, 422));
	json_object_put(get("/v1/snp/reports/host?guest=00000000-0000-4000-8000-000000000000",
			    404));
	snprintf(body, sizeof(body), "/v1/snp/reports/host?guest=%s&report_data=%0128d", snp_id,
		 1);
	json_object_put(get(body, 422));

	/* Restart: both guests relaunched, same expected measurements, evidence still good. */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	daemon_start(&d);
	j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 2);
	json_object_put(j);
	char again[97];
	expected_of(snp_id, "expected_measurement", again);
	ck_assert_str_eq(again, snp_exp);
	expected_of(td_id, "expected_mrtd", again);
	ck_assert_str_eq(again, td_exp);
	daemon_wait_cert_table(&d);
	snp_evidence(snp_id, snp_exp);
	tdx_evidence(td_id, td_exp);

	/* DELETE: gone from the list and from the evidence routes. */
	snprintf(body, sizeof(body), "/v1/guests/%s", snp_id);
	struct reply r;
	http(&d, "DELETE", body, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	reply_free(&r);
	json_object_put(get(body, 404));
	http(&d, "DELETE", body, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	reply_free(&r);
	j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 1);
	json_object_put(j);

	/* The TDVF changed on disk while cocod was down: the relaunch measures something else,
	 * so the guest is failed (with both values), not silently running another image. */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	uint8_t *other;
	ck_assert_int_eq(tdvf_synth(256 * 1024, 8, true, &other), 0);
	write_bytes("tdvf.fd", other, 256 * 1024);
	free(other);
	daemon_start(&d);
	snprintf(body, sizeof(body), "/v1/guests/%s", td_id);
	j = get(body, 200);
	ck_assert_str_eq(json_path(j, "state"), "failed");
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "relaunch after restart"));
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), td_exp));
	ck_assert_str_eq(json_path(j, "expected_mrtd"), td_exp);
	json_object_put(j);
	snprintf(body, sizeof(body), "/v1/guests/%s/tdreport", td_id);
	json_object_put(get(body, 409));
}
END_TEST

static const struct {
	const char *body;
	long status;
	const char *detail; /* part of the problem's detail */
} hostile[] = {
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"../../etc/passwd\"}", 422, "firmware"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"/etc/passwd\"}", 422, "firmware"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"kernel\":\"../images/vmlinuz\"}",
	 422, "kernel"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"vcpus\":100000}", 422,
	 "vcpus"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"vcpus\":-1}", 422, "vcpus"},
	{"{\"name\":\"a\",\"tee\":\"sev\",\"firmware\":\"ovmf.fd\"}", 422, "tee"},
	{"{\"name\":\"a\",\"firmware\":\"ovmf.fd\"}", 422, "tee"},
	{"{\"name\":\"../a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\"}", 422, "name"},
	{"{\"tee\":\"snp\",\"firmware\":\"ovmf.fd\"}", 422, "name"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"mrowner\":\"00\"}", 422,
	 "mrowner"},
	{"{\"name\":\"a\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\",\"host_data\":\"00\"}", 422,
	 "host_data"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"evil\":1}", 422, "evil"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"host_data\":\"zz\"}", 422,
	 "host_data"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"cmdline\":\"x\"}", 422,
	 "kernel"},
	{"{\"name\":\"a\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"vcpu_type\":\"Pentium\"}", 422,
	 "vcpu_type"},
	{"{\"name\":\"a\",\"tee\":\"tdx\",\"firmware\":\"ovmf.fd\"}", 422, "TDVF"},
	{"[1,2]", 400, NULL},
	{"{\"name\":", 400, NULL},
};

START_TEST(hostile_bodies)
{
	setup_images();
	daemon_start(&d);
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		struct reply r;
		const char *h[] = {"Content-Type: application/json", NULL};
		struct req_opts o = {.headers = h, .body = hostile[i].body};
		http(&d, "POST", "/v1/guests", &o, &r);
		ck_assert_msg(r.status >= 400 && r.status < 500, "%s: %ld %s", hostile[i].body,
			      r.status, r.body);
		if (hostile[i].detail)
			ck_assert_msg(strstr(r.body, hostile[i].detail), "%s: %s", hostile[i].body,
				      r.body);
		reply_free(&r);
	}
	json_object *j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 0);
	json_object_put(j);
	json_object_put(get("/v1/guests/00000000-0000-4000-8000-000000000000", 404));
	json_object_put(get("/v1/snp/reports/host", 422));
}
END_TEST

/* POST /v1/guests with an Idempotency-Key: status, body, Location. */
static long post_keyed(const char *body, const char *key, json_object **ret, char *loc,
		       size_t loclen)
{
	char hk[128];
	snprintf(hk, sizeof(hk), "Idempotency-Key: %s", key);
	const char *h[] = {"Content-Type: application/json", hk, NULL};
	struct req_opts o = {.headers = h, .body = body};
	struct reply r;
	http(&d, "POST", "/v1/guests", &o, &r);
	long st = r.status;
	*ret = json_tokener_parse(r.body);
	reply_header(&r, "Location", loc, loclen);
	reply_free(&r);
	return st;
}

/* A retried launch with the same Idempotency-Key gets the first reply (same guest, no second
 * launch); the key on another body is refused; without the key the name conflicts. */
START_TEST(idempotent_launch)
{
	setup_images();
	daemon_start(&d);
	json_object *a, *b, *c;
	char la[160], lb[160], lc[160];
	ck_assert_int_eq(post_keyed(snp_body, "launch-7f3a", &a, la, sizeof(la)), 201);
	ck_assert_int_eq(post_keyed(snp_body, "launch-7f3a", &b, lb, sizeof(lb)), 201);
	ck_assert_str_eq(json_path(a, "id"), json_path(b, "id"));
	ck_assert_str_eq(json_path(a, "expected_measurement"), json_path(b, "expected_measurement"));
	ck_assert_str_eq(la, lb);
	ck_assert_ptr_nonnull(strstr(la, json_path(a, "id")));
	json_object *j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 1);
	json_object_put(j);
	/* The same key for another request: 422 naming the key, nothing launched. */
	char other[sizeof(snp_body) + 8];
	snprintf(other, sizeof(other), "%s", snp_body);
	memcpy(strstr(other, "snp-1"), "snp-2", 5);
	ck_assert_int_eq(post_keyed(other, "launch-7f3a", &c, lc, sizeof(lc)), 422);
	ck_assert_ptr_nonnull(strstr(json_path(c, "detail"), "launch-7f3a"));
	json_object_put(c);
	j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 1);
	json_object_put(j);
	/* Without the key, the same body is a second launch of an existing name: 409. */
	json_object_put(http_json(&d, "POST", "/v1/guests", NULL, snp_body, 0, 409));
	json_object_put(a);
	json_object_put(b);
}
END_TEST

/* snpctl/tdxctl guest: launch, list, show --json, destroy, and their exit statuses. */
static int ctl(const char *bin, char **out, const char *const *args)
{
	const char *argv[32] = {bin, "--socket", d.sock, "guest"};
	size_t n = 4;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return run_capture(argv, out);
}

START_TEST(cli_guest)
{
	setup_images();
	daemon_start(&d);
	char *out;
	const char *launch_snp[] = {"launch", "vm-a", "--firmware", "ovmf.fd", "--vcpus", "2",
				    "--vcpu-type", "EPYC-Milan", "--policy", "0x30000", NULL};
	ck_assert_msg(ctl(SNPCTL_BIN, &out, launch_snp) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "guest vm-a ("));
	ck_assert_ptr_nonnull(strstr(out, "running on emulated"));
	free(out);
	char tdx_cfg[97];
	memset(tdx_cfg, 'a', 96);
	tdx_cfg[96] = '\0';
	const char *launch_td[] = {"launch", "td-a", "--firmware", "tdvf.fd", "--mrconfigid",
				   tdx_cfg, "--json", NULL};
	ck_assert_int_eq(ctl(TDXCTL_BIN, &out, launch_td), 0);
	json_object *j = json_tokener_parse(out);
	free(out);
	ck_assert_ptr_nonnull(j);
	char want[97], id[37];
	hex_encode(tdvf_mrtd_want, 48, want);
	ck_assert_str_eq(json_path(j, "expected_mrtd"), want);
	snprintf(id, sizeof(id), "%s", json_path(j, "id"));
	json_object_put(j);
	const char *list[] = {"list", NULL};
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, list), 0);
	ck_assert_ptr_nonnull(strstr(out, "vm-a"));
	ck_assert_ptr_nonnull(strstr(out, "td-a"));
	free(out);
	const char *show[] = {"show", id, NULL};
	ck_assert_int_eq(ctl(TDXCTL_BIN, &out, show), 0);
	ck_assert_ptr_nonnull(strstr(out, want));
	free(out);
	/* refusals: cocod's reason (1), usage (2) */
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, launch_snp), 1);
	ck_assert_ptr_nonnull(strstr(out, "a guest named 'vm-a' exists"));
	free(out);
	const char *traversal[] = {"launch", "vm-b", "--firmware", "../ovmf.fd", NULL};
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, traversal), 1);
	ck_assert_ptr_nonnull(strstr(out, "firmware"));
	free(out);
	const char *wrong_tee[] = {"launch", "vm-c", "--firmware", "ovmf.fd", "--mrowner", "00",
				   NULL};
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, wrong_tee), 2);
	free(out);
	const char *bad_id[] = {"show", "../x", NULL};
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, bad_id), 2);
	free(out);
	const char *destroy[] = {"destroy", id, NULL};
	ck_assert_int_eq(ctl(TDXCTL_BIN, &out, destroy), 0);
	free(out);
	ck_assert_int_eq(ctl(TDXCTL_BIN, &out, destroy), 1);
	free(out);
	ck_assert_int_eq(ctl(SNPCTL_BIN, &out, list), 0);
	ck_assert_ptr_null(strstr(out, "td-a"));
	free(out);
}
END_TEST

/* Native platform with libvirt's test driver (no QEMU: domain type "test", no launchSecurity;
 * libvirt 9.0 here knows neither sev-snp nor tdx): launches through libvirt, the evidence routes
 * answer 501 with the reason, DELETE destroys the domain, and after a restart the guest whose
 * domain the test driver forgot (it lives only in the daemon's connection) is "lost". Skipped
 * where this host has SEV or TDX (native would touch them). */
START_TEST(native_libvirt)
{
	if (access("/dev/sev", F_OK) == 0 || access("/sys/devices/faux/tdx_host", F_OK) == 0)
		return;
	setup_images();
	FILE *f = fopen(d.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "platform = native\nstate_directory = %s/state-native\nlisten_unix = %s\n"
		   "image_dir = %s/images\nlibvirt_uri = test:///default\n",
		d.dir, d.sock, d.dir);
	fclose(f);
	daemon_start(&d);
	char snp_id[37], td_id[37], path[192], body[512];
	json_object *j = http_json(&d, "POST", "/v1/guests", NULL, snp_body, 0, 201);
	ck_assert_str_eq(json_path(j, "backend"), "libvirt");
	ck_assert_str_eq(json_path(j, "state"), "running");
	snprintf(snp_id, sizeof(snp_id), "%s", json_path(j, "id"));
	json_object_put(j);
	snprintf(body, sizeof(body), tdx_body, 0);
	j = http_json(&d, "POST", "/v1/guests", NULL, body, 0, 201);
	char want[97];
	hex_encode(tdvf_mrtd_want, 48, want);
	ck_assert_str_eq(json_path(j, "expected_mrtd"), want);
	snprintf(td_id, sizeof(td_id), "%s", json_path(j, "id"));
	json_object_put(j);
	/* evidence the host cannot produce on native: 501 with the reason */
	snprintf(path, sizeof(path), "/v1/snp/reports/host?guest=%s", snp_id);
	j = get(path, 501);
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "SNP_HV_REPORT_REQ"));
	json_object_put(j);
	snprintf(path, sizeof(path), "/v1/guests/%s/tdreport", td_id);
	j = get(path, 501);
	ck_assert_ptr_nonnull(strstr(json_path(j, "detail"), "TDG.MR.REPORT"));
	json_object_put(j);
	/* the reference values still hold the expected measurement */
	snprintf(path, sizeof(path), "/v1/guests/%s/reference-values", td_id);
	j = get(path, 200);
	ck_assert_str_eq(json_path(j, "mrtd"), want);
	json_object_put(j);
	/* DELETE destroys the domain */
	snprintf(path, sizeof(path), "/v1/guests/%s", td_id);
	struct reply r;
	http(&d, "DELETE", path, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	reply_free(&r);
	/* restart: the test driver's domains went with the daemon's connection: lost */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	daemon_start(&d);
	snprintf(path, sizeof(path), "/v1/guests/%s", snp_id);
	j = get(path, 200);
	ck_assert_str_eq(json_path(j, "state"), "lost");
	ck_assert_str_eq(json_path(j, "detail"), "libvirt has no such domain");
	json_object_put(j);
	j = get("/v1/guests", 200);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(j, "guests")), 1);
	json_object_put(j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guests");
	TCase *tc = tcase_create("guests");
	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, round_trips_and_restart);
	tcase_add_test(tc, hostile_bodies);
	tcase_add_test(tc, idempotent_launch);
	tcase_add_test(tc, cli_guest);
	tcase_add_test(tc, native_libvirt);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
