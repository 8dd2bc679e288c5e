/* /dev/sev UAPI newer than Debian 12's 6.1 <linux/psp-sev.h>. Values and layouts from upstream
 * include/uapi/linux/psp-sev.h (SNP_PLATFORM_STATUS/COMMIT/SET_CONFIG and their structs: Linux
 * 6.9; SNP_VLEK_LOAD: Linux 6.11). The commands are enum members upstream, so `#ifndef` cannot
 * see them: the kernel headers' LINUX_VERSION_CODE decides what is defined here, and whatever
 * the system header provides is checked against the ABI numbers below. Firmware status codes
 * get HV_-prefixed names (the full SNP ABI list, most of which 6.1 lacks) checked against the
 * system's SEV_RET_* where it has them. */
#pragma once
#include <linux/psp-sev.h>
#include <linux/types.h>
#include <linux/version.h>
#include <stddef.h>

/* Commands (SEV_ISSUE_CMD cmd). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
#define SNP_PLATFORM_STATUS 9
#define SNP_COMMIT 10
#define SNP_SET_CONFIG 11
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#define SNP_VLEK_LOAD 12
#endif
_Static_assert(SEV_GET_ID2 == 8, "uapi psp-sev.h: SEV_GET_ID2");
_Static_assert(SNP_PLATFORM_STATUS == 9, "uapi psp-sev.h: SNP_PLATFORM_STATUS");
_Static_assert(SNP_COMMIT == 10, "uapi psp-sev.h: SNP_COMMIT");
_Static_assert(SNP_SET_CONFIG == 11, "uapi psp-sev.h: SNP_SET_CONFIG");
_Static_assert(SNP_VLEK_LOAD == 12, "uapi psp-sev.h: SNP_VLEK_LOAD");

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
/* SNP ABI SNP_PLATFORM_STATUS buffer as the kernel copies it out (32 bytes). The kernel header
 * spells the flag word at 0x08 as bitfields (mask_chip_id:1, mask_chip_key:1, vlek_en:1,
 * feature_info:1, rapl_dis:1, ciphertext_hiding_cap:1, ciphertext_hiding_en:1); code here reads
 * it as a little-endian u32 so that it works with either header. */
struct sev_user_data_snp_status {
	__u8 api_major;
	__u8 api_minor;
	__u8 state;
	__u8 is_rmp_initialized : 1;
	__u8 rsvd : 7;
	__u32 build_id;
	__u32 mask_chip_id : 1;
	__u32 mask_chip_key : 1;
	__u32 vlek_en : 1;
	__u32 rsvd1 : 29;
	__u32 guest_count;
	__u64 current_tcb_version;
	__u64 reported_tcb_version;
} __attribute__((packed));

/* SNP ABI SNP_CONFIG command buffer (64 bytes). */
struct sev_user_data_snp_config {
	__u64 reported_tcb;
	__u32 mask_chip_id : 1;
	__u32 mask_chip_key : 1;
	__u32 rsvd : 30;
	__u8 rsvd1[52];
} __attribute__((packed));
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
/* SNP_VLEK_LOAD: len must be sizeof (16), version 0; the address points at the hashstick. */
struct sev_user_data_snp_vlek_load {
	__u32 len;
	__u8 vlek_wrapped_version;
	__u8 rsvd[3];
	__u64 vlek_wrapped_address;
} __attribute__((packed));

/* The wrapped VLEK hashstick AMD's KDS hands a cloud provider (SNP ABI SNP_VLEK_LOAD). */
struct sev_user_data_snp_wrapped_vlek_hashstick {
	__u8 data[432];
} __attribute__((packed));
#endif

/* Kernel ABI sizes and offsets (upstream include/uapi/linux/psp-sev.h, all __packed). */
_Static_assert(sizeof(struct sev_issue_cmd) == 16, "sev_issue_cmd");
_Static_assert(offsetof(struct sev_issue_cmd, cmd) == 0, "sev_issue_cmd.cmd");
_Static_assert(offsetof(struct sev_issue_cmd, data) == 4, "sev_issue_cmd.data");
_Static_assert(offsetof(struct sev_issue_cmd, error) == 12, "sev_issue_cmd.error");
_Static_assert(sizeof(struct sev_user_data_get_id2) == 12, "sev_user_data_get_id2");
_Static_assert(offsetof(struct sev_user_data_get_id2, address) == 0, "get_id2.address");
_Static_assert(offsetof(struct sev_user_data_get_id2, length) == 8, "get_id2.length");
_Static_assert(sizeof(struct sev_user_data_snp_status) == 32, "sev_user_data_snp_status");
_Static_assert(offsetof(struct sev_user_data_snp_status, api_major) == 0, "snp_status.api_major");
_Static_assert(offsetof(struct sev_user_data_snp_status, api_minor) == 1, "snp_status.api_minor");
_Static_assert(offsetof(struct sev_user_data_snp_status, state) == 2, "snp_status.state");
_Static_assert(offsetof(struct sev_user_data_snp_status, build_id) == 4, "snp_status.build_id");
_Static_assert(offsetof(struct sev_user_data_snp_status, guest_count) == 12,
	       "snp_status.guest_count");
_Static_assert(offsetof(struct sev_user_data_snp_status, current_tcb_version) == 16,
	       "snp_status.current_tcb_version");
_Static_assert(offsetof(struct sev_user_data_snp_status, reported_tcb_version) == 24,
	       "snp_status.reported_tcb_version");
_Static_assert(sizeof(struct sev_user_data_snp_config) == 64, "sev_user_data_snp_config");
_Static_assert(offsetof(struct sev_user_data_snp_config, reported_tcb) == 0,
	       "snp_config.reported_tcb");
_Static_assert(offsetof(struct sev_user_data_snp_config, rsvd1) == 12, "snp_config.rsvd1");
_Static_assert(sizeof(struct sev_user_data_snp_vlek_load) == 16, "sev_user_data_snp_vlek_load");
_Static_assert(offsetof(struct sev_user_data_snp_vlek_load, len) == 0, "vlek_load.len");
_Static_assert(offsetof(struct sev_user_data_snp_vlek_load, vlek_wrapped_version) == 4,
	       "vlek_load.vlek_wrapped_version");
_Static_assert(offsetof(struct sev_user_data_snp_vlek_load, rsvd) == 5, "vlek_load.rsvd");
_Static_assert(offsetof(struct sev_user_data_snp_vlek_load, vlek_wrapped_address) == 8,
	       "vlek_load.vlek_wrapped_address");
_Static_assert(sizeof(struct sev_user_data_snp_wrapped_vlek_hashstick) == 432,
	       "sev_user_data_snp_wrapped_vlek_hashstick");

/* Byte offsets read and written as integers (bitfield-free access). */
#define HV_SNP_STATUS_FLAGS_OFF 3 /* bit 0: IS_RMP_INITIALIZED */
#define HV_SNP_STATUS_MASKS_OFF 8 /* u32: the flag word below */
#define HV_SNP_STATUS_MASK_CHIP_ID (1u << 0)
#define HV_SNP_STATUS_MASK_CHIP_KEY (1u << 1)
#define HV_SNP_STATUS_VLEK_EN (1u << 2)
#define HV_SNP_STATUS_FEATURE_INFO (1u << 3)
#define HV_SNP_STATUS_RAPL_DIS (1u << 4)
#define HV_SNP_STATUS_CIPHERTEXT_HIDING_CAP (1u << 5)
#define HV_SNP_STATUS_CIPHERTEXT_HIDING_EN (1u << 6)
#define HV_SNP_CONFIG_MASKS_OFF 8 /* u32: bit 0 MASK_CHIP_ID, bit 1 MASK_CHIP_KEY, rest MBZ */
#define HV_SNP_CONFIG_MASK_CHIP_ID (1u << 0)
#define HV_SNP_CONFIG_MASK_CHIP_KEY (1u << 1)

/* Firmware status codes: SEV-SNP Firmware ABI (AMD 56860) "Status Codes" table, with the names
 * upstream psp-sev.h gives them (0x1E is unassigned). */
enum {
	HV_SEV_RET_SUCCESS = 0x00,
	HV_SEV_RET_INVALID_PLATFORM_STATE = 0x01,
	HV_SEV_RET_INVALID_GUEST_STATE = 0x02,
	HV_SEV_RET_INVALID_CONFIG = 0x03,
	HV_SEV_RET_INVALID_LEN = 0x04,
	HV_SEV_RET_ALREADY_OWNED = 0x05,
	HV_SEV_RET_INVALID_CERTIFICATE = 0x06,
	HV_SEV_RET_POLICY_FAILURE = 0x07,
	HV_SEV_RET_INACTIVE = 0x08,
	HV_SEV_RET_INVALID_ADDRESS = 0x09,
	HV_SEV_RET_BAD_SIGNATURE = 0x0A,
	HV_SEV_RET_BAD_MEASUREMENT = 0x0B,
	HV_SEV_RET_ASID_OWNED = 0x0C,
	HV_SEV_RET_INVALID_ASID = 0x0D,
	HV_SEV_RET_WBINVD_REQUIRED = 0x0E,
	HV_SEV_RET_DFFLUSH_REQUIRED = 0x0F,
	HV_SEV_RET_INVALID_GUEST = 0x10,
	HV_SEV_RET_INVALID_COMMAND = 0x11,
	HV_SEV_RET_ACTIVE = 0x12,
	HV_SEV_RET_HWSEV_RET_PLATFORM = 0x13,
	HV_SEV_RET_HWSEV_RET_UNSAFE = 0x14,
	HV_SEV_RET_UNSUPPORTED = 0x15,
	HV_SEV_RET_INVALID_PARAM = 0x16,
	HV_SEV_RET_RESOURCE_LIMIT = 0x17,
	HV_SEV_RET_SECURE_DATA_INVALID = 0x18,
	HV_SEV_RET_INVALID_PAGE_SIZE = 0x19,
	HV_SEV_RET_INVALID_PAGE_STATE = 0x1A,
	HV_SEV_RET_INVALID_MDATA_ENTRY = 0x1B,
	HV_SEV_RET_INVALID_PAGE_OWNER = 0x1C,
	HV_SEV_RET_AEAD_OFLOW = 0x1D,
	HV_SEV_RET_EXIT_RING_BUFFER = 0x1F,
	HV_SEV_RET_RMP_INIT_REQUIRED = 0x20,
	HV_SEV_RET_BAD_SVN = 0x21,
	HV_SEV_RET_BAD_VERSION = 0x22,
	HV_SEV_RET_SHUTDOWN_REQUIRED = 0x23,
	HV_SEV_RET_UPDATE_FAILED = 0x24,
	HV_SEV_RET_RESTORE_REQUIRED = 0x25,
	HV_SEV_RET_RMP_INITIALIZATION_FAILED = 0x26,
	HV_SEV_RET_INVALID_KEY = 0x27,
	HV_SEV_RET_SHUTDOWN_INCOMPLETE = 0x28,
	HV_SEV_RET_INCORRECT_BUFFER_LENGTH = 0x30,
	HV_SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST = 0x31,
	HV_SEV_RET_SPDM_REQUEST = 0x32,
	HV_SEV_RET_SPDM_ERROR = 0x33,
	HV_SEV_RET_SEV_STATUS_ERR_IN_DEV_CONN = 0x35,
	HV_SEV_RET_SEV_STATUS_INVALID_DEV_CTX = 0x36,
	HV_SEV_RET_SEV_STATUS_INVALID_TDI_CTX = 0x37,
	HV_SEV_RET_SEV_STATUS_INVALID_TDI = 0x38,
	HV_SEV_RET_SEV_STATUS_RECLAIM_REQUIRED = 0x39,
	HV_SEV_RET_IN_USE = 0x3A,
	HV_SEV_RET_SEV_STATUS_INVALID_DEV_STATE = 0x3B,
	HV_SEV_RET_SEV_STATUS_INVALID_TDI_STATE = 0x3C,
	HV_SEV_RET_SEV_STATUS_DEV_CERT_CHANGED = 0x3D,
	HV_SEV_RET_SEV_STATUS_RESYNC_REQ = 0x3E,
	HV_SEV_RET_SEV_STATUS_RESPONSE_TOO_LARGE = 0x3F,
};

/* What 6.1 already has must agree (its enum counts up from 0; 0x03 is spelled INAVLID). */
_Static_assert((int)SEV_RET_INVALID_PLATFORM_STATE == (int)HV_SEV_RET_INVALID_PLATFORM_STATE,
	       "SEV_RET");
_Static_assert((int)SEV_RET_INAVLID_CONFIG == (int)HV_SEV_RET_INVALID_CONFIG, "SEV_RET");
_Static_assert((int)SEV_RET_INVALID_LEN == (int)HV_SEV_RET_INVALID_LEN, "SEV_RET");
_Static_assert((int)SEV_RET_POLICY_FAILURE == (int)HV_SEV_RET_POLICY_FAILURE, "SEV_RET");
_Static_assert((int)SEV_RET_INVALID_ADDRESS == (int)HV_SEV_RET_INVALID_ADDRESS, "SEV_RET");
_Static_assert((int)SEV_RET_BAD_SIGNATURE == (int)HV_SEV_RET_BAD_SIGNATURE, "SEV_RET");
_Static_assert((int)SEV_RET_BAD_MEASUREMENT == (int)HV_SEV_RET_BAD_MEASUREMENT, "SEV_RET");
_Static_assert((int)SEV_RET_INVALID_GUEST == (int)HV_SEV_RET_INVALID_GUEST, "SEV_RET");
_Static_assert((int)SEV_RET_INVALID_COMMAND == (int)HV_SEV_RET_INVALID_COMMAND, "SEV_RET");
_Static_assert((int)SEV_RET_UNSUPPORTED == (int)HV_SEV_RET_UNSUPPORTED, "SEV_RET");
_Static_assert((int)SEV_RET_INVALID_PARAM == (int)HV_SEV_RET_INVALID_PARAM, "SEV_RET");
_Static_assert((int)SEV_RET_RESOURCE_LIMIT == (int)HV_SEV_RET_RESOURCE_LIMIT, "SEV_RET");
_Static_assert((int)SEV_RET_SECURE_DATA_INVALID == (int)HV_SEV_RET_SECURE_DATA_INVALID, "SEV_RET");
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
_Static_assert((int)SEV_RET_INVALID_PAGE_STATE == (int)HV_SEV_RET_INVALID_PAGE_STATE, "SEV_RET");
_Static_assert((int)SEV_RET_BAD_SVN == (int)HV_SEV_RET_BAD_SVN, "SEV_RET");
#endif
