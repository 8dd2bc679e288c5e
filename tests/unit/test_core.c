/* coco/tokens, coco/store, api/auth: token files, the SQLite store, role resolution. */
#include <check.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "api/auth.h"
#include "coco/store.h"
#include "coco/tokens.h"
#include "coco/util.h"
#include "tests/check_main.h"

static char tmpdir[64];

static void mk_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cocod-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(token_roundtrip)
{
	char token[64], line[160], err[256];
	ck_assert_int_eq(coco_token_generate(COCO_ROLE_OPERATOR, "ci", token, line), 0);
	ck_assert_uint_eq(strlen(token), 6 + 43); /* "cocod_" + base64url(32 bytes) */
	ck_assert_int_eq(strncmp(line, "operator sha256:", 16), 0);
	char file[512];
	snprintf(file, sizeof(file), "# tokens\n\n%s\nreader sha256:%064d other\n", line, 0);
	struct coco_tokens t;
	ck_assert_int_eq(coco_tokens_parse("tok", file, strlen(file), &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.n, 2);
	const struct coco_token *e = coco_tokens_find(&t, token, strlen(token));
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->role, COCO_ROLE_OPERATOR);
	ck_assert_str_eq(e->name, "ci");
	ck_assert_ptr_null(coco_tokens_find(&t, token, strlen(token) - 1));
	ck_assert_ptr_null(coco_tokens_find(&t, "", 0));
	token[10] ^= 1;
	ck_assert_ptr_null(coco_tokens_find(&t, token, strlen(token)));
	coco_tokens_clear(&t);
}
END_TEST

static const struct {
	const char *text, *msg;
} bad_tokens[] = {
	{"admin\n", "tok:1: expected"},
	{"\nroot sha256:00\n", "tok:2: expected"},
	{"admin md5:0000\n", "tok:1: hash must be sha256:"},
	{"admin sha256:0000\n", "tok:1: hash must be sha256:"},
	{"admin sha256:zz00000000000000000000000000000000000000000000000000000000000000\n",
	 "tok:1: hash has a non-hex digit"},
	{"none sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
	 "tok:1: expected"},
	{"admin sha256:0000000000000000000000000000000000000000000000000000000000000000 a b\n",
	 "tok:1: name must be one word"},
	{"admin sha256:0000000000000000000000000000000000000000000000000000000000000000 "
	 "n123456789012345678901234567890123456789012345678901234567890123\n",
	 "tok:1: name must be one word of at most 63 characters"},
	/* Found by tests/fuzz/fuzz_tokens: control characters in a name. */
	{"admin sha256:0000000000000000000000000000000000000000000000000000000000000000 a\x0b\x0bb\n",
	 "tok:1: name must be one word"},
};

START_TEST(token_hostile)
{
	struct coco_tokens t;
	char err[256] = "";
	const char *s = bad_tokens[_i].text;
	ck_assert_int_lt(coco_tokens_parse("tok", s, strlen(s), &t, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, bad_tokens[_i].msg), "got '%s'", err);
}
END_TEST

START_TEST(store_operations)
{
	mk_tmp();
	char err[256], dir[128];
	snprintf(dir, sizeof(dir), "%s/state", tmpdir);
	struct coco_store *s;
	ck_assert_msg(coco_store_open(dir, &s, err, sizeof(err)) == 0, "%s", err);
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	int v;
	ck_assert_int_eq(coco_store_schema_version(s, &v), 0);
	ck_assert_int_eq(v, coco_store_latest_schema());
	ck_assert_int_ge(v, 1);

	char id[37];
	ck_assert_int_eq(coco_store_op_create(s, "tdx.update", id), 0);
	ck_assert_uint_eq(strlen(id), 36);
	ck_assert_int_eq(id[14], '4');
	struct coco_operation op;
	ck_assert_int_eq(coco_store_op_get(s, id, &op), 0);
	ck_assert_str_eq(op.kind, "tdx.update");
	ck_assert_int_eq(op.state, COCO_OP_PENDING);
	ck_assert_int_eq(op.progress, 0);
	ck_assert_ptr_null(op.message);
	coco_operation_clear(&op);
	ck_assert_int_eq(coco_store_op_update(s, id, COCO_OP_RUNNING, 40, "uploading", NULL), 0);
	ck_assert_int_eq(coco_store_op_update(s, id, COCO_OP_SUCCEEDED, 100, "done", "{\"v\":1}"), 0);
	ck_assert_int_eq(coco_store_op_get(s, id, &op), 0);
	ck_assert_int_eq(op.state, COCO_OP_SUCCEEDED);
	ck_assert_int_eq(op.progress, 100);
	ck_assert_str_eq(op.message, "done");
	ck_assert_str_eq(op.result_json, "{\"v\":1}");
	coco_operation_clear(&op);
	ck_assert_int_eq(coco_store_op_update(s, id, COCO_OP_RUNNING, 101, NULL, NULL), -EINVAL);
	ck_assert_int_eq(coco_store_op_get(s, "00000000-0000-4000-8000-000000000000", &op), -ENOENT);
	ck_assert_int_eq(coco_store_op_update(s, "00000000-0000-4000-8000-000000000000",
					      COCO_OP_FAILED, 0, NULL, NULL),
			 -ENOENT);

	ck_assert_int_eq(coco_store_audit(s, "uid:0", "log.level", "debug"), 0);
	ck_assert_int_eq(coco_store_audit(s, "uid:0", "log.level", "info"), 0);
	int64_t n;
	ck_assert_int_eq(coco_store_audit_count(s, "log.level", &n), 0);
	ck_assert_int_eq(n, 2);

	/* Idempotency records: per (key, actor), first write wins. */
	struct coco_idem_record ir = {.key = "k-1", .actor = "uid:0", .op = "tdx.module_update",
				      .status = 202, .location = "/v1/operations/x",
				      .response = "{\"operation\":\"x\"}"};
	memset(ir.request_sha256, 0xab, 32);
	struct coco_idem_record got;
	ck_assert_int_eq(coco_store_idem_get(s, "k-1", "uid:0", &got), -ENOENT);
	ck_assert_int_eq(coco_store_idem_put(s, &ir), 0);
	ck_assert_int_eq(coco_store_idem_put(s, &ir), -EEXIST);
	ck_assert_int_eq(coco_store_idem_get(s, "k-1", "uid:0", &got), 0);
	ck_assert_str_eq(got.op, "tdx.module_update");
	ck_assert_int_eq(got.status, 202);
	ck_assert_str_eq(got.location, "/v1/operations/x");
	ck_assert_str_eq(got.response, "{\"operation\":\"x\"}");
	ck_assert_mem_eq(got.request_sha256, ir.request_sha256, 32);
	ck_assert_int_gt(got.created, 0);
	coco_idem_record_clear(&got);
	ck_assert_int_eq(coco_store_idem_get(s, "k-1", "token:ci", &got), -ENOENT);
	snprintf(ir.actor, sizeof(ir.actor), "token:ci");
	ir.response = NULL;
	ck_assert_int_eq(coco_store_idem_put(s, &ir), 0);
	ck_assert_int_eq(coco_store_idem_get(s, "k-1", "token:ci", &got), 0);
	ck_assert_ptr_null(got.response);
	coco_idem_record_clear(&got);
	ir.status = 99;
	ck_assert_int_eq(coco_store_idem_put(s, &ir), -EINVAL);
	ck_assert_int_eq(coco_store_idem_get(s, "", "uid:0", &got), -EINVAL);

	/* One daemon per state directory. */
	struct coco_store *s2;
	ck_assert_int_eq(coco_store_open(dir, &s2, err, sizeof(err)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "in use by another cocod"));
	coco_store_close(s);

	/* Data survives reopening; WAL is on. */
	ck_assert_int_eq(coco_store_open(dir, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(coco_store_op_get(s, id, &op), 0);
	ck_assert_int_eq(op.state, COCO_OP_SUCCEEDED);
	coco_operation_clear(&op);
	coco_store_close(s);
	char db[192];
	snprintf(db, sizeof(db), "%s/cocod.db", dir);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA journal_mode;", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	/* A store written by a newer cocod is refused, not downgraded. */
	ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO schema_version VALUES (999, 0);", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	ck_assert_int_eq(coco_store_open(dir, &s, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "newer than this cocod knows"));
	rm_tmp();
}
END_TEST

START_TEST(auth_roles)
{
	struct coco_unix_role roles[] = {
		{COCO_ROLE_OPERATOR, false, 1000},
		{COCO_ROLE_READER, true, 50},
		{COCO_ROLE_ADMIN, true, 60},
		{COCO_ROLE_READER, false, 0}, /* root demoted explicitly */
	};
	struct coco_config c = {.unix_default_role = COCO_ROLE_NONE, .unix_roles = roles,
				.n_unix_roles = 3};
	struct api_auth *a;
	char err[128];
	ck_assert_int_eq(api_auth_new(&c, &a, err, sizeof(err)), 0);
	gid_t g_none[] = {100}, g50[] = {100, 50}, g5060[] = {50, 60};
	ck_assert_int_eq(api_auth_unix_role(a, 1000, g5060, 2), COCO_ROLE_OPERATOR);
	ck_assert_int_eq(api_auth_unix_role(a, 1001, g_none, 1), COCO_ROLE_NONE);
	ck_assert_int_eq(api_auth_unix_role(a, 1001, g50, 2), COCO_ROLE_READER);
	ck_assert_int_eq(api_auth_unix_role(a, 1001, g5060, 2), COCO_ROLE_ADMIN);
	ck_assert_int_eq(api_auth_unix_role(a, 0, g_none, 1), COCO_ROLE_ADMIN);
	api_auth_free(a);
	c.n_unix_roles = 4;
	c.unix_default_role = COCO_ROLE_READER;
	ck_assert_int_eq(api_auth_new(&c, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(api_auth_unix_role(a, 0, g_none, 1), COCO_ROLE_READER);
	ck_assert_int_eq(api_auth_unix_role(a, 4242, g_none, 1), COCO_ROLE_READER);
	ck_assert_ptr_null(api_auth_bearer(a, "Bearer x"));
	ck_assert_ptr_null(api_auth_bearer(a, NULL));
	api_auth_free(a);
}
END_TEST

START_TEST(auth_bearer)
{
	mk_tmp();
	char token[64], line[160], err[256], path[128];
	ck_assert_int_eq(coco_token_generate(COCO_ROLE_ADMIN, "ops", token, line), 0);
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	FILE *f = fopen(path, "w");
	fprintf(f, "%s\n", line);
	fclose(f);
	struct coco_config c = {.token_file = path};
	struct api_auth *a;
	ck_assert_int_eq(api_auth_new(&c, &a, err, sizeof(err)), 0);
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "Bearer %s", token);
	const struct coco_token *t = api_auth_bearer(a, hdr);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->role, COCO_ROLE_ADMIN);
	snprintf(hdr, sizeof(hdr), "bearer   %s", token);
	ck_assert_ptr_nonnull(api_auth_bearer(a, hdr));
	snprintf(hdr, sizeof(hdr), "Basic %s", token);
	ck_assert_ptr_null(api_auth_bearer(a, hdr));
	snprintf(hdr, sizeof(hdr), "Bearer %s extra", token);
	ck_assert_ptr_null(api_auth_bearer(a, hdr));
	ck_assert_ptr_null(api_auth_bearer(a, "Bearer "));
	api_auth_free(a);
	c.token_file = "/nonexistent/tokens";
	ck_assert_int_eq(api_auth_new(&c, &a, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tokens: cannot read"));
	rm_tmp();
}
END_TEST

/* RFC 4648 section 10 test vectors, both ways. */
START_TEST(base64_vectors)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					  "Zm9vYmFy"};
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		char *e = base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		free(e);
		uint8_t *d;
		size_t n;
		ck_assert_int_eq(base64_decode(enc[i], strlen(enc[i]), &d, &n), 0);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_mem_eq(d, plain[i], n);
		free(d);
	}
}
END_TEST

/* Not base64, or not the canonical form: refused, output untouched. */
static const char *const bad_base64[] = {
	"Zg=",      /* length not a multiple of 4 */
	"Zg",       /* unpadded */
	"Zm9v\n",  /* whitespace */
	"Zm 9",     /* a blank */
	"Zh==",     /* nonzero bits under the padding */
	"Zm9=",     /* nonzero bits under the padding */
	"Z===",     /* three pad characters */
	"=Zm9",     /* padding first */
	"Zg==Zm9v", /* padding in the middle */
	"Zm9-",     /* base64url alphabet */
	"Zm9_",
};

START_TEST(base64_hostile)
{
	const char *in = bad_base64[_i];
	uint8_t *d = (uint8_t *)0x1;
	size_t n = 77;
	ck_assert_int_eq(base64_decode(in, strlen(in), &d, &n), -EINVAL);
	ck_assert_ptr_eq(d, (uint8_t *)0x1);
	ck_assert_uint_eq(n, 77);
}
END_TEST

/* Migration 5: guests put/get/list/state/delete; the name is unique; bad records refused. */
START_TEST(store_guests)
{
	mk_tmp();
	char err[256], dir[128];
	snprintf(dir, sizeof(dir), "%s/state", tmpdir);
	struct coco_store *s;
	ck_assert_msg(coco_store_open(dir, &s, err, sizeof(err)) == 0, "%s", err);
	int v;
	ck_assert_int_eq(coco_store_schema_version(s, &v), 0);
	ck_assert_int_ge(v, 5);
	struct coco_guest g = {.id = "11111111-2222-4333-8444-555555555555", .name = "web-1",
			       .tee = "snp", .backend = "emulated", .state = COCO_GUEST_LAUNCHING,
			       .request = "{\"name\":\"web-1\"}", .platform_tcb = 0x1234,
			       .created = 100};
	memset(g.expected, 'a', 96);
	ck_assert_int_eq(coco_store_guest_put(s, &g), 0);
	/* same name, other id: refused, nothing stored */
	struct coco_guest dup = g;
	memcpy(dup.id, "11111111-2222-4333-8444-666666666666", 37);
	ck_assert_int_eq(coco_store_guest_put(s, &dup), -EEXIST);
	struct coco_guest bad = g;
	memcpy(bad.tee, "sev", 4);
	ck_assert_int_eq(coco_store_guest_put(s, &bad), -EINVAL);
	bad = g;
	bad.request = NULL;
	ck_assert_int_eq(coco_store_guest_put(s, &bad), -EINVAL);

	ck_assert_int_eq(coco_store_guest_set_state(s, g.id, COCO_GUEST_RUNNING, NULL, 200), 0);
	ck_assert_int_eq(coco_store_guest_set_state(s, dup.id, COCO_GUEST_RUNNING, NULL, 0),
			 -ENOENT);
	struct coco_guest got;
	ck_assert_int_eq(coco_store_guest_get(s, g.id, &got), 0);
	ck_assert_str_eq(got.name, "web-1");
	ck_assert_str_eq(got.tee, "snp");
	ck_assert_str_eq(got.backend, "emulated");
	ck_assert_str_eq(got.expected, g.expected);
	ck_assert_str_eq(got.request, g.request);
	ck_assert_int_eq(got.state, COCO_GUEST_RUNNING);
	ck_assert_ptr_null(got.detail);
	ck_assert_uint_eq(got.platform_tcb, 0x1234);
	ck_assert_int_eq(got.created, 100);
	ck_assert_int_eq(got.launched, 200);
	coco_guest_clear(&got);
	/* a state change without a launch time keeps it */
	ck_assert_int_eq(coco_store_guest_set_state(s, g.id, COCO_GUEST_STOPPED, "why", 0), 0);
	ck_assert_int_eq(coco_store_guest_put(s, &dup), -EEXIST);
	memcpy(dup.name, "web-2", 6);
	dup.created = 150;
	ck_assert_int_eq(coco_store_guest_put(s, &dup), 0);
	struct coco_guest *list;
	size_t n;
	ck_assert_int_eq(coco_store_guest_list(s, &list, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "web-1");
	ck_assert_int_eq(list[0].state, COCO_GUEST_STOPPED);
	ck_assert_str_eq(list[0].detail, "why");
	ck_assert_int_eq(list[0].launched, 200);
	ck_assert_str_eq(list[1].name, "web-2");
	coco_guests_free(list, n);
	ck_assert_int_eq(coco_store_guest_delete(s, g.id), 0);
	ck_assert_int_eq(coco_store_guest_delete(s, g.id), -ENOENT);
	ck_assert_int_eq(coco_store_guest_get(s, g.id, &got), -ENOENT);
	coco_store_close(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("tokens");
	tcase_add_test(tc, token_roundtrip);
	tcase_add_loop_test(tc, token_hostile, 0, (int)ARRAY_SIZE(bad_tokens));
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_test(tc, store_operations);
	tcase_add_test(tc, store_guests);
	suite_add_tcase(s, tc);
	tc = tcase_create("auth");
	tcase_add_test(tc, auth_roles);
	tcase_add_test(tc, auth_bearer);
	suite_add_tcase(s, tc);
	tc = tcase_create("base64");
	tcase_add_test(tc, base64_vectors);
	tcase_add_loop_test(tc, base64_hostile, 0, (int)ARRAY_SIZE(bad_base64));
	suite_add_tcase(s, tc);
	return run_suite(s);
}
