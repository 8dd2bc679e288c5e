/* sevd/certmgr against a mock KDS on 127.0.0.1 (tests/kds_mock.c) serving the emulated AMD PKI
 * of each product, with the real checks (coco/snp/amdcert.h) and a real store: what a KDS
 * answer does to the cache and to the GHCB table. In every failure, nothing invalid is stored
 * and nothing invalid is put in a table. */
#include <check.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coco/snp/certtable.h"
#include "coco/util.h"
#include "sevd/certmgr.h"
#include "tests/check_main.h"
#include "tests/kds_mock.h"

static uint8_t chip_id[64];


static void pki_setup(void) { kds_test_pkis_open(PKI_CACHE_DIR); }

/* ---- fixture: store + mock KDS + client + certmgr params ------------------------------------- */

struct fixture {
	enum snp_product product;
	char dir[64];
	struct coco_store *store;
	struct kds_mock *mock;
	struct kds_client *c;
	struct certmgr_fetcher fetcher;
	struct certmgr_params params;
	struct certmgr_platform plat;
	X509 *trusted[1];
	bool bump_ucode; /* the fetcher asks KDS for another TCB than the platform's */
};

static int fetch_via_kds(void *ud, const char *url, kds_validate_fn validate, void *vud,
			 uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen)
{
	struct fixture *f = ud;
	char u[KDS_URL_MAX];
	snprintf(u, sizeof(u), "%s", url);
	if (f->bump_ucode) {
		/* A KDS (or proxy) answering with the VCEK of another TCB: the mock serves the
		 * emulated PKI's genuine VCEK for what is asked, so ask for another microcode SPL. */
		char *q = strstr(u, "ucodeSPL=");
		if (q) {
			struct snp_tcb t = *kds_test_tcb(f->product);
			char *end = q + strlen("ucodeSPL=");
			while (*end >= '0' && *end <= '9')
				end++;
			char tail[KDS_URL_MAX];
			snprintf(tail, sizeof(tail), "%s", end);
			snprintf(q, sizeof(u) - (size_t)(q - u), "ucodeSPL=%u%s",
				 (unsigned)t.microcode + 1, tail);
		}
	}
	return kds_fetch(f->c, u, validate, vud, ret_body, ret_len, err, errlen);
}

static void fixture_start(struct fixture *f, enum snp_product p)
{
	memset(f, 0, sizeof(*f));
	f->product = p;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cocod-certmgr-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	char err[256];
	ck_assert_msg(coco_store_open(f->dir, &f->store, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(kds_mock_start(kds_test_pkis[p], &f->mock), 0);
	struct kds_options o;
	kds_options_default(&o);
	o.base_url = kds_mock_base_url(f->mock);
	o.connect_timeout_ms = 1000;
	o.attempt_timeout_ms = 2000;
	o.low_speed_time_s = 0;
	o.total_timeout_ms = 10000;
	o.max_attempts = 3;
	o.backoff_base_ms = 20;
	o.backoff_max_ms = 100;
	o.retry_after_max_ms = 3000;
	ck_assert_int_eq(kds_client_new(&o, &f->c), 0);
	f->fetcher = (struct certmgr_fetcher){.fetch = fetch_via_kds,
					      .ud = f,
					      .base_url = kds_mock_base_url(f->mock),
					      .source = COCO_CERT_SRC_KDS};
	f->trusted[0] = emul_amd_pki_ark(kds_test_pkis[p]);
	f->params = (struct certmgr_params){.store = f->store,
					    .fetcher = &f->fetcher,
					    .trusted = f->trusted,
					    .n_trusted = 1};
	f->plat = (struct certmgr_platform){.product = p, .chip_id_known = true};
	memcpy(f->plat.chip_id, chip_id, sizeof(chip_id));
	ck_assert_int_eq(snp_tcb_encode(p, kds_test_tcb(p), &f->plat.reported_tcb), 0);
}

static void fixture_stop(struct fixture *f)
{
	kds_client_free(f->c);
	kds_mock_stop(f->mock);
	coco_store_close(f->store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t stored(struct fixture *f)
{
	struct coco_cert_record *recs = NULL;
	size_t n = 0;
	ck_assert_int_eq(coco_store_cert_list(f->store, NULL, &recs, &n), 0);
	coco_cert_records_free(recs, n);
	return n;
}

static bool vek_stored(struct fixture *f)
{
	struct coco_cert_key k;
	ck_assert_int_eq(certmgr_vek_key(&f->plat, &k), 0);
	struct coco_cert_record rec;
	int r = coco_store_cert_get(f->store, &k, &rec);
	if (r == 0)
		coco_cert_record_clear(&rec);
	else
		ck_assert_int_eq(r, -ENOENT);
	return r == 0;
}

static bool der_equals(const struct snp_cert_entry *e, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	bool eq = n > 0 && (size_t)n == e->len && memcmp(der, e->data, e->len) == 0;
	OPENSSL_free(der);
	return eq;
}

/* The table decodes to ARK, ASK and (when n is 3 or more) this chip's VCEK for its TCB. */
static void check_table(struct fixture *f, const struct certmgr_table *t, size_t want_n)
{
	struct snp_cert_entry e[8];
	size_t n = 0;
	char err[256] = "";
	ck_assert_ptr_nonnull(t->blob);
	ck_assert_msg(snp_cert_table_decode(t->blob, t->len, e, ARRAY_SIZE(e), &n, err,
					    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(n, want_n);
	ck_assert_uint_eq(t->n_entries, want_n);
	ck_assert_int_eq(e[0].kind, SNP_CERT_ARK);
	ck_assert(der_equals(&e[0], emul_amd_pki_ark(kds_test_pkis[f->product])));
	ck_assert_int_eq(e[1].kind, SNP_CERT_ASK);
	ck_assert(der_equals(&e[1], emul_amd_pki_ask(kds_test_pkis[f->product])));
	if (want_n < 3)
		return;
	ck_assert_int_eq(e[2].kind, SNP_CERT_VCEK);
	X509 *vcek = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(kds_test_pkis[f->product], chip_id, f->plat.reported_tcb, NULL,
					   &vcek),
			 0);
	/* Same key and fields; the emulated PKI may re-sign, so compare the public key. */
	const unsigned char *p = e[2].data;
	X509 *got = d2i_X509(NULL, &p, (long)e[2].len);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(got), X509_get0_pubkey(vcek)), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(got), X509_get_subject_name(vcek)), 0);
	X509_free(got);
	X509_free(vcek);
}

/* ---- happy path for each product ------------------------------------------------------------- */

static void happy(enum snp_product p)
{
	struct fixture f;
	fixture_start(&f, p);
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(t.missing, "");
	ck_assert_uint_eq(t.fetched, 3); /* ARK + ASK from cert_chain, the VCEK */
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);
	check_table(&f, &t, 3);
	ck_assert_uint_eq(stored(&f), 3);
	ck_assert(vek_stored(&f));
	if (p == SNP_PRODUCT_TURIN) {
		/* Turin's hwid is the first 8 bytes of CHIP_ID, also in the cache key. */
		struct coco_cert_key k;
		ck_assert_int_eq(certmgr_vek_key(&f.plat, &k), 0);
		ck_assert_str_eq(k.hwid, "030a11181f262d34");
	}

	/* From the cache alone: the same table, KDS not asked again. */
	struct certmgr_table t2;
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_CACHE_ONLY, &t2, err,
				    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(t2.fetched, 0);
	ck_assert_uint_eq(t2.len, t.len);
	ck_assert_mem_eq(t2.blob, t.blob, t.len);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);

	/* The table expires with its first certificate (the VCEK here). */
	X509 *vcek = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(kds_test_pkis[p], chip_id, f.plat.reported_tcb, NULL,
					   &vcek),
			 0);
	int64_t vcek_end = 0;
	struct tm tm;
	ck_assert_int_eq(ASN1_TIME_to_tm(X509_get0_notAfter(vcek), &tm), 1);
	vcek_end = (int64_t)timegm(&tm);
	X509_free(vcek);
	ck_assert_int_eq(t.expires_at, vcek_end);

	/* With the CRL: one more request, a fourth entry, nothing revoked; now the CRL's
	 * nextUpdate (a week ahead) comes first. */
	f.params.include_crl = true;
	struct certmgr_table t3;
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t3, err,
				    sizeof(err)) == 0,
		      "%s", err);
	check_table(&f, &t3, 4);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	int64_t now = (int64_t)time(NULL);
	ck_assert_msg(t3.expires_at > now + 6 * 86400 && t3.expires_at <= now + 7 * 86400 + 60,
		      "expires_at %lld", (long long)t3.expires_at);
	/* A refresh ahead of expiry: nothing expires within CERTMGR_AHEAD_S, so KDS is not
	 * asked again and the table is the same. */
	struct certmgr_table t4;
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_EXPIRING, &t4, err,
				    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	ck_assert_uint_eq(t4.len, t3.len);
	ck_assert_mem_eq(t4.blob, t3.blob, t3.len);
	certmgr_table_clear(&t4);
	certmgr_table_clear(&t);
	certmgr_table_clear(&t2);
	certmgr_table_clear(&t3);
	fixture_stop(&f);
}

START_TEST(happy_milan) { happy(SNP_PRODUCT_MILAN); }
END_TEST
START_TEST(happy_genoa) { happy(SNP_PRODUCT_GENOA); }
END_TEST
START_TEST(happy_turin) { happy(SNP_PRODUCT_TURIN); }
END_TEST

/* ---- KDS misbehaving -------------------------------------------------------------------------- */

START_TEST(rate_limited_then_served)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA);
	/* 429 with Retry-After: 1 on the chain request: waited for, then served. */
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 429, "1", 0});
	struct certmgr_table t;
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				    sizeof(err)) == 0,
		      "%s", err);
	double ms = (double)(now_ns() - t0) / 1e6;
	ck_assert_msg(ms >= 950, "Retry-After not honoured: %.0f ms", ms);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	check_table(&f, &t, 3);
	certmgr_table_clear(&t);
	fixture_stop(&f);
}
END_TEST

/* One bad answer to the chain request: nothing stored, no table. */
static void chain_refused(const struct kds_mock_action *a, unsigned pushes, const char *want)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN);
	kds_mock_push_n(f.mock, a, pushes);
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_int_eq(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				       sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(t.blob);
	ck_assert_msg(strstr(t.missing, want) != NULL, "missing: %s", t.missing);
	ck_assert_str_eq(err, t.missing);
	ck_assert_uint_eq(stored(&f), 0);
	/* KDS back: the next build fills the cache. */
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				    sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(stored(&f), 3);
	certmgr_table_clear(&t);
	fixture_stop(&f);
}

START_TEST(garbage_chain_not_stored)
{
	chain_refused(&(struct kds_mock_action){.kind = KDS_MOCK_GARBAGE}, 1, "ARK/ASK: ");
}
END_TEST

START_TEST(truncated_chain_not_stored)
{
	chain_refused(&(struct kds_mock_action){.kind = KDS_MOCK_TRUNCATE}, 1, "ARK/ASK: ");
}
END_TEST

START_TEST(server_errors_exhausted_nothing_stored)
{
	chain_refused(&(struct kds_mock_action){KDS_MOCK_STATUS, 500, NULL, 0}, 3,
		      "giving up after 3 attempts");
}
END_TEST

/* One bad answer to the VCEK request: the chain is stored and served, the VCEK is not. */
static void vcek_refused(struct fixture *f, const char *want, unsigned want_requests)
{
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_int_eq(certmgr_build(&f->params, &f->plat, CERTMGR_FETCH_MISSING, &t, err,
				       sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(t.missing, want) != NULL, "missing: %s", t.missing);
	ck_assert_uint_eq(kds_mock_requests(f->mock), want_requests);
	check_table(f, &t, 2); /* a guest still gets ARK and ASK */
	ck_assert_uint_eq(stored(f), 2);
	ck_assert(!vek_stored(f));
	certmgr_table_clear(&t);
}

START_TEST(vcek_wrong_hwid_not_stored)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_TURIN);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE});
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_OTHER_HWID});
	vcek_refused(&f, "VCEK: ", 2);
	fixture_stop(&f);
}
END_TEST

START_TEST(vcek_wrong_tcb_not_stored)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA);
	f.bump_ucode = true;
	vcek_refused(&f, "VCEK: ", 2);
	f.bump_ucode = false;
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				    sizeof(err)) == 0,
		      "%s", err);
	check_table(&f, &t, 3);
	ck_assert_uint_eq(t.fetched, 1); /* the chain came from the cache */
	certmgr_table_clear(&t);
	fixture_stop(&f);
}
END_TEST

START_TEST(vcek_not_found_not_retried)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE});
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 404, NULL, 0});
	vcek_refused(&f, "(not retried)", 2);
	fixture_stop(&f);
}
END_TEST

START_TEST(vcek_slow_times_out)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA);
	/* Every attempt of the VCEK request stalls past the 2 s attempt timeout. */
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE});
	kds_mock_push_n(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE, .delay_ms = 2600},
			3);
	uint64_t t0 = now_ns();
	vcek_refused(&f, "timed out", 4);
	double ms = (double)(now_ns() - t0) / 1e6;
	/* Three 2 s attempts: the fetch ends well inside its 10 s total bound, even loaded. */
	ck_assert_msg(ms >= 5900 && ms < 10500, "the time bounds did not hold: %.0f ms", ms);
	fixture_stop(&f);
}
END_TEST

START_TEST(revoked_vcek_not_served)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA);
	f.params.include_crl = true;
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_msg(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				    sizeof(err)) == 0,
		      "%s", err);
	certmgr_table_clear(&t);
	/* The ARK revokes this chip's VCEK; a refresh brings the new CRL. */
	X509 *vcek = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(kds_test_pkis[SNP_PRODUCT_GENOA], chip_id, f.plat.reported_tcb,
					   NULL, &vcek),
			 0);
	uint64_t serial = 0;
	ck_assert_int_eq(ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(vcek)), 1);
	X509_free(vcek);
	ck_assert_int_eq(emul_amd_pki_revoke(kds_test_pkis[SNP_PRODUCT_GENOA], serial), 0);
	ck_assert_int_eq(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_ALL, &t, err,
				       sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(t.missing, "CRL: ") != NULL, "missing: %s", t.missing);
	/* ARK and ASK only: the revoked VCEK is not handed to guests. */
	struct snp_cert_entry e[8];
	size_t n = 0;
	ck_assert_int_eq(snp_cert_table_decode(t.blob, t.len, e, ARRAY_SIZE(e), &n, err,
					       sizeof(err)),
			 0);
	ck_assert(t.revoked);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(e[0].kind, SNP_CERT_ARK);
	ck_assert_int_eq(e[1].kind, SNP_CERT_ASK);
	ck_assert_int_eq(e[2].kind, SNP_CERT_CRL);
	certmgr_table_clear(&t);
	/* From the cache too (the CRL was stored): still not served. */
	ck_assert_int_eq(certmgr_build(&f.params, &f.plat, CERTMGR_CACHE_ONLY, &t, err,
				       sizeof(err)),
			 -ENOENT);
	ck_assert(t.revoked);
	ck_assert_uint_eq(t.n_entries, 3);
	certmgr_table_clear(&t);
	fixture_stop(&f);
}
END_TEST

START_TEST(revoked_ask_nothing_served)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN);
	f.params.include_crl = true;
	/* The ARK revokes the Milan ASK (serial 0x10001, as AMD numbered it). Each test runs in
	 * its own process (Check's fork mode), so the revocation ends with it. */
	ck_assert_int_eq(emul_amd_pki_revoke(kds_test_pkis[SNP_PRODUCT_MILAN], 0x10001), 0);
	struct certmgr_table t;
	char err[512] = "";
	ck_assert_int_eq(certmgr_build(&f.params, &f.plat, CERTMGR_FETCH_MISSING, &t, err,
				       sizeof(err)),
			 -ENOENT);
	ck_assert(t.revoked);
	ck_assert_ptr_null(t.blob);
	ck_assert_msg(strstr(t.missing, "CRL: ") != NULL, "missing: %s", t.missing);
	certmgr_table_clear(&t);
	fixture_stop(&f);
}
END_TEST

int main(void)
{
	for (size_t i = 0; i < sizeof(chip_id); i++)
		chip_id[i] = (uint8_t)(i * 7 + 3);
	Suite *s = suite_create("certmgr");
	TCase *tc = tcase_create("mock-kds");
	tcase_add_unchecked_fixture(tc, pki_setup, kds_test_pkis_close);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, happy_milan);
	tcase_add_test(tc, happy_genoa);
	tcase_add_test(tc, happy_turin);
	tcase_add_test(tc, rate_limited_then_served);
	tcase_add_test(tc, garbage_chain_not_stored);
	tcase_add_test(tc, truncated_chain_not_stored);
	tcase_add_test(tc, server_errors_exhausted_nothing_stored);
	tcase_add_test(tc, vcek_wrong_hwid_not_stored);
	tcase_add_test(tc, vcek_wrong_tcb_not_stored);
	tcase_add_test(tc, vcek_not_found_not_retried);
	tcase_add_test(tc, vcek_slow_times_out);
	tcase_add_test(tc, revoked_vcek_not_served);
	tcase_add_test(tc, revoked_ask_nothing_served);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
