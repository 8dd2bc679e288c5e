/* api_parse_json_body(): an HTTP request body sent as application/json (PUT
 * /v1/host/log-level and every later write endpoint). Checks: an accepted body is one JSON
 * object -- valid UTF-8, '{' ... '}' with only JSON whitespace around it -- that leaves the
 * response alone and survives serialisation and a second parse unchanged; a rejected body
 * gets a 400 application/problem+json whose JSON says so and whose byte offset, if any, lies
 * inside the body. */
#include <errno.h>
#include <string.h>

#include "api/http.h"
#include "tests/fuzz/fuzz.h"

static bool is_json_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'; /* RFC 8259 section 2 */
}

/* RFC 3629 section 4: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool is_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void check_accepted(json_object *obj, const uint8_t *data, size_t size,
			   const struct api_response *rs)
{
	FUZZ_CHECK(json_object_is_type(obj, json_type_object));
	FUZZ_CHECK(rs->status == 0 && !rs->body && rs->body_len == 0 && rs->n_headers == 0);
	FUZZ_CHECK(!memchr(data, '\0', size) && is_utf8(data, size));
	size_t b = 0, e = size;
	while (b < e && is_json_ws(data[b]))
		b++;
	while (e > b && is_json_ws(data[e - 1]))
		e--;
	FUZZ_CHECK(e - b >= 2 && data[b] == '{' && data[e - 1] == '}');

	/* What json-c writes back must be accepted again and mean the same. */
	size_t len;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	FUZZ_CHECK(s);
	struct api_request rq = {.content_type = "application/json", .body = s, .body_len = len};
	struct api_response rs2 = {0};
	json_object *again = api_parse_json_body(&rq, &rs2);
	if (!again)
		fprintf(stderr, "re-parse of \"%s\" failed: %.*s", s, (int)rs2.body_len, rs2.body);
	FUZZ_CHECK(again && json_object_equal(obj, again));
	json_object_put(again);
	api_response_clear(&rs2);
}

static void check_rejected(const uint8_t *data, size_t size, const struct api_response *rs)
{
	FUZZ_CHECK(rs->status == 400 || rs->status == 500); /* 500 only when out of memory */
	FUZZ_CHECK(rs->content_type && strcmp(rs->content_type, "application/problem+json") == 0);
	FUZZ_CHECK(rs->body && rs->body_len >= 2 && rs->body[rs->body_len - 1] == '\n');

	json_tokener *tok = json_tokener_new();
	FUZZ_CHECK(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *p = json_tokener_parse_ex(tok, rs->body, (int)rs->body_len - 1);
	FUZZ_CHECK(p && json_tokener_get_parse_end(tok) == rs->body_len - 1);
	json_tokener_free(tok);
	json_object *status, *type, *detail;
	FUZZ_CHECK(json_object_object_get_ex(p, "status", &status) &&
		   json_object_get_int(status) == (int)rs->status);
	FUZZ_CHECK(json_object_object_get_ex(p, "type", &type) &&
		   json_object_is_type(type, json_type_string));
	FUZZ_CHECK(json_object_object_get_ex(p, "detail", &detail) &&
		   json_object_get_string_len(detail) > 0);
	const char *d = json_object_get_string(detail);
	if (rs->status == 400) {
		FUZZ_CHECK(
		    strcmp(json_object_get_string(type), "urn:cocod:problem:malformed-json") == 0);
		/* "... at byte offset N": N is inside the body, or its end for a truncated one;
		 * for trailing data it is the first byte that is not whitespace. */
		const char *at = strstr(d, "at byte offset ");
		if (at) {
			char *end;
			unsigned long long off = strtoull(at + 15, &end, 10);
			FUZZ_CHECK(end > at + 15 && *end == '\0' && off <= size);
			if (strncmp(d, "trailing data", 13) == 0)
				FUZZ_CHECK(off < size && !is_json_ws(data[off]));
		}
	}
	json_object_put(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_request rq = {
	    .method = "PUT",
	    .path = "/v1/host/log-level",
	    .content_type = "application/json",
	    .body = (const char *)data, /* not NUL-terminated: the parser must use body_len */
	    .body_len = size,
	};
	struct api_response rs = {0};
	json_object *obj = api_parse_json_body(&rq, &rs);
	if (obj) {
		check_accepted(obj, data, size, &rs);
		json_object_put(obj);
	} else {
		check_rejected(data, size, &rs);
	}
	api_response_clear(&rs);
	return 0;
}
