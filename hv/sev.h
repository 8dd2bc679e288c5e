/* hv/sev.h: the SEV firmware (AMD Secure Processor) as /dev/sev offers it: one SEV_ISSUE_CMD
 * per command on the kernel's UAPI structs (linux/psp-sev.h, hv/uapi/sev_compat.h). The native
 * backend is the ioctl; the emulated one (hv/emul/psp.c) implements the same commands on the
 * same structs, so everything above ->issue runs unchanged in tests. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct emul_psp;

struct hv_sev_ops {
	const char *name; /* "native" or "emulated" */
	/* One SEV_ISSUE_CMD. cmd: SEV_* / SNP_* command number; data: that command's UAPI struct
	 * (or NULL where the command takes none). Returns 0, or a negative errno (the ioctl's);
	 * *ret_fw_error receives the firmware status (SEV_RET_*, 0 = success) whenever the
	 * command reached the firmware, 0 otherwise. */
	int (*issue)(void *ctx, uint32_t cmd, void *data, uint32_t *ret_fw_error);
	void (*free)(void *ctx);
};

struct hv_sev {
	const struct hv_sev_ops *ops;
	void *ctx;
};

/* Native: opens <dev_root>/sev (dev_root NULL = "/dev"), read-write when `writable` (needed by
 * SNP_SET_CONFIG and SNP_VLEK_LOAD), else read-only. */
int hv_sev_open_native(const char *dev_root, bool writable, struct hv_sev **ret);
/* Emulated: commands go to the emulated PSP (not owned: the caller frees it after this). */
int hv_sev_open_emulated(struct emul_psp *psp, struct hv_sev **ret);
void hv_sev_free(struct hv_sev *s);

/* SNP_PLATFORM_STATUS, decoded. */
struct hv_snp_status {
	uint8_t api_major;
	uint8_t api_minor;
	uint8_t state; /* 0 UNINIT, 1 INIT (SNP ABI: platform state) */
	bool rmp_initialized;
	uint32_t build_id;
	bool mask_chip_id;
	bool mask_chip_key;
	bool vlek_en; /* a VLEK is loaded and reports are signed with it */
	bool feature_info;
	bool rapl_dis;
	bool ciphertext_hiding_cap;
	bool ciphertext_hiding_en;
	uint32_t guest_count;
	uint64_t current_tcb;  /* TCB_VERSION, product layout: coco/snp/product.h */
	uint64_t reported_tcb; /* what reports and VCEKs carry */
	bool committed_tcb_known;
	uint64_t committed_tcb;
};

/* One function per command (hv/sev.c). Each returns 0 or a negative errno:
 *   -EOPNOTSUPP  the kernel does not offer the command (older kernel: the ioctl says EINVAL
 *                for a command number past its SEV_MAX) — the message says which Linux has it;
 *   -EIO         the firmware refused: *ret_fw_error (may be NULL) says why;
 *   other        the ioctl's errno (EACCES/EPERM: /dev/sev permissions or read-only fd).
 * Output parameters are written only on success. */
int hv_sev_snp_platform_status(struct hv_sev *s, struct hv_snp_status *ret,
			       uint32_t *ret_fw_error);
/* SEV_GET_ID2: the 64-byte chip id (the KDS hwID). */
int hv_sev_get_id(struct hv_sev *s, uint8_t ret_chip_id[64], uint32_t *ret_fw_error);
int hv_sev_snp_commit(struct hv_sev *s, uint32_t *ret_fw_error);
int hv_sev_snp_set_config(struct hv_sev *s, uint64_t reported_tcb, bool mask_chip_id,
			  bool mask_chip_key, uint32_t *ret_fw_error);
/* SNP_VLEK_LOAD of a 432-byte wrapped VLEK hashstick. */
#define HV_SNP_VLEK_HASHSTICK_SIZE 432
int hv_sev_snp_vlek_load(struct hv_sev *s, const uint8_t hashstick[HV_SNP_VLEK_HASHSTICK_SIZE],
			 uint32_t *ret_fw_error);

/* Firmware status codes (SEV_RET_*, SNP ABI table "Status codes"): a stable name
 * ("INVALID_PLATFORM_STATE") and a sentence; "UNKNOWN" / "unknown firmware status" otherwise. */
const char *hv_sev_fw_error_name(uint32_t code);
const char *hv_sev_fw_error_message(uint32_t code);
/* "SNP_COMMIT", ... for a command number; NULL if unknown. */
const char *hv_sev_cmd_name(uint32_t cmd);
/* The first Linux release whose /dev/sev offers cmd ("6.9" for SNP_PLATFORM_STATUS, ...), for
 * the message that goes with -EOPNOTSUPP; NULL for commands older kernels have too. */
const char *hv_sev_cmd_linux_version(uint32_t cmd);
