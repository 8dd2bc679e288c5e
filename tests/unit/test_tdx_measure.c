/* coco/tdx/tdvf.c (TDVF metadata, MRTD in both orders) and coco/tdx/ccel.c (TD event log, RTMR
 * replay). Expected MRTDs of the synthetic images are Fraunhofer-AISEC/measured-boot-tools
 * calculate-tdx-mrs outputs (tests/data/tdx/README says how each was made); every image is also
 * built through the emulated TDX module (hv/emul/tdx_module.c), whose MRTD must be ours. RTMRs
 * are recomputed here with OpenSSL from the synthetic log's events. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/endian.h"
#include "coco/tdx/ccel.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "hv/emul/tdx_module.h"
#include "tests/check_main.h"

static void mrtd_hex(const struct tdvf *t, enum tdvf_order o, char out[97])
{
	uint8_t d[48];
	char err[256];
	ck_assert_int_eq(tdvf_mrtd(t, o, d, err, sizeof(err)), 0);
	hex_encode(d, 48, out);
}

/* The TD the emulated module builds from the image, single-pass, as KVM would drive it. */
static void emulated_mrtd(const struct tdvf *t, char out[97])
{
	struct emul_tdx_module_config c = {.boot_version = {1, 5, 6}};
	struct emul_tdx_module *m = NULL;
	ck_assert_int_eq(emul_tdx_module_new(&c, &m), 0);
	struct emul_td_params p = {0};
	uint32_t td;
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	uint8_t page[4096];
	for (uint32_t i = 0; i < t->n; i++) {
		const struct tdvf_section *s = &t->s[i];
		if (s->attributes & TDVF_ATTR_PAGE_AUG)
			continue;
		for (uint64_t a = 0; a < s->mem_size; a += 4096) {
			memset(page, 0, sizeof(page));
			if (a < s->raw_size)
				memcpy(page, t->data + s->data_offset + a,
				       s->raw_size - a < 4096 ? s->raw_size - a : 4096);
			ck_assert_int_eq(emul_tdx_td_page_add(m, td, s->gpa + a, page), 0);
			if (s->attributes & TDVF_ATTR_MR_EXTEND)
				for (uint64_t k = 0; k < 4096; k += 256)
					ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, s->gpa + a + k), 0);
		}
	}
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	uint8_t d[48];
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, d), 0);
	hex_encode(d, 48, out);
	emul_tdx_module_free(m);
}

/* tests/data/tdx/README: `tdvf-synth image SIZE SEED [aug]`, then calculate-tdx-mrs -m 0
 * --qemuversion 9.2.0 (single-pass) and 8.2.2 (two-pass). */
static const struct {
	size_t size;
	uint32_t seed;
	bool aug;
	const char *single, *two;
} vectors[] = {
	{65536, 1, false,
	 "056af36c528515fe64f638dea90dd3165e9db7e68e76a6916a1cb4c5b0717b2a3646df626f124e420b5258e572ad96af",
	 "816360866a011146969774ea2bc5e19c19555160d47fc9a11f1547e18c5455ad99aae499dcb7532a32f777b7d810bb80"},
	{1048576, 7, true,
	 "c1bdb433842874613bcdca3fc6c79f21702d0a0ae3e9ba3cdf75f952cb1e850964bdf4d1e715ae744ef121c34a0f5720",
	 "9b08d19e6e26d4cd3a8d1f07102e8ec5891fb65f3a04affc8c1870bc4e4de3782578425871186872ab1ba8660b0a3a57"},
	{4194304, 42, false,
	 "6d3f6064fe8c355755333e04a87e6403967ef44c7ea1a863327aa756527fc23757e6373473f8158adbb83d9b90f3b0b7",
	 "cda230b77c49dc78e6875b35616d042ab5af87bc6021dfd2c34e6f4c73ac16ad0ae712d4808f2d8269cffc1304c64c17"},
};

START_TEST(synthetic_vectors)
{
	for (size_t v = 0; v < ARRAY_SIZE(vectors); v++) {
		uint8_t *img;
		ck_assert_int_eq(tdvf_synth(vectors[v].size, vectors[v].seed, vectors[v].aug, &img), 0);
		struct tdvf *t = malloc(sizeof(*t));
		char err[256], hex[97], emu[97];
		ck_assert_int_eq(tdvf_parse(img, vectors[v].size, t, err, sizeof(err)), 0);
		ck_assert_uint_eq(t->n, vectors[v].aug ? 5 : 4);
		mrtd_hex(t, TDVF_SINGLE_PASS, hex);
		ck_assert_str_eq(hex, vectors[v].single);
		mrtd_hex(t, TDVF_TWO_PASS, hex);
		ck_assert_str_eq(hex, vectors[v].two);
		emulated_mrtd(t, emu);
		ck_assert_str_eq(emu, vectors[v].single);
		free(t);
		free(img);
	}
}
END_TEST

START_TEST(debian_ovmf)
{
	const char *path = "/usr/share/ovmf/OVMF.fd";
	char *img = NULL;
	size_t n = 0;
	if (read_file_max(path, 64u << 20, &img, &n) < 0) {
		fprintf(stderr, "SKIP debian_ovmf: %s not installed\n", path);
		return;
	}
	uint8_t sha[32];
	char shahex[65];
	SHA256((uint8_t *)img, n, sha);
	hex_encode(sha, 32, shahex);
	if (strcmp(shahex, "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773") != 0) {
		fprintf(stderr, "SKIP debian_ovmf: not the 2022.11-6+deb12u2 OVMF.fd\n");
		free(img);
		return;
	}
	struct tdvf *t = malloc(sizeof(*t));
	char err[256], hex[97], emu[97];
	ck_assert_int_eq(tdvf_parse((uint8_t *)img, n, t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t->n, 6);
	ck_assert_uint_eq(t->s[0].type, TDVF_BFV);
	ck_assert_uint_eq(t->s[0].attributes, TDVF_ATTR_MR_EXTEND);
	mrtd_hex(t, TDVF_SINGLE_PASS, hex);
	ck_assert_str_eq(hex, "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057"
			      "fb887fed0744d5631a212967fb231c47");
	mrtd_hex(t, TDVF_TWO_PASS, hex);
	ck_assert_str_eq(hex, "acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b3"
			      "3db3b32e6924cba830a724eed443f7e1");
	emulated_mrtd(t, emu);
	ck_assert_str_eq(emu, "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057"
			      "fb887fed0744d5631a212967fb231c47");
	free(t);
	free(img);
}
END_TEST

/* ---------------------------------------------------------------- hostile images */

#define HSIZE 65536
#define DESC (HSIZE - 2 * 4096 + 16)
#define SEC(i) (DESC + 16 + 32 * (i))

static int parse_mutated(void (*mut)(uint8_t *), char *err, size_t errlen)
{
	uint8_t *img;
	ck_assert_int_eq(tdvf_synth(HSIZE, 3, true, &img), 0);
	mut(img);
	struct tdvf *t = malloc(sizeof(*t));
	int r = tdvf_parse(img, HSIZE, t, err, errlen);
	if (r < 0)
		ck_assert_uint_eq(t->n, 0); /* nothing half-parsed */
	free(t);
	free(img);
	return r;
}

static void m_none(uint8_t *d) { (void)d; }
static void m_sig(uint8_t *d) { d[DESC] = 'X'; }
static void m_version(uint8_t *d) { put_le32(d + DESC + 8, 2); }
static void m_count_huge(uint8_t *d) { put_le32(d + DESC + 12, 0xffffffffu); }
static void m_count_zero(uint8_t *d) { put_le32(d + DESC + 12, 0); }
static void m_length(uint8_t *d) { put_le32(d + DESC + 4, 16 + 32 * 4); }
static void m_offset_out(uint8_t *d) { put_le32(d + HSIZE - 32 - 18 - 22, HSIZE + 1); }
static void m_footer_size(uint8_t *d) { put_le16(d + HSIZE - 32 - 18, 0xffff); }
static void m_overlap(uint8_t *d) { put_le64(d + SEC(3) + 8, 0x80a000); } /* TempMem over TD_HOB */
static void m_raw_out(uint8_t *d) { put_le32(d + SEC(0), HSIZE - 4096); }
static void m_raw_gt_mem(uint8_t *d) { put_le32(d + SEC(2) + 4, 0x3000); }
static void m_unaligned(uint8_t *d) { put_le64(d + SEC(2) + 8, 0x809800); }
static void m_gpa_wrap(uint8_t *d) { put_le64(d + SEC(3) + 8, 0xfffffffffffff000ull); }
static void m_type(uint8_t *d) { put_le32(d + SEC(1) + 24, 9); }
static void m_attr(uint8_t *d) { put_le32(d + SEC(1) + 28, 4); }
static void m_ext_aug(uint8_t *d) { put_le32(d + SEC(4) + 28, 3); }
static void m_huge_mem(uint8_t *d) { put_le64(d + SEC(3) + 16, 0x80000000ull); }
static void m_no_footer(uint8_t *d) { d[HSIZE - 32 - 16] ^= 1; }

START_TEST(hostile_images)
{
	char err[256];
	static const struct {
		void (*mut)(uint8_t *);
		const char *msg;
	} cases[] = {
		{m_sig, "no 'TDVF' signature"},
		{m_version, "version 2"},
		{m_count_huge, "4294967295 sections"},
		{m_count_zero, "0 sections"},
		{m_length, "length 144"},
		{m_offset_out, "outside the"},
		{m_footer_size, "OVMF table footer"},
		{m_overlap, "overlaps section 2"},
		{m_raw_out, "outside the 65536-byte image"},
		{m_raw_gt_mem, "exceed"},
		{m_unaligned, "not 4 KiB aligned"},
		{m_gpa_wrap, "beyond 2^52"},
		{m_type, "unknown type 9"},
		{m_attr, "unknown attribute bits"},
		{m_ext_aug, "MR.EXTEND of PAGE.AUG"},
		{m_huge_mem, "more than 1024 MiB"},
		{m_no_footer, "not a TDVF image"},
	};
	ck_assert_int_eq(parse_mutated(m_none, err, sizeof(err)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		err[0] = 0;
		ck_assert_int_eq(parse_mutated(cases[i].mut, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].msg), "case %zu: '%s' lacks '%s'", i, err,
			      cases[i].msg);
	}
}
END_TEST

/* Every truncation and every single-byte change of the metadata: errors or a consistent parse. */
START_TEST(truncated_and_flipped)
{
	uint8_t *img;
	ck_assert_int_eq(tdvf_synth(HSIZE, 5, true, &img), 0);
	struct tdvf *t = malloc(sizeof(*t));
	char err[256];
	for (size_t n = 0; n < HSIZE; n += n < HSIZE - 9000 ? 997 : 1) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, img + HSIZE - n, n); /* the tail: the end of the image moves */
		int r = tdvf_parse(cut, n, t, err, sizeof(err));
		ck_assert_int_le(r, 0);
		free(cut);
	}
	for (size_t off = DESC; off < SEC(5); off++)
		for (int bit = 0; bit < 8; bit += 3) {
			img[off] ^= (uint8_t)(1 << bit);
			if (tdvf_parse(img, HSIZE, t, err, sizeof(err)) == 0) {
				uint8_t d[48];
				ck_assert_int_eq(tdvf_mrtd(t, TDVF_TWO_PASS, d, err, sizeof(err)), 0);
			}
			img[off] ^= (uint8_t)(1 << bit);
		}
	free(t);
	free(img);
}
END_TEST

/* ---------------------------------------------------------------- event log */

static void extend(uint8_t mr[48], const uint8_t digest[48])
{
	uint8_t buf[96];
	memcpy(buf, mr, 48);
	memcpy(buf + 48, digest, 48);
	SHA384(buf, 96, mr);
}

START_TEST(rtmr_replay)
{
	for (int two = 0; two < 2; two++) {
		uint8_t *log;
		size_t n;
		ck_assert_int_eq(ccel_synth(10, two, 100, &log, &n), 0);
		struct ccel_log l;
		char err[256];
		ck_assert_int_eq(ccel_replay(log, n, &l, err, sizeof(err)), 0);
		ck_assert_uint_eq(l.n, 11);
		ck_assert_uint_eq(l.used, n - 100);
		uint8_t want[4][48] = {{0}};
		for (unsigned i = 0; i < 10; i++) {
			char data[17];
			snprintf(data, sizeof(data), "event %010u", i);
			uint8_t d[48];
			SHA384((uint8_t *)data, 16, d);
			extend(want[i % 4], d);
			ck_assert_int_eq(l.ev[i + 1].rtmr, (int)(i % 4));
			ck_assert_mem_eq(l.ev[i + 1].digest, d, 48);
		}
		ck_assert_mem_eq(l.rtmr, want, sizeof(want));
		long bad;
		ck_assert_int_eq(ccel_locate(&l, 2, want[2], &bad), CCEL_MATCH);
		/* RTMR1 after its first two events (#2, #6): the log's #10 is extra */
		ck_assert_int_eq(ccel_locate(&l, 1, l.ev[6].rtmr_after, &bad), CCEL_PREFIX);
		ck_assert_int_eq(bad, 10);
		static const uint8_t zero[48];
		ck_assert_int_eq(ccel_locate(&l, 3, zero, &bad), CCEL_PREFIX);
		ck_assert_int_eq(bad, 4);
		uint8_t other[48];
		memset(other, 0x5a, 48);
		ck_assert_int_eq(ccel_locate(&l, 0, other, &bad), CCEL_NO_PREFIX);
		ck_assert_int_eq(bad, 1);
		ccel_log_free(&l);
		/* every truncation: an error or fewer events, never a crash */
		for (size_t k = 0; k < n; k++) {
			int r = ccel_replay(log, k, &l, err, sizeof(err));
			ck_assert_int_le(r, 0);
			ccel_log_free(&l);
		}
		free(log);
	}
}
END_TEST

START_TEST(rtmr_hostile)
{
	uint8_t *log;
	size_t n;
	ck_assert_int_eq(ccel_synth(3, false, 0, &log, &n), 0);
	size_t ev1 = 32 + 28 + 4 + 1; /* the first TCG_PCR_EVENT2 */
	struct ccel_log l;
	char err[256];
	static const struct {
		size_t off;
		uint32_t v;
		const char *msg;
	} cases[] = {
		{4, 1, "not EV_NO_ACTION"},
		{32 + 24, 0, "0 algorithms"},
		{32 + 24, 1000, "1000 algorithms"},
		{32 + 28, 0x000b, "no SHA-384"},
		{28, 1000, "past the log's end"},
		{0, 0, ""}, /* placeholder for the per-event cases below */
	};
	for (size_t i = 0; cases[i].msg[0]; i++) {
		uint8_t *c = malloc(n);
		memcpy(c, log, n);
		if (cases[i].off == 32 + 28)
			put_le16(c + cases[i].off, (uint16_t)cases[i].v);
		else
			put_le32(c + cases[i].off, cases[i].v);
		ck_assert_int_eq(ccel_replay(c, n, &l, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].msg), "'%s' lacks '%s'", err, cases[i].msg);
		ccel_log_free(&l);
		free(c);
	}
	static const struct {
		size_t off;
		uint32_t v;
		const char *msg;
	} evc[] = {
		{0, 0, "MR index 0"},
		{0, 5, "MR index 5"},
		{8, 0, "0 digests"},
		{8, 9, "9 digests"},
		{12, 0x0004, "algorithm 0x0004"},
		{12 + 50, 0xfffffff0u, "truncated"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(evc); i++) {
		uint8_t *c = malloc(n);
		memcpy(c, log, n);
		if (evc[i].off == 12)
			put_le16(c + ev1 + 12, (uint16_t)evc[i].v);
		else
			put_le32(c + ev1 + evc[i].off, evc[i].v);
		ck_assert_int_eq(ccel_replay(c, n, &l, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, evc[i].msg), "'%s' lacks '%s'", err, evc[i].msg);
		ck_assert_ptr_null(l.ev);
		ccel_log_free(&l);
		free(c);
	}
	free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tdx_measure");
	TCase *tc = tcase_create("measure");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, synthetic_vectors);
	tcase_add_test(tc, debian_ovmf);
	tcase_add_test(tc, hostile_images);
	tcase_add_test(tc, truncated_and_flipped);
	tcase_add_test(tc, rtmr_replay);
	tcase_add_test(tc, rtmr_hostile);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
