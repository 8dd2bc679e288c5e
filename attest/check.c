/* attest/check.c: the named check list every verifier fills. */
#include "attest/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coco/util.h"

struct attest_check *attest_add(struct attest_result *res, const char *name,
				enum attest_status status, const char *expected, const char *actual,
				const char *fmt, ...)
{
	static __thread struct attest_check spare;
	struct attest_check *c;
	if (res->n >= ATTEST_MAX_CHECKS) {
		res->overflow = true;
		c = &spare;
	} else {
		c = &res->checks[res->n++];
	}
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->status = status;
	snprintf(c->expected, sizeof(c->expected), "%s", expected ? expected : "");
	snprintf(c->actual, sizeof(c->actual), "%s", actual ? actual : "");
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
		va_end(ap);
	}
	return c;
}

const struct attest_check *attest_find(const struct attest_result *res, const char *name)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->checks[i].name, name) == 0)
			return &res->checks[i];
	return NULL;
}

const struct attest_check *attest_first_failure(const struct attest_result *res)
{
	for (size_t i = 0; i < res->n; i++)
		if (res->checks[i].status == ATTEST_FAILED)
			return &res->checks[i];
	return NULL;
}

bool attest_ok(const struct attest_result *res)
{
	return !res->overflow && res->n > 0 && !attest_first_failure(res);
}

const char *attest_status_name(enum attest_status s)
{
	switch (s) {
	case ATTEST_PASSED:
		return "passed";
	case ATTEST_FAILED:
		return "failed";
	case ATTEST_SKIPPED:
		break;
	}
	return "skipped";
}

json_object *attest_result_json(const struct attest_result *res)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "verified", json_object_new_boolean(attest_ok(res)));
	const struct attest_check *f = attest_first_failure(res);
	if (f)
		json_object_object_add(o, "first_failure", json_object_new_string(f->name));
	for (size_t i = 0; i < res->n; i++) {
		const struct attest_check *c = &res->checks[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(c->name));
		json_object_object_add(e, "status",
				       json_object_new_string(attest_status_name(c->status)));
		if (c->expected[0])
			json_object_object_add(e, "expected", json_object_new_string(c->expected));
		if (c->actual[0])
			json_object_object_add(e, "actual", json_object_new_string(c->actual));
		if (c->detail[0])
			json_object_object_add(e, "detail", json_object_new_string(c->detail));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "checks", a);
	if (res->overflow)
		json_object_object_add(o, "error", json_object_new_string("too many checks"));
	return o;
}

void attest_json_hex(json_object *o, const char *key, const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];
	hex_encode(b, n > 64 ? 64 : n, hex);
	json_object_object_add(o, key, json_object_new_string(hex));
}

void attest_json_u64hex(json_object *o, const char *key, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "0x%016llx", (unsigned long long)v);
	json_object_object_add(o, key, json_object_new_string(s));
}
