/* sevd/certmgr.c: cache + KDS -> validated chain -> GHCB certificate table. */
#include "sevd/certmgr.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coco/endian.h"
#include "coco/snp/amdcert.h"
#include "coco/snp/certtable.h"
#include "coco/util.h"

/* One build's working set. */
struct build {
	const struct certmgr_params *p;
	const struct certmgr_platform *plat;
	enum certmgr_mode mode;
	struct certmgr_table *tab;
	time_t now;       /* what is fetched is judged now */
	time_t cache_now; /* what is cached: now, or CERTMGR_AHEAD_S ahead (FETCH_EXPIRING) */
	X509 *ark, *ask, *vek;
	X509_CRL *crl;
	uint8_t *der[4]; /* ARK, ASK|ASVK, VCEK|VLEK, CRL as served */
	size_t der_len[4];
};

static void missing(struct certmgr_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void missing(struct certmgr_table *t, const char *fmt, ...)
{
	size_t off = strlen(t->missing);
	if (off && off + 2 < sizeof(t->missing))
		t->missing[off++] = '\n', t->missing[off] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->missing + off, sizeof(t->missing) - off, fmt, ap);
	va_end(ap);
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static int cert_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);
	if (n <= 0)
		return -ENOMEM;
	*ret = d;
	*ret_len = (size_t)n;
	return 0;
}

static int crl_der(X509_CRL *c, uint8_t **ret, size_t *ret_len)
{
	unsigned char *d = NULL;
	int n = i2d_X509_CRL(c, &d);
	if (n <= 0)
		return -ENOMEM;
	*ret = d;
	*ret_len = (size_t)n;
	return 0;
}

static struct coco_cert_key key_of(enum snp_product product, enum coco_cert_kind kind)
{
	struct coco_cert_key k = {.kind = kind};
	snprintf(k.product, sizeof(k.product), "%s", snp_product_name(product));
	return k;
}

int certmgr_vek_key(const struct certmgr_platform *plat, struct coco_cert_key *ret)
{
	const char *name = snp_product_name(plat->product);
	if (!name)
		return -EINVAL;
	*ret = key_of(plat->product, plat->vlek ? COCO_CERT_VLEK : COCO_CERT_VCEK);
	ret->tcb = plat->reported_tcb;
	if (!plat->vlek) {
		if (!plat->chip_id_known)
			return -ENODATA;
		size_t n = plat->product == SNP_PRODUCT_TURIN ? KDS_TURIN_HWID_SIZE
							      : KDS_CHIP_ID_SIZE;
		hex_encode(plat->chip_id, n, ret->hwid);
	}
	return 0;
}

static int store_x509(const struct certmgr_params *p, const struct coco_cert_key *key, X509 *x,
		      enum coco_cert_source src)
{
	struct coco_cert_record rec = {.key = *key, .source = src, .fetched_at = now_unix(),
				       .not_after = asn1_time_unix(X509_get0_notAfter(x))};
	int r = cert_der(x, &rec.der, &rec.der_len);
	if (r < 0)
		return r;
	r = coco_store_cert_put(p->store, &rec);
	OPENSSL_free(rec.der);
	return r;
}

/* A cached certificate, parsed; NULL when absent or unparsable (a damaged row is not served). */
static X509 *cache_x509(const struct certmgr_params *p, const struct coco_cert_key *key)
{
	struct coco_cert_record rec;
	if (coco_store_cert_get(p->store, key, &rec) < 0)
		return NULL;
	X509 *x = NULL;
	char err[160];
	if (amd_cert_parse(rec.der, rec.der_len, &x, err, sizeof(err)) < 0)
		x = NULL;
	coco_cert_record_clear(&rec);
	return x;
}

/* ---- the chain: ARK and ASK|ASVK ---- */

struct chain_check {
	struct build *b;
	X509 *ark, *ask; /* out: the accepted pair */
};

static int chain_validate(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	struct chain_check *c = ud;
	X509 *ask = NULL, *ark = NULL;
	int r = amd_cert_chain_parse(body, len, &ask, &ark, err, errlen);
	if (r < 0)
		return r;
	r = amd_chain_verify(c->b->plat->product, ark, ask, NULL, c->b->p->trusted,
			     c->b->p->n_trusted, c->b->now, err, errlen);
	if (r < 0) {
		X509_free(ask);
		X509_free(ark);
		return r;
	}
	X509_free(c->ark);
	X509_free(c->ask);
	c->ark = ark;
	c->ask = ask;
	return 0;
}

static int get_chain(struct build *b)
{
	const struct certmgr_params *p = b->p;
	bool vlek = b->plat->vlek;
	const char *ask_name = vlek ? "ASVK" : "ASK";
	struct coco_cert_key ark_key = key_of(b->plat->product, COCO_CERT_ARK);
	struct coco_cert_key ask_key =
	    key_of(b->plat->product, vlek ? COCO_CERT_ASVK : COCO_CERT_ASK);
	char err[512] = "";
	if (b->mode != CERTMGR_FETCH_ALL) {
		X509 *ark = cache_x509(p, &ark_key), *ask = cache_x509(p, &ask_key);
		if (ark && ask &&
		    amd_chain_verify(b->plat->product, ark, ask, NULL, p->trusted, p->n_trusted,
				     b->cache_now, err, sizeof(err)) == 0) {
			b->ark = ark, b->ask = ask;
			return 0;
		}
		X509_free(ark);
		X509_free(ask);
		if (b->mode == CERTMGR_CACHE_ONLY || !p->fetcher) {
			missing(b->tab, "ARK/%s: %s", ask_name,
				err[0] ? err : "not in the cache");
			return -ENOENT;
		}
	}
	if (!p->fetcher) {
		missing(b->tab, "ARK/%s: no certificate source configured", ask_name);
		return -ENOENT;
	}
	char url[KDS_URL_MAX];
	int r = kds_chain_url(p->fetcher->base_url, vlek ? KDS_KEY_VLEK : KDS_KEY_VCEK,
			      b->plat->product, url, sizeof(url));
	if (r < 0) {
		missing(b->tab, "ARK/%s: cannot build the KDS URL (%s)", ask_name, strerror(-r));
		return -ENOENT;
	}
	struct chain_check c = {.b = b};
	uint8_t *body = NULL;
	size_t len = 0;
	r = p->fetcher->fetch(p->fetcher->ud, url, chain_validate, &c, &body, &len, err,
			      sizeof(err));
	free(body);
	if (r < 0) {
		X509_free(c.ark);
		X509_free(c.ask);
		missing(b->tab, "ARK/%s: %s", ask_name, err);
		return -ENOENT;
	}
	if ((r = store_x509(p, &ark_key, c.ark, p->fetcher->source)) < 0 ||
	    (r = store_x509(p, &ask_key, c.ask, p->fetcher->source)) < 0) {
		X509_free(c.ark);
		X509_free(c.ask);
		return r;
	}
	b->tab->fetched += 2;
	b->ark = c.ark, b->ask = c.ask;
	return 0;
}

/* ---- the VEK ---- */

static int vek_check(struct build *b, X509 *vek, time_t at, char *err, size_t errlen)
{
	int r = amd_chain_verify(b->plat->product, b->ark, b->ask, vek, b->p->trusted,
				 b->p->n_trusted, at, err, errlen);
	if (r < 0)
		return r;
	struct amd_vek_ext ext;
	if ((r = amd_vek_ext_parse(vek, &ext, err, errlen)) < 0)
		return r;
	if (ext.vlek != b->plat->vlek) {
		snprintf(err, errlen, "%s: is a %s certificate", b->plat->vlek ? "VLEK" : "VCEK",
			 ext.vlek ? "VLEK" : "VCEK");
		return -EKEYREJECTED;
	}
	struct snp_tcb tcb;
	if (snp_tcb_decode(b->plat->product, b->plat->reported_tcb, &tcb) < 0) {
		snprintf(err, errlen, "reported TCB 0x%016llx has reserved bytes set for %s",
			 (unsigned long long)b->plat->reported_tcb,
			 snp_product_name(b->plat->product));
		return -EINVAL;
	}
	return amd_vek_check(&ext, b->plat->product, b->plat->vlek ? NULL : b->plat->chip_id,
			     &tcb, err, errlen);
}

struct vek_fetch {
	struct build *b;
	X509 *vek;
};

static int vek_validate(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	struct vek_fetch *v = ud;
	X509 *x = NULL;
	int r = amd_cert_parse(body, len, &x, err, errlen);
	if (r < 0)
		return r;
	if ((r = vek_check(v->b, x, v->b->now, err, errlen)) < 0) {
		X509_free(x);
		return r;
	}
	X509_free(v->vek);
	v->vek = x;
	return 0;
}

static int get_vlek(struct build *b, const struct coco_cert_key *key)
{
	const struct certmgr_params *p = b->p;
	char err[512] = "";
	uint8_t *der = NULL;
	size_t len = 0;
	struct vek_fetch v = {.b = b};
	int r = p->vlek_fetch(p->vlek_ud, b->plat->reported_tcb, &der, &len, err, sizeof(err));
	if (r == 0)
		r = vek_validate(&v, der, len, err, sizeof(err));
	free(der);
	if (r < 0) {
		X509_free(v.vek);
		missing(b->tab, "VLEK: %s", err);
		return -ENOENT;
	}
	if ((r = store_x509(p, key, v.vek, p->vlek_source)) < 0) {
		X509_free(v.vek);
		return r;
	}
	b->tab->fetched++;
	b->vek = v.vek;
	return 0;
}

static int get_vek(struct build *b)
{
	const struct certmgr_params *p = b->p;
	const char *name = b->plat->vlek ? "VLEK" : "VCEK";
	struct coco_cert_key key;
	int r = certmgr_vek_key(b->plat, &key);
	if (r == -ENODATA) {
		missing(b->tab, "VCEK: the chip id is not available (MASK_CHIP_ID set?)");
		return -ENOENT;
	}
	if (r < 0)
		return r;
	char err[512] = "";
	if (b->mode != CERTMGR_FETCH_ALL || b->plat->vlek) {
		X509 *x = cache_x509(p, &key);
		if (x && vek_check(b, x, b->cache_now, err, sizeof(err)) == 0) {
			b->vek = x;
			return 0;
		}
		X509_free(x);
		if (b->plat->vlek) {
			/* The public KDS has no VLEKs: they come from the cloud provider's
			 * interface or from the operator (import, snp_vlek_cert). */
			if (b->mode != CERTMGR_CACHE_ONLY && p->vlek_fetch)
				return get_vlek(b, &key);
			missing(b->tab, "VLEK: %s", err[0] ? err
							   : "not in the cache (import it: snpctl "
							     "certs import --kind vlek)");
			return -ENOENT;
		}
		if (b->mode == CERTMGR_CACHE_ONLY || !p->fetcher) {
			missing(b->tab, "%s: %s", name, err[0] ? err : "not in the cache");
			return -ENOENT;
		}
	}
	if (!p->fetcher) {
		missing(b->tab, "%s: no certificate source configured", name);
		return -ENOENT;
	}
	struct snp_tcb tcb;
	char url[KDS_URL_MAX];
	if (snp_tcb_decode(b->plat->product, b->plat->reported_tcb, &tcb) < 0 ||
	    (r = kds_vcek_url(p->fetcher->base_url, b->plat->product, b->plat->chip_id, &tcb, url,
			      sizeof(url))) < 0) {
		missing(b->tab, "VCEK: cannot build the KDS URL for TCB 0x%016llx",
			(unsigned long long)b->plat->reported_tcb);
		return -ENOENT;
	}
	struct vek_fetch v = {.b = b};
	uint8_t *body = NULL;
	size_t len = 0;
	r = p->fetcher->fetch(p->fetcher->ud, url, vek_validate, &v, &body, &len, err,
			      sizeof(err));
	free(body);
	if (r < 0) {
		X509_free(v.vek);
		missing(b->tab, "VCEK: %s", err);
		return -ENOENT;
	}
	if ((r = store_x509(p, &key, v.vek, p->fetcher->source)) < 0) {
		X509_free(v.vek);
		return r;
	}
	b->tab->fetched++;
	b->vek = v.vek;
	return 0;
}

/* ---- the CRL (VCEK chain) ---- */

struct crl_fetch {
	struct build *b;
	X509_CRL *crl;
};

static int crl_check(struct build *b, X509_CRL *crl, char *err, size_t errlen)
{
	X509 *certs[2] = {b->ask, b->vek};
	return amd_crl_check(crl, b->ark, certs, b->vek ? 2 : 1, b->now, err, errlen);
}

static int crl_validate(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	struct crl_fetch *c = ud;
	X509_CRL *crl = NULL;
	int r = amd_crl_parse(body, len, &crl, err, errlen);
	if (r < 0)
		return r;
	/* A CRL that lists our ASK or VCEK is authentic and must be stored (so nothing revoked
	 * is served from the cache); only its signature and dates decide acceptance here. */
	if ((r = amd_crl_check(crl, c->b->ark, NULL, 0, c->b->now, err, errlen)) < 0) {
		X509_CRL_free(crl);
		return r;
	}
	X509_CRL_free(c->crl);
	c->crl = crl;
	return 0;
}

static int get_crl(struct build *b)
{
	const struct certmgr_params *p = b->p;
	struct coco_cert_key key = key_of(b->plat->product, COCO_CERT_CRL);
	char err[512] = "";
	struct coco_cert_record rec;
	X509_CRL *crl = NULL;
	if (b->mode != CERTMGR_FETCH_ALL && coco_store_cert_get(p->store, &key, &rec) == 0) {
		if (amd_crl_parse(rec.der, rec.der_len, &crl, err, sizeof(err)) < 0)
			crl = NULL;
		coco_cert_record_clear(&rec);
		/* Expired (nextUpdate passed) or otherwise failing: refetch. */
		if (crl && amd_crl_check(crl, b->ark, NULL, 0, b->cache_now, err, sizeof(err)) < 0) {
			X509_CRL_free(crl);
			crl = NULL;
		}
	}
	if (!crl) {
		if (b->mode == CERTMGR_CACHE_ONLY || !p->fetcher) {
			missing(b->tab, "CRL: %s", err[0] ? err : "not in the cache");
			return -ENOENT;
		}
		char url[KDS_URL_MAX];
		int r = kds_crl_url(p->fetcher->base_url, KDS_KEY_VCEK, b->plat->product, url,
				    sizeof(url));
		if (r < 0)
			return r;
		struct crl_fetch c = {.b = b};
		uint8_t *body = NULL;
		size_t len = 0;
		r = p->fetcher->fetch(p->fetcher->ud, url, crl_validate, &c, &body, &len, err,
				      sizeof(err));
		free(body);
		if (r < 0) {
			missing(b->tab, "CRL: %s", err);
			return -ENOENT;
		}
		struct coco_cert_record nrec = {
		    .key = key, .source = p->fetcher->source, .fetched_at = now_unix(),
		    .not_after = asn1_time_unix(X509_CRL_get0_nextUpdate(c.crl))};
		if ((r = crl_der(c.crl, &nrec.der, &nrec.der_len)) < 0 ||
		    (r = coco_store_cert_put(p->store, &nrec)) < 0) {
			OPENSSL_free(nrec.der);
			X509_CRL_free(c.crl);
			return r;
		}
		OPENSSL_free(nrec.der);
		b->tab->fetched++;
		crl = c.crl;
	}
	b->crl = crl;
	return 0;
}

static int assemble(struct build *b)
{
	struct snp_cert_entry e[4];
	size_t n = 0;
	int r;
	if ((r = cert_der(b->ark, &b->der[0], &b->der_len[0])) < 0 ||
	    (r = cert_der(b->ask, &b->der[1], &b->der_len[1])) < 0)
		return r;
	e[n++] = (struct snp_cert_entry){.kind = SNP_CERT_ARK, .data = b->der[0],
					 .len = b->der_len[0]};
	e[n++] = (struct snp_cert_entry){.kind = SNP_CERT_ASK, .data = b->der[1],
					 .len = b->der_len[1]};
	if (b->vek) {
		if ((r = cert_der(b->vek, &b->der[2], &b->der_len[2])) < 0)
			return r;
		e[n++] = (struct snp_cert_entry){.kind = b->plat->vlek ? SNP_CERT_VLEK
								       : SNP_CERT_VCEK,
						 .data = b->der[2], .len = b->der_len[2]};
	}
	if (b->crl) {
		if ((r = crl_der(b->crl, &b->der[3], &b->der_len[3])) < 0)
			return r;
		e[n++] = (struct snp_cert_entry){.kind = SNP_CERT_CRL, .data = b->der[3],
						 .len = b->der_len[3]};
	}
	if ((r = snp_cert_table_encode(e, n, &b->tab->blob, &b->tab->len)) < 0)
		return r;
	b->tab->n_entries = (unsigned)n;
	int64_t when[4] = {asn1_time_unix(X509_get0_notAfter(b->ark)),
			   asn1_time_unix(X509_get0_notAfter(b->ask)),
			   b->vek ? asn1_time_unix(X509_get0_notAfter(b->vek)) : 0,
			   b->crl ? asn1_time_unix(X509_CRL_get0_nextUpdate(b->crl)) : 0};
	for (size_t i = 0; i < 4; i++)
		if (when[i] > 0 && (!b->tab->expires_at || when[i] < b->tab->expires_at))
			b->tab->expires_at = when[i];
	return 0;
}

int certmgr_build(const struct certmgr_params *p, const struct certmgr_platform *plat,
		  enum certmgr_mode mode, struct certmgr_table *ret, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	if (!snp_product_name(plat->product)) {
		snprintf(err, errlen, "the SNP product of this host is not known");
		return -EINVAL;
	}
	struct build b = {.p = p, .plat = plat, .mode = mode, .tab = ret, .now = time(NULL)};
	b.cache_now = b.now + (mode == CERTMGR_FETCH_EXPIRING ? CERTMGR_AHEAD_S : 0);
	ret->vlek = plat->vlek;
	int r = get_chain(&b);
	if (r == 0) {
		int rv = get_vek(&b);
		if (rv < 0 && rv != -ENOENT)
			r = rv;
		else if (rv == -ENOENT)
			r = -ENOENT;
		if (r == 0 && p->include_crl && !plat->vlek) {
			r = get_crl(&b);
			if (r == 0) {
				char why[256];
				if (crl_check(&b, b.crl, why, sizeof(why)) < 0) {
					/* Revoked: the VEK is not served; nor, when the ASK
					 * itself is revoked, anything of this chain. */
					missing(ret, "CRL: %s", why);
					ret->revoked = true;
					X509_free(b.vek);
					b.vek = NULL;
					X509 *ask[1] = {b.ask};
					r = amd_crl_check(b.crl, b.ark, ask, 1, b.now, why,
							  sizeof(why)) < 0
						? -EKEYREVOKED
						: -ENOENT;
				}
			}
		}
	}
	int out = r;
	if ((r == 0 || r == -ENOENT) && b.ark && b.ask) {
		int ra = assemble(&b);
		if (ra < 0)
			out = ra;
	} else if (r == -EKEYREVOKED) {
		out = -ENOENT;
	}
	if (out < 0 && out != -ENOENT) {
		snprintf(err, errlen, "%s", ret->missing[0] ? ret->missing : strerror(-out));
		free(ret->blob);
		memset(ret, 0, sizeof(*ret));
	} else if (out == -ENOENT) {
		snprintf(err, errlen, "%s", ret->missing);
	}
	X509_free(b.ark);
	X509_free(b.ask);
	X509_free(b.vek);
	X509_CRL_free(b.crl);
	for (size_t i = 0; i < 4; i++)
		OPENSSL_free(b.der[i]);
	return out;
}

void certmgr_table_clear(struct certmgr_table *t)
{
	if (!t)
		return;
	free(t->blob);
	memset(t, 0, sizeof(*t));
}

/* A root given alone: AMD's pinned root of the product or a trusted one, and self-signed. */
static int ark_check(const struct certmgr_params *p, enum snp_product product, X509 *x,
		     char *err, size_t errlen)
{
	int r = amd_ark_trusted(product, x, p->trusted, p->n_trusted, err, errlen);
	if (r < 0)
		return r;
	if (X509_verify(x, X509_get0_pubkey(x)) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "ARK: not self-signed");
		return -EKEYREJECTED;
	}
	return 0;
}

int certmgr_import(const struct certmgr_params *p, enum snp_product product,
		   enum coco_cert_kind kind, const uint8_t *buf, size_t len,
		   struct coco_cert_key *ret_key, char *err, size_t errlen)
{
	if (!snp_product_name(product)) {
		snprintf(err, errlen, "unknown product");
		return -EINVAL;
	}
	time_t now = time(NULL);
	struct coco_cert_key key = key_of(product, kind);
	struct coco_cert_key ark_key = key_of(product, COCO_CERT_ARK);
	int r;
	if (kind == COCO_CERT_CRL) {
		X509_CRL *crl = NULL;
		X509 *ark = cache_x509(p, &ark_key);
		if (!ark) {
			snprintf(err, errlen, "CRL: import the %s ARK first", snp_product_name(product));
			return -ENOENT;
		}
		r = amd_crl_parse(buf, len, &crl, err, errlen);
		if (r == 0)
			r = amd_crl_check(crl, ark, NULL, 0, now, err, errlen);
		X509_free(ark);
		if (r < 0) {
			X509_CRL_free(crl);
			return r;
		}
		struct coco_cert_record rec = {.key = key, .source = COCO_CERT_SRC_IMPORT,
					       .fetched_at = now_unix(),
					       .not_after =
						   asn1_time_unix(X509_CRL_get0_nextUpdate(crl))};
		r = crl_der(crl, &rec.der, &rec.der_len);
		X509_CRL_free(crl);
		if (r == 0)
			r = coco_store_cert_put(p->store, &rec);
		OPENSSL_free(rec.der);
		if (r == 0 && ret_key)
			*ret_key = key;
		return r;
	}
	X509 *x = NULL;
	if ((r = amd_cert_parse(buf, len, &x, err, errlen)) < 0)
		return r;
	X509 *ark = NULL, *ask = NULL;
	if (kind == COCO_CERT_ARK) {
		r = ark_check(p, product, x, err, errlen);
	} else if (kind == COCO_CERT_ASK || kind == COCO_CERT_ASVK) {
		if (!(ark = cache_x509(p, &ark_key))) {
			snprintf(err, errlen, "%s: import the %s ARK first",
				 coco_cert_kind_name(kind), snp_product_name(product));
			r = -ENOENT;
		} else {
			r = amd_chain_verify(product, ark, x, NULL, p->trusted, p->n_trusted, now,
					     err, errlen);
		}
	} else if (kind == COCO_CERT_VCEK || kind == COCO_CERT_VLEK) {
		struct coco_cert_key ask_key =
		    key_of(product, kind == COCO_CERT_VLEK ? COCO_CERT_ASVK : COCO_CERT_ASK);
		ark = cache_x509(p, &ark_key);
		ask = cache_x509(p, &ask_key);
		struct amd_vek_ext ext;
		if (!ark || !ask) {
			snprintf(err, errlen, "%s: import the %s ARK and %s first",
				 coco_cert_kind_name(kind), snp_product_name(product),
				 kind == COCO_CERT_VLEK ? "ASVK" : "ASK");
			r = -ENOENT;
		} else if ((r = amd_chain_verify(product, ark, ask, x, p->trusted, p->n_trusted,
						 now, err, errlen)) == 0 &&
			   (r = amd_vek_ext_parse(x, &ext, err, errlen)) == 0) {
			if (ext.vlek != (kind == COCO_CERT_VLEK)) {
				snprintf(err, errlen, "the certificate is a %s, not a %s",
					 ext.vlek ? "VLEK" : "VCEK", coco_cert_kind_name(kind));
				r = -EKEYREJECTED;
			} else if (snp_tcb_encode(product, &ext.tcb, &key.tcb) < 0) {
				snprintf(err, errlen, "TCB extensions out of range for %s",
					 snp_product_name(product));
				r = -EKEYREJECTED;
			} else if (kind == COCO_CERT_VCEK) {
				hex_encode(ext.hwid, ext.hwid_len, key.hwid);
			}
		}
	} else {
		snprintf(err, errlen, "unknown certificate kind");
		r = -EINVAL;
	}
	if (r == 0)
		r = store_x509(p, &key, x, COCO_CERT_SRC_IMPORT);
	if (r == 0 && ret_key)
		*ret_key = key;
	X509_free(x);
	X509_free(ark);
	X509_free(ask);
	return r;
}

int certmgr_hashstick_check(const uint8_t *buf, size_t len, enum snp_product product,
			    uint64_t *ret_tcb, char *err, size_t errlen)
{
	if (len != CERTMGR_HASHSTICK_SIZE) {
		snprintf(err, errlen, "a wrapped VLEK hashstick is %u bytes, not %zu",
			 CERTMGR_HASHSTICK_SIZE, len);
		return -EINVAL;
	}
	static const struct {
		size_t off, len;
	} rsvd[] = {{0x00C, 4}, {0x198, 8}};
	for (size_t i = 0; i < ARRAY_SIZE(rsvd); i++)
		for (size_t j = 0; j < rsvd[i].len; j++)
			if (buf[rsvd[i].off + j]) {
				snprintf(err, errlen,
					 "reserved byte 0x%03zx is not zero: not a wrapped VLEK "
					 "hashstick",
					 rsvd[i].off + j);
				return -EINVAL;
			}
	uint64_t tcb = get_le64(buf + CERTMGR_HASHSTICK_TCB_OFF);
	struct snp_tcb t;
	if (snp_tcb_decode(product, tcb, &t) < 0) {
		snprintf(err, errlen, "its TCB 0x%016llx has reserved bytes set for %s",
			 (unsigned long long)tcb, snp_product_name(product));
		return -EINVAL;
	}
	*ret_tcb = tcb;
	return 0;
}
