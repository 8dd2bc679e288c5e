#include "coco/tokens.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include "coco/util.h"

static const char token_name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789._@:-";

bool coco_token_name_valid(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < sizeof(((struct coco_token *)0)->name) &&
	       strspn(name, token_name_chars) == n;
}

static int sha256(const void *d, size_t n, uint8_t out[32])
{
	unsigned int ol = 32;
	return EVP_Digest(d, n, out, &ol, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int coco_tokens_parse(const char *name, const char *buf, size_t len, struct coco_tokens *ret,
		      char *err, size_t errlen)
{
	struct coco_tokens t = {0};
	unsigned lineno = 0;
	int r = 0;
	for (size_t off = 0; off < len;) {
		lineno++;
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (buf + off)) : len - off;
		char line[512];
		if (ll >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line too long", name, lineno);
			r = -E2BIG;
			goto fail;
		}
		memcpy(line, buf + off, ll);
		line[ll] = '\0';
		off += ll + (nl ? 1 : 0);
		char *s = str_strip(line);
		if (!*s || *s == '#')
			continue;
		if (memchr(line, '\0', ll)) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", name, lineno);
			r = -EINVAL;
			goto fail;
		}
		char role[16], hash[80], tname[64] = "";
		int end = 0;
		int k = sscanf(s, "%15s %79s %n", role, hash, &end);
		if (k == 2 && s[end]) {
			/* Optional name: one word of at most 63 characters, nothing after it. */
			size_t wl = strspn(s + end, token_name_chars);
			if (wl >= sizeof(tname) || s[end + wl]) {
				snprintf(err, errlen,
					 "%s:%u: name must be one word of at most %zu characters from "
					 "[A-Za-z0-9._@:-]",
					 name, lineno, sizeof(tname) - 1);
				r = -EINVAL;
				goto fail;
			}
			memcpy(tname, s + end, wl);
			tname[wl] = '\0';
		}
		struct coco_token e = {0};
		if (k < 2 || strlen(role) >= sizeof(role) - 1 ||
		    coco_role_from_name(role, &e.role) < 0 || e.role == COCO_ROLE_NONE) {
			snprintf(err, errlen, "%s:%u: expected '<reader|operator|admin> sha256:<hex> [name]'",
				 name, lineno);
			r = -EINVAL;
			goto fail;
		}
		if (strncmp(hash, "sha256:", 7) != 0 || strlen(hash) != 7 + 64) {
			snprintf(err, errlen, "%s:%u: hash must be sha256: and 64 hex digits", name,
				 lineno);
			r = -EINVAL;
			goto fail;
		}
		for (size_t i = 0; i < 32; i++) {
			int hi = unhex(hash[7 + 2 * i]), lo = unhex(hash[8 + 2 * i]);
			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "%s:%u: hash has a non-hex digit", name, lineno);
				r = -EINVAL;
				goto fail;
			}
			e.hash[i] = (uint8_t)(hi << 4 | lo);
		}
		if (tname[0])
			snprintf(e.name, sizeof(e.name), "%s", tname);
		else
			snprintf(e.name, sizeof(e.name), "line%u", lineno);
		if (t.n >= COCO_TOKEN_MAX_ENTRIES) {
			snprintf(err, errlen, "%s:%u: more than %d tokens", name, lineno,
				 COCO_TOKEN_MAX_ENTRIES);
			r = -E2BIG;
			goto fail;
		}
		struct coco_token *n = realloc(t.v, (t.n + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			snprintf(err, errlen, "%s: out of memory", name);
			goto fail;
		}
		t.v = n;
		t.v[t.n++] = e;
	}
	*ret = t;
	return 0;
fail:
	coco_tokens_clear(&t);
	return r;
}

int coco_tokens_load(const char *path, struct coco_tokens *ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_max(path, COCO_TOKEN_MAX_FILE, &buf, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	return coco_tokens_parse(path, buf, len, ret, err, errlen);
}

void coco_tokens_clear(struct coco_tokens *t)
{
	free(t->v);
	*t = (struct coco_tokens){0};
}

const struct coco_token *coco_tokens_find(const struct coco_tokens *t, const char *token,
					  size_t len)
{
	uint8_t h[32];
	if (len == 0 || sha256(token, len, h) < 0)
		return NULL;
	const struct coco_token *found = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (mem_equal_ct(h, t->v[i].hash, 32) && !found)
			found = &t->v[i];
	return found;
}

int coco_token_generate(enum coco_role role, const char *name, char token[static 64],
			char line[static 160])
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[32], h[32];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	size_t o = (size_t)snprintf(token, 64, "cocod_");
	/* 32 bytes -> 43 base64url characters, no padding. */
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		acc = (acc << 8) | rnd[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			token[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits)
		token[o++] = b64url[(acc << (6 - bits)) & 63];
	token[o] = '\0';
	if (sha256(token, o, h) < 0)
		return -EIO;
	char hex[65];
	hex_encode(h, 32, hex);
	snprintf(line, 160, "%s sha256:%s %s", coco_role_name(role), hex, name ? name : "");
	return 0;
}
