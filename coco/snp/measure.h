/* Expected launch digests of SEV, SEV-ES and SEV-SNP guests, computed offline from the
 * firmware, the kernel-hashes table and the vCPUs' VMSAs, bit-exact with what the firmware
 * reports (and with virtee/sev-snp-measure for the cases it gets right). Pure: the caller maps
 * the files and hashes kernel/initrd; nothing here opens a file or logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/hashes.h"
#include "coco/snp/vmsa.h"

enum snp_mode {
	SNP_MODE_SNP,	    /* SEV-SNP launch digest (SHA-384 chain) */
	SNP_MODE_SEVES,	    /* SEV-ES: SHA-256 of firmware, hashes table, VMSAs */
	SNP_MODE_SEV,	    /* SEV: SHA-256 of firmware and hashes table */
	SNP_MODE_OVMF_HASH, /* the SNP chain after the firmware pages only */
	SNP_MODE_SVSM,	    /* SEV-SNP with COCONUT-SVSM + OVMF (QEMU IGVM-less layout) */
};

struct snp_measure_input {
	enum snp_mode mode;
	const uint8_t *ovmf;
	size_t ovmf_size;
	/* Optional: SHA-384 of every firmware page (ovmf_size/4096 x 48 bytes), e.g. cached. */
	const uint8_t *ovmf_page_hashes;
	/* Optional: start the SNP chain from this value instead of measuring the firmware pages
	 * (sev-snp-measure --snp-ovmf-hash; the daemon's per-firmware prefix cache). */
	const uint8_t *seed;
	/* Optional, SNP mode: the chain after firmware and metadata sections, as returned in
	 * snp_measure_result.pre_vmsa for the same firmware, kernel hashes and VMM type; only the
	 * VMSAs are folded then. */
	const uint8_t *pre_vmsa;
	/* Optional, SNP mode: SHA-384 of the BSP and AP VMSA pages (2 x 48 bytes), as returned in
	 * snp_measure_result.vmsa_hashes for the same firmware, VMM type, features and signature. */
	const uint8_t *vmsa_hashes;
	bool kernel; /* direct kernel boot: hashes below are used */
	struct snp_kernel_hashes hashes;
	unsigned vcpus;
	uint64_t vcpu_sig;
	uint64_t guest_features;
	enum snp_vmm_type vmm;
	const uint8_t *svsm; /* SNP_MODE_SVSM */
	size_t svsm_size;
	uint64_t vars_size;
	unsigned threads; /* for firmware page hashing; 0 = all online CPUs */
	/* Optional: called with each VMSA page as measured (snpctl measure --dump-vmsa). */
	void (*vmsa_cb)(void *userdata, unsigned index, const uint8_t page[SNP_PAGE_SIZE]);
	void *vmsa_userdata;
};

struct snp_measure_result {
	uint8_t digest[SNP_LD_SIZE];
	size_t digest_len; /* 48 (SNP) or 32 (SEV, SEV-ES) */
	uint64_t firmware_gpa;
	unsigned pages; /* pages folded into the SNP chain */
	/* SNP mode, for callers that cache stages (see pre_vmsa and vmsa_hashes above). */
	uint8_t pre_vmsa[SNP_LD_SIZE];
	uint8_t vmsa_hashes[2 * SNP_LD_SIZE];
};

/* Returns 0, or a negative errno with a message saying what is wrong with the input. */
int snp_measure(const struct snp_measure_input *in, struct snp_measure_result *out, char *err,
		size_t errlen);
/* The SNP chain after in's firmware pages alone (uses ovmf, ovmf_size and, when given,
 * ovmf_page_hashes and threads): the seed a later snp_measure of the same firmware may start
 * from. */
int snp_measure_prefix(const struct snp_measure_input *in, uint8_t out[SNP_LD_SIZE], char *err,
		       size_t errlen);
const char *snp_mode_name(enum snp_mode m);
int snp_mode_from_name(const char *s, enum snp_mode *ret);
