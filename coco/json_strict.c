#include "coco/json_strict.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	const unsigned char *p;
	size_t len, pos;
	unsigned depth;
	size_t *key_counts; /* per object, in pre-order */
	size_t *starts;     /* byte offset of each object's '{' */
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

/* One UTF-8 sequence at s->pos (RFC 3629 section 4): no overlong forms, no surrogates, nothing
 * above U+10FFFF. json-c's JSON_TOKENER_VALIDATE_UTF8 checks only the byte pattern. */
static bool scan_utf8(struct scan *s)
{
	const unsigned char *p = s->p + s->pos;
	size_t left = s->len - s->pos, n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return fail(s, "invalid UTF-8");
	if (left < n || p[1] < lo || p[1] > hi)
		return fail(s, "invalid UTF-8");
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return fail(s, "invalid UTF-8");
	s->pos += n;
	return true;
}

/* RFC 8259 section 7. "\\u0000" is refused: json-c cuts object keys at NUL, so a key could
 * be read as another. */
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
		if (c >= 0x80) {
			if (!scan_utf8(s))
				return false;
			continue;
		}
		if (c == '\\') {
			if (++s->pos >= s->len)
				break;
			c = s->p[s->pos];
			if (c == 'u') {
				for (int i = 1; i <= 4; i++)
					if (s->pos + (size_t)i >= s->len || !is_hex(s->p[s->pos + (size_t)i]))
						return fail(s, "bad \\u escape");
				if (memcmp(s->p + s->pos + 1, "0000", 4) == 0)
					return fail(s, "\\u0000 is not accepted in strings");
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

/* An integer json-c would silently clamp to INT64_MIN/UINT64_MAX is refused instead. */
static bool integer_in_range(const unsigned char *p, size_t n)
{
	char buf[32];
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	errno = 0;
	if (buf[0] == '-')
		(void)strtoll(buf, NULL, 10);
	else
		(void)strtoull(buf, NULL, 10);
	return errno != ERANGE;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct scan *s)
{
	size_t start = s->pos;
	bool integer = true;
	if (s->p[s->pos] == '-')
		s->pos++;
	if (s->pos < s->len && s->p[s->pos] == '0')
		s->pos++;
	else if (!scan_digits(s))
		return fail(s, "bad number");
	if (s->pos < s->len && s->p[s->pos] == '.') {
		integer = false;
		s->pos++;
		if (!scan_digits(s))
			return fail(s, "digit expected after decimal point");
	}
	if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
		integer = false;
		s->pos++;
		if (s->pos < s->len && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
			s->pos++;
		if (!scan_digits(s))
			return fail(s, "digit expected in exponent");
	}
	if (integer && !integer_in_range(s->p + start, s->pos - start)) {
		s->pos = start;
		return fail(s, "integer out of range");
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
		n = realloc(s->starts, nc * sizeof(*n));
		if (!n)
			return fail(s, "out of memory");
		s->starts = n;
		s->cap_objects = nc;
	}
	size_t idx = s->n_objects++;
	s->key_counts[idx] = 0;
	s->starts[idx] = s->pos;
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
	/* A top-level number needs a delimiter before json-c commits to it. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, " ", 1);
	if (json_tokener_get_error(tok) != json_tokener_success || !obj) {
		err->offset = json_tokener_get_parse_end(tok);
		err->what = json_tokener_error_desc(json_tokener_get_error(tok));
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	size_t i = 0;
	if (obj && (!counts_match(obj, s.key_counts, s.n_objects, &i) || i != s.n_objects)) {
		/* The first object whose count differs holds the duplicate. */
		err->offset = i < s.n_objects ? s.starts[i] : 0;
		err->what = "duplicate key in the object starting";
		json_object_put(obj);
		obj = NULL;
	}
out:
	free(s.key_counts);
	free(s.starts);
	return obj;
}
