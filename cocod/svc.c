#include "cocod/svc.h"

#include <openssl/evp.h>
#include <stdarg.h>

#include "coco/log.h"
#include "coco/util.h"
#include "hv/sev.h"
#include "hv/uapi/sev_compat.h"
#include "sevd/certfile.h"
#include "tdxd/gate.h"
#include "version.h"

void svc_reply_error(struct svc_reply *r, enum svc_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	r->status = st;
}

/* The cached probe is used while it is young and no module update finished since. */
static bool probe_fresh(struct svc *s)
{
	return s->probe_ok && now_ns() - s->probe_at <= SVC_PROBE_TTL_NS &&
	       s->probe_tdx_gen == svc_tdx_generation(s);
}

int svc_probe_platform(struct svc *s, bool log_findings)
{
	struct hv_host_info h;
	uint64_t gen = svc_tdx_generation(s);
	int r = hv_platform_probe(s->platform, &h);
	if (r < 0) {
		s->probe_ok = false;
		log_err("platform probe failed: %s", strerror(-r));
		return r;
	}
	s->probe = h;
	s->probe_at = now_ns();
	s->probe_tdx_gen = gen;
	s->probe_ok = true;
	if (!log_findings)
		return 0;
	if (h.platform == COCO_PLATFORM_EMULATED) {
		log_info("platform emulated: emulated SEV firmware (SNP guests) and TDX module %s "
			 "(P-SEAMLDR %s, %ld updates left); no device is opened",
			 h.tdx_module_version, h.tdx_seamldr_version, h.tdx_remaining_updates);
		return 0;
	}
	log_info("platform %s: /dev/sev %s, /dev/kvm %s, SNP VMs %s, TDX host %s%s%s",
		 coco_platform_name(h.platform),
		 h.sev_device ? "present" : (h.sev_errno ? strerror(h.sev_errno) : "absent"),
		 h.kvm_device ? "present" : (h.kvm_errno ? strerror(h.kvm_errno) : "absent"),
		 hv_host_snp_available(&h) ? "supported" : "not supported",
		 h.tdx_host ? "present" : "absent",
		 h.tdx_module_version[0] ? ", module " : "", h.tdx_module_version);
	if (h.tdx_host && h.tdx_version_errno == ENXIO)
		log_err("TDX module unavailable (version reads ENXIO): reboot required");
	return 0;
}

static void host_get(struct svc *s, struct svc_reply *r)
{
	if (!probe_fresh(s) &&
	    svc_probe_platform(s, false) < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "platform probe failed");
		return;
	}
	const struct hv_host_info *h = &s->probe;
	struct svc_host *o = &r->host;
	snprintf(o->platform, sizeof(o->platform), "%s", coco_platform_name(h->platform));
	snprintf(o->version, sizeof(o->version), "%s", COCOD_VERSION);
	snprintf(o->commit, sizeof(o->commit), "%s", COCOD_GIT_COMMIT);
	o->started = s->started;
	o->sev_device = h->sev_device;
	if (!h->sev_device && h->sev_errno)
		snprintf(o->sev_error, sizeof(o->sev_error), "%s", strerror(h->sev_errno));
	o->kvm_device = h->kvm_device;
	if (h->kvm_errno)
		snprintf(o->kvm_error, sizeof(o->kvm_error), "%s", strerror(h->kvm_errno));
	o->kvm_vm_types_known = h->kvm_vm_types_known;
	o->kvm_vm_types = h->kvm_vm_types;
	o->snp_available = hv_host_snp_available(h);
	o->tdx_available = hv_host_tdx_available(h) && !h->tdx_version_errno;
	o->tdx_host = h->tdx_host;
	snprintf(o->tdx_module_version, sizeof(o->tdx_module_version), "%s",
		 h->tdx_module_version);
	if (h->tdx_version_errno == ENXIO)
		snprintf(o->tdx_module_error, sizeof(o->tdx_module_error),
			 "tdx-lost: module unavailable, reboot required");
	else if (h->tdx_version_errno)
		snprintf(o->tdx_module_error, sizeof(o->tdx_module_error), "%s",
			 strerror(h->tdx_version_errno));
	snprintf(o->tdx_seamldr_version, sizeof(o->tdx_seamldr_version), "%s",
		 h->tdx_seamldr_version);
	o->tdx_remaining_updates = h->tdx_remaining_updates;
	o->tdx_update_interface = h->tdx_update_interface;
	char why[128];
	if (svc_tdx_lost(s, why, sizeof(why))) { /* known before the next probe says so */
		o->tdx_available = false;
		snprintf(o->tdx_module_error, sizeof(o->tdx_module_error),
			 "tdx-lost: module unavailable, reboot required");
	}
}

/* A failed SEV command as a reply: what the kernel or the firmware said, in one sentence. */
void svc_reply_sev_error(struct svc_reply *r, const char *what, uint32_t cmd, int e,
			 uint32_t fw)
{
	const char *since = hv_sev_cmd_linux_version(cmd);
	if (e == -EIO && fw)
		svc_reply_error(r, SVC_E_FIRMWARE, "%s: firmware status %s (0x%x): %s", what,
			    hv_sev_fw_error_name(fw), fw, hv_sev_fw_error_message(fw));
	else if (e == -EOPNOTSUPP)
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s: not supported by this kernel%s%s%s", what,
			    since ? " (needs Linux " : "", since ? since : "", since ? ")" : "");
	else if (e == -ENOENT || e == -ENODEV || e == -ENXIO)
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s: no SEV firmware on this host (%s)", what,
			    strerror(-e));
	else
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s: %s", what, strerror(-e));
}

/* The SEV firmware (read-write for commands that change it) and its status now; NULL with
 * the reply filled when either is not to be had. */
struct hv_sev *svc_sev_with_status(struct svc *s, bool writable, struct hv_snp_status *st,
				      struct svc_reply *r)
{
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(s->platform, writable, &eno);
	if (!sev) {
		svc_reply_sev_error(r, writable ? "/dev/sev (read-write)" : "/dev/sev", 0, -eno, 0);
		return NULL;
	}
	uint32_t fw = 0;
	int e = hv_sev_snp_platform_status(sev, st, &fw);
	if (e < 0) {
		svc_reply_sev_error(r, "SNP_PLATFORM_STATUS", SNP_PLATFORM_STATUS, e, fw);
		return NULL;
	}
	return sev;
}

static void snp_platform_get(struct svc *s, struct svc_reply *r)
{
	struct hv_snp_status st;
	uint32_t fw = 0;
	int e;
	struct hv_sev *sev = svc_sev_with_status(s, false, &st, r);
	if (!sev)
		return;
	struct svc_snp_platform *o = &r->snp_platform;
	snprintf(o->backend, sizeof(o->backend), "%s", sev->ops->name);
	const char *prod = snp_product_name(hv_platform_snp_product(s->platform));
	snprintf(o->product, sizeof(o->product), "%s", prod ? prod : "");
	o->api_major = st.api_major;
	o->api_minor = st.api_minor;
	o->build_id = st.build_id;
	o->state = st.state;
	o->rmp_initialized = st.rmp_initialized;
	o->mask_chip_id = st.mask_chip_id;
	o->mask_chip_key = st.mask_chip_key;
	o->vlek_loaded = st.vlek_en;
	o->ciphertext_hiding_cap = st.ciphertext_hiding_cap;
	o->ciphertext_hiding_en = st.ciphertext_hiding_en;
	o->rapl_dis = st.rapl_dis;
	o->guest_count = st.guest_count;
	o->current_tcb = st.current_tcb;
	o->reported_tcb = st.reported_tcb;
	o->committed_tcb_known = st.committed_tcb_known;
	o->committed_tcb = st.committed_tcb;
	/* SEV_GET_ID2: the KDS hwID. Refused by the firmware while MASK_CHIP_ID is set. */
	e = hv_sev_get_id(sev, o->chip_id, &fw);
	o->chip_id_known = e == 0;
	if (e == -EIO)
		snprintf(o->chip_id_error, sizeof(o->chip_id_error), "firmware status %s",
			 hv_sev_fw_error_name(fw));
	else if (e < 0)
		snprintf(o->chip_id_error, sizeof(o->chip_id_error), "%s", strerror(-e));
}

/* SNP_SET_CONFIG and SNP_COMMIT change the firmware: each is an operation journaled before
 * and after the command (a restart finds a "running" one if cocod died in between), audited,
 * and answered with the platform status read afterwards. */
static void snp_platform_change(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	bool commit = q->op == SVC_SNP_COMMIT;
	const char *kind = commit ? "snp.commit" : "snp.set_config";
	struct hv_snp_status st;
	uint32_t fw = 0;
	int e;
	struct hv_sev *sev = svc_sev_with_status(s, true, &st, r);
	if (!sev)
		return;
	uint64_t tcb = q->snp_config.set_tcb ? q->snp_config.reported_tcb : st.reported_tcb;
	bool mid = q->snp_config.mask_chip_id < 0 ? st.mask_chip_id : q->snp_config.mask_chip_id;
	bool mkey = q->snp_config.mask_chip_key < 0 ? st.mask_chip_key
						    : q->snp_config.mask_chip_key;
	char what[160];
	if (commit)
		snprintf(what, sizeof(what), "commit current TCB 0x%016llx",
			 (unsigned long long)st.current_tcb);
	else
		snprintf(what, sizeof(what), "reported TCB 0x%016llx, mask chip id %d, key %d",
			 (unsigned long long)tcb, mid, mkey);
	char id[37];
	if ((e = coco_store_op_create(s->store, kind, id)) < 0 ||
	    (e = coco_store_op_update(s->store, id, COCO_OP_RUNNING, 0, what, NULL)) < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "journal: %s", strerror(-e));
		return;
	}
	/* VMMs must not hand out the old table while the TCB changes under it. */
	struct certfile_lock lock;
	char lerr[256];
	if ((e = svc_snp_table_lock(s, &lock, lerr, sizeof(lerr))) < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s", lerr);
		coco_store_op_update(s->store, id, COCO_OP_FAILED, 100, r->detail, NULL);
		return;
	}
	fw = 0;
	e = commit ? hv_sev_snp_commit(sev, &fw) : hv_sev_snp_set_config(sev, tcb, mid, mkey, &fw);
	svc_snp_after_change(s, &lock);
	if (e < 0) {
		svc_reply_sev_error(r, commit ? "SNP_COMMIT" : "SNP_SET_CONFIG",
				commit ? SNP_COMMIT : SNP_SET_CONFIG, e, fw);
		const char *msg = r->detail;
		coco_store_op_update(s->store, id, COCO_OP_FAILED, 100, msg, NULL);
		coco_store_audit(s->store, q->actor, commit ? "snp.commit.failed"
							     : "snp.set_config.failed", msg);
		log_warn("%s by %s failed: %s", kind, q->actor, msg);
		return;
	}
	coco_store_op_update(s->store, id, COCO_OP_SUCCEEDED, 100, what, NULL);
	coco_store_audit(s->store, q->actor, kind, what);
	log_notice("%s by %s: %s", kind, q->actor, what);
	snp_platform_get(s, r);
	snprintf(r->snp_platform.operation, sizeof(r->snp_platform.operation), "%s", id);
}

static void tdx_module_get(struct svc *s, struct svc_reply *r)
{
	if (!probe_fresh(s) &&
	    svc_probe_platform(s, false) < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "platform probe failed");
		return;
	}
	const struct hv_host_info *h = &s->probe;
	if (!h->tdx_host) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED,
			    "no TDX host on this machine (/sys/devices/faux/tdx_host absent: "
			    "not an Intel TDX host, TDX disabled in firmware, or a kernel before "
			    "Linux 7.2)");
		return;
	}
	struct svc_tdx_module *o = &r->tdx_module;
	o->host = true;
	snprintf(o->version, sizeof(o->version), "%s", h->tdx_module_version);
	o->lost = h->tdx_version_errno == ENXIO;
	if (o->lost)
		snprintf(o->error, sizeof(o->error), "tdx-lost: module unavailable, reboot required");
	else if (h->tdx_version_errno)
		snprintf(o->error, sizeof(o->error), "%s", strerror(h->tdx_version_errno));
	snprintf(o->seamldr_version, sizeof(o->seamldr_version), "%s", h->tdx_seamldr_version);
	o->remaining_updates = h->tdx_remaining_updates;
	o->update_interface = h->tdx_update_interface;
	o->cpus_known = h->cpus_known;
	o->cpus_online = h->cpus_online;
	o->cpus_possible = h->cpus_possible;
	svc_tdx_module_status(s, o);
}

static void ready_get(struct svc *s, struct svc_reply *r)
{
	int v;
	if (coco_store_schema_version(s->store, &v) < 0) {
		r->ready.ready = false;
		snprintf(r->ready.reason, sizeof(r->ready.reason), "state store unreadable");
		return;
	}
	if (!probe_fresh(s) &&
	    svc_probe_platform(s, false) < 0) {
		r->ready.ready = false;
		snprintf(r->ready.reason, sizeof(r->ready.reason), "platform probe failed");
		return;
	}
	r->ready.ready = true;
}

static void operation_get(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	int e = coco_store_op_get(s->store, q->operation_get.id, &r->operation);
	if (e == -ENOENT)
		svc_reply_error(r, SVC_E_NOT_FOUND, "no operation %s", q->operation_get.id);
	else if (e < 0)
		svc_reply_error(r, SVC_E_INTERNAL, "state store: %s", strerror(-e));
}

static void reload(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	char err[512];
	if (!s->reload) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "reload is not available");
		return;
	}
	if (s->reload(s->reload_userdata, &r->reload, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "configuration not reloaded: %s", err);
		coco_store_audit(s->store, q->actor, "config.reload.failed", err);
		return;
	}
	coco_store_audit(s->store, q->actor, "config.reload", r->reload.changed);
}

static void log_level_set(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	r->log_level.previous = coco_log_get_level();
	coco_log_set_level(q->log_level_set.level);
	r->log_level.current = q->log_level_set.level;
	coco_store_audit(s->store, q->actor, "log.level", coco_log_level_name(r->log_level.current));
	char actor[320];
	snprintf(actor, sizeof(actor), "COCOD_ACTOR=%s", q->actor);
	const char *fields[] = {actor, "COCOD_ACTION=log.level", NULL};
	log_fields(LOG_NOTICE, fields, "log level set to %s by %s",
		   coco_log_level_name(r->log_level.current), q->actor);
}

/* A measurement job: everything it reads is copied, so a reload or the request's end cannot
 * pull strings from under the worker. */
struct measure_job {
	struct svc *svc;
	struct sevd_measure_req req;
	char *strings[5];
	char **dirs;
	size_t n_dirs;
	struct svc_reply *reply;
	void (*complete)(void *userdata);
	void *userdata;
};

static void measure_job_free(struct measure_job *j)
{
	for (size_t i = 0; i < ARRAY_SIZE(j->strings); i++)
		free(j->strings[i]);
	for (size_t i = 0; i < j->n_dirs; i++)
		free(j->dirs[i]);
	free(j->dirs);
	free(j);
}

static void measure_work(void *arg)
{
	struct measure_job *j = arg;
	struct svc_reply *r = j->reply;
	struct sevd_measure_reply rep;
	char err[sizeof(r->detail)];
	int e = sevd_measure(j->svc->measure_cache, j->dirs, j->n_dirs, &j->req, &rep, err,
			     sizeof(err));
	if (e == -ENOENT || e == -EACCES) {
		svc_reply_error(r, SVC_E_NOT_FOUND, "%s", err);
	} else if (e == -ENOMEM || e == -EAGAIN) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s", err);
	} else if (e < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
	} else {
		struct svc_snp_measurement *o = &r->snp_measurement;
		memcpy(o->digest, rep.digest, rep.digest_len);
		o->digest_len = rep.digest_len;
		o->pages = rep.pages;
		o->elapsed_ns = rep.elapsed_ns;
		o->firmware_cached = rep.firmware_cached;
		o->kernel_cached = rep.kernel_cached;
		o->initrd_cached = rep.initrd_cached;
	}
}

static void measure_done(void *arg)
{
	struct measure_job *j = arg;
	j->complete(j->userdata);
	measure_job_free(j);
}

static int snp_measure_submit(struct svc *s, const struct svc_req *q, struct svc_reply *r,
			      void (*complete)(void *), void *userdata)
{
	const struct svc_snp_measure *m = &q->snp_measure;
	struct measure_job *j = calloc(1, sizeof(*j));
	if (!j)
		goto oom;
	*j = (struct measure_job){.svc = s, .reply = r, .complete = complete, .userdata = userdata};
	const char *src[5] = {m->firmware, m->kernel, m->initrd, m->svsm, m->cmdline};
	for (size_t i = 0; i < 5; i++)
		if (src[i] && !(j->strings[i] = strdup(src[i])))
			goto oom;
	j->dirs = calloc(s->config->n_image_dirs + 1, sizeof(*j->dirs));
	if (!j->dirs)
		goto oom;
	for (; j->n_dirs < s->config->n_image_dirs; j->n_dirs++)
		if (!(j->dirs[j->n_dirs] = strdup(s->config->image_dirs[j->n_dirs])))
			goto oom;
	j->req = (struct sevd_measure_req){
		.mode = m->mode, .firmware = j->strings[0], .kernel = j->strings[1],
		.initrd = j->strings[2], .svsm = j->strings[3], .cmdline = j->strings[4],
		.vcpus = m->vcpus, .vcpu_sig = m->vcpu_sig, .guest_features = m->guest_features,
		.vmm = m->vmm, .vars_size = m->vars_size,
	};
	int e = coco_workq_submit(s->measure_q, measure_work, measure_done, j);
	if (e == 0)
		return 0;
	measure_job_free(j);
	svc_reply_error(r, SVC_E_UNAVAILABLE, "%s",
		    e == -EAGAIN ? "too many measurements queued; retry shortly" : "out of memory");
	return 1;
oom:
	if (j)
		measure_job_free(j);
	svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
	return 1;
}

/* A slow document op on the work queue: req and reply belong to the API layer and stay valid
 * until complete() has run. */
struct doc_job {
	struct svc *svc;
	const struct svc_req *req;
	struct svc_reply *reply;
	void (*complete)(void *userdata);
	void *userdata;
};

static void doc_work(void *arg)
{
	struct doc_job *j = arg;
	svc_dispatch(j->svc, j->req, j->reply);
}

static void doc_done(void *arg)
{
	struct doc_job *j = arg;
	svc_snp_loop_sync(j->svc);
	j->complete(j->userdata);
	free(j);
}

static bool doc_is_slow(enum svc_op op)
{
	if (op < SVC_TDX_FIRST)
		return svc_snp_is_slow(op);
	if (op < SVC_ATTEST_FIRST)
		return svc_tdx_is_slow(op);
	if (op >= SVC_ATTEST_FIRST && op < SVC_GUEST_FIRST)
		return svc_attest_is_slow(op);
	if (op >= SVC_GUEST_FIRST)
		return svc_guest_is_slow(op);
	return false;
}

int svc_dispatch_async(void *ctx, const struct svc_req *req, struct svc_reply *reply,
		       void (*complete)(void *userdata), void *userdata)
{
	struct svc *s = ctx;
	reply->status = SVC_OK;
	reply->detail[0] = '\0';
	if (req->op == SVC_SNP_MEASURE)
		return snp_measure_submit(s, req, reply, complete, userdata);
	if (req->op == SVC_GUEST_CREATE)
		return svc_guest_submit(s, req, reply, complete, userdata);
	if (svc_op_is_doc(req->op) && doc_is_slow(req->op)) {
		struct doc_job *j = malloc(sizeof(*j));
		if (!j) {
			svc_reply_error(reply, SVC_E_UNAVAILABLE, "out of memory");
			return 1;
		}
		*j = (struct doc_job){s, req, reply, complete, userdata};
		int e = coco_workq_submit(s->work_q, doc_work, doc_done, j);
		if (e == 0)
			return 0;
		free(j);
		svc_reply_error(reply, SVC_E_UNAVAILABLE, "%s",
			    e == -EAGAIN ? "too much work queued; retry shortly" : "out of memory");
		return 1;
	}
	svc_dispatch(ctx, req, reply);
	return 1;
}

void svc_config_swap(struct svc *s, struct coco_config *nc)
{
	pthread_rwlock_wrlock(&s->config_lock);
	s->config = nc;
	pthread_rwlock_unlock(&s->config_lock);
}

int svc_start(struct svc *s, struct coco_loop *loop, char *err, size_t errlen)
{
	s->loop = loop;
	int r;
	if ((r = pthread_rwlock_init(&s->config_lock, NULL)) != 0) {
		snprintf(err, errlen, "config lock: %s", strerror(r));
		return -r;
	}
	s->config_lock_init = true;
	/* One worker: measurements run in order, off the loop, and own the measurement cache. */
	if ((r = coco_workq_new(loop, 1, 64, &s->measure_q)) < 0 ||
	    (r = coco_workq_new(loop, 2, 64, &s->work_q)) < 0) {
		snprintf(err, errlen, "work queue: %s", strerror(-r));
		return r;
	}
	if ((r = tdxd_gate_new(&s->tdx_gate)) < 0) {
		snprintf(err, errlen, "TD-launch gate: %s", strerror(-r));
		return r;
	}
	if ((r = svc_snp_start(s, err, errlen)) < 0 || (r = svc_attest_start(s, err, errlen)) < 0 ||
	    (r = svc_tdx_start(s, err, errlen)) < 0 || (r = svc_guest_start(s, err, errlen)) < 0)
		return r;
	return 0;
}

void svc_drain(struct svc *s)
{
	svc_snp_cancel(s); /* KDS retries must not hold shutdown up */
	if (s->measure_q)
		coco_workq_drain(s->measure_q);
	if (s->work_q)
		coco_workq_drain(s->work_q);
}

/* A key whose first request runs: a second request with it (same caller) waits for the
 * outcome instead of running the op twice. One list for the process, under idem_lock, which
 * also orders "look up the store, then claim" against "record, then release". */
struct svc_idem_claim {
	struct svc_idem_claim *next;
	const struct svc_req *q;
};
static pthread_mutex_t idem_lock = PTHREAD_MUTEX_INITIALIZER;

void svc_stop(struct svc *s)
{
	svc_guest_stop(s);
	svc_tdx_stop(s);
	svc_attest_stop(s);
	svc_snp_stop(s);
	coco_workq_free(s->work_q);
	coco_workq_free(s->measure_q);
	s->work_q = s->measure_q = NULL;
	tdxd_gate_free(s->tdx_gate);
	s->tdx_gate = NULL;
	while (s->idem_claims) { /* none once drained; freed regardless */
		struct svc_idem_claim *c = s->idem_claims;
		s->idem_claims = c->next;
		free(c);
	}
	if (s->config_lock_init)
		pthread_rwlock_destroy(&s->config_lock);
	s->config_lock_init = false;
}

static void dispatch_op(struct svc *s, const struct svc_req *req, struct svc_reply *reply);

void svc_dispatch(void *ctx, const struct svc_req *req, struct svc_reply *reply)
{
	dispatch_op(ctx, req, reply);
	svc_idem_release(ctx, req);
}

static void dispatch_op(struct svc *s, const struct svc_req *req, struct svc_reply *reply)
{
	reply->status = SVC_OK;
	reply->detail[0] = '\0';
	switch (req->op) {
	case SVC_HOST_GET: host_get(s, reply); return;
	case SVC_READY_GET: ready_get(s, reply); return;
	case SVC_OPERATION_GET: operation_get(s, req, reply); return;
	case SVC_RELOAD: reload(s, req, reply); return;
	case SVC_LOG_LEVEL_SET: log_level_set(s, req, reply); return;
	case SVC_SNP_PLATFORM_GET: snp_platform_get(s, reply); return;
	case SVC_TDX_MODULE_GET: tdx_module_get(s, reply); return;
	case SVC_SNP_CONFIG_SET:
	case SVC_SNP_COMMIT: snp_platform_change(s, req, reply); return;
	case SVC_SNP_MEASURE: break; /* slow: only through svc_dispatch_async */
	default:
		if (req->op >= SVC_DOC_FIRST && req->op < SVC_TDX_FIRST) {
			svc_snp_dispatch(s, req, reply);
			return;
		}
		if (req->op >= SVC_TDX_FIRST && req->op < SVC_ATTEST_FIRST) {
			svc_tdx_dispatch(s, req, reply);
			return;
		}
		if (req->op >= SVC_ATTEST_FIRST && req->op < SVC_GUEST_FIRST) {
			svc_attest_dispatch(s, req, reply);
			return;
		}
		if (req->op >= SVC_GUEST_FIRST && req->op <= SVC_DOC_LAST) {
			svc_guest_dispatch(s, req, reply);
			return;
		}
		break;
	}
	svc_reply_error(reply, SVC_E_INTERNAL, "unknown operation %d", (int)req->op);
}

/* ---- Idempotency-Key ---- */

/* SHA-256 over the op, the query and the body as received (JSON re-serialised as parsed). */
static void idem_hash(const struct svc_req *q, const char *op, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		memset(out, 0, 32);
		EVP_MD_CTX_free(c);
		return;
	}
	EVP_DigestUpdate(c, op, strlen(op) + 1);
	for (size_t i = 0; i < q->doc.n_args; i++) {
		EVP_DigestUpdate(c, q->doc.args[i].name, strlen(q->doc.args[i].name) + 1);
		EVP_DigestUpdate(c, q->doc.args[i].value, strlen(q->doc.args[i].value) + 1);
	}
	if (q->doc.json) {
		const char *j = json_object_to_json_string_ext(q->doc.json, JSON_C_TO_STRING_PLAIN);
		EVP_DigestUpdate(c, "J", 1);
		EVP_DigestUpdate(c, j, strlen(j));
	} else if (q->doc.bytes) {
		EVP_DigestUpdate(c, "B", 1);
		EVP_DigestUpdate(c, q->doc.bytes, q->doc.len);
	}
	EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
}

static bool same_key(const struct svc_req *a, const struct svc_req *b)
{
	return streq(a->doc.idempotency_key, b->doc.idempotency_key) &&
	       streq(a->actor ? a->actor : "", b->actor ? b->actor : "");
}

/* With idem_lock held. */
static void idem_unclaim(struct svc *s, const struct svc_req *q)
{
	for (struct svc_idem_claim **p = &s->idem_claims; *p; p = &(*p)->next)
		if ((*p)->q == q) {
			struct svc_idem_claim *c = *p;
			*p = c->next;
			free(c);
			return;
		}
}

void svc_idem_release(struct svc *s, const struct svc_req *q)
{
	if (!q->doc.idempotency_key[0])
		return;
	pthread_mutex_lock(&idem_lock);
	idem_unclaim(s, q);
	pthread_mutex_unlock(&idem_lock);
}

bool svc_idem_replay(struct svc *s, const struct svc_req *q, const char *op,
		     struct svc_reply *r)
{
	const char *key = q->doc.idempotency_key;
	if (!key[0])
		return false;
	pthread_mutex_lock(&idem_lock);
	for (struct svc_idem_claim *c = s->idem_claims; c; c = c->next)
		if (c->q != q && same_key(c->q, q)) {
			pthread_mutex_unlock(&idem_lock);
			svc_reply_error(r, SVC_E_CONFLICT,
					"a request with Idempotency-Key '%.80s' is still running; "
					"retry to get its reply",
					key);
			r->doc.retry_after = 1;
			return true;
		}
	struct coco_idem_record rec;
	int e = coco_store_idem_get(s->store, key, q->actor ? q->actor : "", &rec);
	if (e == -ENOENT) {
		struct svc_idem_claim *c = malloc(sizeof(*c));
		if (!c) {
			pthread_mutex_unlock(&idem_lock);
			svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
			return true;
		}
		*c = (struct svc_idem_claim){.next = s->idem_claims, .q = q};
		s->idem_claims = c;
		pthread_mutex_unlock(&idem_lock);
		return false;
	}
	pthread_mutex_unlock(&idem_lock);
	if (e < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "idempotency record: %s", strerror(-e));
		return true;
	}
	uint8_t h[32];
	idem_hash(q, op, h);
	if (!streq(rec.op, op) || memcmp(h, rec.request_sha256, 32) != 0) {
		svc_reply_error(r, SVC_E_INVALID,
				"Idempotency-Key '%.80s' was used for a different request; use a "
				"new key",
				key);
	} else {
		r->doc.json = rec.response ? json_tokener_parse(rec.response) : NULL;
		r->doc.http_status = (unsigned)rec.status;
		snprintf(r->doc.location, sizeof(r->doc.location), "%s", rec.location);
	}
	coco_idem_record_clear(&rec);
	return true;
}

void svc_idem_record(struct svc *s, const struct svc_req *q, const char *op,
		     const struct svc_reply *r)
{
	if (!q->doc.idempotency_key[0])
		return;
	if (r->status != SVC_OK) {
		svc_idem_release(s, q);
		return;
	}
	struct coco_idem_record rec = {.status = r->doc.http_status ? (int)r->doc.http_status : 200};
	snprintf(rec.key, sizeof(rec.key), "%s", q->doc.idempotency_key);
	snprintf(rec.actor, sizeof(rec.actor), "%s", q->actor ? q->actor : "");
	snprintf(rec.op, sizeof(rec.op), "%s", op);
	snprintf(rec.location, sizeof(rec.location), "%s", r->doc.location);
	idem_hash(q, op, rec.request_sha256);
	if (r->doc.json)
		rec.response = (char *)json_object_to_json_string_ext(r->doc.json,
								     JSON_C_TO_STRING_PLAIN);
	pthread_mutex_lock(&idem_lock);
	int e = coco_store_idem_put(s->store, &rec);
	idem_unclaim(s, q);
	pthread_mutex_unlock(&idem_lock);
	if (e < 0 && e != -EEXIST)
		log_warn("Idempotency-Key %s not recorded: %s", rec.key, strerror(-e));
}
