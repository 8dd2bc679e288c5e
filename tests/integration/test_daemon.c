/* The real cocod, started on a temporary state directory and driven over its Unix socket and
 * loopback TCP with libcurl: config errors, auth, HTTP errors, metrics, reload, shutdown. */
#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "coco/store.h"
#include "coco/tokens.h"
#include "coco/util.h"
#include "tests/check_main.h"
#include "harness.h"

static struct daemon d;

static void teardown(void) { daemon_cleanup(&d); }

static void assert_problem(const struct reply *r, long status, const char *slug)
{
	char buf[256], want[96];
	ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status, r->body);
	ck_assert_msg(strstr(r->headers, "Content-Type: application/problem+json"), "%s", r->headers);
	snprintf(want, sizeof(want), "urn:cocod:problem:%s", slug);
	ck_assert_str_eq(json_field(r->body, "type", buf, sizeof(buf)), want);
	ck_assert_str_eq(json_field(r->body, "status", buf, sizeof(buf)),
			 (snprintf(want, sizeof(want), "%ld", status), want));
	ck_assert_int_gt(strlen(json_field(r->body, "detail", buf, sizeof(buf))), 0);
}

START_TEST(bad_config_exits_78)
{
	daemon_config(&d, "");
	FILE *f = fopen(d.conf, "w");
	fprintf(f, "# test\nplatform = bogus\n");
	fclose(f);
	char rm[160]; /* the harness prepared a state directory: this start must not make one */
	snprintf(rm, sizeof(rm), "rm -rf %s/state", d.dir);
	ck_assert_int_eq(system(rm), 0);
	char *out;
	const char *argv[] = {COCOD_BIN, "-c", d.conf, NULL};
	ck_assert_int_eq(run_capture(argv, &out), 78);
	char want[256];
	snprintf(want, sizeof(want), "%s:2: key 'platform': invalid value 'bogus'", d.conf);
	ck_assert_msg(strstr(out, want), "%s", out);
	free(out);
	const char *check[] = {COCOD_BIN, "--check-config", "-c", d.conf, NULL};
	ck_assert_int_eq(run_capture(check, &out), 78);
	ck_assert_msg(strstr(out, want), "%s", out);
	free(out);
	/* No state was created by a refused start. */
	char state[128];
	snprintf(state, sizeof(state), "%s/state", d.dir);
	ck_assert_int_ne(access(state, F_OK), 0);

	daemon_rewrite_config(&d, "listen_tcp = 127.0.0.1:%PORT%\ntoken_file = %DIR%/missing\n");
	ck_assert_int_eq(run_capture(check, &out), 78);
	ck_assert_msg(strstr(out, "key 'token_file'") && strstr(out, "missing: cannot read"), "%s",
		      out);
	free(out);
	daemon_rewrite_config(&d, "log_level = debug\n");
	ck_assert_int_eq(run_capture(check, &out), 0);
	ck_assert_msg(strstr(out, "valid (platform emulated"), "%s", out);
	free(out);
	const char *missing[] = {COCOD_BIN, "-c", "/nonexistent/cocod.conf", NULL};
	ck_assert_int_eq(run_capture(missing, &out), 78);
	ck_assert_msg(strstr(out, "/nonexistent/cocod.conf: cannot read"), "%s", out);
	free(out);
}
END_TEST

START_TEST(host_is_emulated)
{
	daemon_config(&d, "");
	daemon_start(&d);
	struct reply r;
	http(&d, "GET", "/v1/host", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: application/json"));
	json_object *o = json_tokener_parse(r.body), *v, *tees;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "platform", &v));
	ck_assert_str_eq(json_object_get_string(v), "emulated");
	ck_assert(json_object_object_get_ex(o, "tees", &tees));
	ck_assert_int_eq(json_object_array_length(tees), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(tees, 0)), "snp");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(tees, 1)), "tdx");
	json_object_put(o);
	reply_free(&r);
	http(&d, "HEAD", "/v1/host", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "");
	reply_free(&r);
	http(&d, "GET", "/readyz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	/* The served OpenAPI document is api/openapi.yaml, byte for byte. */
	http(&d, "GET", "/v1/openapi.yaml", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *doc = slurp(SOURCE_DIR "/api/openapi.yaml");
	ck_assert_str_eq(r.body, doc);
	free(doc);
	reply_free(&r);

	char *out;
	const char *snp[] = {SNPCTL_BIN, "--socket", d.sock, "status", NULL};
	ck_assert_int_eq(run_capture(snp, &out), 0);
	ck_assert_msg(strstr(out, "platform:     emulated") && strstr(out, "SNP guests:   supported"),
		      "%s", out);
	free(out);
	const char *tdx[] = {TDXCTL_BIN, "--socket", d.sock, "status", "--json", NULL};
	ck_assert_int_eq(run_capture(tdx, &out), 0);
	json_object *j = json_tokener_parse(out), *hj, *t, *mv;
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "host", &hj));
	ck_assert(json_object_object_get_ex(hj, "tdx", &t));
	ck_assert(json_object_object_get_ex(t, "module_version", &mv));
	ck_assert_str_eq(json_object_get_string(mv), "1.5.06");
	json_object_put(j);
	free(out);
}
END_TEST

/* A string member of a parsed object by dotted path ("tcb.current.raw"); NULL when absent. */
static const char *jstr(json_object *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		ck_assert_uint_lt(n, sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static json_object *get_json(const char *path, long want)
{
	struct reply r;
	http(&d, "GET", path, NULL, &r);
	ck_assert_msg(r.status == want, "%s: %ld: %s", path, r.status, r.body);
	json_object *o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	reply_free(&r);
	return o;
}

START_TEST(platform_status)
{
	daemon_config(&d, "");
	daemon_start(&d);
	/* SEV firmware, live through the emulated PSP: SNP_PLATFORM_STATUS and SEV_GET_ID2. */
	json_object *p = get_json("/v1/snp/platform", 200);
	ck_assert_str_eq(jstr(p, "backend"), "emulated");
	ck_assert_str_eq(jstr(p, "product"), "Genoa");
	ck_assert_str_eq(jstr(p, "state"), "init");
	const char *chip = jstr(p, "chip_id");
	ck_assert_ptr_nonnull(chip);
	ck_assert_uint_eq(strlen(chip), 128);
	ck_assert_uint_eq(strspn(chip, "0123456789abcdef"), 128);
	char chip1[129], tcb1[32];
	snprintf(chip1, sizeof(chip1), "%s", chip);
	snprintf(tcb1, sizeof(tcb1), "%s", jstr(p, "tcb.reported.raw"));
	ck_assert_uint_eq(strlen(tcb1), 18);
	json_object_put(p);

	/* TDX module, live through hv/tdx.c on the emulated module's sysfs tree. */
	json_object *m = get_json("/v1/tdx/module", 200);
	ck_assert_str_eq(jstr(m, "version"), "1.5.06");
	ck_assert_str_eq(jstr(m, "seamldr_version"), "1.5.02");
	ck_assert_str_eq(jstr(m, "state"), "ok");
	json_object *v;
	ck_assert(json_object_object_get_ex(m, "remaining_updates", &v));
	ck_assert_int_eq(json_object_get_int(v), 16);
	json_object_put(m);

	char *out;
	const char *snp[] = {SNPCTL_BIN, "--socket", d.sock, "status", NULL};
	ck_assert_int_eq(run_capture(snp, &out), 0);
	ck_assert_msg(strstr(out, "(emulated backend), Genoa, state init") && strstr(out, chip1),
		      "%s", out);
	free(out);
	const char *tdx[] = {TDXCTL_BIN, "--socket", d.sock, "status", NULL};
	ck_assert_int_eq(run_capture(tdx, &out), 0);
	ck_assert_msg(strstr(out, "module state:      ok"), "%s", out);
	free(out);

	/* The emulated chip's identity persists in the state directory across restarts. */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	daemon_start(&d);
	p = get_json("/v1/snp/platform", 200);
	ck_assert_str_eq(jstr(p, "chip_id"), chip1);
	ck_assert_str_eq(jstr(p, "tcb.reported.raw"), tcb1);
	json_object_put(p);
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);

	/* Native on this machine: no SEV firmware and no TDX host here, so both say 501 with
	 * the reason, and status still works. */
	if (access("/dev/sev", F_OK) == 0 || access("/sys/devices/faux/tdx_host", F_OK) == 0)
		return;
	FILE *f = fopen(d.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "platform = native\nstate_directory = %s/state-native\nlisten_unix = %s\n",
		d.dir, d.sock);
	fclose(f);
	daemon_start(&d);
	p = get_json("/v1/snp/platform", 501);
	ck_assert_str_eq(jstr(p, "type"), "urn:cocod:problem:not-supported");
	ck_assert_msg(strstr(jstr(p, "detail"), "no SEV firmware on this host"), "%s",
		      jstr(p, "detail"));
	json_object_put(p);
	m = get_json("/v1/tdx/module", 501);
	ck_assert_msg(strstr(jstr(m, "detail"), "no TDX host"), "%s", jstr(m, "detail"));
	json_object_put(m);
	const char *tdxj[] = {TDXCTL_BIN, "--socket", d.sock, "status", "--json", NULL};
	ck_assert_int_eq(run_capture(tdxj, &out), 0);
	json_object *j = json_tokener_parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(jstr(j, "host.platform"), "native");
	ck_assert(json_object_object_get_ex(j, "tdx_module", &v) && v == NULL);
	ck_assert_str_eq(jstr(j, "tdx_module_problem.type"), "urn:cocod:problem:not-supported");
	json_object_put(j);
	free(out);
}
END_TEST

static json_object *send_json(const char *method, const char *path, const char *body, long want)
{
	const char *hdr[] = {"Content-Type: application/json", NULL};
	struct req_opts o = {.headers = hdr, .body = body, .body_len = -1};
	struct reply r;
	http(&d, method, path, body ? &o : NULL, &r);
	ck_assert_msg(r.status == want, "%s %s: %ld: %s", method, path, r.status, r.body);
	json_object *j = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(j);
	reply_free(&r);
	return j;
}

START_TEST(snp_config_and_commit)
{
	daemon_config(&d, "");
	daemon_start(&d);
	json_object *p = get_json("/v1/snp/platform", 200);
	char cur[32];
	snprintf(cur, sizeof(cur), "%s", jstr(p, "tcb.current.raw"));
	json_object_put(p);

	/* A reported TCB above the committed one: the firmware refuses, the refusal is
	 * journaled as a failed operation, and nothing changed. */
	json_object *e = send_json("PUT", "/v1/snp/config", "{\"reported_tcb\":\"0xff00000000000000\"}",
				   502);
	ck_assert_str_eq(jstr(e, "type"), "urn:cocod:problem:firmware-error");
	ck_assert_msg(strstr(jstr(e, "detail"), "SNP_SET_CONFIG: firmware status INVALID_PARAM"),
		      "%s", jstr(e, "detail"));
	json_object_put(e);
	p = get_json("/v1/snp/platform", 200);
	ck_assert_str_eq(jstr(p, "tcb.reported.raw"), cur);
	json_object_put(p);
	/* Malformed requests never reach the firmware. */
	e = send_json("PUT", "/v1/snp/config", "{}", 422);
	json_object_put(e);
	e = send_json("PUT", "/v1/snp/config", "{\"mask_chip_id\":\"yes\"}", 422);
	ck_assert_msg(strstr(jstr(e, "detail"), "'mask_chip_id': true or false"), "%s",
		      jstr(e, "detail"));
	json_object_put(e);

	/* Lower the reported TCB's SNP SPL by one (Genoa layout: byte 6) and mask the chip id. */
	uint64_t tcb = strtoull(cur, NULL, 16);
	ck_assert_uint_gt((tcb >> 48) & 0xff, 0);
	char body[128], want[32];
	snprintf(want, sizeof(want), "0x%016llx", (unsigned long long)(tcb - (1ull << 48)));
	snprintf(body, sizeof(body), "{\"reported_tcb\":\"%s\",\"mask_chip_id\":true}", want);
	json_object *c = send_json("PUT", "/v1/snp/config", body, 200);
	ck_assert_str_eq(jstr(c, "platform.tcb.reported.raw"), want);
	ck_assert_str_eq(jstr(c, "platform.tcb.current.raw"), cur);
	json_object *m;
	ck_assert(json_object_object_get_ex(c, "platform", &m) &&
		  json_object_object_get_ex(m, "config", &m) &&
		  json_object_object_get_ex(m, "mask_chip_id", &m) && json_object_get_boolean(m));
	char path[96];
	snprintf(path, sizeof(path), "/v1/operations/%s", jstr(c, "operation"));
	json_object_put(c);
	json_object *op = get_json(path, 200);
	ck_assert_str_eq(jstr(op, "kind"), "snp.set_config");
	ck_assert_str_eq(jstr(op, "state"), "succeeded");
	json_object_put(op);

	/* The CLI: back to the current TCB, unmasked; then commit. */
	char *out;
	const char *set[] = {SNPCTL_BIN, "--socket", d.sock, "config", "set", "--reported-tcb",
			     "current", "--mask-chip-id", "no", NULL};
	ck_assert_int_eq(run_capture(set, &out), 0);
	char line[64];
	snprintf(line, sizeof(line), "reported TCB: %s", cur);
	ck_assert_msg(strstr(out, line), "%s", out);
	free(out);
	const char *bad[] = {SNPCTL_BIN, "--socket", d.sock, "config", "set", "--reported-tcb",
			     "soon", NULL};
	ck_assert_int_eq(run_capture(bad, &out), 2);
	ck_assert_msg(strstr(out, "is not a 64-bit TCB_VERSION"), "%s", out);
	free(out);
	const char *commit[] = {SNPCTL_BIN, "--socket", d.sock, "commit", "--json", NULL};
	ck_assert_int_eq(run_capture(commit, &out), 0);
	json_object *j = json_tokener_parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(jstr(j, "platform.tcb.reported.raw"), cur);
	snprintf(path, sizeof(path), "/v1/operations/%s", jstr(j, "operation"));
	json_object_put(j);
	free(out);
	op = get_json(path, 200);
	ck_assert_str_eq(jstr(op, "kind"), "snp.commit");
	ck_assert_str_eq(jstr(op, "state"), "succeeded");
	json_object_put(op);
}
END_TEST

START_TEST(cli_errors)
{
	char *out;
	const char *nosock[] = {SNPCTL_BIN, "--socket", "/nonexistent/cocod.sock", "status", NULL};
	ck_assert_int_eq(run_capture(nosock, &out), 1);
	ck_assert_msg(strstr(out, "cannot connect to cocod at /nonexistent/cocod.sock"), "%s", out);
	free(out);
	const char *unknown[] = {TDXCTL_BIN, "frobnicate", NULL};
	ck_assert_int_eq(run_capture(unknown, &out), 2);
	ck_assert_msg(strstr(out, "unknown command 'frobnicate'"), "%s", out);
	free(out);
	const char *help[] = {TDXCTL_BIN, "status", "--help", NULL};
	ck_assert_int_eq(run_capture(help, &out), 0);
	ck_assert_msg(strstr(out, "Usage: tdxctl [--socket PATH] status [--json]"), "%s", out);
	free(out);
	const char *extra[] = {SNPCTL_BIN, "status", "now", NULL};
	ck_assert_int_eq(run_capture(extra, &out), 2);
	ck_assert_msg(strstr(out, "unexpected argument 'now'"), "%s", out);
	free(out);
}
END_TEST

START_TEST(http_errors)
{
	daemon_config(&d, "api_max_body = 1024\n");
	daemon_start(&d);
	struct reply r;
	http(&d, "GET", "/v1/nope", NULL, &r);
	assert_problem(&r, 404, "not-found");
	reply_free(&r);
	http(&d, "DELETE", "/v1/host", NULL, &r);
	assert_problem(&r, 405, "method-not-allowed");
	ck_assert_msg(strstr(r.headers, "Allow: GET\r\n"), "%s", r.headers);
	reply_free(&r);

	const char *json_ct[] = {"Content-Type: application/json", NULL};
	struct req_opts o = {.headers = json_ct, .body = "{\"level\": debu"};
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	assert_problem(&r, 400, "malformed-json");
	ck_assert_msg(strstr(r.body, "byte offset 10"), "%s", r.body);
	reply_free(&r);
	o.body = "{\"level\": \"loud\"}";
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	assert_problem(&r, 422, "invalid-request");
	reply_free(&r);
	const char *text_ct[] = {"Content-Type: text/plain", NULL};
	struct req_opts t = {.headers = text_ct, .body = "{\"level\": \"debug\"}"};
	http(&d, "PUT", "/v1/host/log-level", &t, &r);
	assert_problem(&r, 415, "unsupported-media-type");
	reply_free(&r);

	/* 413 both from Content-Length and from a chunked body that grows past the cap. */
	char *big = malloc(4097);
	memset(big, ' ', 4096);
	big[0] = '{';
	big[4094] = '}';
	big[4096] = '\0';
	struct req_opts b = {.headers = json_ct, .body = big};
	http(&d, "PUT", "/v1/host/log-level", &b, &r);
	assert_problem(&r, 413, "payload-too-large");
	reply_free(&r);
	b.chunked = true;
	http(&d, "PUT", "/v1/host/log-level", &b, &r);
	assert_problem(&r, 413, "payload-too-large");
	reply_free(&r);
	free(big);

	o.body = "{\"level\": \"debug\"}";
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	ck_assert_int_eq(r.status, 200);
	char buf[64];
	ck_assert_str_eq(json_field(r.body, "level", buf, sizeof(buf)), "debug");
	ck_assert_str_eq(json_field(r.body, "previous", buf, sizeof(buf)), "info");
	reply_free(&r);
	/* Bad input changed nothing: the log level was info until the one good request. */
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	struct coco_store *s;
	char state[128], err[256];
	snprintf(state, sizeof(state), "%s/state", d.dir);
	ck_assert_int_eq(coco_store_open(state, &s, err, sizeof(err)), 0);
	int64_t n;
	ck_assert_int_eq(coco_store_audit_count(s, "log.level", &n), 0);
	ck_assert_int_eq(n, 1);
	coco_store_close(s);
}
END_TEST

/* Bodies larger than libmicrohttpd's 64 KiB connection pool arrive over several loop turns;
 * they must be answered, not stall (regression: a wrapped timeout made the loop sleep). */
START_TEST(large_requests)
{
	char tok[64], line[160];
	enum coco_role role = COCO_ROLE_ADMIN;
	ck_assert_int_eq(coco_token_generate(role, "big", tok, line), 0);
	daemon_config(&d, "listen_tcp = 127.0.0.1:%PORT%\ntoken_file = %DIR%/tokens\n");
	char p[160];
	snprintf(p, sizeof(p), "%s/tokens", d.dir);
	FILE *f = fopen(p, "w");
	fprintf(f, "%s\n", line);
	fclose(f);
	daemon_start(&d);
	char auth[128];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	const char *h[] = {auth, "Content-Type: application/json", NULL};
	size_t sizes[] = {66000, 300000, 1000000, 2000000};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *body = malloc(sizes[i] + 1);
		memset(body, ' ', sizes[i]);
		body[0] = '{';
		body[sizes[i] - 1] = '}';
		body[sizes[i]] = '\0';
		for (int mode = 0; mode < 4; mode++) {
			struct req_opts o = {.tcp = mode & 1, .chunked = mode & 2, .headers = h,
					     .body = body};
			struct reply r;
			http(&d, "PUT", "/v1/host/log-level", &o, &r);
			/* A valid but empty object: 422 below the 1 MiB cap, 413 above it. */
			ck_assert_msg(r.status == (sizes[i] <= (1u << 20) ? 422 : 413),
				      "%zu bytes, mode %d: status %ld", sizes[i], mode, r.status);
			reply_free(&r);
		}
		free(body);
	}
	char *big = malloc(20000 + 8);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'x', 20000);
	big[20007] = '\0';
	const char *bh[] = {big, NULL};
	struct req_opts o = {.tcp = true, .headers = bh};
	struct reply r;
	http(&d, "GET", "/healthz", &o, &r);
	ck_assert_int_eq(r.status, 431); /* libmicrohttpd: headers exceed the connection pool */
	reply_free(&r);
	free(big);
}
END_TEST

START_TEST(unix_roles)
{
	daemon_config(&d, "unix_role = reader 0\n");
	daemon_start(&d);
	struct reply r;
	http(&d, "GET", "/v1/host", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	const char *json_ct[] = {"Content-Type: application/json", NULL};
	struct req_opts o = {.headers = json_ct, .body = "{\"level\":\"debug\"}"};
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	assert_problem(&r, 403, "forbidden");
	ck_assert_msg(strstr(r.body, "uid:0 has role 'reader'") && strstr(r.body, "needs 'admin'"),
		      "%s", r.body);
	reply_free(&r);
	http(&d, "POST", "/v1/host/reload", NULL, &r);
	assert_problem(&r, 403, "forbidden");
	reply_free(&r);
	struct stat st;
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
}
END_TEST

static void make_token(const char *role, const char *name, char token[64], char line[160])
{
	enum coco_role r;
	ck_assert_int_eq(coco_role_from_name(role, &r), 0);
	ck_assert_int_eq(coco_token_generate(r, name, token, line), 0);
}

static void write_file(const char *dir, const char *name, const char *content)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

START_TEST(tcp_tokens)
{
	char rtok[64], rline[160], atok[64], aline[160], file[400];
	make_token("reader", "dash", rtok, rline);
	make_token("admin", "ops", atok, aline);
	daemon_config(&d, "listen_tcp = 127.0.0.1:%PORT%\ntoken_file = %DIR%/tokens\n");
	snprintf(file, sizeof(file), "%s\n%s\n", rline, aline);
	write_file(d.dir, "tokens", file);
	daemon_start(&d);
	struct reply r;
	struct req_opts o = {.tcp = true};
	http(&d, "GET", "/v1/host", &o, &r);
	assert_problem(&r, 401, "unauthorized");
	ck_assert_msg(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"cocod\""), "%s", r.headers);
	reply_free(&r);
	http(&d, "GET", "/healthz", &o, &r); /* probes need no credentials */
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);

	char hdr[128];
	const char *h[] = {hdr, "Content-Type: application/json", NULL};
	o.headers = h;
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %sX", rtok);
	http(&d, "GET", "/v1/host", &o, &r);
	assert_problem(&r, 401, "unauthorized");
	ck_assert_ptr_nonnull(strstr(r.headers, "error=\"invalid_token\""));
	reply_free(&r);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", rtok);
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	o.body = "{\"level\":\"debug\"}";
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	assert_problem(&r, 403, "forbidden");
	ck_assert_msg(strstr(r.body, "token:dash has role 'reader'"), "%s", r.body);
	reply_free(&r);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", atok);
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	o.body = NULL;
	http(&d, "GET", "/metrics", &o, &r);
	ck_assert_msg(strstr(r.body, "cocod_http_auth_failures_total 2\n"), "%s", r.body);
	reply_free(&r);
}
END_TEST

static void openssl(const char *dir, const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd %s && openssl %s >/dev/null 2>&1", dir, args);
	ck_assert_msg(system(cmd) == 0, "openssl %s", args);
}

static void make_cert(const char *dir, const char *name, const char *subj, const char *ca,
		      const char *ext)
{
	char a[512];
	snprintf(a, sizeof(a),
		 "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr "
		 "-subj '%s'",
		 name, name, subj);
	openssl(dir, a);
	snprintf(a, sizeof(a),
		 "x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 2 -out %s.pem%s",
		 name, ca, ca, name, ext);
	openssl(dir, a);
}

START_TEST(tls_client_certificates)
{
	daemon_config(&d, "listen_tcp = 127.0.0.1:%PORT%\ntls_cert = %DIR%/srv.pem\n"
			  "tls_key = %DIR%/srv.key\ntls_client_ca = %DIR%/ca.pem\n"
			  "tls_subject_role = operator CN=cp,O=Example\n");
	openssl(d.dir, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
		       "-out ca.pem -subj /CN=cocod-test-ca -days 2");
	openssl(d.dir, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		       "rogueca.key -out rogueca.pem -subj /CN=rogue-ca -days 2");
	write_file(d.dir, "san.ext", "subjectAltName=IP:127.0.0.1\n");
	make_cert(d.dir, "srv", "/CN=127.0.0.1", "ca", " -extfile san.ext");
	make_cert(d.dir, "cp", "/O=Example/CN=cp", "ca", "");
	make_cert(d.dir, "other", "/O=Example/CN=other", "ca", "");
	make_cert(d.dir, "rogue", "/O=Example/CN=cp", "rogueca", "");
	daemon_start(&d);

	char ca[128], cert[128], key[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", d.dir);
	snprintf(cert, sizeof(cert), "%s/cp.pem", d.dir);
	snprintf(key, sizeof(key), "%s/cp.key", d.dir);
	struct reply r;
	struct req_opts o = {.tcp = true, .tls = true, .ca = ca, .cert = cert, .key = key};
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body);
	reply_free(&r);
	const char *json_ct[] = {"Content-Type: application/json", NULL};
	o.headers = json_ct;
	o.body = "{\"level\":\"debug\"}";
	http(&d, "PUT", "/v1/host/log-level", &o, &r);
	assert_problem(&r, 403, "forbidden");
	ck_assert_msg(strstr(r.body, "cert:CN=cp,O=Example has role 'operator'"), "%s", r.body);
	reply_free(&r);
	o.headers = NULL;
	o.body = NULL;

	/* Same subject, signed by an untrusted CA: refused on the request itself. */
	snprintf(cert, sizeof(cert), "%s/rogue.pem", d.dir);
	snprintf(key, sizeof(key), "%s/rogue.key", d.dir);
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_msg(r.status == 401 || r.status < 0, "rogue certificate got %ld", r.status);
	if (r.status == 401)
		ck_assert_msg(strstr(r.body, "client certificate rejected"), "%s", r.body);
	reply_free(&r);
	/* Trusted but unmapped subject, and no certificate at all: no role, 401. */
	snprintf(cert, sizeof(cert), "%s/other.pem", d.dir);
	snprintf(key, sizeof(key), "%s/other.key", d.dir);
	http(&d, "GET", "/v1/host", &o, &r);
	assert_problem(&r, 401, "unauthorized");
	ck_assert_msg(strstr(r.body, "CN=other,O=Example' has no role"), "%s", r.body);
	reply_free(&r);
	o.cert = o.key = NULL;
	http(&d, "GET", "/v1/host", &o, &r);
	assert_problem(&r, 401, "unauthorized");
	reply_free(&r);
}
END_TEST

/* Prometheus text format: every sample line is `name{labels} value`, counters add up. */
START_TEST(metrics_format)
{
	daemon_config(&d, "");
	daemon_start(&d);
	struct reply r;
	for (int i = 0; i < 5; i++) {
		http(&d, "GET", "/v1/host", NULL, &r);
		reply_free(&r);
	}
	http(&d, "GET", "/v1/nope", NULL, &r);
	reply_free(&r);
	http(&d, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"), "%s", r.headers);
	ck_assert_ptr_nonnull(strstr(
		r.body, "cocod_http_requests_total{method=\"GET\",route=\"/v1/host\",code=\"200\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body, "cocod_http_requests_total{method=\"\",route=\"unmatched\",code=\"404\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "cocod_platform_info{platform=\"emulated\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body,
		"cocod_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/host\"} 5\n"));
	/* Line grammar and cumulative buckets. */
	char *save, *copy = strdup(r.body);
	unsigned long long last = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			ck_assert_msg(!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7), "%s",
				      line);
			continue;
		}
		char name[128], value[64];
		ck_assert_msg(sscanf(line, "%127[a-z_]%*[^ ] %63s", name, value) == 2 ||
				      sscanf(line, "%127[a-z_] %63s", name, value) == 2,
			      "bad line: %s", line);
		char *end;
		strtod(value, &end);
		ck_assert_msg(*end == '\0', "bad value in: %s", line);
		if (strstr(line, "_bucket{method=\"GET\",route=\"/v1/host\"")) {
			unsigned long long v = strtoull(value, NULL, 10);
			ck_assert_msg(v >= last, "buckets not cumulative: %s", line);
			last = v;
		}
	}
	ck_assert_int_eq(last, 5);
	free(copy);
	reply_free(&r);
}
END_TEST

START_TEST(sigterm_drains_and_exits_0)
{
	daemon_config(&d, "");
	daemon_start(&d);
	/* An idle keep-alive connection must not hold shutdown up. */
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d.sock);
	curl_easy_setopt(h, CURLOPT_URL, "http://localhost/healthz");
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
	curl_easy_cleanup(h);
	ck_assert_int_ne(access(d.sock, F_OK), 0); /* socket removed */
	char *log = slurp(d.log);
	ck_assert_msg(strstr(log, "SIGTERM: draining") && strstr(log, "stopped"), "%s", log);
	free(log);
}
END_TEST

START_TEST(reload_applies_and_refuses_bad_config)
{
	char t1[64], l1[160], t2[64], l2[160], file[400];
	make_token("reader", "old", t1, l1);
	make_token("admin", "new", t2, l2);
	const char *base = "listen_tcp = 127.0.0.1:%PORT%\ntoken_file = %DIR%/tokens\n";
	daemon_config(&d, base);
	snprintf(file, sizeof(file), "%s\n", l1);
	write_file(d.dir, "tokens", file);
	daemon_start(&d);
	char hdr[128];
	const char *h[] = {hdr, NULL};
	struct req_opts o = {.tcp = true, .headers = h};
	struct reply r;
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", t1);
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);

	/* SIGHUP: new token file takes effect, the old token stops working. */
	snprintf(file, sizeof(file), "%s\n", l2);
	write_file(d.dir, "tokens", file);
	kill(d.pid, SIGHUP);
	long st = 0;
	for (int i = 0; i < 100 && st != 401; i++) {
		usleep(20000);
		http(&d, "GET", "/v1/host", &o, &r);
		st = r.status;
		reply_free(&r);
	}
	ck_assert_int_eq(st, 401);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", t2);
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);

	/* POST /v1/host/reload: a restart-only key is reported, a broken file changes nothing. */
	char more[256];
	snprintf(more, sizeof(more), "%slisten_unix_mode = 0600\n", base);
	daemon_rewrite_config(&d, more);
	http(&d, "POST", "/v1/host/reload", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char buf[256];
	ck_assert_str_eq(json_field(r.body, "needs_restart", buf, sizeof(buf)), "listen_unix_mode");
	reply_free(&r);
	daemon_rewrite_config(&d, "platform = native\nbogus_key = 1\n");
	http(&d, "POST", "/v1/host/reload", NULL, &r);
	assert_problem(&r, 422, "invalid-request");
	ck_assert_msg(strstr(r.body, "key 'platform': already set on line 1"), "%s", r.body);
	reply_free(&r);
	kill(d.pid, SIGHUP); /* same broken file by signal: logged, daemon keeps serving */
	usleep(100000);
	http(&d, "GET", "/v1/host", &o, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	char *log = slurp(d.log);
	ck_assert_msg(strstr(log, "SIGHUP: configuration not reloaded, keeping the running one"),
		      "%s", log);
	free(log);
}
END_TEST

START_TEST(operations_and_state_lock)
{
	daemon_config(&d, "");
	char state[128], err[256], id[37];
	snprintf(state, sizeof(state), "%s/state", d.dir);
	struct coco_store *s;
	ck_assert_int_eq(coco_store_open(state, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(coco_store_op_create(s, "test.op", id), 0);
	ck_assert_int_eq(coco_store_op_update(s, id, COCO_OP_RUNNING, 42, "halfway", NULL), 0);
	coco_store_close(s);
	daemon_start(&d);
	struct reply r;
	char path[96], buf[128];
	snprintf(path, sizeof(path), "/v1/operations/%s", id);
	http(&d, "GET", path, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_field(r.body, "kind", buf, sizeof(buf)), "test.op");
	ck_assert_str_eq(json_field(r.body, "state", buf, sizeof(buf)), "running");
	ck_assert_str_eq(json_field(r.body, "progress", buf, sizeof(buf)), "42");
	ck_assert_str_eq(json_field(r.body, "message", buf, sizeof(buf)), "halfway");
	reply_free(&r);
	http(&d, "GET", "/v1/operations/00000000-0000-4000-8000-000000000000", NULL, &r);
	assert_problem(&r, 404, "not-found");
	reply_free(&r);
	http(&d, "GET", "/v1/operations/not-a-uuid", NULL, &r);
	assert_problem(&r, 400, "invalid-request");
	reply_free(&r);

	/* A second cocod on the same state directory refuses to start. */
	struct daemon d2 = d;
	snprintf(d2.sock, sizeof(d2.sock), "%s/second.sock", d.dir);
	snprintf(d2.conf, sizeof(d2.conf), "%s/second.conf", d.dir);
	FILE *f = fopen(d2.conf, "w");
	fprintf(f, "platform = emulated\nstate_directory = %s\nlisten_unix = %s\n", state, d2.sock);
	fclose(f);
	char *out;
	const char *argv[] = {COCOD_BIN, "-c", d2.conf, NULL};
	ck_assert_int_eq(run_capture(argv, &out), 1);
	ck_assert_msg(strstr(out, "is in use by another cocod"), "%s", out);
	free(out);
	/* ... and so does one on the same socket. */
	f = fopen(d2.conf, "w");
	fprintf(f, "platform = emulated\nstate_directory = %s/other\nlisten_unix = %s\n", d.dir,
		d.sock);
	fclose(f);
	ck_assert_int_eq(run_capture(argv, &out), 1);
	ck_assert_msg(strstr(out, "is in use by a running daemon"), "%s", out);
	free(out);
	http(&d, "GET", "/healthz", NULL, &r); /* the first one still serves */
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
}
END_TEST

/* systemd notify protocol: READY=1 with STATUS=, WATCHDOG=1 at half the interval,
 * STOPPING=1 on SIGTERM. The test plays systemd's side of $NOTIFY_SOCKET. */
START_TEST(sd_notify_protocol)
{
	daemon_config(&d, "");
	char path[100], env_sock[160];
	snprintf(path, sizeof(path), "%.80s/notify", d.dir);
	snprintf(env_sock, sizeof(env_sock), "NOTIFY_SOCKET=%s", path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	const char *env[] = {env_sock, "WATCHDOG_USEC=200000", "WATCHDOG_PID=self", NULL};
	d.env = env;
	daemon_start(&d);
	char msg[512];
	bool ready = false, status = false;
	int watchdogs = 0;
	for (int i = 0; i < 50 && watchdogs < 2; i++) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		ck_assert_int_gt(n, 0);
		msg[n] = '\0';
		ready |= strstr(msg, "READY=1") != NULL;
		status |= strstr(msg, "STATUS=Serving on unix:") != NULL;
		watchdogs += strstr(msg, "WATCHDOG=1") != NULL;
	}
	ck_assert(ready);
	ck_assert(status);
	ck_assert_int_eq(watchdogs, 2);
	kill(d.pid, SIGTERM);
	bool stopping = false;
	for (int i = 0; i < 50 && !stopping; i++) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		ck_assert_int_gt(n, 0);
		msg[n] = '\0';
		stopping = strstr(msg, "STOPPING=1") != NULL;
	}
	ck_assert(stopping);
	ck_assert_int_eq(daemon_signal_wait(&d, 0, 15), 0);
	close(fd);
}
END_TEST

/* cocod.socket: systemd passes the listening Unix socket; cocod serves on it. */
START_TEST(socket_activation)
{
	daemon_config(&d, "");
	char activated[128];
	snprintf(activated, sizeof(activated), "%s/activated.sock", d.dir);
	const char *wrapper[] = {"systemd-socket-activate", "-l", activated, NULL};
	d.wrapper = wrapper;
	/* daemon_start polls the configured socket; point it at the activated one, and make the
	 * configured path one cocod must not create. */
	char conf_sock[128];
	snprintf(conf_sock, sizeof(conf_sock), "%s", d.sock);
	snprintf(d.sock, sizeof(d.sock), "%s", activated);
	daemon_start(&d);
	struct reply r;
	http(&d, "GET", "/v1/host", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	ck_assert_int_ne(access(conf_sock, F_OK), 0);
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 15), 0);
	char *log = slurp(d.log);
	ck_assert_msg(strstr(log, "listening on unix:(socket-activated)"), "%s", log);
	free(log);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("daemon");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, bad_config_exits_78);
	tcase_add_test(tc, host_is_emulated);
	tcase_add_test(tc, platform_status);
	tcase_add_test(tc, snp_config_and_commit);
	tcase_add_test(tc, cli_errors);
	tcase_add_test(tc, http_errors);
	tcase_add_test(tc, large_requests);
	tcase_add_test(tc, unix_roles);
	tcase_add_test(tc, tcp_tokens);
	tcase_add_test(tc, tls_client_certificates);
	tcase_add_test(tc, metrics_format);
	tcase_add_test(tc, sigterm_drains_and_exits_0);
	tcase_add_test(tc, reload_applies_and_refuses_bad_config);
	tcase_add_test(tc, operations_and_state_lock);
	tcase_add_test(tc, sd_notify_protocol);
	tcase_add_test(tc, socket_activation);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	curl_global_cleanup();
	return r;
}
