/* The emulated platform makes its AMD key set (three RSA-4096 keys, seconds of CPU) on a state
 * directory's first start. Tests share one set, made once per build tree (PKI_CACHE_DIR) and
 * linked into each state directory they hand to the emulated platform. */
#pragma once
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/emul/amdpki.h"

static inline void share_emulated_pki(const char *state_dir)
{
	struct emul_amd_pki *pki;
	ck_assert(mkdir(PKI_CACHE_DIR, 0700) == 0 || errno == EEXIST);
	ck_assert_int_eq(emul_amd_pki_open(PKI_CACHE_DIR, SNP_PRODUCT_GENOA, &pki), 0);
	emul_amd_pki_free(pki);
	char link[4200];
	snprintf(link, sizeof(link), "%s/emul-amd-genoa", state_dir);
	ck_assert(mkdir(state_dir, 0700) == 0 || errno == EEXIST);
	ck_assert_int_eq(symlink(PKI_CACHE_DIR "/emul-amd-genoa", link), 0);
}
