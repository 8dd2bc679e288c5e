/* api/: strict JSON bodies, routing (404/405/captures), problem+json, metrics text, and the
 * OpenAPI document covering every routed path. */
#include <check.h>

#include "api/http.h"
#include "api/metrics.h"
#include "coco/util.h"
#include "tests/check_main.h"

static json_object *parse_body(const char *ct, const char *body, struct api_response *rs)
{
	struct api_request rq = {.content_type = ct, .body = body, .body_len = strlen(body)};
	memset(rs, 0, sizeof(*rs));
	return api_parse_json_body(&rq, rs);
}

static json_object *body_json(const struct api_response *rs)
{
	return json_tokener_parse(rs->body);
}

static const char *field(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

START_TEST(json_ok)
{
	struct api_response rs;
	json_object *o = parse_body("application/json; charset=utf-8", " {\"level\":\"debug\"}\n", &rs);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(field(o, "level"), "debug");
	json_object_put(o);
	api_response_clear(&rs);
	/* Valid UTF-8 of every length, escapes and in-range extremes pass. */
	o = parse_body("application/json",
		       "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92\\u00e9\\n\",\"u\":18446744073709551615,"
		       "\"i\":-9223372036854775808,\"f\":-1.5e300,\"n\":[null,true,false,{}]}",
		       &rs);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(field(o, "s"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92\xc3\xa9\n");
	json_object_put(o);
	api_response_clear(&rs);
}
END_TEST

static const struct {
	const char *ct, *body;
	unsigned status;
	const char *detail;
} bad_json[] = {
	{"application/json", "{\"level\": debu", 400, "at byte offset 10"},
	{"application/json", "{\"a\":1} x", 400, "trailing data after the JSON value at byte offset 8"},
	{"application/json", "[1,2]", 400, "must be a JSON object"},
	/* json-c's own strict mode accepts each of the next six; RFC 8259 does not. */
	{"application/json", "{'a':1}", 400, "object key (a string) expected at byte offset 1"},
	{"application/json", "{\"a\":NaN}", 400, "unexpected character at byte offset 5"},
	{"application/json", "{\"a\":Infinity}", 400, "unexpected character at byte offset 5"},
	{"application/json", "{\"a\":1.}", 400, "digit expected after decimal point at byte offset 7"},
	{"application/json", "{\"a\":\"x\ty\"}", 400, "control character in string at byte offset 7"},
	{"application/json", "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", 400, "duplicate key in the object starting at byte offset 11"},
	{"application/json", "{\"a\":1,}", 400, "object key (a string) expected at byte offset 7"},
	{"application/json", "{\"a\":01}", 400, "',' or '}' expected at byte offset 6"},
	{"application/json", "{\"a\":\"\\x\"}", 400, "bad escape in string at byte offset 7"},
	{"application/json", "{\"a\":", 400, "unexpected end of input"},
	{"application/json", "", 400, "empty"},
	{"text/plain", "{}", 415, "must be application/json"},
	{NULL, "{}", 415, "must be application/json"},
	{"application/jsonx", "{}", 415, "must be application/json"},
	{"application/json", "{\"a\":\"\xff\xfe\"}", 400, "invalid UTF-8 at byte offset 6"},
	/* Found by tests/fuzz/fuzz_json_body: overlong '/', a surrogate, above U+10FFFF. */
	{"application/json", "{\"a\":\"\xc0\xaf\"}", 400, "invalid UTF-8 at byte offset 6"},
	{"application/json", "{\"a\":\"\xed\xa0\x80\"}", 400, "invalid UTF-8 at byte offset 6"},
	{"application/json", "{\"a\":\"\xf4\x90\x80\x80\"}", 400, "invalid UTF-8 at byte offset 6"},
	{"application/json", "{\"a\":\"\xe2\x82\"}", 400, "invalid UTF-8 at byte offset 6"},
	/* json-c cuts keys at NUL: "level\u0000x" must not pass for "level". */
	{"application/json", "{\"level\\u0000x\":\"debug\"}", 400, "\\u0000 is not accepted"},
	/* json-c clamps these silently. */
	{"application/json", "{\"a\":18446744073709551616}", 400, "integer out of range at byte offset 5"},
	{"application/json", "{\"a\":-9223372036854775809}", 400, "integer out of range at byte offset 5"},
	{"application/json", "42", 400, "must be a JSON object"},
	{"application/json", "true", 400, "must be a JSON object"},
};

START_TEST(json_hostile)
{
	struct api_response rs;
	ck_assert_ptr_null(parse_body(bad_json[_i].ct, bad_json[_i].body, &rs));
	ck_assert_uint_eq(rs.status, bad_json[_i].status);
	ck_assert_str_eq(rs.content_type, "application/problem+json");
	json_object *p = body_json(&rs);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strstr(field(p, "detail"), bad_json[_i].detail) ||
			      strstr(field(p, "title"), bad_json[_i].detail),
		      "case %d: %s", _i, field(p, "detail"));
	ck_assert_str_eq(field(p, "type"), bad_json[_i].status == 415
						   ? "urn:cocod:problem:unsupported-media-type"
						   : "urn:cocod:problem:malformed-json");
	json_object_put(p);
	api_response_clear(&rs);
}
END_TEST

START_TEST(json_deep_nesting)
{
	char body[300];
	memset(body, '[', 200);
	body[200] = '\0';
	struct api_response rs;
	ck_assert_ptr_null(parse_body("application/json", body, &rs));
	ck_assert_uint_eq(rs.status, 400);
	api_response_clear(&rs);
}
END_TEST

START_TEST(routing)
{
	struct api_request rq = {0};
	size_t idx;
	char allow[128];
	ck_assert_int_eq(api_route_match("GET", "/v1/host", &rq, &idx, allow, sizeof(allow)),
			 API_MATCH_OK);
	ck_assert_str_eq(api_routes[idx].pattern, "/v1/host");
	ck_assert_int_eq(api_route_match("DELETE", "/v1/host", &rq, &idx, allow, sizeof(allow)),
			 API_MATCH_NO_METHOD);
	ck_assert_str_eq(allow, "GET");
	ck_assert_int_eq(api_route_match("GET", "/v1/host/log-level", &rq, &idx, allow,
					 sizeof(allow)),
			 API_MATCH_NO_METHOD);
	ck_assert_str_eq(allow, "PUT");
	ck_assert_int_eq(api_route_match("GET", "/v1/operations/abc-1", &rq, &idx, allow,
					 sizeof(allow)),
			 API_MATCH_OK);
	ck_assert_str_eq(rq.captures[0], "abc-1");
	const char *none[] = {"/v1/operations/", "/v1/operations/a/b", "/v1/hosts", "/v1/host/",
			      "v1/host", "", "/", "//", "/v1//host", "/healthz/x"};
	for (size_t i = 0; i < ARRAY_SIZE(none); i++)
		ck_assert_msg(api_route_match("GET", none[i], &rq, &idx, allow, sizeof(allow)) ==
				      API_MATCH_NO_PATH,
			      "%s", none[i]);
}
END_TEST

START_TEST(problem_document)
{
	struct api_response rs = {0};
	api_problem(&rs, 404, "not-found", "Not found", "no operation %s", "x\"y");
	ck_assert_uint_eq(rs.status, 404);
	json_object *p = body_json(&rs);
	ck_assert_str_eq(field(p, "type"), "urn:cocod:problem:not-found");
	ck_assert_str_eq(field(p, "title"), "Not found");
	ck_assert_str_eq(field(p, "detail"), "no operation x\"y");
	json_object *st;
	ck_assert(json_object_object_get_ex(p, "status", &st));
	ck_assert_int_eq(json_object_get_int(st), 404);
	json_object_put(p);
	api_response_clear(&rs);
}
END_TEST

START_TEST(metrics_text)
{
	struct api_metrics m;
	ck_assert_int_eq(api_metrics_init(&m, 2), 0);
	api_metrics_label(&m, 0, "GET", "/v1/host");
	api_metrics_label(&m, 1, "", "unmatched");
	api_metrics_observe(&m, 0, 200, 0.0002);
	api_metrics_observe(&m, 0, 200, 0.003);
	api_metrics_observe(&m, 0, 403, 20.0); /* beyond the last bucket: only +Inf */
	struct api_metrics_info info = {"1.0", "abc", "emulated", 5, 1, 7};
	char *text;
	size_t len;
	ck_assert_int_eq(api_metrics_render(&m, &info, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	const char *want[] = {
		"cocod_build_info{version=\"1.0\",commit=\"abc\"} 1\n",
		"cocod_platform_info{platform=\"emulated\"} 1\n",
		"cocod_http_auth_failures_total 7\n",
		"cocod_http_requests_total{method=\"GET\",route=\"/v1/host\",code=\"200\"} 2\n",
		"cocod_http_requests_total{method=\"GET\",route=\"/v1/host\",code=\"403\"} 1\n",
		"cocod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/host\",le=\"0.0001\"} 0\n",
		"cocod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/host\",le=\"0.00025\"} 1\n",
		"cocod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/host\",le=\"0.005\"} 2\n",
		"cocod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/host\",le=\"10\"} 2\n",
		"cocod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/host\",le=\"+Inf\"} 3\n",
		"cocod_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/host\"} 3\n",
		"# TYPE cocod_http_request_duration_seconds histogram\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ck_assert_msg(strstr(text, want[i]), "missing: %s", want[i]);
	ck_assert_ptr_null(strstr(text, "route=\"unmatched\",le=")); /* no samples, no series */
	ck_assert_ptr_nonnull(strstr(text, "_sum{method=\"GET\",route=\"/v1/host\"} 20.003200000\n"));
	free(text);
	api_metrics_free(&m);
}
END_TEST

/* Every routed method+path must be documented in api/openapi.yaml under `paths:`. */
START_TEST(openapi_complete)
{
	char *doc;
	ck_assert_int_eq(read_file_max(SOURCE_DIR "/api/openapi.yaml", 1 << 20, &doc, NULL), 0);
	for (size_t i = 0; i < api_n_routes; i++) {
		char path_line[160], method_line[32];
		snprintf(path_line, sizeof(path_line), "\n  %s:\n", api_routes[i].pattern);
		const char *p = strstr(doc, path_line);
		ck_assert_msg(p, "api/openapi.yaml lacks path %s", api_routes[i].pattern);
		/* The method must appear among this path's keys (before the next path). */
		const char *next = p + strlen(path_line);
		const char *end = next;
		while ((end = strchr(end, '\n')) && strncmp(end + 1, "    ", 4) == 0)
			end++;
		char lower[8];
		size_t k;
		for (k = 0; api_routes[i].method[k] && k < sizeof(lower) - 1; k++)
			lower[k] = (char)(api_routes[i].method[k] | 0x20);
		lower[k] = '\0';
		snprintf(method_line, sizeof(method_line), "\n    %s:\n", lower);
		const char *m = strstr(p, method_line);
		ck_assert_msg(m && (!end || m < end), "api/openapi.yaml lacks %s %s",
			      api_routes[i].method, api_routes[i].pattern);
	}
	free(doc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("http");
	tcase_add_test(tc, json_ok);
	tcase_add_loop_test(tc, json_hostile, 0, (int)ARRAY_SIZE(bad_json));
	tcase_add_test(tc, json_deep_nesting);
	tcase_add_test(tc, routing);
	tcase_add_test(tc, problem_document);
	tcase_add_test(tc, metrics_text);
	tcase_add_test(tc, openapi_complete);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
