/* RFC 8259 syntax check for untrusted JSON, stricter than json-c's JSON_TOKENER_STRICT (which
 * accepts single quotes, NaN, Infinity, "1." and raw control characters in strings). Also
 * rejects duplicate object keys: checked by key counts against the parsed tree. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>

#define COCO_JSON_MAX_DEPTH 32

struct coco_json_error {
	size_t offset;
	const char *what;
};

/* Validate buf[0..len) as exactly one JSON value (surrounding whitespace allowed), then
 * parse it with json-c. Returns the object, or NULL with err filled. */
json_object *coco_json_parse_strict(const char *buf, size_t len, struct coco_json_error *err);
