/* The firmware side of SNP_VLEK_LOAD: emul_amd_pki_unwrap_vlek() (hv/emul/amdpki.c) on 432
 * untrusted bytes. Byte 0 picks the mode: even, bytes 1.. are the hashstick (zero-padded or
 * cut to 432); odd, they are XORed onto a hashstick freshly wrapped for a fixed TCB, so the
 * fuzzer works near authentic input. Checks: only 0, -EINVAL or -EBADMSG, outputs untouched
 * on failure; -EINVAL exactly when a reserved area (0x00C-0x00F, 0x198-0x19F) or a reserved
 * TCB_VERSION byte is nonzero; success only for an authentic hashstick, and then the TCB is
 * the one at 0x190 and the key is the VLEK the PKI issues for it. The PKI (Genoa) is created
 * once per process in a temporary directory. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hv/emul/amdpki.h"
#include "tests/fuzz/fuzz.h"

static struct emul_amd_pki *pki;
static uint8_t authentic[EMUL_VLEK_HASHSTICK_SIZE];
static uint64_t authentic_tcb;
static char dir[64];

static void cleanup(void)
{
	emul_amd_pki_free(pki);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_vlek: could not remove %s\n", dir);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz_vlek.XXXXXX");
	FUZZ_CHECK(mkdtemp(dir));
	FUZZ_CHECK(emul_amd_pki_open(dir, SNP_PRODUCT_GENOA, &pki) == 0);
	atexit(cleanup);
	struct snp_tcb t = {.bootloader = 10, .tee = 0, .snp = 25, .microcode = 84};
	FUZZ_CHECK(snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &authentic_tcb) == 0);
	FUZZ_CHECK(emul_amd_pki_wrap_vlek(pki, authentic_tcb, authentic) == 0);
}

static bool any(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pki)
		setup();
	if (size == 0)
		return 0;
	bool xor_mode = data[0] & 1;
	uint8_t hs[EMUL_VLEK_HASHSTICK_SIZE] = {0};
	size_t n = size - 1 < sizeof(hs) ? size - 1 : sizeof(hs);
	memcpy(hs, data + 1, n);
	if (xor_mode)
		for (size_t i = 0; i < sizeof(hs); i++)
			hs[i] ^= authentic[i];

	uint64_t tcb = 0;
	for (int i = 7; i >= 0; i--)
		tcb = tcb << 8 | hs[0x190 + i];
	struct snp_tcb t;
	/* SNP ABI SNP_VLEK_LOAD, WRAPPED_VLEK_HASHSTICK: the reserved areas, and TCB_VERSION
	 * bytes 2-5 (Genoa layout). */
	bool bad_layout = any(hs + 0x0c, 4) || any(hs + 0x198, 8) ||
			  snp_tcb_decode(SNP_PRODUCT_GENOA, tcb, &t) < 0;

	uint64_t got = 0xfeed;
	EVP_PKEY *key = (EVP_PKEY *)hs;
	int r = emul_amd_pki_unwrap_vlek(pki, hs, &got, &key);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EBADMSG);
	FUZZ_CHECK((r == -EINVAL) == bad_layout);
	if (r < 0) {
		FUZZ_CHECK(got == 0xfeed && key == (EVP_PKEY *)hs);
		/* an untouched authentic hashstick never fails */
		FUZZ_CHECK(!(xor_mode && !any(data + 1, n)));
		return 0;
	}
	/* Success: only the authentic bytes (GCM: any change breaks the tag). */
	FUZZ_CHECK(memcmp(hs, authentic, sizeof(hs)) == 0);
	FUZZ_CHECK(got == tcb && got == authentic_tcb);
	EVP_PKEY *vlek = NULL;
	FUZZ_CHECK(emul_amd_pki_vlek(pki, got, &vlek, NULL) == 0);
	FUZZ_CHECK(EVP_PKEY_eq(key, vlek) == 1);
	EVP_PKEY_free(vlek);
	EVP_PKEY_free(key);
	return 0;
}
