/* coco/tdx/blob.c and blobgen.c: TDX module blobs v1/v2, SEAM_SIGSTRUCT, MRSEAM, v1 -> v2.
 * The blobs come from tdx_blobgen() with Intel's layouts; the byte positions asserted here are
 * those of intel/tdx-module-binaries blob_join.sh (v1 header, offset_of_module 0x2000) and the
 * kernel's struct tdx_image_header (v2). MRSEAM is recomputed here with OpenSSL directly. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "coco/tdx/blob.h"
#include "coco/tdx/blobgen.h"
#include "tests/check_main.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Re-zero the 16-bit sum after a deliberate edit, so that the check under test is reached. */
static void fix_checksum(uint8_t *b, size_t n)
{
	b[2] = b[3] = 0;
	uint16_t c = (uint16_t)(0x10000u - tdx_blob_sum16(b, n));
	b[2] = (uint8_t)c;
	b[3] = (uint8_t)(c >> 8);
}

static uint8_t *gen(uint16_t ver, size_t *n)
{
	static const uint32_t ids[] = {0x000806f8, 0x000c06f2};
	struct tdx_blobgen_params p = {.blob_version = ver, .major = 1, .minor = 5, .update = 16,
				       .module_pages = 146, .cpuid = ids, .cpuid_count = 2,
				       .seamsvn = 0x0110, .attributes = 0x1, .module_hv = 3,
				       .min_update_hv = 2, .seed = 7};
	uint8_t *b = NULL;
	ck_assert_int_eq(tdx_blobgen(&p, &b, n), 0);
	return b;
}

START_TEST(v1_layout_and_parse)
{
	size_t n;
	uint8_t *b = gen(TDX_BLOB_V1, &n);
	/* blob_join.sh: version 00 01, offset 00 20 00 00, "TDX-BLOB" at 8, length at 16 */
	ck_assert_uint_eq(n, 0x2000 + 146 * 4096);
	ck_assert_uint_eq(rd16(b), 0x100);
	ck_assert_uint_eq(rd32(b + 4), 0x2000);
	ck_assert_mem_eq(b + 8, "TDX-BLOB", 8);
	ck_assert_uint_eq(rd32(b + 16), n);
	ck_assert_uint_eq(tdx_blob_sum16(b, n), 0);
	/* sigstruct at 0x1000: type at +12, CPUID count at +1024, entries from +1028 */
	ck_assert_uint_eq(rd32(b + 0x1000 + 1024), 2);
	ck_assert_uint_eq(rd32(b + 0x1000 + 1028), 0x000806f8);

	struct tdx_blob bl;
	char err[256] = "";
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, err, sizeof(err)), 0);
	ck_assert_uint_eq(bl.version, TDX_BLOB_V1);
	ck_assert_uint_eq(bl.sigstruct_off, 0x1000);
	ck_assert_uint_eq(bl.sigstruct_len, 0x1000);
	ck_assert_uint_eq(bl.module_off, 0x2000);
	ck_assert_uint_eq(bl.module_len, 146 * 4096);
	ck_assert(!bl.sig.debug);
	ck_assert_uint_eq(bl.sig.cpuid_count, 2);
	ck_assert_uint_eq(bl.sig.cpuid[1], 0x000c06f2);
	ck_assert_uint_eq(bl.sig.seamsvn, 0x0110);
	ck_assert_uint_eq(bl.sig.attributes, 1);
	ck_assert_uint_eq(bl.sig.module_hv, 3);
	ck_assert_uint_eq(bl.sig.min_update_hv, 2);

	uint8_t mrseam[48], want[48];
	SHA384(b + 0x2000, 146 * 4096, want);
	ck_assert_int_eq(tdx_blob_verify(b, &bl, mrseam, err, sizeof(err)), 0);
	ck_assert_mem_eq(mrseam, want, 48);
	ck_assert_mem_eq(bl.sig.seamhash, want, 48);

	uint16_t ma, mi, up;
	ck_assert_int_eq(tdx_synth_module_version(b + bl.module_off, bl.module_len, &ma, &mi, &up),
			 0);
	ck_assert_uint_eq(ma, 1);
	ck_assert_uint_eq(mi, 5);
	ck_assert_uint_eq(up, 16);
	free(b);
}
END_TEST

START_TEST(cpu_match_ignores_stepping)
{
	size_t n;
	uint8_t *b = gen(TDX_BLOB_V1, &n);
	struct tdx_blob bl;
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, NULL, 0), 0);
	ck_assert(tdx_sigstruct_supports_cpu(&bl.sig, 0x000806f4)); /* other stepping */
	ck_assert(tdx_sigstruct_supports_cpu(&bl.sig, 0x000c06f1));
	ck_assert(!tdx_sigstruct_supports_cpu(&bl.sig, 0x000a06f8)); /* other model */
	free(b);
}
END_TEST

START_TEST(v1_to_v2)
{
	size_t n, n2;
	uint8_t *b = gen(TDX_BLOB_V1, &n), *v2 = NULL;
	struct tdx_blob bl, bl2;
	char err[256] = "";
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, err, sizeof(err)), 0);
	ck_assert_int_eq(tdx_blob_to_v2(b, &bl, &v2, &n2, err, sizeof(err)), 0);
	/* Only the 4 KiB header changes. */
	ck_assert_uint_eq(n2, n);
	ck_assert_mem_eq(v2 + 4096, b + 4096, n - 4096);
	/* struct tdx_image_header: version, checksum, signature, sigstruct/module page counts */
	ck_assert_uint_eq(rd16(v2), 0x200);
	ck_assert_mem_eq(v2 + 4, "TDX-BLOB", 8);
	ck_assert_uint_eq(rd32(v2 + 12), 1);
	ck_assert_uint_eq(rd32(v2 + 16), 146);
	for (size_t i = 20; i < 4096; i++)
		ck_assert_uint_eq(v2[i], 0);
	ck_assert_uint_eq(tdx_blob_sum16(v2, n2), 0);
	ck_assert_int_eq(tdx_blob_parse(v2, n2, &bl2, err, sizeof(err)), 0);
	ck_assert_uint_eq(bl2.version, TDX_BLOB_V2);
	ck_assert_uint_eq(bl2.module_off, bl.module_off);
	ck_assert_uint_eq(bl2.module_len, bl.module_len);
	ck_assert_mem_eq(bl2.sig.seamhash, bl.sig.seamhash, 48);
	ck_assert_int_eq(tdx_blob_verify(v2, &bl2, NULL, err, sizeof(err)), 0);
	/* v2 -> v2 is a copy; the generator's v2 is the same image. */
	uint8_t *again = NULL, *g2 = NULL;
	size_t na, ng;
	ck_assert_int_eq(tdx_blob_to_v2(v2, &bl2, &again, &na, err, sizeof(err)), 0);
	ck_assert_uint_eq(na, n2);
	ck_assert_mem_eq(again, v2, n2);
	g2 = gen(TDX_BLOB_V2, &ng);
	ck_assert_uint_eq(ng, n2);
	ck_assert_mem_eq(g2, v2, n2);
	free(g2);
	free(again);
	free(v2);
	free(b);
}
END_TEST

START_TEST(v1_extra_pages_convert)
{
	struct tdx_blobgen_params p = {.major = 2, .minor = 0, .update = 8, .module_pages = 10,
				       .extra_sig_pages = 2};
	uint8_t *b = NULL, *v2 = NULL;
	size_t n, n2;
	ck_assert_int_eq(tdx_blobgen(&p, &b, &n), 0);
	ck_assert_uint_eq(rd32(b + 4), 0x2000 + 2 * 4096);
	struct tdx_blob bl;
	char err[256];
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, err, sizeof(err)), 0);
	ck_assert_int_eq(tdx_blob_to_v2(b, &bl, &v2, &n2, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd32(v2 + 12), 3);
	ck_assert_uint_eq(rd32(v2 + 16), 10);
	free(v2);
	free(b);
}
END_TEST

/* One hostile edit per case: the expected errno and a word of the reason. */
static void expect_refusal(uint8_t *b, size_t n, int want, const char *word)
{
	struct tdx_blob bl;
	memset(&bl, 0xa5, sizeof(bl));
	struct tdx_blob before = bl;
	char err[256] = "";
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, err, sizeof(err)), want);
	ck_assert_msg(strstr(err, word), "reason \"%s\" lacks \"%s\"", err, word);
	ck_assert_mem_eq(&bl, &before, sizeof(bl)); /* ret untouched */
}

START_TEST(hostile)
{
	size_t n;
	uint8_t *b = gen(TDX_BLOB_V1, &n);
	uint8_t *c = malloc(n);

	expect_refusal(b, 100, -EINVAL, "shorter");
	expect_refusal(b, 4096, -EINVAL, "shorter");

	memcpy(c, b, n);
	c[8] = 'X';
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "signature");

	memcpy(c, b, n);
	expect_refusal(c, n - 4096, -EINVAL, "length"); /* truncated: length field disagrees */

	memcpy(c, b, n);
	wr32(c + 4, (uint32_t)n); /* offset_of_module at the end */
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "past the end");
	wr32(c + 4, 0xfffff000u);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "past the end");
	wr32(c + 4, 0x2100);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "multiple of 4 KiB");
	wr32(c + 4, 0x1000); /* no room for the sigstruct */
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "8 KiB");

	memcpy(c, b, n);
	wr32(c + 0x1000 + 1024, 256);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "CPUID table count");
	wr32(c + 0x1000 + 1024, 0xffffffffu);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "CPUID table count");

	memcpy(c, b, n);
	c[0x3000] ^= 1;
	expect_refusal(c, n, -EBADMSG, "checksum");

	memcpy(c, b, n);
	c[0] = 0x00;
	c[1] = 0x03;
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "version");

	memcpy(c, b, n);
	c[0x100] = 1;
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "reserved");

	memcpy(c, b, n);
	wr32(c + 0x1000, 7); /* header_type */
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "header_type");

	/* A module byte changed and the checksum fixed: only the seamhash catches it. */
	memcpy(c, b, n);
	c[0x2000 + 500] ^= 0xff;
	fix_checksum(c, n);
	struct tdx_blob bl;
	char err[256] = "";
	ck_assert_int_eq(tdx_blob_parse(c, n, &bl, err, sizeof(err)), 0);
	uint8_t md[48];
	memset(md, 0x5a, sizeof(md));
	ck_assert_int_eq(tdx_blob_verify(c, &bl, md, err, sizeof(err)), -EBADMSG);
	ck_assert(strstr(err, "seamhash"));
	for (int i = 0; i < 48; i++)
		ck_assert_uint_eq(md[i], 0x5a);

	free(c);
	free(b);
}
END_TEST

START_TEST(hostile_v2)
{
	size_t n;
	uint8_t *b = gen(TDX_BLOB_V2, &n);
	uint8_t *c = malloc(n);
	memcpy(c, b, n);
	wr32(c + 16, 147); /* size disagrees with the page counts */
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "header says");
	wr32(c + 16, 497);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "module pages");
	memcpy(c, b, n);
	wr32(c + 12, 5);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "sigstruct pages");
	wr32(c + 12, 0);
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "sigstruct pages");
	memcpy(c, b, n);
	c[4] = 'x';
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "signature");
	memcpy(c, b, n);
	c[4095] = 1;
	fix_checksum(c, n);
	expect_refusal(c, n, -EINVAL, "reserved");
	free(c);
	free(b);
}
END_TEST

START_TEST(sum16_odd)
{
	const uint8_t d[] = {0x01, 0x02, 0xff, 0xff, 0x05};
	/* 0x0201 + 0xffff + 0x05 = 0x10205 -> 0x0205 */
	ck_assert_uint_eq(tdx_blob_sum16(d, sizeof(d)), 0x0205);
	ck_assert_uint_eq(tdx_blob_sum16(d, 0), 0);
}
END_TEST

START_TEST(debug_bit_and_generator_limits)
{
	struct tdx_blobgen_params p = {.major = 1, .minor = 5, .update = 6, .debug = true,
				       .module_pages = 4};
	uint8_t *b = NULL;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(&p, &b, &n), 0);
	ck_assert_uint_eq(rd32(b + 0x1000 + 12), 0x80000000u);
	struct tdx_blob bl;
	ck_assert_int_eq(tdx_blob_parse(b, n, &bl, NULL, 0), 0);
	ck_assert(bl.sig.debug);
	free(b);
	p.blob_version = 0x300;
	ck_assert_int_eq(tdx_blobgen(&p, &b, &n), -EINVAL);
	uint16_t x;
	const uint8_t junk[32] = {0};
	ck_assert_int_eq(tdx_synth_module_version(junk, sizeof(junk), &x, &x, &x), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tdx_blob");
	TCase *tc = tcase_create("blob");
	tcase_add_test(tc, v1_layout_and_parse);
	tcase_add_test(tc, cpu_match_ignores_stepping);
	tcase_add_test(tc, v1_to_v2);
	tcase_add_test(tc, v1_extra_pages_convert);
	tcase_add_test(tc, hostile);
	tcase_add_test(tc, hostile_v2);
	tcase_add_test(tc, sum16_odd);
	tcase_add_test(tc, debug_bit_and_generator_limits);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
