/* cocod/svc_attest.c: the attestation area: POST /v1/attestation/verify. An SEV-SNP report is
 * verified by attest/snp_verify.c with certificates from the body or, for each one the body
 * lacks, from the daemon's certificate cache (coco_store_cert_get), and what the cache lacks
 * from KDS (validated into the cache first; "fetch": false skips it); a certificate in none
 * of them is a 422 naming it. A TDX quote or TDREPORT is
 * parsed and checked against the reference values given (its signature is NOT verified). The
 * chain cache is the daemon's, shared by every request. Runs on the work queue (an ECDSA and,
 * on a cache miss, RSA verifications). */
#include <openssl/x509.h>
#include <pthread.h>

#include "attest/snp_verify.h"
#include "attest/tdx_report.h"
#include "cocod/svc.h"
#include "coco/endian.h"
#include "coco/snp/amdcert.h"
#include "coco/store.h"
#include "coco/util.h"
#include "sevd/certmgr.h"

#define ATTEST_CHAIN_CACHE_ENTRIES 256
#define ATTEST_MAX_KNOWN_MRSEAM 32

struct svc_attest {
	struct snp_chain_cache *chains;
};

int svc_attest_start(struct svc *s, char *err, size_t errlen)
{
	struct svc_attest *a = calloc(1, sizeof(*a));
	if (!a || !(a->chains = snp_chain_cache_new(ATTEST_CHAIN_CACHE_ENTRIES))) {
		free(a);
		snprintf(err, errlen, "attestation: out of memory");
		return -ENOMEM;
	}
	s->attest = a;
	return 0;
}

void svc_attest_stop(struct svc *s)
{
	if (!s->attest)
		return;
	snp_chain_cache_free(s->attest->chains);
	free(s->attest);
	s->attest = NULL;
}

bool svc_attest_is_slow(enum svc_op op)
{
	return op == SVC_ATTEST_VERIFY;
}

/* Strict base64 member of at most max decoded bytes. */
static int b64_member(json_object *o, const char *key, size_t max, uint8_t **ret, size_t *ret_len,
		      char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return set_error(err, errlen, -EINVAL, "%s: not a string", key);
	const char *s = json_object_get_string(v);
	size_t n = strlen(s);
	if (n > 4 * ((max + 2) / 3))
		return set_error(err, errlen, -EINVAL, "%s: over %zu bytes", key, max);
	if (base64_decode(s, n, ret, ret_len) < 0)
		return set_error(err, errlen, -EINVAL, "%s: not standard padded base64", key);
	return 0;
}

static int hex_member(json_object *o, const char *key, uint8_t *out, size_t n, bool *has,
		      char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (hex_decode_exact(s, out, n) < 0)
		return set_error(err, errlen, -EINVAL, "policy.%s: want %zu hex digits", key, 2 * n);
	*has = true;
	return 0;
}

static int bool_member(json_object *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return set_error(err, errlen, -EINVAL, "policy.%s: not a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int int_member(json_object *o, const char *key, uint64_t max, uint64_t *out, bool *has,
		      char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	int64_t x = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || x < 0 || (uint64_t)x > max)
		return set_error(err, errlen, -EINVAL, "%s: an integer 0..%llu", key,
				 (unsigned long long)max);
	*out = (uint64_t)x;
	if (has)
		*has = true;
	return 0;
}

static bool only_keys(json_object *o, const char *const *keys, size_t n, char *bad, size_t len)
{
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		bool ok = false;
		for (size_t i = 0; i < n && !ok; i++)
			ok = streq(k, keys[i]);
		if (!ok) {
			snprintf(bad, len, "%s", k);
			return false;
		}
	}
	return true;
}

static int parse_policy(json_object *o, struct snp_verify_policy *p, char *err, size_t errlen)
{
	static const char *const keys[] = {"measurement", "host_data", "report_data",
					   "id_key_digest", "author_key_digest", "min_tcb",
					   "forbid_debug", "forbid_smt", "forbid_migrate_ma",
					   "vmpl", "min_abi"};
	char bad[64];
	if (!json_object_is_type(o, json_type_object))
		return set_error(err, errlen, -EINVAL, "policy: not an object");
	if (!only_keys(o, keys, ARRAY_SIZE(keys), bad, sizeof(bad)))
		return set_error(err, errlen, -EINVAL, "policy: unknown member '%s'", bad);
	int r;
	uint64_t v;
	if ((r = hex_member(o, "measurement", p->measurement, 48, &p->has_measurement, err,
			    errlen)) < 0 ||
	    (r = hex_member(o, "host_data", p->host_data, 32, &p->has_host_data, err, errlen)) < 0 ||
	    (r = hex_member(o, "report_data", p->report_data, 64, &p->has_report_data, err,
			    errlen)) < 0 ||
	    (r = hex_member(o, "id_key_digest", p->id_key_digest, 48, &p->has_id_key_digest, err,
			    errlen)) < 0 ||
	    (r = hex_member(o, "author_key_digest", p->author_key_digest, 48,
			    &p->has_author_key_digest, err, errlen)) < 0 ||
	    (r = bool_member(o, "forbid_debug", &p->forbid_debug, err, errlen)) < 0 ||
	    (r = bool_member(o, "forbid_smt", &p->forbid_smt, err, errlen)) < 0 ||
	    (r = bool_member(o, "forbid_migrate_ma", &p->forbid_migrate_ma, err, errlen)) < 0 ||
	    (r = int_member(o, "vmpl", UINT32_MAX, &v, &p->has_vmpl, err, errlen)) < 0)
		return r;
	if (p->has_vmpl)
		p->vmpl = (uint32_t)v;
	json_object *t;
	if (json_object_object_get_ex(o, "min_tcb", &t)) {
		static const char *const comp[] = {"bootloader", "tee", "snp", "microcode", "fmc"};
		uint8_t *dst[] = {&p->min_tcb.bootloader, &p->min_tcb.tee, &p->min_tcb.snp,
				  &p->min_tcb.microcode, &p->min_tcb.fmc};
		if (!json_object_is_type(t, json_type_object) ||
		    !only_keys(t, comp, ARRAY_SIZE(comp), bad, sizeof(bad)))
			return set_error(err, errlen, -EINVAL,
					 "policy.min_tcb: an object of bootloader, tee, snp, "
					 "microcode, fmc");
		for (size_t i = 0; i < ARRAY_SIZE(comp); i++) {
			v = 0;
			if ((r = int_member(t, comp[i], 255, &v, NULL, err, errlen)) < 0)
				return r;
			*dst[i] = (uint8_t)v;
		}
		p->has_min_tcb = true;
	}
	if (json_object_object_get_ex(o, "min_abi", &t)) {
		unsigned maj, min;
		char extra;
		if (!json_object_is_type(t, json_type_string) ||
		    sscanf(json_object_get_string(t), "%u.%u%c", &maj, &min, &extra) != 2 ||
		    maj > 255 || min > 255)
			return set_error(err, errlen, -EINVAL, "policy.min_abi: \"MAJOR.MINOR\"");
		p->has_min_abi = true;
		p->min_abi_major = (uint8_t)maj;
		p->min_abi_minor = (uint8_t)min;
	}
	return 0;
}

/* One certificate: from certs.<name> in the body (PEM or base64 DER), else from the cache. */
static int get_cert(struct svc *s, json_object *certs, const char *name,
		    const struct coco_cert_key *key, X509 **ret, char *missing, size_t mlen,
		    char *err, size_t errlen)
{
	json_object *v;
	if (certs && json_object_object_get_ex(certs, name, &v)) {
		_cleanup_free_ uint8_t *der = NULL;
		size_t len = 0;
		const char *str = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
									   : NULL;
		char why[200];
		if (!str)
			return set_error(err, errlen, -EINVAL, "certs.%s: not a string", name);
		if (strncmp(str, "-----BEGIN", 10) == 0) {
			if (amd_cert_parse((const uint8_t *)str, strlen(str), ret, why, sizeof(why)) <
			    0)
				return set_error(err, errlen, -EINVAL, "certs.%s: %s", name, why);
			return 0;
		}
		if (b64_member(certs, name, AMD_CERT_MAX_SIZE, &der, &len, err, errlen) < 0)
			return -EINVAL;
		if (amd_cert_parse(der, len, ret, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL, "certs.%s: %s", name, why);
		return 0;
	}
	struct coco_cert_record rec;
	if (key && coco_store_cert_get(s->store, key, &rec) == 0) {
		int r = amd_cert_parse(rec.der, rec.der_len, ret, NULL, 0);
		coco_cert_record_clear(&rec);
		if (r == 0)
			return 0;
	}
	size_t o = strlen(missing);
	if (key)
		snprintf(missing + o, mlen - o, "%s%s (%s%s%s%s)", o ? ", " : "", name, key->product,
			 key->hwid[0] ? " hwid " : "", key->hwid[0] ? key->hwid : "",
			 key->tcb ? " with its TCB" : "");
	else
		snprintf(missing + o, mlen - o, "%s%s", o ? ", " : "", name);
	return -ENOENT;
}

/* The VEK, ASK|ASVK and ARK: each from the body or the cache. -EINVAL (err says why) stops at
 * the first bad one; -ENOENT when any is missing (listed in missing); 0. */
static int get_certs(struct svc *s, json_object *certs, const char *const names[3],
		     const struct coco_cert_key *const keys[3], X509 **const outs[3], char *missing,
		     size_t mlen, char *err, size_t errlen)
{
	int out = 0;
	for (size_t i = 0; i < 3; i++) {
		int e = get_cert(s, certs, names[i], keys[i], outs[i], missing, mlen, err, errlen);
		if (e == -EINVAL)
			return e;
		if (e < 0)
			out = e;
	}
	return out;
}

static void verify_snp(struct svc *s, json_object *body, const uint8_t *report, size_t len,
		       struct svc_reply *r)
{
	char err[320] = "", missing[400] = "";
	struct snp_verify_policy pol = {0};
	json_object *v, *certs = NULL;
	if (json_object_object_get_ex(body, "policy", &v) &&
	    parse_policy(v, &pol, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	if (json_object_object_get_ex(body, "certs", &certs)) {
		static const char *const names[] = {"vcek", "vlek", "ask", "asvk", "ark"};
		char bad[64];
		if (!json_object_is_type(certs, json_type_object) ||
		    !only_keys(certs, names, ARRAY_SIZE(names), bad, sizeof(bad))) {
			svc_reply_error(r, SVC_E_INVALID,
					"certs: an object of vcek|vlek, ask|asvk, ark (PEM or "
					"base64 DER)");
			return;
		}
	}
	_cleanup_free_ struct snp_report *rep = calloc(1, sizeof(*rep));
	if (!rep) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
		return;
	}
	if (snp_report_parse(report, len, rep, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	/* The product: the body's, else the report's CPUID, else this host's (a v2 report). */
	enum snp_product product = snp_report_product(rep);
	if (json_object_object_get_ex(body, "product", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     snp_product_from_name(json_object_get_string(v), &product) < 0)) {
		svc_reply_error(r, SVC_E_INVALID, "product: Milan, Genoa or Turin");
		return;
	}
	bool vlek = rep->signing_key == SNP_SIGNING_KEY_VLEK;
	struct certmgr_platform plat = {.product = product, .chip_id_known = true,
					.reported_tcb = rep->reported_tcb, .vlek = vlek};
	memcpy(plat.chip_id, rep->chip_id, 64);
	struct coco_cert_key vek_key, ask_key = {.kind = vlek ? COCO_CERT_ASVK : COCO_CERT_ASK},
				      ark_key = {.kind = COCO_CERT_ARK};
	bool keyed = snp_product_name(product) && certmgr_vek_key(&plat, &vek_key) == 0;
	if (keyed) {
		snprintf(ask_key.product, sizeof(ask_key.product), "%s", snp_product_name(product));
		snprintf(ark_key.product, sizeof(ark_key.product), "%s", snp_product_name(product));
	}
	struct snp_verify_input in = {.report = report, .report_len = len, .product = product,
				      .now = time(NULL), .policy = &pol,
				      .cache = s->attest->chains};
	const struct coco_cert_key *keys[3] = {keyed ? &vek_key : NULL, keyed ? &ask_key : NULL,
					       keyed ? &ark_key : NULL};
	X509 **outs[3] = {&in.vek, &in.ask, &in.ark};
	const char *names[3] = {vlek ? "vlek" : "vcek", vlek ? "asvk" : "ask", "ark"};
	bool fetch = true;
	if (json_object_object_get_ex(body, "fetch", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			svc_reply_error(r, SVC_E_INVALID, "fetch: true or false");
			return;
		}
		fetch = json_object_get_boolean(v);
	}
	int e = get_certs(s, certs, names, keys, outs, missing, sizeof(missing), err, sizeof(err));
	char fetch_err[512] = "";
	if (e == -ENOENT && keyed && fetch) {
		/* What the cache lacks comes from KDS (validated against this report's chip and
		 * TCB before it is cached), then the cache is read again. */
		int fe = svc_snp_fetch_chain(s, &plat, fetch_err, sizeof(fetch_err));
		if (fe == 0 || fe == -ENOENT) {
			missing[0] = '\0';
			for (size_t i = 0; i < 3; i++) {
				X509_free(*outs[i]);
				*outs[i] = NULL;
			}
			e = get_certs(s, certs, names, keys, outs, missing, sizeof(missing), err,
				      sizeof(err));
		}
	}
	if (e == -EINVAL) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
	} else if (missing[0]) {
		svc_reply_error(r, SVC_E_INVALID,
				"certificates not in the request nor in the cache: %s%s%s%s", missing,
				keyed ? "" : "; give \"product\" for a version 2 report",
				fetch_err[0] ? "; fetching them failed: " : "", fetch_err);
	} else {
		in.n_trusted = svc_snp_trusted_roots(s, &in.trusted);
		struct attest_result *res = malloc(sizeof(*res));
		if (!res) {
			svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
		} else {
			snp_verify(&in, res);
			json_object *o = json_object_new_object();
			json_object_object_add(o, "type", json_object_new_string("sev-snp"));
			json_object_object_add(o, "report", snp_report_json(rep, product));
			json_object_object_add(o, "result", attest_result_json(res));
			r->doc.json = o;
			free(res);
		}
	}
	X509_free(in.vek);
	X509_free(in.ask);
	X509_free(in.ark);
}

static int parse_reference(json_object *o, struct tdx_reference *ref,
			   uint8_t (*known)[48], char *err, size_t errlen)
{
	static const char *const keys[] = {"known_mrseam", "mrtd", "rtmr", "report_data"};
	char bad[64];
	if (!json_object_is_type(o, json_type_object) ||
	    !only_keys(o, keys, ARRAY_SIZE(keys), bad, sizeof(bad)))
		return set_error(err, errlen, -EINVAL,
				 "reference: an object of known_mrseam, mrtd, rtmr, report_data");
	int r;
	if ((r = hex_member(o, "mrtd", ref->mrtd, 48, &ref->has_mrtd, err, errlen)) < 0 ||
	    (r = hex_member(o, "report_data", ref->report_data, 64, &ref->has_report_data, err,
			    errlen)) < 0)
		return r;
	json_object *a;
	if (json_object_object_get_ex(o, "rtmr", &a)) {
		if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != 4)
			return set_error(err, errlen, -EINVAL,
					 "reference.rtmr: 4 entries (hex or null)");
		for (size_t i = 0; i < 4; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (!e)
				continue;
			const char *h = json_object_is_type(e, json_type_string)
					    ? json_object_get_string(e)
					    : "";
			if (hex_decode_exact(h, ref->rtmr[i], 48) < 0)
				return set_error(err, errlen, -EINVAL,
						 "reference.rtmr[%zu]: 96 hex digits or null", i);
			ref->has_rtmr[i] = true;
		}
	}
	if (json_object_object_get_ex(o, "known_mrseam", &a)) {
		size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a)
								    : SIZE_MAX;
		if (n == SIZE_MAX || n > ATTEST_MAX_KNOWN_MRSEAM)
			return set_error(err, errlen, -EINVAL,
					 "reference.known_mrseam: at most %d hex MRSEAMs",
					 ATTEST_MAX_KNOWN_MRSEAM);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (!json_object_is_type(e, json_type_string) ||
			    hex_decode_exact(json_object_get_string(e), known[i], 48) < 0)
				return set_error(err, errlen, -EINVAL,
						 "reference.known_mrseam[%zu]: 96 hex digits", i);
		}
		ref->n_known_mrseam = n;
	}
	return 0;
}

static void verify_tdx(json_object *body, const uint8_t *buf, size_t len, struct svc_reply *r)
{
	char err[320] = "";
	uint8_t known[ATTEST_MAX_KNOWN_MRSEAM][48];
	struct tdx_reference ref = {.known_mrseam = known};
	json_object *v, *doc;
	if (json_object_object_get_ex(body, "reference", &v) &&
	    parse_reference(v, &ref, known, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	struct tdx_td_body td;
	bool is_quote = len >= 8 && (get_le16(buf) == 4 || get_le16(buf) == 5);
	if (is_quote) {
		struct tdx_quote q;
		if (tdx_quote_parse(buf, len, &q, err, sizeof(err)) < 0) {
			svc_reply_error(r, SVC_E_INVALID, "%s", err);
			return;
		}
		td = q.body;
		doc = tdx_quote_json(&q);
	} else {
		struct tdx_tdreport t;
		if (tdx_tdreport_parse(buf, len, &t, err, sizeof(err)) < 0) {
			svc_reply_error(r, SVC_E_INVALID, "neither a quote (v4/v5) nor %s", err);
			return;
		}
		td = t.body;
		doc = tdx_tdreport_json(&t);
	}
	struct attest_result *res = malloc(sizeof(*res));
	if (!res) {
		json_object_put(doc);
		svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
		return;
	}
	memset(res, 0, sizeof(*res));
	tdx_check_reference(&td, &ref, is_quote, res);
	json_object *o = json_object_new_object(), *rj = attest_result_json(res);
	bool ok = !attest_first_failure(res) && !res->overflow;
	/* Reference values only: never "verified" while the signature is not checked. */
	json_object_object_add(rj, "verified", json_object_new_boolean(false));
	json_object_object_add(rj, "reference_checks_passed", json_object_new_boolean(ok));
	json_object_object_add(o, "type",
			       json_object_new_string(is_quote ? "tdx-quote" : "tdx-tdreport"));
	json_object_object_add(o, is_quote ? "quote" : "tdreport", doc);
	json_object_object_add(o, "result", rj);
	r->doc.json = o;
	free(res);
}

static void attest_verify(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	static const char *const keys[] = {"report", "quote", "product", "policy", "certs",
					   "reference", "fetch"};
	char bad[64], err[320] = "";
	json_object *body = q->doc.json;
	if (!body || !only_keys(body, keys, ARRAY_SIZE(keys), bad, sizeof(bad))) {
		svc_reply_error(r, SVC_E_INVALID,
				body ? "unknown member '%s'"
				     : "expected a JSON object with \"report\" or \"quote\"%s",
				body ? bad : "");
		return;
	}
	_cleanup_free_ uint8_t *ev = NULL;
	size_t len = 0;
	int er = b64_member(body, "report", SNP_REPORT_SIZE, &ev, &len, err, sizeof(err));
	int eq = er == -ENOENT ? b64_member(body, "quote", TDX_QUOTE_MAX_SIZE, &ev, &len, err,
					    sizeof(err))
			       : -ENOENT;
	json_object *dummy;
	if ((er == 0 || er == -EINVAL) && json_object_object_get_ex(body, "quote", &dummy)) {
		svc_reply_error(r, SVC_E_INVALID, "give \"report\" or \"quote\", not both");
		return;
	}
	if (er == -EINVAL || eq == -EINVAL) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	if (er == 0)
		verify_snp(s, body, ev, len, r);
	else if (eq == 0)
		verify_tdx(body, ev, len, r);
	else
		svc_reply_error(r, SVC_E_INVALID,
				"\"report\" (SEV-SNP, base64) or \"quote\" (TDX quote or "
				"TDREPORT, base64) is required");
}

void svc_attest_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	switch (q->op) {
	case SVC_ATTEST_VERIFY: attest_verify(s, q, r); return;
	default: break;
	}
	svc_reply_error(r, SVC_E_INTERNAL, "unknown attestation operation %d", (int)q->op);
}
