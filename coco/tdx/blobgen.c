/* Synthetic TDX module blobs (blobgen.h). */
#include "coco/tdx/blobgen.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "coco/tdx/blob.h"

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

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* splitmix64: cheap deterministic filler so that each (version, seed) has its own MRSEAM. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void build_module(uint8_t *m, size_t len, const struct tdx_blobgen_params *p)
{
	memcpy(m, TDX_SYNTH_MODULE_MAGIC, TDX_SYNTH_MODULE_MAGIC_LEN);
	put16(m + 0x10, p->major);
	put16(m + 0x12, p->minor);
	put16(m + 0x14, p->update);
	put64(m + 0x18, p->seed);
	uint64_t s = p->seed ^ ((uint64_t)p->major << 48 | (uint64_t)p->minor << 32 | p->update);
	for (size_t i = TDX_SYNTH_MODULE_HEADER_SIZE; i + 8 <= len; i += 8)
		put64(m + i, mix(&s));
}

static void build_sigstruct(uint8_t *s, const struct tdx_blobgen_params *p, const uint8_t *mod,
			    size_t modlen)
{
	put32(s + TDX_SIGSTRUCT_HEADER_TYPE_OFF, TDX_SIGSTRUCT_HEADER_TYPE);
	put32(s + TDX_SIGSTRUCT_HEADER_LENGTH_OFF, TDX_SIGSTRUCT_HEADER_LENGTH);
	put32(s + TDX_SIGSTRUCT_HEADER_VERSION_OFF, TDX_SIGSTRUCT_HEADER_VERSION);
	put32(s + TDX_SIGSTRUCT_MODULE_TYPE_OFF, p->debug ? TDX_SIGSTRUCT_TYPE_DEBUG : 0);
	put32(s + TDX_SIGSTRUCT_MODULE_VENDOR_OFF, TDX_SIGSTRUCT_VENDOR_INTEL);
	put32(s + TDX_SIGSTRUCT_DATE_OFF, p->date ? p->date : 0x20250101);
	put32(s + TDX_SIGSTRUCT_SIZE_OFF, TDX_SIGSTRUCT_SIZE_DWORDS);
	put32(s + TDX_SIGSTRUCT_KEY_SIZE_OFF, TDX_SIGSTRUCT_KEY_SIZE_DWORDS);
	put32(s + TDX_SIGSTRUCT_MODULUS_SIZE_OFF, TDX_SIGSTRUCT_KEY_SIZE_DWORDS);
	put32(s + TDX_SIGSTRUCT_EXPONENT_SIZE_OFF, TDX_SIGSTRUCT_EXPONENT_SIZE_DWORDS);
	put32(s + TDX_SIGSTRUCT_EXPONENT_OFF, 0x10001); /* RSA-3072, e = 65537 */
	unsigned mdlen = 0;
	EVP_Digest(mod, modlen, s + TDX_SIGSTRUCT_SEAMHASH_OFF, &mdlen, EVP_sha384(), NULL);
	put16(s + TDX_SIGSTRUCT_SEAMSVN_OFF, p->seamsvn ? p->seamsvn : (uint16_t)(p->update & 0xff));
	put64(s + TDX_SIGSTRUCT_ATTRIBUTES_OFF, p->attributes);
	put16(s + TDX_SIGSTRUCT_MODULE_HV_OFF, p->module_hv ? p->module_hv : 1);
	put16(s + TDX_SIGSTRUCT_MIN_UPDATE_HV_OFF, p->min_update_hv ? p->min_update_hv : 1);
	s[TDX_SIGSTRUCT_NO_DOWNGRADE_OFF] = p->no_downgrade;
	uint32_t def = TDX_BLOBGEN_CPUID_DEFAULT;
	const uint32_t *ids = p->cpuid ? p->cpuid : &def;
	uint32_t n = p->cpuid ? p->cpuid_count : 1;
	put32(s + TDX_SIGSTRUCT_CPUID_COUNT_OFF, n);
	for (uint32_t i = 0; i < n; i++)
		put32(s + TDX_SIGSTRUCT_CPUID_TABLE_OFF + 4 * (size_t)i, ids[i]);
}

int tdx_blobgen(const struct tdx_blobgen_params *p, uint8_t **ret, size_t *ret_size)
{
	uint16_t ver = p->blob_version ? p->blob_version : TDX_BLOB_V1;
	size_t mp = p->module_pages ? p->module_pages : 100;
	if ((ver != TDX_BLOB_V1 && ver != TDX_BLOB_V2) || mp > 4096 ||
	    (p->cpuid && p->cpuid_count > TDX_SIGSTRUCT_MAX_CPUID) || p->extra_sig_pages > 3 ||
	    (ver == TDX_BLOB_V2 && p->extra_sig_pages))
		return -EINVAL;
	/* v1: the 2 KiB sigstruct and 2 KiB reserved (one page), then N reserved pages; v2 as
	 * tdx_blob_to_v2() makes it from Intel's N = 0 blob: one sigstruct page. */
	size_t sig_region = (size_t)TDX_BLOB_PAGE * (1 + p->extra_sig_pages);
	size_t modlen = mp * TDX_BLOB_PAGE;
	size_t size = TDX_BLOB_HEADER_SIZE + sig_region + modlen;
	uint8_t *b = calloc(1, size);
	if (!b)
		return -ENOMEM;
	uint8_t *mod = b + TDX_BLOB_HEADER_SIZE + sig_region;
	build_module(mod, modlen, p);
	build_sigstruct(b + TDX_SIGSTRUCT_OFF, p, mod, modlen);
	put16(b + TDX_BLOB_VERSION_OFF, ver);
	if (ver == TDX_BLOB_V1) {
		put32(b + TDX_BLOB_V1_OFFSET_OF_MODULE_OFF,
		      (uint32_t)(TDX_BLOB_HEADER_SIZE + sig_region));
		memcpy(b + TDX_BLOB_V1_MAGIC_OFF, TDX_BLOB_MAGIC, TDX_BLOB_MAGIC_LEN);
		put32(b + TDX_BLOB_V1_LENGTH_OFF, (uint32_t)size);
	} else {
		memcpy(b + TDX_BLOB_V2_MAGIC_OFF, TDX_BLOB_MAGIC, TDX_BLOB_MAGIC_LEN);
		put32(b + TDX_BLOB_V2_SIG_PAGES_OFF, (uint32_t)(sig_region / TDX_BLOB_PAGE));
		put32(b + TDX_BLOB_V2_MODULE_PAGES_OFF, (uint32_t)mp);
	}
	put16(b + TDX_BLOB_CHECKSUM_OFF, (uint16_t)(0x10000u - tdx_blob_sum16(b, size)));
	*ret = b;
	*ret_size = size;
	return 0;
}

int tdx_synth_module_version(const uint8_t *module, size_t len, uint16_t *ret_major,
			     uint16_t *ret_minor, uint16_t *ret_update)
{
	if (len < TDX_SYNTH_MODULE_HEADER_SIZE ||
	    memcmp(module, TDX_SYNTH_MODULE_MAGIC, TDX_SYNTH_MODULE_MAGIC_LEN) != 0 ||
	    module[0x16] || module[0x17])
		return -EINVAL;
	*ret_major = (uint16_t)(module[0x10] | module[0x11] << 8);
	*ret_minor = (uint16_t)(module[0x12] | module[0x13] << 8);
	*ret_update = (uint16_t)(module[0x14] | module[0x15] << 8);
	return 0;
}
