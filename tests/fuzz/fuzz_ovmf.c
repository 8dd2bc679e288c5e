/* ovmf_parse() on a firmware image (OVMF, TDVF or COCONUT-SVSM: the GUIDed table before the
 * reset vector, the SEV metadata it points at), then snp_measure() on it in every mode. A
 * firmware file is whatever the operator (or an attacker who can write it) put there, so every
 * byte is untrusted. Checks: the parse result describes the bytes (entries packed back to back
 * below the footer, inside the image; the metadata, reset EIP and hash-table values are the
 * bytes they claim to come from) and does not depend on where the image starts; errors are
 * messages; each measurement succeeds exactly when the firmware supports it, with a digest of
 * the right length that is reproducible, independent of the prefix cache (seed, page hashes),
 * and for SEV/SEV-ES equal to SHA-256 of the blobs; a kernel is only measured when the hash
 * table lies inside the SNP_KERNEL_HASHES page. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "coco/ovmf.h"
#include "coco/snp/measure.h"
#include "tests/fuzz/fuzz.h"

#define MAX_IMAGE (1u << 20)
#define PAGE SNP_PAGE_SIZE
#define ENTRY_HEADER 18		       /* u16 size, GUID */
#define FOOTER_END (32 + ENTRY_HEADER) /* reset vector, then the footer entry header */
#define FOUR_GIB 0x100000000ull
/* SNP measures every page of SNP_SEC_MEM/SVSM_CAA sections: up to 64 x 4 GiB of them. Above
 * this many pages the SNP modes are skipped so that one input stays in milliseconds. */
#define MAX_SECTION_PAGES (1u << 14)

#define SVSM_GUID_INFO                                                                             \
	COCO_GUID(0xa789a612, 0x0597, 0x4c4b, 0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd)

static const struct snp_kernel_hashes hashes = {
    .cmdline = {0x32, 0x1c, 0x8e, 0xec, 0x6a, 0x77, 0xba, 0xd1, 0x79, 0x51, 0x13,
		0x97, 0xf9, 0x13, 0xa0, 0x83, 0x06, 0x7a, 0xd8, 0xcb, 0x73, 0x7b,
		0xb2, 0x60, 0xaa, 0xcb, 0xfe, 0x8d, 0xf7, 0x0f, 0xc5, 0x0a},
    .initrd = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	       0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	       0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55},
    .kernel = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
	       0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
	       0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf},
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_error(int r, const char *err, size_t errlen)
{
	FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(err[0] != '\0');
}

/* What a successful parse says must be what the bytes say. */
static void check_parsed(const struct ovmf *o, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(o->data == data && o->size == size);
	FUZZ_CHECK(o->n_table <= OVMF_MAX_TABLE_ENTRIES);
	if (o->n_table) {
		FUZZ_CHECK(size >= FOOTER_END);
		FUZZ_CHECK(coco_guid_eq(data + size - FOOTER_END + 2, OVMF_GUID_TABLE_FOOTER));
	}
	/* Walked down from the footer: each entry's data end where its header starts, the
	 * header ends where the entry above begins, and all lie within the table. */
	size_t top = size >= FOOTER_END ? size - FOOTER_END : 0;
	size_t bottom = o->n_table ? size - 32 - le16(data + size - FOOTER_END) : 0;
	for (size_t i = 0; i < o->n_table; i++) {
		const struct ovmf_table_entry *e = &o->table[i];
		FUZZ_CHECK(e->offset <= size && e->len <= size - e->offset);
		FUZZ_CHECK(e->offset >= bottom);
		FUZZ_CHECK(e->offset + e->len + ENTRY_HEADER == top);
		FUZZ_CHECK(le16(data + top - ENTRY_HEADER) == e->len + ENTRY_HEADER);
		FUZZ_CHECK(coco_guid_eq(data + top - ENTRY_HEADER + 2, e->guid));
		const struct ovmf_table_entry *f = ovmf_find(o, e->guid);
		FUZZ_CHECK(f && f <= e && memcmp(f->guid.b, e->guid.b, 16) == 0);
		top = e->offset;
	}
	FUZZ_CHECK(top - bottom < ENTRY_HEADER || !o->n_table);

	const struct ovmf_table_entry *md = ovmf_find(o, OVMF_GUID_SEV_METADATA);
	FUZZ_CHECK(o->has_sev_metadata == (md != NULL));
	FUZZ_CHECK(o->n_sections <= OVMF_MAX_SEV_SECTIONS);
	if (!md) {
		FUZZ_CHECK(o->n_sections == 0);
	} else {
		FUZZ_CHECK(md->len >= 4);
		uint32_t from_end = le32(data + md->offset);
		FUZZ_CHECK(from_end >= 16 && from_end <= size);
		const uint8_t *h = data + size - from_end;
		FUZZ_CHECK(memcmp(h, "ASEV", 4) == 0 && le32(h + 8) == 1);
		FUZZ_CHECK(le32(h + 12) == o->n_sections);
		FUZZ_CHECK(16 + 12 * o->n_sections <= le32(h + 4) && le32(h + 4) <= from_end);
		for (size_t i = 0; i < o->n_sections; i++) {
			const struct ovmf_sev_section *s = &o->sections[i];
			FUZZ_CHECK((uint64_t)s->gpa + s->size <= FOUR_GIB);
			FUZZ_CHECK(s->gpa == le32(h + 16 + 12 * i) &&
				   s->size == le32(h + 20 + 12 * i) &&
				   s->type == le32(h + 24 + 12 * i));
		}
	}
	const struct ovmf_table_entry *rb = ovmf_find(o, OVMF_GUID_SEV_ES_RESET_BLOCK);
	FUZZ_CHECK(o->has_reset_eip == (rb != NULL));
	if (rb)
		FUZZ_CHECK(rb->len >= 4 && o->sev_es_reset_eip == le32(data + rb->offset));
	const struct ovmf_table_entry *ht = ovmf_find(o, OVMF_GUID_SEV_HASH_TABLE);
	FUZZ_CHECK(o->has_hash_table == (ht != NULL));
	if (ht)
		FUZZ_CHECK(ht->len >= 8 && o->hash_table_gpa == le32(data + ht->offset) &&
			   o->hash_table_size == le32(data + ht->offset + 4));
}

/* The same image behind `pad` more bytes parses the same, shifted: all offsets are from the
 * end of the image. */
static void check_shifted(const struct ovmf *a, const struct ovmf *b, size_t pad)
{
	FUZZ_CHECK(a->n_table == b->n_table && a->n_sections == b->n_sections);
	for (size_t i = 0; i < a->n_table; i++)
		FUZZ_CHECK(memcmp(a->table[i].guid.b, b->table[i].guid.b, 16) == 0 &&
			   a->table[i].offset + pad == b->table[i].offset &&
			   a->table[i].len == b->table[i].len);
	for (size_t i = 0; i < a->n_sections; i++)
		FUZZ_CHECK(a->sections[i].gpa == b->sections[i].gpa &&
			   a->sections[i].size == b->sections[i].size &&
			   a->sections[i].type == b->sections[i].type);
	FUZZ_CHECK(
	    a->has_sev_metadata == b->has_sev_metadata && a->has_reset_eip == b->has_reset_eip &&
	    a->sev_es_reset_eip == b->sev_es_reset_eip && a->has_hash_table == b->has_hash_table &&
	    a->hash_table_gpa == b->hash_table_gpa && a->hash_table_size == b->hash_table_size);
}

static bool snp_mode(enum snp_mode m)
{
	return m == SNP_MODE_SNP || m == SNP_MODE_OVMF_HASH || m == SNP_MODE_SVSM;
}

/* snp_measure, with the checks every call gets: an error is a message, a digest has the
 * mode's length and the firmware sits just below 4 GiB. */
static int measure(const struct snp_measure_input *in, struct snp_measure_result *out, char *err,
		   size_t errlen)
{
	err[0] = '\0';
	int r = snp_measure(in, out, err, errlen);
	if (r < 0) {
		check_error(r, err, errlen);
		return r;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(out->digest_len == (snp_mode(in->mode) ? SNP_LD_SIZE : 32u));
	FUZZ_CHECK(out->firmware_gpa == FOUR_GIB - in->ovmf_size);
	return 0;
}

/* SHA-256 of up to four blobs in a row. */
static void sha256(uint8_t out[32], const void *a, size_t na, const void *b, size_t nb,
		   const void *c, size_t nc, const void *d, size_t nd)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	FUZZ_CHECK(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
	FUZZ_CHECK(EVP_DigestUpdate(ctx, a, na) == 1 && EVP_DigestUpdate(ctx, b, nb) == 1 &&
		   EVP_DigestUpdate(ctx, c, nc) == 1 && EVP_DigestUpdate(ctx, d, nd) == 1);
	FUZZ_CHECK(EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 32);
	EVP_MD_CTX_free(ctx);
}

static bool kernel_hashes_ok(const struct ovmf *o)
{
	return o->has_hash_table && o->hash_table_gpa != 0;
}

/* SEV-ES/SNP firmware must carry the reset block; APs need a non-zero reset EIP. */
static bool ap_ok(const struct ovmf *o, unsigned vcpus)
{
	return o->has_reset_eip && (vcpus == 1 || o->sev_es_reset_eip != 0);
}

/* What SNP mode folds for the metadata sections, or -1 if it must refuse them. */
static long long section_pages(const struct ovmf *o, bool kernel)
{
	long long n = 0;
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct ovmf_sev_section *s = &o->sections[i];
		switch (s->type) {
		case OVMF_SEV_SNP_SEC_MEM:
		case OVMF_SEV_SVSM_CAA: n += s->size / PAGE; break;
		case OVMF_SEV_SNP_SECRETS:
		case OVMF_SEV_CPUID: n += 1; break;
		case OVMF_SEV_SNP_KERNEL_HASHES: n += kernel ? 1 : s->size / PAGE; break;
		default: return -1;
		}
	}
	return n;
}

/* A kernel's hashes are measured only where OVMF will look for them: the hash table lies in
 * the (one-page) SNP_KERNEL_HASHES section. */
static bool hash_table_in_section(const struct ovmf *o)
{
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct ovmf_sev_section *s = &o->sections[i];
		if (s->type == OVMF_SEV_SNP_KERNEL_HASHES &&
		    (s->size != PAGE || s->gpa % PAGE || !kernel_hashes_ok(o) ||
		     o->hash_table_gpa < s->gpa ||
		     (uint64_t)o->hash_table_gpa + SNP_HASH_TABLE_PADDED >
			 (uint64_t)s->gpa + s->size))
			return false;
	}
	return true;
}

static void fuzz_snp(const struct ovmf *o, const struct snp_measure_input *base,
		     const struct snp_measure_result *ovmf_hash)
{
	size_t fw_pages = base->ovmf_size / PAGE;
	uint8_t *page_hashes = malloc(fw_pages * SNP_LD_SIZE);
	FUZZ_CHECK(page_hashes);
	FUZZ_CHECK(snp_hash_pages(base->ovmf, fw_pages, page_hashes, 1) == 0);
	for (unsigned v = 0; v < 2; v++)
		for (unsigned k = 0; k < 2; k++) {
			struct snp_measure_input in = *base;
			struct snp_measure_result a, b;
			char ea[512], eb[512];
			in.mode = SNP_MODE_SNP;
			in.vcpus = v ? 3 : 1;
			in.kernel = k;
			int r = measure(&in, &a, ea, sizeof(ea));
			if (r == 0) {
				FUZZ_CHECK(o->has_sev_metadata && ap_ok(o, in.vcpus));
				FUZZ_CHECK(!in.kernel ||
					   ovmf_has_section(o, OVMF_SEV_SNP_KERNEL_HASHES));
				FUZZ_CHECK(!in.kernel || hash_table_in_section(o));
				long long sp = section_pages(o, in.kernel);
				FUZZ_CHECK(sp >= 0 && a.pages == fw_pages + sp + in.vcpus);
			} else if (r == -EINVAL && o->has_sev_metadata && ap_ok(o, in.vcpus) &&
				   section_pages(o, in.kernel) >= 0 && !in.kernel) {
				/* Without a kernel only unaligned multi-page sections are refused.
				 */
				bool unaligned = false;
				for (size_t i = 0; i < o->n_sections; i++) {
					uint32_t t = o->sections[i].type;
					if (t != OVMF_SEV_SNP_SECRETS && t != OVMF_SEV_CPUID &&
					    (o->sections[i].gpa % PAGE ||
					     o->sections[i].size % PAGE))
						unaligned = true;
				}
				FUZZ_CHECK(unaligned);
			}
			/* Determinism, and the prefix cache gives the same answer. */
			int r2 = measure(&in, &b, eb, sizeof(eb));
			FUZZ_CHECK(r2 == r);
			if (r == 0)
				FUZZ_CHECK(memcmp(a.digest, b.digest, SNP_LD_SIZE) == 0 &&
					   a.pages == b.pages);
			else
				FUZZ_CHECK(strcmp(ea, eb) == 0);
			if (ovmf_hash) {
				in.seed = ovmf_hash->digest;
				r2 = measure(&in, &b, eb, sizeof(eb));
				FUZZ_CHECK(r2 == r);
				if (r == 0)
					FUZZ_CHECK(memcmp(a.digest, b.digest, SNP_LD_SIZE) == 0 &&
						   b.pages + fw_pages == a.pages);
				in.seed = NULL;
			}
			in.ovmf_page_hashes = page_hashes;
			r2 = measure(&in, &b, eb, sizeof(eb));
			FUZZ_CHECK(r2 == r);
			if (r == 0)
				FUZZ_CHECK(memcmp(a.digest, b.digest, SNP_LD_SIZE) == 0);
		}
	free(page_hashes);

	/* The image as both OVMF and SVSM (its sections, its SVSM info entry). */
	struct snp_measure_input in = *base;
	struct snp_measure_result res;
	char err[512];
	in.mode = SNP_MODE_SVSM;
	in.vmm = SNP_VMM_QEMU;
	in.svsm = base->ovmf;
	in.svsm_size = base->ovmf_size;
	in.vars_size = 0x20000;
	if (measure(&in, &res, err, sizeof(err)) == 0) {
		const struct ovmf_table_entry *e = ovmf_find(o, SVSM_GUID_INFO);
		FUZZ_CHECK(e && e->len >= 4 && o->has_sev_metadata);
		FUZZ_CHECK(section_pages(o, false) >= 0);
	}
}

static void fuzz_sev(const struct ovmf *o, const struct snp_measure_input *base)
{
	uint8_t table[SNP_HASH_TABLE_PADDED], want[32];
	snp_hash_table_build(&hashes, table);
	for (unsigned k = 0; k < 2; k++) {
		struct snp_measure_input in = *base;
		struct snp_measure_result res;
		char err[512];
		in.mode = SNP_MODE_SEV;
		in.kernel = k;
		int r = measure(&in, &res, err, sizeof(err));
		FUZZ_CHECK((r == 0) == (!in.kernel || kernel_hashes_ok(o)) || r == -ENOMEM);
		if (r == 0) {
			sha256(want, in.ovmf, in.ovmf_size, table, in.kernel ? sizeof(table) : 0,
			       NULL, 0, NULL, 0);
			FUZZ_CHECK(memcmp(res.digest, want, 32) == 0);
		}
		/* SEV-ES: firmware, hashes table, then one VMSA per vCPU. */
		in.mode = SNP_MODE_SEVES;
		for (unsigned v = 1; v <= 3; v += 2) {
			in.vcpus = v;
			r = measure(&in, &res, err, sizeof(err));
			FUZZ_CHECK((r == 0) ==
				       ((!in.kernel || kernel_hashes_ok(o)) && ap_ok(o, v)) ||
				   r == -ENOMEM);
			if (r)
				continue;
			uint8_t bsp[PAGE], ap[PAGE], aps[2 * PAGE];
			snp_vmsa_build(bsp, in.vmm, SNP_BSP_EIP, 0, in.vcpu_sig);
			if (v > 1) {
				snp_vmsa_build(ap, in.vmm, o->sev_es_reset_eip, 0, in.vcpu_sig);
				memcpy(aps, ap, PAGE);
				memcpy(aps + PAGE, ap, PAGE);
			}
			sha256(want, in.ovmf, in.ovmf_size, table, in.kernel ? sizeof(table) : 0,
			       bsp, PAGE, aps, (v - 1) * (size_t)PAGE);
			FUZZ_CHECK(memcmp(res.digest, want, 32) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_IMAGE)
		return 0;
	struct ovmf *o = malloc(sizeof(*o)), *p = malloc(sizeof(*p));
	FUZZ_CHECK(o && p);
	char err[512] = "";
	int r = ovmf_parse(data, size, o, err, sizeof(err));
	if (r < 0)
		check_error(r, err, sizeof(err));
	else
		check_parsed(o, data, size);
	if (size == 0)
		goto out;

	/* Whole pages for SNP: zeros in front keep everything found from the end in place. */
	size_t pad = (PAGE - size % PAGE) % PAGE, n = size + pad;
	uint8_t *img = calloc(1, n);
	FUZZ_CHECK(img);
	memcpy(img + pad, data, size);
	char perr[512] = "";
	int pr = ovmf_parse(img, n, p, perr, sizeof(perr));
	if (pr < 0) {
		check_error(pr, perr, sizeof(perr));
		/* A longer image is never refused where a shorter one was not, unless the
		 * shorter one was too short to hold a footer and the padding completes one. */
		FUZZ_CHECK(r < 0 || size < FOOTER_END);
	} else {
		check_parsed(p, img, n);
		if (r == 0 && size >= FOOTER_END)
			check_shifted(o, p, pad);
	}

	struct snp_measure_input base = {
	    .mode = SNP_MODE_SNP,
	    .ovmf = img,
	    .ovmf_size = n,
	    .hashes = hashes,
	    .vcpus = 1,
	    .vcpu_sig = 0xa00f11, /* EPYC-Milan */
	    .guest_features = 0x21,
	    .vmm = (enum snp_vmm_type)(data[0] % 3),
	    .threads = 1,
	};
	struct snp_measure_result res;
	char merr[512];
	if (pad) {
		/* The unpadded image: no SNP mode takes part of a page; SEV hashes it as is. */
		struct snp_measure_input in = base;
		in.ovmf = data;
		in.ovmf_size = size;
		FUZZ_CHECK(measure(&in, &res, merr, sizeof(merr)) < 0);
		if (r < 0)
			FUZZ_CHECK(strcmp(merr, err) == 0);
		in.mode = SNP_MODE_SEV;
		int sr = measure(&in, &res, merr, sizeof(merr));
		FUZZ_CHECK(sr == r || sr == -ENOMEM);
		uint8_t want[32];
		sha256(want, data, size, NULL, 0, NULL, 0, NULL, 0);
		FUZZ_CHECK(sr < 0 || memcmp(res.digest, want, 32) == 0);
	}
	if (pr < 0) {
		/* Every mode fails at the parse, with its message. */
		for (int m = SNP_MODE_SNP; m <= SNP_MODE_SVSM; m++) {
			struct snp_measure_input in = base;
			in.mode = (enum snp_mode)m;
			FUZZ_CHECK(measure(&in, &res, merr, sizeof(merr)) == pr);
			FUZZ_CHECK(strcmp(merr, perr) == 0);
		}
		free(img);
		goto out;
	}

	struct snp_measure_input in = base;
	in.mode = SNP_MODE_OVMF_HASH;
	struct snp_measure_result ovmf_hash;
	int hr = measure(&in, &ovmf_hash, merr, sizeof(merr));
	FUZZ_CHECK(hr == 0 || hr == -ENOMEM);
	FUZZ_CHECK(hr < 0 || ovmf_hash.pages == n / PAGE);

	long long cost = 0;
	for (size_t i = 0; i < p->n_sections; i++)
		cost += p->sections[i].size / PAGE + 1;
	if (cost <= MAX_SECTION_PAGES)
		fuzz_snp(p, &base, hr == 0 ? &ovmf_hash : NULL);
	fuzz_sev(p, &base);
	free(img);
out:
	free(o);
	free(p);
	return 0;
}
