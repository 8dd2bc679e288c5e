#include "coco/tdx/tdvf.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "coco/endian.h"
#include "coco/util.h"

#define GPA_LIMIT (1ull << 52) /* TDX GPAW is at most 52 bits */

const char *tdvf_section_name(uint32_t type)
{
	static const char *const names[TDVF_SECTION_TYPES] = {
		"BFV", "CFV", "TD_HOB", "TempMem", "PermMem", "Payload", "PayloadParam",
		"TD_INFO", "TD_PARAMS"};
	return type < TDVF_SECTION_TYPES ? names[type] : "unknown";
}

const char *tdvf_order_name(enum tdvf_order o)
{
	return o == TDVF_TWO_PASS ? "two-pass" : "single-pass";
}

static bool section_added(const struct tdvf_section *s)
{
	return !(s->attributes & TDVF_ATTR_PAGE_AUG) && s->mem_size;
}

static int check_section(const struct tdvf *t, uint32_t i, char *err, size_t errlen)
{
	const struct tdvf_section *s = &t->s[i];
	const char *name = tdvf_section_name(s->type);
	if (s->type >= TDVF_SECTION_TYPES)
		return set_error(err, errlen, -EINVAL, "TDVF section %u: unknown type %u", i,
				 s->type);
	if (s->attributes & ~(TDVF_ATTR_MR_EXTEND | TDVF_ATTR_PAGE_AUG))
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): unknown attribute bits 0x%x", i, name,
				 s->attributes);
	if ((s->attributes & TDVF_ATTR_MR_EXTEND) && (s->attributes & TDVF_ATTR_PAGE_AUG))
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): MR.EXTEND of PAGE.AUG memory (never added)",
				 i, name);
	if (s->gpa % TDVF_PAGE || s->mem_size % TDVF_PAGE)
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): GPA 0x%llx or size 0x%llx not 4 KiB aligned",
				 i, name, (unsigned long long)s->gpa,
				 (unsigned long long)s->mem_size);
	if (s->gpa >= GPA_LIMIT || s->mem_size > GPA_LIMIT - s->gpa)
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): 0x%llx+0x%llx beyond 2^52", i, name,
				 (unsigned long long)s->gpa, (unsigned long long)s->mem_size);
	if (s->raw_size > s->mem_size)
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): %u raw bytes exceed its 0x%llx-byte memory",
				 i, name, s->raw_size, (unsigned long long)s->mem_size);
	if ((uint64_t)s->data_offset + s->raw_size > t->size)
		return set_error(err, errlen, -EINVAL,
				 "TDVF section %u (%s): raw data 0x%x+0x%x outside the %zu-byte image",
				 i, name, s->data_offset, s->raw_size, t->size);
	if (!section_added(s))
		return 0;
	for (uint32_t j = 0; j < i; j++) {
		const struct tdvf_section *o = &t->s[j];
		if (section_added(o) && s->gpa < o->gpa + o->mem_size && o->gpa < s->gpa + s->mem_size)
			return set_error(err, errlen, -EINVAL,
					 "TDVF section %u (%s, 0x%llx+0x%llx) overlaps section %u (%s)",
					 i, name, (unsigned long long)s->gpa,
					 (unsigned long long)s->mem_size, j,
					 tdvf_section_name(o->type));
	}
	return 0;
}

int tdvf_parse(const uint8_t *data, size_t size, struct tdvf *ret, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	struct ovmf *o = malloc(sizeof(*o));
	if (!o)
		return set_error(err, errlen, -ENOMEM, "out of memory");
	int r = ovmf_parse(data, size, o, err, errlen);
	const struct ovmf_table_entry *e = r < 0 ? NULL : ovmf_find(o, TDVF_GUID_METADATA);
	size_t elen = e ? e->len : 0, eoff = e ? e->offset : 0;
	free(o);
	if (r < 0)
		return r;
	if (!e)
		return set_error(err, errlen, -EINVAL,
				 "no TDX metadata (GUID e47a6535-...) in the image's footer table: "
				 "not a TDVF image");
	if (elen < 4)
		return set_error(err, errlen, -EINVAL, "TDX metadata entry: %zu data bytes, need 4",
				 elen);
	uint32_t from_end = get_le32(data + eoff);
	if (from_end < TDVF_DESC_HEADER || from_end > size)
		return set_error(err, errlen, -EINVAL,
				 "TDX metadata offset 0x%x outside the %zu-byte image", from_end, size);
	struct tdvf *t = ret;
	t->data = data;
	t->size = size;
	t->desc_off = size - from_end;
	const uint8_t *d = data + t->desc_off;
	if (memcmp(d, TDVF_SIGNATURE, 4) != 0)
		return set_error(err, errlen, -EINVAL,
				 "TDX metadata at offset 0x%zx: no 'TDVF' signature", t->desc_off);
	uint32_t len = get_le32(d + 4), version = get_le32(d + 8), n = get_le32(d + 12);
	if (version != 1)
		return set_error(err, errlen, -EINVAL, "TDX metadata version %u (only 1 is known)",
				 version);
	if (n == 0 || n > TDVF_MAX_SECTIONS)
		return set_error(err, errlen, -EINVAL,
				 "TDX metadata lists %u sections (1 to %d)", n, TDVF_MAX_SECTIONS);
	if (len != TDVF_DESC_HEADER + TDVF_SECTION_SIZE * n || len > from_end)
		return set_error(err, errlen, -EINVAL,
				 "TDX metadata length %u: %u sections need %u bytes, %u remain", len,
				 n, TDVF_DESC_HEADER + TDVF_SECTION_SIZE * n, from_end);
	uint64_t added = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = d + TDVF_DESC_HEADER + TDVF_SECTION_SIZE * i;
		t->s[i] = (struct tdvf_section){.data_offset = get_le32(p),
						.raw_size = get_le32(p + 4),
						.gpa = get_le64(p + 8),
						.mem_size = get_le64(p + 16),
						.type = get_le32(p + 24),
						.attributes = get_le32(p + 28)};
		if ((r = check_section(t, i, err, errlen)) < 0) {
			memset(t, 0, sizeof(*t));
			return r;
		}
		if (section_added(&t->s[i])) {
			added += t->s[i].mem_size;
			if (added > TDVF_MAX_ADDED_BYTES) {
				memset(t, 0, sizeof(*t));
				return set_error(err, errlen, -EINVAL,
						 "TDVF sections add more than %llu MiB",
						 TDVF_MAX_ADDED_BYTES >> 20);
			}
			t->pages_added += t->s[i].mem_size / TDVF_PAGE;
			if (t->s[i].attributes & TDVF_ATTR_MR_EXTEND)
				t->chunks_extended += t->s[i].mem_size / TDVF_MR_CHUNK;
		}
	}
	t->n = n;
	return 0;
}

/* ---------------------------------------------------------------- MRTD */

/* The 128-byte record of an operation on gpa. */
static void record(uint8_t rec[TDVF_MR_RECORD], const char *tag, uint64_t gpa)
{
	memset(rec, 0, TDVF_MR_RECORD);
	memcpy(rec, tag, strlen(tag));
	put_le64(rec + 16, gpa);
}

/* The MR.EXTEND records of one page (16 x (record + 256 data bytes)) in buf. */
static void extend_page(const struct tdvf *t, const struct tdvf_section *s, uint64_t off,
			uint8_t buf[16 * (TDVF_MR_RECORD + TDVF_MR_CHUNK)])
{
	uint8_t *p = buf;
	for (uint64_t c = 0; c < TDVF_PAGE; c += TDVF_MR_CHUNK) {
		record(p, "MR.EXTEND", s->gpa + off + c);
		p += TDVF_MR_RECORD;
		uint64_t at = off + c, have = at < s->raw_size ? s->raw_size - at : 0;
		if (have > TDVF_MR_CHUNK)
			have = TDVF_MR_CHUNK;
		if (have)
			memcpy(p, t->data + s->data_offset + at, have);
		memset(p + have, 0, TDVF_MR_CHUNK - have);
		p += TDVF_MR_CHUNK;
	}
}

int tdvf_mrtd(const struct tdvf *t, enum tdvf_order order, uint8_t ret[48], char *err,
	      size_t errlen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t *ext = malloc(16 * (TDVF_MR_RECORD + TDVF_MR_CHUNK));
	/* Page-add records of a run of pages, hashed in one update. */
	enum { BATCH = 64 };
	uint8_t *adds = malloc(BATCH * TDVF_MR_RECORD);
	bool ok = c && ext && adds && EVP_DigestInit_ex(c, EVP_sha384(), NULL);
	for (uint32_t i = 0; ok && i < t->n; i++) {
		const struct tdvf_section *s = &t->s[i];
		if (!section_added(s))
			continue;
		bool extend = s->attributes & TDVF_ATTR_MR_EXTEND;
		if (order == TDVF_SINGLE_PASS && extend) {
			for (uint64_t off = 0; ok && off < s->mem_size; off += TDVF_PAGE) {
				record(adds, "MEM.PAGE.ADD", s->gpa + off);
				extend_page(t, s, off, ext);
				ok = EVP_DigestUpdate(c, adds, TDVF_MR_RECORD) &&
				     EVP_DigestUpdate(c, ext, 16 * (TDVF_MR_RECORD + TDVF_MR_CHUNK));
			}
			continue;
		}
		for (uint64_t off = 0; ok && off < s->mem_size;) {
			size_t k = 0;
			for (; k < BATCH && off < s->mem_size; k++, off += TDVF_PAGE)
				record(adds + k * TDVF_MR_RECORD, "MEM.PAGE.ADD", s->gpa + off);
			ok = EVP_DigestUpdate(c, adds, k * TDVF_MR_RECORD);
		}
		for (uint64_t off = 0; ok && extend && off < s->mem_size; off += TDVF_PAGE) {
			extend_page(t, s, off, ext);
			ok = EVP_DigestUpdate(c, ext, 16 * (TDVF_MR_RECORD + TDVF_MR_CHUNK));
		}
	}
	unsigned n = 0;
	ok = ok && EVP_DigestFinal_ex(c, ret, &n) && n == 48;
	EVP_MD_CTX_free(c);
	free(ext);
	free(adds);
	return ok ? 0 : set_error(err, errlen, -ENOMEM, "SHA-384 failed");
}

/* ---------------------------------------------------------------- synthetic images */

int tdvf_synth(size_t size, uint32_t seed, bool with_aug, uint8_t **ret)
{
	if (size < 65536 || size % TDVF_PAGE || size > (1u << 30))
		return -EINVAL;
	uint8_t *img = malloc(size);
	if (!img)
		return -ENOMEM;
	/* xorshift32: reproducible bytes (seed 0 would stay 0) */
	uint32_t x = seed ? seed : 0x9e3779b9u;
	for (size_t i = 0; i < size; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		put_le32(img + i, x);
	}
	uint64_t base = 0x100000000ull - size;
	/* The descriptor page: its GUID at the start, the descriptor after it. */
	size_t desc_page = size - 2 * TDVF_PAGE;
	memcpy(img + desc_page, TDVF_GUID_METADATA.b, 16);
	uint8_t *d = img + desc_page + 16;
	struct tdvf_section s[5] = {
		{.data_offset = (uint32_t)(size / 2), .raw_size = (uint32_t)(size / 2),
		 .gpa = base + size / 2, .mem_size = size / 2, .type = TDVF_BFV,
		 .attributes = TDVF_ATTR_MR_EXTEND},
		{.data_offset = 0, .raw_size = (uint32_t)(size / 4), .gpa = base,
		 .mem_size = size / 4, .type = TDVF_CFV},
		{.gpa = 0x809000, .mem_size = 0x2000, .type = TDVF_TD_HOB},
		{.gpa = 0x80b000, .mem_size = 0x15000, .type = TDVF_TEMP_MEM},
		{.gpa = 0x1000000, .mem_size = 0x100000, .type = TDVF_PERM_MEM,
		 .attributes = TDVF_ATTR_PAGE_AUG},
	};
	uint32_t n = with_aug ? 5 : 4;
	memcpy(d, TDVF_SIGNATURE, 4);
	put_le32(d + 4, TDVF_DESC_HEADER + TDVF_SECTION_SIZE * n);
	put_le32(d + 8, 1);
	put_le32(d + 12, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = d + TDVF_DESC_HEADER + TDVF_SECTION_SIZE * i;
		put_le32(p, s[i].data_offset);
		put_le32(p + 4, s[i].raw_size);
		put_le64(p + 8, s[i].gpa);
		put_le64(p + 16, s[i].mem_size);
		put_le32(p + 24, s[i].type);
		put_le32(p + 28, s[i].attributes);
	}
	/* Footer table: [u32 offset][u16 22][TDX GUID] [u16 40][footer GUID] then 32 bytes. */
	size_t foot = size - 32 - 18, ent = foot - 22;
	put_le32(img + ent, (uint32_t)(size - (desc_page + 16)));
	put_le16(img + ent + 4, 22);
	memcpy(img + ent + 6, TDVF_GUID_METADATA.b, 16);
	put_le16(img + foot, 18 + 22);
	memcpy(img + foot + 2, OVMF_GUID_TABLE_FOOTER.b, 16);
	*ret = img;
	return 0;
}
