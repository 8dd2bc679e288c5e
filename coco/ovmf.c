#include "coco/ovmf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "coco/endian.h"

#define ENTRY_HEADER 18 /* u16 size, then the GUID; the data precede the header */
#define RESET_VECTOR_TAIL 32
#define SEV_METADATA_SIGNATURE 0x56455341u /* "ASEV" */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const struct ovmf_table_entry *ovmf_find(const struct ovmf *o, struct coco_guid g)
{
	for (size_t i = 0; i < o->n_table; i++)
		if (memcmp(o->table[i].guid.b, g.b, 16) == 0)
			return &o->table[i];
	return NULL;
}

bool ovmf_has_section(const struct ovmf *o, enum ovmf_sev_section_type t)
{
	for (size_t i = 0; i < o->n_sections; i++)
		if (o->sections[i].type == (uint32_t)t)
			return true;
	return false;
}

const char *ovmf_sev_section_name(uint32_t type)
{
	switch (type) {
	case OVMF_SEV_SNP_SEC_MEM: return "SNP_SEC_MEM";
	case OVMF_SEV_SNP_SECRETS: return "SNP_SECRETS";
	case OVMF_SEV_CPUID: return "CPUID";
	case OVMF_SEV_SVSM_CAA: return "SVSM_CAA";
	case OVMF_SEV_SNP_KERNEL_HASHES: return "SNP_KERNEL_HASHES";
	}
	return "unknown";
}

/* Walk the table backwards from its footer. */
static int parse_table(struct ovmf *o, char *err, size_t errlen)
{
	if (o->size < RESET_VECTOR_TAIL + ENTRY_HEADER)
		return 0;
	size_t footer = o->size - RESET_VECTOR_TAIL - ENTRY_HEADER;
	if (!coco_guid_eq(o->data + footer + 2, OVMF_GUID_TABLE_FOOTER))
		return 0;
	size_t total = get_le16(o->data + footer);
	if (total < ENTRY_HEADER || total > o->size - RESET_VECTOR_TAIL)
		return fail(err, errlen, "OVMF table footer: size %zu out of range", total);
	size_t start = o->size - RESET_VECTOR_TAIL - total, end = footer;
	while (end - start >= ENTRY_HEADER) {
		size_t hdr = end - ENTRY_HEADER;
		size_t len = get_le16(o->data + hdr);
		if (len < ENTRY_HEADER || len > end - start)
			return fail(err, errlen,
				    "OVMF table entry at offset 0x%zx: size %zu out of range", hdr,
				    len);
		if (o->n_table >= OVMF_MAX_TABLE_ENTRIES)
			return fail(err, errlen, "OVMF table has more than %d entries",
				    OVMF_MAX_TABLE_ENTRIES);
		/* Duplicates would make the image mean different things to different readers. */
		for (size_t i = 0; i < o->n_table; i++)
			if (memcmp(o->table[i].guid.b, o->data + hdr + 2, 16) == 0)
				return fail(err, errlen,
					    "OVMF table entry at offset 0x%zx repeats a GUID", hdr);
		struct ovmf_table_entry *e = &o->table[o->n_table++];
		memcpy(e->guid.b, o->data + hdr + 2, 16);
		e->offset = end - len;
		e->len = len - ENTRY_HEADER;
		end -= len;
	}
	return 0;
}

static int parse_sev_metadata(struct ovmf *o, const struct ovmf_table_entry *e, char *err,
			      size_t errlen)
{
	if (e->len < 4)
		return fail(err, errlen, "SEV metadata entry: %zu data bytes, need 4", e->len);
	uint32_t from_end = get_le32(o->data + e->offset);
	if (from_end < 16 || from_end > o->size)
		return fail(err, errlen, "SEV metadata offset 0x%x outside the %zu-byte image",
			    from_end, o->size);
	size_t off = o->size - from_end;
	const uint8_t *h = o->data + off;
	/* OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm: signature, size, version, count. */
	if (get_le32(h) != SEV_METADATA_SIGNATURE)
		return fail(err, errlen, "SEV metadata at offset 0x%zx: bad signature", off);
	uint32_t size = get_le32(h + 4), version = get_le32(h + 8), n = get_le32(h + 12);
	if (version != 1)
		return fail(err, errlen, "SEV metadata version %u (only 1 is known)", version);
	if (n > OVMF_MAX_SEV_SECTIONS)
		return fail(err, errlen, "SEV metadata lists %u sections (at most %d)", n,
			    OVMF_MAX_SEV_SECTIONS);
	if (size < 16 + 12ull * n || size > from_end)
		return fail(err, errlen, "SEV metadata size %u does not hold %u sections", size, n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = h + 16 + 12 * i;
		struct ovmf_sev_section *sec = &o->sections[o->n_sections++];
		sec->gpa = get_le32(s);
		sec->size = get_le32(s + 4);
		sec->type = get_le32(s + 8);
		if ((uint64_t)sec->gpa + sec->size > 0x100000000ull)
			return fail(err, errlen, "SEV section %u (%s) at 0x%x+0x%x crosses 4 GiB",
				    i, ovmf_sev_section_name(sec->type), sec->gpa, sec->size);
	}
	o->has_sev_metadata = true;
	return 0;
}

int ovmf_parse(const uint8_t *data, size_t size, struct ovmf *ret, char *err, size_t errlen)
{
	struct ovmf *o = ret;
	memset(o, 0, sizeof(*o));
	o->data = data;
	o->size = size;
	if (size == 0 || size > 0x100000000ull)
		return fail(err, errlen, "firmware image of %zu bytes: must be 1 byte to 4 GiB",
			    size);
	int r = parse_table(o, err, errlen);
	if (r < 0)
		return r;
	const struct ovmf_table_entry *e;
	if ((e = ovmf_find(o, OVMF_GUID_SEV_METADATA)) &&
	    (r = parse_sev_metadata(o, e, err, errlen)) < 0)
		return r;
	if ((e = ovmf_find(o, OVMF_GUID_SEV_ES_RESET_BLOCK))) {
		if (e->len < 4)
			return fail(err, errlen, "SEV-ES reset block: %zu data bytes, need 4",
				    e->len);
		o->has_reset_eip = true;
		o->sev_es_reset_eip = get_le32(o->data + e->offset);
	}
	if ((e = ovmf_find(o, OVMF_GUID_SEV_HASH_TABLE))) {
		if (e->len < 8)
			return fail(err, errlen, "SEV hash table entry: %zu data bytes, need 8",
				    e->len);
		o->has_hash_table = true;
		o->hash_table_gpa = get_le32(o->data + e->offset);
		o->hash_table_size = get_le32(o->data + e->offset + 4);
	}
	return 0;
}
