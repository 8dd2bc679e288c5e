/* hv/emul/kds.c: AMD's Key Distribution Service, emulated over the emulated AMD PKI. URL
 * shapes as AMD's KDS interface spec (57230) and issue 5: /vcek/v1/{product}/{hwid}?SPLs,
 * /{vcek|vlek}/v1/{product}/cert_chain, /{vcek|vlek}/v1/{product}/crl. */
#include <openssl/pem.h>

#include "coco/util.h"
#include "hv/emul/amdpki_int.h"

#define KDS_PATH_MAX 1024

/* Content types: RFC 2585 for a DER certificate and CRL; PEM for the chain. */
#define CT_CERT "application/pkix-cert"
#define CT_CRL "application/pkix-crl"
#define CT_PEM "application/x-pem-file"
#define CT_TEXT "text/plain"

struct kds_reply {
	int status;
	uint8_t *body;
	size_t len;
	const char *ct;
};

static int reply_text(struct kds_reply *rep, int status, const char *msg)
{
	size_t n = strlen(msg);
	rep->body = malloc(n + 1);
	if (!rep->body)
		return -ENOMEM;
	memcpy(rep->body, msg, n + 1);
	rep->len = n;
	rep->status = status;
	rep->ct = CT_TEXT;
	return 0;
}

static int reply_bytes(struct kds_reply *rep, const void *data, size_t len, const char *ct)
{
	rep->body = malloc(len ? len : 1);
	if (!rep->body)
		return -ENOMEM;
	memcpy(rep->body, data, len);
	rep->len = len;
	rep->status = 200;
	rep->ct = ct;
	return 0;
}

static int reply_chain(struct emul_amd_pki *pki, bool vlek, struct kds_reply *rep)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	int r = -ENOMEM;
	/* KDS order: the intermediate (ASK or ASVK) first, then the ARK. */
	if (PEM_write_bio_X509(b, vlek ? emul_amd_pki_asvk(pki) : emul_amd_pki_ask(pki)) &&
	    PEM_write_bio_X509(b, emul_amd_pki_ark(pki))) {
		char *data;
		long len = BIO_get_mem_data(b, &data);
		r = reply_bytes(rep, data, (size_t)len, CT_PEM);
	}
	BIO_free(b);
	return r;
}

static int reply_crl(struct emul_amd_pki *pki, bool vlek, struct kds_reply *rep)
{
	X509_CRL *crl = NULL;
	int r = emul_amd_pki_crl(pki, vlek, &crl);
	if (r < 0)
		return r;
	unsigned char *der = NULL;
	int len = i2d_X509_CRL(crl, &der);
	X509_CRL_free(crl);
	if (len <= 0)
		return -ENOMEM;
	r = reply_bytes(rep, der, (size_t)len, CT_CRL);
	OPENSSL_free(der);
	return r;
}

/* The SPL query of a VCEK request: every name once, decimal 0..255, nothing else. */
enum { SPL_BL, SPL_TEE, SPL_SNP, SPL_UCODE, SPL_FMC, SPL_N };
static const char *const spl_names[SPL_N] = {"blSPL", "teeSPL", "snpSPL", "ucodeSPL", "fmcSPL"};

static const char *parse_spl_query(const char *q, bool turin, unsigned ret[SPL_N])
{
	unsigned v[SPL_N] = {0};
	bool seen[SPL_N] = {0};
	if (!q || !*q)
		return "missing SPL parameters";
	while (*q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		if (!eq)
			return "malformed query parameter";
		size_t nlen = (size_t)(eq - q), vlen = len - nlen - 1;
		int which = -1;
		for (int i = 0; i < SPL_N; i++)
			if (strlen(spl_names[i]) == nlen && !memcmp(q, spl_names[i], nlen))
				which = i;
		if (which < 0 || (which == SPL_FMC && !turin))
			return "unknown query parameter";
		if (seen[which])
			return "repeated query parameter";
		if (vlen == 0 || vlen > 3)
			return "SPL out of range";
		unsigned x = 0;
		for (size_t i = 0; i < vlen; i++) {
			char c = eq[1 + i];
			if (c < '0' || c > '9')
				return "SPL not a decimal number";
			x = x * 10 + (unsigned)(c - '0');
		}
		if (x > 255)
			return "SPL out of range";
		v[which] = x;
		seen[which] = true;
		q += len;
		if (*q == '&') {
			q++;
			if (!*q)
				return "malformed query parameter";
		}
	}
	for (int i = 0; i < SPL_N; i++)
		if (!seen[i] && (i != SPL_FMC || turin))
			return "missing SPL parameter";
	memcpy(ret, v, sizeof(v));
	return NULL;
}

static int reply_vcek(struct emul_amd_pki *pki, const char *hwid_hex, const char *query,
		      struct kds_reply *rep)
{
	enum snp_product p = emul_amd_pki_product(pki);
	size_t hwid_len = emul_amd_hwid_len(p);
	uint8_t chip_id[64] = {0};
	if (strlen(hwid_hex) != 2 * hwid_len)
		return reply_text(rep, 400, "hwid has the wrong length for this product");
	if (hex_decode_exact(hwid_hex, chip_id, hwid_len) < 0)
		return reply_text(rep, 400, "hwid is not hexadecimal");
	unsigned spl[SPL_N];
	const char *err = parse_spl_query(query, p == SNP_PRODUCT_TURIN, spl);
	if (err)
		return reply_text(rep, 400, err);
	struct snp_tcb t = {
		.fmc = (uint8_t)spl[SPL_FMC],
		.bootloader = (uint8_t)spl[SPL_BL],
		.tee = (uint8_t)spl[SPL_TEE],
		.snp = (uint8_t)spl[SPL_SNP],
		.microcode = (uint8_t)spl[SPL_UCODE],
	};
	uint64_t tcb;
	int r = snp_tcb_encode(p, &t, &tcb);
	if (r < 0)
		return r;
	X509 *cert = NULL;
	if ((r = emul_amd_pki_vcek(pki, chip_id, tcb, NULL, &cert)) < 0)
		return r;
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	X509_free(cert);
	if (len <= 0)
		return -ENOMEM;
	r = reply_bytes(rep, der, (size_t)len, CT_CERT);
	OPENSSL_free(der);
	return r;
}

static int route(struct emul_amd_pki *pki, const char *path, struct kds_reply *rep)
{
	size_t plen = strnlen(path, KDS_PATH_MAX + 1);
	if (plen > KDS_PATH_MAX)
		return reply_text(rep, 400, "request too long");
	char buf[KDS_PATH_MAX + 1];
	memcpy(buf, path, plen + 1);
	char *query = strchr(buf, '?');
	if (query)
		*query++ = '\0';

	/* Exactly /{kind}/v1/{product}/{leaf}: no empty, extra or missing segment. */
	char *seg[4];
	size_t n = 0;
	char *s = buf;
	if (*s++ != '/')
		return reply_text(rep, 404, "not found");
	for (;;) {
		char *slash = strchr(s, '/');
		if (n == 4 || !*s || slash == s)
			return reply_text(rep, 404, "not found");
		seg[n++] = s;
		if (!slash)
			break;
		*slash = '\0';
		s = slash + 1;
	}
	if (n != 4)
		return reply_text(rep, 404, "not found");
	bool vlek;
	if (streq(seg[0], "vcek"))
		vlek = false;
	else if (streq(seg[0], "vlek"))
		vlek = true;
	else
		return reply_text(rep, 404, "not found");
	if (!streq(seg[1], "v1"))
		return reply_text(rep, 404, "not found");
	/* KDS spells products exactly so; Bergamo and Siena are asked for as Genoa. */
	enum snp_product p;
	if (streq(seg[2], "Milan"))
		p = SNP_PRODUCT_MILAN;
	else if (streq(seg[2], "Genoa"))
		p = SNP_PRODUCT_GENOA;
	else if (streq(seg[2], "Turin"))
		p = SNP_PRODUCT_TURIN;
	else
		return reply_text(rep, 400, "unknown product");
	if (p != emul_amd_pki_product(pki))
		return reply_text(rep, 404, "product not served by this emulated KDS");

	if (streq(seg[3], "cert_chain") || streq(seg[3], "crl")) {
		if (query)
			return reply_text(rep, 400, "unexpected query");
		return streq(seg[3], "crl") ? reply_crl(pki, vlek, rep)
					    : reply_chain(pki, vlek, rep);
	}
	/* VLEKs are not public by hwid: AMD issues them to cloud providers (wrapped, through
	 * the authenticated CSP interface), so KDS has no such resource. */
	if (vlek)
		return reply_text(rep, 404, "not found");
	return reply_vcek(pki, seg[3], query, rep);
}

int emul_kds_get(struct emul_amd_pki *pki, const char *path, int *ret_http_status,
		 uint8_t **ret_body, size_t *ret_len, const char **ret_content_type)
{
	if (!pki || !path)
		return -EINVAL;
	struct kds_reply rep = {0};
	int r = route(pki, path, &rep);
	if (r < 0) {
		free(rep.body);
		return r;
	}
	*ret_http_status = rep.status;
	*ret_body = rep.body;
	*ret_len = rep.len;
	if (ret_content_type)
		*ret_content_type = rep.ct;
	return 0;
}
