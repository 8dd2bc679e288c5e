/* Safe runtime TDX module update (Linux 7.2 fw_upload at class/firmware/tdx_module).
 *
 * The kernel runs the update under stop_machine and checks none of what keeps TDs alive;
 * this does, in preflight, before anything is written to sysfs:
 *   update-interface  class/firmware/tdx_module exists
 *   module            the running module's version reads (not lost)
 *   seamldr           the P-SEAMLDR version reads
 *   cpus              every present CPU is online (P-SEAMLDR needs all of them)
 *   remaining-updates num_remaining_updates > 0
 *   upload-idle       no fw_upload in progress
 *   mapping           mapping_file.json parses (coco/tdx/mapping.h)
 *   inventory         the module directory scans (coco/tdx/select.h)
 *   target            the requested (or pinned, or highest) version is eligible, with reasons
 *   blob              the target's file, read again: parsed, verified, converted to v2
 *   gate              no TD build or migration in flight: the gate (tdxd/gate.h) taken
 *                     exclusive within gate_timeout_ms (a dry run only looks)
 * Every check runs and reports (a refusal names all that failed).
 *
 * Journal (coco/store.h tdx_updates/tdx_update_steps), written before and after each step:
 *   preflight (row created) -> image (v2 image SHA-384) -> gate -> upload-start ->
 *   status:<receiving|preparing|transferring|programming|idle> -> upload-end (the kernel's
 *   verdict) [-> busy-retry -> upload-start ...] -> postcheck -> succeeded|failed|lost.
 * Outcome mapping: device-busy is retried (the old module kept running, safe); any other
 * failure reads the version: ENXIO means the module was lost after shutdown ("tdx-lost,
 * reboot required": the gate closes, TD launches and further updates are refused), a version
 * means the update was refused before shutdown. Success is only a post-check that reads the
 * target version.
 *
 * On start, tdxd_update_reconcile() settles every journal row left running (kill -9): it waits
 * (bounded) for an upload still in the kernel, reads the live version, and records what
 * happened. Runtime updates do not survive a reboot: the boot-time module comes back. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/tdx/select.h"
#include "hv/tdx.h"
#include "tdxd/gate.h"

struct coco_store;

struct tdxd_update_config {
	const char *module_dir;	  /* tdx_module_<x.y.z>.blob files */
	const char *mapping_file; /* NULL = <module_dir>/mapping_file.json */
	bool pinned;		  /* the operator's pinned version ("latest" means this) */
	struct tdx_version pin;
	uint32_t cpuid_1_eax;	      /* this host's CPU (the CPUID instruction, or emulated) */
	unsigned gate_timeout_ms;     /* 0 = 30000 */
	unsigned busy_retries;	      /* device-busy retries after the first attempt; 0 = none */
	unsigned busy_retry_delay_ms; /* 0 = 1000 */
	struct hv_tdx_upload_options upload; /* timeout and poll interval (progress is ours) */
	/* Tests only: stop right after journaling this many steps, as a kill -9 would (the
	 * journal row stays running; the gate is released). 0 = never. */
	unsigned crash_after_steps;
};

struct tdxd_updater;

/* tdx, store and gate are borrowed and must outlive the updater. cfg strings are copied. */
int tdxd_updater_new(const struct tdxd_update_config *cfg, struct hv_tdx *tdx,
		     struct coco_store *store, struct tdxd_gate *gate, struct tdxd_updater **ret);
void tdxd_updater_free(struct tdxd_updater *u);

struct tdxd_update_request {
	bool latest;		    /* else version */
	struct tdx_version version;
	bool dry_run, allow_debug, reinstall;
	const char *op_id;	    /* the operation this runs under, for the journal; may be NULL */
};

enum tdxd_check_id {
	TDXD_CHECK_UPDATE_INTERFACE,
	TDXD_CHECK_MODULE,
	TDXD_CHECK_SEAMLDR,
	TDXD_CHECK_CPUS,
	TDXD_CHECK_REMAINING,
	TDXD_CHECK_UPLOAD_IDLE,
	TDXD_CHECK_MAPPING,
	TDXD_CHECK_INVENTORY,
	TDXD_CHECK_TARGET,
	TDXD_CHECK_BLOB,
	TDXD_CHECK_GATE,
	TDXD_CHECK_COUNT,
};
const char *tdxd_check_name(enum tdxd_check_id c);

struct tdxd_check {
	bool run; /* false: could not be judged (an earlier check it needs failed) */
	bool ok;
	char detail[256];
};

enum tdxd_update_outcome {
	TDXD_UPDATE_UPDATED,   /* post-check read the target version */
	TDXD_UPDATE_PLANNED,   /* dry run: every check passed */
	TDXD_UPDATE_REFUSED,   /* a preflight check failed: nothing written to sysfs */
	TDXD_UPDATE_BUSY,      /* device-busy after the retries: module intact, retry later */
	TDXD_UPDATE_FAILED,    /* the kernel refused before shutdown: module intact */
	TDXD_UPDATE_LOST,      /* the module is gone: reboot required */
	TDXD_UPDATE_UNKNOWN,   /* no verdict (timeout); reconcile reads it later */
	TDXD_UPDATE_CRASHED,   /* tests: crash_after_steps hit */
};
const char *tdxd_update_outcome_name(enum tdxd_update_outcome o);

struct tdxd_update_report {
	enum tdxd_update_outcome outcome;
	char journal_id[37];	/* "" for a dry run or a refusal without a module version */
	struct tdx_version from, to; /* to: the target (valid when has_target) */
	bool has_target;
	struct tdx_version after;    /* the version read by the post-check (outcome UPDATED) */
	uint32_t remaining_after;
	struct tdxd_check checks[TDXD_CHECK_COUNT];
	char message[512];
	unsigned attempts;
	uint64_t gate_hold_ns;	/* gate taken .. released */
	uint64_t upload_ns;	/* inside hv_tdx_upload(), all attempts */
	uint64_t retry_wait_ns; /* sleeping between device-busy attempts */
	uint64_t total_ns;
	uint8_t image_sha384[48];
	size_t image_size;
};

typedef void (*tdxd_update_progress_fn)(void *userdata, const char *step,
					enum hv_fw_status status, uint32_t remaining_size);

/* One update (or dry run). Returns 0 with the verdict in *ret (refusals and failures are
 * verdicts), or a negative errno when it could not run at all (-ENOMEM, -EIO from the store,
 * -EBUSY: another update is running in this process). */
int tdxd_update_run(struct tdxd_updater *u, const struct tdxd_update_request *rq,
		    tdxd_update_progress_fn progress, void *userdata, struct tdxd_update_report *ret);

/* The candidates as the running host sees them (for list/plan): the inventory and selection
 * against the live module, P-SEAMLDR and CPU. The caller clears them. */
struct tdxd_plan {
	struct tdx_inventory inv;
	struct tdx_mapping map;
	struct tdx_selection sel;
	struct hv_tdx_state state;
	char error[256]; /* when the function fails */
};
int tdxd_plan(struct tdxd_updater *u, const struct tdxd_update_request *rq, struct tdxd_plan *ret);
void tdxd_plan_clear(struct tdxd_plan *p);

/* Settle journal rows left running. Returns how many were settled (>= 0) or a negative errno. */
int tdxd_update_reconcile(struct tdxd_updater *u, unsigned wait_ms);

/* The module was found lost (here or by a reader of `version`): close the gate. */
bool tdxd_updater_lost(struct tdxd_updater *u);
