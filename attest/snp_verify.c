/* attest/snp_verify.c: the SEV-SNP report verifier (snp_verify.h): every check named. */
#include "attest/snp_verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/chaincache.h"
#include "coco/snp/amdcert.h"
#include "coco/snp/idblock.h"
#include "coco/util.h"

#define SKIP_AFTER_FAILURE "an earlier check failed"

static const char *hex(const uint8_t *b, size_t n, char *buf)
{
	hex_encode(b, n, buf);
	return buf;
}

static time_t asn1_time(const ASN1_TIME *t, time_t dflt)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return dflt;
	return timegm(&tm);
}

/* The window in which every certificate of the chain is valid. */
static void chain_window(X509 *const *certs, size_t n, time_t *from, time_t *until)
{
	*from = 0;
	*until = (time_t)INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		time_t f = asn1_time(X509_get0_notBefore(certs[i]), *until);
		time_t u = asn1_time(X509_get0_notAfter(certs[i]), 0);
		if (f > *from)
			*from = f;
		if (u < *until)
			*until = u;
	}
}

static void skip_all(struct attest_result *res, const char *const *names, size_t n,
		     const char *why)
{
	for (size_t i = 0; i < n; i++)
		attest_add(res, names[i], ATTEST_SKIPPED, NULL, NULL, "%s", why);
}

/* ARK -> ASK/ASVK -> VEK, through the cache. The failing certificate names the check. */
static bool check_chain(const struct snp_verify_input *in, enum snp_product product, bool vlek,
			struct attest_result *res)
{
	const char *ask_name = vlek ? "ASVK" : "ASK", *vek_name = vlek ? "VLEK" : "VCEK";
	uint8_t key[SNP_CHAIN_KEY_SIZE];
	bool have_key = in->cache && snp_chain_key(product, in->ark, in->ask, in->vek, in->trusted,
						   in->n_trusted, key) == 0;
	if (have_key && snp_chain_cache_lookup(in->cache, key, in->now)) {
		attest_add(res, "chain.ark", ATTEST_PASSED, NULL, NULL,
			   "pinned or trusted root (cached result for these fingerprints)");
		attest_add(res, "chain.ask", ATTEST_PASSED, NULL, NULL, "%s signed by the ARK (cached)",
			   ask_name);
		attest_add(res, "chain.vek", ATTEST_PASSED, NULL, NULL, "%s signed by the %s (cached)",
			   vek_name, ask_name);
		return true;
	}
	char err[ATTEST_VALUE_MAX] = "";
	int r = amd_chain_verify(product, in->ark, in->ask, in->vek, in->trusted, in->n_trusted,
				 in->now, err, sizeof(err));
	if (r == 0) {
		attest_add(res, "chain.ark", ATTEST_PASSED, NULL, NULL,
			   "%s's pinned AMD root or an operator-trusted root, self-signed",
			   snp_product_name(product));
		attest_add(res, "chain.ask", ATTEST_PASSED, NULL, NULL,
			   "%s signed by the ARK (RSA-PSS SHA-384)", ask_name);
		attest_add(res, "chain.vek", ATTEST_PASSED, NULL, NULL,
			   "%s signed by the %s (RSA-PSS SHA-384), ECDSA P-384 key", vek_name,
			   ask_name);
		if (have_key) {
			X509 *const certs[] = {in->ark, in->ask, in->vek};
			time_t from, until;
			chain_window(certs, ARRAY_SIZE(certs), &from, &until);
			snp_chain_cache_insert(in->cache, key, from, until);
		}
		return true;
	}
	/* amd_chain_verify names the certificate first: "ARK: ...", "ASK: ...", "VCEK: ...". */
	int failed = 2; /* the VEK, or the chain as a whole */
	if (strncmp(err, "ARK", 3) == 0)
		failed = 0;
	else if (strncmp(err, "ASK", 3) == 0 || strncmp(err, "ASVK", 4) == 0)
		failed = 1;
	/* Blamed on the VEK (e.g. its issuer not found): if ARK -> ASK alone fails, the ASK is
	 * the broken link (a changed subject name breaks the VEK's issuer lookup). */
	char ask_err[ATTEST_VALUE_MAX] = "";
	if (failed == 2 && amd_chain_verify(product, in->ark, in->ask, NULL, in->trusted,
					    in->n_trusted, in->now, ask_err, sizeof(ask_err)) < 0) {
		failed = strncmp(ask_err, "ARK", 3) == 0 ? 0 : 1;
		snprintf(err, sizeof(err), "%s", ask_err);
	}
	static const char *const names[] = {"chain.ark", "chain.ask", "chain.vek"};
	for (int i = 0; i < 3; i++) {
		if (i < failed)
			attest_add(res, names[i], ATTEST_PASSED, NULL, NULL, NULL);
		else if (i == failed)
			attest_add(res, names[i], ATTEST_FAILED, NULL, NULL, "%s", err);
		else
			attest_add(res, names[i], ATTEST_SKIPPED, NULL, NULL, SKIP_AFTER_FAILURE);
	}
	return false;
}

static void snp_tcb_str(enum snp_product product, const struct snp_tcb *t, char *buf, size_t n)
{
	int o = 0;
	if (product == SNP_PRODUCT_TURIN)
		o = snprintf(buf, n, "fmc=%u ", t->fmc);
	snprintf(buf + o, n - (size_t)o, "bl=%u tee=%u snp=%u ucode=%u", t->bootloader, t->tee,
		 t->snp, t->microcode);
}

/* amd_vek_check answers for productName, hwID and the SPLs in that order; its message names
 * the first mismatch. */
static void check_vek(const struct amd_vek_ext *ext, enum snp_product product,
		      const struct snp_report *rep, struct attest_result *res)
{
	char a[2 * 64 + 1], err[ATTEST_VALUE_MAX] = "";
	struct snp_tcb tcb;
	attest_add(res, "vek.product", ATTEST_PASSED, snp_product_name(product), ext->product_name,
		   NULL);
	struct attest_check *prod = &res->checks[res->n - 1];
	if (snp_tcb_decode(product, rep->reported_tcb, &tcb) < 0) {
		attest_add(res, "vek.hwid", ATTEST_SKIPPED, NULL, NULL, "REPORTED_TCB undecodable");
		char raw[24];
		snprintf(raw, sizeof(raw), "0x%016llx", (unsigned long long)rep->reported_tcb);
		attest_add(res, "vek.tcb", ATTEST_FAILED, NULL, raw,
			   "REPORTED_TCB has nonzero reserved bytes in %s's layout",
			   snp_product_name(product));
		return;
	}
	int r = amd_vek_check(ext, product, rep->chip_id, &tcb, err, sizeof(err));
	int failed = 3; /* none */
	if (r < 0) {
		if (strncmp(err, "productName", 11) == 0)
			failed = 0;
		else if (strncmp(err, "hwID", 4) == 0)
			failed = 1;
		else
			failed = 2;
	}
	if (failed == 0) {
		prod->status = ATTEST_FAILED;
		snprintf(prod->detail, sizeof(prod->detail), "%s", err);
	}
	size_t hlen = product == SNP_PRODUCT_TURIN ? 8 : 64;
	if (ext->vlek)
		attest_add(res, "vek.hwid", ATTEST_SKIPPED, NULL, NULL,
			   "a VLEK is not bound to a chip");
	else if (failed == 0)
		attest_add(res, "vek.hwid", ATTEST_SKIPPED, NULL, NULL, SKIP_AFTER_FAILURE);
	else
		attest_add(res, "vek.hwid", failed == 1 ? ATTEST_FAILED : ATTEST_PASSED,
			   hex(rep->chip_id, hlen, a), NULL, "%s",
			   failed == 1 ? err : "hwID == CHIP_ID");
	if (failed != 0 && !ext->vlek && res->n)
		snprintf(res->checks[res->n - 1].actual, ATTEST_VALUE_MAX, "%s",
			 hex(ext->hwid, ext->hwid_len < hlen ? ext->hwid_len : hlen, a));
	if (failed < 2) {
		attest_add(res, "vek.tcb", ATTEST_SKIPPED, NULL, NULL, SKIP_AFTER_FAILURE);
		return;
	}
	char want[80], have[80];
	snp_tcb_str(product, &tcb, want, sizeof(want));
	snp_tcb_str(product, &ext->tcb, have, sizeof(have));
	attest_add(res, "vek.tcb", failed == 2 ? ATTEST_FAILED : ATTEST_PASSED, want, have, "%s",
		   failed == 2 ? err : "certificate SPLs == REPORTED_TCB");
}

static void check_bytes(struct attest_result *res, const char *name, bool want, const uint8_t *exp,
			const uint8_t *act, size_t n)
{
	char e[2 * 64 + 1], a[2 * 64 + 1];
	if (!want) {
		attest_add(res, name, ATTEST_SKIPPED, NULL, hex(act, n, a), "not requested");
		return;
	}
	bool ok = mem_equal_ct(exp, act, n);
	attest_add(res, name, ok ? ATTEST_PASSED : ATTEST_FAILED, hex(exp, n, e), hex(act, n, a),
		   NULL);
}

static void check_bit(struct attest_result *res, const char *name, bool want, uint64_t policy,
		      uint64_t bit)
{
	bool set = policy & bit;
	attest_add(res, name, !want ? ATTEST_SKIPPED : set ? ATTEST_FAILED : ATTEST_PASSED,
		   want ? "0" : NULL, set ? "1" : "0", want ? NULL : "not requested");
}

static void check_policy(const struct snp_verify_policy *p, enum snp_product product,
			 const struct snp_report *rep, struct attest_result *res)
{
	static const struct snp_verify_policy none;
	if (!p)
		p = &none;
	char e[96], a[96];
	check_bytes(res, "policy.measurement", p->has_measurement, p->measurement, rep->measurement,
		    48);
	check_bytes(res, "policy.host_data", p->has_host_data, p->host_data, rep->host_data, 32);
	check_bytes(res, "policy.report_data", p->has_report_data, p->report_data,
		    rep->report_data, 64);
	check_bytes(res, "policy.id_key_digest", p->has_id_key_digest, p->id_key_digest,
		    rep->id_key_digest, 48);
	check_bytes(res, "policy.author_key_digest", p->has_author_key_digest,
		    p->author_key_digest, rep->author_key_digest, 48);
	/* Minimum TCB, per component, in the product's layout. */
	static const struct {
		const char *name;
		size_t off;
	} comp[] = {
	    {"policy.min_tcb.bootloader", offsetof(struct snp_tcb, bootloader)},
	    {"policy.min_tcb.tee", offsetof(struct snp_tcb, tee)},
	    {"policy.min_tcb.snp", offsetof(struct snp_tcb, snp)},
	    {"policy.min_tcb.microcode", offsetof(struct snp_tcb, microcode)},
	    {"policy.min_tcb.fmc", offsetof(struct snp_tcb, fmc)},
	};
	struct snp_tcb t;
	bool decoded = snp_tcb_decode(product, rep->reported_tcb, &t) == 0;
	for (size_t i = 0; i < ARRAY_SIZE(comp); i++) {
		bool fmc = comp[i].off == offsetof(struct snp_tcb, fmc);
		if (!p->has_min_tcb || (fmc && product != SNP_PRODUCT_TURIN)) {
			attest_add(res, comp[i].name, ATTEST_SKIPPED, NULL, NULL, "%s",
				   !p->has_min_tcb ? "not requested" : "no FMC before Turin");
			continue;
		}
		if (!decoded) {
			attest_add(res, comp[i].name, ATTEST_FAILED, NULL, NULL,
				   "REPORTED_TCB undecodable for %s", snp_product_name(product));
			continue;
		}
		uint8_t want = ((const uint8_t *)&p->min_tcb)[comp[i].off];
		uint8_t have = ((const uint8_t *)&t)[comp[i].off];
		snprintf(e, sizeof(e), ">= %u", want);
		snprintf(a, sizeof(a), "%u", have);
		attest_add(res, comp[i].name, have >= want ? ATTEST_PASSED : ATTEST_FAILED, e, a,
			   "REPORTED_TCB");
	}
	check_bit(res, "policy.debug", p->forbid_debug, rep->policy, SNP_POLICY_DEBUG);
	check_bit(res, "policy.smt", p->forbid_smt, rep->policy, SNP_POLICY_SMT);
	check_bit(res, "policy.migrate_ma", p->forbid_migrate_ma, rep->policy,
		  SNP_POLICY_MIGRATE_MA);
	snprintf(a, sizeof(a), "%u", rep->vmpl);
	snprintf(e, sizeof(e), "%u", p->vmpl);
	attest_add(res, "policy.vmpl",
		   !p->has_vmpl		     ? ATTEST_SKIPPED
		   : rep->vmpl == p->vmpl ? ATTEST_PASSED
					  : ATTEST_FAILED,
		   p->has_vmpl ? e : NULL, a, p->has_vmpl ? NULL : "not requested");
	snprintf(a, sizeof(a), "%u.%u", rep->current_major, rep->current_minor);
	snprintf(e, sizeof(e), ">= %u.%u", p->min_abi_major, p->min_abi_minor);
	bool abi_ok = rep->current_major > p->min_abi_major ||
		      (rep->current_major == p->min_abi_major &&
		       rep->current_minor >= p->min_abi_minor);
	attest_add(res, "policy.min_abi",
		   !p->has_min_abi ? ATTEST_SKIPPED
		   : abi_ok	   ? ATTEST_PASSED
				   : ATTEST_FAILED,
		   p->has_min_abi ? e : NULL, a,
		   p->has_min_abi ? "firmware CURRENT_MAJOR.MINOR" : "not requested");
}

static const char *const after_product[] = {
    "vek.extensions", "report.signing_key", "chain.ark", "chain.ask", "chain.vek",
    "vek.product", "vek.hwid", "vek.tcb", "report.signature", "crl"};

void snp_verify(const struct snp_verify_input *in, struct attest_result *res)
{
	char err[ATTEST_VALUE_MAX] = "", e[64], a[64];
	memset(res, 0, sizeof(*res));
	_cleanup_free_ struct snp_report *rep = calloc(1, sizeof(*rep));
	if (!rep) {
		attest_add(res, "report.format", ATTEST_FAILED, NULL, NULL, "out of memory");
		return;
	}
	if (snp_report_parse(in->report, in->report_len, rep, err, sizeof(err)) < 0) {
		attest_add(res, "report.format", ATTEST_FAILED, NULL, NULL, "%s", err);
		skip_all(res, after_product, ARRAY_SIZE(after_product), SKIP_AFTER_FAILURE);
		return;
	}
	attest_add(res, "report.format", ATTEST_PASSED, NULL, NULL, "version %u, reserved bytes zero",
		   rep->version);
	snprintf(a, sizeof(a), "%u", rep->signature_algo);
	attest_add(res, "report.signature_algo", rep->signature_algo == 1 ? ATTEST_PASSED
									  : ATTEST_FAILED,
		   "1", a, "ECDSA P-384 with SHA-384");
	attest_add(res, "report.policy_reserved",
		   rep->policy & SNP_POLICY_RESERVED_ONE ? ATTEST_PASSED : ATTEST_FAILED, "1",
		   rep->policy & SNP_POLICY_RESERVED_ONE ? "1" : "0", "POLICY bit 17 must be one");

	/* The VEK's extensions (needed for the product of a v2 report and the key type). */
	struct amd_vek_ext ext;
	bool have_ext = in->vek && amd_vek_ext_parse(in->vek, &ext, err, sizeof(err)) == 0;
	char ext_err[ATTEST_VALUE_MAX];
	snprintf(ext_err, sizeof(ext_err), "%s", in->vek ? err : "no VCEK/VLEK given");

	/* The product: asked for, else the report's CPUID (v3+), else the VEK's productName. */
	enum snp_product product = in->product, from_cpuid = snp_report_product(rep);
	const char *source = "given";
	if (product == SNP_PRODUCT_UNKNOWN && from_cpuid != SNP_PRODUCT_UNKNOWN) {
		product = from_cpuid;
		source = "report CPUID_FAM_ID/MOD_ID";
	}
	if (product == SNP_PRODUCT_UNKNOWN && have_ext) {
		char name[32];
		snprintf(name, sizeof(name), "%s", ext.product_name);
		char *dash = strchr(name, '-');
		if (dash)
			*dash = 0;
		if (snp_product_from_name(name, &product) == 0)
			source = "VEK productName";
	}
	if (product == SNP_PRODUCT_UNKNOWN && in->ark &&
	    (product = amd_ark_pinned_product(in->ark)) != SNP_PRODUCT_UNKNOWN)
		source = "AMD root (ARK)";
	if (product == SNP_PRODUCT_UNKNOWN) {
		attest_add(res, "product", ATTEST_FAILED, NULL, NULL,
			   "unknown: give the product (a v2 report does not name it)");
		skip_all(res, after_product, ARRAY_SIZE(after_product), SKIP_AFTER_FAILURE);
		check_policy(in->policy, product, rep, res);
		return;
	}
	if (from_cpuid != SNP_PRODUCT_UNKNOWN && from_cpuid != product) {
		attest_add(res, "product", ATTEST_FAILED, snp_product_name(product),
			   snp_product_name(from_cpuid), "the report's CPUID names another product");
	} else {
		attest_add(res, "product", ATTEST_PASSED, NULL, snp_product_name(product), "%s",
			   source);
	}

	if (!have_ext) {
		attest_add(res, "vek.extensions", ATTEST_FAILED, NULL, NULL, "%s", ext_err);
		skip_all(res, after_product + 1, ARRAY_SIZE(after_product) - 1, SKIP_AFTER_FAILURE);
		check_policy(in->policy, product, rep, res);
		return;
	}
	attest_add(res, "vek.extensions", ATTEST_PASSED, NULL, ext.vlek ? "VLEK" : "VCEK", NULL);

	uint8_t want_key = ext.vlek ? SNP_SIGNING_KEY_VLEK : SNP_SIGNING_KEY_VCEK;
	snprintf(e, sizeof(e), "%u (%s)", want_key, ext.vlek ? "VLEK" : "VCEK");
	snprintf(a, sizeof(a), "%u", rep->signing_key);
	attest_add(res, "report.signing_key",
		   rep->signing_key == want_key ? ATTEST_PASSED : ATTEST_FAILED, e, a,
		   rep->signing_key == SNP_SIGNING_KEY_NONE ? "the report is not signed"
							   : "KEY_INFO.SIGNING_KEY");

	bool chain_ok = in->ark && in->ask;
	if (!chain_ok) {
		static const char *const chain[] = {"chain.ark", "chain.ask", "chain.vek"};
		for (size_t i = 0; i < ARRAY_SIZE(chain); i++)
			attest_add(res, chain[i], ATTEST_FAILED, NULL, NULL,
				   "no ARK/ASK given and none cached");
	} else {
		chain_ok = check_chain(in, product, ext.vlek, res);
	}
	check_vek(&ext, product, rep, res);

	EVP_PKEY *vek_key = X509_get0_pubkey(in->vek);
	int r = !vek_key ? -EKEYREJECTED
			 : snp_ecdsa_sig_verify(vek_key, rep->raw, SNP_REPORT_SIGNED_LEN,
				     rep->raw + SNP_REPORT_SIGNATURE_OFF, err, sizeof(err));
	attest_add(res, "report.signature", r == 1 ? ATTEST_PASSED : ATTEST_FAILED, NULL, NULL,
		   "%s", r == 1   ? "ECDSA P-384 SHA-384 over bytes 0x000-0x29F by the VEK"
			 : r == 0 ? "does not verify with the VEK's key"
			 : !vek_key ? "the VEK's public key does not decode"
				  : err);

	if (!in->crl) {
		attest_add(res, "crl", ATTEST_SKIPPED, NULL, NULL, "no CRL given");
	} else if (!chain_ok) {
		attest_add(res, "crl", ATTEST_SKIPPED, NULL, NULL, "the chain did not verify");
	} else {
		X509 *const certs[] = {in->ask, in->vek};
		r = amd_crl_check(in->crl, in->ark, certs, ARRAY_SIZE(certs), in->now, err,
				  sizeof(err));
		attest_add(res, "crl", r == 0 ? ATTEST_PASSED : ATTEST_FAILED, NULL, NULL, "%s",
			   r == 0 ? "signed by the ARK, current, ASK and VEK not revoked" : err);
	}
	ERR_clear_error();
	check_policy(in->policy, product, rep, res);
}
