/* coco_tokens_parse() on token file text, and coco_tokens_find() on the same bytes as the
 * bearer token a TCP client presents. Checks: failures leave *ret alone and name
 * "fuzz.tokens:line" inside the input; an accepted table has sane entries and survives being
 * written out and parsed again; find() returns exactly the first entry whose hash is the
 * token's SHA-256, in the parsed table and in a table made to hold that hash. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "coco/tokens.h"
#include "tests/fuzz/fuzz.h"

#define NAME "fuzz.tokens"

static void sha256(const uint8_t *d, size_t n, uint8_t out[32])
{
	unsigned int ol = 32;
	FUZZ_CHECK(EVP_Digest(d, n, out, &ol, EVP_sha256(), NULL) == 1 && ol == 32);
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* Lines the parser numbers: one per '\n' plus an unterminated last line. */
static unsigned long count_lines(const uint8_t *data, size_t size)
{
	unsigned long n = 0;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void check_error(int r, const char *err, size_t errlen, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(strncmp(err, NAME, strlen(NAME)) == 0);
	const char *s = err + strlen(NAME);
	if (r == -ENOMEM) {
		FUZZ_CHECK(strcmp(s, ": out of memory") == 0);
		return;
	}
	char *end;
	unsigned long line = strtoul(s + 1, &end, 10);
	FUZZ_CHECK(s[0] == ':' && end > s + 1 && line >= 1 && line <= count_lines(data, size));
	FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
}

static void check_table(const struct coco_tokens *t, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(t->n <= COCO_TOKEN_MAX_ENTRIES && t->n <= count_lines(data, size));
	FUZZ_CHECK(!t->n || t->v);
	for (size_t i = 0; i < t->n; i++) {
		const struct coco_token *e = &t->v[i];
		FUZZ_CHECK(e->role >= COCO_ROLE_READER && e->role <= COCO_ROLE_ADMIN);
		FUZZ_CHECK(memchr(e->name, '\0', sizeof(e->name)) != NULL);
		/* One word: "[name]" is the third field, or "lineN" when absent. */
		FUZZ_CHECK(e->name[0] && strcspn(e->name, " \t\r\n\v\f") == strlen(e->name));
	}
}

/* The entry find() must return: the first whose hash is SHA-256(token); none for "". */
static const struct coco_token *first_with_hash(const struct coco_tokens *t, const uint8_t *token,
						size_t len)
{
	if (len == 0)
		return NULL;
	uint8_t h[32];
	sha256(token, len, h);
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->v[i].hash, h, 32) == 0)
			return &t->v[i];
	return NULL;
}

/* Write t back in the file format and parse it again: the same entries in the same order. */
static void check_round_trip(const struct coco_tokens *t)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	FUZZ_CHECK(f);
	for (size_t i = 0; i < t->n; i++) {
		char h[65];
		hex(t->v[i].hash, 32, h);
		fprintf(f, "%s sha256:%s %s\n", coco_role_name(t->v[i].role), h, t->v[i].name);
	}
	FUZZ_CHECK(fclose(f) == 0);
	struct coco_tokens again;
	char err[512];
	FUZZ_CHECK(coco_tokens_parse(NAME, text, len, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(again.n == t->n);
	for (size_t i = 0; i < t->n; i++)
		FUZZ_CHECK(again.v[i].role == t->v[i].role &&
			   memcmp(again.v[i].hash, t->v[i].hash, 32) == 0 &&
			   strcmp(again.v[i].name, t->v[i].name) == 0);
	coco_tokens_clear(&again);
	free(text);
}

/* A table holding the input's own hash must find the input (any non-empty bytes are a token
 * as far as find() is concerned). */
static void check_find_own_hash(const uint8_t *data, size_t size)
{
	uint8_t h[32];
	char line[128], err[512];
	sha256(data, size, h);
	memcpy(line, "operator sha256:", 16);
	hex(h, 32, line + 16);
	strcpy(line + 16 + 64, " fz\n");
	struct coco_tokens t;
	FUZZ_CHECK(coco_tokens_parse(NAME, line, strlen(line), &t, err, sizeof(err)) == 0);
	FUZZ_CHECK(t.n == 1 && t.v[0].role == COCO_ROLE_OPERATOR && strcmp(t.v[0].name, "fz") == 0);
	const struct coco_token *e = coco_tokens_find(&t, (const char *)data, size);
	FUZZ_CHECK(e == (size ? &t.v[0] : NULL));
	coco_tokens_clear(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct coco_token sentinel;
	struct coco_tokens t = {.v = &sentinel, .n = 7};
	char err[512] = "";
	int r = coco_tokens_parse(NAME, (const char *)data, size, &t, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(t.v == &sentinel && t.n == 7);
		check_error(r, err, sizeof(err), data, size);
	} else {
		FUZZ_CHECK(r == 0);
		check_table(&t, data, size);
		FUZZ_CHECK(coco_tokens_find(&t, (const char *)data, size) ==
			   first_with_hash(&t, data, size));
		check_round_trip(&t);
		coco_tokens_clear(&t);
		FUZZ_CHECK(!t.v && !t.n);
	}
	check_find_own_hash(data, size);
	return 0;
}
