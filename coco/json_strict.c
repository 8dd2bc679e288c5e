#include "coco/json_strict.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	const unsigned char *p;
	size_t len, pos;
	unsigned depth;
	size_t *key_counts; /* per object, in pre-order */
	size_t n_objects, cap_objects;
	struct coco_json_error *err;
};

static bool fail(struct scan *s, const char *what)
{
	s->err->offset = s->pos;
	s->err->what = what;
	return false;
}

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' ||
				   s->p[s->pos] == '\n' || s->p[s->pos] == '\r'))
		s->pos++;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 8259 section 7; UTF-8 validity is left to json-c's JSON_TOKENER_VALIDATE_UTF8. */
static bool scan_string(struct scan *s)
{
	s->pos++; /* opening quote */
	while (s->pos < s->len) {
		unsigned char c = s->p[s->pos];
		if (c == '"') {
			s->pos++;
			return true;
		}
		if (c < 0x20)
			return fail(s, "control character in string");
		if (c == '\\') {
			if (++s->pos >= s->len)
				break;
			c = s->p[s->pos];
			if (c == 'u') {
				for (int i = 1; i <= 4; i++)
					if (s->pos + (size_t)i >= s->len || !is_hex(s->p[s->pos + (size_t)i]))
						return fail(s, "bad \\u escape");
				s->pos += 4;
			} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
				return fail(s, "bad escape in string");
			}
		}
		s->pos++;
	}
	return fail(s, "unterminated string");
}

static bool scan_digits(struct scan *s)
{
	size_t start = s->pos;
	while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9')
		s->pos++;
	return s->pos > start;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct scan *s)
{
	if (s->p[s->pos] == '-')
		s->pos++;
	if (s->pos < s->len && s->p[s->pos] == '0')
		s->pos++;
	else if (!scan_digits(s))
		return fail(s, "bad number");
	if (s->pos < s->len && s->p[s->pos] == '.') {
		s->pos++;
		if (!scan_digits(s))
			return fail(s, "digit expected after decimal point");
	}
	if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
		s->pos++;
		if (s->pos < s->len && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
			s->pos++;
		if (!scan_digits(s))
			return fail(s, "digit expected in exponent");
	}
	return true;
}

static bool scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);
	if (s->len - s->pos < n || memcmp(s->p + s->pos, lit, n) != 0)
		return fail(s, "unexpected character");
	s->pos += n;
	return true;
}

static bool scan_value(struct scan *s);

static bool scan_object(struct scan *s)
{
	if (s->n_objects == s->cap_objects) {
		size_t nc = s->cap_objects ? s->cap_objects * 2 : 16;
		size_t *n = realloc(s->key_counts, nc * sizeof(*n));
		if (!n)
			return fail(s, "out of memory");
		s->key_counts = n;
		s->cap_objects = nc;
	}
	size_t idx = s->n_objects++;
	s->key_counts[idx] = 0;
	s->pos++;
	skip_ws(s);
	if (s->pos < s->len && s->p[s->pos] == '}') {
		s->pos++;
		return true;
	}
	for (;;) {
		skip_ws(s);
		if (s->pos >= s->len || s->p[s->pos] != '"')
			return fail(s, "object key (a string) expected");
		if (!scan_string(s))
			return false;
		s->key_counts[idx]++;
		skip_ws(s);
		if (s->pos >= s->len || s->p[s->pos] != ':')
			return fail(s, "':' expected");
		s->pos++;
		if (!scan_value(s))
			return false;
		skip_ws(s);
		if (s->pos < s->len && s->p[s->pos] == ',') {
			s->pos++;
			continue;
		}
		if (s->pos < s->len && s->p[s->pos] == '}') {
			s->pos++;
			return true;
		}
		return fail(s, "',' or '}' expected");
	}
}

static bool scan_array(struct scan *s)
{
	s->pos++;
	skip_ws(s);
	if (s->pos < s->len && s->p[s->pos] == ']') {
		s->pos++;
		return true;
	}
	for (;;) {
		if (!scan_value(s))
			return false;
		skip_ws(s);
		if (s->pos < s->len && s->p[s->pos] == ',') {
			s->pos++;
			continue;
		}
		if (s->pos < s->len && s->p[s->pos] == ']') {
			s->pos++;
			return true;
		}
		return fail(s, "',' or ']' expected");
	}
}

static bool scan_value(struct scan *s)
{
	skip_ws(s);
	if (s->pos >= s->len)
		return fail(s, "unexpected end of input");
	unsigned char c = s->p[s->pos];
	bool ok;
	switch (c) {
	case '{':
	case '[':
		if (++s->depth > COCO_JSON_MAX_DEPTH)
			return fail(s, "nesting deeper than 32 levels");
		ok = c == '{' ? scan_object(s) : scan_array(s);
		s->depth--;
		return ok;
	case '"': return scan_string(s);
	case 't': return scan_literal(s, "true");
	case 'f': return scan_literal(s, "false");
	case 'n': return scan_literal(s, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return scan_number(s);
		return fail(s, "unexpected character");
	}
}

/* Pre-order walk comparing each object's key count with the scanner's. */
static bool counts_match(json_object *o, const size_t *counts, size_t n, size_t *i)
{
	if (json_object_is_type(o, json_type_object)) {
		if (*i >= n || (size_t)json_object_object_length(o) != counts[*i])
			return false;
		(*i)++;
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (!counts_match(v, counts, n, i))
				return false;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t a = 0; a < json_object_array_length(o); a++)
			if (!counts_match(json_object_array_get_idx(o, a), counts, n, i))
				return false;
	}
	return true;
}

json_object *coco_json_parse_strict(const char *buf, size_t len, struct coco_json_error *err)
{
	struct scan s = {.p = (const unsigned char *)buf, .len = len, .err = err};
	json_object *obj = NULL;
	if (len > INT32_MAX) {
		err->offset = 0;
		err->what = "document too large";
		return NULL;
	}
	if (!scan_value(&s))
		goto out;
	skip_ws(&s);
	if (s.pos != len) {
		fail(&s, "trailing data after the JSON value");
		goto out;
	}
	json_tokener *tok = json_tokener_new_ex(COCO_JSON_MAX_DEPTH + 1);
	if (!tok) {
		err->offset = 0;
		err->what = "out of memory";
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success || !obj) {
		err->offset = json_tokener_get_parse_end(tok);
		err->what = json_tokener_error_desc(json_tokener_get_error(tok));
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	size_t i = 0;
	if (obj && (!counts_match(obj, s.key_counts, s.n_objects, &i) || i != s.n_objects)) {
		err->offset = 0;
		err->what = "duplicate object key";
		json_object_put(obj);
		obj = NULL;
	}
out:
	free(s.key_counts);
	return obj;
}
