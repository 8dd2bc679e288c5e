/* Inside the emulated PSP: state shared by psp.c (platform commands, identity), psp_launch.c
 * (guest launch, ID block) and psp_report.c (attestation reports). Not for other modules. */
#pragma once
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/emul/psp.h"

#define PSP_LD_SIZE 48
#define PSP_MAX_GUESTS 509 /* a Genoa-sized SNP ASID space; RESOURCE_LIMIT beyond */

/* SNP ABI guest states (GSTATE). */
enum psp_gstate {
	PSP_GSTATE_FREE = 0, /* slot unused */
	PSP_GSTATE_LAUNCH,   /* between LAUNCH_START and LAUNCH_FINISH */
	PSP_GSTATE_RUNNING,  /* after LAUNCH_FINISH */
};

struct psp_guest {
	enum psp_gstate state;
	uint32_t handle;
	uint64_t policy;
	uint8_t gosvw[16];
	uint8_t ld[PSP_LD_SIZE];
	uint8_t report_id[32];
	uint64_t launch_tcb;
	/* From LAUNCH_FINISH. */
	bool id_block_en;
	bool author_key_en;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t guest_svn;
	uint8_t host_data[32];
	uint8_t id_key_digest[PSP_LD_SIZE];
	uint8_t author_key_digest[PSP_LD_SIZE];
};

struct emul_psp {
	/* KVM (hv/emul/kvm.c) issues launch and report commands from its own threads. */
	pthread_mutex_t lock;
	char *dir; /* <state_dir>/emul-psp */
	enum snp_product product;
	struct emul_amd_pki *pki;

	/* Identity and firmware versions (persisted). */
	uint8_t chip_id[64];
	uint8_t api_major, api_minor;
	uint8_t build_id;
	uint8_t committed_api_major, committed_api_minor, committed_build_id;
	uint64_t current_tcb, reported_tcb, committed_tcb;
	bool mask_chip_id, mask_chip_key;
	uint64_t platform_info; /* REPORT.PLATFORM_INFO */
	bool smt_en;

	/* Volatile: lost at a platform reset (emul_psp_open). */
	EVP_PKEY *vlek; /* NULL unless SNP_VLEK_LOAD succeeded */
	EVP_PKEY *vcek; /* cache for vcek_tcb */
	uint64_t vcek_tcb;
	struct psp_guest *guests; /* PSP_MAX_GUESTS */
	uint32_t next_handle;
};

/* Set *ret_fw_error (may be NULL) and return the errno a refused firmware command gives. */
int psp_fail(uint32_t *ret_fw_error, uint32_t status);
struct psp_guest *psp_guest_find(struct emul_psp *psp, uint32_t handle);
uint32_t psp_guest_count(const struct emul_psp *psp);
int psp_persist(struct emul_psp *psp);
/* REPORT.CPUID_FAM_ID/MOD_ID/STEP of the emulated product. */
void psp_cpuid(const struct emul_psp *psp, uint8_t *ret_fam, uint8_t *ret_mod, uint8_t *ret_step);

/* SNP ABI "ID Authentication Information": verify ID_BLOCK_SIG (and ID_KEY_SIG with
 * author_key_en) as the firmware does at SNP_LAUNCH_FINISH. Independent of coco/snp/idblock.c
 * on purpose (cross-check). Returns 0 with the key digests, or a SEV_RET_* status > 0
 * (INVALID_PARAM for malformed structures, BAD_SIGNATURE), or a negative errno. */
int psp_id_auth_check(const uint8_t id_block[96], const uint8_t id_auth[4096], bool author_key_en,
		      uint8_t ret_id_key_digest[PSP_LD_SIZE],
		      uint8_t ret_author_key_digest[PSP_LD_SIZE]);

/* SNP ABI ECDSA P-384 formats: 72-byte little-endian integers. */
int psp_ecdsa_pubkey_decode(const uint8_t pub[0x404], EVP_PKEY **ret);
int psp_ecdsa_sig_verify(EVP_PKEY *key, const uint8_t sig[0x200], const uint8_t *msg, size_t len);
int psp_ecdsa_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t ret_sig[0x200]);
