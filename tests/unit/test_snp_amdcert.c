/* coco/snp/amdcert: the AMD certificate checks. Vectors: AMD's real ARK/ASK/ASVK of Milan, Genoa
 * and Turin (tests/data/snp/amd/<product>/, as KDS serves them) and three real VCEKs with the
 * reports their chips signed (tests/data/snp/reports/<product>/: the VCEK's hwID must equal the
 * report's CHIP_ID at 0x1A0, Turin its first 8 bytes, and its SPLs REPORTED_TCB at 0x180, SNP
 * ABI 1.57 table 23). The emulated PKI (hv/emul/amdpki.h) passes only when its ARK is trusted,
 * and its CRL catches revocation. Also certificates made here with wrong signature parameters. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "coco/snp/amdcert.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "tests/check_main.h"

#include "tests/amd_vectors.h"

static X509 *der_flip(X509 *c, long at_from_end)
{
	unsigned char *der = NULL;
	int len = i2d_X509(c, &der);
	ck_assert_int_gt(len, 0);
	der[len - at_from_end] ^= 0x01;
	X509 *out = NULL;
	ck_assert_int_eq(amd_cert_parse(der, (size_t)len, &out, NULL, 0), 0);
	OPENSSL_free(der);
	return out;
}

#define EXPECT_FAIL(call, needle)                                                                  \
	do {                                                                                       \
		char err_[256] = "";                                                               \
		int r_ = (call);                                                                   \
		ck_assert_msg(r_ < 0, "%s succeeded, want failure with '%s'", #call, needle);      \
		ck_assert_msg(strstr(err_, needle) || !*needle, "error '%s' lacks '%s'", err_,     \
			      needle);                                                             \
	} while (0)
#define ERR err_, sizeof(err_)

START_TEST(real_chains)
{
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		X509 *ark = load(AMD, p, "ark.pem"), *ask = load(AMD, p, "ask.pem");
		X509 *vcek = load(REPORTS, p, "vcek.der");
		char err[256] = "";
		ck_assert_int_eq(amd_ark_pinned_product(ark), p);
		ck_assert_int_eq(amd_ark_pinned_product(ask), SNP_PRODUCT_UNKNOWN);
		ck_assert_msg(amd_chain_verify(p, ark, ask, vcek, NULL, 0, NOW, err, sizeof(err)) ==
				  0,
			      "%s: %s", lower[p], err);
		ck_assert_msg(amd_chain_verify(p, ark, ask, NULL, NULL, 0, NOW, err, sizeof(err)) ==
				  0,
			      "%s: %s", lower[p], err);
		/* The product is part of the question: AMD's other roots are refused. */
		enum snp_product other =
		    p == SNP_PRODUCT_MILAN ? SNP_PRODUCT_GENOA : SNP_PRODUCT_MILAN;
		EXPECT_FAIL(amd_chain_verify(other, ark, ask, vcek, NULL, 0, NOW, ERR),
			    "ARK: AMD's");
		/* Before the ARK existed / after the VCEK expired. */
		EXPECT_FAIL(amd_chain_verify(p, ark, ask, vcek, NULL, 0, 1500000000, ERR),
			    "not yet valid");
		EXPECT_FAIL(amd_chain_verify(p, ark, ask, vcek, NULL, 0, 2500000000, ERR),
			    "expired");
		/* A flipped byte of a signature (the DER ends with the signature BIT STRING). */
		X509 *bad_vcek = der_flip(vcek, 1), *bad_ask = der_flip(ask, 7);
		EXPECT_FAIL(amd_chain_verify(p, ark, ask, bad_vcek, NULL, 0, NOW, ERR),
			    "VCEK: certificate signature failure");
		EXPECT_FAIL(amd_chain_verify(p, ark, bad_ask, vcek, NULL, 0, NOW, ERR),
			    "ASK: certificate signature failure");
		/* A flipped byte of the ARK makes it another, unpinned certificate. */
		X509 *bad_ark = der_flip(ark, 3);
		EXPECT_FAIL(amd_chain_verify(p, bad_ark, ask, vcek, NULL, 0, NOW, ERR),
			    "not a pinned AMD root");
		/* Trusting it does not help: its self-signature is broken. */
		EXPECT_FAIL(amd_chain_verify(p, bad_ark, ask, vcek, &bad_ark, 1, NOW, ERR),
			    "ARK: not self-signed");
		X509_free(bad_vcek);
		X509_free(bad_ask);
		X509_free(bad_ark);
		X509_free(ark);
		X509_free(ask);
		X509_free(vcek);
	}
}
END_TEST

START_TEST(wrong_product_ask)
{
	X509 *gark = load(AMD, SNP_PRODUCT_GENOA, "ark.pem");
	X509 *gask = load(AMD, SNP_PRODUCT_GENOA, "ask.pem");
	X509 *mask = load(AMD, SNP_PRODUCT_MILAN, "ask.pem");
	X509 *mvcek = load(REPORTS, SNP_PRODUCT_MILAN, "vcek.der");
	X509 *tvcek = load(REPORTS, SNP_PRODUCT_TURIN, "vcek.der");
	/* A Milan VCEK under Genoa's ASK: the issuer names differ. */
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, gark, gask, mvcek, NULL, 0, NOW, ERR),
		    "VCEK: unable to get local issuer certificate");
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, gark, gask, tvcek, NULL, 0, NOW, ERR),
		    "VCEK:");
	/* Milan's ASK under Genoa's ARK. */
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, gark, mask, mvcek, NULL, 0, NOW, ERR),
		    "ASK:");
	X509_free(gark);
	X509_free(gask);
	X509_free(mask);
	X509_free(mvcek);
	X509_free(tvcek);
}
END_TEST

START_TEST(vcek_matches_report)
{
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		char path[PATH_MAX], err[256] = "";
		snprintf(path, sizeof(path), REPORTS "/%s/report.bin", lower[p]);
		size_t len;
		_cleanup_free_ uint8_t *rep = slurp(path, &len);
		ck_assert_uint_ge(len, 0x1E0);
		/* SNP ABI 1.57 table 23: REPORTED_TCB at 0x180 (u64 LE), CHIP_ID at 0x1A0 (64). */
		uint64_t raw = 0;
		for (int i = 7; i >= 0; i--)
			raw = raw << 8 | rep[0x180 + i];
		struct snp_tcb tcb;
		ck_assert_int_eq(snp_tcb_decode(p, raw, &tcb), 0);
		const uint8_t *chip = rep + 0x1A0;

		X509 *vcek = load(REPORTS, p, "vcek.der");
		struct amd_vek_ext e;
		ck_assert_msg(amd_vek_ext_parse(vcek, &e, err, sizeof(err)) == 0, "%s", err);
		ck_assert(!e.vlek);
		ck_assert_uint_eq(e.hwid_len, p == SNP_PRODUCT_TURIN ? 8 : 64);
		ck_assert_mem_eq(e.hwid, chip, e.hwid_len);
		ck_assert_int_eq(e.has_fmc, p == SNP_PRODUCT_TURIN);
		ck_assert_uint_eq(e.tcb.bootloader, tcb.bootloader);
		ck_assert_uint_eq(e.tcb.tee, tcb.tee);
		ck_assert_uint_eq(e.tcb.snp, tcb.snp);
		ck_assert_uint_eq(e.tcb.microcode, tcb.microcode);
		ck_assert_uint_eq(e.tcb.fmc, tcb.fmc);
		ck_assert_str_eq(e.product_name, p == SNP_PRODUCT_MILAN	  ? "Milan-B0"
						 : p == SNP_PRODUCT_GENOA ? "Genoa"
									  : "Turin");
		ck_assert_msg(amd_vek_check(&e, p, chip, &tcb, err, sizeof(err)) == 0, "%s: %s",
			      lower[p], err);

		/* Each mismatch is named. */
		uint8_t chip2[64];
		memcpy(chip2, chip, 64);
		chip2[p == SNP_PRODUCT_TURIN ? 7 : 63] ^= 1;
		EXPECT_FAIL(amd_vek_check(&e, p, chip2, &tcb, ERR), "hwID");
		if (p == SNP_PRODUCT_TURIN) { /* bytes past the 8 do not matter on Turin */
			memcpy(chip2, chip, 64);
			chip2[8] ^= 1;
			ck_assert_int_eq(amd_vek_check(&e, p, chip2, &tcb, NULL, 0), 0);
		}
		struct snp_tcb t2 = tcb;
		t2.snp++;
		EXPECT_FAIL(amd_vek_check(&e, p, chip, &t2, ERR), "snpSPL");
		t2 = tcb;
		t2.microcode ^= 0x80;
		EXPECT_FAIL(amd_vek_check(&e, p, chip, &t2, ERR), "ucodeSPL");
		t2 = tcb;
		t2.bootloader++;
		EXPECT_FAIL(amd_vek_check(&e, p, chip, &t2, ERR), "blSPL");
		t2 = tcb;
		t2.tee++;
		EXPECT_FAIL(amd_vek_check(&e, p, chip, &t2, ERR), "teeSPL");
		if (p == SNP_PRODUCT_TURIN) {
			t2 = tcb;
			t2.fmc++;
			EXPECT_FAIL(amd_vek_check(&e, p, chip, &t2, ERR), "fmcSPL");
		}
		enum snp_product other =
		    p == SNP_PRODUCT_GENOA ? SNP_PRODUCT_TURIN : SNP_PRODUCT_GENOA;
		EXPECT_FAIL(amd_vek_check(&e, other, chip, &tcb, ERR), "productName");
		X509_free(vcek);
	}
}
END_TEST

START_TEST(kds_chains)
{
	for (enum snp_product p = SNP_PRODUCT_MILAN; p <= SNP_PRODUCT_TURIN; p++) {
		char path[PATH_MAX], err[256] = "";
		X509 *ark = load(AMD, p, "ark.pem");
		/* VLEK chain as KDS serves it: ASVK then ARK. */
		snprintf(path, sizeof(path), AMD "/%s/vlek_chain.pem", lower[p]);
		size_t len;
		_cleanup_free_ uint8_t *pem = slurp(path, &len);
		X509 *asvk = NULL, *ark2 = NULL;
		ck_assert_msg(amd_cert_chain_parse(pem, len, &asvk, &ark2, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert_int_eq(X509_cmp(ark, ark2), 0);
		ck_assert_msg(
		    amd_chain_verify(p, ark2, asvk, NULL, NULL, 0, NOW, err, sizeof(err)) == 0,
		    "%s: %s", lower[p], err);

		/* VCEK cert_chain: ASK then ARK, assembled from the two files. */
		snprintf(path, sizeof(path), AMD "/%s/ask.pem", lower[p]);
		size_t alen, klen;
		_cleanup_free_ uint8_t *a = slurp(path, &alen);
		snprintf(path, sizeof(path), AMD "/%s/ark.pem", lower[p]);
		_cleanup_free_ uint8_t *k = slurp(path, &klen);
		_cleanup_free_ uint8_t *chain = malloc(alen + klen + 1);
		memcpy(chain, a, alen);
		chain[alen] = '\n';
		memcpy(chain + alen + 1, k, klen);
		X509 *ask = NULL, *ark3 = NULL;
		ck_assert_int_eq(amd_cert_chain_parse(chain, alen + klen + 1, &ask, &ark3, NULL, 0),
				 0);
		X509 *bogus = (X509 *)0x1;
		/* Wrong order, one certificate, three certificates, text before, garbage. */
		_cleanup_free_ uint8_t *rev = malloc(alen + klen);
		memcpy(rev, k, klen);
		memcpy(rev + klen, a, alen);
		EXPECT_FAIL(amd_cert_chain_parse(rev, alen + klen, &bogus, &bogus, ERR), "order");
		EXPECT_FAIL(amd_cert_chain_parse(a, alen, &bogus, &bogus, ERR), "want 2");
		_cleanup_free_ uint8_t *three = malloc(2 * alen + klen);
		memcpy(three, a, alen);
		memcpy(three + alen, a, alen);
		memcpy(three + 2 * alen, k, klen);
		EXPECT_FAIL(amd_cert_chain_parse(three, 2 * alen + klen, &bogus, &bogus, ERR),
			    "more than 2");
		chain[alen] = 'x';
		EXPECT_FAIL(amd_cert_chain_parse(chain, alen + klen + 1, &bogus, &bogus, ERR),
			    "text other than");
		EXPECT_FAIL(amd_cert_chain_parse(chain, alen - 30, &bogus, &bogus, ERR), "END");
		ck_assert_ptr_eq(bogus, (X509 *)0x1);
		X509_free(ark);
		X509_free(ark2);
		X509_free(ark3);
		X509_free(asvk);
		X509_free(ask);
	}
}
END_TEST

START_TEST(hostile_parse)
{
	X509 *bogus = (X509 *)0x1;
	X509_CRL *bcrl = (X509_CRL *)0x1;
	size_t len;
	_cleanup_free_ uint8_t *der = slurp(REPORTS "/genoa/vcek.der", &len);
	EXPECT_FAIL(amd_cert_parse(der, len - 1, &bogus, ERR), "not DER");
	EXPECT_FAIL(amd_cert_parse(der, 0, &bogus, ERR), "0 bytes");
	_cleanup_free_ uint8_t *more = malloc(len + 1);
	memcpy(more, der, len);
	more[len] = 0;
	EXPECT_FAIL(amd_cert_parse(more, len + 1, &bogus, ERR), "1 bytes after");
	EXPECT_FAIL(amd_cert_parse((const uint8_t *)"hello", 5, &bogus, ERR), "not DER");
	EXPECT_FAIL(amd_cert_parse((const uint8_t *)"-----BEGIN X", 12, &bogus, ERR), "PEM");
	_cleanup_free_ uint8_t *big = calloc(1, AMD_CERT_MAX_SIZE + 1);
	EXPECT_FAIL(amd_cert_parse(big, AMD_CERT_MAX_SIZE + 1, &bogus, ERR), "bytes, not in");
	EXPECT_FAIL(amd_crl_parse(der, len, &bcrl, ERR), "not a DER X.509 CRL");
	ck_assert_ptr_eq(bogus, (X509 *)0x1);
	ck_assert_ptr_eq(bcrl, (X509_CRL *)0x1);

	/* An ARK is not a VEK: no extensions. */
	X509 *ark = load(AMD, SNP_PRODUCT_GENOA, "ark.pem");
	struct amd_vek_ext e;
	EXPECT_FAIL(amd_vek_ext_parse(ark, &e, ERR), "structVersion");
	X509_free(ark);
}
END_TEST

/* A throwaway self-signed RSA-2048 "ARK" signed with the given digest and PSS salt (-1: PKCS#1
 * v1.5). */
static X509 *make_root(const char *md, int salt)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	ck_assert_ptr_nonnull(k);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365L * 40);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"ARK-Genoa", -1,
				   -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	ck_assert_int_eq(EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, k, NULL), 1);
	if (salt >= 0) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt);
		EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL);
	}
	ck_assert_int_gt(X509_sign_ctx(x, mctx), 0);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(k);
	return x;
}

START_TEST(signature_parameters)
{
	X509 *ask = load(AMD, SNP_PRODUCT_GENOA, "ask.pem");
	time_t now = time(NULL);
	struct {
		const char *md;
		int salt;
		const char *needle;
	} v[] = {
	    {"SHA384", -1, "not RSASSA-PSS"},
	    {"SHA384", 32, "salt length is 32"},
	    {"SHA256", 32, "PSS hash is not SHA-384"},
	    {"SHA384", 48, "ASK: "}, /* right parameters: now the ASK is not issued by it */
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		X509 *root = make_root(v[i].md, v[i].salt);
		/* Unpinned: refused unless trusted. */
		EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, root, ask, NULL, NULL, 0, now, ERR),
			    "not a pinned AMD root");
		EXPECT_FAIL(
		    amd_chain_verify(SNP_PRODUCT_GENOA, root, ask, NULL, &root, 1, now, ERR),
		    v[i].needle);
		X509_free(root);
	}
	X509_free(ask);
}
END_TEST

static struct emul_amd_pki *pki;

static void pki_setup(void)
{
	ck_assert(mkdir(PKI_CACHE_DIR, 0700) == 0 || errno == EEXIST);
	ck_assert_int_eq(emul_amd_pki_open(PKI_CACHE_DIR, SNP_PRODUCT_GENOA, &pki), 0);
}

static void pki_teardown(void)
{
	emul_amd_pki_free(pki);
	pki = NULL;
}

/* The CSP VLEK URL template (snp_vlek_url). */
START_TEST(tcb_url_template)
{
	char u[256];
	struct snp_tcb g = {.bootloader = 9, .tee = 1, .snp = 23, .microcode = 72};
	struct snp_tcb tu = {.fmc = 2, .bootloader = 3, .tee = 0, .snp = 5, .microcode = 77};
	uint64_t graw, traw;
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_GENOA, &g, &graw), 0);
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_TURIN, &tu, &traw), 0);
	ck_assert_int_eq(snp_tcb_url_expand("https://csp/v/{product}/{tcb}?bl={blSPL}&tee={teeSPL}"
					    "&snp={snpSPL}&uc={ucodeSPL}",
					    SNP_PRODUCT_GENOA, graw, u, sizeof(u)),
			 0);
	ck_assert_str_eq(u, "https://csp/v/Genoa/4817000000000109?bl=9&tee=1&snp=23&uc=72");
	ck_assert_int_eq(snp_tcb_url_expand("http://c/{product}?f={fmcSPL}&b={blSPL}",
					    SNP_PRODUCT_TURIN, traw, u, sizeof(u)),
			 0);
	ck_assert_str_eq(u, "http://c/Turin?f=2&b=3");
	/* Refused: fmcSPL off Turin, unknown/unterminated placeholders, no http(s), reserved
	 * TCB bytes, too long. */
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{fmcSPL}", SNP_PRODUCT_GENOA, graw, u,
					    sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{hwid}", SNP_PRODUCT_GENOA, graw, u,
					    sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{tcb", SNP_PRODUCT_GENOA, graw, u, sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("ftp://c/{tcb}", SNP_PRODUCT_GENOA, graw, u, sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{tcb}", SNP_PRODUCT_GENOA, graw | 0xff0000ull,
					    u, sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{tcb}", SNP_PRODUCT_UNKNOWN, graw, u,
					    sizeof(u)),
			 -EINVAL);
	ck_assert_int_eq(snp_tcb_url_expand("https://c/{tcb}", SNP_PRODUCT_GENOA, graw, u, 20),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(emulated)
{
	char err[256] = "";
	uint8_t chip[64];
	for (int i = 0; i < 64; i++)
		chip[i] = (uint8_t)(0xa0 + i);
	struct snp_tcb tcb = {.bootloader = 9, .tee = 0, .snp = 23, .microcode = 72};
	uint64_t raw;
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_GENOA, &tcb, &raw), 0);
	X509 *ark = emul_amd_pki_ark(pki), *ask = emul_amd_pki_ask(pki),
	     *asvk = emul_amd_pki_asvk(pki);
	X509 *vcek = NULL, *vlek = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, raw, NULL, &vcek), 0);
	ck_assert_int_eq(emul_amd_pki_vlek(pki, raw, NULL, &vlek), 0);
	time_t now = time(NULL);

	ck_assert_int_eq(amd_ark_pinned_product(ark), SNP_PRODUCT_UNKNOWN);
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, ark, ask, vcek, NULL, 0, now, ERR),
		    "not a pinned AMD root");
	ck_assert_msg(amd_chain_verify(SNP_PRODUCT_GENOA, ark, ask, vcek, &ark, 1, now, err,
				       sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(amd_chain_verify(SNP_PRODUCT_GENOA, ark, asvk, vlek, &ark, 1, now, err,
				       sizeof(err)) == 0,
		      "%s", err);
	/* The emulated VCEK under AMD's real Genoa chain, and a VLEK under the ASK. */
	X509 *rark = load(AMD, SNP_PRODUCT_GENOA, "ark.pem");
	X509 *rask = load(AMD, SNP_PRODUCT_GENOA, "ask.pem");
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, rark, rask, vcek, NULL, 0, now, ERR),
		    "VCEK: certificate signature failure");
	EXPECT_FAIL(amd_chain_verify(SNP_PRODUCT_GENOA, ark, ask, vlek, &ark, 1, now, ERR),
		    "VLEK:");

	struct amd_vek_ext e;
	ck_assert_int_eq(amd_vek_ext_parse(vcek, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(amd_vek_check(&e, SNP_PRODUCT_GENOA, chip, &tcb, err, sizeof(err)), 0);
	ck_assert_int_eq(amd_vek_ext_parse(vlek, &e, err, sizeof(err)), 0);
	ck_assert(e.vlek && e.hwid_len == 0 && e.csp_id[0]);
	ck_assert_int_eq(amd_vek_check(&e, SNP_PRODUCT_GENOA, NULL, &tcb, err, sizeof(err)), 0);

	/* CRL: fine, then stale, then signed by another key, then listing the ASK. */
	X509_CRL *crl = NULL;
	ck_assert_int_eq(emul_amd_pki_crl(pki, false, &crl), 0);
	X509 *certs[] = {ask, vcek};
	ck_assert_msg(amd_crl_check(crl, ark, certs, 2, now, err, sizeof(err)) == 0, "%s", err);
	EXPECT_FAIL(amd_crl_check(crl, ark, certs, 2, now + 8 * 86400, ERR), "nextUpdate");
	EXPECT_FAIL(amd_crl_check(crl, ark, certs, 2, now - 86400, ERR), "thisUpdate");
	/* Issued a few seconds after our clock reading: within the skew; beyond it: refused. */
	ck_assert_int_eq(amd_crl_check(crl, ark, certs, 2, now - 5, NULL, 0), 0);
	EXPECT_FAIL(amd_crl_check(crl, ark, certs, 2, now - AMD_CLOCK_SKEW_S - 2, ERR), "thisUpdate");
	EXPECT_FAIL(amd_crl_check(crl, rark, certs, 2, now, ERR), "signature does not verify");
	/* Through DER, as KDS serves it. */
	unsigned char *der = NULL;
	int dlen = i2d_X509_CRL(crl, &der);
	X509_CRL *crl2 = NULL;
	ck_assert_int_eq(amd_crl_parse(der, (size_t)dlen, &crl2, err, sizeof(err)), 0);
	ck_assert_int_eq(amd_crl_check(crl2, ark, certs, 2, now, err, sizeof(err)), 0);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	X509_CRL_free(crl2);

	ck_assert_int_eq(emul_amd_pki_revoke(pki, 0x20002), 0); /* the Genoa ASK's serial */
	ck_assert_int_eq(emul_amd_pki_crl(pki, false, &crl), 0);
	now = time(NULL); /* the new CRL's thisUpdate is its making: seconds after `now` above */
	EXPECT_FAIL(amd_crl_check(crl, ark, certs, 2, now, ERR), "(serial 0x020002) is revoked");
	ck_assert_int_eq(amd_crl_check(crl, ark, &vcek, 1, now, NULL, 0), 0);
	X509_CRL_free(crl);

	X509_free(rark);
	X509_free(rask);
	X509_free(vcek);
	X509_free(vlek);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snp-amdcert");
	TCase *tc = tcase_create("real");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, real_chains);
	tcase_add_test(tc, tcb_url_template);
	tcase_add_test(tc, wrong_product_ask);
	tcase_add_test(tc, vcek_matches_report);
	tcase_add_test(tc, kds_chains);
	tcase_add_test(tc, hostile_parse);
	tcase_add_test(tc, signature_parameters);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("emulated");
	/* The first run in a build tree makes the emulated key set: RSA-4096, seconds of CPU. */
	tcase_set_timeout(te, 300);
	tcase_add_checked_fixture(te, pki_setup, pki_teardown);
	tcase_add_test(te, emulated);
	suite_add_tcase(s, te);
	return run_suite(s);
}
