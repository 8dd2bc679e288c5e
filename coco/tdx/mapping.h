/* Intel's mapping_file.json (intel/tdx-module-binaries): which module releases exist, the
 * oldest running module each can update TD-preservingly, and the P-SEAMLDR versions it loads
 * under.
 *   {"Header": {...}, "tdx_module_releases": [
 *      {"version": "1.5.06", "min_module_version_for_td_preserving": "1.5.01",
 *       "min_seamldr_versions": ["1.5.00", "2.0.00"], "tdx_feature0": "0x2E1F0FBF"}, ...]}
 * Strict: RFC 8259 with no duplicate keys (coco/json_strict.h); every release has the three
 * version fields in Intel's "%u.%u.%02u" form; min_seamldr_versions is a non-empty list with
 * at most one entry per major.minor; tdx_feature0, when present, is "0x" + 1..16 hex digits;
 * no version appears twice; keys we do not know are ignored (Intel may add fields).
 * Pure: no I/O, no logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/tdx/version.h"

#define TDX_MAPPING_MAX_SIZE (1u << 20)
#define TDX_MAPPING_MAX_RELEASES 1024
#define TDX_MAPPING_MAX_SEAMLDR 16

struct tdx_mapping_release {
	struct tdx_version version;
	struct tdx_version min_td_preserving; /* min_module_version_for_td_preserving */
	struct tdx_version seamldr[TDX_MAPPING_MAX_SEAMLDR]; /* min_seamldr_versions */
	size_t n_seamldr;
	bool has_feature0;
	uint64_t tdx_feature0;
};

struct tdx_mapping {
	struct tdx_mapping_release *releases; /* in file order */
	size_t n;
};

/* -EINVAL (malformed, message in err), -ENOMEM. *ret is filled only on success. */
int tdx_mapping_parse(const char *buf, size_t len, struct tdx_mapping *ret, char *err,
		      size_t errlen);
void tdx_mapping_clear(struct tdx_mapping *m);
/* The release of exactly this version, or NULL. */
const struct tdx_mapping_release *tdx_mapping_find(const struct tdx_mapping *m,
						   const struct tdx_version *v);
/* The min_seamldr_versions entry of the running P-SEAMLDR's major.minor with an update not
 * above the running one, or NULL: the release loads under this P-SEAMLDR. */
const struct tdx_version *tdx_mapping_seamldr_match(const struct tdx_mapping_release *r,
						    const struct tdx_version *seamldr);
