/* TDVF images as `tdxctl measure mrtd --firmware` and POST /v1/tdx/measurements take them: the
 * input is a firmware image (at most 1 MiB). Checks: parse fails with -EINVAL and a message and
 * no sections, or gives 1..64 sections that are the descriptor's bytes, page-aligned, with raw
 * data inside the image, no two added sections overlapping, and counts that match the sections;
 * then MRTD succeeds in both orders, is reproducible, and the orders agree when no section is
 * extended (the records are then the same sequence). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coco/endian.h"
#include "coco/tdx/tdvf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	struct tdvf *t = malloc(sizeof(*t));
	if (!t)
		return 0;
	char err[256] = "";
	int r = tdvf_parse(data, size, t, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && err[0] && t->n == 0);
		free(t);
		return 0;
	}
	FUZZ_CHECK(t->n >= 1 && t->n <= TDVF_MAX_SECTIONS);
	FUZZ_CHECK(t->desc_off + TDVF_DESC_HEADER + (size_t)TDVF_SECTION_SIZE * t->n <= size);
	FUZZ_CHECK(memcmp(data + t->desc_off, TDVF_SIGNATURE, 4) == 0);
	uint64_t pages = 0, chunks = 0;
	bool any_extend = false;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct tdvf_section *s = &t->s[i];
		const uint8_t *p = data + t->desc_off + TDVF_DESC_HEADER + TDVF_SECTION_SIZE * i;
		FUZZ_CHECK(s->data_offset == get_le32(p) && s->raw_size == get_le32(p + 4) &&
			   s->gpa == get_le64(p + 8) && s->mem_size == get_le64(p + 16) &&
			   s->type == get_le32(p + 24) && s->attributes == get_le32(p + 28));
		FUZZ_CHECK(s->gpa % TDVF_PAGE == 0 && s->mem_size % TDVF_PAGE == 0);
		FUZZ_CHECK(s->raw_size <= s->mem_size && (uint64_t)s->data_offset + s->raw_size <= size);
		FUZZ_CHECK(s->type < TDVF_SECTION_TYPES);
		if (s->attributes & TDVF_ATTR_PAGE_AUG)
			continue;
		pages += s->mem_size / TDVF_PAGE;
		if (s->attributes & TDVF_ATTR_MR_EXTEND) {
			chunks += s->mem_size / TDVF_MR_CHUNK;
			any_extend |= s->mem_size != 0;
		}
		for (uint32_t j = 0; j < i; j++) {
			const struct tdvf_section *o = &t->s[j];
			if (!(o->attributes & TDVF_ATTR_PAGE_AUG) && o->mem_size && s->mem_size)
				FUZZ_CHECK(s->gpa + s->mem_size <= o->gpa ||
					   o->gpa + o->mem_size <= s->gpa);
		}
	}
	FUZZ_CHECK(pages == t->pages_added && chunks == t->chunks_extended);
	/* Hashing a fuzzed 1 GiB of zero pages would take seconds: only small builds. */
	if (pages <= 4096) {
		uint8_t a[48], b[48], c[48];
		FUZZ_CHECK(tdvf_mrtd(t, TDVF_SINGLE_PASS, a, err, sizeof(err)) == 0);
		FUZZ_CHECK(tdvf_mrtd(t, TDVF_SINGLE_PASS, b, err, sizeof(err)) == 0);
		FUZZ_CHECK(memcmp(a, b, 48) == 0);
		FUZZ_CHECK(tdvf_mrtd(t, TDVF_TWO_PASS, c, err, sizeof(err)) == 0);
		if (!any_extend)
			FUZZ_CHECK(memcmp(a, c, 48) == 0);
	}
	free(t);
	return 0;
}
