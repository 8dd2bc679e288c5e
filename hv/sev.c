/* The SEV firmware through /dev/sev: a native backend (SEV_ISSUE_CMD ioctl), an emulated one
 * (hv/emul/psp.c on the same structs), and one small function per firmware command. */
#include "hv/sev.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "coco/util.h"
#include "hv/emul/psp.h"
#include "hv/uapi/sev_compat.h"

/* ---- native backend ---- */

struct sev_native {
	int fd;
};

/* Commands newer than 6.1, with the first release that has them (upstream psp-sev.h). */
static const struct {
	uint32_t cmd;
	unsigned major, minor;
	const char *text;
} sev_cmd_since[] = {
    {SNP_PLATFORM_STATUS, 6, 9, "6.9"},
    {SNP_COMMIT, 6, 9, "6.9"},
    {SNP_SET_CONFIG, 6, 9, "6.9"},
    {SNP_VLEK_LOAD, 6, 11, "6.11"},
};

const char *hv_sev_cmd_linux_version(uint32_t cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(sev_cmd_since); i++)
		if (sev_cmd_since[i].cmd == cmd)
			return sev_cmd_since[i].text;
	return NULL;
}

/* sev_ioctl() answers EINVAL for a command past its SEV_MAX, and also for a known command it
 * refuses (SNP not initialized, bad buffer). A running kernel older than the release that
 * added cmd settles it; a distribution backport on an older version number is taken at its
 * word (EINVAL stays EINVAL). */
static bool sev_kernel_lacks_cmd(uint32_t cmd)
{
	struct utsname u;
	unsigned major, minor;

	for (size_t i = 0; i < ARRAY_SIZE(sev_cmd_since); i++) {
		if (sev_cmd_since[i].cmd != cmd)
			continue;
		if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
			return false;
		return major < sev_cmd_since[i].major ||
		       (major == sev_cmd_since[i].major && minor < sev_cmd_since[i].minor);
	}
	return false;
}

static int sev_native_issue(void *ctx, uint32_t cmd, void *data, uint32_t *ret_fw_error)
{
	struct sev_native *n = ctx;
	struct sev_issue_cmd arg = {.cmd = cmd, .data = (uintptr_t)data, .error = 0};

	*ret_fw_error = 0;
	if (ioctl(n->fd, SEV_ISSUE_CMD, &arg) < 0) {
		int e = errno;
		*ret_fw_error = arg.error;
		if (e == EINVAL && sev_kernel_lacks_cmd(cmd))
			return -EOPNOTSUPP;
		return -e;
	}
	*ret_fw_error = arg.error;
	return 0;
}

static void sev_native_free(void *ctx)
{
	struct sev_native *n = ctx;

	if (n && n->fd >= 0)
		close(n->fd);
	free(n);
}

static const struct hv_sev_ops sev_native_ops = {
    .name = "native",
    .issue = sev_native_issue,
    .free = sev_native_free,
};

int hv_sev_open_native(const char *dev_root, bool writable, struct hv_sev **ret)
{
	char path[4096];
	_cleanup_close_ int fd = -1;

	if (!ret)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/sev", dev_root ? dev_root : "/dev") >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	struct sev_native *n = calloc(1, sizeof(*n));
	struct hv_sev *s = calloc(1, sizeof(*s));
	if (!n || !s) {
		free(n);
		free(s);
		return -ENOMEM;
	}
	n->fd = TAKE_FD(fd);
	s->ops = &sev_native_ops;
	s->ctx = n;
	*ret = s;
	return 0;
}

/* ---- emulated backend ---- */

static int sev_emul_issue(void *ctx, uint32_t cmd, void *data, uint32_t *ret_fw_error)
{
	return emul_psp_issue(ctx, cmd, data, ret_fw_error);
}

static void sev_emul_free(void *ctx)
{
	(void)ctx; /* the PSP belongs to the caller */
}

static const struct hv_sev_ops sev_emul_ops = {
    .name = "emulated",
    .issue = sev_emul_issue,
    .free = sev_emul_free,
};

int hv_sev_open_emulated(struct emul_psp *psp, struct hv_sev **ret)
{
	if (!psp || !ret)
		return -EINVAL;
	struct hv_sev *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = &sev_emul_ops;
	s->ctx = psp;
	*ret = s;
	return 0;
}

void hv_sev_free(struct hv_sev *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->free)
		s->ops->free(s->ctx);
	free(s);
}

/* ---- commands ---- */

/* One SEV_ISSUE_CMD: a firmware status without an errno still counts as a refusal. */
static int sev_issue(struct hv_sev *s, uint32_t cmd, void *data, uint32_t *ret_fw_error)
{
	uint32_t fw = 0;
	int r;

	if (!s || !s->ops || !s->ops->issue)
		return -EINVAL;
	r = s->ops->issue(s->ctx, cmd, data, &fw);
	if (r == 0 && fw != 0)
		r = -EIO;
	if (ret_fw_error)
		*ret_fw_error = fw;
	return r;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int hv_sev_snp_platform_status(struct hv_sev *s, struct hv_snp_status *ret, uint32_t *ret_fw_error)
{
	/* The kernel copies the 32-byte status buffer out to the address in data. */
	struct sev_user_data_snp_status st;
	uint8_t raw[sizeof(st)];
	int r;

	memset(&st, 0, sizeof(st));
	r = sev_issue(s, SNP_PLATFORM_STATUS, &st, ret_fw_error);
	if (r < 0)
		return r;
	if (!ret)
		return 0;
	memcpy(raw, &st, sizeof(raw));
	uint32_t masks = le32_at(raw + HV_SNP_STATUS_MASKS_OFF);
	*ret = (struct hv_snp_status){
	    .api_major = st.api_major,
	    .api_minor = st.api_minor,
	    .state = st.state,
	    .rmp_initialized = raw[HV_SNP_STATUS_FLAGS_OFF] & 1,
	    .build_id = st.build_id,
	    .mask_chip_id = masks & HV_SNP_STATUS_MASK_CHIP_ID,
	    .mask_chip_key = masks & HV_SNP_STATUS_MASK_CHIP_KEY,
	    .vlek_en = masks & HV_SNP_STATUS_VLEK_EN,
	    .feature_info = masks & HV_SNP_STATUS_FEATURE_INFO,
	    .rapl_dis = masks & HV_SNP_STATUS_RAPL_DIS,
	    .ciphertext_hiding_cap = masks & HV_SNP_STATUS_CIPHERTEXT_HIDING_CAP,
	    .ciphertext_hiding_en = masks & HV_SNP_STATUS_CIPHERTEXT_HIDING_EN,
	    .guest_count = st.guest_count,
	    .current_tcb = st.current_tcb_version,
	    .reported_tcb = st.reported_tcb_version,
	    /* SNP ABI PLATFORM_STATUS carries no committed TCB (nor does the kernel's
	     * struct); only attestation reports do (REPORT.COMMITTED_TCB). */
	    .committed_tcb_known = false,
	};
	return 0;
}

int hv_sev_get_id(struct hv_sev *s, uint8_t ret_chip_id[64], uint32_t *ret_fw_error)
{
	uint8_t id[64] = {0};
	struct sev_user_data_get_id2 arg = {.address = (uintptr_t)id, .length = sizeof(id)};
	int r;

	r = sev_issue(s, SEV_GET_ID2, &arg, ret_fw_error);
	if (r < 0)
		return r;
	if (arg.length > sizeof(id))
		return -EPROTO;
	if (ret_chip_id)
		memcpy(ret_chip_id, id, sizeof(id));
	return 0;
}

int hv_sev_snp_commit(struct hv_sev *s, uint32_t *ret_fw_error)
{
	/* The kernel builds the firmware's SNP_COMMIT buffer itself; data is unused. */
	return sev_issue(s, SNP_COMMIT, NULL, ret_fw_error);
}

int hv_sev_snp_set_config(struct hv_sev *s, uint64_t reported_tcb, bool mask_chip_id,
			  bool mask_chip_key, uint32_t *ret_fw_error)
{
	struct sev_user_data_snp_config cfg;
	uint8_t raw[sizeof(cfg)] = {0};
	uint32_t masks = (mask_chip_id ? HV_SNP_CONFIG_MASK_CHIP_ID : 0) |
			 (mask_chip_key ? HV_SNP_CONFIG_MASK_CHIP_KEY : 0);

	memcpy(raw, &reported_tcb, sizeof(reported_tcb)); /* x86: little-endian */
	memcpy(raw + HV_SNP_CONFIG_MASKS_OFF, &masks, sizeof(masks));
	memcpy(&cfg, raw, sizeof(cfg));
	return sev_issue(s, SNP_SET_CONFIG, &cfg, ret_fw_error);
}

int hv_sev_snp_vlek_load(struct hv_sev *s, const uint8_t hashstick[HV_SNP_VLEK_HASHSTICK_SIZE],
			 uint32_t *ret_fw_error)
{
	struct sev_user_data_snp_wrapped_vlek_hashstick blob;
	struct sev_user_data_snp_vlek_load arg = {
	    .len = sizeof(arg),
	    .vlek_wrapped_version = 0,
	    .vlek_wrapped_address = (uintptr_t)&blob,
	};

	_Static_assert(sizeof(blob) == HV_SNP_VLEK_HASHSTICK_SIZE, "hashstick size");
	if (!hashstick)
		return -EINVAL;
	memcpy(blob.data, hashstick, sizeof(blob.data));
	return sev_issue(s, SNP_VLEK_LOAD, &arg, ret_fw_error);
}

/* ---- names ---- */

static const struct {
	uint32_t code;
	const char *name;
	const char *message;
} sev_fw_errors[] = {
    {HV_SEV_RET_SUCCESS, "SUCCESS", "The command completed successfully."},
    {HV_SEV_RET_INVALID_PLATFORM_STATE, "INVALID_PLATFORM_STATE",
     "The platform state is invalid for this command."},
    {HV_SEV_RET_INVALID_GUEST_STATE, "INVALID_GUEST_STATE",
     "The guest state is invalid for this command."},
    {HV_SEV_RET_INVALID_CONFIG, "INVALID_CONFIG", "The platform configuration is invalid."},
    {HV_SEV_RET_INVALID_LEN, "INVALID_LEN", "A memory buffer is too small."},
    {HV_SEV_RET_ALREADY_OWNED, "ALREADY_OWNED", "The platform is already owned."},
    {HV_SEV_RET_INVALID_CERTIFICATE, "INVALID_CERTIFICATE", "The certificate is invalid."},
    {HV_SEV_RET_POLICY_FAILURE, "POLICY_FAILURE",
     "The request is not allowed by the guest or platform policy."},
    {HV_SEV_RET_INACTIVE, "INACTIVE", "The guest is inactive."},
    {HV_SEV_RET_INVALID_ADDRESS, "INVALID_ADDRESS", "The address provided is invalid."},
    {HV_SEV_RET_BAD_SIGNATURE, "BAD_SIGNATURE", "A signature did not verify."},
    {HV_SEV_RET_BAD_MEASUREMENT, "BAD_MEASUREMENT", "The measurement did not match."},
    {HV_SEV_RET_ASID_OWNED, "ASID_OWNED", "The ASID is already owned."},
    {HV_SEV_RET_INVALID_ASID, "INVALID_ASID", "The ASID is invalid."},
    {HV_SEV_RET_WBINVD_REQUIRED, "WBINVD_REQUIRED", "WBINVD must be executed first."},
    {HV_SEV_RET_DFFLUSH_REQUIRED, "DFFLUSH_REQUIRED", "DF_FLUSH must be invoked first."},
    {HV_SEV_RET_INVALID_GUEST, "INVALID_GUEST", "The guest handle is invalid."},
    {HV_SEV_RET_INVALID_COMMAND, "INVALID_COMMAND", "The command issued is invalid."},
    {HV_SEV_RET_ACTIVE, "ACTIVE", "The guest is active."},
    {HV_SEV_RET_HWSEV_RET_PLATFORM, "HWERROR_PLATFORM",
     "A hardware condition occurred affecting the platform; it is safe to re-allocate."},
    {HV_SEV_RET_HWSEV_RET_UNSAFE, "HWERROR_UNSAFE",
     "A hardware condition occurred affecting the platform; re-allocation is unsafe."},
    {HV_SEV_RET_UNSUPPORTED, "UNSUPPORTED", "The feature is not supported."},
    {HV_SEV_RET_INVALID_PARAM, "INVALID_PARAM", "A parameter is invalid."},
    {HV_SEV_RET_RESOURCE_LIMIT, "RESOURCE_LIMIT",
     "The firmware ran out of a resource needed to complete the command."},
    {HV_SEV_RET_SECURE_DATA_INVALID, "SECURE_DATA_INVALID",
     "Part-specific integrity check failure."},
    {HV_SEV_RET_INVALID_PAGE_SIZE, "INVALID_PAGE_SIZE", "The RMP page size is incorrect."},
    {HV_SEV_RET_INVALID_PAGE_STATE, "INVALID_PAGE_STATE", "The RMP page state is incorrect."},
    {HV_SEV_RET_INVALID_MDATA_ENTRY, "INVALID_MDATA_ENTRY", "The metadata entry is invalid."},
    {HV_SEV_RET_INVALID_PAGE_OWNER, "INVALID_PAGE_OWNER", "The page ownership is incorrect."},
    {HV_SEV_RET_AEAD_OFLOW, "AEAD_OFLOW",
     "The AEAD algorithm would have overflowed its message counter."},
    {HV_SEV_RET_EXIT_RING_BUFFER, "RING_BUFFER_EXIT",
     "The firmware left ring buffer mode to process a command."},
    {HV_SEV_RET_RMP_INIT_REQUIRED, "RMP_INIT_REQUIRED",
     "The RMP must be reinitialized (SNP_INIT) first."},
    {HV_SEV_RET_BAD_SVN, "BAD_SVN", "The security version number is not acceptable."},
    {HV_SEV_RET_BAD_VERSION, "BAD_VERSION", "The firmware version is not acceptable."},
    {HV_SEV_RET_SHUTDOWN_REQUIRED, "SHUTDOWN_REQUIRED", "SNP_SHUTDOWN must be invoked first."},
    {HV_SEV_RET_UPDATE_FAILED, "UPDATE_FAILED",
     "The firmware update failed; the previous firmware keeps running."},
    {HV_SEV_RET_RESTORE_REQUIRED, "RESTORE_REQUIRED",
     "A firmware update left state that must be restored first."},
    {HV_SEV_RET_RMP_INITIALIZATION_FAILED, "RMP_INITIALIZATION_FAILED",
     "The RMP could not be initialized."},
    {HV_SEV_RET_INVALID_KEY, "INVALID_KEY", "The key is invalid or could not be unwrapped."},
    {HV_SEV_RET_SHUTDOWN_INCOMPLETE, "SHUTDOWN_INCOMPLETE",
     "The previous SNP_SHUTDOWN did not complete."},
    {HV_SEV_RET_INCORRECT_BUFFER_LENGTH, "INCORRECT_BUFFER_LENGTH",
     "A buffer length is incorrect."},
    {HV_SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST, "EXPAND_BUFFER_LENGTH_REQUEST",
     "The firmware requests a larger buffer."},
    {HV_SEV_RET_SPDM_REQUEST, "SPDM_REQUEST",
     "The firmware asks the host to relay an SPDM request to a device."},
    {HV_SEV_RET_SPDM_ERROR, "SPDM_ERROR", "An SPDM exchange with the device failed."},
    {HV_SEV_RET_SEV_STATUS_ERR_IN_DEV_CONN, "ERR_IN_DEV_CONN",
     "The device connection is in error."},
    {HV_SEV_RET_SEV_STATUS_INVALID_DEV_CTX, "INVALID_DEV_CTX", "The device context is invalid."},
    {HV_SEV_RET_SEV_STATUS_INVALID_TDI_CTX, "INVALID_TDI_CTX", "The TDI context is invalid."},
    {HV_SEV_RET_SEV_STATUS_INVALID_TDI, "INVALID_TDI", "The TDI is invalid."},
    {HV_SEV_RET_SEV_STATUS_RECLAIM_REQUIRED, "RECLAIM_REQUIRED", "Pages must be reclaimed first."},
    {HV_SEV_RET_IN_USE, "IN_USE", "The resource is in use."},
    {HV_SEV_RET_SEV_STATUS_INVALID_DEV_STATE, "INVALID_DEV_STATE",
     "The device state is invalid for this command."},
    {HV_SEV_RET_SEV_STATUS_INVALID_TDI_STATE, "INVALID_TDI_STATE",
     "The TDI state is invalid for this command."},
    {HV_SEV_RET_SEV_STATUS_DEV_CERT_CHANGED, "DEV_CERT_CHANGED", "The device certificate changed."},
    {HV_SEV_RET_SEV_STATUS_RESYNC_REQ, "RESYNC_REQ", "The device must be resynchronized."},
    {HV_SEV_RET_SEV_STATUS_RESPONSE_TOO_LARGE, "RESPONSE_TOO_LARGE",
     "The device response is too large."},
};

const char *hv_sev_fw_error_name(uint32_t code)
{
	for (size_t i = 0; i < ARRAY_SIZE(sev_fw_errors); i++)
		if (sev_fw_errors[i].code == code)
			return sev_fw_errors[i].name;
	return "UNKNOWN";
}

const char *hv_sev_fw_error_message(uint32_t code)
{
	for (size_t i = 0; i < ARRAY_SIZE(sev_fw_errors); i++)
		if (sev_fw_errors[i].code == code)
			return sev_fw_errors[i].message;
	return "unknown firmware status";
}

const char *hv_sev_cmd_name(uint32_t cmd)
{
	static const char *const names[] = {
	    [SEV_FACTORY_RESET] = "SEV_FACTORY_RESET",
	    [SEV_PLATFORM_STATUS] = "SEV_PLATFORM_STATUS",
	    [SEV_PEK_GEN] = "SEV_PEK_GEN",
	    [SEV_PEK_CSR] = "SEV_PEK_CSR",
	    [SEV_PDH_GEN] = "SEV_PDH_GEN",
	    [SEV_PDH_CERT_EXPORT] = "SEV_PDH_CERT_EXPORT",
	    [SEV_PEK_CERT_IMPORT] = "SEV_PEK_CERT_IMPORT",
	    [SEV_GET_ID] = "SEV_GET_ID",
	    [SEV_GET_ID2] = "SEV_GET_ID2",
	    [SNP_PLATFORM_STATUS] = "SNP_PLATFORM_STATUS",
	    [SNP_COMMIT] = "SNP_COMMIT",
	    [SNP_SET_CONFIG] = "SNP_SET_CONFIG",
	    [SNP_VLEK_LOAD] = "SNP_VLEK_LOAD",
	};

	return cmd < ARRAY_SIZE(names) ? names[cmd] : NULL;
}
