/* hv/emul/amdpki_x509.c: the certificates and CRLs of the emulated AMD PKI, shaped like AMD's
 * (fields read from the real ARK/ASK/ASVK in ../shared/testdata/snp/amd and the real VCEKs in
 * ../shared/testdata/snp/reports with `openssl asn1parse`). */
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "coco/util.h"
#include "hv/emul/amdpki_int.h"

/* CRL distribution points name an emulated KDS host, never AMD's (.invalid: RFC 2606), so a
 * verifier can never mix AMD's CRL with this root. Path shape as AMD's. */
#define EMUL_KDS_CRL_BASE "https://kds.emulated.invalid"

static void x509_freep(X509 **x) { X509_free(*x); }
static void ext_freep(X509_EXTENSION **e) { X509_EXTENSION_free(*e); }
static void asn1_octet_freep(ASN1_OCTET_STRING **s) { ASN1_OCTET_STRING_free(*s); }
static void asn1_object_freep(ASN1_OBJECT **o) { ASN1_OBJECT_free(*o); }
static void md_ctx_freep(EVP_MD_CTX **c) { EVP_MD_CTX_free(*c); }
static void crl_freep(X509_CRL **c) { X509_CRL_free(*c); }

const char *emul_amd_product_lower(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "milan";
	case SNP_PRODUCT_GENOA:
		return "genoa";
	case SNP_PRODUCT_TURIN:
		return "turin";
	default:
		return NULL;
	}
}

/* AMD's names, in AMD's order and string types: OU, C (PrintableString), L, ST, O, CN, all
 * others UTF8String (the real ARK-Genoa and SEV-VCEK certificates). */
int emul_amd_name(const char *cn, X509_NAME **ret)
{
	static const struct {
		int nid, type;
		const char *value;
	} rdns[] = {
		{NID_organizationalUnitName, V_ASN1_UTF8STRING, "Engineering"},
		{NID_countryName, V_ASN1_PRINTABLESTRING, "US"},
		{NID_localityName, V_ASN1_UTF8STRING, "Santa Clara"},
		{NID_stateOrProvinceName, V_ASN1_UTF8STRING, "CA"},
		{NID_organizationName, V_ASN1_UTF8STRING, "Advanced Micro Devices"},
	};
	X509_NAME *n = X509_NAME_new();
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(rdns); i++)
		if (!X509_NAME_add_entry_by_NID(n, rdns[i].nid, rdns[i].type,
						(const unsigned char *)rdns[i].value, -1, -1, 0))
			goto fail;
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
					(const unsigned char *)cn, -1, -1, 0))
		goto fail;
	*ret = n;
	return 0;
fail:
	X509_NAME_free(n);
	return -ENOMEM;
}

int emul_amd_sign_ctx(EVP_PKEY *key, EVP_MD_CTX **ret)
{
	/* AMD: RSASSA-PSS, SHA-384, MGF1 with SHA-384, salt length 48 (0x30), trailer 1. */
	_cleanup_(md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	if (!md)
		return -ENOMEM;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1)
		return -EIO;
	*ret = TAKE_PTR(md);
	return 0;
}

static int add_conf_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	_cleanup_(ext_freep) X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		return -EIO;
	return 0;
}

/* An extension whose extnValue holds `der` as is (AMD's private ones). */
static int add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	_cleanup_(asn1_object_freep) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	_cleanup_(asn1_octet_freep) ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	if (!obj || !os || len > INT_MAX || !ASN1_OCTET_STRING_set(os, der, (int)len))
		return -ENOMEM;
	_cleanup_(ext_freep) X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (!e || !X509_add_ext(x, e, -1))
		return -ENOMEM;
	return 0;
}

/* extnValue = DER INTEGER (structVersion, the SPLs: "02 01 xx" in the real VCEKs). */
static int add_int_ext(X509 *x, const char *oid, long v)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	int len = -1;
	if (i && ASN1_INTEGER_set(i, v))
		len = i2d_ASN1_INTEGER(i, &der);
	ASN1_INTEGER_free(i);
	if (len <= 0)
		return -ENOMEM;
	int r = add_raw_ext(x, oid, der, (size_t)len);
	OPENSSL_free(der);
	return r;
}

/* extnValue = DER IA5String (productName "16 05 Genoa", csp_id). */
static int add_ia5_ext(X509 *x, const char *oid, const char *s)
{
	ASN1_IA5STRING *str = ASN1_IA5STRING_new();
	unsigned char *der = NULL;
	int len = -1;
	if (str && ASN1_STRING_set(str, s, -1))
		len = i2d_ASN1_IA5STRING(str, &der);
	ASN1_IA5STRING_free(str);
	if (len <= 0)
		return -ENOMEM;
	int r = add_raw_ext(x, oid, der, (size_t)len);
	OPENSSL_free(der);
	return r;
}

static int cert_new(uint64_t serial, X509 *issuer, const char *cn, EVP_PKEY *pub, time_t nb,
		    time_t na, X509 **ret)
{
	_cleanup_(x509_freep) X509 *x = X509_new();
	X509_NAME *subject = NULL;
	if (!x || emul_amd_name(cn, &subject) < 0)
		return -ENOMEM;
	int ok = X509_set_version(x, X509_VERSION_3) &&
		 ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) &&
		 X509_set_subject_name(x, subject) &&
		 X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) &&
		 ASN1_TIME_set(X509_getm_notBefore(x), nb) &&
		 ASN1_TIME_set(X509_getm_notAfter(x), na) && X509_set_pubkey(x, pub);
	X509_NAME_free(subject);
	if (!ok)
		return -ENOMEM;
	*ret = TAKE_PTR(x);
	return 0;
}

static int cert_sign(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *md = NULL;
	int r = emul_amd_sign_ctx(key, &md);
	if (r < 0)
		return r;
	r = X509_sign_ctx(x, md) > 0 ? 0 : -EIO;
	EVP_MD_CTX_free(md);
	return r;
}

int emul_amd_ca_cert(enum snp_product p, enum emul_amd_ca which, EVP_PKEY *key, X509 *ark,
		     EVP_PKEY *ark_key, time_t nb, X509 **ret)
{
	const char *name = snp_product_name(p);
	if (!name)
		return -EINVAL;
	/* Serials as AMD numbered them: ARK 0x<gen>0000, ASK 0x<gen>0001 (Genoa's 0x20002),
	 * ASVK 0x<gen>0101. */
	uint64_t gen = (uint64_t)p << 16;
	char cn[32], crl[96];
	uint64_t serial;
	const char *kind = "vcek";
	switch (which) {
	case EMUL_AMD_ARK:
		snprintf(cn, sizeof(cn), "ARK-%s", name);
		serial = gen;
		break;
	case EMUL_AMD_ASK:
		snprintf(cn, sizeof(cn), "SEV-%s", name);
		serial = gen | (p == SNP_PRODUCT_GENOA ? 0x0002 : 0x0001);
		break;
	case EMUL_AMD_ASVK:
		snprintf(cn, sizeof(cn), "SEV-VLEK-%s", name);
		serial = gen | 0x0101;
		kind = "vlek";
		break;
	default:
		return -EINVAL;
	}
	snprintf(crl, sizeof(crl), "URI:%s/%s/v1/%s/crl", EMUL_KDS_CRL_BASE, kind, name);
	/* 25 years, as AMD's ARK/ASK/ASVK. */
	time_t na = nb + (time_t)(25 * 365 + 6) * 86400;
	_cleanup_(x509_freep) X509 *x = NULL;
	int r = cert_new(serial, which == EMUL_AMD_ARK ? NULL : ark, cn, key, nb, na, &x);
	if (r < 0)
		return r;
	if (which == EMUL_AMD_ARK) {
		/* ARK extension order: keyUsage, SKI, basicConstraints, CRL DP. */
		if ((r = add_conf_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
		    (r = add_conf_ext(x, x, NID_subject_key_identifier, "hash")) < 0 ||
		    (r = add_conf_ext(x, x, NID_basic_constraints, "critical,CA:TRUE")) < 0 ||
		    (r = add_conf_ext(x, x, NID_crl_distribution_points, crl)) < 0 ||
		    (r = cert_sign(x, key)) < 0)
			return r;
	} else {
		/* ASK/ASVK order: SKI, AKI (key id only), basicConstraints, keyUsage, CRL DP. */
		if ((r = add_conf_ext(x, ark, NID_subject_key_identifier, "hash")) < 0 ||
		    (r = add_conf_ext(x, ark, NID_authority_key_identifier, "keyid:always")) < 0 ||
		    (r = add_conf_ext(x, ark, NID_basic_constraints,
				      "critical,CA:TRUE,pathlen:0")) < 0 ||
		    (r = add_conf_ext(x, ark, NID_key_usage, "critical,keyCertSign")) < 0 ||
		    (r = add_conf_ext(x, ark, NID_crl_distribution_points, crl)) < 0 ||
		    (r = cert_sign(x, ark_key)) < 0)
			return r;
	}
	*ret = TAKE_PTR(x);
	return 0;
}

int emul_amd_ek_cert(enum snp_product p, bool vlek, const uint8_t *hwid, size_t hwid_len,
		     uint64_t tcb, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, time_t nb,
		     X509 **ret)
{
	struct snp_tcb t;
	int r = snp_tcb_decode(p, tcb, &t);
	if (r < 0)
		return r;
	/* The real VCEKs: serial 0, 7 years, no key usage / basic constraints / AKI. */
	time_t na = nb + (time_t)(7 * 365 + 2) * 86400;
	_cleanup_(x509_freep) X509 *x = NULL;
	if ((r = cert_new(0, issuer, vlek ? "SEV-VLEK" : "SEV-VCEK", key, nb, na, &x)) < 0)
		return r;
	/* 1.3.6.1.4.1.3704.1.1 structVersion: 0 on the Milan/Genoa VCEKs, 1 on Turin's.
	 * 1.2 productName (IA5String): "Milan-B0", "Genoa", "Turin" as on the real ones. */
	bool turin = p == SNP_PRODUCT_TURIN;
	const char *pname = p == SNP_PRODUCT_MILAN ? "Milan-B0" : snp_product_name(p);
	if ((r = add_int_ext(x, EMUL_OID_STRUCT_VERSION, turin ? 1 : 0)) < 0 ||
	    (r = add_ia5_ext(x, EMUL_OID_PRODUCT_NAME, pname)) < 0)
		return r;
	/* TCB extensions (INTEGER), in the real certificates' order. Milan/Genoa: blSPL,
	 * teeSPL, spl_4..7 (0), snpSPL, ucodeSPL. Turin: fmcSPL, blSPL, teeSPL, snpSPL,
	 * spl_5..7 (0), ucodeSPL — the real Turin VCEK carries no spl_4. */
	if (turin) {
		if ((r = add_int_ext(x, EMUL_OID_TCB ".9", t.fmc)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".1", t.bootloader)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".2", t.tee)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".3", t.snp)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".5", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".6", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".7", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".8", t.microcode)) < 0)
			return r;
	} else {
		if ((r = add_int_ext(x, EMUL_OID_TCB ".1", t.bootloader)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".2", t.tee)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".4", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".5", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".6", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".7", 0)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".3", t.snp)) < 0 ||
		    (r = add_int_ext(x, EMUL_OID_TCB ".8", t.microcode)) < 0)
			return r;
	}
	if (vlek) {
		/* 1.5 csp_id: the cloud provider's name, an IA5String. */
		if ((r = add_ia5_ext(x, EMUL_OID_CSP_ID, EMUL_AMD_CSP_ID)) < 0)
			return r;
	} else {
		/* 1.4 hwID: extnValue holds the raw chip id bytes (64; Turin 8), no inner tag. */
		if ((r = add_raw_ext(x, EMUL_OID_HWID, hwid, hwid_len)) < 0)
			return r;
	}
	if ((r = cert_sign(x, issuer_key)) < 0)
		return r;
	*ret = TAKE_PTR(x);
	return 0;
}

int emul_amd_build_crl(X509 *ark, EVP_PKEY *ark_key, const struct emul_amd_revoked *rev,
		       size_t n_rev, uint64_t number, time_t now, X509_CRL **ret)
{
	_cleanup_(crl_freep) X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t_this = ASN1_TIME_set(NULL, now);
	ASN1_TIME *t_next = ASN1_TIME_set(NULL, now + 7 * 86400);
	int ok = crl && t_this && t_next && X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
		 X509_CRL_set_issuer_name(crl, X509_get_subject_name(ark)) &&
		 X509_CRL_set1_lastUpdate(crl, t_this) && X509_CRL_set1_nextUpdate(crl, t_next);
	ASN1_TIME_free(t_this);
	ASN1_TIME_free(t_next);
	if (!ok)
		return -ENOMEM;
	for (size_t i = 0; i < n_rev; i++) {
		X509_REVOKED *rv = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ASN1_TIME *when = ASN1_TIME_set(NULL, rev[i].when);
		ok = rv && sn && when && ASN1_INTEGER_set_uint64(sn, rev[i].serial) &&
		     X509_REVOKED_set_serialNumber(rv, sn) &&
		     X509_REVOKED_set_revocationDate(rv, when) && X509_CRL_add0_revoked(crl, rv);
		ASN1_INTEGER_free(sn);
		ASN1_TIME_free(when);
		if (!ok) {
			X509_REVOKED_free(rv);
			return -ENOMEM;
		}
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ark, NULL, NULL, crl, 0);
	_cleanup_(ext_freep) X509_EXTENSION *aki =
		X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ok = aki && num && ASN1_INTEGER_set_uint64(num, number) && X509_CRL_add_ext(crl, aki, -1) &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) && X509_CRL_sort(crl);
	ASN1_INTEGER_free(num);
	if (!ok)
		return -ENOMEM;
	EVP_MD_CTX *md = NULL;
	int r = emul_amd_sign_ctx(ark_key, &md);
	if (r < 0)
		return r;
	r = X509_CRL_sign_ctx(crl, md) > 0 ? 0 : -EIO;
	EVP_MD_CTX_free(md);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(crl);
	return 0;
}

int emul_amd_ec_key_from_scalar(const BIGNUM *d, EVP_PKEY **ret)
{
	/* Public point Q = d·G on P-384 (EC_POINT is not deprecated; EC_KEY is). */
	int r = -ENOMEM;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
	EC_POINT *q = g ? EC_POINT_new(g) : NULL;
	BN_CTX *bn = BN_CTX_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *key = NULL;
	uint8_t pub[97];
	if (!g || !q || !bn || !bld)
		goto out;
	if (!EC_POINT_mul(g, q, d, NULL, NULL, bn) ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), bn) !=
		    sizeof(pub))
		goto out;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out;
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
		r = -EIO;
		goto out;
	}
	*ret = key;
	r = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_CTX_free(bn);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return r;
}
