/* The emulated AMD PKI and KDS (hv/emul/amdpki.h). Known answers come from AMD's real
 * certificates and reports in ../shared/testdata/snp (amd/<product>/{ark,ask,vlek_chain}.pem,
 * reports/<product>/{report.bin,vcek.der}): the emulated certificates must have the same
 * names, serials, extension lists and encodings, and a VCEK made for a real report's CHIP_ID
 * and REPORTED_TCB must carry exactly the real VCEK's hwID and TCB extension values.
 * RSA-4096 generation is slow, so main() creates the three products' PKIs once, in a
 * temporary directory, and every test (forked by Check) uses them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "tests/check_main.h"

#define TESTDATA SOURCE_DIR "/tests/data/snp"
/* SNP ABI 1.57, table 23 (ATTESTATION_REPORT): REPORTED_TCB at 0x180, CHIP_ID at 0x1A0. */
#define REPORT_REPORTED_TCB 0x180
#define REPORT_CHIP_ID 0x1A0

static char g_dir[64];
static struct emul_amd_pki *g_pki[4]; /* by enum snp_product */
static const char *const g_lower[4] = {NULL, "milan", "genoa", "turin"};
static const enum snp_product g_products[3] = {SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA,
					       SNP_PRODUCT_TURIN};

/* ---- helpers ---- */

static X509 *load_pem(const char *path, int index)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	X509 *x = NULL;
	for (int i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_X509(f, NULL, NULL, NULL);
		ck_assert_ptr_nonnull(x);
	}
	fclose(f);
	return x;
}

static X509 *load_testdata_cert(enum snp_product p, const char *name, int index)
{
	char path[512];
	snprintf(path, sizeof(path), TESTDATA "/amd/%s/%s", g_lower[p], name);
	return load_pem(path, index);
}

static X509 *load_real_vcek(enum snp_product p)
{
	char path[512];
	snprintf(path, sizeof(path), TESTDATA "/reports/%s/vcek.der", g_lower[p]);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f, "%s", path);
	X509 *x = d2i_X509_fp(f, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static void load_report(enum snp_product p, uint8_t chip_id[64], uint64_t *tcb)
{
	char path[512];
	uint8_t rep[1184];
	snprintf(path, sizeof(path), TESTDATA "/reports/%s/report.bin", g_lower[p]);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f, "%s", path);
	ck_assert_uint_eq(fread(rep, 1, sizeof(rep), f), sizeof(rep));
	fclose(f);
	memcpy(chip_id, rep + REPORT_CHIP_ID, 64);
	*tcb = 0;
	for (int i = 7; i >= 0; i--)
		*tcb = *tcb << 8 | rep[REPORT_REPORTED_TCB + i];
}

/* "oid,oid,..." of a certificate's extensions, in order. */
static void ext_list(X509 *x, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(X509_get_ext(x, i)), 1);
		strncat(out, oid, len - strlen(out) - 1);
		strncat(out, ",", len - strlen(out) - 1);
	}
}

static const ASN1_OCTET_STRING *ext_value(X509 *x, const char *oid)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int i = X509_get_ext_by_OBJ(x, o, -1);
	ASN1_OBJECT_free(o);
	return i < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(x, i));
}

static long ext_int(X509 *x, const char *oid)
{
	const ASN1_OCTET_STRING *v = ext_value(x, oid);
	ck_assert_msg(v, "no extension %s", oid);
	const unsigned char *p = ASN1_STRING_get0_data(v);
	ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(v));
	ck_assert_msg(i, "%s is not an INTEGER", oid);
	ck_assert_ptr_eq(p, ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
	long r = ASN1_INTEGER_get(i);
	ASN1_INTEGER_free(i);
	return r;
}

static int name_der(const X509_NAME *n, unsigned char **out)
{
	return i2d_X509_NAME((X509_NAME *)n, out);
}

static void assert_same_name(const X509_NAME *a, const X509_NAME *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = name_der(a, &da), lb = name_der(b, &db);
	ck_assert_int_gt(la, 0);
	ck_assert_int_eq(la, lb);
	ck_assert_mem_eq(da, db, (size_t)la);
	OPENSSL_free(da);
	OPENSSL_free(db);
}

static void assert_pss_sha384_48(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	ck_assert_int_eq(OBJ_obj2nid(obj), NID_rsassaPss);
	ck_assert_int_eq(ptype, V_ASN1_SEQUENCE);
	const ASN1_STRING *seq = pval;
	const unsigned char *p = ASN1_STRING_get0_data(seq);
	RSA_PSS_PARAMS *pss = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(seq));
	ck_assert_ptr_nonnull(pss);
	const ASN1_OBJECT *h;
	X509_ALGOR_get0(&h, NULL, NULL, pss->hashAlgorithm);
	ck_assert_int_eq(OBJ_obj2nid(h), NID_sha384);
	const void *mgf_param;
	X509_ALGOR_get0(&h, &ptype, &mgf_param, pss->maskGenAlgorithm);
	ck_assert_int_eq(OBJ_obj2nid(h), NID_mgf1);
	ck_assert_int_eq(ptype, V_ASN1_SEQUENCE);
	p = ASN1_STRING_get0_data(mgf_param);
	X509_ALGOR *mgf_hash = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(mgf_param));
	ck_assert_ptr_nonnull(mgf_hash);
	X509_ALGOR_get0(&h, NULL, NULL, mgf_hash);
	ck_assert_int_eq(OBJ_obj2nid(h), NID_sha384);
	X509_ALGOR_free(mgf_hash);
	ck_assert_int_eq(ASN1_INTEGER_get(pss->saltLength), 48);
	/* trailerField absent = 1 (the default), as on the Genoa/Turin VCEKs */
	ck_assert(!pss->trailerField || ASN1_INTEGER_get(pss->trailerField) == 1);
	RSA_PSS_PARAMS_free(pss);
}

/* X509_verify_cert: trusted ARK, untrusted intermediate, leaf; no X509_STRICT (AMD's VCEKs
 * lack an AKI). Returns the verify error (X509_V_OK = 0). */
static int verify_chain(X509 *ark, X509 *mid, X509 *leaf, X509_CRL *crl)
{
	X509_STORE *st = X509_STORE_new();
	ck_assert_int_eq(X509_STORE_add_cert(st, ark), 1);
	if (crl) {
		ck_assert_int_eq(X509_STORE_add_crl(st, crl), 1);
		/* the ARK's CRL covers what the ARK signs: check the leaf only */
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	if (mid)
		sk_X509_push(untrusted, mid);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
	int ok = X509_verify_cert(ctx);
	int err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	ck_assert(ok == 1 ? err == X509_V_OK : err != X509_V_OK);
	return err;
}

static void kds(enum snp_product p, const char *path, int want_status, uint8_t **body,
		size_t *len, const char **ct)
{
	int status = 0;
	ck_assert_int_eq(emul_kds_get(g_pki[p], path, &status, body, len, ct), 0);
	ck_assert_msg(status == want_status, "%s: status %d, want %d (%.*s)", path, status,
		      want_status, status == 200 ? 0 : (int)*len, *body);
}

static void fill_chip_id(uint8_t chip_id[64], uint8_t seed)
{
	for (int i = 0; i < 64; i++)
		chip_id[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* ---- ARK / ASK / ASVK ---- */

START_TEST(test_ca_like_amd)
{
	/* Names (DER, so string types and RDN order too), serials, key size, key usage, basic
	 * constraints and the extension list equal AMD's real ARK, ASK and ASVK. */
	enum snp_product p = g_products[_i];
	struct emul_amd_pki *pki = g_pki[p];
	X509 *mine[3] = {emul_amd_pki_ark(pki), emul_amd_pki_ask(pki), emul_amd_pki_asvk(pki)};
	X509 *real[3] = {load_testdata_cert(p, "ark.pem", 0), load_testdata_cert(p, "ask.pem", 0),
			 load_testdata_cert(p, "vlek_chain.pem", 0)};
	for (int i = 0; i < 3; i++) {
		assert_same_name(X509_get_subject_name(mine[i]), X509_get_subject_name(real[i]));
		assert_same_name(X509_get_issuer_name(mine[i]), X509_get_issuer_name(real[i]));
		ck_assert_int_eq(ASN1_INTEGER_cmp(X509_get0_serialNumber(mine[i]),
						  X509_get0_serialNumber(real[i])),
				 0);
		ck_assert_int_eq(X509_get_version(mine[i]), X509_VERSION_3);
		ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(mine[i])), 4096);
		ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(mine[i])), EVP_PKEY_RSA);
		ck_assert_uint_eq(X509_get_key_usage(mine[i]), X509_get_key_usage(real[i]));
		ck_assert_int_eq(X509_check_ca(mine[i]), X509_check_ca(real[i]));
		ck_assert_int_eq(X509_get_pathlen(mine[i]), X509_get_pathlen(real[i]));
		char a[512], b[512];
		ext_list(mine[i], a, sizeof(a));
		ext_list(real[i], b, sizeof(b));
		ck_assert_str_eq(a, b);
		assert_pss_sha384_48(X509_get0_tbs_sigalg(mine[i]));
		const X509_ALGOR *outer;
		X509_get0_signature(NULL, &outer, mine[i]);
		assert_pss_sha384_48(outer);
		X509_free(real[i]);
	}
	/* ARK self-signed; ASK and ASVK signed by it; ARK validity 25 years. */
	EVP_PKEY *ark_pub = X509_get0_pubkey(mine[0]);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(X509_verify(mine[i], ark_pub), 1);
	int days, secs;
	ck_assert(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(mine[0]),
				 X509_get0_notAfter(mine[0])));
	ck_assert_int_ge(days, 25 * 365);
	ck_assert_int_le(days, 25 * 365 + 7);
	/* CRL distribution point: AMD's path shape on an emulated (.invalid) host. */
	char want[128];
	snprintf(want, sizeof(want), "https://kds.emulated.invalid/vlek/v1/%s/crl",
		 snp_product_name(p));
	STACK_OF(DIST_POINT) *dps =
	    X509_get_ext_d2i(mine[2], NID_crl_distribution_points, NULL, NULL);
	ck_assert_ptr_nonnull(dps);
	GENERAL_NAME *gn =
	    sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
			 want);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}
END_TEST

/* ---- VCEK ---- */

START_TEST(test_vcek_matches_real_vcek)
{
	/* The known answer: for a real report's CHIP_ID and REPORTED_TCB the emulated VCEK has
	 * the real VCEK's subject/issuer names, extension list and, byte for byte, its
	 * structVersion, productName, TCB and hwID extension values (Turin: 8-byte hwID,
	 * fmcSPL, no spl_4). */
	enum snp_product p = g_products[_i];
	uint8_t chip_id[64];
	uint64_t tcb;
	load_report(p, chip_id, &tcb);
	EVP_PKEY *key = NULL;
	X509 *mine = NULL, *real = load_real_vcek(p);
	ck_assert_int_eq(emul_amd_pki_vcek(g_pki[p], chip_id, tcb, &key, &mine), 0);
	assert_same_name(X509_get_subject_name(mine), X509_get_subject_name(real));
	assert_same_name(X509_get_issuer_name(mine), X509_get_issuer_name(real));
	ck_assert_int_eq(ASN1_INTEGER_get(X509_get0_serialNumber(mine)), 0);
	char a[1024], b[1024];
	ext_list(mine, a, sizeof(a));
	ext_list(real, b, sizeof(b));
	ck_assert_str_eq(a, b);
	for (int i = 0; i < X509_get_ext_count(real); i++) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(X509_get_ext(real, i)), 1);
		const ASN1_OCTET_STRING *m = ext_value(mine, oid), *r = ext_value(real, oid);
		ck_assert_msg(m && ASN1_OCTET_STRING_cmp(m, r) == 0, "extension %s differs", oid);
	}
	ck_assert_int_eq(ASN1_STRING_length(ext_value(mine, "1.3.6.1.4.1.3704.1.4")),
			 (int)emul_amd_hwid_len(p));
	/* ECDSA P-384 key, the one handed back; 7 years; RSA-PSS SHA-384 salt 48. */
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(mine), key), 1);
	char group[32];
	ck_assert(EVP_PKEY_get_group_name(key, group, sizeof(group), NULL));
	ck_assert_str_eq(group, "secp384r1");
	int days, secs;
	ck_assert(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(mine), X509_get0_notAfter(mine)));
	ck_assert_int_ge(days, 7 * 365);
	ck_assert_int_le(days, 7 * 365 + 2);
	assert_pss_sha384_48(X509_get0_tbs_sigalg(mine));
	/* Chain: ARK -> ASK -> VCEK verifies; the ASVK is not its issuer. */
	struct emul_amd_pki *pki = g_pki[p];
	ck_assert_int_eq(verify_chain(emul_amd_pki_ark(pki), emul_amd_pki_ask(pki), mine, NULL),
			 X509_V_OK);
	ck_assert_int_ne(verify_chain(emul_amd_pki_ark(pki), emul_amd_pki_asvk(pki), mine, NULL),
			 X509_V_OK);
	/* and it does not chain to AMD's real ARK */
	X509 *amd_ark = load_testdata_cert(p, "ark.pem", 0);
	ck_assert_int_ne(verify_chain(amd_ark, emul_amd_pki_ask(pki), mine, NULL), X509_V_OK);
	X509_free(amd_ark);
	EVP_PKEY_free(key);
	X509_free(mine);
	X509_free(real);
}
END_TEST

START_TEST(test_vcek_values)
{
	/* Values above 127 encode as positive INTEGERs (02 02 00 D1), each TCB component lands
	 * in its own extension, and a signature made with the key verifies with the cert. */
	struct emul_amd_pki *pki = g_pki[SNP_PRODUCT_GENOA];
	struct snp_tcb t = {.bootloader = 3, .tee = 1, .snp = 20, .microcode = 209};
	uint64_t tcb;
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &tcb), 0);
	uint8_t chip_id[64];
	fill_chip_id(chip_id, 1);
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip_id, tcb, &key, &x), 0);
	ck_assert_int_eq(ext_int(x, "1.3.6.1.4.1.3704.1.3.1"), 3);
	ck_assert_int_eq(ext_int(x, "1.3.6.1.4.1.3704.1.3.2"), 1);
	ck_assert_int_eq(ext_int(x, "1.3.6.1.4.1.3704.1.3.3"), 20);
	ck_assert_int_eq(ext_int(x, "1.3.6.1.4.1.3704.1.3.8"), 209);
	ck_assert_int_eq(ext_int(x, "1.3.6.1.4.1.3704.1.3.4"), 0);
	const ASN1_OCTET_STRING *u = ext_value(x, "1.3.6.1.4.1.3704.1.3.8");
	ck_assert_int_eq(ASN1_STRING_length(u), 4);
	ck_assert_mem_eq(ASN1_STRING_get0_data(u), "\x02\x02\x00\xd1", 4);
	const ASN1_OCTET_STRING *hw = ext_value(x, "1.3.6.1.4.1.3704.1.4");
	ck_assert_int_eq(ASN1_STRING_length(hw), 64);
	ck_assert_mem_eq(ASN1_STRING_get0_data(hw), chip_id, 64);
	ck_assert_ptr_null(ext_value(x, "1.3.6.1.4.1.3704.1.3.9"));
	ck_assert_ptr_null(ext_value(x, "1.3.6.1.4.1.3704.1.5"));

	/* sign with the key, verify with the certificate's public key */
	static const char msg[] = "attestation report bytes";
	uint8_t sig[128];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key), 1);
	ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen, (const uint8_t *)msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, X509_get0_pubkey(x)),
			 1);
	ck_assert_int_eq(EVP_DigestVerify(md, sig, siglen, (const uint8_t *)msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);

	/* Turin: fmcSPL, 8-byte hwID. */
	struct snp_tcb tt = {.fmc = 2, .bootloader = 4, .tee = 5, .snp = 6, .microcode = 0xfe};
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_TURIN, &tt, &tcb), 0);
	X509 *tx = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(g_pki[SNP_PRODUCT_TURIN], chip_id, tcb, NULL, &tx), 0);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.3.9"), 2);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.3.1"), 4);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.3.2"), 5);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.3.3"), 6);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.3.8"), 0xfe);
	ck_assert_int_eq(ext_int(tx, "1.3.6.1.4.1.3704.1.1"), 1);
	ck_assert_ptr_null(ext_value(tx, "1.3.6.1.4.1.3704.1.3.4"));
	hw = ext_value(tx, "1.3.6.1.4.1.3704.1.4");
	ck_assert_int_eq(ASN1_STRING_length(hw), 8);
	ck_assert_mem_eq(ASN1_STRING_get0_data(hw), chip_id, 8);
	X509_free(tx);

	/* A TCB with reserved bytes set is refused, outputs untouched. */
	X509 *untouched = (X509 *)&msg;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip_id, tcb | 1ull << 20, NULL, &untouched),
			 -EINVAL);
	ck_assert_ptr_eq(untouched, (X509 *)&msg);
	EVP_PKEY_free(key);
	X509_free(x);
}
END_TEST

START_TEST(test_vcek_keys_deterministic)
{
	/* Same (chip, TCB): same key, also after reopening the directory (a restart); a
	 * different TCB or chip gives another key; Turin keys depend on the 8 hwid bytes only
	 * (what KDS can name). The ARK is the same after reopening. */
	struct emul_amd_pki *pki = g_pki[SNP_PRODUCT_GENOA];
	uint8_t chip[64], other[64];
	fill_chip_id(chip, 2);
	fill_chip_id(other, 3);
	struct snp_tcb t = {.bootloader = 9, .tee = 0, .snp = 23, .microcode = 72};
	uint64_t tcb, tcb2;
	snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &tcb);
	t.microcode = 73;
	snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &tcb2);
	EVP_PKEY *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL, *k5 = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, tcb, &k1, NULL), 0);
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, tcb2, &k2, NULL), 0);
	ck_assert_int_eq(emul_amd_pki_vcek(pki, other, tcb, &k3, NULL), 0);
	ck_assert_int_ne(EVP_PKEY_eq(k1, k2), 1);
	ck_assert_int_ne(EVP_PKEY_eq(k1, k3), 1);

	struct emul_amd_pki *again = NULL;
	ck_assert_int_eq(emul_amd_pki_open(g_dir, SNP_PRODUCT_GENOA, &again), 0);
	uint8_t fp1[32], fp2[32];
	unsigned n1, n2;
	X509_digest(emul_amd_pki_ark(pki), EVP_sha256(), fp1, &n1);
	X509_digest(emul_amd_pki_ark(again), EVP_sha256(), fp2, &n2);
	ck_assert_uint_eq(n1, 32);
	ck_assert_mem_eq(fp1, fp2, 32);
	ck_assert_int_eq(emul_amd_pki_vcek(again, chip, tcb, &k4, NULL), 0);
	ck_assert_int_eq(EVP_PKEY_eq(k1, k4), 1);
	emul_amd_pki_free(again);

	struct emul_amd_pki *turin = g_pki[SNP_PRODUCT_TURIN];
	uint8_t tchip[64];
	memcpy(tchip, chip, 64);
	tchip[40] ^= 0xff; /* beyond the 8 hwid bytes */
	struct snp_tcb tt = {.fmc = 1, .bootloader = 1, .snp = 2, .microcode = 0x47};
	uint64_t ttcb;
	snp_tcb_encode(SNP_PRODUCT_TURIN, &tt, &ttcb);
	EVP_PKEY *ta = NULL, *tb = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(turin, chip, ttcb, &ta, NULL), 0);
	ck_assert_int_eq(emul_amd_pki_vcek(turin, tchip, ttcb, &tb, NULL), 0);
	ck_assert_int_eq(EVP_PKEY_eq(ta, tb), 1);
	tchip[7] ^= 1;
	ck_assert_int_eq(emul_amd_pki_vcek(turin, tchip, ttcb, &k5, NULL), 0);
	ck_assert_int_ne(EVP_PKEY_eq(ta, k5), 1);
	/* more entries than the cache holds still give the same keys */
	for (int i = 0; i < 70; i++) {
		uint8_t c[64];
		fill_chip_id(c, (uint8_t)(100 + i));
		X509 *x = NULL;
		ck_assert_int_eq(emul_amd_pki_vcek(pki, c, tcb, NULL, &x), 0);
		X509_free(x);
	}
	EVP_PKEY *k6 = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, tcb, &k6, NULL), 0);
	ck_assert_int_eq(EVP_PKEY_eq(k1, k6), 1);
	EVP_PKEY *keys[] = {k1, k2, k3, k4, k5, ta, tb, k6};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		EVP_PKEY_free(keys[i]);
}
END_TEST

START_TEST(test_state_files)
{
	/* The set on disk: key files 0600, no staging directory left; a copy of the set opens
	 * with the same ARK; a key readable by others or a short secret is refused. */
	char path[256];
	struct stat st;
	for (int i = 0; i < 3; i++) {
		const char *lower = g_lower[g_products[i]];
		static const char *const keys[] = {"ark.key", "ask.key", "asvk.key",
						   "derive.secret", "vlek-wrap.key"};
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			snprintf(path, sizeof(path), "%s/emul-amd-%s/%s", g_dir, lower, keys[k]);
			ck_assert_int_eq(stat(path, &st), 0);
			ck_assert_uint_eq(st.st_mode & 0777, 0600);
		}
		snprintf(path, sizeof(path), "%s/emul-amd-%s/ark.pem", g_dir, lower);
		ck_assert_int_eq(stat(path, &st), 0);
	}
	DIR *d = opendir(g_dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			n++, ck_assert_msg(e->d_name[0] != '.', "left over: %s", e->d_name);
	closedir(d);
	ck_assert_int_eq(n, 3);

	char copy[64] = "/tmp/test_amdpki_copy.XXXXXX", cmd[512];
	ck_assert_ptr_nonnull(mkdtemp(copy));
	snprintf(cmd, sizeof(cmd), "cp -a %s/emul-amd-genoa %s/", g_dir, copy);
	ck_assert_int_eq(system(cmd), 0);
	struct emul_amd_pki *pki = NULL;
	ck_assert_int_eq(emul_amd_pki_open(copy, SNP_PRODUCT_GENOA, &pki), 0);
	ck_assert_int_eq(
	    X509_cmp(emul_amd_pki_ark(pki), emul_amd_pki_ark(g_pki[SNP_PRODUCT_GENOA])), 0);
	emul_amd_pki_free(pki);
	snprintf(path, sizeof(path), "%s/emul-amd-genoa/ask.key", copy);
	ck_assert_int_eq(chmod(path, 0640), 0);
	pki = (struct emul_amd_pki *)cmd;
	ck_assert_int_eq(emul_amd_pki_open(copy, SNP_PRODUCT_GENOA, &pki), -EPERM);
	ck_assert_ptr_eq(pki, (struct emul_amd_pki *)cmd);
	ck_assert_int_eq(chmod(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/emul-amd-genoa/derive.secret", copy);
	ck_assert_int_eq(truncate(path, 47), 0);
	ck_assert_int_eq(emul_amd_pki_open(copy, SNP_PRODUCT_GENOA, &pki), -EINVAL);
	/* a set of another product under this name does not pass for this one */
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s/emul-amd-genoa && cp -a %s/emul-amd-milan %s/emul-amd-genoa", copy,
		 g_dir, copy);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(emul_amd_pki_open(copy, SNP_PRODUCT_GENOA, &pki), -EINVAL);
	ck_assert_int_eq(emul_amd_pki_open(copy, SNP_PRODUCT_UNKNOWN, &pki), -EINVAL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", copy);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- VLEK ---- */

START_TEST(test_vlek_cert)
{
	/* CN=SEV-VLEK, issued by SEV-VLEK-<product>; csp_id IA5String, no hwID; ARK -> ASVK ->
	 * VLEK verifies and ARK -> ASK -> VLEK does not. */
	enum snp_product p = g_products[_i];
	struct emul_amd_pki *pki = g_pki[p];
	uint8_t chip[64];
	uint64_t tcb;
	load_report(p, chip, &tcb);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	ck_assert_int_eq(emul_amd_pki_vlek(pki, tcb, &key, &x), 0);
	char cn[64];
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	ck_assert_str_eq(cn, "SEV-VLEK");
	assert_same_name(X509_get_issuer_name(x), X509_get_subject_name(emul_amd_pki_asvk(pki)));
	ck_assert_ptr_null(ext_value(x, "1.3.6.1.4.1.3704.1.4"));
	const ASN1_OCTET_STRING *csp = ext_value(x, "1.3.6.1.4.1.3704.1.5");
	ck_assert_ptr_nonnull(csp);
	ck_assert_int_eq(ASN1_STRING_get0_data(csp)[0], V_ASN1_IA5STRING);
	/* TCB extensions as the VCEK's for the same TCB */
	X509 *real = load_real_vcek(p);
	for (int i = 0; i < X509_get_ext_count(real); i++) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(X509_get_ext(real, i)), 1);
		if (strncmp(oid, "1.3.6.1.4.1.3704.1.3.", 21) == 0)
			ck_assert_int_eq(
			    ASN1_OCTET_STRING_cmp(ext_value(x, oid), ext_value(real, oid)), 0);
	}
	X509_free(real);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	assert_pss_sha384_48(X509_get0_tbs_sigalg(x));
	ck_assert_int_eq(verify_chain(emul_amd_pki_ark(pki), emul_amd_pki_asvk(pki), x, NULL),
			 X509_V_OK);
	ck_assert_int_ne(verify_chain(emul_amd_pki_ark(pki), emul_amd_pki_ask(pki), x, NULL),
			 X509_V_OK);
	/* not the VCEK's key for any chip */
	EVP_PKEY *vcek = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(pki, chip, tcb, &vcek, NULL), 0);
	ck_assert_int_ne(EVP_PKEY_eq(vcek, key), 1);
	EVP_PKEY_free(vcek);
	EVP_PKEY_free(key);
	X509_free(x);
}
END_TEST

START_TEST(test_vlek_wrap_roundtrip)
{
	struct emul_amd_pki *pki = g_pki[SNP_PRODUCT_GENOA];
	struct snp_tcb t = {.bootloader = 10, .snp = 25, .microcode = 84};
	uint64_t tcb, platform_tcb;
	snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &tcb);
	t.snp = 26;
	snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &platform_tcb);
	uint8_t hs[EMUL_VLEK_HASHSTICK_SIZE], hs2[EMUL_VLEK_HASHSTICK_SIZE];
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb, hs), 0);
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb, hs2), 0);
	/* Layout (SNP ABI SNP_VLEK_LOAD): reserved zero, TCB_VERSION little-endian at 0x190. */
	static const uint8_t zero[8];
	ck_assert_mem_eq(hs + 0x0c, zero, 4);
	ck_assert_mem_eq(hs + 0x198, zero, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(hs[0x190 + i], (uint8_t)(tcb >> (8 * i)));
	ck_assert_mem_ne(hs, hs2, 12); /* fresh IV each time */

	EVP_PKEY *vlek = NULL, *k1 = NULL, *k2 = NULL;
	X509 *cert = NULL;
	ck_assert_int_eq(emul_amd_pki_vlek(pki, tcb, &vlek, &cert), 0);
	uint64_t got = 0, got2 = 0;
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(pki, hs, &got, &k1), 0);
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(pki, hs2, &got2, &k2), 0);
	ck_assert_uint_eq(got, tcb);
	ck_assert_uint_eq(got2, tcb);
	ck_assert_int_eq(EVP_PKEY_eq(k1, vlek), 1);
	ck_assert_int_eq(EVP_PKEY_eq(k2, X509_get0_pubkey(cert)), 1);
	/* the private half came back: sign with it, verify with the VLEK certificate */
	uint8_t sig[128];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, k1), 1);
	ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen, hs, 32), 1);
	EVP_MD_CTX_free(md);
	md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, X509_get0_pubkey(cert)),
			 1);
	ck_assert_int_eq(EVP_DigestVerify(md, sig, siglen, hs, 32), 1);
	EVP_MD_CTX_free(md);
	/* A hashstick for another TCB unwraps and reports its own TCB: the firmware (PSP)
	 * compares it with the platform's reported TCB and refuses the load. */
	ck_assert_uint_ne(got, platform_tcb);
	/* A hashstick wrapped for Genoa is not Milan's (another wrapping key). */
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(g_pki[SNP_PRODUCT_MILAN], hs, &got, NULL),
			 -EBADMSG);
	/* and on Turin its TCB_VERSION has bytes in Turin's reserved area (layout) */
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(g_pki[SNP_PRODUCT_TURIN], hs, &got, NULL),
			 -EINVAL);
	/* TCB with reserved bytes: refused when wrapping and when unwrapping */
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb | 1ull << 24, hs2), -EINVAL);
	EVP_PKEY_free(vlek);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	X509_free(cert);
}
END_TEST

START_TEST(test_vlek_every_bit_flip)
{
	/* Every single-bit flip of a hashstick is refused: -EINVAL in the reserved areas (and
	 * for TCB bytes that are reserved on this product), -EBADMSG everywhere else; outputs
	 * untouched. */
	struct emul_amd_pki *pki = g_pki[SNP_PRODUCT_GENOA];
	struct snp_tcb t = {.bootloader = 3, .snp = 20, .microcode = 209};
	uint64_t tcb;
	snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &tcb);
	uint8_t hs[EMUL_VLEK_HASHSTICK_SIZE];
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb, hs), 0);
	int n_inval = 0, n_badmsg = 0;
	for (size_t bit = 0; bit < 8 * sizeof(hs); bit++) {
		size_t byte = bit / 8;
		hs[byte] ^= (uint8_t)(1u << (bit % 8));
		uint64_t got = 0x5a5a;
		EVP_PKEY *key = (EVP_PKEY *)hs;
		int r = emul_amd_pki_unwrap_vlek(pki, hs, &got, &key);
		bool reserved = (byte >= 0x0c && byte < 0x10) || (byte >= 0x198 && byte < 0x1a0) ||
				(byte >= 0x192 && byte < 0x196); /* Genoa TCB bytes 2-5 */
		ck_assert_msg(r == (reserved ? -EINVAL : -EBADMSG), "bit %zu: %d", bit, r);
		ck_assert_uint_eq(got, 0x5a5a);
		ck_assert_ptr_eq(key, (EVP_PKEY *)hs);
		n_inval += r == -EINVAL;
		n_badmsg += r == -EBADMSG;
		hs[byte] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_int_eq(n_inval, 8 * (4 + 8 + 4));
	ck_assert_int_eq(n_badmsg, 8 * 432 - n_inval);
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(pki, hs, NULL, NULL), 0);
	/* all zeros: a valid layout, not an authentic hashstick */
	uint8_t zero[EMUL_VLEK_HASHSTICK_SIZE] = {0};
	ck_assert_int_eq(emul_amd_pki_unwrap_vlek(pki, zero, NULL, NULL), -EBADMSG);
}
END_TEST

/* ---- KDS ---- */

static void vcek_path(char *out, size_t len, const char *product, const uint8_t *hwid,
		      size_t hwid_len, const char *query)
{
	char hex[129];
	hex_encode(hwid, hwid_len, hex);
	snprintf(out, len, "/vcek/v1/%s/%s%s", product, hex, query);
}

START_TEST(test_kds_vcek)
{
	/* 200 with the DER VCEK for (hwid, SPLs): the same certificate fields and key as
	 * emul_amd_pki_vcek gives for that chip and TCB; hex case does not matter. */
	uint8_t chip[64];
	uint64_t tcb;
	load_report(SNP_PRODUCT_GENOA, chip, &tcb);
	char path[512];
	vcek_path(path, sizeof(path), "Genoa", chip, 64,
		  "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84");
	uint8_t *body = NULL;
	size_t len = 0;
	const char *ct = NULL;
	kds(SNP_PRODUCT_GENOA, path, 200, &body, &len, &ct);
	ck_assert_str_eq(ct, "application/pkix-cert");
	const uint8_t *p = body;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_eq(p, body + len);
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(emul_amd_pki_vcek(g_pki[SNP_PRODUCT_GENOA], chip, tcb, &key, NULL), 0);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	X509 *real = load_real_vcek(SNP_PRODUCT_GENOA);
	for (int i = 0; i < X509_get_ext_count(real); i++) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(X509_get_ext(real, i)), 1);
		ck_assert_int_eq(ASN1_OCTET_STRING_cmp(ext_value(x, oid), ext_value(real, oid)), 0);
	}
	X509_free(real);
	free(body);
	/* parameters in another order, upper-case hex: same key */
	for (char *c = path; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	vcek_path(path, sizeof(path), "Genoa", chip, 64,
		  "?ucodeSPL=84&snpSPL=25&blSPL=10&teeSPL=0");
	kds(SNP_PRODUCT_GENOA, path, 200, &body, &len, &ct);
	p = body;
	X509 *y = d2i_X509(NULL, &p, (long)len);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(y), key), 1);
	X509_free(y);
	free(body);
	X509_free(x);
	EVP_PKEY_free(key);

	/* Turin: 16 hex digits and fmcSPL, as the real Turin report's VCEK */
	load_report(SNP_PRODUCT_TURIN, chip, &tcb);
	vcek_path(path, sizeof(path), "Turin", chip, 8,
		  "?fmcSPL=0&blSPL=1&teeSPL=0&snpSPL=2&ucodeSPL=71");
	kds(SNP_PRODUCT_TURIN, path, 200, &body, &len, &ct);
	p = body;
	x = d2i_X509(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(x);
	real = load_real_vcek(SNP_PRODUCT_TURIN);
	char a[1024], b[1024];
	ext_list(x, a, sizeof(a));
	ext_list(real, b, sizeof(b));
	ck_assert_str_eq(a, b);
	for (int i = 0; i < X509_get_ext_count(real); i++) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(X509_get_ext(real, i)), 1);
		ck_assert_int_eq(ASN1_OCTET_STRING_cmp(ext_value(x, oid), ext_value(real, oid)), 0);
	}
	X509_free(real);
	X509_free(x);
	free(body);
}
END_TEST

START_TEST(test_kds_chain_and_crl)
{
	struct emul_amd_pki *pki = g_pki[SNP_PRODUCT_MILAN];
	uint8_t *body = NULL;
	size_t len = 0;
	const char *ct = NULL;
	/* cert_chain: PEM, ASK (or ASVK) first, then ARK */
	for (int vlek = 0; vlek < 2; vlek++) {
		char path[64];
		snprintf(path, sizeof(path), "/%s/v1/Milan/cert_chain", vlek ? "vlek" : "vcek");
		kds(SNP_PRODUCT_MILAN, path, 200, &body, &len, &ct);
		ck_assert_str_eq(ct, "application/x-pem-file");
		BIO *b = BIO_new_mem_buf(body, (int)len);
		X509 *first = PEM_read_bio_X509(b, NULL, NULL, NULL);
		X509 *second = PEM_read_bio_X509(b, NULL, NULL, NULL);
		X509 *third = PEM_read_bio_X509(b, NULL, NULL, NULL);
		ck_assert_ptr_nonnull(first);
		ck_assert_ptr_nonnull(second);
		ck_assert_ptr_null(third);
		ck_assert_int_eq(
		    X509_cmp(first, vlek ? emul_amd_pki_asvk(pki) : emul_amd_pki_ask(pki)), 0);
		ck_assert_int_eq(X509_cmp(second, emul_amd_pki_ark(pki)), 0);
		X509_free(first);
		X509_free(second);
		BIO_free(b);
		free(body);
	}
	/* crl: DER, issued and signed (RSA-PSS SHA-384/48) by the ARK, with nextUpdate */
	kds(SNP_PRODUCT_MILAN, "/vcek/v1/Milan/crl", 200, &body, &len, &ct);
	ck_assert_str_eq(ct, "application/pkix-crl");
	const uint8_t *p = body;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(crl);
	ck_assert_ptr_eq(p, body + len);
	free(body);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(emul_amd_pki_ark(pki))), 1);
	assert_same_name(X509_CRL_get_issuer(crl), X509_get_subject_name(emul_amd_pki_ark(pki)));
	const X509_ALGOR *alg;
	X509_CRL_get0_signature(crl, NULL, &alg);
	assert_pss_sha384_48(alg);
	ck_assert_ptr_nonnull(X509_CRL_get0_nextUpdate(crl));
	int days, secs;
	ck_assert(ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(crl),
				 X509_CRL_get0_nextUpdate(crl)));
	ck_assert_int_eq(days, 7);
	ck_assert_ptr_null(X509_CRL_get_REVOKED(crl)); /* no entries yet */

	/* With that CRL the ASK checks out; after the ASK (0x10001) is revoked the new CRL
	 * lists it and the ASK fails as revoked. */
	ck_assert_int_eq(verify_chain(emul_amd_pki_ark(pki), NULL, emul_amd_pki_ask(pki), crl),
			 X509_V_OK);
	X509_CRL_free(crl);
	ck_assert_int_eq(emul_amd_pki_revoke(pki, 0x10001), 0);
	ck_assert_int_eq(emul_amd_pki_revoke(pki, 0x10001), 0); /* once is enough */
	kds(SNP_PRODUCT_MILAN, "/vlek/v1/Milan/crl", 200, &body, &len, &ct);
	p = body;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	free(body);
	ck_assert_ptr_nonnull(crl);
	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	X509_REVOKED *rv = NULL;
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &rv, emul_amd_pki_ask(pki)), 1);
	ck_assert_int_eq(verify_chain(emul_amd_pki_ark(pki), NULL, emul_amd_pki_ask(pki), crl),
			 X509_V_ERR_CERT_REVOKED);
	ck_assert_int_eq(verify_chain(emul_amd_pki_ark(pki), NULL, emul_amd_pki_asvk(pki), crl),
			 X509_V_OK);
	X509_CRL_free(crl);
}
END_TEST

START_TEST(test_kds_refusals)
{
	/* 400 for what KDS refuses as a bad request, 404 for what it does not have; a one-line
	 * text body says why. */
#define G64                                                                                        \
	"d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102a"                         \
	"dbc7c53d0302bff82a432c94a305dec7a7a270ceb19a10f04a83316c6486968d"
	static const char spl[] = "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84";
	static const struct {
		enum snp_product p;
		const char *path, *query;
		int status;
		const char *why;
	} cases[] = {
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/", G64, 400, "missing SPL parameters"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL=0&snpSPL=25", 400,
	     "missing SPL parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=256",
	     400, "SPL out of range"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=-1",
	     400, "SPL not a decimal number"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64,
	     "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=", 400, "SPL out of range"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=0x1",
	     400, "SPL not a decimal number"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64,
	     "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84&blSPL=10", 400, "repeated query parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64,
	     "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84&fmcSPL=0", 400, "unknown query parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64,
	     "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84&x=1", 400, "unknown query parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84&",
	     400, "malformed query parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/" G64, "?blSPL=10&teeSPL&snpSPL=25&ucodeSPL=84",
	     400, "malformed query parameter"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/3b42092f69c656d3", spl, 400,
	     "hwid has the wrong length for this product"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/", "g?", 400, NULL}, /* odd length */
	    {SNP_PRODUCT_TURIN, "/vcek/v1/Turin/3b42092f69c656d3", spl, 400,
	     "missing SPL parameter"},
	    {SNP_PRODUCT_TURIN, "/vcek/v1/Turin/", G64, 400,
	     "hwid has the wrong length for this product"},
	    {SNP_PRODUCT_TURIN, "/vcek/v1/Turin/3b42092f69c656zz",
	     "?fmcSPL=0&blSPL=1&teeSPL=0&snpSPL=2&ucodeSPL=71", 400, "hwid is not hexadecimal"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Atlantis/cert_chain", "", 400, "unknown product"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/genoa/cert_chain", "", 400, "unknown product"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Bergamo/cert_chain", "", 400, "unknown product"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/cert_chain", "?x=1", 400, "unexpected query"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/crl", "?", 400, "unexpected query"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Milan/cert_chain", "", 404,
	     "product not served by this emulated KDS"},
	    {SNP_PRODUCT_GENOA, "/vlek/v1/Genoa/", G64, 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/vcek/v2/Genoa/cert_chain", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/cert_chain/", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1//cert_chain", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "//vcek/v1/Genoa/cert_chain", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "vcek/v1/Genoa/cert_chain", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/vcek/v1/Genoa/cert_chain/x", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/ask/v1/Genoa/cert_chain", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "/", "", 404, "not found"},
	    {SNP_PRODUCT_GENOA, "", "", 404, "not found"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s%s", cases[i].path, cases[i].query);
		uint8_t *body = NULL;
		size_t len = 0;
		const char *ct = NULL;
		kds(cases[i].p, path, cases[i].status, &body, &len, &ct);
		ck_assert_str_eq(ct, "text/plain");
		ck_assert_uint_eq(strlen((char *)body), len);
		if (cases[i].why)
			ck_assert_msg(streq((char *)body, cases[i].why), "%s: '%s'", path, body);
		free(body);
	}
	/* longer than any KDS path: 400, and nothing read past it */
	char *huge = malloc(4096);
	memset(huge, 'a', 4095);
	huge[0] = '/';
	huge[4095] = '\0';
	uint8_t *body = NULL;
	size_t len;
	const char *ct;
	kds(SNP_PRODUCT_GENOA, huge, 400, &body, &len, &ct);
	free(body);
	free(huge);
	int status;
	ck_assert_int_eq(emul_kds_get(g_pki[SNP_PRODUCT_GENOA], NULL, &status, &body, &len, &ct),
			 -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("amdpki");
	TCase *tc = tcase_create("pki");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_ca_like_amd, 0, 3);
	tcase_add_loop_test(tc, test_vcek_matches_real_vcek, 0, 3);
	tcase_add_test(tc, test_vcek_values);
	tcase_add_test(tc, test_vcek_keys_deterministic);
	tcase_add_test(tc, test_state_files);
	tcase_add_loop_test(tc, test_vlek_cert, 0, 3);
	tcase_add_test(tc, test_vlek_wrap_roundtrip);
	tcase_add_test(tc, test_vlek_every_bit_flip);
	tcase_add_test(tc, test_kds_vcek);
	tcase_add_test(tc, test_kds_chain_and_crl);
	tcase_add_test(tc, test_kds_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/test_amdpki.XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++) {
		int r = emul_amd_pki_open(g_dir, g_products[i], &g_pki[g_products[i]]);
		if (r < 0) {
			fprintf(stderr, "emul_amd_pki_open(%s): %s\n", g_lower[g_products[i]],
				strerror(-r));
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("3 PKIs (9 RSA-4096 keys) generated in %.2f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	int rc = run_suite(suite());
	for (int i = 0; i < 3; i++)
		emul_amd_pki_free(g_pki[g_products[i]]);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
