#include "coco/snp/measure.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/ovmf.h"
#include "coco/util.h"

/* COCONUT-SVSM footer entry: entry point offset from the SVSM image's load address. */
#define SVSM_GUID_INFO                                                                             \
	COCO_GUID(0xa789a612, 0x0597, 0x4c4b, 0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd)

static const char *const mode_names[] = {
    [SNP_MODE_SNP] = "snp",	  [SNP_MODE_SEVES] = "seves",
    [SNP_MODE_SEV] = "sev",	  [SNP_MODE_OVMF_HASH] = "snp:ovmf-hash",
    [SNP_MODE_SVSM] = "snp:svsm",
};

const char *snp_mode_name(enum snp_mode m)
{
	return (size_t)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

int snp_mode_from_name(const char *s, enum snp_mode *ret)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(mode_names[i], s) == 0) {
			*ret = (enum snp_mode)i;
			return 0;
		}
	return -EINVAL;
}

/* Firmware pages into the chain, hashing them in parallel unless hashes are given. */
static int fold_image(struct snp_gctx *g, const uint8_t *img, size_t size, uint64_t gpa,
		      const uint8_t *page_hashes, unsigned threads, unsigned *pages)
{
	size_t n = size / SNP_PAGE_SIZE;
	uint8_t *h = NULL;
	if (!page_hashes) {
		h = malloc(n * SNP_LD_SIZE + 1);
		if (!h)
			return -ENOMEM;
		snp_hash_pages(img, n, h, threads);
		page_hashes = h;
	}
	snp_gctx_update_normal_hashed(g, gpa, page_hashes, n);
	*pages += (unsigned)n;
	free(h);
	return 0;
}

/* Metadata sections in table order (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm). */
/* Real images describe well under 1 MiB of sections; a hostile one could ask for ~64 x 4 GiB
 * of page folds. */
#define SNP_MAX_SECTION_BYTES (256ull << 20)

static int fold_sections(struct snp_gctx *g, const struct ovmf *o, enum snp_vmm_type vmm,
			 const struct snp_measure_input *in, unsigned *pages, char *err,
			 size_t errlen)
{
	uint64_t total = 0;
	for (size_t i = 0; i < o->n_sections; i++)
		total += o->sections[i].size;
	if (total > SNP_MAX_SECTION_BYTES)
		return set_error(err, errlen, -EINVAL,
				 "SEV metadata sections cover %llu MiB (at most %llu MiB)",
				 (unsigned long long)(total >> 20),
				 (unsigned long long)(SNP_MAX_SECTION_BYTES >> 20));
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct ovmf_sev_section *s = &o->sections[i];
		bool multi = s->type == OVMF_SEV_SNP_SEC_MEM || s->type == OVMF_SEV_SVSM_CAA ||
			     (s->type == OVMF_SEV_SNP_KERNEL_HASHES && !in->kernel);
		if (multi && (s->size % SNP_PAGE_SIZE || s->gpa % SNP_PAGE_SIZE))
			return set_error(
			    err, errlen, -EINVAL,
			    "SEV metadata section %zu (%s) at 0x%x+0x%x is not page-aligned", i,
			    ovmf_sev_section_name(s->type), s->gpa, s->size);
		switch (s->type) {
		case OVMF_SEV_SNP_SEC_MEM:
			/* GCE pre-validates this memory without measuring it. */
			snp_gctx_update_typed(
			    g, vmm == SNP_VMM_GCE ? SNP_PAGE_UNMEASURED : SNP_PAGE_ZERO, s->gpa,
			    s->size);
			*pages += s->size / SNP_PAGE_SIZE;
			break;
		case OVMF_SEV_SNP_SECRETS:
			snp_gctx_update_page(g, SNP_PAGE_SECRETS, s->gpa, NULL);
			*pages += 1;
			break;
		case OVMF_SEV_CPUID:
			if (vmm != SNP_VMM_EC2) { /* EC2 adds the CPUID page last */
				snp_gctx_update_page(g, SNP_PAGE_CPUID, s->gpa, NULL);
				*pages += 1;
			}
			break;
		case OVMF_SEV_SVSM_CAA:
			snp_gctx_update_typed(g, SNP_PAGE_ZERO, s->gpa, s->size);
			*pages += s->size / SNP_PAGE_SIZE;
			break;
		case OVMF_SEV_SNP_KERNEL_HASHES:
			if (!in->kernel) {
				snp_gctx_update_typed(g, SNP_PAGE_ZERO, s->gpa, s->size);
				*pages += s->size / SNP_PAGE_SIZE;
				break;
			}
			if (s->size != SNP_PAGE_SIZE || s->gpa % SNP_PAGE_SIZE)
				return set_error(
				    err, errlen, -EINVAL,
				    "SNP_KERNEL_HASHES section at 0x%x+0x%x: must be one "
				    "aligned page",
				    s->gpa, s->size);
			/* QEMU writes the table at the hash-table entry's GPA; it must lie in this
			 * page, or OVMF would check hashes nobody measured. */
			if (!o->has_hash_table || o->hash_table_gpa == 0)
				return set_error(
				    err, errlen, -EINVAL,
				    "firmware has an SNP_KERNEL_HASHES section but no SEV hash "
				    "table location (OVMF table entry 7255371f-3a3b-4b04-927b-"
				    "1da6efa8d454)");
			if (o->hash_table_gpa < s->gpa ||
			    (uint64_t)o->hash_table_gpa + SNP_HASH_TABLE_PADDED >
				(uint64_t)s->gpa + s->size)
				return set_error(
				    err, errlen, -EINVAL,
				    "SEV hash table at 0x%x does not fit in the SNP_KERNEL_HASHES "
				    "page at 0x%x",
				    o->hash_table_gpa, s->gpa);
			{
				uint8_t page[SNP_PAGE_SIZE];
				if (snp_hash_table_page(&in->hashes, o->hash_table_gpa, page) < 0)
					return set_error(err, errlen, -EINVAL,
							 "SEV hash table at 0x%x crosses its page",
							 o->hash_table_gpa);
				snp_gctx_update_normal(g, s->gpa, page, SNP_PAGE_SIZE);
				*pages += 1;
			}
			break;
		default:
			return set_error(err, errlen, -EINVAL,
					 "SEV metadata section %zu has unknown type 0x%x", i,
					 s->type);
		}
	}
	if (vmm == SNP_VMM_EC2)
		for (size_t i = 0; i < o->n_sections; i++)
			if (o->sections[i].type == OVMF_SEV_CPUID) {
				snp_gctx_update_page(g, SNP_PAGE_CPUID, o->sections[i].gpa, NULL);
				*pages += 1;
			}
	return 0;
}

static int need_vcpus(const struct snp_measure_input *in, const struct ovmf *o, char *err,
		      size_t errlen)
{
	if (in->vcpus == 0)
		return set_error(err, errlen, -EINVAL, "at least one vCPU is needed");
	if (in->vcpus > 4096)
		return set_error(err, errlen, -EINVAL, "%u vCPUs: at most 4096", in->vcpus);
	/* SEV-ES/SNP firmware always carries the AP reset block; without it the image is not
	 * one an SEV-ES or SNP guest boots (sev-snp-measure refuses it too). */
	if (o && !o->has_reset_eip)
		return set_error(
		    err, errlen, -EINVAL,
		    "the firmware has no SEV-ES reset block (OVMF table entry 00f771de-1a7e-"
		    "4fcb-890e-68c77e2fb44e): it is not SEV-ES/SNP firmware");
	if (o && in->vcpus > 1 && o->sev_es_reset_eip == 0)
		return set_error(
		    err, errlen, -EINVAL,
		    "%u vCPUs, but the firmware's SEV-ES AP reset vector is 0: APs could not "
		    "start",
		    in->vcpus);
	return 0;
}

static int measure_snp(const struct snp_measure_input *in, const struct ovmf *o,
		       struct snp_measure_result *out, char *err, size_t errlen)
{
	if (!o->has_sev_metadata)
		return set_error(
		    err, errlen, -EINVAL,
		    "firmware has no SEV metadata (OVMF table entry dc886566-984a-4798-a75e-"
		    "5585a7bf67cc): it cannot launch an SEV-SNP guest, and its digest would "
		    "never match a report; use an SNP-capable OVMF (OvmfPkg/AmdSev or OvmfX64 "
		    "with SEV-SNP)");
	if (in->kernel && !ovmf_has_section(o, OVMF_SEV_SNP_KERNEL_HASHES))
		return set_error(
		    err, errlen, -EINVAL,
		    "a kernel was given, but this firmware has no SEV kernel-hashes section "
		    "(SNP_KERNEL_HASHES): it would boot the kernel unmeasured; use "
		    "OvmfPkg/AmdSev, or measure without kernel, initrd and command line");
	int r = need_vcpus(in, o, err, errlen);
	if (r < 0)
		return r;
	struct snp_gctx g;
	out->pages = 0;
	if (in->pre_vmsa) {
		snp_gctx_init(&g, in->pre_vmsa);
	} else {
		if (in->seed) {
			snp_gctx_init(&g, in->seed);
		} else {
			snp_gctx_init(&g, NULL);
			if ((r = fold_image(&g, o->data, o->size, ovmf_gpa(o), in->ovmf_page_hashes,
					    in->threads, &out->pages)) < 0)
				return set_error(err, errlen, r, "out of memory");
		}
		if ((r = fold_sections(&g, o, in->vmm, in, &out->pages, err, errlen)) < 0)
			return r;
	}
	memcpy(out->pre_vmsa, g.ld, SNP_LD_SIZE);
	/* Two distinct pages at most: hash each once, fold it per vCPU. */
	uint8_t bsp[SNP_PAGE_SIZE], ap[SNP_PAGE_SIZE];
	uint8_t *h_bsp = out->vmsa_hashes, *h_ap = out->vmsa_hashes + SNP_LD_SIZE;
	bool build = !in->vmsa_hashes || in->vmsa_cb;
	if (build) {
		snp_vmsa_build(bsp, in->vmm, SNP_BSP_EIP, in->guest_features, in->vcpu_sig);
		snp_vmsa_build(ap, in->vmm, o->sev_es_reset_eip, in->guest_features, in->vcpu_sig);
	}
	if (in->vmsa_hashes) {
		memcpy(out->vmsa_hashes, in->vmsa_hashes, 2 * SNP_LD_SIZE);
	} else {
		SHA384(bsp, SNP_PAGE_SIZE, h_bsp);
		SHA384(ap, SNP_PAGE_SIZE, h_ap);
	}
	for (unsigned i = 0; i < in->vcpus; i++) {
		snp_gctx_update_page(&g, SNP_PAGE_VMSA, SNP_VMSA_GPA, i == 0 ? h_bsp : h_ap);
		if (in->vmsa_cb)
			in->vmsa_cb(in->vmsa_userdata, i, i == 0 ? bsp : ap);
	}
	out->pages += in->vcpus;
	memcpy(out->digest, g.ld, SNP_LD_SIZE);
	out->digest_len = SNP_LD_SIZE;
	return 0;
}

static int measure_svsm(const struct snp_measure_input *in, const struct ovmf *o,
			struct snp_measure_result *out, char *err, size_t errlen)
{
	if (in->vmm != SNP_VMM_QEMU)
		return set_error(err, errlen, -EINVAL,
				 "snp:svsm is defined for the QEMU layout only");
	if (!in->svsm || in->svsm_size == 0)
		return set_error(err, errlen, -EINVAL,
				 "snp:svsm needs the COCONUT-SVSM image (--svsm)");
	if (in->svsm_size % SNP_PAGE_SIZE)
		return set_error(err, errlen, -EINVAL,
				 "SVSM image size %zu is not a multiple of 4096", in->svsm_size);
	if (in->vars_size == 0 || in->vars_size % SNP_PAGE_SIZE)
		return set_error(err, errlen, -EINVAL,
				 "OVMF vars size %llu must be a non-zero multiple of 4096",
				 (unsigned long long)in->vars_size);
	if (in->kernel)
		return set_error(
		    err, errlen, -EINVAL,
		    "snp:svsm does not measure a kernel: OVMF is loaded by the SVSM "
		    "without kernel hashes; measure without kernel, initrd and command line");
	int r = need_vcpus(in, NULL, err, errlen);
	if (r < 0)
		return r;
	/* Below 4 GiB: [SVSM][OVMF vars (unmeasured)][OVMF code]. */
	uint64_t ovmf_base = ovmf_gpa(o);
	if (in->vars_size + in->svsm_size > ovmf_base)
		return set_error(err, errlen, -EINVAL,
				 "SVSM image and vars do not fit below the firmware");
	uint64_t svsm_base = ovmf_base - in->vars_size - in->svsm_size;
	struct ovmf s;
	if ((r = ovmf_parse(in->svsm, in->svsm_size, &s, err, errlen)) < 0)
		return r;
	const struct ovmf_table_entry *info = ovmf_find(&s, SVSM_GUID_INFO);
	if (!info || info->len < 4)
		return set_error(
		    err, errlen, -EINVAL,
		    "SVSM image has no SVSM info entry (a789a612-0597-4c4b-a49f-cbb1fe9d1ddd) "
		    "giving its entry point");
	const uint8_t *d = s.data + info->offset;
	uint64_t eip = svsm_base + (uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
	if (!s.has_sev_metadata)
		return set_error(err, errlen, -EINVAL, "SVSM image has no SEV metadata");

	struct snp_gctx g;
	snp_gctx_init(&g, in->seed);
	out->pages = 0;
	if (!in->seed && (r = fold_image(&g, o->data, o->size, ovmf_base, in->ovmf_page_hashes,
					 in->threads, &out->pages)) < 0)
		return set_error(err, errlen, r, "out of memory");
	if ((r = fold_image(&g, in->svsm, in->svsm_size, svsm_base, NULL, in->threads,
			    &out->pages)) < 0)
		return set_error(err, errlen, r, "out of memory");
	/* The SVSM's own sections; OVMF's are the SVSM's business at run time. */
	struct snp_measure_input plain = *in;
	plain.kernel = false;
	if ((r = fold_sections(&g, &s, SNP_VMM_QEMU, &plain, &out->pages, err, errlen)) < 0)
		return r;
	uint8_t vmsa[SNP_PAGE_SIZE], h[SNP_LD_SIZE];
	snp_vmsa_build_svsm(vmsa, eip, in->vcpu_sig);
	SHA384(vmsa, SNP_PAGE_SIZE, h);
	for (unsigned i = 0; i < in->vcpus; i++) {
		snp_gctx_update_page(&g, SNP_PAGE_VMSA, SNP_VMSA_GPA, h);
		if (in->vmsa_cb)
			in->vmsa_cb(in->vmsa_userdata, i, vmsa);
	}
	out->pages += in->vcpus;
	memcpy(out->digest, g.ld, SNP_LD_SIZE);
	out->digest_len = SNP_LD_SIZE;
	return 0;
}

/* SEV and SEV-ES: SHA-256 over the launch-updated blobs in order (SEV API 0.24, LAUNCH_MEASURE). */
static int measure_sev(const struct snp_measure_input *in, const struct ovmf *o,
		       struct snp_measure_result *out, char *err, size_t errlen)
{
	bool es = in->mode == SNP_MODE_SEVES;
	if (in->kernel && (!o->has_hash_table || o->hash_table_gpa == 0))
		return set_error(
		    err, errlen, -EINVAL,
		    "a kernel was given, but this firmware has no SEV hash table (OVMF table "
		    "entry 7255371f-3a3b-4b04-927b-1da6efa8d454): it cannot measure "
		    "kernel/initrd/cmdline");
	int r;
	if (es && (r = need_vcpus(in, o, err, errlen)) < 0)
		return r;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return set_error(err, errlen, -ENOMEM, "out of memory");
	}
	EVP_DigestUpdate(ctx, o->data, o->size);
	if (in->kernel) {
		uint8_t table[SNP_HASH_TABLE_PADDED];
		snp_hash_table_build(&in->hashes, table);
		EVP_DigestUpdate(ctx, table, sizeof(table));
	}
	if (es) {
		uint8_t bsp[SNP_PAGE_SIZE], ap[SNP_PAGE_SIZE];
		snp_vmsa_build(bsp, in->vmm, SNP_BSP_EIP, 0, in->vcpu_sig);
		if (in->vcpus > 1)
			snp_vmsa_build(ap, in->vmm, o->sev_es_reset_eip, 0, in->vcpu_sig);
		for (unsigned i = 0; i < in->vcpus; i++) {
			EVP_DigestUpdate(ctx, i == 0 ? bsp : ap, SNP_PAGE_SIZE);
			if (in->vmsa_cb)
				in->vmsa_cb(in->vmsa_userdata, i, i == 0 ? bsp : ap);
		}
	}
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, out->digest, &len);
	EVP_MD_CTX_free(ctx);
	out->digest_len = len;
	out->pages = 0;
	return 0;
}

int snp_measure(const struct snp_measure_input *in, struct snp_measure_result *out, char *err,
		size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!in->ovmf || in->ovmf_size == 0)
		return set_error(err, errlen, -EINVAL, "firmware image is empty");
	struct ovmf o;
	int r = ovmf_parse(in->ovmf, in->ovmf_size, &o, err, errlen);
	if (r < 0)
		return r;
	out->firmware_gpa = ovmf_gpa(&o);
	bool snp =
	    in->mode == SNP_MODE_SNP || in->mode == SNP_MODE_SVSM || in->mode == SNP_MODE_OVMF_HASH;
	if (snp && o.size % SNP_PAGE_SIZE)
		return set_error(
		    err, errlen, -EINVAL,
		    "firmware size %zu is not a multiple of 4096: SNP measures whole pages",
		    o.size);
	if (in->seed && in->mode != SNP_MODE_SNP && in->mode != SNP_MODE_SVSM)
		return set_error(err, errlen, -EINVAL,
				 "an OVMF hash seed applies to SNP modes only");
	switch (in->mode) {
	case SNP_MODE_OVMF_HASH: {
		struct snp_gctx g;
		snp_gctx_init(&g, NULL);
		if ((r = fold_image(&g, o.data, o.size, ovmf_gpa(&o), in->ovmf_page_hashes,
				    in->threads, &out->pages)) < 0)
			return set_error(err, errlen, r, "out of memory");
		memcpy(out->digest, g.ld, SNP_LD_SIZE);
		out->digest_len = SNP_LD_SIZE;
		return 0;
	}
	case SNP_MODE_SNP: return measure_snp(in, &o, out, err, errlen);
	case SNP_MODE_SVSM: return measure_svsm(in, &o, out, err, errlen);
	case SNP_MODE_SEV:
	case SNP_MODE_SEVES: return measure_sev(in, &o, out, err, errlen);
	}
	return set_error(err, errlen, -EINVAL, "unknown mode %d", (int)in->mode);
}

int snp_measure_prefix(const struct snp_measure_input *in, uint8_t out[SNP_LD_SIZE], char *err,
		       size_t errlen)
{
	struct snp_measure_input p = {.mode = SNP_MODE_OVMF_HASH,
				      .ovmf = in->ovmf,
				      .ovmf_size = in->ovmf_size,
				      .ovmf_page_hashes = in->ovmf_page_hashes,
				      .threads = in->threads};
	struct snp_measure_result r;
	int e = snp_measure(&p, &r, err, errlen);
	if (e == 0)
		memcpy(out, r.digest, SNP_LD_SIZE);
	return e;
}
