/* attest/check.h: the result of a verification: every check by name, passed, failed or
 * skipped, with the values it compared. A verifier never stops silently: a check it did not
 * run is listed as skipped with the reason. Pure (no I/O, no logging). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATTEST_MAX_CHECKS 64
#define ATTEST_VALUE_MAX 200

enum attest_status {
	ATTEST_SKIPPED = 0,
	ATTEST_PASSED,
	ATTEST_FAILED,
};

struct attest_check {
	char name[40];			/* e.g. "report.signature", "policy.measurement" */
	enum attest_status status;
	char expected[ATTEST_VALUE_MAX]; /* what was required ("" when nothing to compare) */
	char actual[ATTEST_VALUE_MAX];	 /* what the evidence says */
	char detail[ATTEST_VALUE_MAX];	 /* why it failed or was skipped, or what was checked */
};

struct attest_result {
	size_t n;
	struct attest_check checks[ATTEST_MAX_CHECKS];
	bool overflow; /* more checks than fit: the result counts as failed */
};

/* Append a check; expected/actual/detail may be NULL. Returns the entry (a spare one when the
 * list is full, so callers need not test). */
struct attest_check *attest_add(struct attest_result *res, const char *name,
				enum attest_status status, const char *expected, const char *actual,
				const char *fmt, ...) __attribute__((format(printf, 6, 7)));
const struct attest_check *attest_find(const struct attest_result *res, const char *name);
/* True when no check failed (and none overflowed): skipped checks were not requested. */
bool attest_ok(const struct attest_result *res);
/* The first failed check, NULL if none. */
const struct attest_check *attest_first_failure(const struct attest_result *res);
const char *attest_status_name(enum attest_status s);
/* JSON helpers of the evidence renderers: lowercase hex of n bytes (n <= 64), "0x%016llx". */
void attest_json_hex(json_object *o, const char *key, const uint8_t *b, size_t n);
void attest_json_u64hex(json_object *o, const char *key, uint64_t v);
/* {"verified": bool, "checks": [{"name", "status", "expected"?, "actual"?, "detail"?}]} */
json_object *attest_result_json(const struct attest_result *res);
