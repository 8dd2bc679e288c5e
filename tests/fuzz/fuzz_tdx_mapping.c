/* Intel's mapping_file.json as an operator's module directory hands it in. Checks: parse
 * succeeds with releases that each satisfy the file's rules (distinct versions, 1..16
 * P-SEAMLDR entries of distinct major.minor, min_td_preserving <= version), or fails with
 * -EINVAL and a message leaving the output untouched; every release is found again by its
 * version, and a P-SEAMLDR entry matches itself. */
#include <errno.h>
#include <string.h>

#include "coco/tdx/mapping.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_mapping m, keep;
	memset(&m, 0x5a, sizeof(m));
	keep = m;
	char err[256] = "";
	int r = tdx_mapping_parse((const char *)data, size, &m, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK((r == -EINVAL && err[0]) || r == -ENOMEM);
		FUZZ_CHECK(memcmp(&m, &keep, sizeof(m)) == 0);
		return 0;
	}
	FUZZ_CHECK(m.n >= 1 && m.n <= TDX_MAPPING_MAX_RELEASES);
	for (size_t i = 0; i < m.n; i++) {
		const struct tdx_mapping_release *rel = &m.releases[i];
		FUZZ_CHECK(tdx_mapping_find(&m, &rel->version) == rel);
		FUZZ_CHECK(tdx_version_cmp(&rel->min_td_preserving, &rel->version) <= 0);
		FUZZ_CHECK(rel->n_seamldr >= 1 && rel->n_seamldr <= TDX_MAPPING_MAX_SEAMLDR);
		for (size_t j = 0; j < rel->n_seamldr; j++) {
			FUZZ_CHECK(tdx_mapping_seamldr_match(rel, &rel->seamldr[j]) ==
				   &rel->seamldr[j]);
			for (size_t k = 0; k < j; k++)
				FUZZ_CHECK(!tdx_version_same_minor(&rel->seamldr[j],
								   &rel->seamldr[k]));
		}
	}
	tdx_mapping_clear(&m);
	return 0;
}
