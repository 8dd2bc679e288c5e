/* tdxd/update.c and tdxd/gate.c on the simulated Linux 7.2 sysfs tree (hv/emul/tdx_kernel.h)
 * in front of the emulated TDX module + P-SEAMLDR: a successful update, every preflight
 * refusal (each asserted to write nothing to sysfs: the kernel helper counts uploads),
 * device-busy retry, failure after shutdown (tdx-lost), the TD-launch gate, and kill -9 at
 * each journal step followed by reconcile against the live version. The mapping file is
 * Intel's real one (tests/data/tdx); blobs are synthetic (coco/tdx/blobgen.h). */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/store.h"
#include "coco/tdx/blobgen.h"
#include "coco/util.h"
#include "hv/emul/tdx_kernel.h"
#include "hv/emul/tdx_module.h"
#include "tdxd/update.h"
#include "tests/check_main.h"
#include "tests/tdx_td.h"

static char top[64];

struct host {
	char dir[128], sys[160], mods[160], state[160];
	struct emul_tdx_module *mod;
	struct emul_tdx_kernel *kern;
	struct hv_tdx *tdx;
	struct coco_store *store;
	struct tdxd_gate *gate;
	struct tdxd_updater *up;
	struct tdxd_update_config cfg;
};

static void write_file(const char *dir, const char *name, const void *d, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

struct blobspec {
	uint16_t update;
	bool debug;
	uint32_t cpuid;
	int corrupt; /* 0 none, 1 truncated, 2 checksum, 3 seamhash */
	uint16_t minor, major; /* 0: 1.5 */
};

static void put_blob(struct host *h, struct blobspec b)
{
	uint16_t major = b.major ? b.major : 1, minor = b.major ? b.minor : 5;
	struct tdx_blobgen_params p = {.major = major, .minor = minor, .update = b.update,
				       .module_pages = 4, .debug = b.debug,
				       .cpuid = b.cpuid ? &b.cpuid : NULL,
				       .cpuid_count = b.cpuid ? 1 : 0, .seed = b.update};
	uint8_t *d;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(&p, &d, &n), 0);
	if (b.corrupt == 1)
		n -= 4096;
	if (b.corrupt >= 2)
		d[n - 1] ^= 1;
	if (b.corrupt == 3) {
		d[2] = d[3] = 0;
		uint16_t s = (uint16_t)(0x10000u - tdx_blob_sum16(d, n));
		d[2] = (uint8_t)s;
		d[3] = (uint8_t)(s >> 8);
	}
	char name[64];
	snprintf(name, sizeof(name), "tdx_module_%u.%u.%02u.blob", major, minor, b.update);
	write_file(h->mods, name, d, n);
	free(d);
}

static void updater_up(struct host *h)
{
	char err[256];
	ck_assert_msg(coco_store_open(h->state, &h->store, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(tdxd_gate_new(&h->gate), 0);
	ck_assert_int_eq(tdxd_updater_new(&h->cfg, h->tdx, h->store, h->gate, &h->up), 0);
}

static void updater_down(struct host *h)
{
	tdxd_updater_free(h->up);
	tdxd_gate_free(h->gate);
	coco_store_close(h->store);
	h->up = NULL;
	h->gate = NULL;
	h->store = NULL;
}

/* Boot module 1.5.06 under P-SEAMLDR `seamldr`, `remaining` updates, 8 CPUs; the module
 * directory holds Intel's mapping file and 1.5.08 and 1.5.16 blobs. */
static void host_up_with(struct host *h, uint32_t remaining, struct hv_tdx_version seamldr)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s/host-XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->sys, sizeof(h->sys), "%s/sys", h->dir);
	snprintf(h->mods, sizeof(h->mods), "%s/modules", h->dir);
	snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
	ck_assert_int_eq(mkdir(h->mods, 0700), 0);
	ck_assert_int_eq(mkdir(h->state, 0700), 0);
	_cleanup_free_ char *map = NULL;
	size_t len;
	ck_assert_int_eq(read_file_max(SOURCE_DIR "/tests/data/tdx/mapping_file.json", 1 << 20,
				       &map, &len),
			 0);
	write_file(h->mods, "mapping_file.json", map, len);
	put_blob(h, (struct blobspec){.update = 8});
	put_blob(h, (struct blobspec){.update = 16});
	struct emul_tdx_module_config mc = {.boot_version = {1, 5, 6},
					    .seamldr_version = seamldr,
					    .num_remaining_updates = remaining};
	ck_assert_int_eq(emul_tdx_module_new(&mc, &h->mod), 0);
	struct emul_tdx_kernel_config kc = {.root = h->sys, .module = h->mod, .cpus = 8,
					    .step_delay_ms = 10};
	ck_assert_int_eq(emul_tdx_kernel_start(&kc, &h->kern), 0);
	struct hv_tdx_options o = {.start_grace_ms = 3000};
	ck_assert_int_eq(hv_tdx_open(h->sys, &o, &h->tdx), 0);
	h->cfg = (struct tdxd_update_config){.module_dir = h->mods,
					     .cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT,
					     .gate_timeout_ms = 2000,
					     .busy_retries = 2,
					     .busy_retry_delay_ms = 20,
					     .upload = {.timeout_ms = 10000, .poll_interval_ms = 1}};
	updater_up(h);
}

static void host_up(struct host *h, uint32_t remaining)
{
	host_up_with(h, remaining, (struct hv_tdx_version){2, 0, 0});
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void host_down(struct host *h)
{
	updater_down(h);
	hv_tdx_free(h->tdx);
	emul_tdx_kernel_stop(h->kern);
	emul_tdx_module_free(h->mod);
	ck_assert_int_eq(nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static unsigned uploads(struct host *h)
{
	struct emul_tdx_kernel_stats ks;
	emul_tdx_kernel_stats(h->kern, &ks);
	return ks.uploads;
}

static void expect_module(struct host *h, uint16_t update)
{
	struct emul_tdx_identity id;
	ck_assert_int_eq(emul_tdx_module_identity(h->mod, &id), 0);
	ck_assert_uint_eq(id.version.major, 1);
	ck_assert_uint_eq(id.version.minor, 5);
	ck_assert_uint_eq(id.version.update, update);
}

static const struct tdxd_update_request LATEST = {.latest = true};

static struct tdxd_update_request version_req(uint16_t major, uint16_t minor, uint16_t update)
{
	return (struct tdxd_update_request){.version = {major, minor, update}};
}

static void journal_steps(struct host *h, const char *id, char *out, size_t len)
{
	struct coco_tdx_update_step *st;
	size_t n;
	ck_assert_int_eq(coco_store_tdx_update_steps(h->store, id, &st, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", st[i].step);
	coco_tdx_update_steps_free(st, n);
}

static enum coco_tdx_update_state journal_state(struct host *h, const char *id, char **detail)
{
	struct coco_tdx_update *v;
	size_t n;
	ck_assert_int_eq(coco_store_tdx_update_list(h->store, false, 0, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].id, id)) {
			enum coco_tdx_update_state s = v[i].state;
			if (detail)
				*detail = strdup(v[i].detail ? v[i].detail : "");
			coco_tdx_updates_free(v, n);
			return s;
		}
	ck_abort_msg("no journal row %s", id);
	return COCO_TDX_UPDATE_RUNNING;
}

struct seen {
	char steps[16][24];
	int n;
	int uploads;
};

static void on_progress(void *u, const char *step, enum hv_fw_status st, uint32_t rem)
{
	struct seen *s = u;
	if (streq(step, "upload"))
		s->uploads++;
	else if (s->n < 16)
		snprintf(s->steps[s->n++], sizeof(s->steps[0]), "%s", step);
}

START_TEST(successful_update)
{
	struct host h;
	host_up(&h, 3);
	uint32_t td = test_finalized_td(h.mod);
	struct tdxd_update_report rep;
	struct seen seen = {0};
	/* dry run first: every check passes, nothing uploaded, nothing journaled */
	struct tdxd_update_request dry = {.latest = true, .dry_run = true};
	ck_assert_int_eq(tdxd_update_run(h.up, &dry, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_PLANNED);
	ck_assert_uint_eq(rep.to.update, 16);
	ck_assert_uint_eq(uploads(&h), 0);
	ck_assert_str_eq(rep.journal_id, "");

	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, on_progress, &seen, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_UPDATED, "%s", rep.message);
	for (int i = 0; i < TDXD_CHECK_COUNT; i++)
		ck_assert_msg(rep.checks[i].run && rep.checks[i].ok, "check %s",
			      tdxd_check_name(i));
	ck_assert_uint_eq(rep.from.update, 6);
	ck_assert_uint_eq(rep.after.update, 16);
	ck_assert_uint_eq(rep.remaining_after, 2);
	ck_assert_uint_eq(rep.attempts, 1);
	ck_assert_uint_eq(uploads(&h), 1);
	ck_assert_uint_eq(rep.image_size, 4096 * (1 + 1 + 4));
	ck_assert_str_eq(seen.steps[0], "preflight");
	ck_assert_str_eq(seen.steps[1], "gate");
	ck_assert_int_ge(seen.uploads, 2);
	expect_module(&h, 16);
	enum emul_td_state ts;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &ts), 0);
	ck_assert_int_eq(ts, EMUL_TD_RUNNABLE); /* TD-preserving */
	/* gate hold time is the update window: within the run, covering the upload */
	ck_assert_uint_ge(rep.gate_hold_ns, rep.upload_ns);
	ck_assert_uint_le(rep.gate_hold_ns, rep.total_ns);
	struct tdxd_gate_stats gs;
	tdxd_gate_stats(h.gate, &gs);
	ck_assert_uint_eq(gs.last_exclusive_hold_ns, rep.gate_hold_ns);
	ck_assert(!gs.exclusive);

	char steps[512];
	journal_steps(&h, rep.journal_id, steps, sizeof(steps));
	ck_assert_msg(strncmp(steps, "preflight image gate upload-start status:", 41) == 0, "%s",
		      steps);
	ck_assert_msg(strstr(steps, " status:idle upload-end postcheck succeeded") != NULL, "%s",
		      steps);
	char *detail;
	ck_assert_int_eq(journal_state(&h, rep.journal_id, &detail), COCO_TDX_UPDATE_SUCCEEDED);
	ck_assert_ptr_nonnull(strstr(detail, "updated 1.5.06 -> 1.5.16"));
	free(detail);

	/* again: nothing newer is left */
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_REFUSED);
	ck_assert(!rep.checks[TDXD_CHECK_TARGET].ok);
	ck_assert_uint_eq(uploads(&h), 1);
	host_down(&h);
}
END_TEST

/* One refusal: outcome REFUSED, exactly `failed` checks failed, nothing written to sysfs,
 * the journal says refused. */
static void expect_refused(struct host *h, const struct tdxd_update_request *rq,
			   enum tdxd_check_id failed, const char *needle)
{
	struct tdxd_update_report rep;
	unsigned before = uploads(h);
	ck_assert_int_eq(tdxd_update_run(h->up, rq, NULL, NULL, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_REFUSED, "%s", rep.message);
	ck_assert_msg(rep.checks[failed].run && !rep.checks[failed].ok, "%s passed: %s",
		      tdxd_check_name(failed), rep.message);
	for (int i = 0; i < TDXD_CHECK_COUNT; i++)
		if (i != (int)failed && i != TDXD_CHECK_GATE)
			ck_assert_msg(!rep.checks[i].run || rep.checks[i].ok, "%s failed too: %s",
				      tdxd_check_name(i), rep.checks[i].detail);
	ck_assert_msg(strstr(rep.checks[failed].detail, needle), "%s: \"%s\" lacks \"%s\"",
		      tdxd_check_name(failed), rep.checks[failed].detail, needle);
	ck_assert_uint_eq(uploads(h), before);
	ck_assert_int_eq(journal_state(h, rep.journal_id, NULL), COCO_TDX_UPDATE_REFUSED);
	expect_module(h, 6);
}

START_TEST(refusals)
{
	struct host h;
	host_up(&h, 3);
	/* CPU offline */
	ck_assert_int_eq(emul_tdx_kernel_set_cpu_online(h.kern, 5, false), 0);
	expect_refused(&h, &LATEST, TDXD_CHECK_CPUS, "1 CPU(s) offline (5)");
	ck_assert_int_eq(emul_tdx_kernel_set_cpu_online(h.kern, 5, true), 0);
	/* older, same, cross-minor, unknown */
	struct tdxd_update_request rq = version_req(1, 5, 5);
	put_blob(&h, (struct blobspec){.update = 5});
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "not newer than the running 1.5.06");
	rq = version_req(2, 0, 8);
	put_blob(&h, (struct blobspec){.major = 2, .minor = 0, .update = 8});
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "not a 1.5 Z-stream update");
	rq = version_req(1, 5, 7);
	put_blob(&h, (struct blobspec){.update = 7});
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "not in mapping_file.json");
	/* debug-signed, another CPU, corrupt, bad checksum, seamhash mismatch */
	put_blob(&h, (struct blobspec){.update = 9, .debug = true});
	rq = version_req(1, 5, 9);
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "debug-signed");
	put_blob(&h, (struct blobspec){.update = 13, .cpuid = 0x000a06a0});
	rq = version_req(1, 5, 13);
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "CPUID.1.EAX");
	put_blob(&h, (struct blobspec){.update = 16, .corrupt = 1});
	rq = version_req(1, 5, 16);
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "blob:");
	put_blob(&h, (struct blobspec){.update = 16, .corrupt = 2});
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "checksum");
	put_blob(&h, (struct blobspec){.update = 16, .corrupt = 3});
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "seamhash");
	/* with allow_debug the debug module would pass selection: only with it */
	struct tdxd_update_request dbg = {.version = {1, 5, 9}, .allow_debug = true,
					  .dry_run = true};
	struct tdxd_update_report rep;
	ck_assert_int_eq(tdxd_update_run(h.up, &dbg, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_PLANNED);
	/* a TD build in flight through cocod: the gate times out, nothing uploaded */
	h.cfg.gate_timeout_ms = 50;
	updater_down(&h);
	updater_up(&h);
	ck_assert_int_eq(tdxd_gate_enter_shared(h.gate, 10), 0);
	rq = version_req(1, 5, 8);
	expect_refused(&h, &rq, TDXD_CHECK_GATE, "still in flight at the gate timeout");
	tdxd_gate_leave_shared(h.gate);
	host_down(&h);

	/* no updates left */
	host_up(&h, 0);
	expect_refused(&h, &LATEST, TDXD_CHECK_REMAINING, "num_remaining_updates 0");
	host_down(&h);
	/* a P-SEAMLDR 1.5.08 lists for: 1.5.02 is fine; 1.6.00 nobody lists */
	host_up_with(&h, 3, (struct hv_tdx_version){1, 6, 0});
	expect_refused(&h, &LATEST, TDXD_CHECK_TARGET, "no eligible module");
	rq = version_req(1, 5, 8);
	expect_refused(&h, &rq, TDXD_CHECK_TARGET, "P-SEAMLDR 1.6.00 not among");
	host_down(&h);
}
END_TEST

START_TEST(device_busy_retried)
{
	struct host h;
	host_up(&h, 3);
	struct emul_tdx_kernel_fault f = {.at = HV_FW_TRANSFERRING,
					  .code = HV_FW_ERR_DEVICE_BUSY};
	emul_tdx_kernel_inject(h.kern, &f);
	struct tdxd_update_report rep;
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_UPDATED, "%s", rep.message);
	ck_assert_uint_eq(rep.attempts, 2);
	ck_assert_uint_eq(uploads(&h), 2);
	ck_assert_uint_ge(rep.retry_wait_ns, 20 * 1000000ull);
	char steps[512];
	journal_steps(&h, rep.journal_id, steps, sizeof(steps));
	ck_assert_msg(strstr(steps, "upload-end busy-retry upload-start"), "%s", steps);
	expect_module(&h, 16);
	host_down(&h);

	/* a TD build outside cocod: the module refuses to shut down every time */
	host_up(&h, 3);
	struct emul_td_params p = {0};
	uint32_t td;
	ck_assert_int_eq(emul_tdx_td_create(h.mod, &p, &td), 0);
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_BUSY, "%s", rep.message);
	ck_assert_uint_eq(rep.attempts, 3);
	ck_assert_ptr_nonnull(strstr(rep.message, "retry later"));
	ck_assert_int_eq(journal_state(&h, rep.journal_id, NULL), COCO_TDX_UPDATE_FAILED);
	expect_module(&h, 6);
	enum emul_td_state ts;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &ts), 0);
	ck_assert_int_eq(ts, EMUL_TD_BUILDING);
	host_down(&h);
}
END_TEST

START_TEST(failure_after_shutdown_is_lost)
{
	struct host h;
	host_up(&h, 3);
	uint32_t td = test_finalized_td(h.mod);
	struct emul_tdx_kernel_fault f = {.module_step = EMUL_TDX_STEP_INSTALL};
	emul_tdx_kernel_inject(h.kern, &f);
	struct tdxd_update_report rep;
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_LOST, "%s", rep.message);
	ck_assert_ptr_nonnull(strstr(rep.message, "reboot required"));
	ck_assert(tdxd_updater_lost(h.up));
	ck_assert_int_eq(journal_state(&h, rep.journal_id, NULL), COCO_TDX_UPDATE_LOST);
	enum emul_td_state ts;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &ts), 0);
	ck_assert_int_eq(ts, EMUL_TD_DEAD);
	/* TD launches and further updates are refused */
	ck_assert_int_eq(tdxd_gate_enter_shared(h.gate, 10), -ENXIO);
	unsigned n = uploads(&h);
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_REFUSED);
	ck_assert_ptr_nonnull(strstr(rep.checks[TDXD_CHECK_MODULE].detail, "tdx-lost"));
	ck_assert_uint_eq(uploads(&h), n);
	host_down(&h);

	/* the kernel refuses before shutdown (firmware-invalid, module intact) */
	host_up(&h, 3);
	f = (struct emul_tdx_kernel_fault){.at = HV_FW_TRANSFERRING,
					   .code = HV_FW_ERR_FIRMWARE_INVALID};
	emul_tdx_kernel_inject(h.kern, &f);
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_FAILED, "%s", rep.message);
	ck_assert_ptr_nonnull(strstr(rep.message, "before shutdown"));
	ck_assert(!tdxd_updater_lost(h.up));
	expect_module(&h, 6);
	host_down(&h);
}
END_TEST

struct holder {
	struct tdxd_gate *gate;
	unsigned hold_ms;
	uint64_t left_at;
};

static void *hold_shared(void *arg)
{
	struct holder *hd = arg;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)hd->hold_ms * 1000000};
	nanosleep(&ts, NULL);
	hd->left_at = now_ns();
	tdxd_gate_leave_shared(hd->gate);
	return NULL;
}

START_TEST(update_waits_for_gate)
{
	struct host h;
	host_up(&h, 3);
	/* a TD launch holds the gate for 300 ms */
	ck_assert_int_eq(tdxd_gate_enter_shared(h.gate, 10), 0);
	struct holder hd = {.gate = h.gate, .hold_ms = 300};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, hold_shared, &hd), 0);
	uint64_t t0 = now_ns();
	struct tdxd_update_report rep;
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	pthread_join(th, NULL);
	ck_assert_msg(rep.outcome == TDXD_UPDATE_UPDATED, "%s", rep.message);
	/* it waited for the launch, and held the gate only for its window after it */
	ck_assert_uint_ge(now_ns() - t0, 300 * 1000000ull);
	ck_assert_uint_le(rep.gate_hold_ns, rep.total_ns - 250 * 1000000ull);
	ck_assert_uint_ge(rep.gate_hold_ns, rep.upload_ns);
	expect_module(&h, 16);
	host_down(&h);
}
END_TEST

struct waiter {
	struct tdxd_gate *gate;
	int r;
};

static void *enter_exclusive(void *arg)
{
	struct waiter *w = arg;
	w->r = tdxd_gate_enter_exclusive(w->gate, 2000);
	return NULL;
}

START_TEST(gate_semantics)
{
	struct tdxd_gate *g;
	ck_assert_int_eq(tdxd_gate_new(&g), 0);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 0), 0);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 0), 0);
	ck_assert_int_eq(tdxd_gate_enter_exclusive(g, 20), -ETIMEDOUT);
	/* after a timed-out writer, readers enter again */
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 0), 0);
	tdxd_gate_leave_shared(g);
	/* a waiting writer blocks new readers (writer preference) */
	struct waiter w = {.gate = g};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, enter_exclusive, &w), 0);
	struct tdxd_gate_stats st;
	for (int i = 0; i < 200; i++) {
		tdxd_gate_stats(g, &st);
		if (st.exclusive_waiting)
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ck_assert(st.exclusive_waiting);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 30), -ETIMEDOUT);
	tdxd_gate_leave_shared(g);
	tdxd_gate_leave_shared(g);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.r, 0);
	ck_assert_int_eq(tdxd_gate_enter_exclusive(g, 0), -EBUSY);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 20), -ETIMEDOUT);
	tdxd_gate_leave_exclusive(g);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 0), 0);
	tdxd_gate_leave_shared(g);
	tdxd_gate_close(g);
	ck_assert_int_eq(tdxd_gate_enter_shared(g, 0), -ENXIO);
	ck_assert_int_eq(tdxd_gate_enter_exclusive(g, 0), -ENXIO);
	tdxd_gate_stats(g, &st);
	ck_assert(st.closed);
	ck_assert_uint_eq(st.exclusive_entries, 1);
	tdxd_gate_free(g);
}
END_TEST

/* kill -9 after each journal step: the row stays running; a restarted service (a new store
 * handle and updater on the same state) reconciles it against the live module. */
START_TEST(crash_at_each_step_then_reconcile)
{
	/* the steps of a whole run, from a reference update */
	struct host h;
	host_up(&h, 3);
	struct tdxd_update_report rep;
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_UPDATED);
	char ref[512];
	journal_steps(&h, rep.journal_id, ref, sizeof(ref));
	host_down(&h);
	unsigned total = 0;
	for (const char *p = ref; *p; p++)
		total += *p == ' ';
	/* total = number of journaled steps before the final state */
	ck_assert_uint_ge(total, 8);
	for (unsigned n = 1; n <= total; n++) {
		host_up(&h, 3);
		h.cfg.crash_after_steps = n;
		updater_down(&h);
		updater_up(&h);
		ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
		char steps[512], id[37];
		snprintf(id, sizeof(id), "%s", rep.journal_id);
		journal_steps(&h, id, steps, sizeof(steps));
		if (rep.outcome == TDXD_UPDATE_UPDATED) {
			/* the poll saw fewer status transitions this time: fewer steps than n */
			unsigned k = 0;
			for (const char *p = steps; *p; p++)
				k += *p == ' ';
			ck_assert_msg(k < n, "no crash after %u of %u steps: %s", n, k, steps);
			host_down(&h);
			continue;
		}
		ck_assert_int_eq(rep.outcome, TDXD_UPDATE_CRASHED);
		ck_assert_int_eq(journal_state(&h, id, NULL), COCO_TDX_UPDATE_RUNNING);
		/* did the upload start? the module itself says */
		struct emul_tdx_identity ident;
		ck_assert_int_eq(emul_tdx_module_identity(h.mod, &ident), 0);
		bool updated = ident.version.update == 16;
		ck_assert_msg(updated == (strstr(steps, "status:") != NULL),
			      "crash after %u (%s): module %u", n, steps, ident.version.update);
		/* restart */
		h.cfg.crash_after_steps = 0;
		updater_down(&h);
		updater_up(&h);
		ck_assert_int_eq(tdxd_update_reconcile(h.up, 5000), 1);
		char *detail;
		enum coco_tdx_update_state st = journal_state(&h, id, &detail);
		ck_assert_msg(st == (updated ? COCO_TDX_UPDATE_SUCCEEDED : COCO_TDX_UPDATE_FAILED),
			      "crash after %u: %s", n, detail);
		ck_assert_ptr_nonnull(strstr(detail, "reconciled after restart"));
		ck_assert_ptr_nonnull(strstr(detail, updated ? "the update completed"
							     : "the update did not happen"));
		free(detail);
		journal_steps(&h, id, steps, sizeof(steps));
		ck_assert_msg(strstr(steps, "reconcile "), "%s", steps);
		/* nothing left running; a second reconcile has nothing to do */
		ck_assert_int_eq(tdxd_update_reconcile(h.up, 0), 0);
		host_down(&h);
	}
	/* kill -9 while the kernel still uploads: reconcile waits for it, then finds the module
	 * lost (the failure came after shutdown) */
	host_up(&h, 3);
	h.cfg.crash_after_steps = 5; /* status:receiving */
	updater_down(&h);
	updater_up(&h);
	emul_tdx_kernel_stall(h.kern, HV_FW_PROGRAMMING);
	struct emul_tdx_kernel_fault f = {.at = HV_FW_PROGRAMMING, .code = HV_FW_ERR_HW_ERROR,
					  .lose_module = true};
	emul_tdx_kernel_inject(h.kern, &f);
	/* the run itself waits for the kernel: release the stall from here after a while */
	h.cfg.upload.timeout_ms = 200;
	updater_down(&h);
	updater_up(&h);
	ck_assert_int_eq(tdxd_update_run(h.up, &LATEST, NULL, NULL, &rep), 0);
	ck_assert_int_eq(rep.outcome, TDXD_UPDATE_CRASHED);
	h.cfg.crash_after_steps = 0;
	updater_down(&h);
	updater_up(&h);
	enum hv_fw_status fs;
	ck_assert_int_eq(hv_tdx_upload_status(h.tdx, &fs), 0);
	ck_assert_int_ne(fs, HV_FW_IDLE);
	emul_tdx_kernel_stall(h.kern, HV_FW_IDLE);
	ck_assert_int_eq(tdxd_update_reconcile(h.up, 5000), 1);
	ck_assert_int_eq(journal_state(&h, rep.journal_id, NULL), COCO_TDX_UPDATE_LOST);
	ck_assert(tdxd_updater_lost(h.up));
	ck_assert_int_eq(tdxd_gate_enter_shared(h.gate, 0), -ENXIO);
	host_down(&h);
}
END_TEST

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/test-tdxd-update-XXXXXX");
	if (!mkdtemp(top))
		return 1;
	Suite *s = suite_create("tdxd_update");
	TCase *tc = tcase_create("update");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gate_semantics);
	tcase_add_test(tc, successful_update);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, device_busy_retried);
	tcase_add_test(tc, failure_after_shutdown_is_lost);
	tcase_add_test(tc, update_waits_for_gate);
	tcase_add_test(tc, crash_at_each_step_then_reconcile);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	if (nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		r = 1;
	return r;
}
