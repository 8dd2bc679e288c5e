/* The emulated KDS's request parser: emul_kds_get() (hv/emul/kds.c) on an untrusted path and
 * query (the input up to its first NUL). Checks: never a negative errno; status 200, 400 or
 * 404 with a body; errors are one line of text/plain; a 200 is only for
 * /{vcek|vlek}/v1/Turin/...; its body parses as what its content type says: a VCEK whose hwID
 * extension is the hwid of the path and whose TCB extensions are the SPLs of the query, the
 * PEM chain (ASK or ASVK, then ARK), or the ARK's CRL. The PKI (Turin: 16-hex-digit hwids and
 * fmcSPL) is created once per process in a temporary directory. */
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hv/emul/amdpki.h"
#include "tests/fuzz/fuzz.h"

static struct emul_amd_pki *pki;
static char dir[64];

static void cleanup(void)
{
	emul_amd_pki_free(pki);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_kds_path: could not remove %s\n", dir);
}

static long ext_int(X509 *x, const char *oid)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int i = X509_get_ext_by_OBJ(x, o, -1);
	ASN1_OBJECT_free(o);
	FUZZ_CHECK(i >= 0);
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, i));
	const unsigned char *p = ASN1_STRING_get0_data(v);
	ASN1_INTEGER *n = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(v));
	FUZZ_CHECK(n);
	long r = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	return r;
}

/* The decimal value of `name=` in an accepted query (so well formed: one of each). */
static long query_value(const char *query, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
	FUZZ_CHECK(!"SPL missing from an accepted query");
	return -1;
}

static void check_vcek(const char *path, const uint8_t *body, size_t len)
{
	const uint8_t *p = body;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	FUZZ_CHECK(x && p == body + len);
	/* /vcek/v1/Turin/<16 hex>?query */
	const char *hex = path + strlen("/vcek/v1/Turin/");
	const char *query = strchr(path, '?');
	FUZZ_CHECK(query && query - hex == 16);
	ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.3704.1.4", 1);
	int i = X509_get_ext_by_OBJ(x, o, -1);
	ASN1_OBJECT_free(o);
	FUZZ_CHECK(i >= 0);
	const ASN1_OCTET_STRING *hw = X509_EXTENSION_get_data(X509_get_ext(x, i));
	FUZZ_CHECK(ASN1_STRING_length(hw) == 8);
	for (int k = 0; k < 8; k++) {
		char byte[3] = {hex[2 * k], hex[2 * k + 1], 0};
		FUZZ_CHECK(strtol(byte, NULL, 16) == ASN1_STRING_get0_data(hw)[k]);
	}
	query++;
	FUZZ_CHECK(ext_int(x, "1.3.6.1.4.1.3704.1.3.9") == query_value(query, "fmcSPL"));
	FUZZ_CHECK(ext_int(x, "1.3.6.1.4.1.3704.1.3.1") == query_value(query, "blSPL"));
	FUZZ_CHECK(ext_int(x, "1.3.6.1.4.1.3704.1.3.2") == query_value(query, "teeSPL"));
	FUZZ_CHECK(ext_int(x, "1.3.6.1.4.1.3704.1.3.3") == query_value(query, "snpSPL"));
	FUZZ_CHECK(ext_int(x, "1.3.6.1.4.1.3704.1.3.8") == query_value(query, "ucodeSPL"));
	X509_free(x);
}

static void check_chain(bool vlek, const uint8_t *body, size_t len)
{
	BIO *b = BIO_new_mem_buf(body, (int)len);
	X509 *first = PEM_read_bio_X509(b, NULL, NULL, NULL);
	X509 *second = PEM_read_bio_X509(b, NULL, NULL, NULL);
	FUZZ_CHECK(first && second);
	FUZZ_CHECK(X509_cmp(first, vlek ? emul_amd_pki_asvk(pki) : emul_amd_pki_ask(pki)) == 0);
	FUZZ_CHECK(X509_cmp(second, emul_amd_pki_ark(pki)) == 0);
	X509_free(first);
	X509_free(second);
	BIO_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pki) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_kds_path.XXXXXX");
		FUZZ_CHECK(mkdtemp(dir));
		FUZZ_CHECK(emul_amd_pki_open(dir, SNP_PRODUCT_TURIN, &pki) == 0);
		atexit(cleanup);
	}
	char *path = malloc(size + 1);
	FUZZ_CHECK(path);
	memcpy(path, data, size);
	path[size] = '\0';

	int status = -1;
	uint8_t *body = NULL;
	size_t len = 0;
	const char *ct = NULL;
	int r = emul_kds_get(pki, path, &status, &body, &len, &ct);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(status == 200 || status == 400 || status == 404);
	FUZZ_CHECK(body && ct);
	if (status != 200) {
		FUZZ_CHECK(strcmp(ct, "text/plain") == 0);
		FUZZ_CHECK(len > 0 && strlen((char *)body) == len && !strchr((char *)body, '\n'));
	} else {
		bool vlek = strncmp(path, "/vlek/v1/Turin/", 15) == 0;
		FUZZ_CHECK(vlek || strncmp(path, "/vcek/v1/Turin/", 15) == 0);
		if (strcmp(ct, "application/pkix-cert") == 0) {
			FUZZ_CHECK(!vlek);
			check_vcek(path, body, len);
		} else if (strcmp(ct, "application/x-pem-file") == 0) {
			FUZZ_CHECK(strcmp(path + 15, "cert_chain") == 0);
			check_chain(vlek, body, len);
		} else {
			FUZZ_CHECK(strcmp(ct, "application/pkix-crl") == 0);
			FUZZ_CHECK(strcmp(path + 15, "crl") == 0);
			const uint8_t *p = body;
			X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
			FUZZ_CHECK(crl && p == body + len);
			FUZZ_CHECK(X509_CRL_verify(crl, X509_get0_pubkey(emul_amd_pki_ark(pki))) ==
				   1);
			X509_CRL_free(crl);
		}
	}
	free(body);
	free(path);
	return 0;
}
