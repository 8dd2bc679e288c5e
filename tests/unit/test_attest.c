/* attest/: SEV-SNP report parsing and verification, TDREPORT and quote parsing. Vectors: the
 * three real reports (Milan v2, Genoa v5, Turin v5) with their VCEKs and AMD's ARK/ASK
 * (tests/data/snp, see its README); reports signed by the emulated PSP (hv/emul/psp.h) under
 * the emulated ARK; TDREPORTs from the emulated TDX module (hv/emul/tdx_module.h); quotes built
 * here in the DCAP layout around a TDREPORT's values. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/x509.h>

#include "attest/chaincache.h"
#include "attest/snp_verify.h"
#include "attest/tdx_report.h"
#include "coco/endian.h"
#include "coco/snp/amdcert.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/emul/psp.h"
#include "hv/emul/tdx_module.h"
#include "tests/check_main.h"
#include "tests/pki_cache.h"

#include "tests/amd_vectors.h"

struct real {
	uint8_t *report;
	size_t len;
	X509 *ark, *ask, *vcek;
};

static struct real load_real(enum snp_product p)
{
	struct real r;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/report.bin", REPORTS, lower[p]);
	r.report = slurp(path, &r.len);
	r.ark = load(AMD, p, "ark.pem");
	r.ask = load(AMD, p, "ask.pem");
	r.vcek = load(REPORTS, p, "vcek.der");
	return r;
}

static void free_real(struct real *r)
{
	free(r->report);
	X509_free(r->ark);
	X509_free(r->ask);
	X509_free(r->vcek);
}

static void verify(const struct real *r, const uint8_t *rep, X509 *ark, X509 *ask, X509 *vcek,
		   struct snp_chain_cache *cache, struct attest_result *res)
{
	struct snp_verify_input in = {.report = rep, .report_len = r->len, .ark = ark, .ask = ask,
				      .vek = vcek, .now = NOW, .cache = cache};
	snp_verify(&in, res);
}

static enum attest_status status_of(const struct attest_result *res, const char *name)
{
	const struct attest_check *c = attest_find(res, name);
	ck_assert_msg(c, "no check %s", name);
	return c->status;
}

static void dump(const struct attest_result *res)
{
	json_object *j = attest_result_json(res);
	fprintf(stderr, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
	json_object_put(j);
}

START_TEST(real_reports_verify)
{
	struct snp_chain_cache *cache = snp_chain_cache_new(8);
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		struct real r = load_real(p);
		struct snp_report rep;
		char err[256] = "";
		ck_assert_msg(snp_report_parse(r.report, r.len, &rep, err, sizeof(err)) == 0, "%s",
			      err);
		ck_assert_uint_eq(rep.version, p == SNP_PRODUCT_MILAN ? 2 : 5);
		ck_assert_int_eq(snp_report_product(&rep),
				 p == SNP_PRODUCT_MILAN ? SNP_PRODUCT_UNKNOWN : p);
		for (int pass = 0; pass < 2; pass++) { /* cold, then from the cache */
			struct attest_result res;
			verify(&r, r.report, r.ark, r.ask, r.vcek, cache, &res);
			if (!attest_ok(&res))
				dump(&res);
			ck_assert_msg(attest_ok(&res), "%s pass %d", lower[p], pass);
			ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_PASSED);
			ck_assert_int_eq(status_of(&res, "vek.hwid"), ATTEST_PASSED);
			ck_assert_int_eq(status_of(&res, "vek.tcb"), ATTEST_PASSED);
			ck_assert_int_eq(status_of(&res, "chain.vek"), ATTEST_PASSED);
			ck_assert_int_eq(status_of(&res, "policy.measurement"), ATTEST_SKIPPED);
			const struct attest_check *pc = attest_find(&res, "product");
			ck_assert_str_eq(pc->actual, snp_product_name(p));
		}
		/* Policy: the report's own measurement passes, another fails with both values. */
		struct snp_verify_policy pol = {.has_measurement = true, .forbid_debug = true,
						.has_vmpl = true, .vmpl = rep.vmpl};
		memcpy(pol.measurement, rep.measurement, 48);
		struct snp_verify_input in = {.report = r.report, .report_len = r.len, .ark = r.ark,
					      .ask = r.ask, .vek = r.vcek, .now = NOW,
					      .policy = &pol, .cache = cache};
		struct attest_result res;
		snp_verify(&in, &res);
		ck_assert(attest_ok(&res));
		ck_assert_int_eq(status_of(&res, "policy.measurement"), ATTEST_PASSED);
		pol.measurement[47] ^= 1;
		pol.has_min_tcb = true;
		pol.min_tcb.snp = 255;
		snp_verify(&in, &res);
		ck_assert(!attest_ok(&res));
		ck_assert_str_eq(attest_first_failure(&res)->name, "policy.measurement");
		ck_assert_int_eq(status_of(&res, "policy.min_tcb.snp"), ATTEST_FAILED);
		ck_assert_int_eq(status_of(&res, "policy.min_tcb.bootloader"), ATTEST_PASSED);
		ck_assert_str_eq(attest_find(&res, "policy.min_tcb.snp")->expected, ">= 255");
		char hexm[97];
		hex_encode(rep.measurement, 48, hexm);
		ck_assert_str_eq(attest_find(&res, "policy.measurement")->actual, hexm);
		free_real(&r);
	}
	uint64_t hits, misses;
	size_t n;
	snp_chain_cache_stats(cache, &hits, &misses, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(misses, 3);
	ck_assert_uint_eq(hits, 9);
	snp_chain_cache_free(cache);
}
END_TEST

static bool in_reserved(uint32_t version, size_t o)
{
	if (o >= 0x4c && o <= 0x4f)
		return true;
	if (o == 0x48 || o == 0x49 || o == 0x4a || o == 0x4b)
		return false; /* KEY_INFO: bits 31:5 are checked; which bit flips decides */
	if (o >= (version >= 3 ? 0x18b : 0x188) && o <= 0x19f)
		return true;
	if (o == 0x1eb || o == 0x1ef)
		return true;
	if (o >= (version >= 5 ? 0x208 : 0x1f8) && o <= 0x29f)
		return true;
	return o >= 0x330;
}

/* Every field boundary of the report (first and last byte of each field), plus a stride. */
static const uint16_t boundaries[] = {
    0x000, 0x003, 0x004, 0x007, 0x008, 0x00f, 0x010, 0x01f, 0x020, 0x02f, 0x030, 0x033,
    0x034, 0x037, 0x038, 0x03f, 0x040, 0x047, 0x048, 0x04c, 0x04f, 0x050, 0x08f, 0x090,
    0x0bf, 0x0c0, 0x0df, 0x0e0, 0x10f, 0x110, 0x13f, 0x140, 0x15f, 0x160, 0x17f, 0x180,
    0x187, 0x188, 0x189, 0x18a, 0x18b, 0x19f, 0x1a0, 0x1df, 0x1e0, 0x1e7, 0x1e8, 0x1ea,
    0x1eb, 0x1ec, 0x1ee, 0x1ef, 0x1f0, 0x1f7, 0x1f8, 0x1ff, 0x200, 0x207, 0x208, 0x29f,
    0x2a0, 0x2cf, 0x2d0, 0x2e7, 0x2e8, 0x317, 0x318, 0x32f, 0x330, 0x49f};

START_TEST(flipped_report_bytes_fail)
{
	struct snp_chain_cache *cache = snp_chain_cache_new(8);
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		struct real r = load_real(p);
		uint32_t version = get_le32(r.report);
		uint8_t bad[SNP_REPORT_SIZE];
		size_t tried = 0;
		for (size_t i = 0; i < ARRAY_SIZE(boundaries) + SNP_REPORT_SIZE / 7; i++) {
			size_t o = i < ARRAY_SIZE(boundaries)
				       ? boundaries[i]
				       : (i - ARRAY_SIZE(boundaries)) * 7 + 3;
			for (int bit = 0; bit < 8; bit += 7) {
				memcpy(bad, r.report, sizeof(bad));
				bad[o] ^= (uint8_t)(1u << bit);
				struct attest_result res;
				verify(&r, bad, r.ark, r.ask, r.vcek, cache, &res);
				ck_assert_msg(!attest_ok(&res), "%s: flip at 0x%03zx verified",
					      lower[p], o);
				bool rsvd = in_reserved(version, o) ||
					    (o == 0x48 && bit == 7) || o == 0x49 || o == 0x4a ||
					    o == 0x4b;
				const char *want = rsvd ? "report.format" : "report.signature";
				if (o < 4 && status_of(&res, "report.format") == ATTEST_FAILED)
					want = "report.format"; /* VERSION now unknown */
				ck_assert_msg(status_of(&res, want) == ATTEST_FAILED,
					      "%s: flip at 0x%03zx bit %d: %s not failed (first %s)",
					      lower[p], o, bit, want,
					      attest_first_failure(&res)->name);
				tried++;
			}
		}
		ck_assert_uint_gt(tried, 400);
		free_real(&r);
	}
	snp_chain_cache_free(cache);
}
END_TEST

/* Flip one byte of a certificate's DER: either it no longer parses, or its check fails. */
START_TEST(flipped_cert_bytes_fail)
{
	struct snp_chain_cache *cache = snp_chain_cache_new(8);
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		struct real r = load_real(p);
		struct attest_result res;
		verify(&r, r.report, r.ark, r.ask, r.vcek, cache, &res); /* warm the cache */
		ck_assert(attest_ok(&res));
		X509 *certs[] = {r.ark, r.ask, r.vcek};
		static const char *const check[] = {"chain.ark", "chain.ask", "chain.vek"};
		for (int c = 0; c < 3; c++) {
			unsigned char *der = NULL;
			int len = i2d_X509(certs[c], &der);
			ck_assert_int_gt(len, 0);
			size_t parsed = 0;
			for (int o = 0; o < len; o += (o < 16 || o > len - 16) ? 1 : 13) {
				der[o] ^= 0x01;
				X509 *bad = NULL;
				if (amd_cert_parse(der, (size_t)len, &bad, NULL, 0) == 0) {
					X509 *set[3] = {r.ark, r.ask, r.vcek};
					set[c] = bad;
					verify(&r, r.report, set[0], set[1], set[2], cache, &res);
					ck_assert_msg(!attest_ok(&res), "%s %s: flip at %d verified",
						      lower[p], check[c], o);
					const struct attest_check *f = attest_first_failure(&res);
					bool named = status_of(&res, check[c]) == ATTEST_FAILED ||
						     (c == 2 && strncmp(f->name, "vek.", 4) == 0);
					ck_assert_msg(named, "%s: flip at %d: first failure %s: %s",
						      check[c], o, f->name, f->detail);
					X509_free(bad);
					parsed++;
				}
				der[o] ^= 0x01;
			}
			ck_assert_uint_gt(parsed, 20);
			OPENSSL_free(der);
		}
		free_real(&r);
	}
	snp_chain_cache_free(cache);
}
END_TEST

START_TEST(milan_report_genoa_chain)
{
	struct real m = load_real(SNP_PRODUCT_MILAN), g = load_real(SNP_PRODUCT_GENOA);
	struct attest_result res;
	verify(&m, m.report, g.ark, g.ask, m.vcek, NULL, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "chain.ark"), ATTEST_FAILED);
	ck_assert_ptr_nonnull(strstr(attest_find(&res, "chain.ark")->detail, "Genoa root"));
	/* Milan report with the Genoa VCEK too: the signature and the hwID fail. */
	verify(&m, m.report, g.ark, g.ask, g.vcek, NULL, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_FAILED);
	/* Said to be Genoa: the chain is Genoa's, but the VCEK is not. */
	struct snp_verify_input in = {.report = m.report, .report_len = m.len,
				      .product = SNP_PRODUCT_GENOA, .ark = g.ark, .ask = g.ask,
				      .vek = m.vcek, .now = NOW};
	snp_verify(&in, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "chain.vek"), ATTEST_FAILED);
	ck_assert_int_eq(status_of(&res, "vek.product"), ATTEST_FAILED);
	/* A Genoa report said to be Milan: its CPUID disagrees. */
	in = (struct snp_verify_input){.report = g.report, .report_len = g.len,
				       .product = SNP_PRODUCT_MILAN, .ark = m.ark, .ask = m.ask,
				       .vek = g.vcek, .now = NOW};
	snp_verify(&in, &res);
	ck_assert_int_eq(status_of(&res, "product"), ATTEST_FAILED);
	/* Expired chain; missing VEK. */
	verify(&g, g.report, g.ark, g.ask, g.vcek, NULL, &res);
	ck_assert(attest_ok(&res));
	in = (struct snp_verify_input){.report = g.report, .report_len = g.len, .ark = g.ark,
				       .ask = g.ask, .vek = g.vcek, .now = 2500000000};
	snp_verify(&in, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(strncmp(attest_first_failure(&res)->name, "chain.", 6), 0);
	ck_assert_ptr_nonnull(strstr(attest_first_failure(&res)->detail, "expired"));
	in.vek = NULL;
	in.now = NOW;
	snp_verify(&in, &res);
	ck_assert_int_eq(status_of(&res, "vek.extensions"), ATTEST_FAILED);
	free_real(&m);
	free_real(&g);
}
END_TEST

START_TEST(hostile_reports)
{
	uint8_t buf[SNP_REPORT_SIZE + 1] = {0};
	struct snp_report rep;
	char err[256];
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE - 1, &rep, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE + 1, &rep, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_int_eq(snp_report_parse(NULL, SNP_REPORT_SIZE, &rep, err, sizeof(err)),
			 -EBADMSG);
	for (uint32_t v = 0; v < 8; v++) {
		put_le32(buf, v);
		int want = v == 2 || v == 3 || v == 5 ? 0 : -EBADMSG;
		ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE, &rep, err, sizeof(err)), want);
	}
	/* v3 uses 0x188-0x18A (CPUID), v2 does not. */
	put_le32(buf, 3);
	buf[0x188] = 0x19;
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE, &rep, err, sizeof(err)), 0);
	ck_assert_uint_eq(rep.cpuid_fam_id, 0x19);
	put_le32(buf, 2);
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE, &rep, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "0x188"));
	/* v5 uses 0x1F8-0x207 (mitigation vectors), v3 does not. */
	buf[0x188] = 0;
	put_le32(buf, 5);
	buf[0x200] = 1;
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE, &rep, err, sizeof(err)), 0);
	ck_assert_uint_eq(rep.current_mit_vector, 1);
	put_le32(buf, 3);
	ck_assert_int_eq(snp_report_parse(buf, SNP_REPORT_SIZE, &rep, err, sizeof(err)), -EBADMSG);
	/* All-zero v5 report through the verifier: no VEK, nothing passes that should not. */
	buf[0x200] = 0;
	put_le32(buf, 5);
	struct snp_verify_input in = {.report = buf, .report_len = SNP_REPORT_SIZE,
				      .product = SNP_PRODUCT_GENOA, .now = NOW};
	struct attest_result res;
	snp_verify(&in, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "report.signature_algo"), ATTEST_FAILED);
	ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_SKIPPED);
	json_object *j = attest_result_json(&res);
	ck_assert(!json_object_get_boolean(json_object_object_get(j, "verified")));
	json_object_put(j);
}
END_TEST

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

START_TEST(emulated_reports)
{
	char state_dir[] = "/tmp/test-attest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	share_emulated_pki(state_dir);
	struct emul_psp *psp = NULL;
	struct emul_psp_config cfg = {.state_dir = state_dir, .product = SNP_PRODUCT_GENOA};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	uint32_t h, fw;
	uint8_t rep[EMUL_SNP_REPORT_SIZE], rd[64] = {1, 2, 3};
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000, NULL, &h, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, NULL, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, rd, 0, rep, &fw), 0);
	uint8_t chip[64];
	emul_psp_chip_id(psp, chip);
	struct emul_amd_pki *pki = emul_psp_pki(psp);
	X509 *vcek = NULL, *ark = emul_amd_pki_ark(pki), *ask = emul_amd_pki_ask(pki);
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, get_le64(rep + SNP_REPORT_REPORTED_TCB_OFF),
					   NULL, &vcek),
			 0);
	struct snp_verify_policy pol = {.has_report_data = true, .forbid_debug = true};
	memcpy(pol.report_data, rd, 64);
	struct snp_verify_input in = {.report = rep, .report_len = sizeof(rep), .ark = ark,
				      .ask = ask, .vek = vcek, .now = time(NULL), .policy = &pol};
	struct attest_result res;
	/* Not trusted: the emulated ARK is nobody's pinned root. */
	snp_verify(&in, &res);
	ck_assert(!attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "chain.ark"), ATTEST_FAILED);
	ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_PASSED);
	/* Trusted by configuration: everything passes with the same code. */
	in.trusted = &ark;
	in.n_trusted = 1;
	snp_verify(&in, &res);
	if (!attest_ok(&res))
		dump(&res);
	ck_assert(attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "policy.report_data"), ATTEST_PASSED);
	/* A host-requested report: VMPL 0xFFFFFFFF, policy.vmpl 0 fails. */
	ck_assert_int_eq(emul_psp_snp_hv_report(psp, h, rep, &fw), 0);
	pol = (struct snp_verify_policy){.has_vmpl = true, .vmpl = 0};
	snp_verify(&in, &res);
	ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_PASSED);
	ck_assert_int_eq(status_of(&res, "policy.vmpl"), ATTEST_FAILED);
	ck_assert_str_eq(attest_find(&res, "policy.vmpl")->actual, "4294967295");
	/* The VLEK: signing key 1 with the ASVK chain. */
	X509 *vlek = NULL, *asvk = emul_amd_pki_asvk(pki);
	ck_assert_int_eq(emul_amd_pki_vlek(pki, get_le64(rep + SNP_REPORT_REPORTED_TCB_OFF), NULL,
					   &vlek),
			 0);
	in.vek = vlek;
	in.ask = asvk;
	in.policy = NULL;
	snp_verify(&in, &res);
	ck_assert_int_eq(status_of(&res, "report.signing_key"), ATTEST_FAILED);
	ck_assert_int_eq(status_of(&res, "chain.vek"), ATTEST_PASSED);
	ck_assert_int_eq(status_of(&res, "report.signature"), ATTEST_FAILED);
	X509_free(vlek);
	X509_free(vcek);
	emul_psp_free(psp);
	nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

START_TEST(chain_cache_bounded)
{
	struct snp_chain_cache *c = snp_chain_cache_new(2);
	uint8_t k[3][SNP_CHAIN_KEY_SIZE];
	for (int i = 0; i < 3; i++)
		memset(k[i], i + 1, sizeof(k[i]));
	snp_chain_cache_insert(c, k[0], 100, 200);
	snp_chain_cache_insert(c, k[1], 100, 200);
	ck_assert(snp_chain_cache_lookup(c, k[0], 150)); /* k[1] is now the least recent */
	ck_assert(!snp_chain_cache_lookup(c, k[0], 200)); /* outside the window */
	ck_assert(!snp_chain_cache_lookup(c, k[0], 99));
	snp_chain_cache_insert(c, k[2], 100, 200);
	ck_assert(snp_chain_cache_lookup(c, k[0], 150));
	ck_assert(!snp_chain_cache_lookup(c, k[1], 150));
	ck_assert(snp_chain_cache_lookup(c, k[2], 150));
	size_t n;
	snp_chain_cache_stats(c, NULL, NULL, &n);
	ck_assert_uint_eq(n, 2);
	snp_chain_cache_free(c);
	ck_assert_ptr_null(snp_chain_cache_new(0));
}
END_TEST

/* A quote in the DCAP layout around a TD body (v4, or v5 with body type 2/3). */
static size_t make_quote(uint8_t *q, uint16_t version, uint16_t body_type,
			 const struct tdx_td_body *b, uint32_t sig_len)
{
	memset(q, 0, 2048);
	put_le16(q, version);
	put_le16(q + 2, 2);
	put_le32(q + 4, 0x81);
	size_t off = 48;
	uint32_t size = body_type == 3 ? 648 : 584;
	if (version == 5) {
		put_le16(q + off, body_type);
		put_le32(q + off + 2, size);
		off += 6;
	}
	uint8_t *p = q + off;
	memcpy(p + 16, b->mrseam, 48);
	put_le64(p + 120, b->td_attributes);
	memcpy(p + 136, b->mrtd, 48);
	memcpy(p + 328, b->rtmr, sizeof(b->rtmr));
	memcpy(p + 520, b->report_data, 64);
	if (body_type == 3)
		memset(p + 600, 0x5e, 48);
	off += size;
	put_le32(q + off, sig_len);
	return off + 4 + sig_len;
}

START_TEST(tdx_reports_and_quotes)
{
	struct emul_tdx_module_config c = {0};
	struct emul_tdx_module *m;
	ck_assert_int_eq(emul_tdx_module_new(&c, &m), 0);
	struct emul_td_params p = {.attributes = 0x10000000, .xfam = 0x61ae7};
	uint32_t td;
	uint8_t pg[4096] = {9}, d[48], rd[64], raw[EMUL_TDREPORT_SIZE], mrtd[48];
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0, pg), 0);
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	memset(d, 0x44, sizeof(d));
	ck_assert_int_eq(emul_tdx_td_rtmr_extend(m, td, 2, d), 0);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	ck_assert_int_eq(emul_tdx_td_report(m, td, rd, raw), 0);
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, mrtd), 0);
	struct emul_tdx_identity id;
	ck_assert_int_eq(emul_tdx_module_identity(m, &id), 0);

	struct tdx_tdreport tr;
	char err[256] = "";
	ck_assert_msg(tdx_tdreport_parse(raw, sizeof(raw), &tr, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(tr.body.mrseam, id.mrseam, 48);
	ck_assert_mem_eq(tr.body.mrtd, mrtd, 48);
	ck_assert_mem_eq(tr.body.report_data, rd, 64);
	ck_assert_uint_eq(tr.body.td_attributes, 0x10000000);
	ck_assert_uint_eq(tr.body.xfam, 0x61ae7);

	/* Reference checks: the module store knows this MRSEAM; MRTD and RTMR2 as given. */
	uint8_t known[2][48] = {{0}};
	memcpy(known[1], id.mrseam, 48);
	struct tdx_reference ref = {.known_mrseam = known, .n_known_mrseam = 2, .has_mrtd = true};
	memcpy(ref.mrtd, mrtd, 48);
	ref.has_rtmr[2] = true;
	memcpy(ref.rtmr[2], tr.body.rtmr[2], 48);
	struct attest_result res = {0};
	tdx_check_reference(&tr.body, &ref, false, &res);
	ck_assert(attest_ok(&res));
	ck_assert_int_eq(status_of(&res, "tdx.rtmr0"), ATTEST_SKIPPED);
	ck_assert_int_eq(status_of(&res, "tdx.rtmr2"), ATTEST_PASSED);
	ref.n_known_mrseam = 1; /* only the zero MRSEAM */
	ref.rtmr[2][0] ^= 1;
	memset(&res, 0, sizeof(res));
	tdx_check_reference(&tr.body, &ref, false, &res);
	ck_assert_int_eq(status_of(&res, "tdx.mrseam"), ATTEST_FAILED);
	ck_assert_int_eq(status_of(&res, "tdx.rtmr2"), ATTEST_FAILED);

	/* Hostile TDREPORTs: type, reserved bytes, size. */
	raw[0] = 0x00;
	ck_assert_int_eq(tdx_tdreport_parse(raw, sizeof(raw), &tr, err, sizeof(err)), -EBADMSG);
	raw[0] = 0x81;
	raw[200] = 1;
	ck_assert_int_eq(tdx_tdreport_parse(raw, sizeof(raw), &tr, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(tdx_tdreport_parse(raw, 1023, &tr, err, sizeof(err)), -EBADMSG);
	raw[200] = 0;
	ck_assert_int_eq(tdx_tdreport_parse(raw, sizeof(raw), &tr, err, sizeof(err)), 0);

	/* Quotes v4, v5/2, v5/3 carry the same values at their own offsets. */
	uint8_t q[2048];
	struct tdx_quote qt;
	static const uint16_t vt[][2] = {{4, 2}, {5, 2}, {5, 3}};
	for (size_t i = 0; i < ARRAY_SIZE(vt); i++) {
		size_t len = make_quote(q, vt[i][0], vt[i][1], &tr.body, 100);
		ck_assert_msg(tdx_quote_parse(q, len, &qt, err, sizeof(err)) == 0, "%s", err);
		ck_assert_mem_eq(qt.body.mrseam, id.mrseam, 48);
		ck_assert_mem_eq(qt.body.mrtd, mrtd, 48);
		ck_assert_mem_eq(qt.body.rtmr[2], tr.body.rtmr[2], 48);
		ck_assert_mem_eq(qt.body.report_data, rd, 64);
		ck_assert_uint_eq(qt.body.td_attributes, 0x10000000);
		ck_assert_int_eq(qt.body.has_15, vt[i][1] == 3);
		ck_assert_uint_eq(qt.sig_data_len, 100);
		if (vt[i][1] == 3)
			ck_assert_uint_eq(qt.body.mrservicetd[0], 0x5e);
		json_object *j = tdx_quote_json(&qt);
		ck_assert(!json_object_get_boolean(json_object_object_get(j, "signature_verified")));
		json_object_put(j);
		memset(&res, 0, sizeof(res));
		tdx_check_reference(&qt.body, &ref, true, &res);
		ck_assert_int_eq(status_of(&res, "quote.signature"), ATTEST_SKIPPED);
		ck_assert_ptr_nonnull(strstr(attest_find(&res, "quote.signature")->detail,
					     "NOT VERIFIED"));
		/* Truncations at every length fail cleanly; one byte too many fails. */
		for (size_t l = 0; l < len; l += (l < 64 ? 1 : 17))
			ck_assert_int_eq(tdx_quote_parse(q, l, &qt, err, sizeof(err)), -EBADMSG);
		ck_assert_int_eq(tdx_quote_parse(q, len + 1, &qt, err, sizeof(err)), -EBADMSG);
	}
	/* v5 read at v4 offsets would see the body type as TEE_TCB_SVN: a v5 quote whose body
	 * size disagrees with its type, SGX bodies, wrong TEE type, huge signature length. */
	size_t len = make_quote(q, 5, 2, &tr.body, 10);
	put_le32(q + 50, 648);
	ck_assert_int_eq(tdx_quote_parse(q, len, &qt, err, sizeof(err)), -EBADMSG);
	len = make_quote(q, 5, 1, &tr.body, 10);
	ck_assert_int_eq(tdx_quote_parse(q, len, &qt, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "SGX"));
	len = make_quote(q, 4, 2, &tr.body, 10);
	put_le32(q + 4, 0);
	ck_assert_int_eq(tdx_quote_parse(q, len, &qt, err, sizeof(err)), -EBADMSG);
	len = make_quote(q, 4, 2, &tr.body, 10);
	put_le32(q + 48 + 584, 0xffffffffu);
	ck_assert_int_eq(tdx_quote_parse(q, len, &qt, err, sizeof(err)), -EBADMSG);
	emul_tdx_module_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attest");
	TCase *tc = tcase_create("snp");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, real_reports_verify);
	tcase_add_test(tc, flipped_report_bytes_fail);
	tcase_add_test(tc, flipped_cert_bytes_fail);
	tcase_add_test(tc, milan_report_genoa_chain);
	tcase_add_test(tc, hostile_reports);
	tcase_add_test(tc, chain_cache_bounded);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("emulated");
	tcase_set_timeout(te, 300);
	tcase_add_test(te, emulated_reports);
	tcase_add_test(te, tdx_reports_and_quotes);
	suite_add_tcase(s, te);
	return run_suite(s);
}
