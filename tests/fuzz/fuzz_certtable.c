/* The GHCB certificate table (coco/snp/certtable.c) as a guest-facing VMM or an operator's
 * imported file hands it in. Checks: decode either succeeds with every entry non-empty, inside
 * the blob and after the entry array, with distinct GUIDs and a kind that matches the GUID, or
 * fails with -EBADMSG and a message, outputs untouched; a decoded table encodes again and
 * decodes to the same entries (decode(encode(x)) == x); the bytes themselves re-encode to the
 * same blob when the input was packed the way the encoder packs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coco/snp/certtable.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_cert_entry e[SNP_CERT_TABLE_MAX_ENTRIES];
	size_t n = 12345;
	char err[256];
	err[0] = '\0';
	e[0].len = 54321;
	int r =
	    snp_cert_table_decode(data, size, e, SNP_CERT_TABLE_MAX_ENTRIES, &n, err, sizeof(err));
	if (r != 0) {
		FUZZ_CHECK(r == -EBADMSG && err[0]);
		FUZZ_CHECK(n == 12345 && e[0].len == 54321);
		return 0;
	}
	FUZZ_CHECK(n <= SNP_CERT_TABLE_MAX_ENTRIES);
	const uint8_t *data_start = data + (n + 1) * SNP_CERT_TABLE_ENTRY_SIZE;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(e[i].len > 0);
		FUZZ_CHECK(e[i].data >= data_start && e[i].data + e[i].len <= data + size);
		FUZZ_CHECK(e[i].kind == snp_cert_kind_of(&e[i].guid));
		FUZZ_CHECK(memcmp(data + i * SNP_CERT_TABLE_ENTRY_SIZE, e[i].guid.b, 16) == 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(memcmp(e[i].guid.b, e[j].guid.b, 16) != 0);
	}
	if (n == 0)
		return 0;

	uint8_t *blob = NULL;
	size_t len = 0;
	FUZZ_CHECK(snp_cert_table_encode(e, n, &blob, &len) == 0);
	struct snp_cert_entry again[SNP_CERT_TABLE_MAX_ENTRIES];
	size_t n2 = 0;
	FUZZ_CHECK(
	    snp_cert_table_decode(blob, len, again, SNP_CERT_TABLE_MAX_ENTRIES, &n2, NULL, 0) == 0);
	FUZZ_CHECK(n2 == n);
	size_t packed = (n + 1) * SNP_CERT_TABLE_ENTRY_SIZE;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(memcmp(again[i].guid.b, e[i].guid.b, 16) == 0);
		FUZZ_CHECK(again[i].kind == e[i].kind);
		FUZZ_CHECK(again[i].len == e[i].len &&
			   memcmp(again[i].data, e[i].data, e[i].len) == 0);
		packed += e[i].len;
	}
	FUZZ_CHECK(len == packed);
	free(blob);
	return 0;
}
