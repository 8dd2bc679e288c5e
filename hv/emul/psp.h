/* hv/emul/psp.h: the emulated AMD Secure Processor (SEV-SNP firmware). It implements the
 * /dev/sev commands on the kernel's UAPI structs (emul_psp_issue, behind hv_sev's ops) and the
 * firmware side of an SNP guest's life that KVM drives (launch start/update/finish, guest and
 * host report requests). Its identity (product, chip id, TCB) and keys persist in a state
 * directory; its certificates come from the emulated AMD PKI (hv/emul/amdpki.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/product.h"

struct emul_psp;
struct emul_amd_pki;

struct emul_psp_config {
	const char *state_dir;	 /* required: identity, VLEK, keys live in <state_dir>/emul-psp/ */
	enum snp_product product; /* UNKNOWN = Genoa */
	/* First start only (later starts keep the persisted identity): 0 = defaults. */
	uint64_t initial_tcb; /* current = reported = committed TCB at first start */
};

int emul_psp_open(const struct emul_psp_config *cfg, struct emul_psp **ret);
void emul_psp_free(struct emul_psp *psp);
enum snp_product emul_psp_product(const struct emul_psp *psp);
void emul_psp_chip_id(const struct emul_psp *psp, uint8_t ret[64]);
struct emul_amd_pki *emul_psp_pki(struct emul_psp *psp);

/* /dev/sev: SEV_ISSUE_CMD on the UAPI struct `data`. Same contract as hv_sev_ops.issue. */
int emul_psp_issue(struct emul_psp *psp, uint32_t cmd, void *data, uint32_t *ret_fw_error);

/* Test knob: install new firmware (a TCB above the committed one): current TCB changes, the
 * reported TCB stays until SNP_SET_CONFIG / SNP_COMMIT, as on hardware. */
int emul_psp_set_current_tcb(struct emul_psp *psp, uint64_t tcb);
/* The committed TCB (SNP_PLATFORM_STATUS does not carry it; reports do, as COMMITTED_TCB). */
uint64_t emul_psp_committed_tcb(struct emul_psp *psp);

/* The firmware side of an SNP launch, as KVM issues it (SNP ABI: SNP_LAUNCH_START,
 * SNP_LAUNCH_UPDATE, SNP_LAUNCH_FINISH, SNP_GUEST_REQUEST MSG_REPORT_REQ, SNP_HV_REPORT_REQ).
 * All return 0 or a negative errno with *ret_fw_error (may be NULL) = the firmware status
 * (-EIO when the firmware refused). A guest is named by the handle launch_start returns. */
int emul_psp_snp_launch_start(struct emul_psp *psp, uint64_t policy, const uint8_t gosvw[16],
			      uint32_t *ret_handle, uint32_t *ret_fw_error);
/* One 4 KiB page at gpa. page_type: SNP ABI PAGE_TYPE (1 normal, 2 VMSA, 3 zero,
 * 4 unmeasured, 5 secrets, 6 CPUID); `contents` is the page (NULL for zero/unmeasured/secrets).
 * The firmware folds it into the launch digest exactly as the ABI specifies (PAGE_INFO). */
int emul_psp_snp_launch_update(struct emul_psp *psp, uint32_t handle, uint64_t gpa,
			       uint8_t page_type, const uint8_t contents[4096], bool imi,
			       uint8_t vmpl3_perms, uint8_t vmpl2_perms, uint8_t vmpl1_perms,
			       uint32_t *ret_fw_error);
/* id_block (96 bytes) and id_auth (4096) may be NULL (then no ID block); host_data 32 bytes
 * (NULL = zeros). Verifies the ID block against the digest as the firmware does. */
int emul_psp_snp_launch_finish(struct emul_psp *psp, uint32_t handle, const uint8_t *id_block,
			       const uint8_t *id_auth, bool author_key_en,
			       const uint8_t host_data[32], uint32_t *ret_fw_error);
/* The 48-byte launch digest (after finish, what REPORT.MEASUREMENT carries). */
int emul_psp_snp_launch_digest(struct emul_psp *psp, uint32_t handle, uint8_t ret[48]);
/* MSG_REPORT_REQ from the guest at `vmpl`: a version-5 ATTESTATION_REPORT (1184 bytes)
 * signed with the VCEK (or the VLEK when one is loaded). */
#define EMUL_SNP_REPORT_SIZE 1184
int emul_psp_snp_guest_report(struct emul_psp *psp, uint32_t handle,
			      const uint8_t report_data[64], uint32_t vmpl,
			      uint8_t ret_report[EMUL_SNP_REPORT_SIZE], uint32_t *ret_fw_error);
/* SNP_HV_REPORT_REQ: host-requested report: VMPL 0xFFFFFFFF, REPORT_DATA zero. */
int emul_psp_snp_hv_report(struct emul_psp *psp, uint32_t handle,
			   uint8_t ret_report[EMUL_SNP_REPORT_SIZE], uint32_t *ret_fw_error);
int emul_psp_snp_decommission(struct emul_psp *psp, uint32_t handle, uint32_t *ret_fw_error);
