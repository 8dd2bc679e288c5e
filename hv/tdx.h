/* hv/tdx.h: the TDX host as Linux 7.2 shows it in sysfs, under a root that is "/sys" on a real
 * host and a temporary tree in tests (its kernel side played by hv/emul/tdx_kernel.h):
 *   devices/faux/tdx_host/{version "%u.%u.%02u", seamldr_version (same format),
 *                          num_remaining_updates "%u"}   (sysfs-devices-faux-tdx-host)
 *   class/firmware/tdx_module/{loading, data, cancel, status, error, remaining_size}
 *                          (fw_upload: Documentation/ABI/testing/sysfs-class-firmware,
 *                           drivers/base/firmware_loader/sysfs_upload.c)
 *   devices/system/cpu/{online, present, possible}   (cpu lists, "0-3,5")
 * Reading `version` fails with ENXIO once a module update failed after the old module was
 * shut down: no module, every TD dead, reboot required. (The simulated tree gives the same
 * errno honestly: the simulator puts a UNIX socket inode there, which open(2) refuses with
 * ENXIO.)
 *
 * Parsers of those texts are strict and hostile-input safe (a tree may be fake or corrupt);
 * functions return 0 or a negative errno and write outputs only on success. No logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/tdx/version.h"

struct hv_tdx;

struct hv_tdx_options {
	/* After loading=0 a real kernel has already left "idle" (fw_upload_start() sets
	 * "receiving" before the write returns), so an idle status means "done". The simulated
	 * tree's kernel runs asynchronously: an idle status read within this many ms of
	 * loading=0 is taken as "not started yet". 0 on real hosts. */
	unsigned start_grace_ms;
};

/* sysfs_root NULL = "/sys"; opt NULL = defaults. Nothing is read until asked. */
int hv_tdx_open(const char *sysfs_root, const struct hv_tdx_options *opt, struct hv_tdx **ret);
void hv_tdx_free(struct hv_tdx *t);

/* ---- attribute texts ---- */
/* The same versions coco/ parses in mapping_file.json and blob names. */
#define hv_tdx_version tdx_version
#define HV_TDX_VERSION_STRLEN TDX_VERSION_STRLEN
/* "%u.%u.%02u" with an optional single trailing newline; no signs, blanks, or leading zeros
 * (beyond the update's two-digit padding). -EINVAL otherwise, -ERANGE above 65535. */
int hv_tdx_version_parse(const char *s, size_t len, struct hv_tdx_version *ret);
#define hv_tdx_version_format tdx_version_format
#define hv_tdx_version_cmp tdx_version_cmp

/* "%u\n" as the kernel emits it: digits, optional newline, <= max. */
int hv_tdx_u32_parse(const char *s, size_t len, uint32_t max, uint32_t *ret);

/* CPU lists ("0-3,5\n", kernel bitmap_print_to_pagebuf %*pbl): ascending, non-overlapping
 * ranges, CPU ids below HV_TDX_MAX_CPUS; an empty list is valid. */
#define HV_TDX_MAX_CPUS 8192
struct hv_cpuset {
	uint64_t bits[HV_TDX_MAX_CPUS / 64];
	uint32_t count;
};
int hv_cpuset_parse(const char *s, size_t len, struct hv_cpuset *ret);
bool hv_cpuset_has(const struct hv_cpuset *c, uint32_t cpu);
/* Format as a cpu list into out (NUL-terminated, truncated with "..." if it does not fit). */
void hv_cpuset_format(const struct hv_cpuset *c, char *out, size_t outlen);

/* fw_upload status and error (sysfs_upload.c fw_upload_prog_str / fw_upload_err_str; the
 * kernel prints "unknown-status" / "unknown-error" for codes it does not know). */
enum hv_fw_status {
	HV_FW_IDLE,
	HV_FW_RECEIVING,
	HV_FW_PREPARING,
	HV_FW_TRANSFERRING,
	HV_FW_PROGRAMMING,
	HV_FW_STATUS_UNKNOWN,
};
enum hv_fw_err {
	HV_FW_ERR_NONE,
	HV_FW_ERR_HW_ERROR,
	HV_FW_ERR_TIMEOUT,
	HV_FW_ERR_USER_ABORT,
	HV_FW_ERR_DEVICE_BUSY,
	HV_FW_ERR_INVALID_FILE_SIZE,
	HV_FW_ERR_READ_WRITE_ERROR,
	HV_FW_ERR_FLASH_WEAROUT,
	HV_FW_ERR_FIRMWARE_INVALID, /* FW_UPLOAD_ERR_FW_INVALID: what tdx-host.c reports */
	HV_FW_ERR_UNKNOWN,
};
const char *hv_fw_status_name(enum hv_fw_status s);
const char *hv_fw_err_name(enum hv_fw_err e);
int hv_fw_status_parse(const char *s, size_t len, enum hv_fw_status *ret);
struct hv_fw_error {
	bool failed;		/* false: the error file was empty */
	enum hv_fw_status at;	/* the status at which the upload failed */
	enum hv_fw_err code;
};
/* "" or "\n" (no error), or "<status>:<error>\n". */
int hv_fw_error_parse(const char *s, size_t len, struct hv_fw_error *ret);

/* ---- live reads ---- */
/* -ENXIO: module lost; -ENOENT: no tdx_host (no TDX, or a kernel without tdx_host). */
int hv_tdx_module_version(struct hv_tdx *t, struct hv_tdx_version *ret);
int hv_tdx_seamldr_version(struct hv_tdx *t, struct hv_tdx_version *ret);
int hv_tdx_remaining_updates(struct hv_tdx *t, uint32_t *ret);
/* 1 if class/firmware/tdx_module exists, 0 if not, negative errno if it cannot be told. */
int hv_tdx_update_interface(struct hv_tdx *t);

struct hv_tdx_cpus {
	struct hv_cpuset online, present, possible;
	bool present_known; /* devices/system/cpu/present was readable */
	/* CPUs the update needs online but are not: present (or possible, when present is
	 * unknown) minus online. The kernel runs the update on the online CPUs only. */
	struct hv_cpuset missing;
};
int hv_tdx_cpus(struct hv_tdx *t, struct hv_tdx_cpus *ret);

int hv_tdx_upload_status(struct hv_tdx *t, enum hv_fw_status *ret);
int hv_tdx_upload_error(struct hv_tdx *t, struct hv_fw_error *ret);
int hv_tdx_upload_remaining(struct hv_tdx *t, uint32_t *ret);

/* Everything at once, for GET /v1/tdx/module and tdxctl status: each part carries its own
 * errno (0 = read), so a lost module still reports the rest. */
struct hv_tdx_state {
	int version_errno; /* ENXIO: lost; ENOENT: no tdx_host */
	struct hv_tdx_version version;
	int seamldr_errno;
	struct hv_tdx_version seamldr;
	int remaining_errno;
	uint32_t remaining_updates;
	bool update_interface;
	int cpus_errno;
	uint32_t cpus_online, cpus_present, cpus_possible, cpus_missing;
	int upload_errno;
	enum hv_fw_status upload_status;
};
void hv_tdx_state_read(struct hv_tdx *t, struct hv_tdx_state *ret);

/* ---- the fw_upload sequence ---- */
typedef void (*hv_tdx_progress_fn)(void *userdata, enum hv_fw_status status,
				   uint32_t remaining_size, uint64_t elapsed_ms);
struct hv_tdx_upload_options {
	unsigned timeout_ms;	   /* from loading=0 until idle; 0 = 120000 */
	unsigned poll_interval_ms; /* 0 = 50 */
	hv_tdx_progress_fn progress; /* called on every status change (and once at the end) */
	void *userdata;
};
struct hv_tdx_upload_result {
	struct hv_fw_error error; /* error.failed false: the kernel reports success */
	uint32_t remaining_size;
	uint64_t elapsed_ms;
	bool saw_busy_status; /* some non-idle status was observed */
};
/* Write loading=1, the image to data, loading=0, then poll status until idle (bounded by
 * timeout_ms) and read error and remaining_size. Returns 0 when the kernel finished the
 * upload, whatever its verdict (in ret->error); negative errno when the sequence could not
 * run: -ENOENT no upload interface, -EBUSY an upload is already in progress, -EFBIG image over
 * 4 GiB, -ETIMEDOUT still not idle at the deadline (the update may still complete: read the
 * version later), other: the write's errno (the data write is then aborted with loading=-1).
 * The image should be a v2 blob (tdx_blob_to_v2()); this layer does not look inside. */
int hv_tdx_upload(struct hv_tdx *t, const uint8_t *image, size_t len,
		  const struct hv_tdx_upload_options *opt, struct hv_tdx_upload_result *ret);
/* Write 1 to `cancel`. The TDX driver's cancel op is a no-op (tdx-host.c: "TDX module
 * updates are not cancellable"); the kernel answers ENODEV when nothing is in progress. */
int hv_tdx_upload_cancel(struct hv_tdx *t);
