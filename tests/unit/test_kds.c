/* sevd/kds: URL building (pure), Retry-After parsing, and the fetch against a mock KDS on
 * 127.0.0.1 (tests/kds_mock.c) serving the emulated AMD PKI of each product.
 * Expected URL shapes: AMD KDS interface spec 57230 as spelled by google/go-sev-guest kds/kds.go
 * (VCEKCertQuery, tcbArgs: decimal SPLs, fmcSPL first on Turin, 8-byte Turin hwid) and
 * virtee/snpguest src/fetch.rs (request_vcek_kds). */
#include <check.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "sevd/kds.h"
#include "tests/check_main.h"
#include "tests/kds_mock.h"

static uint8_t chip_id[64];


static void pki_setup(void) { kds_test_pkis_open(PKI_CACHE_DIR); }

/* ---- test validators (the real AMD checks live in coco/snp/amdcert.h) --------------------- */

struct expect_vcek {
	enum snp_product product;
	struct snp_tcb tcb;
};

static ASN1_OCTET_STRING *ext_data(X509 *x, const char *oid)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int i = o ? X509_get_ext_by_OBJ(x, o, -1) : -1;
	ASN1_OBJECT_free(o);
	return i < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(x, i));
}

static int ext_int(X509 *x, const char *oid, long *ret)
{
	ASN1_OCTET_STRING *d = ext_data(x, oid);
	if (!d)
		return -ENOENT;
	const unsigned char *p = ASN1_STRING_get0_data(d);
	ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(d));
	if (!ai)
		return -EBADMSG;
	*ret = ASN1_INTEGER_get(ai);
	ASN1_INTEGER_free(ai);
	return 0;
}

/* DER X.509 (all bytes), hwID extension (raw, as AMD's) = the asked hwid, SPLs = the asked TCB. */
static int validate_vcek(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	const struct expect_vcek *e = ud;
	const unsigned char *p = body;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		return set_error(err, errlen, -EBADMSG, "not a DER certificate");
	int r = 0;
	if (p != body + len)
		r = set_error(err, errlen, -EBADMSG, "trailing bytes after the certificate");
	size_t hl = emul_amd_hwid_len(e->product);
	ASN1_OCTET_STRING *h = ext_data(x, "1.3.6.1.4.1.3704.1.4");
	if (r == 0 && (!h || (size_t)ASN1_STRING_length(h) != hl ||
		       memcmp(ASN1_STRING_get0_data(h), chip_id, hl) != 0))
		r = set_error(err, errlen, -EBADMSG, "hwID differs from the one asked");
	struct {
		const char *oid;
		uint8_t want;
	} spl[] = {{"1.3.6.1.4.1.3704.1.3.1", e->tcb.bootloader},
		   {"1.3.6.1.4.1.3704.1.3.2", e->tcb.tee},
		   {"1.3.6.1.4.1.3704.1.3.3", e->tcb.snp},
		   {"1.3.6.1.4.1.3704.1.3.8", e->tcb.microcode},
		   {"1.3.6.1.4.1.3704.1.3.9", e->tcb.fmc}};
	size_t nspl = e->product == SNP_PRODUCT_TURIN ? 5 : 4;
	for (size_t i = 0; r == 0 && i < nspl; i++) {
		long v;
		if (ext_int(x, spl[i].oid, &v) < 0 || v != spl[i].want)
			r = set_error(err, errlen, -EBADMSG, "TCB extension %s differs", spl[i].oid);
	}
	X509_free(x);
	return r;
}

/* PEM: intermediate then a self-signed root that signed it, nothing else. */
static int validate_chain(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	(void)ud;
	BIO *b = BIO_new_mem_buf(body, (int)len);
	X509 *ask = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	X509 *ark = ask ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int r = 0;
	if (!ark)
		r = set_error(err, errlen, -EBADMSG, "not a PEM chain of two certificates");
	else if (X509_verify(ark, X509_get0_pubkey(ark)) != 1 ||
		 X509_verify(ask, X509_get0_pubkey(ark)) != 1)
		r = set_error(err, errlen, -EBADMSG, "chain does not verify");
	X509_free(ask);
	X509_free(ark);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

/* DER CRL signed by this product's ARK. */
static int validate_crl(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	struct emul_amd_pki *pki = ud;
	const unsigned char *p = body;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	int r = 0;
	if (!crl || p != body + len)
		r = set_error(err, errlen, -EBADMSG, "not a DER CRL");
	else if (X509_CRL_verify(crl, X509_get0_pubkey(emul_amd_pki_ark(pki))) != 1)
		r = set_error(err, errlen, -EBADMSG, "CRL not signed by the ARK");
	X509_CRL_free(crl);
	return r;
}

/* ---- helpers ------------------------------------------------------------------------------ */

struct progress_log {
	unsigned n;
	char last[512];
	char first[512];
};

static void on_progress(void *ud, const char *msg)
{
	struct progress_log *l = ud;
	if (l->n++ == 0)
		snprintf(l->first, sizeof(l->first), "%s", msg);
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

static struct kds_options fast_opts(const char *base, struct progress_log *log)
{
	struct kds_options o;
	kds_options_default(&o);
	o.base_url = base;
	o.connect_timeout_ms = 1000;
	o.attempt_timeout_ms = 2000;
	o.low_speed_time_s = 0;
	o.total_timeout_ms = 10000;
	o.max_attempts = 5;
	o.backoff_base_ms = 20;
	o.backoff_max_ms = 100;
	o.retry_after_max_ms = 3000;
	o.progress = log ? on_progress : NULL;
	o.progress_ud = log;
	return o;
}

struct fixture {
	struct kds_mock *mock;
	struct kds_client *c;
	struct progress_log log;
	struct expect_vcek ev;
	char vcek_url[KDS_URL_MAX];
};

static void fixture_start(struct fixture *f, enum snp_product p, const struct kds_options *o)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(kds_mock_start(kds_test_pkis[p], &f->mock), 0);
	struct kds_options oo = o ? *o : fast_opts(NULL, NULL);
	oo.base_url = kds_mock_base_url(f->mock);
	oo.progress = on_progress;
	oo.progress_ud = &f->log;
	ck_assert_int_eq(kds_client_new(&oo, &f->c), 0);
	f->ev = (struct expect_vcek){.product = p, .tcb = *kds_test_tcb(p)};
	ck_assert_int_eq(kds_vcek_url(oo.base_url, p, chip_id, kds_test_tcb(p), f->vcek_url,
				      sizeof(f->vcek_url)),
			 0);
}

static void fixture_stop(struct fixture *f)
{
	kds_client_free(f->c);
	kds_mock_stop(f->mock);
}

static int fetch_vcek(struct fixture *f, char *err, size_t errlen)
{
	uint8_t *body = (uint8_t *)"untouched";
	size_t len = 12345;
	int r = kds_fetch(f->c, f->vcek_url, validate_vcek, &f->ev, &body, &len, err, errlen);
	if (r == 0) {
		ck_assert_uint_gt(len, 0);
		free(body);
	} else {
		ck_assert_str_eq((char *)body, "untouched"); /* ret_* untouched on failure */
		ck_assert_uint_eq(len, 12345);
	}
	return r;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/* ---- pure ---------------------------------------------------------------------------------- */

START_TEST(vcek_urls)
{
	char u[KDS_URL_MAX];
	char hex[129];
	hex_encode(chip_id, 64, hex);
	char want[KDS_URL_MAX];

	ck_assert_int_eq(kds_vcek_url("https://kdsintf.amd.com", SNP_PRODUCT_MILAN, chip_id,
				      kds_test_tcb(SNP_PRODUCT_MILAN), u, sizeof(u)),
			 0);
	snprintf(want, sizeof(want),
		 "https://kdsintf.amd.com/vcek/v1/Milan/%s?blSPL=3&teeSPL=0&snpSPL=20&ucodeSPL=209",
		 hex);
	ck_assert_str_eq(u, want);
	ck_assert_uint_eq(strlen(hex), 128);

	/* A trailing '/' on the base is dropped; Bergamo is served as Genoa. */
	enum snp_product bergamo;
	ck_assert_int_eq(snp_product_from_name("Bergamo", &bergamo), 0);
	ck_assert_int_eq(kds_vcek_url("http://proxy:8080/", bergamo, chip_id, kds_test_tcb(SNP_PRODUCT_GENOA), u,
				      sizeof(u)),
			 0);
	snprintf(want, sizeof(want),
		 "http://proxy:8080/vcek/v1/Genoa/%s?blSPL=7&teeSPL=1&snpSPL=22&ucodeSPL=72", hex);
	ck_assert_str_eq(u, want);

	/* Turin: fmcSPL, and hwid = the first 8 bytes of CHIP_ID (16 hex digits). */
	ck_assert_int_eq(kds_vcek_url("https://kdsintf.amd.com", SNP_PRODUCT_TURIN, chip_id,
				      kds_test_tcb(SNP_PRODUCT_TURIN), u, sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://kdsintf.amd.com/vcek/v1/Turin/030a11181f262d34"
			    "?fmcSPL=1&blSPL=2&teeSPL=0&snpSPL=3&ucodeSPL=4");

	/* Refusals leave ret untouched. */
	strcpy(u, "keep");
	struct snp_tcb bad = *kds_test_tcb(SNP_PRODUCT_GENOA);
	bad.fmc = 1;
	ck_assert_int_eq(kds_vcek_url("https://k", SNP_PRODUCT_GENOA, chip_id, &bad, u, sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(kds_vcek_url("https://k", SNP_PRODUCT_UNKNOWN, chip_id, kds_test_tcb(SNP_PRODUCT_MILAN), u,
				      sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(kds_vcek_url("", SNP_PRODUCT_MILAN, chip_id, kds_test_tcb(SNP_PRODUCT_MILAN), u, sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(kds_vcek_url("https://kdsintf.amd.com", SNP_PRODUCT_MILAN, chip_id,
				      kds_test_tcb(SNP_PRODUCT_MILAN), u, 100),
			 -ENOBUFS);
	ck_assert_str_eq(u, "keep");
}
END_TEST

START_TEST(chain_and_crl_urls)
{
	char u[KDS_URL_MAX];
	ck_assert_int_eq(kds_chain_url("https://kdsintf.amd.com", KDS_KEY_VCEK, SNP_PRODUCT_MILAN,
				       u, sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain");
	ck_assert_int_eq(kds_chain_url("https://kdsintf.amd.com", KDS_KEY_VLEK, SNP_PRODUCT_TURIN,
				       u, sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain");
	ck_assert_int_eq(kds_crl_url("https://kdsintf.amd.com", KDS_KEY_VCEK, SNP_PRODUCT_GENOA, u,
				     sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://kdsintf.amd.com/vcek/v1/Genoa/crl");
	ck_assert_int_eq(kds_crl_url("https://kdsintf.amd.com", KDS_KEY_VLEK, SNP_PRODUCT_GENOA, u,
				     sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://kdsintf.amd.com/vlek/v1/Genoa/crl");
	ck_assert_int_eq(kds_crl_url("https://k", 7, SNP_PRODUCT_GENOA, u, sizeof(u)), -EINVAL);
	ck_assert_int_eq(kds_chain_url("https://kdsintf.amd.com", KDS_KEY_VCEK, SNP_PRODUCT_MILAN,
				       u, 20),
			 -ENOBUFS);
}
END_TEST

START_TEST(retry_after_forms)
{
	uint64_t s = 99;
	ck_assert_int_eq(kds_parse_retry_after("3", 0, &s), 0);
	ck_assert_uint_eq(s, 3);
	ck_assert_int_eq(kds_parse_retry_after(" 120 \r\n", 0, &s), 0);
	ck_assert_uint_eq(s, 120);
	/* RFC 9110 10.2.3's example date: Fri, 31 Dec 1999 23:59:59 GMT = 946684799. */
	ck_assert_int_eq(kds_parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", 946684799 - 10, &s),
			 0);
	ck_assert_uint_eq(s, 10);
	ck_assert_int_eq(kds_parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", 946684799 + 5, &s),
			 0);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq((kds_parse_retry_after("99999999999999999999", 0, &s), s), UINT32_MAX);
	s = 7;
	ck_assert_int_eq(kds_parse_retry_after("soon", 0, &s), -EINVAL);
	ck_assert_int_eq(kds_parse_retry_after("", 0, &s), -EINVAL);
	ck_assert_int_eq(kds_parse_retry_after("-1", 0, &s), -EINVAL);
	ck_assert_uint_eq(s, 7);
}
END_TEST

START_TEST(options_refused)
{
	struct kds_options o = fast_opts(NULL, NULL);
	struct kds_client *c = NULL;
	o.max_attempts = 0;
	ck_assert_int_eq(kds_client_new(&o, &c), -EINVAL);
	o = fast_opts(NULL, NULL);
	o.max_body = 0;
	ck_assert_int_eq(kds_client_new(&o, &c), -EINVAL);
	ck_assert_ptr_null(c);
	o = fast_opts(NULL, NULL);
	ck_assert_int_eq(kds_client_new(&o, &c), 0);
	ck_assert_str_eq(kds_client_base_url(c), "https://kdsintf.amd.com");
	kds_client_free(c);
}
END_TEST

/* ---- against the mock ---------------------------------------------------------------------- */

static void happy(enum snp_product p)
{
	struct fixture f;
	fixture_start(&f, p, NULL);
	char err[512] = "";
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);

	char path[1024];
	kds_mock_last_path(f.mock, path, sizeof(path));
	ck_assert_str_eq(path, f.vcek_url + strlen(kds_mock_base_url(f.mock)));
	if (p == SNP_PRODUCT_TURIN) {
		ck_assert_ptr_nonnull(strstr(path, "/vcek/v1/Turin/030a11181f262d34?fmcSPL=1&"));
	}

	char u[KDS_URL_MAX];
	uint8_t *body;
	size_t len;
	ck_assert_int_eq(kds_chain_url(kds_mock_base_url(f.mock), KDS_KEY_VCEK, p, u, sizeof(u)), 0);
	ck_assert_msg(kds_fetch(f.c, u, validate_chain, NULL, &body, &len, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_ptr_nonnull(strstr((char *)body, "-----BEGIN CERTIFICATE-----"));
	free(body);
	ck_assert_int_eq(kds_chain_url(kds_mock_base_url(f.mock), KDS_KEY_VLEK, p, u, sizeof(u)), 0);
	ck_assert_msg(kds_fetch(f.c, u, validate_chain, NULL, &body, &len, err, sizeof(err)) == 0,
		      "%s", err);
	free(body);
	ck_assert_int_eq(kds_crl_url(kds_mock_base_url(f.mock), KDS_KEY_VCEK, p, u, sizeof(u)), 0);
	ck_assert_msg(kds_fetch(f.c, u, validate_crl, kds_test_pkis[p], &body, &len, err, sizeof(err)) == 0,
		      "%s", err);
	free(body);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 4);
	ck_assert_uint_eq(f.log.n, 0);
	fixture_stop(&f);
}

START_TEST(happy_milan) { happy(SNP_PRODUCT_MILAN); }
END_TEST
START_TEST(happy_genoa) { happy(SNP_PRODUCT_GENOA); }
END_TEST
START_TEST(happy_turin) { happy(SNP_PRODUCT_TURIN); }
END_TEST

START_TEST(retry_after_429_honoured)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, NULL);
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 429, "1", 0});
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	double ms = ms_since(t0);
	ck_assert_msg(ms >= 950 && ms < 2500, "took %.0f ms", ms);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);
	ck_assert_uint_eq(f.log.n, 1);
	ck_assert_ptr_nonnull(strstr(f.log.first, "KDS 429 for http://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(f.log.first, ": retrying in 1 s (attempt 2/5)"));
	fixture_stop(&f);
}
END_TEST

START_TEST(retry_after_date_on_503)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN, NULL);
	/* IMF-fixdate 2 s ahead: the client waits 1-2 s (the date has 1 s granularity). */
	char date[64];
	time_t t = time(NULL) + 2;
	struct tm tm;
	ck_assert_uint_gt(
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm)), 0);
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 503, date, 0});
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	double ms = ms_since(t0);
	ck_assert_msg(ms >= 900 && ms < 2600, "took %.0f ms", ms);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);
	ck_assert_ptr_nonnull(strstr(f.log.first, "KDS 503 for "));
	ck_assert_ptr_nonnull(strstr(f.log.first, "service unavailable: retrying in "));
	fixture_stop(&f);
}
END_TEST

START_TEST(retry_after_capped)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.retry_after_max_ms = 200;
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, &o);
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 503, "3600", 0});
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	double ms = ms_since(t0);
	ck_assert_msg(ms >= 190 && ms < 1500, "took %.0f ms", ms);
	ck_assert_ptr_nonnull(strstr(f.log.first, "retrying in 200 ms (attempt 2/5)"));
	fixture_stop(&f);
}
END_TEST

START_TEST(server_errors_then_success)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN, NULL);
	kds_mock_push_n(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 500, NULL, 0}, 2);
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(ms_since(t0) < 1000, "took %.0f ms", ms_since(t0)); /* backoff <= 20+40 ms */
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	ck_assert_uint_eq(f.log.n, 2);
	ck_assert_ptr_nonnull(strstr(f.log.last, "KDS 500 for "));
	ck_assert_ptr_nonnull(strstr(f.log.last, "(attempt 3/5)"));
	fixture_stop(&f);
}
END_TEST

START_TEST(server_errors_give_up)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.max_attempts = 3;
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN, &o);
	kds_mock_push_n(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 502, NULL, 0}, 10);
	char err[512] = "";
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EIO);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	ck_assert_ptr_nonnull(strstr(err, "KDS 502 for "));
	ck_assert_ptr_nonnull(strstr(err, "bad gateway; giving up after 3 attempts"));
	fixture_stop(&f);
}
END_TEST

START_TEST(not_found_not_retried)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, NULL);
	/* The Genoa KDS has no Milan products: the emulated KDS answers 404 by itself. */
	char u[KDS_URL_MAX];
	ck_assert_int_eq(kds_vcek_url(kds_mock_base_url(f.mock), SNP_PRODUCT_MILAN, chip_id,
				      kds_test_tcb(SNP_PRODUCT_MILAN), u, sizeof(u)),
			 0);
	uint8_t *body = NULL;
	size_t len = 0;
	char err[512] = "";
	ck_assert_int_eq(kds_fetch(f.c, u, validate_vcek, &f.ev, &body, &len, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 1);
	char want[KDS_URL_MAX + 64];
	snprintf(want, sizeof(want), "KDS 404 for %s: not found", u);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, "(not retried)"));
	ck_assert_uint_eq(f.log.n, 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(bad_request_not_retried)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, NULL);
	/* An SPL missing: the emulated KDS answers 400 with a one-line reason. */
	char *q = strstr(f.vcek_url, "&ucodeSPL=");
	ck_assert_ptr_nonnull(q);
	*q = 0;
	char err[512] = "";
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 1);
	ck_assert_ptr_nonnull(strstr(err, "KDS 400 for "));
	ck_assert_ptr_nonnull(strstr(err, "bad request (\""));
	ck_assert_ptr_nonnull(strstr(err, "(not retried)"));
	fixture_stop(&f);
}
END_TEST

START_TEST(truncated_and_garbage_rejected)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, NULL);
	char err[512] = "";
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_TRUNCATE});
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "rejected: not a DER certificate (not retried)"));

	char u[KDS_URL_MAX];
	uint8_t *body = NULL;
	size_t len = 0;
	ck_assert_int_eq(kds_chain_url(kds_mock_base_url(f.mock), KDS_KEY_VCEK, SNP_PRODUCT_GENOA, u,
				       sizeof(u)),
			 0);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_TRUNCATE});
	ck_assert_int_eq(kds_fetch(f.c, u, validate_chain, NULL, &body, &len, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_ptr_null(body);

	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_GARBAGE});
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EBADMSG);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_GARBAGE});
	ck_assert_int_eq(kds_fetch(f.c, u, validate_chain, NULL, &body, &len, err, sizeof(err)),
			 -EBADMSG);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 4); /* none retried */
	fixture_stop(&f);
}
END_TEST

START_TEST(wrong_hwid_and_tcb_rejected)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_MILAN, NULL);
	char err[512] = "";
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_OTHER_HWID});
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "hwID differs from the one asked"));
	/* A correct VCEK, but for another TCB than the one we expect. */
	f.ev.tcb.microcode++;
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "TCB extension 1.3.6.1.4.1.3704.1.3.8 differs"));
	f.ev.tcb.microcode--;
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	fixture_stop(&f);
}
END_TEST

START_TEST(body_too_large)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.max_body = 1024; /* a PEM chain of two RSA-4096 certificates is ~4 KiB */
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, &o);
	char u[KDS_URL_MAX];
	ck_assert_int_eq(kds_chain_url(kds_mock_base_url(f.mock), KDS_KEY_VCEK, SNP_PRODUCT_GENOA, u,
				       sizeof(u)),
			 0);
	uint8_t *body = NULL;
	size_t len = 0;
	char err[512] = "";
	ck_assert_int_eq(kds_fetch(f.c, u, validate_chain, NULL, &body, &len, err, sizeof(err)),
			 -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "larger than 1024 bytes"));
	ck_assert_uint_eq(kds_mock_requests(f.mock), 1);
	fixture_stop(&f);
}
END_TEST

START_TEST(slow_response_times_out)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.attempt_timeout_ms = 300;
	o.max_attempts = 1;
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, &o);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE, .delay_ms = 3000});
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -ETIMEDOUT);
	double ms = ms_since(t0);
	ck_assert_msg(ms >= 290 && ms < 1500, "took %.0f ms", ms);
	ck_assert_ptr_nonnull(strstr(err, "timed out after 300 ms; giving up after 1 attempts"));
	fixture_stop(&f);
}
END_TEST

START_TEST(slow_then_served)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.attempt_timeout_ms = 300;
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_TURIN, &o);
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE, .delay_ms = 3000});
	char err[512] = "";
	ck_assert_msg(fetch_vcek(&f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);
	ck_assert_ptr_nonnull(strstr(f.log.first, "timed out after 300 ms: retrying in "));
	fixture_stop(&f);
}
END_TEST

START_TEST(connection_refused)
{
	/* Port 1 on the loopback: nothing listens, the connect fails at once. */
	struct kds_options o = fast_opts("http://127.0.0.1:1", NULL);
	o.max_attempts = 2;
	struct kds_client *c;
	ck_assert_int_eq(kds_client_new(&o, &c), 0);
	struct expect_vcek ev = {.product = SNP_PRODUCT_GENOA, .tcb = *kds_test_tcb(SNP_PRODUCT_GENOA)};
	char u[KDS_URL_MAX], err[512] = "";
	ck_assert_int_eq(kds_vcek_url("http://127.0.0.1:1", SNP_PRODUCT_GENOA, chip_id, kds_test_tcb(SNP_PRODUCT_GENOA),
				      u, sizeof(u)),
			 0);
	uint8_t *body = NULL;
	size_t len = 0;
	ck_assert_int_eq(kds_fetch(c, u, validate_vcek, &ev, &body, &len, err, sizeof(err)), -EIO);
	ck_assert_ptr_nonnull(strstr(err, "giving up after 2 attempts"));
	kds_client_free(c);
}
END_TEST

START_TEST(total_time_bound)
{
	struct kds_options o = fast_opts(NULL, NULL);
	o.max_attempts = 10;
	o.total_timeout_ms = 2500;
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, &o);
	kds_mock_push_n(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 429, "1", 0}, 20);
	char err[512] = "";
	uint64_t t0 = now_ns();
	ck_assert_int_eq(fetch_vcek(&f, err, sizeof(err)), -EAGAIN);
	double ms = ms_since(t0);
	/* Attempts at 0, 1 and 2 s; a third wait of 1 s would end past 2.5 s: give up at ~2 s. */
	ck_assert_msg(ms >= 1900 && ms < 2600, "took %.0f ms", ms);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 3);
	ck_assert_ptr_nonnull(strstr(err, "would pass the total time bound of 2500 ms (attempt 3/10)"));
	fixture_stop(&f);
}
END_TEST

struct coalesce_arg {
	struct fixture *f;
	int r;
	char err[512];
	uint8_t *body;
	size_t len;
};

static void *coalesce_thread(void *p)
{
	struct coalesce_arg *a = p;
	a->r = kds_fetch(a->f->c, a->f->vcek_url, validate_vcek, &a->f->ev, &a->body, &a->len,
			 a->err, sizeof(a->err));
	return NULL;
}

START_TEST(same_key_coalesces)
{
	struct fixture f;
	fixture_start(&f, SNP_PRODUCT_GENOA, NULL);
	/* The one request is held 500 ms, long enough for every thread to join it. */
	kds_mock_push(f.mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE, .delay_ms = 500});
	enum { N = 8 };
	struct coalesce_arg args[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct coalesce_arg){.f = &f};
		ck_assert_int_eq(pthread_create(&th[i], NULL, coalesce_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(args[i].r == 0, "%s", args[i].err);
		ck_assert_uint_eq(args[i].len, args[0].len);
		ck_assert_mem_eq(args[i].body, args[0].body, args[0].len);
	}
	for (int i = 0; i < N; i++)
		free(args[i].body);
	ck_assert_uint_eq(kds_mock_requests(f.mock), 1);

	/* A failure is shared the same way: one request, N identical errors. */
	kds_mock_push(f.mock, &(struct kds_mock_action){KDS_MOCK_STATUS, 404, NULL, 300});
	for (int i = 0; i < N; i++) {
		args[i] = (struct coalesce_arg){.f = &f};
		ck_assert_int_eq(pthread_create(&th[i], NULL, coalesce_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(args[i].r, -ENOENT);
		ck_assert_str_eq(args[i].err, args[0].err);
	}
	ck_assert_uint_eq(kds_mock_requests(f.mock), 2);
	fixture_stop(&f);
}
END_TEST

int main(void)
{
	for (size_t i = 0; i < sizeof(chip_id); i++)
		chip_id[i] = (uint8_t)(i * 7 + 3);
	Suite *s = suite_create("kds");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, vcek_urls);
	tcase_add_test(pure, chain_and_crl_urls);
	tcase_add_test(pure, retry_after_forms);
	tcase_add_test(pure, options_refused);
	suite_add_tcase(s, pure);

	TCase *mock = tcase_create("mock");
	/* Once per binary (parent process); the key sets are cached per build tree. */
	tcase_add_unchecked_fixture(mock, pki_setup, kds_test_pkis_close);
	tcase_set_timeout(mock, 60);
	tcase_add_test(mock, happy_milan);
	tcase_add_test(mock, happy_genoa);
	tcase_add_test(mock, happy_turin);
	tcase_add_test(mock, retry_after_429_honoured);
	tcase_add_test(mock, retry_after_date_on_503);
	tcase_add_test(mock, retry_after_capped);
	tcase_add_test(mock, server_errors_then_success);
	tcase_add_test(mock, server_errors_give_up);
	tcase_add_test(mock, not_found_not_retried);
	tcase_add_test(mock, bad_request_not_retried);
	tcase_add_test(mock, truncated_and_garbage_rejected);
	tcase_add_test(mock, wrong_hwid_and_tcb_rejected);
	tcase_add_test(mock, body_too_large);
	tcase_add_test(mock, slow_response_times_out);
	tcase_add_test(mock, slow_then_served);
	tcase_add_test(mock, connection_refused);
	tcase_add_test(mock, total_time_bound);
	tcase_add_test(mock, same_key_coalesces);
	suite_add_tcase(s, mock);
	return run_suite(s);
}
