/* AMD certificates as KDS or a cache file hands them in (coco/snp/amdcert.c): the whole input is
 * tried as one certificate (DER or PEM), as a KDS cert_chain (PEM) and as a DER CRL. Checks:
 * failures are -EBADMSG with a message and outputs untouched; a parsed certificate re-encodes
 * to DER that parses again to an equal certificate; the VCEK/VLEK extension parser on it fails
 * with a message or gives a hwID of 8 or 64 bytes exactly for a VCEK, a printable NUL-terminated
 * product name, and is deterministic; a chain is an (issued, issuer) pair. */
#include <errno.h>
#include <openssl/x509.h>
#include <string.h>

#include "coco/snp/amdcert.h"
#include "tests/fuzz/fuzz.h"

static void check_cert(X509 *c)
{
	unsigned char *der = NULL;
	int len = i2d_X509(c, &der);
	FUZZ_CHECK(len > 0);
	X509 *again = NULL;
	char err[256];
	if ((size_t)len <= AMD_CERT_MAX_SIZE) {
		FUZZ_CHECK(amd_cert_parse(der, (size_t)len, &again, err, sizeof(err)) == 0);
		FUZZ_CHECK(X509_cmp(c, again) == 0);
		X509_free(again);
	}
	OPENSSL_free(der);

	struct amd_vek_ext e, e2;
	memset(&e, 0x5a, sizeof(e));
	err[0] = '\0';
	int r = amd_vek_ext_parse(c, &e, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && err[0]);
		FUZZ_CHECK(((const uint8_t *)&e)[0] == 0x5a);
		return;
	}
	FUZZ_CHECK(e.vlek ? e.hwid_len == 0 && e.csp_id[0] : e.hwid_len == 8 || e.hwid_len == 64);
	FUZZ_CHECK(memchr(e.product_name, '\0', sizeof(e.product_name)) && e.product_name[0]);
	for (const char *p = e.product_name; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e);
	FUZZ_CHECK(amd_vek_ext_parse(c, &e2, NULL, 0) == 0);
	FUZZ_CHECK(e2.hwid_len == e.hwid_len && memcmp(e2.hwid, e.hwid, e.hwid_len) == 0);
	FUZZ_CHECK(memcmp(&e2.tcb, &e.tcb, sizeof(e.tcb)) == 0 && e2.has_fmc == e.has_fmc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	X509 *c = (X509 *)0x1, *ark = (X509 *)0x1;
	err[0] = '\0';
	int r = amd_cert_parse(data, size, &c, err, sizeof(err));
	if (r == 0) {
		check_cert(c);
		X509_free(c);
	} else {
		FUZZ_CHECK(r == -EBADMSG && err[0] && c == (X509 *)0x1);
	}

	c = (X509 *)0x1;
	err[0] = '\0';
	r = amd_cert_chain_parse(data, size, &c, &ark, err, sizeof(err));
	if (r == 0) {
		FUZZ_CHECK(X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(ark)) == 0);
		check_cert(c);
		check_cert(ark);
		X509_free(c);
		X509_free(ark);
	} else {
		FUZZ_CHECK(r == -EBADMSG && err[0] && c == (X509 *)0x1 && ark == (X509 *)0x1);
	}

	X509_CRL *crl = (X509_CRL *)0x1;
	err[0] = '\0';
	r = amd_crl_parse(data, size, &crl, err, sizeof(err));
	if (r == 0) {
		unsigned char *der = NULL;
		FUZZ_CHECK(i2d_X509_CRL(crl, &der) > 0);
		OPENSSL_free(der);
		X509_CRL_free(crl);
	} else {
		FUZZ_CHECK(r == -EBADMSG && err[0] && crl == (X509_CRL *)0x1);
	}
	return 0;
}
