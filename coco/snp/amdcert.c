/* AMD SEV-SNP certificate checks; see amdcert.h for the contract and the AMD documents. */
#include "coco/snp/amdcert.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "coco/util.h"

/* SHA-256 of the DER of AMD's real ARKs, computed here from tests/data/snp/amd/<product>/ark.pem
 * (`openssl x509 -in ark.pem -outform DER | sha256sum`), which are the roots KDS serves at
 * https://kdsintf.amd.com/vcek/v1/<Product>/cert_chain. ARK-Milan serial 0x10000,
 * ARK-Genoa 0x20000, ARK-Turin 0x30000. */
static const struct {
	enum snp_product product;
	uint8_t sha256[AMD_FINGERPRINT_SIZE];
} pinned_arks[] = {
    {SNP_PRODUCT_MILAN, {0x69, 0xd0, 0x63, 0xb4, 0x53, 0x44, 0xd2, 0x6a, 0x2e, 0x94, 0xe1,
			 0xf4, 0x21, 0x0d, 0xe4, 0x9e, 0xf5, 0x55, 0x30, 0x82, 0x87, 0xd4,
			 0xc1, 0x74, 0x44, 0x5c, 0x95, 0x63, 0x9a, 0x54, 0x0b, 0xcd}},
    {SNP_PRODUCT_GENOA, {0x4c, 0x65, 0x98, 0xd1, 0x9c, 0x18, 0x71, 0x9c, 0x5d, 0xfd, 0x4a,
			 0x7d, 0x33, 0x5f, 0x67, 0x4e, 0x5b, 0xfe, 0x1d, 0x8f, 0x80, 0x0c,
			 0xea, 0x2c, 0xf2, 0x70, 0xc1, 0x0d, 0x10, 0x3d, 0xb2, 0xf1}},
    {SNP_PRODUCT_TURIN, {0x1f, 0x08, 0x41, 0x61, 0xa4, 0x4b, 0xb6, 0xd9, 0x37, 0x78, 0xa9,
			 0x04, 0x87, 0x7d, 0x48, 0x19, 0xca, 0xfa, 0x5d, 0x05, 0xef, 0x41,
			 0x93, 0xb2, 0xde, 0xd9, 0xdd, 0x9c, 0x73, 0xdd, 0x3f, 0x6a}},
};

/* VCEK spec 57230 table 8 / VLEK spec 57229: the extension OIDs. */
#define OID_STRUCT_VERSION "1.3.6.1.4.1.3704.1.1"
#define OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define OID_HWID "1.3.6.1.4.1.3704.1.4"
#define OID_CSP_ID "1.3.6.1.4.1.3704.1.5"

/* AMD's signature parameters (57230 section 2.2): RSASSA-PSS, SHA-384, MGF1 SHA-384, salt 48. */
#define AMD_PSS_SALT 48

static void biop(BIO **p)
{
	BIO_free(*p);
}
static void asn1_objectp(ASN1_OBJECT **p)
{
	ASN1_OBJECT_free(*p);
}
static void asn1_typep(ASN1_TYPE **p)
{
	ASN1_TYPE_free(*p);
}
static void asn1_integerp(ASN1_INTEGER **p)
{
	ASN1_INTEGER_free(*p);
}
static void pss_paramsp(RSA_PSS_PARAMS **p)
{
	RSA_PSS_PARAMS_free(*p);
}
static void x509_storep(X509_STORE **p)
{
	X509_STORE_free(*p);
}
static void x509_store_ctxp(X509_STORE_CTX **p)
{
	X509_STORE_CTX_free(*p);
}
static void sk_x509p(STACK_OF(X509) * *p)
{
	sk_X509_free(*p);
}
static void x509_algorp(X509_ALGOR **p)
{
	X509_ALGOR_free(*p);
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const uint8_t *skip_space(const uint8_t *p, const uint8_t *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(end - p) < n)
		return NULL;
	return memmem(p, (size_t)(end - p), s, n);
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

/* Split PEM text into at most max CERTIFICATE blocks with only whitespace between and around
 * them (OpenSSL's reader would skip any text before a block). */
static int pem_certs(const uint8_t *buf, size_t len, X509 **out, size_t max, size_t *ret_n,
		     char *err, size_t errlen)
{
	const uint8_t *p = buf, *end = buf + len;
	size_t n = 0;
	int r = 0;

	for (p = skip_space(p, end); p < end; p = skip_space(p, end)) {
		const uint8_t *e;
		if ((size_t)(end - p) < strlen(PEM_BEGIN) ||
		    memcmp(p, PEM_BEGIN, strlen(PEM_BEGIN)) != 0) {
			r = set_error(err, errlen, -EBADMSG,
				      "PEM: text other than CERTIFICATE blocks at byte %zu",
				      (size_t)(p - buf));
			goto fail;
		}
		if (!(e = find(p, end, PEM_END))) {
			r = set_error(err, errlen, -EBADMSG, "PEM: certificate %zu has no END line",
				      n + 1);
			goto fail;
		}
		e += strlen(PEM_END);
		if (n == max) {
			r = set_error(err, errlen, -EBADMSG, "PEM: more than %zu certificate%s",
				      max, max == 1 ? "" : "s");
			goto fail;
		}
		_cleanup_(biop) BIO *bio = BIO_new_mem_buf(p, (int)(e - p));
		if (!bio) {
			r = set_error(err, errlen, -ENOMEM, "PEM: out of memory");
			goto fail;
		}
		out[n] = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		ERR_clear_error();
		if (!out[n]) {
			r = set_error(err, errlen, -EBADMSG,
				      "PEM: certificate %zu does not parse as X.509", n + 1);
			goto fail;
		}
		n++;
		p = e;
	}
	*ret_n = n;
	return 0;
fail:
	while (n)
		X509_free(out[--n]);
	return r;
}

static bool looks_pem(const uint8_t *buf, size_t len)
{
	const uint8_t *p = skip_space(buf, buf + len);
	return (size_t)(buf + len - p) >= 5 && memcmp(p, "-----", 5) == 0;
}

int amd_cert_parse(const uint8_t *buf, size_t len, X509 **ret, char *err, size_t errlen)
{
	if (!buf || !ret)
		return set_error(err, errlen, -EINVAL, "certificate: invalid arguments");
	if (len == 0 || len > AMD_CERT_MAX_SIZE)
		return set_error(err, errlen, -EBADMSG, "certificate: %zu bytes, not in 1..%u", len,
				 AMD_CERT_MAX_SIZE);
	if (looks_pem(buf, len)) {
		X509 *c[1];
		size_t n;
		int r = pem_certs(buf, len, c, 1, &n, err, errlen);
		if (r < 0)
			return r;
		if (n != 1)
			return set_error(err, errlen, -EBADMSG, "PEM: no certificate");
		*ret = c[0];
		return 0;
	}
	const unsigned char *p = buf;
	X509 *c = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	if (!c)
		return set_error(err, errlen, -EBADMSG, "certificate: not DER X.509 nor PEM");
	if (p != buf + len) {
		X509_free(c);
		return set_error(err, errlen, -EBADMSG,
				 "certificate: %zu bytes after the DER certificate",
				 (size_t)(buf + len - p));
	}
	*ret = c;
	return 0;
}

int amd_cert_chain_parse(const uint8_t *pem, size_t len, X509 **ret_ask, X509 **ret_ark, char *err,
			 size_t errlen)
{
	X509 *c[2];
	size_t n;
	if (!pem || !ret_ask || !ret_ark)
		return set_error(err, errlen, -EINVAL, "cert_chain: invalid arguments");
	if (len == 0 || len > AMD_CERT_MAX_SIZE)
		return set_error(err, errlen, -EBADMSG, "cert_chain: %zu bytes, not in 1..%u", len,
				 AMD_CERT_MAX_SIZE);
	int r = pem_certs(pem, len, c, 2, &n, err, errlen);
	if (r < 0)
		return r;
	if (n != 2) {
		while (n)
			X509_free(c[--n]);
		return set_error(err, errlen, -EBADMSG,
				 "cert_chain: %zu certificate(s), want 2 (ASK or ASVK, then ARK)",
				 n);
	}
	/* KDS order (57230 section 4.2): ASK/ASVK first, then the ARK that issued it. */
	if (X509_NAME_cmp(X509_get_subject_name(c[1]), X509_get_issuer_name(c[1])) != 0 ||
	    X509_NAME_cmp(X509_get_issuer_name(c[0]), X509_get_subject_name(c[1])) != 0) {
		X509_free(c[0]);
		X509_free(c[1]);
		return set_error(
		    err, errlen, -EBADMSG,
		    "cert_chain: not (ASK issued by ARK, self-issued ARK) in that order");
	}
	*ret_ask = c[0];
	*ret_ark = c[1];
	return 0;
}

int amd_crl_parse(const uint8_t *der, size_t len, X509_CRL **ret, char *err, size_t errlen)
{
	if (!der || !ret)
		return set_error(err, errlen, -EINVAL, "CRL: invalid arguments");
	if (len == 0 || len > AMD_CRL_MAX_SIZE)
		return set_error(err, errlen, -EBADMSG, "CRL: %zu bytes, not in 1..%u", len,
				 AMD_CRL_MAX_SIZE);
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	ERR_clear_error();
	if (!crl)
		return set_error(err, errlen, -EBADMSG, "CRL: not a DER X.509 CRL");
	if (p != der + len) {
		X509_CRL_free(crl);
		return set_error(err, errlen, -EBADMSG, "CRL: %zu bytes after the DER CRL",
				 (size_t)(der + len - p));
	}
	*ret = crl;
	return 0;
}

int amd_cert_fingerprint(const X509 *cert, uint8_t ret[AMD_FINGERPRINT_SIZE])
{
	unsigned char *der = NULL;
	if (!cert || !ret)
		return -EINVAL;
	int len = i2d_X509(cert, &der);
	if (len <= 0)
		return -ENOMEM;
	SHA256(der, (size_t)len, ret);
	OPENSSL_free(der);
	return 0;
}

enum snp_product amd_ark_pinned_product(const X509 *ark)
{
	uint8_t fp[AMD_FINGERPRINT_SIZE];
	if (amd_cert_fingerprint(ark, fp) < 0)
		return SNP_PRODUCT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(pinned_arks); i++)
		if (memcmp(fp, pinned_arks[i].sha256, sizeof(fp)) == 0)
			return pinned_arks[i].product;
	return SNP_PRODUCT_UNKNOWN;
}

/* An AlgorithmIdentifier hash (or MGF1's hash) is SHA-384, parameters absent or NULL. */
static bool alg_is_sha384(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	if (!a)
		return false;
	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	return OBJ_obj2nid(obj) == NID_sha384 && (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

/* AMD's signature algorithm exactly (57230 section 2.2): RSASSA-PSS (RFC 4055) with
 * hashAlgorithm SHA-384, maskGenAlgorithm MGF1 with SHA-384, saltLength 48, trailerField 1. */
static int check_pss(const X509_ALGOR *alg, const char *what, char *err, size_t errlen)
{
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (OBJ_obj2nid(obj) != NID_rsassaPss)
		return set_error(err, errlen, -EKEYREJECTED,
				 "%s: signature algorithm is %s, not RSASSA-PSS", what,
				 OBJ_nid2sn(OBJ_obj2nid(obj)));
	if (ptype != V_ASN1_SEQUENCE)
		return set_error(err, errlen, -EKEYREJECTED, "%s: RSASSA-PSS without parameters",
				 what);
	const ASN1_STRING *seq = pval;
	const unsigned char *p = ASN1_STRING_get0_data(seq);
	long plen = ASN1_STRING_length(seq);
	_cleanup_(pss_paramsp) RSA_PSS_PARAMS *pss = d2i_RSA_PSS_PARAMS(NULL, &p, plen);
	ERR_clear_error();
	if (!pss || p != ASN1_STRING_get0_data(seq) + plen)
		return set_error(err, errlen, -EKEYREJECTED,
				 "%s: RSASSA-PSS parameters do not parse", what);
	if (!alg_is_sha384(pss->hashAlgorithm))
		return set_error(err, errlen, -EKEYREJECTED, "%s: PSS hash is not SHA-384", what);
	if (!pss->maskGenAlgorithm || OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1)
		return set_error(err, errlen, -EKEYREJECTED, "%s: PSS mask generation is not MGF1",
				 what);
	const ASN1_TYPE *mp = pss->maskGenAlgorithm->parameter;
	if (!mp || mp->type != V_ASN1_SEQUENCE)
		return set_error(err, errlen, -EKEYREJECTED, "%s: MGF1 without a hash", what);
	p = ASN1_STRING_get0_data(mp->value.sequence);
	plen = ASN1_STRING_length(mp->value.sequence);
	_cleanup_(x509_algorp) X509_ALGOR *mh = d2i_X509_ALGOR(NULL, &p, plen);
	ERR_clear_error();
	if (!alg_is_sha384(mh))
		return set_error(err, errlen, -EKEYREJECTED, "%s: MGF1 hash is not SHA-384", what);
	int64_t salt = -1;
	if (!pss->saltLength || !ASN1_INTEGER_get_int64(&salt, pss->saltLength) ||
	    salt != AMD_PSS_SALT)
		return set_error(err, errlen, -EKEYREJECTED, "%s: PSS salt length is %lld, not %d",
				 what, (long long)salt, AMD_PSS_SALT);
	int64_t trailer = 1;
	if (pss->trailerField &&
	    (!ASN1_INTEGER_get_int64(&trailer, pss->trailerField) || trailer != 1))
		return set_error(err, errlen, -EKEYREJECTED, "%s: PSS trailer field is not 1",
				 what);
	ERR_clear_error();
	return 0;
}

static int check_cert_sigalg(const X509 *c, const char *what, char *err, size_t errlen)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *outer;
	X509_get0_signature(&sig, &outer, c);
	int r = check_pss(outer, what, err, errlen);
	if (r < 0)
		return r;
	/* RFC 5280 4.1.1.2: the signed copy (tbsCertificate.signature) must be the same. */
	if (X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(c)) != 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "%s: signed and outer signature algorithms differ", what);
	return 0;
}

/* Subject CN for messages. */
static const char *cn_of(const X509 *c, char *buf, size_t len)
{
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, (int)len) < 0)
		snprintf(buf, len, "?");
	ERR_clear_error();
	return buf;
}

int amd_ark_trusted(enum snp_product product, const X509 *ark, X509 *const *trusted,
		    size_t n_trusted, char *err, size_t errlen)
{
	/* The root: AMD's own for this product, or one the operator trusts, byte for byte. */
	enum snp_product pinned = amd_ark_pinned_product(ark);
	bool ok = pinned == product;
	uint8_t fp[AMD_FINGERPRINT_SIZE], tfp[AMD_FINGERPRINT_SIZE];
	int r;
	if (!ok && (r = amd_cert_fingerprint(ark, fp)) < 0)
		return set_error(err, errlen, r, "ARK: cannot encode");
	for (size_t i = 0; !ok && i < n_trusted; i++)
		ok = trusted[i] && amd_cert_fingerprint(trusted[i], tfp) == 0 &&
		     memcmp(fp, tfp, sizeof(fp)) == 0;
	if (ok)
		return 0;
	if (pinned != SNP_PRODUCT_UNKNOWN)
		return set_error(err, errlen, -EKEYREJECTED, "ARK: AMD's %s root, not %s's",
				 snp_product_name(pinned), snp_product_name(product));
	return set_error(err, errlen, -EKEYREJECTED, "ARK: not a pinned AMD root nor a trusted one");
}

int amd_chain_verify(enum snp_product product, X509 *ark, X509 *ask, X509 *vek,
		     X509 *const *trusted, size_t n_trusted, time_t now, char *err, size_t errlen)
{
	const char *names[3];
	size_t depth = 0;
	int r;

	if (!ark || !ask || (n_trusted && !trusted) || !snp_product_name(product))
		return set_error(err, errlen, -EINVAL, "chain: invalid arguments");
	bool is_vlek_chain = false;
	if (vek) {
		struct amd_vek_ext ext;
		if (amd_vek_ext_parse(vek, &ext, NULL, 0) == 0)
			is_vlek_chain = ext.vlek;
	}
	const char *vek_name = is_vlek_chain ? "VLEK" : "VCEK";
	const char *ask_name = is_vlek_chain ? "ASVK" : "ASK";
	if (vek)
		names[depth++] = vek_name;
	names[depth++] = ask_name;
	names[depth++] = "ARK";

	if ((r = amd_ark_trusted(product, ark, trusted, n_trusted, err, errlen)) < 0)
		return r;

	/* Signature algorithms, explicitly (OpenSSL would accept any PSS parameters). */
	if ((r = check_cert_sigalg(ark, "ARK", err, errlen)) < 0 ||
	    (r = check_cert_sigalg(ask, ask_name, err, errlen)) < 0 ||
	    (vek && (r = check_cert_sigalg(vek, vek_name, err, errlen)) < 0))
		return r;
	/* X509_get0_pubkey is NULL for a key OpenSSL cannot decode (a hostile certificate). */
	EVP_PKEY *ark_key = X509_get0_pubkey(ark), *ask_key = X509_get0_pubkey(ask);
	if (!ark_key || EVP_PKEY_get_base_id(ark_key) != EVP_PKEY_RSA) {
		ERR_clear_error();
		return set_error(err, errlen, -EKEYREJECTED, "ARK: key is not RSA");
	}
	if (!ask_key || EVP_PKEY_get_base_id(ask_key) != EVP_PKEY_RSA) {
		ERR_clear_error();
		return set_error(err, errlen, -EKEYREJECTED, "%s: key is not RSA", ask_name);
	}
	if (vek) {
		EVP_PKEY *k = X509_get0_pubkey(vek);
		char group[32] = "";
		size_t glen = 0;
		if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
		    !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &glen) ||
		    strcmp(group, "secp384r1") != 0) {
			ERR_clear_error();
			return set_error(err, errlen, -EKEYREJECTED, "%s: key is not ECDSA P-384",
					 vek_name);
		}
	}
	/* Self-signature of the root (X509_verify_cert skips it for a trust anchor). */
	if (X509_NAME_cmp(X509_get_subject_name(ark), X509_get_issuer_name(ark)) != 0 ||
	    X509_verify(ark, X509_get0_pubkey(ark)) != 1) {
		ERR_clear_error();
		return set_error(err, errlen, -EKEYREJECTED, "ARK: not self-signed");
	}

	_cleanup_(x509_storep) X509_STORE *store = X509_STORE_new();
	_cleanup_(x509_store_ctxp) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	_cleanup_(sk_x509p) STACK_OF(X509) *untrusted = sk_X509_new_null();
	if (!store || !ctx || !untrusted || !X509_STORE_add_cert(store, ark) ||
	    (vek && !sk_X509_push(untrusted, ask)) ||
	    !X509_STORE_CTX_init(ctx, store, vek ? vek : ask, untrusted)) {
		ERR_clear_error();
		return set_error(err, errlen, -ENOMEM, "chain: out of memory");
	}
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(vp, now);
	/* No X509_V_FLAG_X509_STRICT: AMD's VCEKs carry no authority key identifier. */
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_CHECK_SS_SIGNATURE);
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		int d = X509_STORE_CTX_get_error_depth(ctx);
		ERR_clear_error();
		const char *who = d >= 0 && (size_t)d < depth ? names[d] : "chain";
		return set_error(err, errlen, -EKEYREJECTED, "%s: %s", who,
				 X509_verify_cert_error_string(e));
	}
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	if (!chain || (size_t)sk_X509_num(chain) != depth ||
	    X509_cmp(sk_X509_value(chain, (int)depth - 1), ark) != 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "chain: built %d certificates, not %s -> ARK",
				 chain ? sk_X509_num(chain) : 0, vek ? "VEK -> ASK" : "ASK");
	return 0;
}

/* The extnValue bytes of the one extension with this OID; -ENOENT if absent. */
static int ext_value(const X509 *c, const char *oid, const char *name, const uint8_t **ret,
		     size_t *ret_len, char *err, size_t errlen)
{
	_cleanup_(asn1_objectp) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return set_error(err, errlen, -ENOMEM, "extension %s: out of memory", name);
	int i = X509_get_ext_by_OBJ(c, obj, -1);
	if (i < 0)
		return -ENOENT;
	if (X509_get_ext_by_OBJ(c, obj, i) >= 0)
		return set_error(err, errlen, -EBADMSG, "extension %s (%s) appears twice", name,
				 oid);
	ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(c, i));
	*ret = ASN1_STRING_get0_data(v);
	*ret_len = (size_t)ASN1_STRING_length(v);
	return 0;
}

static int ext_spl(const X509 *c, const char *oid, const char *name, bool required, uint8_t *ret,
		   bool *ret_present, char *err, size_t errlen)
{
	const uint8_t *v;
	size_t len;
	int r = ext_value(c, oid, name, &v, &len, err, errlen);
	if (r == -ENOENT) {
		if (required)
			return set_error(err, errlen, -EBADMSG, "extension %s (%s) missing", name,
					 oid);
		if (ret_present)
			*ret_present = false;
		return 0;
	}
	if (r < 0)
		return r;
	const unsigned char *p = v;
	_cleanup_(asn1_integerp) ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &p, (long)len);
	int64_t x = -1;
	bool ok = i && p == v + len && ASN1_INTEGER_get_int64(&x, i) && x >= 0 && x <= 255;
	ERR_clear_error();
	if (!ok)
		return set_error(err, errlen, -EBADMSG,
				 "extension %s (%s): not an INTEGER in 0..255", name, oid);
	*ret = (uint8_t)x;
	if (ret_present)
		*ret_present = true;
	return 0;
}

/* An IA5String or UTF8String of printable ASCII that fits buf (with its NUL). */
static int ext_string(const X509 *c, const char *oid, const char *name, char *buf, size_t size,
		      bool *ret_present, char *err, size_t errlen)
{
	const uint8_t *v;
	size_t len;
	int r = ext_value(c, oid, name, &v, &len, err, errlen);
	if (r == -ENOENT) {
		*ret_present = false;
		return 0;
	}
	if (r < 0)
		return r;
	const unsigned char *p = v;
	_cleanup_(asn1_typep) ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &p, (long)len);
	ERR_clear_error();
	if (!t || p != v + len || (t->type != V_ASN1_IA5STRING && t->type != V_ASN1_UTF8STRING))
		return set_error(err, errlen, -EBADMSG,
				 "extension %s (%s): not an IA5String/UTF8String", name, oid);
	const ASN1_STRING *s = t->value.asn1_string;
	const uint8_t *d = ASN1_STRING_get0_data(s);
	size_t n = (size_t)ASN1_STRING_length(s);
	if (n == 0 || n >= size)
		return set_error(err, errlen, -EBADMSG,
				 "extension %s (%s): length %zu not in 1..%zu", name, oid, n,
				 size - 1);
	for (size_t k = 0; k < n; k++)
		if (d[k] < 0x20 || d[k] > 0x7e)
			return set_error(err, errlen, -EBADMSG,
					 "extension %s (%s): non-printable byte", name, oid);
	memcpy(buf, d, n);
	buf[n] = '\0';
	*ret_present = true;
	return 0;
}

int amd_vek_ext_parse(const X509 *vek, struct amd_vek_ext *ret, char *err, size_t errlen)
{
	struct amd_vek_ext e = {0};
	bool present;
	const uint8_t *v;
	size_t len;
	int r;

	if (!vek || !ret)
		return set_error(err, errlen, -EINVAL, "extensions: invalid arguments");
	/* structVersion: an INTEGER (0 on Milan/Genoa VCEKs, 1 on Turin's). */
	r = ext_value(vek, OID_STRUCT_VERSION, "structVersion", &v, &len, err, errlen);
	if (r == -ENOENT)
		return set_error(err, errlen, -EBADMSG, "extension structVersion (%s) missing",
				 OID_STRUCT_VERSION);
	if (r < 0)
		return r;
	{
		const unsigned char *p = v;
		_cleanup_(asn1_integerp) ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &p, (long)len);
		int64_t x = -1;
		bool ok =
		    i && p == v + len && ASN1_INTEGER_get_int64(&x, i) && x >= 0 && x <= UINT32_MAX;
		ERR_clear_error();
		if (!ok)
			return set_error(
			    err, errlen, -EBADMSG,
			    "extension structVersion (%s): not an INTEGER in 0..2^32-1",
			    OID_STRUCT_VERSION);
		e.struct_version = (uint32_t)x;
	}
	if ((r = ext_string(vek, OID_PRODUCT_NAME, "productName", e.product_name,
			    sizeof(e.product_name), &present, err, errlen)) < 0)
		return r;
	if (!present)
		return set_error(err, errlen, -EBADMSG, "extension productName (%s) missing",
				 OID_PRODUCT_NAME);
	if ((r = ext_spl(vek, OID_BL_SPL, "blSPL", true, &e.tcb.bootloader, NULL, err, errlen)) <
		0 ||
	    (r = ext_spl(vek, OID_TEE_SPL, "teeSPL", true, &e.tcb.tee, NULL, err, errlen)) < 0 ||
	    (r = ext_spl(vek, OID_SNP_SPL, "snpSPL", true, &e.tcb.snp, NULL, err, errlen)) < 0 ||
	    (r = ext_spl(vek, OID_UCODE_SPL, "ucodeSPL", true, &e.tcb.microcode, NULL, err,
			 errlen)) < 0 ||
	    (r = ext_spl(vek, OID_FMC_SPL, "fmcSPL", false, &e.tcb.fmc, &e.has_fmc, err, errlen)) <
		0)
		return r;

	/* hwID: the raw bytes as extnValue (no inner DER): 64, on Turin 8 (57230 table 8). */
	r = ext_value(vek, OID_HWID, "hwID", &v, &len, err, errlen);
	if (r < 0 && r != -ENOENT)
		return r;
	bool has_hwid = r == 0;
	if (has_hwid) {
		if (len != 64 && len != 8)
			return set_error(err, errlen, -EBADMSG,
					 "extension hwID (%s): %zu bytes, not 64 or 8", OID_HWID,
					 len);
		memcpy(e.hwid, v, len);
		e.hwid_len = len;
	}
	if ((r = ext_string(vek, OID_CSP_ID, "csp_id", e.csp_id, sizeof(e.csp_id), &e.vlek, err,
			    errlen)) < 0)
		return r;
	if (has_hwid == e.vlek)
		return set_error(err, errlen, -EBADMSG,
				 "extensions: %s hwID (%s) and csp_id (%s): a VCEK has hwID, a "
				 "VLEK csp_id",
				 has_hwid ? "both" : "neither", OID_HWID, OID_CSP_ID);
	*ret = e;
	return 0;
}

int amd_vek_check(const struct amd_vek_ext *ext, enum snp_product product, const uint8_t *chip_id,
		  const struct snp_tcb *tcb, char *err, size_t errlen)
{
	const char *pname = snp_product_name(product);
	if (!ext || !tcb || !pname || (!ext->vlek && !chip_id))
		return set_error(err, errlen, -EINVAL, "VEK check: invalid arguments");
	size_t n = strlen(pname);
	if (strncmp(ext->product_name, pname, n) != 0 ||
	    (ext->product_name[n] != '\0' && ext->product_name[n] != '-'))
		return set_error(err, errlen, -EKEYREJECTED,
				 "productName: certificate says \"%s\", want %s", ext->product_name,
				 pname);
	const char *kind = ext->vlek ? "VLEK" : "VCEK";
	if (!ext->vlek) {
		/* KDS hwID = CHIP_ID; Turin: its first 8 bytes (57230 section 3). */
		size_t want = product == SNP_PRODUCT_TURIN ? 8 : 64;
		if (ext->hwid_len != want)
			return set_error(err, errlen, -EKEYREJECTED,
					 "hwID: %zu bytes, want %zu for %s", ext->hwid_len, want,
					 pname);
		if (memcmp(ext->hwid, chip_id, want) != 0) {
			char a[17], b[17];
			hex_encode(ext->hwid, 8, a);
			hex_encode(chip_id, 8, b);
			return set_error(err, errlen, -EKEYREJECTED,
					 "hwID: certificate %s..., chip %s...", a, b);
		}
	}
	bool turin = product == SNP_PRODUCT_TURIN;
	if (ext->has_fmc != turin)
		return set_error(err, errlen, -EKEYREJECTED, "fmcSPL: %s on a %s %s",
				 ext->has_fmc ? "present" : "missing", pname, kind);
	static const struct {
		const char *name;
		size_t off;
	} spl[] = {
	    {"blSPL", offsetof(struct snp_tcb, bootloader)},
	    {"teeSPL", offsetof(struct snp_tcb, tee)},
	    {"snpSPL", offsetof(struct snp_tcb, snp)},
	    {"ucodeSPL", offsetof(struct snp_tcb, microcode)},
	    {"fmcSPL", offsetof(struct snp_tcb, fmc)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(spl); i++) {
		uint8_t have = ((const uint8_t *)&ext->tcb)[spl[i].off];
		uint8_t want = ((const uint8_t *)tcb)[spl[i].off];
		if (have != want)
			return set_error(err, errlen, -EKEYREJECTED, "%s: certificate %u, TCB %u",
					 spl[i].name, have, want);
	}
	return 0;
}

int amd_crl_check(X509_CRL *crl, X509 *ark, X509 *const *certs, size_t n, time_t now, char *err,
		  size_t errlen)
{
	if (!crl || !ark || (n && !certs))
		return set_error(err, errlen, -EINVAL, "CRL: invalid arguments");
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	X509_CRL_get0_signature(crl, &sig, &alg);
	int r = check_pss(alg, "CRL", err, errlen);
	if (r < 0)
		return r;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) != 0)
		return set_error(err, errlen, -EKEYREJECTED, "CRL: issuer is not the ARK");
	if (X509_CRL_verify(crl, X509_get0_pubkey(ark)) != 1) {
		ERR_clear_error();
		return set_error(err, errlen, -EKEYREJECTED,
				 "CRL: signature does not verify "
				 "with the ARK's key");
	}
	const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl),
			*next = X509_CRL_get0_nextUpdate(crl);
	/* A CRL issued a moment after our clock reading (the fetch ran after the
	 * caller took "now", or the host clock lags KDS by seconds) is not "from
	 * the future": allow AMD_CLOCK_SKEW_S, as for certificate notBefore. */
	time_t skewed = now + AMD_CLOCK_SKEW_S;
	if (!last || X509_cmp_time(last, &skewed) > 0)
		return set_error(err, errlen, -EKEYREJECTED, "CRL: thisUpdate is in the future");
	if (!next)
		return set_error(err, errlen, -EKEYREJECTED, "CRL: no nextUpdate");
	if (X509_cmp_time(next, &now) <= 0)
		return set_error(err, errlen, -EKEYREJECTED, "CRL: nextUpdate has passed (stale)");
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *rev = NULL;
		if (!certs[i])
			return set_error(err, errlen, -EINVAL, "CRL: invalid arguments");
		if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(certs[i])) == 1) {
			char cn[64], serial[64] = "?";
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certs[i]), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			if (hex)
				snprintf(serial, sizeof(serial), "0x%s", hex);
			OPENSSL_free(hex);
			BN_free(bn);
			return set_error(err, errlen, -EKEYREJECTED,
					 "CRL: %s (serial %s) is revoked",
					 cn_of(certs[i], cn, sizeof(cn)), serial);
		}
	}
	ERR_clear_error();
	return 0;
}
