/* API bearer tokens. The token file holds only SHA-256 hashes:
 *   <role> sha256:<64 hex digits> [name]
 * Tokens are 32 random bytes, base64url, prefixed "cocod_". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/config.h"

#define COCO_TOKEN_MAX_ENTRIES 4096
#define COCO_TOKEN_MAX_FILE (1u << 20)

struct coco_token {
	enum coco_role role;
	uint8_t hash[32];
	char name[64];
};

struct coco_tokens {
	struct coco_token *v;
	size_t n;
};

/* Parse token file text; errors name "name:line". Never logs. */
int coco_tokens_parse(const char *name, const char *buf, size_t len, struct coco_tokens *ret,
		      char *err, size_t errlen);
int coco_tokens_load(const char *path, struct coco_tokens *ret, char *err, size_t errlen);
void coco_tokens_clear(struct coco_tokens *t);
/* Look a presented token up; returns the entry or NULL. Compares every entry in constant time. */
const struct coco_token *coco_tokens_find(const struct coco_tokens *t, const char *token,
					  size_t len);
/* Token names: 1..63 characters from [A-Za-z0-9._@:-]. */
bool coco_token_name_valid(const char *name);
/* New random token (NUL-terminated, < 64 bytes) and its file line. */
int coco_token_generate(enum coco_role role, const char *name, char token[static 64],
			char line[static 160]);
