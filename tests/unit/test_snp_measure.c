/* coco/snp: launch digests against known answers, and hostile firmware images.
 * Vectors: tests/data/snp/measure-vectors.json (copied from shared/testdata: sev-snp-measure
 * 0.0.13's tests and real SVSM launches) and extra-vectors.json (upstream test_guest.py values
 * and three computed by running sev-snp-measure; provenance inside each file). */
#include <check.h>
#include <json-c/json.h>
#include <openssl/sha.h>

#include "coco/filehash.h"
#include "coco/ovmf.h"
#include "coco/snp/measure.h"
#include "coco/util.h"
#include "tests/check_main.h"

#define DATA SOURCE_DIR "/tests/data/snp"

static const char *str(json_object *v, const char *k)
{
	json_object *o;
	if (!json_object_object_get_ex(v, k, &o) || json_object_is_type(o, json_type_null))
		return NULL;
	return json_object_get_string(o);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_uint_eq(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* Run one vector as sev-snp-measure would; returns snp_measure()'s result. */
static int run_vector(json_object *v, struct snp_measure_result *res, char *err, size_t errlen)
{
	char path[512];
	struct snp_measure_input in = {.threads = 2};
	const char *mode = str(v, "mode");
	ck_assert_int_eq(snp_mode_from_name(mode, &in.mode), 0);
	snprintf(path, sizeof(path), DATA "/%s", str(v, "ovmf"));
	struct coco_mapped_file fw, svsm = {0};
	ck_assert_int_eq(coco_map_file(path, 1u << 30, &fw), 0);
	in.ovmf = fw.data;
	in.ovmf_size = fw.size;
	if (str(v, "svsm")) {
		snprintf(path, sizeof(path), DATA "/%s", str(v, "svsm"));
		ck_assert_int_eq(coco_map_file(path, 1u << 30, &svsm), 0);
		in.svsm = svsm.data;
		in.svsm_size = svsm.size;
		json_object *vs;
		ck_assert(json_object_object_get_ex(v, "vars_size", &vs));
		in.vars_size = (uint64_t)json_object_get_int64(vs);
	}
	json_object *vc;
	if (json_object_object_get_ex(v, "vcpus", &vc))
		in.vcpus = (unsigned)json_object_get_int(vc);
	const char *t = str(v, "vcpu_type");
	if (t) {
		uint32_t sig;
		ck_assert_int_eq(snp_vcpu_type_sig(t, &sig), 0);
		in.vcpu_sig = sig;
	}
	const char *gf = str(v, "guest_features");
	in.guest_features = gf ? strtoull(gf, NULL, 0) : 0x1;
	if (str(v, "vmm_type"))
		ck_assert_int_eq(snp_vmm_type_from_name(str(v, "vmm_type"), &in.vmm), 0);
	uint8_t seed[48];
	if (str(v, "ovmf_hash")) {
		unhex(str(v, "ovmf_hash"), seed, 48);
		in.seed = seed;
	}
	if (str(v, "kernel")) {
		in.kernel = true;
		ck_assert_int_eq(coco_sha256_file(str(v, "kernel"), in.hashes.kernel, NULL), 0);
		if (str(v, "initrd"))
			ck_assert_int_eq(coco_sha256_file(str(v, "initrd"), in.hashes.initrd, NULL), 0);
		else
			SHA256((const uint8_t *)"", 0, in.hashes.initrd);
		snp_hash_cmdline(str(v, "append"), in.hashes.cmdline);
	}
	int r = snp_measure(&in, res, err, errlen);
	coco_unmap_file(&fw);
	coco_unmap_file(&svsm);
	return r;
}

static json_object *vectors(const char *file, const char *key)
{
	json_object *root = json_object_from_file(file), *arr;
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, key, &arr));
	json_object_get(arr);
	json_object_put(root);
	return arr;
}

static void check_file(const char *file)
{
	json_object *arr = vectors(file, "vectors");
	size_t n = json_object_array_length(arr);
	ck_assert_uint_ge(n, 5);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		struct snp_measure_result res;
		char err[512] = "", hex[97];
		int r = run_vector(v, &res, err, sizeof(err));
		ck_assert_msg(r == 0, "%s: %s", str(v, "name"), err);
		hex_encode(res.digest, res.digest_len, hex);
		ck_assert_msg(strcmp(hex, str(v, "digest")) == 0, "%s: got %s, want %s",
			      str(v, "name"), hex, str(v, "digest"));
	}
	json_object_put(arr);
}

START_TEST(shared_vectors) { check_file(DATA "/measure-vectors.json"); }
END_TEST

START_TEST(extra_vectors) { check_file(DATA "/extra-vectors.json"); }
END_TEST

START_TEST(refusals)
{
	json_object *arr = vectors(DATA "/measure-vectors.json", "errors");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		struct snp_measure_result res;
		char err[512] = "";
		ck_assert_int_lt(run_vector(v, &res, err, sizeof(err)), 0);
		const char *want = strstr(str(v, "expect"), "refused: ") + 9;
		ck_assert_msg(strstr(err, want), "%s: got '%s'", str(v, "name"), err);
	}
	json_object_put(arr);
}
END_TEST

START_TEST(vcpu_signatures)
{
	/* sev-snp-measure vcpu_types.py; QEMU CPU models. */
	ck_assert_uint_eq(snp_vcpu_sig(14, 1, 2), 0xe12);
	ck_assert_uint_eq(snp_vcpu_sig(23, 1, 2), 0x800f12);
	const struct {
		const char *name;
		uint32_t sig;
	} kat[] = {{"EPYC", 0x800f12},	     {"EPYC-IBPB", 0x800f12}, {"EPYC-Rome-v3", 0x830f10},
		   {"EPYC-Milan-v2", 0xa00f11}, {"EPYC-Genoa", 0xa10f10}, {"EPYC-Turin", 0xb00f00}};
	for (size_t i = 0; i < ARRAY_SIZE(kat); i++) {
		uint32_t s;
		ck_assert_int_eq(snp_vcpu_type_sig(kat[i].name, &s), 0);
		ck_assert_uint_eq(s, kat[i].sig);
	}
	size_t n = 0;
	for (; snp_vcpu_type_names[n]; n++) {
		uint32_t s;
		ck_assert_int_eq(snp_vcpu_type_sig(snp_vcpu_type_names[n], &s), 0);
	}
	ck_assert_uint_eq(n, 16);
	uint32_t s;
	ck_assert_int_eq(snp_vcpu_type_sig("epyc-v4", &s), -ENOENT); /* names are exact */
}
END_TEST

START_TEST(intermediate_pages)
{
	/* Page hashes from the fact sheet's trace of snp_default (docs/notes, section 3-5). */
	uint8_t page[SNP_PAGE_SIZE], h[48], want[48];
	char hex[97];
	snp_vmsa_build(page, SNP_VMM_QEMU, SNP_BSP_EIP, 0x21, 0x800f12);
	SHA384(page, sizeof(page), h);
	unhex("ae79efa6efbe1594a2717dfd42af495a0e4ed37b00e529a5fdf349bea04c3513962ffb0c74cf65b0d9a"
	      "1857271833d6e", want, 48);
	hex_encode(h, 48, hex);
	ck_assert_msg(memcmp(h, want, 48) == 0, "BSP VMSA %s", hex);
	snp_vmsa_build(page, SNP_VMM_QEMU, 0x80b004, 0x21, 0x800f12);
	SHA384(page, sizeof(page), h);
	unhex("180ef2675dc01615d31b3e84ef27a0a69d08bfbbb58ea4f6a0188f08884ab6407591ada42f99749ce9a"
	      "406fb4e5d8355", want, 48);
	ck_assert(memcmp(h, want, 48) == 0);
	struct snp_kernel_hashes kh;
	SHA256((const uint8_t *)"", 0, kh.kernel);
	SHA256((const uint8_t *)"", 0, kh.initrd);
	snp_hash_cmdline("console=ttyS0 loglevel=7", kh.cmdline);
	unhex("321c8eec6a77bad179511397f913a083067ad8cb737bb260aacbfe8df70fc50a", want, 32);
	ck_assert(memcmp(kh.cmdline, want, 32) == 0);
	ck_assert_int_eq(snp_hash_table_page(&kh, 0x810c00, page), 0);
	SHA384(page, sizeof(page), h);
	unhex("adbef9bc7385f7a6dcb8774523cf024b403f193a47962309b277c4109aa70b4ba0355d1657b50e9625d"
	      "5bd1129e7fd27", want, 48);
	ck_assert(memcmp(h, want, 48) == 0);
	ck_assert_int_eq(snp_hash_table_page(&kh, 0x810f80, page), -EINVAL); /* crosses the page */
	uint8_t a[32], b[32];
	snp_hash_cmdline(NULL, a);
	snp_hash_cmdline("", b);
	ck_assert(memcmp(a, b, 32) == 0);
}
END_TEST

/* Hostile images: a copy of the AmdSev fixture with one field broken at a time. */
static uint8_t img[SNP_PAGE_SIZE];

static void load_img(void)
{
	FILE *f = fopen(DATA "/firmware/ovmf_AmdSev_suffix.bin", "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(img, 1, sizeof(img), f), sizeof(img));
	fclose(f);
}

static int measure_img(const uint8_t *data, size_t size, enum snp_mode mode, bool kernel,
		       unsigned vcpus, char *err, size_t errlen)
{
	struct snp_measure_input in = {.mode = mode, .ovmf = data, .ovmf_size = size,
				       .vcpus = vcpus, .vcpu_sig = 0x800f12, .guest_features = 1,
				       .kernel = kernel};
	struct snp_measure_result res;
	return snp_measure(&in, &res, err, errlen);
}

static void put32(size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		img[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

START_TEST(hostile_images)
{
	char err[512];
	/* Offsets in the fixture (docs/notes section 2): footer entry at 0xFCE, metadata header at
	 * 0xAAC (offset 0x554 from the end, stored at 0xF6E), reset block data at 0xFB8. */
	const struct {
		size_t off;
		uint32_t val;
		int width;
		const char *msg;
	} cases[] = {
		{0xfce, 0xffff, 2, "OVMF table footer: size 65535 out of range"},
		{0xfce, 0x0011, 2, "out of range"},            /* smaller than a header */
		{0xfbc, 0x0500, 2, "size 1280 out of range"},  /* entry longer than the table */
		{0xfbc, 0x0001, 2, "size 1 out of range"},
		{0xf6e, 0x2000, 4, "SEV metadata offset 0x2000 outside"},
		{0xf6e, 0x0004, 4, "SEV metadata offset 0x4 outside"},
		{0xaac, 0x41534556, 4, "bad signature"},
		{0xab4, 2, 4, "SEV metadata version 2"},
		{0xab8, 1000000, 4, "lists 1000000 sections"},
		{0xab0, 0x20, 4, "does not hold 7 sections"},
		{0xac4, 0x7, 4, "unknown type 0x7"}, /* first section type */
		{0xabc, 0xfffff000, 4, "crosses 4 GiB"},        /* first section's GPA */
		{0xabc, 0x800100, 4, "not page-aligned"},
		{0xf84, 0x12345, 4, "does not fit in the SNP_KERNEL_HASHES page"}, /* hash table GPA */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		load_img();
		if (cases[i].width == 2) {
			img[cases[i].off] = (uint8_t)cases[i].val;
			img[cases[i].off + 1] = (uint8_t)(cases[i].val >> 8);
		} else {
			put32(cases[i].off, cases[i].val);
		}
		err[0] = '\0';
		ck_assert_msg(measure_img(img, sizeof(img), SNP_MODE_SNP, true, 1, err, sizeof(err)) < 0,
			      "case %zu accepted", i);
		ck_assert_msg(strstr(err, cases[i].msg), "case %zu: want '%s', got '%s'", i, cases[i].msg, err);
	}
	/* No SEV metadata at all: refused in SNP mode instead of measured silently. */
	load_img();
	img[0xf74] ^= 0xff; /* the metadata entry's GUID */
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 1, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "firmware has no SEV metadata"));
	/* ... but SEV (no metadata needed) measures it as the plain file hash. */
	ck_assert_int_eq(measure_img(img, sizeof(img), SNP_MODE_SEV, false, 0, err, sizeof(err)), 0);
	load_img();
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "at least one vCPU"));
	ck_assert_int_lt(measure_img(img, 100, SNP_MODE_SNP, false, 1, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "not a multiple of 4096"));
	/* AP reset EIP 0 with several vCPUs. */
	put32(0xfb8, 0);
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 2, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "SEV-ES AP reset vector is 0"));
	/* Found by reading the code while writing fuzz_ovmf: a hash table GPA near 4 GiB wrapped
	 * the 32-bit fit check, and an unfilled stack page was measured. */
	load_img();
	put32(0xabc, 0xfffff000); /* section 0: the kernel-hashes page at the top */
	put32(0xac0, 0x1000);
	put32(0xac4, OVMF_SEV_SNP_KERNEL_HASHES);
	put32(0xab8, 1);          /* one section */
	put32(0xab0, 0x1c);
	put32(0xf84, 0xffffff51); /* hash table GPA */
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, true, 1, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "does not fit in the SNP_KERNEL_HASHES page"), "%s", err);
	/* Sections asking for gigabytes of folds are refused before any work. */
	load_img();
	put32(0xabc, 0);
	put32(0xac0, 0xfffff000);
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 1, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "sections cover 4096 MiB (at most 256 MiB)"), "%s", err);
	/* Two table entries with one GUID. */
	load_img();
	memcpy(img + 0xf74, img + 0xfbe, 16); /* metadata entry gets the reset block's GUID */
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 1, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "repeats a GUID"), "%s", err);
	/* No reset block at all: not SEV-ES/SNP firmware, refused even for one vCPU. */
	load_img();
	img[0xfbe] ^= 0xff; /* the reset block entry's GUID */
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SNP, false, 1, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "has no SEV-ES reset block"));
	ck_assert_int_lt(measure_img(img, sizeof(img), SNP_MODE_SEVES, false, 1, err, sizeof(err)), 0);
	/* Tiny and truncated images never read out of bounds. */
	for (size_t n = 1; n < 64; n++) {
		struct ovmf o;
		ovmf_parse(img + sizeof(img) - n, n, &o, err, sizeof(err));
	}
}
END_TEST

/* coco_sha256_mapped (page-stepped, prefetching) and its thread against one-shot SHA-256 and
 * the read() path, at sizes around the page steps; FIPS 180-2's "abc" as a known answer. */
START_TEST(mapped_file_hash)
{
	static const uint8_t abc[32] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t got[32], want[32];
	ck_assert_int_eq(coco_sha256_mapped((const uint8_t *)"abc", 3, got), 0);
	ck_assert_mem_eq(got, abc, 32);
	static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 5 * 4096 + 77};
	size_t max = 5 * 4096 + 77;
	uint8_t *buf = malloc(max);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < max; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 8));
	char path[] = "/tmp/test-filehash-XXXXXX";
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		SHA256(buf, sizes[k], want);
		ck_assert_int_eq(coco_sha256_mapped(buf, sizes[k], got), 0);
		ck_assert_msg(memcmp(got, want, 32) == 0, "size %zu", sizes[k]);
		/* The same bytes as a file: lazily mapped and hashed on a thread, and read(). */
		strcpy(path, "/tmp/test-filehash-XXXXXX");
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, buf, sizes[k]), (ssize_t)sizes[k]);
		close(fd);
		struct coco_mapped_file m;
		ck_assert_int_eq(coco_map_file_lazy(path, max, &m), 0);
		ck_assert_uint_eq(m.size, sizes[k]);
		struct coco_hash_thread t = {0};
		coco_sha256_mapped_start(&t, &m);
		coco_map_populate(&m);
		ck_assert_int_eq(coco_sha256_file_join(&t), 0);
		ck_assert_msg(memcmp(t.digest, want, 32) == 0, "thread, size %zu", sizes[k]);
		ck_assert_int_eq(coco_sha256_file(path, got, NULL), 0);
		ck_assert_msg(memcmp(got, want, 32) == 0, "read, size %zu", sizes[k]);
		coco_unmap_file(&m);
		/* Larger than allowed: refused, nothing mapped. */
		if (sizes[k] > 1) {
			ck_assert_int_eq(coco_map_file_lazy(path, sizes[k] - 1, &m), -EFBIG);
		}
		unlink(path);
	}
	struct coco_mapped_file m;
	ck_assert_int_eq(coco_map_file_lazy("/nonexistent/x", max, &m), -ENOENT);
	ck_assert_int_eq(coco_map_file_lazy("/tmp", max, &m), -EINVAL);
	free(buf);
}
END_TEST

/* coco_sha256_join_releasing: the mapping is given back behind the hash in whole 8 MiB steps
 * and m then covers exactly the rest; the digest is the file's. Sizes: under one step (nothing
 * released), exactly two steps, and two steps and a tail. */
START_TEST(join_releasing)
{
	static const size_t step = 8u << 20;
	static const size_t sizes[] = {step - 1, 2 * step, 2 * step + 12345};
	size_t max = 2 * step + 12345;
	uint8_t *buf = malloc(max), want[32];
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < max; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 12));
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		char path[] = "/tmp/test-filehash-XXXXXX";
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, buf, sizes[k]), (ssize_t)sizes[k]);
		close(fd);
		SHA256(buf, sizes[k], want);
		struct coco_mapped_file m;
		ck_assert_int_eq(coco_map_file_lazy(path, max, &m), 0);
		const uint8_t *start = m.data;
		struct coco_hash_thread t = {0};
		coco_sha256_mapped_start(&t, &m);
		coco_map_populate(&m);
		ck_assert_int_eq(coco_sha256_join_releasing(&t, &m), 0);
		ck_assert_msg(memcmp(t.digest, want, 32) == 0, "size %zu", sizes[k]);
		size_t released = (size_t)(m.data - start);
		ck_assert_uint_eq(released % step, 0);
		ck_assert_uint_le(released, sizes[k] - sizes[k] % step);
		ck_assert_uint_eq(m.size, sizes[k] - released);
		/* What is left is still mapped and still the file's tail. */
		if (m.size)
			ck_assert(memcmp(m.data, buf + released, m.size) == 0);
		coco_unmap_file(&m);
		unlink(path);
	}
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snp-measure");
	TCase *tc = tcase_create("vectors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shared_vectors);
	tcase_add_test(tc, extra_vectors);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, vcpu_signatures);
	tcase_add_test(tc, intermediate_pages);
	tcase_add_test(tc, hostile_images);
	tcase_add_test(tc, mapped_file_hash);
	tcase_add_test(tc, join_releasing);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
