/* hv/emul/tdx_module.h: an emulated Intel TDX module and P-SEAMLDR.
 *
 * What it keeps: the running module's identity (version, MRSEAM, SEAMSVN, attributes and
 * hand-off versions from its sigstruct), the P-SEAMLDR version and its update budget
 * (num_remaining_updates), and the TDs it hosts.
 *
 * Runtime update, as Linux 7.2 drives it (seamldr.c do_seamldr_install_module(): SHUTDOWN on
 * one CPU, then SEAMLDR.INSTALL on every CPU, TDX CPU init, RUN_UPDATE):
 *   before shutdown  - a TD build or migration in flight makes TDH.SYS.SHUTDOWN refuse
 *                      (the kernel asks it to avoid compat-sensitive operations): busy, the
 *                      old module keeps running;
 *   shutdown         - every TD pauses; the module is gone from here on;
 *   install          - P-SEAMLDR checks the update budget, all CPUs online, the sigstruct,
 *                      seamhash == SHA-384(module), the CPU in the CPUID table, debug
 *                      signing, SVN downgrade, and hand-off compatibility (the new module's
 *                      min_update_hv <= the old one's module_hv, same major.minor: a
 *                      TD-preserving update). Any failure: no module, every TD dies;
 *   success          - the TDs resume; the budget drops by one.
 * Modules are synthetic (coco/tdx/blobgen.h): the emulator learns the version from the
 * synthetic module header, as a real P-SEAMLDR learns it from the module.
 *
 * TD build: create (TDH.MNG.CREATE + TDH.MNG.INIT), TDH.MEM.PAGE.ADD, TDH.MR.EXTEND,
 * TDH.MR.FINALIZE, with MRTD the running SHA-384 of 128-byte records (Intel TDX Module Base
 * Architecture Specification, "MRTD" / TDH.MEM.PAGE.ADD and TDH.MR.EXTEND):
 *   MEM.PAGE.ADD: "MEM.PAGE.ADD" at byte 0, GPA (u64) at 16, zeros to 128;
 *   MR.EXTEND:    "MR.EXTEND" at byte 0, GPA at 16, zeros to 128, then the 256 data bytes.
 * TD reports: TDREPORT_STRUCT (1024 bytes; Intel TDX Module ABI Specification, TDREPORT_STRUCT,
 * REPORTMACSTRUCT, TEE_TCB_INFO and TDINFO_STRUCT tables):
 *     0 REPORTMACSTRUCT (256): 0 REPORTTYPE {type 0x81, subtype 0, version 1, rsvd}
 *       16 CPUSVN[16]  32 TEE_TCB_INFO_HASH[48] = SHA-384(TEE_TCB_INFO)
 *       80 TEE_INFO_HASH[48] = SHA-384(TDINFO)  128 REPORTDATA[64]  224 MAC[32]
 *   256 TEE_TCB_INFO (239): 0 VALID u64  8 TEE_TCB_SVN[16]  24 MRSEAM[48]
 *       72 MRSIGNERSEAM[48] (zero: Intel-signed)  120 ATTRIBUTES u64  128 TEE_TCB_SVN2[16]
 *   495 reserved[17]
 *   512 TDINFO (512): 0 ATTRIBUTES  8 XFAM  16 MRTD  64 MRCONFIGID  112 MROWNER
 *       160 MROWNERCONFIG  208 RTMR0..3 (48 each)  400 SERVTD_HASH  448 reserved[64]
 * The MAC is HMAC-SHA-256 under a key of this emulated module over REPORTMACSTRUCT bytes
 * 0..223 (the hardware uses a CPU-internal key; EVERIFYREPORT2 checks it:
 * emul_tdx_report_verify here).
 *
 * Thread-safe: one mutex serialises every call, as stop_machine() serialises the update
 * against SEAMCALLs. Returns 0 or a negative errno; -ENXIO whenever there is no module. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/tdx.h"

struct emul_tdx_module;

struct emul_tdx_module_config {
	/* The boot-time module (loaded by the BIOS / the kernel at boot): a blob (v1 or v2),
	 * or NULL for a built-in synthetic module of boot_version. */
	const uint8_t *boot_blob;
	size_t boot_blob_len;
	struct hv_tdx_version boot_version; /* without boot_blob; 0.0.0 = 1.5.06 */
	struct hv_tdx_version seamldr_version; /* 0.0.0 = 1.5.02 */
	uint32_t num_remaining_updates;	       /* at boot; P-SEAMLDR's budget */
	uint32_t cpuid_1_eax;		       /* the emulated CPU; 0 = blobgen's default */
	bool allow_debug_modules;	       /* a debug-unlocked platform */
	/* Where the module's state (present, running module's sigstruct and MRSEAM, update
	 * budget) is kept across restarts of the process that hosts the emulator, as a real
	 * module keeps running while cocod is killed; NULL: not kept. Written atomically after
	 * every change; read by emul_tdx_module_new (a file that does not parse is an error,
	 * never silently reset). */
	const char *state_file;
};

int emul_tdx_module_new(const struct emul_tdx_module_config *cfg, struct emul_tdx_module **ret);
void emul_tdx_module_free(struct emul_tdx_module *m);

struct emul_tdx_identity {
	struct hv_tdx_version version;
	uint8_t mrseam[48];
	uint16_t seamsvn;
	uint64_t attributes;
	uint16_t module_hv, min_update_hv;
	bool debug;
};
/* -ENXIO when the module is lost. */
int emul_tdx_module_identity(struct emul_tdx_module *m, struct emul_tdx_identity *ret);
void emul_tdx_seamldr_info(struct emul_tdx_module *m, struct hv_tdx_version *ret_version,
			   uint32_t *ret_remaining);
bool emul_tdx_module_present(struct emul_tdx_module *m);
/* Counts, for tests: successful updates, failed attempts. */
void emul_tdx_module_counters(struct emul_tdx_module *m, unsigned *ret_updates,
			      unsigned *ret_failures);
/* The module dies (e.g. a failure the kernel reports late): no module, every TD dead. */
void emul_tdx_module_fail(struct emul_tdx_module *m);
/* Reboot: the boot-time module again, the boot budget, no TDs (runtime updates do not
 * survive a reboot). */
void emul_tdx_module_reboot(struct emul_tdx_module *m);

/* ---- runtime update ---- */
enum emul_tdx_update_step {
	EMUL_TDX_STEP_NONE,
	EMUL_TDX_STEP_SHUTDOWN, /* fail TDH.SYS.SHUTDOWN: before shutdown, module intact */
	EMUL_TDX_STEP_INSTALL,	/* fail SEAMLDR.INSTALL: after shutdown, module lost */
	EMUL_TDX_STEP_RUN_UPDATE, /* fail TDH.SYS.UPDATE: after shutdown, module lost */
};
enum emul_tdx_update_result {
	EMUL_TDX_UPDATED,
	EMUL_TDX_REFUSED_BUSY,	  /* before shutdown: compat-sensitive work in flight */
	EMUL_TDX_REFUSED,	  /* before shutdown: e.g. no module to shut down */
	EMUL_TDX_LOST,		  /* after shutdown: no module, TDs dead */
};
struct emul_tdx_update_outcome {
	enum emul_tdx_update_result result;
	char reason[160];
};
/* The update from the sigstruct pages and module pages a kernel split out of a v2 image.
 * all_cpus_online: whether every CPU takes part (the kernel runs it on the online CPUs;
 * P-SEAMLDR needs every CPU). fail_at injects a failure at that step. Returns 0 with the
 * outcome in *ret (never an errno for the update's own verdict); -ENOMEM. */
int emul_tdx_module_update(struct emul_tdx_module *m, const uint8_t *sigstruct, size_t sig_len,
			   const uint8_t *module, size_t mod_len, bool all_cpus_online,
			   enum emul_tdx_update_step fail_at, struct emul_tdx_update_outcome *ret);

/* ---- TDs ---- */
enum emul_td_state {
	EMUL_TD_BUILDING, /* created, not finalized: compat-sensitive */
	EMUL_TD_RUNNABLE,
	EMUL_TD_DEAD,	  /* the module was lost under it */
};
struct emul_td_params {
	uint64_t attributes;
	uint64_t xfam;
	uint8_t mrconfigid[48];
	uint8_t mrowner[48];
	uint8_t mrownerconfig[48];
};
/* TDH.MNG.CREATE + TDH.MNG.INIT: a TD handle (> 0). At most 64 live TDs. */
int emul_tdx_td_create(struct emul_tdx_module *m, const struct emul_td_params *p,
		       uint32_t *ret_td);
/* TDH.MEM.PAGE.ADD: a 4 KiB-aligned GPA not added before; contents are copied into the TD's
 * private memory (not measured: only the GPA is). */
int emul_tdx_td_page_add(struct emul_tdx_module *m, uint32_t td, uint64_t gpa,
			 const uint8_t page[4096]);
/* TDH.MR.EXTEND: one 256-byte chunk at a 256-aligned GPA inside an added page. */
int emul_tdx_td_mr_extend(struct emul_tdx_module *m, uint32_t td, uint64_t gpa);
/* TDH.MR.FINALIZE: MRTD fixed; the TD can run. */
int emul_tdx_td_finalize(struct emul_tdx_module *m, uint32_t td);
int emul_tdx_td_mrtd(struct emul_tdx_module *m, uint32_t td, uint8_t ret[48]);
/* TDG.MR.RTMR.EXTEND from the guest: RTMR[i] = SHA-384(RTMR[i] || digest). */
int emul_tdx_td_rtmr_extend(struct emul_tdx_module *m, uint32_t td, unsigned index,
			    const uint8_t digest[48]);
/* Mark a live migration in flight (compat-sensitive, like a build). */
int emul_tdx_td_set_migrating(struct emul_tdx_module *m, uint32_t td, bool migrating);
int emul_tdx_td_state(struct emul_tdx_module *m, uint32_t td, enum emul_td_state *ret);
/* TDG.MR.REPORT: a TDREPORT_STRUCT for a runnable TD. */
#define EMUL_TDREPORT_SIZE 1024
int emul_tdx_td_report(struct emul_tdx_module *m, uint32_t td, const uint8_t report_data[64],
		       uint8_t ret[EMUL_TDREPORT_SIZE]);
/* EVERIFYREPORT2: 0 if the MAC and both hashes check, -EBADMSG otherwise. */
int emul_tdx_report_verify(struct emul_tdx_module *m, const uint8_t report[EMUL_TDREPORT_SIZE]);
/* TDH.MNG.VPFLUSHDONE..TDH.PHYMEM.PAGE.RECLAIM, collapsed: forget the TD (also a dead one). */
int emul_tdx_td_destroy(struct emul_tdx_module *m, uint32_t td);

/* TDREPORT_STRUCT offsets */
#define TDREPORT_TYPE_OFF 0
#define TDREPORT_CPUSVN_OFF 16
#define TDREPORT_TEE_TCB_INFO_HASH_OFF 32
#define TDREPORT_TEE_INFO_HASH_OFF 80
#define TDREPORT_REPORTDATA_OFF 128
#define TDREPORT_MAC_OFF 224
#define TDREPORT_TEE_TCB_INFO_OFF 256
#define TDREPORT_TEE_TCB_INFO_SIZE 239
#define TEE_TCB_INFO_VALID_OFF 0
#define TEE_TCB_INFO_SVN_OFF 8
#define TEE_TCB_INFO_MRSEAM_OFF 24
#define TEE_TCB_INFO_MRSIGNERSEAM_OFF 72
#define TEE_TCB_INFO_ATTRIBUTES_OFF 120
#define TEE_TCB_INFO_SVN2_OFF 128
#define TDREPORT_TDINFO_OFF 512
#define TDREPORT_TDINFO_SIZE 512
#define TDINFO_ATTRIBUTES_OFF 0
#define TDINFO_XFAM_OFF 8
#define TDINFO_MRTD_OFF 16
#define TDINFO_MRCONFIGID_OFF 64
#define TDINFO_MROWNER_OFF 112
#define TDINFO_MROWNERCONFIG_OFF 160
#define TDINFO_RTMR_OFF 208
#define TDINFO_SERVTD_HASH_OFF 400
