/* cocod/svc_tdx.c: the TDX area: runtime module updates (tdxd/update.h) and TDX measurements.
 *
 *   GET  /v1/tdx/module/candidates  the module store as this host sees it, with reasons
 *   POST /v1/tdx/module/updates     an update (202 + operation, run on this area's own
 *                                   one-thread queue) or a dry run (200 with the plan)
 *   GET  /v1/tdx/module/updates     the journal, newest first, with steps
 *   POST /v1/tdx/measurements       MRTD of a TDVF image (and an RTMR replay of an event log)
 *                                   named inside the configured image directories
 *
 * At start, journal rows a kill -9 left running are settled against the live module
 * (tdxd_update_reconcile) and so are the operations they ran under. The module this host
 * booted with is remembered per boot (boot_id) in the state directory: runtime updates do
 * not survive a reboot, and GET /v1/tdx/module says which module comes back. */
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cocod/svc.h"
#include "coco/log.h"
#include "coco/tdx/ccel.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "hv/tdx.h"
#include "sevd/measure_svc.h"
#include "tdxd/update.h"

#define TDX_RECONCILE_WAIT_MS 10000
#define TDX_UPDATES_LIST_DEFAULT 20
#define TDX_FIRMWARE_MAX (64u << 20)
#define TDX_EVENT_LOG_MAX (16u << 20)
#define TDX_UPDATE_RETRY_AFTER_S 10

struct svc_tdx {
	struct svc *svc;
	struct hv_tdx *hv;
	struct tdxd_updater *up; /* NULL when this is no TDX host */
	char inactive_reason[160];
	bool allow_debug;
	char *module_dir, *pin; /* as started (restart-only keys) */
	char boot_version[TDX_VERSION_STRLEN];
	struct coco_workq *q; /* one update at a time, off the shared work queue */
	unsigned crash_after_steps; /* emulated platform, tests: kill -9 after this step */

	pthread_mutex_t mu; /* the fields below */
	bool updating;
	char running_op[37];
	uint64_t generation; /* updates finished */
};

/* ---------------------------------------------------------------- start / stop */

/* The module this host booted with: recorded the first time cocod sees this boot. */
static void boot_version_load(struct svc *s, struct svc_tdx *t)
{
	_cleanup_free_ char *boot_id = NULL, *rec = NULL, *path = NULL;
	size_t len;
	if (read_file_max("/proc/sys/kernel/random/boot_id", 64, &boot_id, &len) < 0)
		return;
	boot_id[strcspn(boot_id, "\n")] = '\0';
	if (asprintf(&path, "%s/tdx-boot-module", s->config->state_dir) < 0) {
		path = NULL;
		return;
	}
	if (read_file_max(path, 256, &rec, &len) == 0) {
		char id[64], ver[TDX_VERSION_STRLEN];
		struct tdx_version v;
		if (sscanf(rec, "%63s %23s", id, ver) == 2 && streq(id, boot_id) &&
		    tdx_version_parse(ver, strlen(ver), &v) == 0) {
			snprintf(t->boot_version, sizeof(t->boot_version), "%s", ver);
			return;
		}
	}
	struct tdx_version now;
	if (hv_tdx_module_version(t->hv, &now) < 0)
		return;
	tdx_version_format(&now, t->boot_version);
	char line[128];
	int n = snprintf(line, sizeof(line), "%s %s\n", boot_id, t->boot_version);
	_cleanup_free_ char *tmp = NULL;
	FILE *f = asprintf(&tmp, "%s.tmp", path) < 0 ? NULL : fopen(tmp, "we");
	bool ok = f && fwrite(line, 1, (size_t)n, f) == (size_t)n;
	if (f)
		ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0)
		log_warn("cannot record the boot-time TDX module in %s", path);
}

/* After reconcile: the operations of settled rows must not stay "running" either. */
static void settle_operations(struct svc *s, struct coco_tdx_update *was, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!was[i].op_id[0])
			continue;
		struct coco_tdx_update *now = NULL;
		size_t m = 0;
		if (coco_store_tdx_update_list(s->store, false, 0, &now, &m) < 0)
			return;
		for (size_t j = 0; j < m; j++) {
			if (!streq(now[j].id, was[i].id))
				continue;
			struct coco_operation op;
			if (coco_store_op_get(s->store, was[i].op_id, &op) == 0) {
				if (op.state == COCO_OP_RUNNING || op.state == COCO_OP_PENDING)
					coco_store_op_update(
					    s->store, op.id,
					    now[j].state == COCO_TDX_UPDATE_SUCCEEDED
						? COCO_OP_SUCCEEDED
						: COCO_OP_FAILED,
					    100, now[j].detail ? now[j].detail : "reconciled", NULL);
				coco_operation_clear(&op);
			}
		}
		coco_tdx_updates_free(now, m);
	}
}

int svc_tdx_start(struct svc *s, char *err, size_t errlen)
{
	struct svc_tdx *t = calloc(1, sizeof(*t));
	if (!t)
		return set_error(err, errlen, -ENOMEM, "TDX: out of memory");
	t->svc = s;
	pthread_mutex_init(&t->mu, NULL);
	s->tdx = t;
	t->allow_debug = s->config->tdx_allow_debug_modules;
	if (!(t->module_dir = strdup(s->config->tdx_module_dir)) ||
	    !(t->pin = strdup(s->config->tdx_module_pin)))
		return set_error(err, errlen, -ENOMEM, "TDX: out of memory");
	t->hv = hv_platform_tdx(s->platform);
	int r;
	if ((r = coco_workq_new(s->loop, 1, 4, &t->q)) < 0)
		return set_error(err, errlen, r, "TDX work queue: %s", strerror(-r));
	struct hv_tdx_state st;
	if (t->hv)
		hv_tdx_state_read(t->hv, &st);
	if (!t->hv || st.version_errno == ENOENT) {
		snprintf(t->inactive_reason, sizeof(t->inactive_reason),
			 "no TDX host on this machine (/sys/devices/faux/tdx_host absent)");
		log_info("TDX module updates off: %s", t->inactive_reason);
		return 0;
	}
	struct tdxd_update_config cfg = {
		.module_dir = s->config->tdx_module_dir,
		.mapping_file = s->config->tdx_mapping_file,
		.cpuid_1_eax = hv_platform_cpuid_1_eax(s->platform),
		.gate_timeout_ms = s->config->tdx_gate_timeout_s * 1000u,
		.busy_retries = 2,
		.busy_retry_delay_ms = 1000,
	};
	if (s->config->tdx_module_pin && !streq(s->config->tdx_module_pin, "latest")) {
		cfg.pinned = true;
		tdx_version_parse(s->config->tdx_module_pin, strlen(s->config->tdx_module_pin),
				  &cfg.pin);
	}
	/* Tests on the emulated platform: die as kill -9 would right after this journal step. */
	const char *crash = getenv("COCOD_EMUL_TDX_CRASH_AFTER_STEPS");
	uint64_t n;
	if (crash && hv_platform_kind(s->platform) == COCO_PLATFORM_EMULATED &&
	    parse_uint(crash, 1000, &n) == 0) {
		t->crash_after_steps = (unsigned)n;
		cfg.crash_after_steps = (unsigned)n;
	}
	if ((r = tdxd_updater_new(&cfg, t->hv, s->store, s->tdx_gate, &t->up)) < 0)
		return set_error(err, errlen, r, "TDX updater: %s", strerror(-r));
	struct coco_tdx_update *running = NULL;
	size_t nrun = 0;
	coco_store_tdx_update_list(s->store, true, 0, &running, &nrun);
	r = tdxd_update_reconcile(t->up, TDX_RECONCILE_WAIT_MS);
	if (r > 0) {
		settle_operations(s, running, nrun);
		log_notice("TDX module update journal: %d update(s) left running by a previous "
			   "cocod settled against the live module",
			   r);
	} else if (r < 0) {
		log_err("TDX module update journal: reconcile failed: %s", strerror(-r));
	}
	coco_tdx_updates_free(running, nrun);
	boot_version_load(s, t);
	if (tdxd_updater_lost(t->up))
		log_err("TDX module lost (version reads ENXIO): TD launches and updates refused; "
			"reboot required");
	return 0;
}

void svc_tdx_stop(struct svc *s)
{
	struct svc_tdx *t = s->tdx;
	if (!t)
		return;
	coco_workq_free(t->q); /* drains: a running update finishes first */
	tdxd_updater_free(t->up);
	free(t->module_dir);
	free(t->pin);
	pthread_mutex_destroy(&t->mu);
	free(t);
	s->tdx = NULL;
}

bool svc_tdx_is_slow(enum svc_op op)
{
	return op == SVC_TDX_CANDIDATES || op == SVC_TDX_UPDATE || op == SVC_TDX_MEASURE;
}

bool svc_tdx_lost(struct svc *s, char *why, size_t whylen)
{
	struct svc_tdx *t = s->tdx;
	if (!t || !t->up || !tdxd_updater_lost(t->up))
		return false;
	snprintf(why, whylen, "tdx-lost: module gone after a failed update, reboot required");
	return true;
}

uint64_t svc_tdx_generation(struct svc *s)
{
	struct svc_tdx *t = s->tdx;
	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	uint64_t g = t->generation;
	pthread_mutex_unlock(&t->mu);
	return g;
}

/* The update is over (before its operation says so): no longer updating, probes stale. */
static void update_over(struct svc_tdx *t)
{
	pthread_mutex_lock(&t->mu);
	t->generation++;
	t->updating = false;
	t->running_op[0] = '\0';
	pthread_mutex_unlock(&t->mu);
}

void svc_tdx_module_status(struct svc *s, struct svc_tdx_module *o)
{
	struct svc_tdx *t = s->tdx;
	if (!t)
		return;
	snprintf(o->boot_version, sizeof(o->boot_version), "%s", t->boot_version);
	pthread_mutex_lock(&t->mu);
	o->updating = t->updating;
	pthread_mutex_unlock(&t->mu);
	char why[96];
	if (svc_tdx_lost(s, why, sizeof(why))) {
		o->lost = true;
		snprintf(o->error, sizeof(o->error), "%s", why);
	}
}

/* ---------------------------------------------------------------- JSON */

static json_object *version_json(const struct tdx_version *v)
{
	char b[TDX_VERSION_STRLEN];
	tdx_version_format(v, b);
	return json_object_new_string(b);
}

static json_object *hex_json(const uint8_t *d, size_t n)
{
	char h[2 * 64 + 1];
	hex_encode(d, n, h);
	return json_object_new_string(h);
}

static json_object *reasons_json(uint32_t bits)
{
	json_object *a = json_object_new_array();
	for (unsigned i = 0; i < TDX_REASON_COUNT; i++)
		if (bits & (1u << i))
			json_object_array_add(a, json_object_new_string(
						     tdx_reason_name((enum tdx_reason)(1u << i))));
	return a;
}

static json_object *plan_json(const struct tdxd_plan *p)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "current", version_json(&p->state.version));
	json_object_object_add(o, "seamldr", version_json(&p->state.seamldr));
	json_object_object_add(o, "remaining_updates",
			       p->state.remaining_errno ? NULL
							: json_object_new_int64(p->state.remaining_updates));
	json_object_object_add(o, "target", p->sel.target ? version_json(&p->sel.target->file->version)
							  : NULL);
	json_object_object_add(o, "why_none", p->sel.target || !p->sel.why_none[0]
						      ? NULL
						      : json_object_new_string(p->sel.why_none));
	for (size_t i = 0; i < p->sel.n; i++) {
		const struct tdx_candidate *c = &p->sel.candidates[i];
		const struct tdx_module_file *f = c->file;
		json_object *e = json_object_new_object();
		json_object_object_add(e, "version", version_json(&f->version));
		json_object_object_add(e, "file", json_object_new_string(f->name));
		json_object_object_add(e, "size", json_object_new_int64((int64_t)f->size));
		json_object_object_add(e, "eligible", json_object_new_boolean(c->eligible));
		json_object_object_add(e, "target", json_object_new_boolean(c == p->sel.target));
		json_object_object_add(e, "reasons", reasons_json(c->reasons));
		json_object_object_add(e, "detail",
				       c->detail[0] ? json_object_new_string(c->detail) : NULL);
		if (f->error) {
			json_object_object_add(e, "error", json_object_new_string(f->error_msg));
		} else {
			json_object_object_add(e, "mrseam", hex_json(f->mrseam, sizeof(f->mrseam)));
			json_object_object_add(e, "debug",
					       json_object_new_boolean(f->blob.sig.debug));
			json_object_object_add(e, "blob_version",
					       json_object_new_int(f->blob.version >> 8));
		}
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "candidates", a);
	return o;
}

static json_object *report_json(const struct tdxd_update_report *rep)
{
	json_object *o = json_object_new_object(), *checks = json_object_new_array();
	json_object_object_add(o, "outcome",
			       json_object_new_string(tdxd_update_outcome_name(rep->outcome)));
	json_object_object_add(o, "message", json_object_new_string(rep->message));
	json_object_object_add(o, "journal_id", rep->journal_id[0]
						    ? json_object_new_string(rep->journal_id)
						    : NULL);
	json_object_object_add(o, "from", rep->checks[TDXD_CHECK_MODULE].ok
					      ? version_json(&rep->from)
					      : NULL);
	json_object_object_add(o, "target", rep->has_target ? version_json(&rep->to) : NULL);
	if (rep->outcome == TDXD_UPDATE_UPDATED) {
		json_object_object_add(o, "after", version_json(&rep->after));
		json_object_object_add(o, "remaining_updates",
				       json_object_new_int64(rep->remaining_after));
	}
	json_object *failed = json_object_new_array();
	for (unsigned i = 0; i < TDXD_CHECK_COUNT; i++) {
		const struct tdxd_check *c = &rep->checks[i];
		json_object *e = json_object_new_object();
		const char *name = tdxd_check_name((enum tdxd_check_id)i);
		json_object_object_add(e, "name", json_object_new_string(name));
		json_object_object_add(e, "result", json_object_new_string(
							    !c->run ? "not-run" : c->ok ? "ok" : "failed"));
		json_object_object_add(e, "detail",
				       c->detail[0] ? json_object_new_string(c->detail) : NULL);
		json_object_array_add(checks, e);
		if (c->run && !c->ok)
			json_object_array_add(failed, json_object_new_string(name));
	}
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "failed_checks", failed);
	json_object_object_add(o, "attempts", json_object_new_int((int)rep->attempts));
	if (rep->image_size) {
		json_object_object_add(o, "image_sha384",
				       hex_json(rep->image_sha384, sizeof(rep->image_sha384)));
		json_object_object_add(o, "image_size", json_object_new_int64((int64_t)rep->image_size));
	}
	json_object *tm = json_object_new_object();
	json_object_object_add(tm, "gate_hold_ms", json_object_new_double(rep->gate_hold_ns / 1e6));
	json_object_object_add(tm, "upload_ms", json_object_new_double(rep->upload_ns / 1e6));
	json_object_object_add(tm, "total_ms", json_object_new_double(rep->total_ns / 1e6));
	json_object_object_add(o, "timing", tm);
	json_object_object_add(o, "note",
			       json_object_new_string("runtime updates do not survive a reboot: the "
						      "boot-time module comes back"));
	return o;
}

/* ---------------------------------------------------------------- candidates */

static bool query_bool(const struct svc_doc_req *d, const char *name, bool *ret,
		       struct svc_reply *r)
{
	const char *v = svc_doc_arg(d, name);
	*ret = false;
	if (!v)
		return true;
	if (streq(v, "true") || streq(v, "1")) {
		*ret = true;
		return true;
	}
	if (streq(v, "false") || streq(v, "0"))
		return true;
	svc_reply_error(r, SVC_E_INVALID, "query '%s' must be true or false", name);
	return false;
}

static void candidates(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_tdx *t = s->tdx;
	struct tdxd_update_request rq = {.latest = true};
	if (!query_bool(&q->doc, "allow_debug", &rq.allow_debug, r) ||
	    !query_bool(&q->doc, "reinstall", &rq.reinstall, r))
		return;
	const char *v = svc_doc_arg(&q->doc, "version");
	if (v && !streq(v, "latest")) {
		if (tdx_version_parse(v, strlen(v), &rq.version) < 0) {
			svc_reply_error(r, SVC_E_INVALID, "'%.40s' is not a module version (1.5.16)",
					v);
			return;
		}
		rq.latest = false;
	}
	for (size_t i = 0; i < q->doc.n_args; i++) {
		const char *n = q->doc.args[i].name;
		if (!streq(n, "allow_debug") && !streq(n, "reinstall") && !streq(n, "version")) {
			svc_reply_error(r, SVC_E_INVALID,
					"unknown query parameter '%.32s' (version, allow_debug, "
					"reinstall)",
					n);
			return;
		}
	}
	struct tdxd_plan p;
	int e = tdxd_plan(t->up, &rq, &p);
	if (e < 0) {
		svc_reply_error(r, e == -ENODEV ? SVC_E_CONFLICT : SVC_E_UNAVAILABLE, "%s", p.error);
		return;
	}
	json_object *o = plan_json(&p);
	json_object_object_add(o, "module_dir", json_object_new_string(t->module_dir));
	json_object_object_add(o, "pinned", json_object_new_string(t->pin));
	tdxd_plan_clear(&p);
	r->doc.json = o;
}

/* ---------------------------------------------------------------- updates */

struct update_job {
	struct svc *svc;
	struct tdxd_update_request rq;
	char op_id[37];
	char actor[256];
	int last_progress;
	char last_msg[128];
};

static int status_progress(const char *step, enum hv_fw_status st)
{
	if (streq(step, "preflight"))
		return 5;
	if (streq(step, "gate"))
		return 15;
	switch (st) {
	case HV_FW_RECEIVING: return 30;
	case HV_FW_PREPARING: return 45;
	case HV_FW_TRANSFERRING: return 60;
	case HV_FW_PROGRAMMING: return 80;
	default: return 90;
	}
}

static void on_progress(void *userdata, const char *step, enum hv_fw_status st,
			uint32_t remaining)
{
	struct update_job *j = userdata;
	char msg[128];
	if (streq(step, "upload"))
		snprintf(msg, sizeof(msg), "upload: %s (%u bytes left)", hv_fw_status_name(st),
			 remaining);
	else
		snprintf(msg, sizeof(msg), "%s", step);
	int pr = status_progress(step, st);
	if (streq(msg, j->last_msg))
		return;
	snprintf(j->last_msg, sizeof(j->last_msg), "%s", msg);
	if (pr > j->last_progress)
		j->last_progress = pr;
	coco_store_op_update(j->svc->store, j->op_id, COCO_OP_RUNNING, j->last_progress, msg,
			     NULL);
}

static void update_work(void *arg)
{
	struct update_job *j = arg;
	struct svc *s = j->svc;
	struct svc_tdx *t = s->tdx;
	coco_store_op_update(s->store, j->op_id, COCO_OP_RUNNING, 1, "preflight", NULL);
	struct tdxd_update_report rep;
	j->rq.op_id = j->op_id;
	int e = tdxd_update_run(t->up, &j->rq, on_progress, j, &rep);
	if (e < 0 && e != -EIO) {
		update_over(t);
		char msg[160];
		snprintf(msg, sizeof(msg), "the update could not run: %s",
			 e == -EBUSY ? "another update is running" : strerror(-e));
		coco_store_op_update(s->store, j->op_id, COCO_OP_FAILED, 100, msg, NULL);
		return;
	}
	if (rep.outcome == TDXD_UPDATE_CRASHED && t->crash_after_steps) {
		log_warn("COCOD_EMUL_TDX_CRASH_AFTER_STEPS=%u reached: dying as kill -9 would",
			 t->crash_after_steps);
		raise(SIGKILL);
	}
	update_over(t);
	json_object *res = report_json(&rep);
	const char *txt = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN);
	bool ok = rep.outcome == TDXD_UPDATE_UPDATED;
	coco_store_op_update(s->store, j->op_id, ok ? COCO_OP_SUCCEEDED : COCO_OP_FAILED, 100,
			     rep.message, txt);
	json_object_put(res);
	char detail[640];
	snprintf(detail, sizeof(detail), "%s: %s", tdxd_update_outcome_name(rep.outcome),
		 rep.message);
	coco_store_audit(s->store, j->actor, ok ? "tdx.module_update" : "tdx.module_update.failed",
			 detail);
	if (rep.outcome == TDXD_UPDATE_LOST)
		log_err("TDX module update by %s: %s", j->actor, rep.message);
	else
		log_notice("TDX module update by %s: %s", j->actor, detail);
}

static void update_done(void *arg)
{
	free(arg);
}

static bool json_member_bool(json_object *v, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static int parse_update_body(json_object *body, struct tdxd_update_request *rq, char *err,
			     size_t errlen)
{
	*rq = (struct tdxd_update_request){.latest = true};
	if (!body)
		return 0;
	json_object_object_foreach(body, key, v)
	{
		if (streq(key, "version")) {
			const char *vs = json_object_is_type(v, json_type_string)
					     ? json_object_get_string(v)
					     : NULL;
			if (vs && streq(vs, "latest"))
				continue;
			if (!vs || tdx_version_parse(vs, strlen(vs), &rq->version) < 0)
				return set_error(err, errlen, -EINVAL,
						 "'version' must be \"latest\" or a module version "
						 "such as \"1.5.16\"");
			rq->latest = false;
		} else if (streq(key, "dry_run")) {
			if (!json_member_bool(v, &rq->dry_run))
				return set_error(err, errlen, -EINVAL, "'dry_run' must be a boolean");
		} else if (streq(key, "allow_debug")) {
			if (!json_member_bool(v, &rq->allow_debug))
				return set_error(err, errlen, -EINVAL,
						 "'allow_debug' must be a boolean");
		} else if (streq(key, "reinstall")) {
			if (!json_member_bool(v, &rq->reinstall))
				return set_error(err, errlen, -EINVAL, "'reinstall' must be a boolean");
		} else {
			return set_error(err, errlen, -EINVAL,
					 "unknown member '%.40s' (expected version, dry_run, "
					 "allow_debug, reinstall)",
					 key);
		}
	}
	return 0;
}

static void update_post(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_tdx *t = s->tdx;
	struct tdxd_update_request rq;
	char err[256];
	if (parse_update_body(q->doc.json, &rq, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	if (rq.allow_debug && !t->allow_debug) {
		svc_reply_error(r, SVC_E_INVALID,
				"debug-signed modules are not allowed on this host "
				"(tdx_allow_debug_modules = no)");
		return;
	}
	char why[160];
	if (svc_tdx_lost(s, why, sizeof(why))) {
		svc_reply_error(r, SVC_E_CONFLICT, "%s: no update can run", why);
		return;
	}
	if (svc_idem_replay(s, q, "tdx.module_update", r))
		return;
	if (!rq.latest) {
		/* A version the store does not hold is a bad request, not a journaled refusal. */
		struct tdxd_plan p;
		int e = tdxd_plan(t->up, &rq, &p);
		if (e < 0) {
			svc_reply_error(r, e == -ENODEV ? SVC_E_CONFLICT : SVC_E_UNAVAILABLE, "%s",
					p.error);
			return;
		}
		bool found = false;
		for (size_t i = 0; i < p.inv.n; i++)
			found |= tdx_version_cmp(&p.inv.files[i].version, &rq.version) == 0;
		tdxd_plan_clear(&p);
		if (!found) {
			char vb[TDX_VERSION_STRLEN];
			tdx_version_format(&rq.version, vb);
			svc_reply_error(r, SVC_E_INVALID,
					"no module %s in the module store %s (GET "
					"/v1/tdx/module/candidates lists them)",
					vb, t->module_dir);
			return;
		}
	}
	if (rq.dry_run) {
		struct tdxd_update_report rep;
		int e = tdxd_update_run(t->up, &rq, NULL, NULL, &rep);
		if (e == -EBUSY) {
			svc_reply_error(r, SVC_E_CONFLICT, "a module update is running");
			r->doc.retry_after = TDX_UPDATE_RETRY_AFTER_S;
			return;
		}
		if (e < 0) {
			svc_reply_error(r, SVC_E_INTERNAL, "dry run: %s", strerror(-e));
			return;
		}
		r->doc.json = report_json(&rep);
		svc_idem_record(s, q, "tdx.module_update", r);
		return;
	}
	pthread_mutex_lock(&t->mu);
	bool busy = t->updating;
	char running[37];
	snprintf(running, sizeof(running), "%s", t->running_op);
	if (!busy)
		t->updating = true;
	pthread_mutex_unlock(&t->mu);
	if (busy) {
		svc_reply_error(r, SVC_E_CONFLICT, "a module update is running (operation %s)",
				running);
		r->doc.retry_after = TDX_UPDATE_RETRY_AFTER_S;
		return;
	}
	struct update_job *j = calloc(1, sizeof(*j));
	char id[37] = "";
	int e = j ? coco_store_op_create(s->store, "tdx.module_update", id) : -ENOMEM;
	if (e == 0) {
		*j = (struct update_job){.svc = s, .rq = rq};
		snprintf(j->op_id, sizeof(j->op_id), "%s", id);
		snprintf(j->actor, sizeof(j->actor), "%s", q->actor);
		pthread_mutex_lock(&t->mu);
		snprintf(t->running_op, sizeof(t->running_op), "%s", id);
		pthread_mutex_unlock(&t->mu);
		e = coco_workq_submit(t->q, update_work, update_done, j); /* j is the queue's now */
	}
	if (e < 0) {
		pthread_mutex_lock(&t->mu);
		t->updating = false;
		t->running_op[0] = '\0';
		pthread_mutex_unlock(&t->mu);
		if (id[0])
			coco_store_op_update(s->store, id, COCO_OP_FAILED, 100,
					     "not started: could not queue", NULL);
		free(j);
		svc_reply_error(r, SVC_E_UNAVAILABLE, "update not started: %s", strerror(-e));
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "operation", json_object_new_string(id));
	json_object_object_add(o, "state", json_object_new_string("pending"));
	r->doc.json = o;
	r->doc.http_status = 202;
	snprintf(r->doc.location, sizeof(r->doc.location), "/v1/operations/%s", id);
	svc_idem_record(s, q, "tdx.module_update", r);
}

static void updates_list(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	uint64_t limit = TDX_UPDATES_LIST_DEFAULT;
	const char *ls = svc_doc_arg(&q->doc, "limit");
	if (ls && (parse_uint(ls, COCO_TDX_UPDATE_LIST_MAX, &limit) < 0 || limit == 0)) {
		svc_reply_error(r, SVC_E_INVALID, "'limit' must be a count in 1..%d",
				COCO_TDX_UPDATE_LIST_MAX);
		return;
	}
	struct coco_tdx_update *v = NULL;
	size_t n = 0;
	int e = coco_store_tdx_update_list(s->store, false, (size_t)limit, &v, &n);
	if (e < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "journal: %s", strerror(-e));
		return;
	}
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *u = json_object_new_object(), *steps = json_object_new_array();
		json_object_object_add(u, "id", json_object_new_string(v[i].id));
		json_object_object_add(u, "operation", v[i].op_id[0]
							   ? json_object_new_string(v[i].op_id)
							   : NULL);
		json_object_object_add(u, "from", json_object_new_string(v[i].from_version));
		json_object_object_add(u, "target", json_object_new_string(v[i].target));
		json_object_object_add(u, "state", json_object_new_string(
							   coco_tdx_update_state_name(v[i].state)));
		json_object_object_add(u, "step", json_object_new_string(v[i].step));
		json_object_object_add(u, "detail",
				       v[i].detail ? json_object_new_string(v[i].detail) : NULL);
		json_object_object_add(u, "started", json_object_new_int64(v[i].started));
		json_object_object_add(u, "finished", v[i].finished
							  ? json_object_new_int64(v[i].finished)
							  : NULL);
		struct coco_tdx_update_step *st = NULL;
		size_t ns = 0;
		if (coco_store_tdx_update_steps(s->store, v[i].id, &st, &ns) == 0) {
			for (size_t k = 0; k < ns; k++) {
				json_object *e2 = json_object_new_object();
				json_object_object_add(e2, "step", json_object_new_string(st[k].step));
				json_object_object_add(e2, "detail",
						       st[k].detail ? json_object_new_string(st[k].detail)
								    : NULL);
				json_object_object_add(e2, "at", json_object_new_int64(st[k].at));
				json_object_array_add(steps, e2);
			}
			coco_tdx_update_steps_free(st, ns);
		}
		json_object_object_add(u, "steps", steps);
		json_object_array_add(a, u);
	}
	coco_tdx_updates_free(v, n);
	json_object_object_add(o, "updates", a);
	r->doc.json = o;
}

/* ---------------------------------------------------------------- measurements */

static int read_named(struct svc *s, const char *name, size_t max, char **ret, size_t *ret_len,
		      char *err, size_t errlen)
{
	char path[PATH_MAX];
	pthread_rwlock_rdlock(&s->config_lock); /* a reload replaces the image directories */
	int e = sevd_resolve_image(s->config->image_dirs, s->config->n_image_dirs, name, path, err,
				   errlen);
	pthread_rwlock_unlock(&s->config_lock);
	if (e < 0)
		return e;
	if ((e = read_file_max(path, max, ret, ret_len)) < 0)
		return set_error(err, errlen, e, "%s: %s", name,
				 e == -EFBIG ? "too large" : strerror(-e));
	return 0;
}

static void measure(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	const char *fw = NULL, *log_name = NULL, *order_s = "single-pass";
	if (!q->doc.json) {
		svc_reply_error(r, SVC_E_INVALID, "expected {\"firmware\": NAME, \"order\": "
						  "\"single-pass\"|\"two-pass\", \"event_log\": NAME}");
		return;
	}
	json_object_object_foreach(q->doc.json, key, v)
	{
		const char *str = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
									   : NULL;
		if (!str) {
			svc_reply_error(r, SVC_E_INVALID, "member '%.40s' must be a string", key);
			return;
		}
		if (streq(key, "firmware"))
			fw = str;
		else if (streq(key, "event_log"))
			log_name = str;
		else if (streq(key, "order"))
			order_s = str;
		else {
			svc_reply_error(r, SVC_E_INVALID,
					"unknown member '%.40s' (firmware, order, event_log)", key);
			return;
		}
	}
	enum tdvf_order order;
	if (streq(order_s, "single-pass")) {
		order = TDVF_SINGLE_PASS;
	} else if (streq(order_s, "two-pass")) {
		order = TDVF_TWO_PASS;
	} else {
		svc_reply_error(r, SVC_E_INVALID, "'order' must be single-pass or two-pass");
		return;
	}
	if (!fw && !log_name) {
		svc_reply_error(r, SVC_E_INVALID, "'firmware' (a TDVF image name) or 'event_log' "
						  "is required");
		return;
	}
	char err[320];
	uint64_t t0 = now_ns();
	json_object *o = json_object_new_object();
	if (fw) {
		_cleanup_free_ char *img = NULL;
		size_t len;
		int e = read_named(s, fw, TDX_FIRMWARE_MAX, &img, &len, err, sizeof(err));
		struct tdvf tv;
		uint8_t mrtd[48];
		if (e == 0 && (e = tdvf_parse((const uint8_t *)img, len, &tv, err, sizeof(err))) < 0)
			e = -EINVAL;
		if (e == 0)
			e = tdvf_mrtd(&tv, order, mrtd, err, sizeof(err));
		if (e < 0) {
			json_object_put(o);
			svc_reply_error(r, e == -ENOENT || e == -EACCES ? SVC_E_NOT_FOUND
					   : e == -ENOMEM		  ? SVC_E_UNAVAILABLE
									  : SVC_E_INVALID,
					"firmware: %s", err);
			return;
		}
		json_object_object_add(o, "firmware", json_object_new_string(fw));
		json_object_object_add(o, "mrtd", hex_json(mrtd, sizeof(mrtd)));
		json_object_object_add(o, "order", json_object_new_string(tdvf_order_name(order)));
		json_object_object_add(o, "pages_added", json_object_new_int64((int64_t)tv.pages_added));
		json_object_object_add(o, "chunks_extended",
				       json_object_new_int64((int64_t)tv.chunks_extended));
	}
	if (log_name) {
		_cleanup_free_ char *buf = NULL;
		size_t len;
		struct ccel_log l = {0};
		int e = read_named(s, log_name, TDX_EVENT_LOG_MAX, &buf, &len, err, sizeof(err));
		if (e == 0 && ccel_replay((const uint8_t *)buf, len, &l, err, sizeof(err)) < 0)
			e = -EINVAL;
		if (e < 0) {
			ccel_log_free(&l);
			json_object_put(o);
			svc_reply_error(r, e == -ENOENT || e == -EACCES ? SVC_E_NOT_FOUND
									: SVC_E_INVALID,
					"event_log: %s", err);
			return;
		}
		json_object *rt = json_object_new_array();
		for (int i = 0; i < 4; i++)
			json_object_array_add(rt, hex_json(l.rtmr[i], 48));
		json_object_object_add(o, "event_log", json_object_new_string(log_name));
		json_object_object_add(o, "rtmr", rt);
		json_object_object_add(o, "events", json_object_new_int64((int64_t)l.n));
		ccel_log_free(&l);
	}
	json_object_object_add(o, "elapsed_ms", json_object_new_double((now_ns() - t0) / 1e6));
	r->doc.json = o;
}

/* ---------------------------------------------------------------- dispatch */

void svc_tdx_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_tdx *t = s->tdx;
	if (q->op == SVC_TDX_MEASURE) { /* offline: no TDX host needed */
		measure(s, q, r);
		return;
	}
	if (q->op == SVC_TDX_UPDATES_LIST) {
		updates_list(s, q, r);
		return;
	}
	if (!t || !t->up) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s",
				t ? t->inactive_reason : "TDX service not started");
		return;
	}
	switch (q->op) {
	case SVC_TDX_CANDIDATES: candidates(s, q, r); return;
	case SVC_TDX_UPDATE: update_post(s, q, r); return;
	default: break;
	}
	svc_reply_error(r, SVC_E_INTERNAL, "unknown operation %d", (int)q->op);
}
