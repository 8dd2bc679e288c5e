#include "coco/tdx/ccel.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/endian.h"
#include "coco/util.h"

const char *ccel_event_type_name(uint32_t type)
{
	switch (type) {
	case 0x0: return "EV_PREBOOT_CERT";
	case 0x1: return "EV_POST_CODE";
	case 0x3: return "EV_NO_ACTION";
	case 0x4: return "EV_SEPARATOR";
	case 0x5: return "EV_ACTION";
	case 0x6: return "EV_EVENT_TAG";
	case 0x7: return "EV_S_CRTM_CONTENTS";
	case 0x8: return "EV_S_CRTM_VERSION";
	case 0xa: return "EV_PLATFORM_CONFIG_FLAGS";
	case 0xd: return "EV_IPL";
	case 0x80000001: return "EV_EFI_VARIABLE_DRIVER_CONFIG";
	case 0x80000002: return "EV_EFI_VARIABLE_BOOT";
	case 0x80000003: return "EV_EFI_BOOT_SERVICES_APPLICATION";
	case 0x80000004: return "EV_EFI_BOOT_SERVICES_DRIVER";
	case 0x80000007: return "EV_EFI_ACTION";
	case 0x80000008: return "EV_EFI_PLATFORM_FIRMWARE_BLOB";
	case 0x80000009: return "EV_EFI_HANDOFF_TABLES";
	case 0x8000000a: return "EV_EFI_PLATFORM_FIRMWARE_BLOB2";
	case 0x8000000b: return "EV_EFI_HANDOFF_TABLES2";
	case 0x800000e0: return "EV_EFI_VARIABLE_AUTHORITY";
	}
	return "unknown";
}

void ccel_log_free(struct ccel_log *l)
{
	free(l->ev);
	l->ev = NULL;
	l->n = 0;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static int push(struct ccel_log *l, size_t *cap, struct ccel_event **ret)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct ccel_event *ne = realloc(l->ev, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		l->ev = ne;
		*cap = nc;
	}
	*ret = &l->ev[l->n++];
	memset(*ret, 0, sizeof(**ret));
	(*ret)->seq = (uint32_t)(l->n - 1);
	(*ret)->rtmr = -1;
	return 0;
}

/* The Spec ID event: fixes the digest sizes of every later event. */
static int parse_spec_id(const uint8_t *d, size_t size, struct ccel_log *l, size_t *pos, char *err,
			 size_t errlen)
{
	/* u32 index, u32 type, 20-byte digest, u32 event size */
	if (size < 32)
		return set_error(err, errlen, -EINVAL, "event log of %zu bytes: no first event",
				 size);
	uint32_t type = get_le32(d + 4), esize = get_le32(d + 28);
	if (type != CCEL_EV_NO_ACTION)
		return set_error(err, errlen, -EINVAL,
				 "first event has type 0x%x, not EV_NO_ACTION: not a crypto-agile log",
				 type);
	if (esize > size - 32)
		return set_error(err, errlen, -EINVAL, "Spec ID event: size %u past the log's end",
				 esize);
	const uint8_t *e = d + 32;
	/* signature[16], platformClass u32, minor, major, errata, uintnSize u8 x4, numAlgs u32 */
	if (esize < 28 || memcmp(e, CCEL_SPEC_ID, 16) != 0)
		return set_error(err, errlen, -EINVAL,
				 "first event is not a '" CCEL_SPEC_ID "' event: not a crypto-agile log");
	uint32_t nalg = get_le32(e + 24);
	if (nalg == 0 || nalg > CCEL_MAX_ALGS || 28 + 4ull * nalg + 1 > esize)
		return set_error(err, errlen, -EINVAL,
				 "Spec ID event: %u algorithms in %u bytes (1 to %d)", nalg, esize,
				 CCEL_MAX_ALGS);
	bool sha384 = false;
	for (uint32_t i = 0; i < nalg; i++) {
		uint16_t id = get_le16(e + 28 + 4 * i), sz = get_le16(e + 30 + 4 * i);
		if (sz == 0 || sz > 64)
			return set_error(err, errlen, -EINVAL,
					 "Spec ID event: algorithm 0x%04x with digest size %u", id,
					 sz);
		if (id == CCEL_ALG_SHA384 && sz != 48)
			return set_error(err, errlen, -EINVAL,
					 "Spec ID event: SHA-384 with digest size %u", sz);
		for (uint32_t j = 0; j < i; j++)
			if (l->algs[j] == id)
				return set_error(err, errlen, -EINVAL,
						 "Spec ID event lists algorithm 0x%04x twice", id);
		l->algs[i] = id;
		l->alg_sizes[i] = sz;
		sha384 |= id == CCEL_ALG_SHA384;
	}
	l->n_algs = nalg;
	if (!sha384)
		return set_error(err, errlen, -EINVAL,
				 "Spec ID event lists no SHA-384 (0x000c): not a TD event log");
	uint8_t vendor = e[28 + 4 * nalg];
	if (28 + 4ull * nalg + 1 + vendor != esize)
		return set_error(err, errlen, -EINVAL,
				 "Spec ID event: %u bytes, its fields take %llu", esize,
				 (unsigned long long)(28 + 4ull * nalg + 1 + vendor));
	*pos = 32 + esize;
	return 0;
}

int ccel_replay(const uint8_t *d, size_t size, struct ccel_log *ret, char *err, size_t errlen)
{
	struct ccel_log *l = ret;
	memset(l, 0, sizeof(*l));
	size_t cap = 0, pos = 0;
	struct ccel_event *ev;
	int r = parse_spec_id(d, size, l, &pos, err, errlen);
	if (r < 0)
		return r;
	if ((r = push(l, &cap, &ev)) < 0)
		return set_error(err, errlen, r, "out of memory");
	ev->type = CCEL_EV_NO_ACTION;
	ev->data_off = 32;
	ev->data_len = pos - 32;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		return set_error(err, errlen, -ENOMEM, "out of memory");
	while (size - pos >= 12) {
		const uint8_t *h = d + pos;
		if (all_bytes(h, 12, 0xff) || all_bytes(h, 12, 0))
			break; /* fill after the last event */
		size_t start = pos;
		uint32_t idx = get_le32(h), type = get_le32(h + 4), count = get_le32(h + 8);
		if (l->n >= CCEL_MAX_EVENTS) {
			r = set_error(err, errlen, -EINVAL, "more than %d events", CCEL_MAX_EVENTS);
			goto out;
		}
		if (count == 0 || count > l->n_algs) {
			r = set_error(err, errlen, -EINVAL,
				      "event %zu at offset 0x%zx: %u digests (the log has %u algorithms)",
				      l->n, start, count, l->n_algs);
			goto out;
		}
		pos += 12;
		const uint8_t *sha384 = NULL;
		for (uint32_t i = 0; i < count; i++) {
			if (size - pos < 2)
				goto truncated;
			uint16_t id = get_le16(d + pos);
			unsigned k = 0;
			while (k < l->n_algs && l->algs[k] != id)
				k++;
			if (k == l->n_algs) {
				r = set_error(err, errlen, -EINVAL,
					      "event %zu at offset 0x%zx: algorithm 0x%04x not in the Spec ID event",
					      l->n, start, id);
				goto out;
			}
			pos += 2;
			if (size - pos < l->alg_sizes[k])
				goto truncated;
			if (id == CCEL_ALG_SHA384)
				sha384 = d + pos;
			pos += l->alg_sizes[k];
		}
		if (size - pos < 4)
			goto truncated;
		uint32_t esize = get_le32(d + pos);
		pos += 4;
		if (esize > CCEL_MAX_EVENT_DATA || esize > size - pos)
			goto truncated;
		if ((r = push(l, &cap, &ev)) < 0) {
			r = set_error(err, errlen, r, "out of memory");
			goto out;
		}
		ev->offset = start;
		ev->mr_index = idx;
		ev->type = type;
		ev->data_off = pos;
		ev->data_len = esize;
		pos += esize;
		if (type == CCEL_EV_NO_ACTION)
			continue;
		if (!sha384) {
			r = set_error(err, errlen, -EINVAL,
				      "event %zu at offset 0x%zx has no SHA-384 digest", l->n - 1,
				      start);
			goto out;
		}
		memcpy(ev->digest, sha384, 48);
		if (idx < 1 || idx > 4) {
			r = set_error(err, errlen, -EINVAL,
				      "event %zu at offset 0x%zx: MR index %u (RTMRs are 1..4)",
				      l->n - 1, start, idx);
			goto out;
		}
		ev->rtmr = (int)idx - 1;
		uint8_t *mr = l->rtmr[ev->rtmr];
		unsigned n = 0;
		if (!EVP_DigestInit_ex(c, EVP_sha384(), NULL) || !EVP_DigestUpdate(c, mr, 48) ||
		    !EVP_DigestUpdate(c, sha384, 48) || !EVP_DigestFinal_ex(c, mr, &n)) {
			r = set_error(err, errlen, -ENOMEM, "SHA-384 failed");
			goto out;
		}
		memcpy(ev->rtmr_after, mr, 48);
	}
	l->used = pos;
	r = 0;
	goto out;
truncated:
	r = set_error(err, errlen, -EINVAL, "event %zu: truncated at offset 0x%zx of %zu bytes",
		      l->n, pos, size);
out:
	EVP_MD_CTX_free(c);
	if (r < 0)
		ccel_log_free(l);
	return r;
}

enum ccel_match ccel_locate(const struct ccel_log *l, unsigned rtmr, const uint8_t want[48],
			    long *ret_first_bad)
{
	*ret_first_bad = -1;
	if (rtmr > 3)
		return CCEL_NO_PREFIX;
	if (memcmp(l->rtmr[rtmr], want, 48) == 0)
		return CCEL_MATCH;
	static const uint8_t zero[48];
	bool prefix = memcmp(want, zero, 48) == 0;
	long first = -1;
	for (size_t i = 0; i < l->n; i++) {
		if (l->ev[i].rtmr != (int)rtmr)
			continue;
		if (first < 0)
			first = (long)i;
		if (prefix) {
			*ret_first_bad = (long)i;
			return CCEL_PREFIX;
		}
		prefix = memcmp(l->ev[i].rtmr_after, want, 48) == 0;
	}
	*ret_first_bad = first;
	return CCEL_NO_PREFIX;
}

int ccel_synth(unsigned n, bool two_algs, size_t fill, uint8_t **ret, size_t *ret_size)
{
	size_t nalg = two_algs ? 2 : 1, spec = 28 + 4 * nalg + 1;
	size_t per = 12 + nalg * 2 + (two_algs ? 32 : 0) + 48 + 4 + 16;
	size_t size = 32 + spec + (size_t)n * per + fill;
	uint8_t *d = calloc(1, size);
	if (!d)
		return -ENOMEM;
	put_le32(d + 4, CCEL_EV_NO_ACTION);
	put_le32(d + 28, (uint32_t)spec);
	uint8_t *e = d + 32;
	memcpy(e, CCEL_SPEC_ID, 16);
	e[21] = 2;  /* spec version 2.0, errata 0 */
	e[23] = 2;  /* uintnSize: 2 = 64-bit */
	put_le32(e + 24, (uint32_t)nalg);
	size_t p = 28;
	if (two_algs) {
		put_le16(e + p, 0x000b);
		put_le16(e + p + 2, 32);
		p += 4;
	}
	put_le16(e + p, CCEL_ALG_SHA384);
	put_le16(e + p + 2, 48);
	size_t pos = 32 + spec;
	for (unsigned i = 0; i < n; i++) {
		char data[17];
		snprintf(data, sizeof(data), "event %010u", i);
		uint8_t *h = d + pos;
		put_le32(h, 1 + i % 4);
		put_le32(h + 4, 0x80000007);
		put_le32(h + 8, (uint32_t)nalg);
		pos += 12;
		if (two_algs) {
			put_le16(d + pos, 0x000b);
			if (!EVP_Digest(data, 16, d + pos + 2, NULL, EVP_sha256(), NULL))
				goto fail;
			pos += 34;
		}
		put_le16(d + pos, CCEL_ALG_SHA384);
		if (!EVP_Digest(data, 16, d + pos + 2, NULL, EVP_sha384(), NULL))
			goto fail;
		pos += 50;
		put_le32(d + pos, 16);
		memcpy(d + pos + 4, data, 16);
		pos += 20;
	}
	memset(d + pos, 0xff, fill);
	*ret = d;
	*ret_size = size;
	return 0;
fail:
	free(d);
	return -ENOMEM;
}
