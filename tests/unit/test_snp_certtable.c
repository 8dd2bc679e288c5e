/* coco/snp/certtable: the GHCB certificate table (GHCB spec 2.03, 4.1.8.1).
 * Known answer: the header of a real table AWS returned with a VLEK extended report, quoted by
 * derpsteb in google/go-sev-guest PR #67 ("Add support for validating VLEK certificates",
 * comment of 2023-08-07): VLEK GUID in RFC 4122 byte order, offset 0x30, length 0x530, the
 * all-zero terminator, then the VLEK's DER (30 82 05 2c: 4 + 0x52c = 0x530 bytes). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "coco/snp/certtable.h"
#include "coco/util.h"
#include "tests/check_main.h"

/* clang-format off */
static const uint8_t aws_header[52] = {
	/* a8074bc2-a25a-483e-aae6-39c045a0b8a1 (VLEK), big-endian */
	0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1,
	0x30, 0x00, 0x00, 0x00, /* offset 0x30 */
	0x30, 0x05, 0x00, 0x00, /* length 0x530 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* terminator */
	0x30, 0x82, 0x05, 0x2c, /* the VLEK certificate's DER SEQUENCE header */
};
/* clang-format on */

static uint8_t *aws_table(size_t *len)
{
	*len = 0x30 + 0x530;
	uint8_t *b = calloc(1, *len);
	ck_assert_ptr_nonnull(b);
	memcpy(b, aws_header, sizeof(aws_header));
	for (size_t i = sizeof(aws_header); i < *len; i++)
		b[i] = (uint8_t)(i * 7);
	return b;
}

START_TEST(aws_known_answer)
{
	size_t len;
	_cleanup_free_ uint8_t *b = aws_table(&len);
	struct snp_cert_entry e[4];
	size_t n = 99;
	char err[256] = "";
	ck_assert_int_eq(snp_cert_table_decode(b, len, e, 4, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e[0].kind, SNP_CERT_VLEK);
	ck_assert_ptr_eq(e[0].data, b + 0x30);
	ck_assert_uint_eq(e[0].len, 0x530);
	ck_assert_str_eq(snp_cert_kind_name(e[0].kind), "vlek");

	/* Our encoder writes the same header byte for byte. */
	struct snp_cert_entry in = {.kind = SNP_CERT_VLEK, .data = b + 0x30, .len = 0x530};
	_cleanup_free_ uint8_t *enc = NULL;
	size_t elen = 0;
	ck_assert_int_eq(snp_cert_table_encode(&in, 1, &enc, &elen), 0);
	ck_assert_uint_eq(elen, len);
	ck_assert_mem_eq(enc, b, len);

	/* The EFI (COCO_GUID) byte order of the same GUID is not the VLEK. */
	struct coco_guid efi =
	    COCO_GUID(0xa8074bc2, 0xa25a, 0x483e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1);
	ck_assert_int_eq(snp_cert_kind_of(&efi), SNP_CERT_OTHER);
}
END_TEST

START_TEST(guids)
{
	/* GHCB spec 2.03 GUID list, written as canonical strings, compared as RFC 4122 bytes. */
	static const struct {
		enum snp_cert_kind k;
		const char *s;
	} v[] = {
	    {SNP_CERT_ARK, "c0b406a4a803495297433fb6014cd0ae"},
	    {SNP_CERT_ASK, "4ab7b379bbac4fe4a02f05aef327c782"},
	    {SNP_CERT_VCEK, "63da758de6644564adc5f4b93be8accd"},
	    {SNP_CERT_VLEK, "a8074bc2a25a483eaae639c045a0b8a1"},
	    {SNP_CERT_CRL, "92f81bc358114d3d97ffd19f88dc67ea"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct coco_guid g = snp_cert_kind_guid(v[i].k);
		char hex[33];
		hex_encode(g.b, 16, hex);
		ck_assert_str_eq(hex, v[i].s);
		ck_assert_int_eq(snp_cert_kind_of(&g), v[i].k);
	}
	struct coco_guid zero = {{0}};
	ck_assert_int_eq(snp_cert_kind_of(&zero), SNP_CERT_OTHER);
	ck_assert_str_eq(snp_cert_kind_name(SNP_CERT_ARK), "ark");
	ck_assert_str_eq(snp_cert_kind_name(SNP_CERT_CRL), "crl");
}
END_TEST

static const uint8_t d_ark[] = {1, 2, 3}, d_ask[] = {4, 5}, d_vcek[] = {6, 7, 8, 9}, d_oth[] = {10};

START_TEST(roundtrip)
{
	struct snp_cert_entry in[4] = {
	    {.kind = SNP_CERT_ARK, .data = d_ark, .len = sizeof(d_ark)},
	    {.kind = SNP_CERT_ASK, .data = d_ask, .len = sizeof(d_ask)},
	    {.kind = SNP_CERT_VCEK, .data = d_vcek, .len = sizeof(d_vcek)},
	    {.kind = SNP_CERT_OTHER,
	     .guid = {{0xec, 0xae, 0x0c, 0x0f, 0x95, 0x02, 0x43, 0xb1, 0xaf, 0xa2, 0x0a, 0xe2, 0xe0,
		       0xd5, 0x65, 0xb6}},
	     .data = d_oth,
	     .len = sizeof(d_oth)},
	};
	_cleanup_free_ uint8_t *b = NULL;
	size_t len;
	ck_assert_int_eq(snp_cert_table_encode(in, 4, &b, &len), 0);
	ck_assert_uint_eq(len, 5 * 24 + 3 + 2 + 4 + 1);
	/* Entry 0: ARK GUID, offset 120, length 3; entry 1 at offset 123. */
	ck_assert_uint_eq(b[0], 0xc0);
	ck_assert_uint_eq(b[16], 120);
	ck_assert_uint_eq(b[20], 3);
	ck_assert_uint_eq(b[24 + 16], 123);
	struct snp_cert_entry out[4];
	size_t n;
	ck_assert_int_eq(snp_cert_table_decode(b, len, out, 4, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(out[i].kind, in[i].kind);
		ck_assert_uint_eq(out[i].len, in[i].len);
		ck_assert_mem_eq(out[i].data, in[i].data, in[i].len);
	}
	ck_assert_mem_eq(out[3].guid.b, in[3].guid.b, 16);

	/* Too small an output array: -ENOSPC, outputs untouched. */
	size_t n2 = 77;
	ck_assert_int_eq(snp_cert_table_decode(b, len, out, 3, &n2, NULL, 0), -ENOSPC);
	ck_assert_uint_eq(n2, 77);

	/* A bare terminator is a valid empty table (what KVM needs at the least). */
	uint8_t term[24] = {0};
	ck_assert_int_eq(snp_cert_table_decode(term, 24, NULL, 0, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(encode_refuses)
{
	struct snp_cert_entry e[2] = {
	    {.kind = SNP_CERT_ARK, .data = d_ark, .len = sizeof(d_ark)},
	    {.kind = SNP_CERT_ARK, .data = d_ask, .len = sizeof(d_ask)},
	};
	uint8_t *b = (uint8_t *)0x1;
	size_t len = 5;
	ck_assert_int_eq(snp_cert_table_encode(e, 0, &b, &len), -EINVAL);
	ck_assert_int_eq(snp_cert_table_encode(e, 2, &b, &len), -EINVAL); /* duplicate */
	e[1].kind = SNP_CERT_OTHER;					  /* zero GUID */
	ck_assert_int_eq(snp_cert_table_encode(e, 2, &b, &len), -EINVAL);
	e[1].kind = SNP_CERT_ASK;
	e[1].len = 0;
	ck_assert_int_eq(snp_cert_table_encode(e, 2, &b, &len), -EINVAL);
	e[1].len = SNP_CERT_TABLE_MAX_SIZE;
	ck_assert_int_eq(snp_cert_table_encode(e, 2, &b, &len), -EINVAL);
	ck_assert_int_eq(snp_cert_table_encode(e, SNP_CERT_TABLE_MAX_ENTRIES + 1, &b, &len),
			 -EINVAL);
	ck_assert_ptr_eq(b, (uint8_t *)0x1);
	ck_assert_uint_eq(len, 5);
}
END_TEST

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A table of two entries (ARK, ASK) of 4 bytes each, in 56 bytes: 72 table + 8 data. */
static void two(uint8_t b[80])
{
	memset(b, 0, 80);
	struct coco_guid ark = snp_cert_kind_guid(SNP_CERT_ARK),
			 ask = snp_cert_kind_guid(SNP_CERT_ASK);
	memcpy(b, ark.b, 16);
	put32(b + 16, 72);
	put32(b + 20, 4);
	memcpy(b + 24, ask.b, 16);
	put32(b + 40, 76);
	put32(b + 44, 4);
	memset(b + 72, 0xee, 8);
}

static void expect_bad(const uint8_t *b, size_t len, const char *needle)
{
	struct snp_cert_entry out[SNP_CERT_TABLE_MAX_ENTRIES];
	size_t n = 1234;
	char err[256] = "";
	out[0].len = 4321;
	int r = snp_cert_table_decode(b, len, out, ARRAY_SIZE(out), &n, err, sizeof(err));
	ck_assert_msg(r == -EBADMSG, "want -EBADMSG, got %d (%s)", r, err);
	ck_assert_msg(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
	ck_assert_uint_eq(n, 1234);
	ck_assert_uint_eq(out[0].len, 4321);
}

START_TEST(hostile)
{
	uint8_t b[80];
	size_t n;
	two(b);
	ck_assert_int_eq(snp_cert_table_decode(b, 80, NULL, 0, &n, NULL, 0), -ENOSPC);

	expect_bad(b, 0, "terminat");
	expect_bad(b, 23, "terminat");
	expect_bad(b, 47, "terminat"); /* cut inside the terminator */
	two(b);
	expect_bad(b, 79, "beyond"); /* last data byte cut off */

	two(b); /* no terminator: third entry nonzero */
	memcpy(b + 48, snp_cert_kind_guid(SNP_CERT_VCEK).b, 16);
	expect_bad(b, 80, "terminat");

	two(b); /* zero GUID with a length: not a terminator */
	b[48 + 20] = 1;
	expect_bad(b, 80, "zero GUID");

	two(b); /* data inside the entry array */
	put32(b + 16, 48);
	expect_bad(b, 80, "overlaps the entry array");
	put32(b + 16, 0);
	expect_bad(b, 80, "overlaps the entry array");

	two(b); /* duplicate GUID */
	memcpy(b + 24, b, 16);
	expect_bad(b, 80, "same GUID");

	two(b); /* overlapping data */
	put32(b + 40, 74);
	expect_bad(b, 80, "overlap");

	two(b); /* empty entry */
	put32(b + 44, 0);
	expect_bad(b, 80, "empty");

	two(b); /* 32-bit wrap: offset + length = 2^32 + 72 */
	put32(b + 16, 0xfffffff0);
	put32(b + 20, 0x58);
	expect_bad(b, 80, "beyond");
	two(b);
	put32(b + 44, 0xffffffff);
	expect_bad(b, 80, "beyond");

	/* Too many entries: 65 distinct GUIDs. */
	size_t big = (SNP_CERT_TABLE_MAX_ENTRIES + 2) * 24 + 65;
	_cleanup_free_ uint8_t *m = calloc(1, big);
	for (size_t i = 0; i <= SNP_CERT_TABLE_MAX_ENTRIES; i++) {
		m[i * 24] = (uint8_t)(i + 1);
		put32(m + i * 24 + 16, (uint32_t)((SNP_CERT_TABLE_MAX_ENTRIES + 2) * 24 + i));
		put32(m + i * 24 + 20, 1);
	}
	expect_bad(m, big, "more than 64 entries");
	/* 64 entries are fine. */
	memset(m + SNP_CERT_TABLE_MAX_ENTRIES * 24, 0, 24);
	for (size_t i = 0; i < SNP_CERT_TABLE_MAX_ENTRIES; i++)
		put32(m + i * 24 + 16, (uint32_t)((SNP_CERT_TABLE_MAX_ENTRIES + 1) * 24 + i));
	struct snp_cert_entry out[SNP_CERT_TABLE_MAX_ENTRIES];
	char err[256] = "";
	ck_assert_msg(snp_cert_table_decode(m, big, out, ARRAY_SIZE(out), &n, err, sizeof(err)) ==
			  0,
		      "%s", err);
	ck_assert_uint_eq(n, SNP_CERT_TABLE_MAX_ENTRIES);

	/* Over the size limit. */
	_cleanup_free_ uint8_t *huge = calloc(1, SNP_CERT_TABLE_MAX_SIZE + 1);
	expect_bad(huge, SNP_CERT_TABLE_MAX_SIZE + 1, "limit");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snp-certtable");
	TCase *tc = tcase_create("certtable");
	tcase_add_test(tc, aws_known_answer);
	tcase_add_test(tc, guids);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, encode_refuses);
	tcase_add_test(tc, hostile);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
