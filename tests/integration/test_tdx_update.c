/* TDX module updates and measurements on the real daemon (emulated platform: the emulated
 * module boots 1.5.06 under P-SEAMLDR 1.5.02 with 16 updates, and keeps its state in the state
 * directory across restarts). The module store holds Intel's mapping file and synthetic blobs
 * (coco/tdx/blobgen.h): candidates with reasons, a dry run, an update through an operation,
 * Idempotency-Key replay, bad bodies journaling nothing, a blob P-SEAMLDR refuses after
 * shutdown (tdx-lost in /v1/host, /metrics, refusals), kill -9 mid-update then restart
 * (reconciled), POST /v1/tdx/measurements against tdxctl measure, and the tdxctl module
 * commands against the daemon. */
#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coco/tdx/blobgen.h"
#include "coco/tdx/ccel.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "harness.h"
#include "tests/check_main.h"

static struct daemon d;
static void teardown(void) { daemon_cleanup(&d); }

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void put_blob(const char *dir, uint16_t major, uint16_t minor, uint16_t update,
		     bool debug, uint16_t min_update_hv)
{
	struct tdx_blobgen_params p = {.major = major, .minor = minor, .update = update,
				       .module_pages = 4, .debug = debug, .seed = update,
				       .min_update_hv = min_update_hv};
	uint8_t *b;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(&p, &b, &n), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/tdx_module_%u.%u.%02u.blob", dir, major, minor, update);
	write_bytes(path, b, n);
	free(b);
}

/* The daemon with a module store: 1.5.08 and 1.5.16 eligible, 1.5.09 debug, 2.0.02 another
 * minor; with lose16, 1.5.16 needs a hand-off version the running module lacks (preflight
 * cannot see that; P-SEAMLDR refuses it after shutdown). */
static void start_with_store(bool lose16, const char *const *env)
{
	daemon_config(&d, "tdx_module_dir = %DIR%/mods\nimage_dir = %DIR%/images\n");
	char mods[128], images[128], map[192];
	snprintf(mods, sizeof(mods), "%s/mods", d.dir);
	snprintf(images, sizeof(images), "%s/images", d.dir);
	ck_assert_int_eq(mkdir(mods, 0700), 0);
	ck_assert_int_eq(mkdir(images, 0700), 0);
	_cleanup_free_ char *m = NULL;
	size_t len;
	ck_assert_int_eq(read_file_max(SOURCE_DIR "/tests/data/tdx/mapping_file.json", 1 << 20,
				       &m, &len),
			 0);
	snprintf(map, sizeof(map), "%s/mapping_file.json", mods);
	write_bytes(map, m, len);
	put_blob(mods, 1, 5, 8, false, 0);
	put_blob(mods, 1, 5, 9, true, 0);
	put_blob(mods, 1, 5, 16, false, lose16 ? 7 : 0);
	put_blob(mods, 2, 0, 2, false, 0);
	d.env = env;
	daemon_start(&d);
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static json_object *candidate(json_object *c, const char *version)
{
	json_object *a = member(c, "candidates");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (streq(json_path(e, "version"), version))
			return e;
	}
	ck_abort_msg("no candidate %s", version);
	return NULL;
}

static bool has_reason(json_object *e, const char *reason)
{
	json_object *a = member(e, "reasons");
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (streq(json_object_get_string(json_object_array_get_idx(a, i)), reason))
			return true;
	return false;
}

static size_t n_updates(void)
{
	json_object *h = http_json(&d, "GET", "/v1/tdx/module/updates", NULL, NULL, 0, 200);
	size_t n = json_object_array_length(member(h, "updates"));
	json_object_put(h);
	return n;
}

/* POST /v1/tdx/module/updates with an optional Idempotency-Key; the reply's status, body and
 * Location. */
static long post_update(const char *body, const char *key, json_object **ret, char *loc,
			size_t loclen)
{
	char hk[128];
	snprintf(hk, sizeof(hk), "Idempotency-Key: %s", key ? key : "");
	const char *h[] = {"Content-Type: application/json", key ? hk : NULL, NULL};
	struct req_opts o = {.headers = h, .body = body, .body_len = -1};
	struct reply r;
	http(&d, "POST", "/v1/tdx/module/updates", &o, &r);
	long st = r.status;
	if (ret)
		*ret = json_tokener_parse(r.body);
	if (loc)
		reply_header(&r, "Location", loc, loclen);
	reply_free(&r);
	return st;
}

static json_object *wait_operation(const char *loc)
{
	for (int i = 0; i < 600; i++) {
		json_object *op = http_json(&d, "GET", loc, NULL, NULL, 0, 200);
		const char *st = json_path(op, "state");
		if (streq(st, "succeeded") || streq(st, "failed"))
			return op;
		json_object_put(op);
		usleep(50000);
	}
	ck_abort_msg("operation %s did not finish", loc);
	return NULL;
}

START_TEST(candidates_dry_run_update_idempotency)
{
	start_with_store(false, NULL);
	json_object *c = http_json(&d, "GET", "/v1/tdx/module/candidates", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(c, "current"), "1.5.06");
	ck_assert_str_eq(json_path(c, "target"), "1.5.16");
	ck_assert_str_eq(json_path(candidate(c, "1.5.08"), "eligible"), "true");
	json_object *dbg = candidate(c, "1.5.09");
	ck_assert_str_eq(json_path(dbg, "eligible"), "false");
	ck_assert(has_reason(dbg, "debug"));
	json_object *x = candidate(c, "2.0.02");
	ck_assert(has_reason(x, "cross-minor"));
	ck_assert_ptr_nonnull(strstr(json_path(x, "detail"), "not a 1.5 Z-stream update"));
	json_object_put(c);
	c = http_json(&d, "GET", "/v1/tdx/module/candidates?version=1.5.08", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(c, "target"), "1.5.08");
	json_object_put(c);

	/* Dry run: the whole preflight, nothing journaled, nothing uploaded. */
	json_object *dr = http_json(&d, "POST", "/v1/tdx/module/updates", NULL,
				    "{\"version\":\"1.5.08\",\"dry_run\":true}", 0, 200);
	ck_assert_str_eq(json_path(dr, "outcome"), "planned");
	ck_assert_str_eq(json_path(dr, "target"), "1.5.08");
	json_object_put(dr);
	dr = http_json(&d, "POST", "/v1/tdx/module/updates", NULL,
		       "{\"version\":\"2.0.02\",\"dry_run\":true}", 0, 200);
	ck_assert_str_eq(json_path(dr, "outcome"), "refused");
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(member(dr, "failed_checks")),
				     "target"));
	json_object_put(dr);
	ck_assert_uint_eq(n_updates(), 0);

	/* Bad bodies: problem+json, nothing journaled, no operation. */
	static const struct {
		const char *body;
		long status;
		const char *detail;
	} bad[] = {
		{"{\"version\":\"1.5.8\"}", 422, "'version' must be"},
		{"{\"version\":8}", 422, "'version' must be"},
		{"{\"dry_run\":\"yes\"}", 422, "'dry_run' must be a boolean"},
		{"{\"force\":true}", 422, "unknown member 'force'"},
		{"{\"version\":\"1.5.13\"}", 422, "no module 1.5.13 in the module store"},
		{"{\"allow_debug\":true}", 422, "tdx_allow_debug_modules = no"},
		{"[1,2]", 400, ""},
		{"{\"version\":", 400, ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_object *p = NULL;
		long st = post_update(bad[i].body, NULL, &p, NULL, 0);
		ck_assert_msg(st == bad[i].status, "%s: %ld", bad[i].body, st);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(strstr(json_path(p, "detail"), bad[i].detail), "%s: %s", bad[i].body,
			      json_path(p, "detail"));
		ck_assert_ptr_nonnull(json_path(p, "type"));
		json_object_put(p);
	}
	ck_assert_uint_eq(n_updates(), 0);

	/* The update: 202 + Location; the same key and body replay the same operation. */
	char loc[128], loc2[128];
	json_object *a = NULL, *b = NULL;
	ck_assert_int_eq(post_update("{\"version\":\"1.5.08\"}", "it-key-1", &a, loc, sizeof(loc)),
			 202);
	ck_assert_ptr_nonnull(strstr(loc, "/v1/operations/"));
	ck_assert_str_eq(loc + strlen("/v1/operations/"), json_path(a, "operation"));
	ck_assert_int_eq(post_update("{\"version\":\"1.5.08\"}", "it-key-1", &b, loc2, sizeof(loc2)),
			 202);
	ck_assert_str_eq(loc, loc2);
	ck_assert_str_eq(json_path(a, "operation"), json_path(b, "operation"));
	json_object_put(b);
	ck_assert_int_eq(post_update("{\"version\":\"1.5.16\"}", "it-key-1", &b, NULL, 0), 422);
	ck_assert_ptr_nonnull(strstr(json_path(b, "detail"), "different request"));
	json_object_put(b);
	json_object *op = wait_operation(loc);
	ck_assert_msg(streq(json_path(op, "state"), "succeeded"), "%s",
		      json_object_to_json_string(op));
	ck_assert_str_eq(json_path(op, "result.outcome"), "updated");
	ck_assert_str_eq(json_path(op, "result.after"), "1.5.08");
	json_object_put(op);
	json_object_put(a);

	json_object *m = http_json(&d, "GET", "/v1/tdx/module", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(m, "version"), "1.5.08");
	ck_assert_str_eq(json_path(m, "state"), "ok");
	ck_assert_str_eq(json_path(m, "remaining_updates"), "15");
	ck_assert_str_eq(json_path(m, "boot.version"), "1.5.06");
	ck_assert_str_eq(json_path(m, "boot.current_differs"), "true");
	json_object_put(m);

	json_object *h = http_json(&d, "GET", "/v1/tdx/module/updates?limit=5", NULL, NULL, 0, 200);
	json_object *u = json_object_array_get_idx(member(h, "updates"), 0);
	ck_assert_uint_eq(json_object_array_length(member(h, "updates")), 1);
	ck_assert_str_eq(json_path(u, "state"), "succeeded");
	ck_assert_str_eq(json_path(u, "from"), "1.5.06");
	ck_assert_str_eq(json_path(u, "target"), "1.5.08");
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(member(u, "steps")), "postcheck"));
	json_object_put(h);
	json_object_put(http_json(&d, "GET", "/v1/tdx/module/updates?limit=0", NULL, NULL, 0, 422));

	/* The emulated module kept its state: after a restart 1.5.08 still runs. */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	daemon_start(&d);
	m = http_json(&d, "GET", "/v1/tdx/module", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(m, "version"), "1.5.08");
	ck_assert_str_eq(json_path(m, "boot.version"), "1.5.06");
	json_object_put(m);
}
END_TEST

static bool metrics_has(const char *line)
{
	struct reply r;
	http(&d, "GET", "/metrics", NULL, &r);
	bool has = r.status == 200 && strstr(r.body, line);
	reply_free(&r);
	return has;
}

START_TEST(failed_update_loses_module)
{
	start_with_store(true, NULL);
	ck_assert(metrics_has("cocod_tdx_module_lost 0\n"));
	char loc[128];
	ck_assert_int_eq(post_update("{\"version\":\"1.5.16\"}", NULL, NULL, loc, sizeof(loc)), 202);
	json_object *op = wait_operation(loc);
	ck_assert_str_eq(json_path(op, "state"), "failed");
	ck_assert_str_eq(json_path(op, "result.outcome"), "lost");
	ck_assert_ptr_nonnull(strstr(json_path(op, "message"), "tdx-lost"));
	json_object_put(op);

	json_object *h = http_json(&d, "GET", "/v1/host", NULL, NULL, 0, 200);
	ck_assert_ptr_nonnull(strstr(json_path(h, "tdx.module_error"), "tdx-lost"));
	ck_assert_str_eq(json_path(h, "tdx.available"), "false");
	json_object_put(h);
	ck_assert(metrics_has("cocod_tdx_module_lost 1\n"));
	json_object *m = http_json(&d, "GET", "/v1/tdx/module", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(m, "state"), "lost");
	json_object_put(m);
	json_object *p = NULL;
	ck_assert_int_eq(post_update("{\"version\":\"1.5.08\"}", NULL, &p, NULL, 0), 409);
	ck_assert_ptr_nonnull(strstr(json_path(p, "detail"), "tdx-lost"));
	json_object_put(p);
	ck_assert_uint_eq(n_updates(), 1);

	/* Still lost after a restart (the module does not come back until a reboot). */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	daemon_start(&d);
	ck_assert(metrics_has("cocod_tdx_module_lost 1\n"));
	ck_assert_int_eq(post_update("{}", NULL, &p, NULL, 0), 409);
	json_object_put(p);
}
END_TEST

START_TEST(kill9_mid_update_reconciles)
{
	/* The daemon dies as kill -9 would (SIGKILL) right after journaling "upload-start". */
	static const char *const crash_env[] = {"COCOD_EMUL_TDX_CRASH_AFTER_STEPS=4", NULL};
	start_with_store(false, crash_env);
	char loc[128];
	ck_assert_int_eq(post_update("{\"version\":\"1.5.08\"}", NULL, NULL, loc, sizeof(loc)), 202);
	ck_assert_int_eq(daemon_signal_wait(&d, 0, 30), 128 + SIGKILL);
	d.env = NULL;
	daemon_start(&d);
	json_object *h = http_json(&d, "GET", "/v1/tdx/module/updates", NULL, NULL, 0, 200);
	json_object *u = json_object_array_get_idx(member(h, "updates"), 0);
	ck_assert_str_eq(json_path(u, "state"), "failed");
	ck_assert_ptr_nonnull(strstr(json_path(u, "detail"), "reconciled after restart (last step "
							      "upload-start)"));
	ck_assert_ptr_nonnull(strstr(json_path(u, "detail"), "the old module runs"));
	json_object_put(h);
	json_object *op = http_json(&d, "GET", loc, NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(op, "state"), "failed");
	ck_assert_ptr_nonnull(strstr(json_path(op, "message"), "reconciled"));
	json_object_put(op);
	/* The host is fine: the next update runs. */
	ck_assert_int_eq(post_update("{\"version\":\"1.5.08\"}", NULL, NULL, loc, sizeof(loc)), 202);
	op = wait_operation(loc);
	ck_assert_str_eq(json_path(op, "state"), "succeeded");
	json_object_put(op);
}
END_TEST

START_TEST(measurements_match_tdxctl)
{
	start_with_store(false, NULL);
	uint8_t *img;
	ck_assert_int_eq(tdvf_synth(1 << 20, 7, true, &img), 0);
	char path[192];
	snprintf(path, sizeof(path), "%s/images/td.fd", d.dir);
	write_bytes(path, img, 1 << 20);
	free(img);
	static const char *const orders[] = {"single-pass", "two-pass"};
	for (size_t i = 0; i < 2; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"firmware\":\"td.fd\",\"order\":\"%s\"}", orders[i]);
		json_object *m = http_json(&d, "POST", "/v1/tdx/measurements", NULL, body, 0, 200);
		ck_assert_str_eq(json_path(m, "order"), orders[i]);
		const char *argv[] = {TDXCTL_BIN, "measure", "mrtd", "--firmware", path,
				      i ? "--two-pass" : NULL, NULL};
		char *out;
		ck_assert_int_eq(run_capture(argv, &out), 0);
		ck_assert_msg(strncmp(out, json_path(m, "mrtd"), 96) == 0, "%s vs %s", out,
			      json_path(m, "mrtd"));
		ck_assert_uint_eq(strlen(json_path(m, "mrtd")), 96);
		free(out);
		json_object_put(m);
	}
	/* An event log: the RTMR replay, as coco/tdx/ccel.c computes it. */
	uint8_t *log;
	size_t log_len;
	ck_assert_int_eq(ccel_synth(9, true, 128, &log, &log_len), 0);
	snprintf(path, sizeof(path), "%s/images/ccel.bin", d.dir);
	write_bytes(path, log, log_len);
	struct ccel_log l = {0};
	char err[128];
	ck_assert_int_eq(ccel_replay(log, log_len, &l, err, sizeof(err)), 0);
	json_object *m = http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				   "{\"firmware\":\"td.fd\",\"event_log\":\"ccel.bin\"}", 0, 200);
	json_object *rt = member(m, "rtmr");
	ck_assert_uint_eq(json_object_array_length(rt), 4);
	for (size_t i = 0; i < 4; i++) {
		char hex[97];
		hex_encode(l.rtmr[i], 48, hex);
		ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(rt, i)), hex);
	}
	ck_assert_str_eq(json_path(m, "events"), "10");
	json_object_put(m);
	ccel_log_free(&l);
	free(log);
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"event_log\":\"td.fd\"}", 0, 422));
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"firmware\":\"missing.fd\"}", 0, 404));
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"firmware\":\"../mods/mapping_file.json\"}", 0, 404));
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"firmware\":\"td.fd\",\"order\":\"three-pass\"}", 0, 422));
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"firmware\":\"td.fd\",\"x\":1}", 0, 422));
	snprintf(path, sizeof(path), "%s/images/not-tdvf.fd", d.dir);
	write_bytes(path, "not a tdvf image", 16);
	json_object_put(http_json(&d, "POST", "/v1/tdx/measurements", NULL,
				  "{\"firmware\":\"not-tdvf.fd\"}", 0, 422));
}
END_TEST

static int tdxctl(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *argv[] = {TDXCTL_BIN, "--socket", d.sock, a1, a2, a3, a4, NULL};
	return run_capture(argv, out);
}

START_TEST(tdxctl_module_commands)
{
	start_with_store(true, NULL); /* 1.5.16 is lost after shutdown */
	char *out;
	ck_assert_int_eq(tdxctl(&out, "module", "list", NULL, NULL), 0);
	ck_assert_msg(strstr(out, "* 1.5.16") && strstr(out, "debug-signed module") &&
			  strstr(out, "running 1.5.06"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "--json", "module", "list", NULL), 0);
	json_object *j = json_tokener_parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_path(j, "target"), "1.5.16");
	json_object_put(j);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "plan", "2.0.02", NULL), 1);
	ck_assert_msg(strstr(out, "failed checks: target"), "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "plan", "1.5.08", NULL), 0);
	ck_assert_msg(strstr(out, "dry run: 1.5.06 -> 1.5.08"), "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "update", "1.5.13", "--yes"), 2);
	ck_assert_msg(strstr(out, "no module 1.5.13"), "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "update", "1.5.08", NULL), 2); /* no tty, no --yes */
	ck_assert_msg(strstr(out, "--yes"), "%s", out);
	free(out);
	ck_assert_uint_eq(n_updates(), 0);

	/* A verified update: progress lines, then exit 0. */
	ck_assert_int_eq(tdxctl(&out, "module", "update", "1.5.08", "--yes"), 0);
	ck_assert_msg(strstr(out, "update started: operation ") && strstr(out, "%] ") &&
			  strstr(out, "updated: updated 1.5.06 -> 1.5.08"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "status", NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "TDX module:        1.5.08") &&
			  strstr(out, "boot-time module:  1.5.06 (runtime updates do not survive"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "update", "--no-wait", "--yes"), 0);
	const char *id = strstr(out, "update started: operation ");
	ck_assert_ptr_nonnull(id);
	char loc[96];
	snprintf(loc, sizeof(loc), "/v1/operations/%.36s", id + strlen("update started: operation "));
	free(out);
	/* 1.5.16 is lost after shutdown: exit 1, and the CLI says so. */
	json_object_put(wait_operation(loc));
	ck_assert_int_eq(tdxctl(&out, "module", "history", NULL, NULL), 0);
	ck_assert_msg(strstr(out, "1.5.08 -> 1.5.16  lost") && strstr(out, "1.5.06 -> 1.5.08  succeeded"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "update", "--yes", NULL), 1);
	ck_assert_msg(strstr(out, "tdx-lost"), "%s", out);
	free(out);
	ck_assert_int_eq(tdxctl(&out, "module", "frobnicate", NULL, NULL), 2);
	free(out);
	const char *argv[] = {TDXCTL_BIN, "--socket", "/nonexistent/cocod.sock", "module", "list",
			      NULL};
	ck_assert_int_eq(run_capture(argv, &out), 3);
	free(out);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("tdx_update");
	TCase *tc = tcase_create("daemon");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, candidates_dry_run_update_idempotency);
	tcase_add_test(tc, failed_update_loses_module);
	tcase_add_test(tc, kill9_mid_update_reconciles);
	tcase_add_test(tc, measurements_match_tdxctl);
	tcase_add_test(tc, tdxctl_module_commands);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	curl_global_cleanup();
	return r;
}
