/* TDX module blob and SEAM_SIGSTRUCT parsing (layouts and sources: blob.h). */
#include "coco/tdx/blob.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "coco/endian.h"
#include "coco/util.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

uint16_t tdx_blob_sum16(const uint8_t *data, size_t size)
{
	uint32_t sum = 0;
	size_t i = 0;
	for (; i + 1 < size; i += 2)
		sum += get_le16(data + i);
	if (size & 1)
		sum += data[size - 1]; /* as the kernel's v3 verify_checksum() and blob_join.sh */
	return (uint16_t)sum;
}

int tdx_sigstruct_parse(const uint8_t *p, size_t len, struct tdx_sigstruct *ret, char *err,
			size_t errlen)
{
	if (len < TDX_SIGSTRUCT_SIZE)
		return set_error(err, errlen, -EINVAL, "sigstruct: %zu bytes, need %d", len,
				 TDX_SIGSTRUCT_SIZE);
	static const struct {
		size_t off;
		uint32_t want;
		const char *name;
	} fixed[] = {
		{TDX_SIGSTRUCT_HEADER_TYPE_OFF, TDX_SIGSTRUCT_HEADER_TYPE, "header_type"},
		{TDX_SIGSTRUCT_HEADER_LENGTH_OFF, TDX_SIGSTRUCT_HEADER_LENGTH, "header_length"},
		{TDX_SIGSTRUCT_HEADER_VERSION_OFF, TDX_SIGSTRUCT_HEADER_VERSION, "header_version"},
		{TDX_SIGSTRUCT_MODULE_VENDOR_OFF, TDX_SIGSTRUCT_VENDOR_INTEL, "module_vendor"},
		{TDX_SIGSTRUCT_SIZE_OFF, TDX_SIGSTRUCT_SIZE_DWORDS, "size"},
		{TDX_SIGSTRUCT_KEY_SIZE_OFF, TDX_SIGSTRUCT_KEY_SIZE_DWORDS, "key_size"},
		{TDX_SIGSTRUCT_MODULUS_SIZE_OFF, TDX_SIGSTRUCT_KEY_SIZE_DWORDS, "modulus_size"},
		{TDX_SIGSTRUCT_EXPONENT_SIZE_OFF, TDX_SIGSTRUCT_EXPONENT_SIZE_DWORDS,
		 "exponent_size"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		uint32_t v = get_le32(p + fixed[i].off);
		if (v != fixed[i].want)
			return set_error(err, errlen, -EINVAL,
					 "sigstruct: %s is 0x%x at +%zu, P-SEAMLDR requires 0x%x",
					 fixed[i].name, v, fixed[i].off, fixed[i].want);
	}
	uint32_t count = get_le32(p + TDX_SIGSTRUCT_CPUID_COUNT_OFF);
	if (count > TDX_SIGSTRUCT_MAX_CPUID)
		return set_error(err, errlen, -EINVAL,
				 "sigstruct: CPUID table count %u exceeds the %d entries that fit",
				 count, TDX_SIGSTRUCT_MAX_CPUID);
	struct tdx_sigstruct s = {0};
	s.module_type = get_le32(p + TDX_SIGSTRUCT_MODULE_TYPE_OFF);
	s.debug = (s.module_type & TDX_SIGSTRUCT_TYPE_DEBUG) != 0;
	s.date = get_le32(p + TDX_SIGSTRUCT_DATE_OFF);
	memcpy(s.seamhash, p + TDX_SIGSTRUCT_SEAMHASH_OFF, TDX_SEAMHASH_SIZE);
	s.seamsvn = get_le16(p + TDX_SIGSTRUCT_SEAMSVN_OFF);
	s.attributes = get_le64(p + TDX_SIGSTRUCT_ATTRIBUTES_OFF);
	s.module_hv = get_le16(p + TDX_SIGSTRUCT_MODULE_HV_OFF);
	s.min_update_hv = get_le16(p + TDX_SIGSTRUCT_MIN_UPDATE_HV_OFF);
	s.no_downgrade = p[TDX_SIGSTRUCT_NO_DOWNGRADE_OFF] != 0;
	s.cpuid_count = count;
	for (uint32_t i = 0; i < count; i++)
		s.cpuid[i] = get_le32(p + TDX_SIGSTRUCT_CPUID_TABLE_OFF + 4 * (size_t)i);
	*ret = s;
	return 0;
}

static int parse_v1(const uint8_t *data, size_t size, struct tdx_blob *b, char *err,
		    size_t errlen)
{
	uint32_t off = get_le32(data + TDX_BLOB_V1_OFFSET_OF_MODULE_OFF);
	uint32_t length = get_le32(data + TDX_BLOB_V1_LENGTH_OFF);
	if (memcmp(data + TDX_BLOB_V1_MAGIC_OFF, TDX_BLOB_MAGIC, TDX_BLOB_MAGIC_LEN) != 0)
		return set_error(err, errlen, -EINVAL, "blob: no \"TDX-BLOB\" signature at 0x8");
	if (length != size)
		return set_error(err, errlen, -EINVAL, "blob: length field %u, file has %zu bytes",
				 length, size);
	if (!all_zero(data + TDX_BLOB_V1_RESERVED_OFF,
		      TDX_BLOB_HEADER_SIZE - TDX_BLOB_V1_RESERVED_OFF))
		return set_error(err, errlen, -EINVAL, "blob: reserved header bytes are not zero");
	/* blob_structure.txt: offset_of_module = 8 KiB + N * 4 KiB; the module follows to the
	 * end and is not empty. */
	if (off < TDX_BLOB_HEADER_SIZE + TDX_BLOB_PAGE || off % TDX_BLOB_PAGE)
		return set_error(err, errlen, -EINVAL,
				 "blob: offset_of_module 0x%x is not 8 KiB + a multiple of 4 KiB",
				 off);
	if (off >= size)
		return set_error(err, errlen, -EINVAL,
				 "blob: offset_of_module 0x%x is at or past the end (%zu bytes)",
				 off, size);
	b->sigstruct_len = off - TDX_BLOB_HEADER_SIZE;
	b->module_off = off;
	b->module_len = size - off;
	return 0;
}

static int parse_v2(const uint8_t *data, size_t size, struct tdx_blob *b, char *err,
		    size_t errlen)
{
	uint32_t sp = get_le32(data + TDX_BLOB_V2_SIG_PAGES_OFF);
	uint32_t mp = get_le32(data + TDX_BLOB_V2_MODULE_PAGES_OFF);
	if (memcmp(data + TDX_BLOB_V2_MAGIC_OFF, TDX_BLOB_MAGIC, TDX_BLOB_MAGIC_LEN) != 0)
		return set_error(err, errlen, -EINVAL, "blob: no \"TDX-BLOB\" signature at 0x4");
	if (!all_zero(data + TDX_BLOB_V2_RESERVED_OFF,
		      TDX_BLOB_HEADER_SIZE - TDX_BLOB_V2_RESERVED_OFF))
		return set_error(err, errlen, -EINVAL, "blob: reserved header bytes are not zero");
	if (sp < 1 || sp > TDX_BLOB_MAX_SIG_PAGES)
		return set_error(err, errlen, -EINVAL, "blob: %u sigstruct pages, must be 1..%d",
				 sp, TDX_BLOB_MAX_SIG_PAGES);
	if (mp < 1 || mp > TDX_BLOB_MAX_MODULE_PAGES)
		return set_error(err, errlen, -EINVAL, "blob: %u module pages, must be 1..%d", mp,
				 TDX_BLOB_MAX_MODULE_PAGES);
	/* Both counts are small here: no overflow. */
	size_t want = (size_t)TDX_BLOB_PAGE * (1 + (size_t)sp + (size_t)mp);
	if (want != size)
		return set_error(err, errlen, -EINVAL,
				 "blob: header says %zu bytes (1 + %u + %u pages), file has %zu",
				 want, sp, mp, size);
	b->sigstruct_len = (size_t)sp * TDX_BLOB_PAGE;
	b->module_off = TDX_BLOB_HEADER_SIZE + b->sigstruct_len;
	b->module_len = (size_t)mp * TDX_BLOB_PAGE;
	return 0;
}

int tdx_blob_parse(const uint8_t *data, size_t size, struct tdx_blob *ret, char *err,
		   size_t errlen)
{
	if (!data || size < TDX_BLOB_HEADER_SIZE + TDX_BLOB_PAGE)
		return set_error(err, errlen, -EINVAL,
				 "blob: %zu bytes, shorter than a header and a sigstruct page",
				 data ? size : 0);
	if (size > TDX_BLOB_MAX_SIZE)
		return set_error(err, errlen, -EINVAL, "blob: %zu bytes, over the %u-byte limit",
				 size, TDX_BLOB_MAX_SIZE);
	struct tdx_blob b = {0};
	b.version = get_le16(data + TDX_BLOB_VERSION_OFF);
	b.checksum = get_le16(data + TDX_BLOB_CHECKSUM_OFF);
	b.size = size;
	b.sigstruct_off = TDX_SIGSTRUCT_OFF;
	int r;
	if (b.version == TDX_BLOB_V1)
		r = parse_v1(data, size, &b, err, errlen);
	else if (b.version == TDX_BLOB_V2)
		r = parse_v2(data, size, &b, err, errlen);
	else
		r = set_error(err, errlen, -EINVAL,
			      "blob: version 0x%x, expected 0x100 (Intel) or 0x200 (kernel)",
			      b.version);
	if (r < 0)
		return r;
	/* Both layouts leave at least one page at 0x1000 for the sigstruct (checked above). */
	r = tdx_sigstruct_parse(data + b.sigstruct_off, b.sigstruct_len, &b.sig, err, errlen);
	if (r < 0)
		return r;
	uint16_t sum = tdx_blob_sum16(data, size);
	if (sum != 0)
		return set_error(err, errlen, -EBADMSG,
				 "blob: checksum: the 16-bit sum of the file is 0x%04x, not 0",
				 sum);
	*ret = b;
	return 0;
}

int tdx_blob_verify(const uint8_t *data, const struct tdx_blob *b,
		    uint8_t ret_mrseam[TDX_SEAMHASH_SIZE], char *err, size_t errlen)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(data + b->module_off, b->module_len, md, &mdlen, EVP_sha384(), NULL) ||
	    mdlen != TDX_SEAMHASH_SIZE)
		return set_error(err, errlen, -ENOMEM, "blob: SHA-384 of the module failed");
	if (!mem_equal_ct(md, b->sig.seamhash, TDX_SEAMHASH_SIZE))
		return set_error(err, errlen, -EBADMSG,
				 "blob: SHA-384 of the module (MRSEAM) differs from the "
				 "sigstruct's seamhash");
	if (ret_mrseam)
		memcpy(ret_mrseam, md, TDX_SEAMHASH_SIZE);
	return 0;
}

bool tdx_sigstruct_supports_cpu(const struct tdx_sigstruct *s, uint32_t cpuid_1_eax)
{
	for (uint32_t i = 0; i < s->cpuid_count && i < TDX_SIGSTRUCT_MAX_CPUID; i++)
		if ((s->cpuid[i] & ~0xfu) == (cpuid_1_eax & ~0xfu))
			return true;
	return false;
}

int tdx_blob_to_v2(const uint8_t *data, const struct tdx_blob *b, uint8_t **ret,
		   size_t *ret_size, char *err, size_t errlen)
{
	if (b->sigstruct_len % TDX_BLOB_PAGE || b->module_len % TDX_BLOB_PAGE)
		return set_error(err, errlen, -EINVAL,
				 "blob: the module (%zu bytes) is not whole 4 KiB pages",
				 b->module_len);
	size_t sp = b->sigstruct_len / TDX_BLOB_PAGE, mp = b->module_len / TDX_BLOB_PAGE;
	if (sp > TDX_BLOB_MAX_SIG_PAGES || mp > TDX_BLOB_MAX_MODULE_PAGES)
		return set_error(err, errlen, -EINVAL,
				 "blob: %zu sigstruct and %zu module pages exceed the kernel's "
				 "%d and %d",
				 sp, mp, TDX_BLOB_MAX_SIG_PAGES, TDX_BLOB_MAX_MODULE_PAGES);
	size_t size = TDX_BLOB_HEADER_SIZE + b->sigstruct_len + b->module_len;
	uint8_t *out = calloc(1, size);
	if (!out)
		return set_error(err, errlen, -ENOMEM, "blob: out of memory");
	put16(out + TDX_BLOB_VERSION_OFF, TDX_BLOB_V2);
	memcpy(out + TDX_BLOB_V2_MAGIC_OFF, TDX_BLOB_MAGIC, TDX_BLOB_MAGIC_LEN);
	put32(out + TDX_BLOB_V2_SIG_PAGES_OFF, (uint32_t)sp);
	put32(out + TDX_BLOB_V2_MODULE_PAGES_OFF, (uint32_t)mp);
	memcpy(out + TDX_BLOB_HEADER_SIZE, data + b->sigstruct_off,
	       b->sigstruct_len + b->module_len);
	put16(out + TDX_BLOB_CHECKSUM_OFF, (uint16_t)(0x10000u - tdx_blob_sum16(out, size)));
	*ret = out;
	*ret_size = size;
	return 0;
}
