/* Safe runtime TDX module update (tdxd/update.h). */
#include "tdxd/update.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "coco/store.h"
#include "coco/util.h"

struct tdxd_updater {
	struct tdxd_update_config cfg;
	char *module_dir, *mapping_file;
	struct hv_tdx *tdx;
	struct coco_store *store;
	struct tdxd_gate *gate;
	pthread_mutex_t mu; /* one update at a time */
	bool lost;
};

static const char *const check_names[TDXD_CHECK_COUNT] = {
	[TDXD_CHECK_UPDATE_INTERFACE] = "update-interface",
	[TDXD_CHECK_MODULE] = "module",
	[TDXD_CHECK_SEAMLDR] = "seamldr",
	[TDXD_CHECK_CPUS] = "cpus",
	[TDXD_CHECK_REMAINING] = "remaining-updates",
	[TDXD_CHECK_UPLOAD_IDLE] = "upload-idle",
	[TDXD_CHECK_MAPPING] = "mapping",
	[TDXD_CHECK_INVENTORY] = "inventory",
	[TDXD_CHECK_TARGET] = "target",
	[TDXD_CHECK_BLOB] = "blob",
	[TDXD_CHECK_GATE] = "gate",
};

const char *tdxd_check_name(enum tdxd_check_id c)
{
	return (unsigned)c < TDXD_CHECK_COUNT ? check_names[c] : NULL;
}

static const char *const outcome_names[] = {
	[TDXD_UPDATE_UPDATED] = "updated", [TDXD_UPDATE_PLANNED] = "planned",
	[TDXD_UPDATE_REFUSED] = "refused", [TDXD_UPDATE_BUSY] = "busy",
	[TDXD_UPDATE_FAILED] = "failed",   [TDXD_UPDATE_LOST] = "lost",
	[TDXD_UPDATE_UNKNOWN] = "unknown", [TDXD_UPDATE_CRASHED] = "crashed",
};

const char *tdxd_update_outcome_name(enum tdxd_update_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : NULL;
}

int tdxd_updater_new(const struct tdxd_update_config *cfg, struct hv_tdx *tdx,
		     struct coco_store *store, struct tdxd_gate *gate, struct tdxd_updater **ret)
{
	if (!cfg->module_dir || !tdx || !store || !gate)
		return -EINVAL;
	struct tdxd_updater *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = *cfg;
	u->module_dir = strdup(cfg->module_dir);
	if (cfg->mapping_file)
		u->mapping_file = strdup(cfg->mapping_file);
	else if (asprintf(&u->mapping_file, "%s/mapping_file.json", cfg->module_dir) < 0)
		u->mapping_file = NULL;
	if (!u->module_dir || !u->mapping_file) {
		free(u->module_dir);
		free(u->mapping_file);
		free(u);
		return -ENOMEM;
	}
	u->cfg.module_dir = u->module_dir;
	u->cfg.mapping_file = u->mapping_file;
	if (!u->cfg.gate_timeout_ms)
		u->cfg.gate_timeout_ms = 30000;
	if (!u->cfg.busy_retry_delay_ms)
		u->cfg.busy_retry_delay_ms = 1000;
	u->tdx = tdx;
	u->store = store;
	u->gate = gate;
	pthread_mutex_init(&u->mu, NULL);
	*ret = u;
	return 0;
}

void tdxd_updater_free(struct tdxd_updater *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->mu);
	free(u->module_dir);
	free(u->mapping_file);
	free(u);
}

static void mark_lost(struct tdxd_updater *u)
{
	u->lost = true;
	tdxd_gate_close(u->gate);
}

bool tdxd_updater_lost(struct tdxd_updater *u)
{
	return u->lost;
}

__attribute__((format(printf, 3, 4))) static void check(struct tdxd_update_report *rep,
							enum tdxd_check_id id, const char *fmt, ...)
{
	struct tdxd_check *c = &rep->checks[id];
	c->run = true;
	c->ok = fmt == NULL;
	c->detail[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
		va_end(ap);
	}
}
#define PASS(rep, id) check(rep, id, NULL)

static int load_mapping(const char *path, struct tdx_mapping *ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_max(path, TDX_MAPPING_MAX_SIZE, &buf, &len);
	if (r < 0)
		return set_error(err, errlen, r, "%s: %s", path, strerror(-r));
	char e[200];
	if ((r = tdx_mapping_parse(buf, len, ret, e, sizeof(e))) < 0)
		return set_error(err, errlen, r, "%s: %s", path, e);
	return 0;
}

static void select_input(const struct tdxd_updater *u, const struct tdxd_update_request *rq,
			 const struct hv_tdx_state *st, struct tdx_select_input *in)
{
	*in = (struct tdx_select_input){.current = st->version,
					.seamldr = st->seamldr,
					.cpuid_1_eax = u->cfg.cpuid_1_eax,
					.allow_debug = rq->allow_debug,
					.reinstall = rq->reinstall};
	if (!rq->latest) {
		in->pinned = true;
		in->pin = rq->version;
	} else if (u->cfg.pinned) {
		in->pinned = true;
		in->pin = u->cfg.pin;
	}
}

int tdxd_plan(struct tdxd_updater *u, const struct tdxd_update_request *rq, struct tdxd_plan *ret)
{
	memset(ret, 0, sizeof(*ret));
	hv_tdx_state_read(u->tdx, &ret->state);
	if (ret->state.version_errno == ENXIO)
		mark_lost(u);
	if (ret->state.version_errno || ret->state.seamldr_errno)
		return set_error(ret->error, sizeof(ret->error), -ENODEV,
				 "the running module or P-SEAMLDR version cannot be read: %s",
				 strerror(ret->state.version_errno ? ret->state.version_errno
								   : ret->state.seamldr_errno));
	int r;
	if ((r = load_mapping(u->mapping_file, &ret->map, ret->error, sizeof(ret->error))) < 0)
		return r;
	if ((r = tdx_inventory_scan(u->module_dir, &ret->inv, ret->error, sizeof(ret->error))) < 0)
		goto fail;
	struct tdx_select_input in;
	select_input(u, rq, &ret->state, &in);
	if ((r = tdx_select(&ret->inv, &ret->map, &in, &ret->sel)) < 0)
		goto fail;
	return 0;
fail:
	tdxd_plan_clear(ret);
	return r;
}

void tdxd_plan_clear(struct tdxd_plan *p)
{
	tdx_selection_clear(&p->sel);
	tdx_inventory_clear(&p->inv);
	tdx_mapping_clear(&p->map);
}

/* ---------------------------------------------------------------- the update */

struct run {
	struct tdxd_updater *u;
	struct tdxd_update_report *rep;
	tdxd_update_progress_fn progress;
	void *userdata;
	unsigned steps;
	bool crashed;
	int store_err;
	enum hv_fw_status last_status;
};

/* Journal a step; false when the test crash point is reached (stop as kill -9 would). */
__attribute__((format(printf, 3, 4))) static bool journal(struct run *x, const char *step,
							  const char *fmt, ...)
{
	if (x->crashed)
		return false;
	char detail[512] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	int r = coco_store_tdx_update_step(x->u->store, x->rep->journal_id, step,
					   fmt ? detail : NULL);
	if (r < 0 && !x->store_err)
		x->store_err = r;
	x->steps++;
	if (x->u->cfg.crash_after_steps && x->steps >= x->u->cfg.crash_after_steps)
		x->crashed = true;
	return !x->crashed;
}

static void on_upload_progress(void *userdata, enum hv_fw_status status, uint32_t remaining,
			       uint64_t elapsed_ms)
{
	struct run *x = userdata;
	if (status != x->last_status) {
		x->last_status = status;
		char step[32];
		snprintf(step, sizeof(step), "status:%s", hv_fw_status_name(status));
		/* a crash point here cannot stop the kernel: the upload goes on without us */
		journal(x, step, "remaining_size %u, %llu ms", remaining,
			(unsigned long long)elapsed_ms);
	}
	if (x->progress)
		x->progress(x->userdata, "upload", status, remaining);
}

static void finish(struct run *x, enum coco_tdx_update_state st, enum tdxd_update_outcome o,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void finish(struct run *x, enum coco_tdx_update_state st, enum tdxd_update_outcome o,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->rep->message, sizeof(x->rep->message), fmt, ap);
	va_end(ap);
	x->rep->outcome = o;
	if (x->crashed) {
		x->rep->outcome = TDXD_UPDATE_CRASHED;
		return;
	}
	if (x->rep->journal_id[0]) {
		int r = coco_store_tdx_update_finish(x->u->store, x->rep->journal_id, st,
						     x->rep->message);
		if (r < 0 && !x->store_err)
			x->store_err = r;
	}
}

/* Every check; returns whether all passed. On success *image is the v2 image to upload. */
static bool preflight(struct run *x, const struct tdxd_update_request *rq, uint8_t **image,
		      size_t *image_len)
{
	struct tdxd_updater *u = x->u;
	struct tdxd_update_report *rep = x->rep;
	struct hv_tdx_state st;
	hv_tdx_state_read(u->tdx, &st);
	int r = hv_tdx_update_interface(u->tdx);
	if (r == 1)
		PASS(rep, TDXD_CHECK_UPDATE_INTERFACE);
	else
		check(rep, TDXD_CHECK_UPDATE_INTERFACE,
		      "no class/firmware/tdx_module: this kernel cannot update the module (%s)",
		      r < 0 ? strerror(-r) : "absent");
	if (st.version_errno == 0) {
		PASS(rep, TDXD_CHECK_MODULE);
		rep->from = st.version;
	} else {
		if (st.version_errno == ENXIO)
			mark_lost(u);
		check(rep, TDXD_CHECK_MODULE, "%s",
		      st.version_errno == ENXIO ? "tdx-lost: no module, reboot required"
						: strerror(st.version_errno));
	}
	if (st.seamldr_errno == 0)
		PASS(rep, TDXD_CHECK_SEAMLDR);
	else
		check(rep, TDXD_CHECK_SEAMLDR, "P-SEAMLDR version: %s", strerror(st.seamldr_errno));
	struct hv_tdx_cpus cpus;
	if ((r = hv_tdx_cpus(u->tdx, &cpus)) < 0)
		check(rep, TDXD_CHECK_CPUS, "CPU lists: %s", strerror(-r));
	else if (cpus.missing.count) {
		char list[128];
		hv_cpuset_format(&cpus.missing, list, sizeof(list));
		check(rep, TDXD_CHECK_CPUS, "%u CPU(s) offline (%s): all must be online",
		      cpus.missing.count, list);
	} else
		PASS(rep, TDXD_CHECK_CPUS);
	if (st.remaining_errno)
		check(rep, TDXD_CHECK_REMAINING, "num_remaining_updates: %s",
		      strerror(st.remaining_errno));
	else if (st.remaining_updates == 0)
		check(rep, TDXD_CHECK_REMAINING,
		      "no runtime updates left (num_remaining_updates 0): reboot to update");
	else
		PASS(rep, TDXD_CHECK_REMAINING);
	if (st.upload_errno == 0 && st.upload_status == HV_FW_IDLE)
		PASS(rep, TDXD_CHECK_UPLOAD_IDLE);
	else if (st.upload_errno)
		check(rep, TDXD_CHECK_UPLOAD_IDLE, "fw_upload status: %s", strerror(st.upload_errno));
	else
		check(rep, TDXD_CHECK_UPLOAD_IDLE, "an upload is in progress (status %s)",
		      hv_fw_status_name(st.upload_status));

	struct tdx_mapping map = {0};
	struct tdx_inventory inv = {0};
	struct tdx_selection sel = {0};
	char err[256];
	bool have_map = load_mapping(u->mapping_file, &map, err, sizeof(err)) == 0;
	if (have_map)
		PASS(rep, TDXD_CHECK_MAPPING);
	else
		check(rep, TDXD_CHECK_MAPPING, "%s", err);
	bool have_inv = tdx_inventory_scan(u->module_dir, &inv, err, sizeof(err)) == 0;
	if (have_inv)
		PASS(rep, TDXD_CHECK_INVENTORY);
	else
		check(rep, TDXD_CHECK_INVENTORY, "%s", err);
	const struct tdx_module_file *file = NULL;
	if (have_map && have_inv && st.version_errno == 0 && st.seamldr_errno == 0) {
		struct tdx_select_input in;
		select_input(u, rq, &st, &in);
		if (tdx_select(&inv, &map, &in, &sel) < 0)
			check(rep, TDXD_CHECK_TARGET, "out of memory");
		else if (sel.target) {
			file = sel.target->file;
			rep->to = file->version;
			rep->has_target = true;
			PASS(rep, TDXD_CHECK_TARGET);
		} else {
			/* name the requested version's reasons when there is one */
			const struct tdx_candidate *c = NULL;
			for (size_t i = 0; in.pinned && i < sel.n; i++)
				if (tdx_version_cmp(&sel.candidates[i].file->version, &in.pin) == 0)
					c = &sel.candidates[i];
			if (in.pinned) {
				rep->to = in.pin;
				rep->has_target = true;
			}
			check(rep, TDXD_CHECK_TARGET, "%s%s%s", sel.why_none, c ? ": " : "",
			      c ? c->detail : "");
		}
	}
	if (file) {
		_cleanup_free_ uint8_t *data = NULL;
		size_t len;
		struct tdx_blob b;
		if (tdx_module_file_load(u->module_dir, file, &data, &len, &b, err, sizeof(err)) <
			    0 ||
		    tdx_blob_to_v2(data, &b, image, image_len, err, sizeof(err)) < 0)
			check(rep, TDXD_CHECK_BLOB, "%s", err);
		else {
			PASS(rep, TDXD_CHECK_BLOB);
			SHA384(*image, *image_len, rep->image_sha384);
			rep->image_size = *image_len;
		}
	}
	tdx_selection_clear(&sel);
	tdx_inventory_clear(&inv);
	tdx_mapping_clear(&map);

	bool ok = true;
	for (int i = 0; i < TDXD_CHECK_GATE; i++)
		ok &= rep->checks[i].run && rep->checks[i].ok;
	/* The gate last: taken only when everything else allows the update. */
	struct tdxd_gate_stats gs;
	tdxd_gate_stats(u->gate, &gs);
	if (!ok || rq->dry_run) {
		if (gs.closed)
			check(rep, TDXD_CHECK_GATE, "closed: the module is lost");
		else if (gs.shared)
			check(rep, TDXD_CHECK_GATE, "%u TD build(s)/migration(s) in flight now",
			      gs.shared);
		else
			PASS(rep, TDXD_CHECK_GATE);
		if (rq->dry_run) /* a dry run does not wait: it reports the gate as it is now */
			ok &= rep->checks[TDXD_CHECK_GATE].ok;
	}
	if (!ok) {
		free(*image);
		*image = NULL;
	}
	return ok;
}

static void refusal_message(struct tdxd_update_report *rep, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "refused:");
	for (int i = 0; i < TDXD_CHECK_COUNT && n < len; i++)
		if (rep->checks[i].run && !rep->checks[i].ok)
			n += (size_t)snprintf(out + n, len - n, " %s (%s);", check_names[i],
					      rep->checks[i].detail);
	if (n && n < len && out[n - 1] == ';')
		out[n - 1] = '\0';
}

/* Post-check and outcome of an attempt whose kernel verdict (or lack of one) is known. */
static void settle(struct run *x, const char *kernel_said, bool kernel_ok)
{
	struct tdxd_updater *u = x->u;
	struct tdxd_update_report *rep = x->rep;
	char tv[TDX_VERSION_STRLEN], av[TDX_VERSION_STRLEN], fv[TDX_VERSION_STRLEN];
	tdx_version_format(&rep->to, tv);
	tdx_version_format(&rep->from, fv);
	struct tdx_version now;
	int r = hv_tdx_module_version(u->tdx, &now);
	if (r == -ENXIO) {
		mark_lost(u);
		journal(x, "postcheck", "version: ENXIO (no module)");
		finish(x, COCO_TDX_UPDATE_LOST, TDXD_UPDATE_LOST,
		       "tdx-lost: the update to %s failed after the old module was shut down (%s); "
		       "every TD is gone; reboot required",
		       tv, kernel_said);
		return;
	}
	if (r < 0) {
		journal(x, "postcheck", "version: %s", strerror(-r));
		finish(x, COCO_TDX_UPDATE_FAILED, TDXD_UPDATE_UNKNOWN,
		       "the module version cannot be read after the upload (%s; %s)", strerror(-r),
		       kernel_said);
		return;
	}
	tdx_version_format(&now, av);
	hv_tdx_remaining_updates(u->tdx, &rep->remaining_after);
	journal(x, "postcheck", "version %s (target %s)", av, tv);
	rep->after = now;
	if (tdx_version_cmp(&now, &rep->to) == 0 && kernel_ok)
		finish(x, COCO_TDX_UPDATE_SUCCEEDED, TDXD_UPDATE_UPDATED,
		       "updated %s -> %s; %u runtime update(s) left; a reboot brings back the "
		       "boot-time module",
		       fv, av, rep->remaining_after);
	else if (tdx_version_cmp(&now, &rep->to) == 0)
		finish(x, COCO_TDX_UPDATE_SUCCEEDED, TDXD_UPDATE_UPDATED,
		       "the module reads %s although the kernel said %s", av, kernel_said);
	else if (tdx_version_cmp(&now, &rep->from) == 0 && !kernel_ok)
		finish(x, COCO_TDX_UPDATE_FAILED, TDXD_UPDATE_FAILED,
		       "the kernel refused the update before shutdown (%s): %s still runs, TDs "
		       "intact",
		       kernel_said, av);
	else
		finish(x, COCO_TDX_UPDATE_FAILED, TDXD_UPDATE_FAILED,
		       "post-check: the module reads %s, not the target %s (%s)", av, tv,
		       kernel_said);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void gate_refused(struct run *x, int r)
{
	struct tdxd_update_report *rep = x->rep;
	char detail[1024];
	check(rep, TDXD_CHECK_GATE, "%s",
	      r == -ETIMEDOUT ? "TD builds/migrations still in flight at the gate timeout"
	      : r == -ENXIO   ? "closed: the module is lost"
			      : "another update holds the gate");
	refusal_message(rep, detail, sizeof(detail));
	journal(x, "gate", "%s", rep->checks[TDXD_CHECK_GATE].detail);
	finish(x, COCO_TDX_UPDATE_REFUSED, TDXD_UPDATE_REFUSED, "%s", detail);
}

/* The upload attempts. Each holds the TD-launch gate exclusive for its upload window only:
 * from just after the upload-start journal entry to the first version read after the kernel
 * is done (a lost module closes the gate before it is released); journaling the verdict, the
 * post-check and device-busy pauses happen outside it. */
static void upload(struct run *x, const uint8_t *image, size_t len)
{
	struct tdxd_updater *u = x->u;
	struct tdxd_update_report *rep = x->rep;
	if (!journal(x, "gate", "waiting for TD builds and migrations to leave (at most %u ms)",
		     u->cfg.gate_timeout_ms))
		return;
	for (;;) {
		/* journaled before the gate is taken, so that the write is not in the window */
		rep->attempts++;
		bool go = journal(x, "upload-start", "attempt %u, %zu bytes", rep->attempts, len);
		int r = tdxd_gate_enter_exclusive(u->gate, u->cfg.gate_timeout_ms);
		if (r < 0) {
			if (go)
				gate_refused(x, r);
			return;
		}
		PASS(rep, TDXD_CHECK_GATE);
		struct hv_tdx_upload_result res;
		struct tdx_version v;
		int vr = 0;
		if (go) {
			struct hv_tdx_upload_options o = u->cfg.upload;
			o.progress = on_upload_progress;
			o.userdata = x;
			x->last_status = HV_FW_IDLE;
			uint64_t t0 = now_ns();
			r = hv_tdx_upload(u->tdx, image, len, &o, &res);
			rep->upload_ns += now_ns() - t0;
			if ((vr = hv_tdx_module_version(u->tdx, &v)) == -ENXIO)
				mark_lost(u);
		}
		tdxd_gate_leave_exclusive(u->gate);
		struct tdxd_gate_stats gs;
		tdxd_gate_stats(u->gate, &gs);
		rep->gate_hold_ns += gs.last_exclusive_hold_ns;
		if (!go)
			return;
		if (r == -ETIMEDOUT) {
			if (!journal(x, "upload-end", "no verdict within the timeout"))
				return;
			settle(x, "no verdict within the timeout", false);
			if (rep->outcome == TDXD_UPDATE_FAILED)
				rep->outcome = TDXD_UPDATE_UNKNOWN;
			return;
		}
		if (r < 0) {
			if (!journal(x, "upload-end", "the upload could not run: %s", strerror(-r)))
				return;
			settle(x, strerror(-r), false);
			return;
		}
		char said[96];
		if (res.error.failed)
			snprintf(said, sizeof(said), "%s:%s", hv_fw_status_name(res.error.at),
				 hv_fw_err_name(res.error.code));
		else
			snprintf(said, sizeof(said), "success");
		if (!journal(x, "upload-end", "%s after %llu ms", said,
			     (unsigned long long)res.elapsed_ms))
			return;
		if (res.error.failed && res.error.code == HV_FW_ERR_DEVICE_BUSY && vr != -ENXIO) {
			if (rep->attempts > u->cfg.busy_retries) {
				finish(x, COCO_TDX_UPDATE_FAILED, TDXD_UPDATE_BUSY,
				       "device busy after %u attempt(s): the module refused to shut "
				       "down (TD work in flight outside cocod); the old module still "
				       "runs; retry later",
				       rep->attempts);
				return;
			}
			if (!journal(x, "busy-retry", "in %u ms", u->cfg.busy_retry_delay_ms))
				return;
			uint64_t w = now_ns();
			sleep_ms(u->cfg.busy_retry_delay_ms);
			rep->retry_wait_ns += now_ns() - w;
			continue;
		}
		settle(x, said, !res.error.failed);
		return;
	}
}

int tdxd_update_run(struct tdxd_updater *u, const struct tdxd_update_request *rq,
		    tdxd_update_progress_fn progress, void *userdata, struct tdxd_update_report *ret)
{
	if (pthread_mutex_trylock(&u->mu) != 0)
		return -EBUSY;
	uint64_t t0 = now_ns();
	struct tdxd_update_report rep = {0};
	struct run x = {.u = u, .rep = &rep, .progress = progress, .userdata = userdata};
	_cleanup_free_ uint8_t *image = NULL;
	size_t image_len = 0;
	if (progress)
		progress(userdata, "preflight", HV_FW_IDLE, 0);
	bool ok = preflight(&x, rq, &image, &image_len);
	char fv[TDX_VERSION_STRLEN] = "unknown", tv[TDX_VERSION_STRLEN] = "unknown";
	if (rep.checks[TDXD_CHECK_MODULE].ok)
		tdx_version_format(&rep.from, fv);
	if (rep.has_target)
		tdx_version_format(&rep.to, tv);
	if (rq->dry_run) {
		rep.outcome = ok ? TDXD_UPDATE_PLANNED : TDXD_UPDATE_REFUSED;
		if (ok)
			snprintf(rep.message, sizeof(rep.message),
				 "dry run: %s -> %s would be uploaded (%zu-byte v2 image)", fv, tv,
				 image_len);
		else
			refusal_message(&rep, rep.message, sizeof(rep.message));
		goto out;
	}
	char detail[1024] = "all checks passed";
	if (!ok)
		refusal_message(&rep, detail, sizeof(detail));
	int r = coco_store_tdx_update_begin(u->store, rq->op_id, fv, tv, detail, rep.journal_id);
	if (r < 0) {
		pthread_mutex_unlock(&u->mu);
		return r;
	}
	x.steps = 1;
	if (u->cfg.crash_after_steps == 1)
		x.crashed = true;
	if (!ok) {
		finish(&x, COCO_TDX_UPDATE_REFUSED, TDXD_UPDATE_REFUSED, "%s", detail);
		goto out;
	}
	char hex[97];
	hex_encode(rep.image_sha384, sizeof(rep.image_sha384), hex);
	if (!journal(&x, "image", "v2 image sha384 %s, %zu bytes", hex, image_len))
		goto out;
	if (progress)
		progress(userdata, "gate", HV_FW_IDLE, 0);
	upload(&x, image, image_len);
out:
	rep.total_ns = now_ns() - t0;
	if (x.crashed)
		rep.outcome = TDXD_UPDATE_CRASHED;
	pthread_mutex_unlock(&u->mu);
	*ret = rep;
	return x.store_err;
}

/* ---------------------------------------------------------------- reconcile */

int tdxd_update_reconcile(struct tdxd_updater *u, unsigned wait_ms)
{
	struct coco_tdx_update *v = NULL;
	size_t n = 0;
	int r = coco_store_tdx_update_list(u->store, true, 0, &v, &n);
	if (r < 0)
		return r;
	/* An upload the dead process started goes on in the kernel: wait (bounded) for idle. */
	uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000u;
	enum hv_fw_status fs = HV_FW_IDLE;
	while (n && hv_tdx_upload_status(u->tdx, &fs) == 0 && fs != HV_FW_IDLE &&
	       now_ns() < deadline)
		sleep_ms(20);
	struct tdx_version now;
	int vr = hv_tdx_module_version(u->tdx, &now);
	char nv[TDX_VERSION_STRLEN] = "";
	if (vr == 0)
		tdx_version_format(&now, nv);
	if (vr == -ENXIO)
		mark_lost(u);
	int settled = 0;
	for (size_t i = 0; i < n; i++) {
		struct tdx_version target, from;
		bool have_t = tdx_version_parse(v[i].target, strlen(v[i].target), &target) == 0;
		bool have_f = tdx_version_parse(v[i].from_version, strlen(v[i].from_version),
						&from) == 0;
		char msg[512];
		enum coco_tdx_update_state st;
		if (vr == -ENXIO) {
			st = COCO_TDX_UPDATE_LOST;
			snprintf(msg, sizeof(msg),
				 "reconciled after restart (last step %s): no module (version "
				 "ENXIO): tdx-lost, reboot required",
				 v[i].step);
		} else if (vr < 0) {
			st = COCO_TDX_UPDATE_FAILED;
			snprintf(msg, sizeof(msg),
				 "reconciled after restart (last step %s): outcome unknown, the "
				 "version cannot be read (%s)",
				 v[i].step, strerror(-vr));
		} else if (fs != HV_FW_IDLE) {
			st = COCO_TDX_UPDATE_FAILED;
			snprintf(msg, sizeof(msg),
				 "reconciled after restart (last step %s): an upload was still in "
				 "progress (%s) with %s running; outcome unknown",
				 v[i].step, hv_fw_status_name(fs), nv);
		} else if (have_t && tdx_version_cmp(&now, &target) == 0 &&
			   !(have_f && tdx_version_cmp(&from, &target) == 0)) {
			st = COCO_TDX_UPDATE_SUCCEEDED;
			snprintf(msg, sizeof(msg),
				 "reconciled after restart (last step %s): %s runs: the update "
				 "completed",
				 v[i].step, nv);
		} else {
			st = COCO_TDX_UPDATE_FAILED;
			snprintf(msg, sizeof(msg),
				 "reconciled after restart (last step %s): %s runs, not the target "
				 "%s: %s",
				 v[i].step, nv, v[i].target,
				 have_f && tdx_version_cmp(&now, &from) == 0
					 ? "the update did not happen; the old module runs"
					 : "the module changed by other means");
		}
		if ((r = coco_store_tdx_update_step(u->store, v[i].id, "reconcile", msg)) < 0 ||
		    (r = coco_store_tdx_update_finish(u->store, v[i].id, st, msg)) < 0)
			break;
		settled++;
	}
	coco_tdx_updates_free(v, n);
	return r < 0 ? r : settled;
}
