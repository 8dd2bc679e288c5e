/* hv/emul/tdx_kernel.h: plays the Linux 7.2 kernel's TDX host side on a sysfs tree rooted at
 * a directory of ours, in front of an emulated TDX module (hv/emul/tdx_module.h). Used by the
 * tests and by cocod's emulated platform, which run the same hv/tdx.c code as a real host.
 *
 * The tree (paths and formats as hv/tdx.h lists them):
 *   devices/faux/tdx_host/{version, seamldr_version, num_remaining_updates}
 *   class/firmware/tdx_module/{loading, data, cancel, status, error, remaining_size}
 *   devices/system/cpu/{online, present, possible}
 * What differs from sysfs, and why it is still faithful to what a reader sees:
 *   - Attribute files are regular files, replaced atomically (write + rename) so a reader
 *     never sees half a value.
 *   - A lost module: `version` becomes a UNIX socket inode, which open(2) refuses with ENXIO;
 *     the real attribute's read() fails with ENXIO. hv/tdx.c sees -ENXIO either way.
 *   - The kernel starts the upload inside the write of loading=0; here a thread notices the
 *     write (inotify, or a 50 ms poll of `loading` if inotify is unavailable), so "idle"
 *     lingers a moment after loading=0: hv_tdx_options.start_grace_ms covers that.
 *   - `error` cannot fail with EBUSY while an upload runs; it holds the previous result
 *     until the upload ends.
 *
 * An upload (loading=1, data, loading=0) walks status receiving -> preparing -> transferring
 * -> programming -> idle with step_delay_ms at each, as sysfs_upload.c fw_upload_main()
 * does; the TDX driver (tdx-host.c) does the work in its write op, so by default errors
 * appear at "transferring": the kernel's v2 image checks (seamldr.c init_seamldr_params())
 * and the module update; -EBUSY from the module (shutdown refused) is "device-busy",
 * anything else "firmware-invalid" (tdx_fw_write()). A fault can be injected at any step.
 *
 * Starts and stops cleanly: stop joins the thread (bounded: every wait in it polls the stop
 * request) and frees everything; the tree stays for the caller to remove. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/emul/tdx_module.h"
#include "hv/tdx.h"

struct emul_tdx_kernel;

struct emul_tdx_kernel_config {
	const char *root;		/* created if missing (with parents) */
	struct emul_tdx_module *module; /* not owned; must outlive the kernel */
	uint32_t cpus;			/* possible = present = 0..cpus-1, all online; 0 = 8 */
	unsigned step_delay_ms;		/* 0 = 5 */
	bool no_inotify;		/* force the polling fallback (tests) */
};

int emul_tdx_kernel_start(const struct emul_tdx_kernel_config *cfg,
			  struct emul_tdx_kernel **ret);
void emul_tdx_kernel_stop(struct emul_tdx_kernel *k);

/* CPU hotplug: online <-> offline. -EINVAL for a CPU that is not present. */
int emul_tdx_kernel_set_cpu_online(struct emul_tdx_kernel *k, uint32_t cpu, bool online);

/* One-shot fault for the next upload. at: the status at which it fails (PREPARING,
 * TRANSFERRING, PROGRAMMING); code: what `error` says; lose_module: the failure comes after
 * the module was shut down (it is gone: version ENXIO, TDs dead). module_step instead makes
 * the emulated module itself fail at that step (and the kernel report it as it would). */
struct emul_tdx_kernel_fault {
	enum hv_fw_status at;
	enum hv_fw_err code;
	bool lose_module;
	enum emul_tdx_update_step module_step;
};
void emul_tdx_kernel_inject(struct emul_tdx_kernel *k, const struct emul_tdx_kernel_fault *f);
/* Hold the next uploads at this status until released (HV_FW_IDLE releases) or stopped. */
void emul_tdx_kernel_stall(struct emul_tdx_kernel *k, enum hv_fw_status at);

struct emul_tdx_kernel_stats {
	unsigned uploads;  /* loading=0 with data: uploads started */
	unsigned aborts;   /* loading=-1 */
	unsigned cancels;  /* writes to cancel (a no-op for TDX, as in tdx-host.c) */
	struct emul_tdx_update_outcome last; /* the module's verdict on the last update */
};
void emul_tdx_kernel_stats(struct emul_tdx_kernel *k, struct emul_tdx_kernel_stats *ret);
/* Publish the module's state again (after emul_tdx_module_reboot() and the like). */
int emul_tdx_kernel_refresh(struct emul_tdx_kernel *k);
