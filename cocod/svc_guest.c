/* cocod/svc_guest.c: confidential guests. POST /v1/guests computes the expected launch digest
 * (SNP, through the measurement service and its cache) or MRTD (TDX), records the guest and
 * launches it: on the emulated platform through hv/snp_launch / hv/tdx_launch, where the
 * firmware's own measurement must equal the expected one; on a native host through libvirt.
 * GET lists and shows, DELETE destroys; the evidence routes give a host-requested SNP report,
 * an emulated TD's TDREPORT and the reference values a relying party checks a report with.
 *
 * Restart: emulated guests live in this process, so a restart relaunches each guest that was
 * running (or launching) from its stored request, deterministically, and the firmware's
 * measurement must again equal the stored expected one (else the guest is marked failed with
 * the reason). Libvirt guests are looked up by UUID (= the guest id): running, stopped, or lost.
 *
 * Launches run on the measurement queue (one worker: it owns the measurement cache, whose
 * kernel/initrd hashes the SNP launch reuses); the restart relaunches run in svc_start, before
 * anything can be queued there. */
#include <pthread.h>

#include "cocod/guest_launch.h"
#include "cocod/svc.h"
#include "coco/log.h"
#include "coco/util.h"
#include "hv/sev.h"
#include "hv/snp_launch.h"
#include "hv/tdx_launch.h"
#include "sevd/certmgr.h"

struct guest_rt {
	char id[37];
	struct guest_handle h;
};

struct svc_guest {
	pthread_mutex_t lock; /* the emulated guests' handles */
	struct guest_rt *rt;
	size_t n;
	/* The libvirt connection (native guests), held between operations and serialized. */
	pthread_mutex_t lv_lock;
	struct hv_libvirt *lv;
	char *lv_uri;
};

/* One libvirt operation on the held connection to uri (NULL = qemu:///system): opened on first
 * use, reopened when the configured URI changed, and dropped after an I/O failure so that the
 * next operation reconnects (libvirtd restarted). test:/// URIs keep theirs: the test driver's
 * domains live only as long as a connection. */
struct lv_op {
	enum { LV_LAUNCH, LV_LOOKUP, LV_DESTROY } kind;
	const char *id;
	/* LV_LAUNCH */
	struct tdxd_gate *gate;
	char *const *dirs;
	size_t n_dirs;
	const struct guest_spec *sp;
	/* LV_LOOKUP */
	struct hv_libvirt_domain *dom;
};

static int with_libvirt(struct svc_guest *sg, const char *uri, const struct lv_op *op, char *err,
			size_t errlen)
{
	const char *u = uri ? uri : "qemu:///system";
	bool test = strncmp(u, "test:", 5) == 0;
	int r = 0;
	pthread_mutex_lock(&sg->lv_lock);
	if (sg->lv && !streq(sg->lv_uri, u)) {
		hv_libvirt_close(sg->lv);
		free(sg->lv_uri);
		sg->lv = NULL;
		sg->lv_uri = NULL;
	}
	if (!sg->lv && (r = hv_libvirt_open(u, &sg->lv, err, errlen)) == 0 &&
	    !(sg->lv_uri = strdup(u))) {
		hv_libvirt_close(sg->lv);
		sg->lv = NULL;
		r = set_error(err, errlen, -ENOMEM, "out of memory");
	}
	if (r == 0) {
		switch (op->kind) {
		case LV_LAUNCH:
			r = guest_launch_libvirt(sg->lv, test, op->gate, op->dirs, op->n_dirs,
						 op->sp, op->id, err, errlen);
			break;
		case LV_LOOKUP: r = hv_libvirt_lookup(sg->lv, op->id, op->dom, err, errlen); break;
		case LV_DESTROY: r = hv_libvirt_destroy(sg->lv, op->id, err, errlen); break;
		}
		if (r == -EIO && !test) {
			hv_libvirt_close(sg->lv);
			free(sg->lv_uri);
			sg->lv = NULL;
			sg->lv_uri = NULL;
		}
	}
	pthread_mutex_unlock(&sg->lv_lock);
	return r;
}

static int rt_add(struct svc_guest *sg, const char *id, struct guest_handle *h)
{
	pthread_mutex_lock(&sg->lock);
	struct guest_rt *v = realloc(sg->rt, (sg->n + 1) * sizeof(*v));
	if (v) {
		sg->rt = v;
		snprintf(v[sg->n].id, sizeof(v[sg->n].id), "%s", id);
		v[sg->n++].h = *h;
	}
	pthread_mutex_unlock(&sg->lock);
	return v ? 0 : -ENOMEM;
}

/* With the lock held: the guest's handles, or NULL. */
static struct guest_handle *rt_find(struct svc_guest *sg, const char *id)
{
	for (size_t i = 0; i < sg->n; i++)
		if (streq(sg->rt[i].id, id))
			return &sg->rt[i].h;
	return NULL;
}

static void rt_remove(struct svc_guest *sg, const char *id)
{
	pthread_mutex_lock(&sg->lock);
	for (size_t i = 0; i < sg->n; i++)
		if (streq(sg->rt[i].id, id)) {
			guest_handle_free(&sg->rt[i].h);
			sg->rt[i] = sg->rt[--sg->n];
			break;
		}
	pthread_mutex_unlock(&sg->lock);
}

static bool emulated(struct svc *s)
{
	return hv_platform_kind(s->platform) == COCO_PLATFORM_EMULATED;
}

/* --- JSON --- */

static json_object *guest_json(const struct coco_guest *g)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(g->id));
	json_object_object_add(o, "name", json_object_new_string(g->name));
	json_object_object_add(o, "tee", json_object_new_string(g->tee));
	json_object_object_add(o, "backend", json_object_new_string(g->backend));
	json_object_object_add(o, "state", json_object_new_string(coco_guest_state_name(g->state)));
	if (g->detail)
		json_object_object_add(o, "detail", json_object_new_string(g->detail));
	json_object_object_add(o, streq(g->tee, "snp") ? "expected_measurement" : "expected_mrtd",
			       json_object_new_string(g->expected));
	json_object_object_add(o, "created", json_object_new_int64(g->created));
	json_object_object_add(o, "launched",
			       g->launched ? json_object_new_int64(g->launched) : NULL);
	if (streq(g->tee, "snp"))
		json_object_object_add(o, "platform_tcb", svc_tcb_json(g->platform_tcb));
	json_object_object_add(o, "request", json_tokener_parse(g->request));
	return o;
}

/* --- create --- */

static void reply_create_error(struct svc_reply *r, int e, const char *msg)
{
	if (e == -ETIMEDOUT) {
		svc_reply_error(r, SVC_E_CONFLICT, "%s; retry later", msg);
		r->doc.retry_after = GUEST_GATE_RETRY_AFTER_S;
	} else if (e == -ENXIO) {
		svc_reply_error(r, SVC_E_CONFLICT, "%s", msg);
	} else if (e == -ENOMEM || e == -EAGAIN) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s", msg);
	} else if (e == -EIO) {
		svc_reply_error(r, SVC_E_FIRMWARE, "%s", msg);
	} else {
		svc_reply_error(r, SVC_E_INTERNAL, "%s", msg);
	}
}

/* Launch a recorded guest (journaled as an operation before and after). */
static int launch(struct svc *s, char *const *dirs, size_t n_dirs, const char *uri,
		  const struct coco_guest *g, const struct guest_spec *sp, const uint8_t exp[48],
		  const char *actor, char *err, size_t errlen)
{
	char op[37] = "", what[192];
	snprintf(what, sizeof(what), "launch %s %s (%s, %s)", g->id, g->name, g->tee, g->backend);
	if (coco_store_op_create(s->store, "guest.launch", op) == 0)
		coco_store_op_update(s->store, op, COCO_OP_RUNNING, 0, what, NULL);
	struct guest_handle h = {0};
	int e = streq(g->backend, "emulated")
			? guest_launch_emulated(s->platform, s->tdx_gate, s->measure_cache, dirs,
						n_dirs, sp, exp, &h, err, errlen)
			: with_libvirt(s->guest, uri,
				       &(struct lv_op){.kind = LV_LAUNCH, .id = g->id,
						       .gate = s->tdx_gate, .dirs = dirs,
						       .n_dirs = n_dirs, .sp = sp},
				       err, errlen);
	if (e == 0 && (h.snp || h.tdx) && (e = rt_add(s->guest, g->id, &h)) < 0) {
		guest_handle_free(&h);
		set_error(err, errlen, e, "out of memory");
	}
	if (op[0])
		coco_store_op_update(s->store, op, e ? COCO_OP_FAILED : COCO_OP_SUCCEEDED, 100,
				     e ? err : what, NULL);
	if (e) {
		log_err("guest %s (%s): launch failed: %s", g->name, g->id, err);
		coco_store_audit(s->store, actor, "guest.launch.failed", err);
	} else {
		log_notice("guest %s (%s, %s, %s) launched by %s", g->name, g->id, g->tee,
			   g->backend, actor);
		coco_store_audit(s->store, actor, "guest.launch", what);
	}
	return e;
}

static void guest_create(struct svc *s, char *const *dirs, size_t n_dirs, const char *uri,
			 const struct svc_req *q, struct svc_reply *r)
{
	char err[sizeof(r->detail) - 64] = "";
	struct guest_spec sp;
	if (guest_spec_parse(q->doc.json, &sp, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", err);
		return;
	}
	/* A control plane retrying a launch whose reply it lost gets that reply again. */
	if (svc_idem_replay(s, q, "guest.create", r)) {
		guest_spec_clear(&sp);
		return;
	}
	uint8_t exp[48];
	uint64_t t0 = now_ns();
	int e = guest_expected(s->measure_cache, dirs, n_dirs, &sp, exp, err, sizeof(err));
	uint64_t t1 = now_ns();
	if (e < 0) {
		svc_reply_error(r, e == -ENOMEM ? SVC_E_UNAVAILABLE : SVC_E_INVALID, "%s", err);
		guest_spec_clear(&sp);
		return;
	}
	struct coco_guest g = {.tee = "snp", .backend = "emulated", .state = COCO_GUEST_LAUNCHING,
			       .created = now_unix()};
	snprintf(g.name, sizeof(g.name), "%s", sp.name);
	if (sp.tee == HV_TEE_TDX)
		memcpy(g.tee, "tdx", 4);
	if (!emulated(s))
		snprintf(g.backend, sizeof(g.backend), "libvirt");
	hex_encode(exp, 48, g.expected);
	if (sp.tee == HV_TEE_SNP && guest_platform_tcb(s->platform, &g.platform_tcb) < 0)
		g.platform_tcb = 0; /* no SNP firmware to ask: the launch says why */
	g.request = (char *)json_object_to_json_string_ext(q->doc.json, JSON_C_TO_STRING_PLAIN);
	if ((e = uuid_v4(g.id)) < 0 || (e = coco_store_guest_put(s->store, &g)) < 0) {
		if (e == -EEXIST)
			svc_reply_error(r, SVC_E_CONFLICT, "a guest named '%s' exists", g.name);
		else
			svc_reply_error(r, SVC_E_INTERNAL, "state store: %s", strerror(-e));
		guest_spec_clear(&sp);
		return;
	}
	e = launch(s, dirs, n_dirs, uri, &g, &sp, exp, q->actor, err, sizeof(err));
	uint64_t t2 = now_ns();
	guest_spec_clear(&sp);
	if (e == -ETIMEDOUT || e == -ENXIO) {
		/* Nothing was built: the gate refused before TDH.MNG.CREATE. */
		coco_store_guest_delete(s->store, g.id);
		reply_create_error(r, e, err);
		return;
	}
	if (e < 0) {
		coco_store_guest_set_state(s->store, g.id, COCO_GUEST_FAILED, err, 0);
		reply_create_error(r, e, err);
		return;
	}
	g.launched = now_unix();
	g.state = COCO_GUEST_RUNNING;
	coco_store_guest_set_state(s->store, g.id, COCO_GUEST_RUNNING, NULL, g.launched);
	json_object *o = guest_json(&g), *t = json_object_new_object();
	json_object_object_add(t, "measure_ns", json_object_new_int64((int64_t)(t1 - t0)));
	json_object_object_add(t, "launch_ns", json_object_new_int64((int64_t)(t2 - t1)));
	json_object_object_add(o, "timing", t);
	r->doc.json = o;
	r->doc.http_status = 201;
	snprintf(r->doc.location, sizeof(r->doc.location), "/v1/guests/%s", g.id);
	svc_idem_record(s, q, "guest.create", r);
}

/* A launch job: the configuration it reads is copied (a reload cannot pull it away). */
struct create_job {
	struct svc *svc;
	const struct svc_req *req;
	struct svc_reply *reply;
	char **dirs;
	size_t n_dirs;
	char *uri;
	void (*complete)(void *userdata);
	void *userdata;
};

static void create_job_free(struct create_job *j)
{
	for (size_t i = 0; i < j->n_dirs; i++)
		free(j->dirs[i]);
	free(j->dirs);
	free(j->uri);
	free(j);
}

static void create_work(void *arg)
{
	struct create_job *j = arg;
	guest_create(j->svc, j->dirs, j->n_dirs, j->uri, j->req, j->reply);
	svc_idem_release(j->svc, j->req);
}

static void create_done(void *arg)
{
	struct create_job *j = arg;
	j->complete(j->userdata);
	create_job_free(j);
}

int svc_guest_submit(struct svc *s, const struct svc_req *q, struct svc_reply *r,
		     void (*complete)(void *), void *userdata)
{
	const struct coco_config *c = s->config;
	struct create_job *j = calloc(1, sizeof(*j));
	if (!j)
		goto oom;
	*j = (struct create_job){.svc = s, .req = q, .reply = r, .complete = complete,
				 .userdata = userdata};
	if (!(j->dirs = calloc(c->n_image_dirs + 1, sizeof(*j->dirs))) ||
	    (c->libvirt_uri && !(j->uri = strdup(c->libvirt_uri))))
		goto oom;
	for (; j->n_dirs < c->n_image_dirs; j->n_dirs++)
		if (!(j->dirs[j->n_dirs] = strdup(c->image_dirs[j->n_dirs])))
			goto oom;
	int e = coco_workq_submit(s->measure_q, create_work, create_done, j);
	if (e == 0)
		return 0;
	create_job_free(j);
	svc_reply_error(r, SVC_E_UNAVAILABLE, "%s",
			e == -EAGAIN ? "too many launches queued; retry shortly" : "out of memory");
	return 1;
oom:
	if (j)
		create_job_free(j);
	svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
	return 1;
}

/* --- list, show, delete --- */

static int get_guest(struct svc *s, const char *id, struct coco_guest *g, struct svc_reply *r)
{
	int e = id ? coco_store_guest_get(s->store, id, g) : -ENOENT;
	if (e == -ENOENT)
		svc_reply_error(r, SVC_E_NOT_FOUND, "no guest %s", id ? id : "(none given)");
	else if (e < 0)
		svc_reply_error(r, SVC_E_INTERNAL, "state store: %s", strerror(-e));
	return e;
}

static void guest_list(struct svc *s, struct svc_reply *r)
{
	struct coco_guest *v;
	size_t n;
	int e = coco_store_guest_list(s->store, &v, &n);
	if (e < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "state store: %s", strerror(-e));
		return;
	}
	json_object *a = json_object_new_array(), *o = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, guest_json(&v[i]));
	coco_guests_free(v, n);
	json_object_object_add(o, "guests", a);
	r->doc.json = o;
}

static void guest_get(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct coco_guest g;
	if (get_guest(s, q->doc.id, &g, r) < 0)
		return;
	r->doc.json = guest_json(&g);
	coco_guest_clear(&g);
}

static void guest_delete(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct coco_guest g;
	if (get_guest(s, q->doc.id, &g, r) < 0)
		return;
	char err[256] = "";
	int e = 0;
	if (streq(g.backend, "emulated")) {
		rt_remove(s->guest, g.id);
	} else {
		e = with_libvirt(s->guest, s->config->libvirt_uri,
				 &(struct lv_op){.kind = LV_DESTROY, .id = g.id}, err, sizeof(err));
		if (e == -ENOENT)
			e = 0; /* already gone from libvirt */
	}
	if (e < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "libvirt: %s", err);
	} else if ((e = coco_store_guest_delete(s->store, g.id)) < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "state store: %s", strerror(-e));
	} else {
		char what[128];
		snprintf(what, sizeof(what), "%s %s", g.id, g.name);
		coco_store_audit(s->store, q->actor, "guest.destroy", what);
		log_notice("guest %s (%s) destroyed by %s", g.name, g.id, q->actor);
		r->doc.http_status = 204;
		r->doc.bytes = NULL;
	}
	coco_guest_clear(&g);
}

/* --- evidence --- */

/* report_data from the query: 128 hex digits, or absent (zeros). */
static int report_data_arg(const struct svc_req *q, uint8_t rd[64], struct svc_reply *r)
{
	const char *v = svc_doc_arg(&q->doc, "report_data");
	memset(rd, 0, 64);
	if (v && hex_decode_exact(v, rd, 64) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "report_data: 128 hex digits");
		return -EINVAL;
	}
	return 0;
}

/* The running emulated guest of this TEE, with the handles' lock taken; NULL with the reply
 * filled (the lock not held). */
static struct guest_handle *running_guest(struct svc *s, const char *id, const char *tee,
					  struct svc_reply *r)
{
	struct coco_guest g;
	if (get_guest(s, id, &g, r) < 0)
		return NULL;
	struct guest_handle *h = NULL;
	if (!streq(g.tee, tee)) {
		svc_reply_error(r, SVC_E_INVALID, "guest %s is a%s guest", g.id,
				streq(g.tee, "snp") ? "n SEV-SNP" : " TDX");
	} else if (!streq(g.backend, "emulated")) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED,
				streq(tee, "snp")
				    ? "SNP_HV_REPORT_REQ: the kernel does not expose it to userspace "
				      "(no KVM ioctl for host-requested reports); use the guest's own "
				      "report"
				    : "the host cannot read a TD's TDREPORT (TDG.MR.REPORT is a guest "
				      "call); use the guest's quote");
	} else {
		pthread_mutex_lock(&s->guest->lock);
		h = rt_find(s->guest, g.id);
		if (!h) {
			pthread_mutex_unlock(&s->guest->lock);
			svc_reply_error(r, SVC_E_CONFLICT, "guest %s is %s, not running", g.id,
					coco_guest_state_name(g.state));
		}
	}
	coco_guest_clear(&g);
	return h;
}

static void report_reply(struct svc_reply *r, const char *id, const char *key, const uint8_t *b,
			 size_t n)
{
	json_object *o = json_object_new_object();
	char *b64 = base64_encode(b, n);
	json_object_object_add(o, "guest", json_object_new_string(id));
	json_object_object_add(o, key, b64 ? json_object_new_string(b64) : NULL);
	free(b64);
	r->doc.json = o;
}

static void snp_host_report(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	uint8_t rd[64], zero[64] = {0};
	const char *id = svc_doc_arg(&q->doc, "guest");
	if (!id) {
		svc_reply_error(r, SVC_E_INVALID, "guest: the query parameter is required");
		return;
	}
	if (report_data_arg(q, rd, r) < 0)
		return;
	if (memcmp(rd, zero, 64)) {
		svc_reply_error(r, SVC_E_INVALID,
				"report_data: SNP_HV_REPORT_REQ carries none (the firmware zeroes "
				"REPORT_DATA in host-requested reports); only zeros are accepted");
		return;
	}
	struct guest_handle *h = running_guest(s, id, "snp", r);
	if (!h)
		return;
	uint8_t rep[HV_SNP_REPORT_SIZE];
	uint32_t fw = 0;
	char err[256];
	int e = hv_platform_snp_hv_report(s->platform, hv_snp_guest_vm_fd(h->snp), rep, &fw, err,
					  sizeof(err));
	pthread_mutex_unlock(&s->guest->lock);
	if (e == -EOPNOTSUPP)
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s", err);
	else if (e < 0)
		svc_reply_sev_error(r, "SNP_HV_REPORT_REQ", 0, e, fw);
	else
		report_reply(r, id, "report", rep, sizeof(rep));
}

static void tdx_report(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	uint8_t rd[64];
	if (report_data_arg(q, rd, r) < 0)
		return;
	struct guest_handle *h = running_guest(s, q->doc.id, "tdx", r);
	if (!h)
		return;
	uint8_t rep[HV_TDREPORT_SIZE];
	int e = hv_tdx_guest_report(h->tdx, rd, rep);
	pthread_mutex_unlock(&s->guest->lock);
	if (e < 0)
		svc_reply_error(r, e == -EOPNOTSUPP ? SVC_E_NOT_SUPPORTED : SVC_E_UNAVAILABLE,
				"TDREPORT: %s", strerror(-e));
	else
		report_reply(r, q->doc.id, "tdreport", rep, sizeof(rep));
}

/* The chain for reports signed on this platform at the guest's launch TCB, from the cache. */
static json_object *snp_chain_json(struct svc *s, uint64_t tcb, json_object **ret_missing)
{
	struct certmgr_platform plat = {.product = hv_platform_snp_product(s->platform),
					.reported_tcb = tcb};
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(s->platform, false, &eno);
	struct hv_snp_status st;
	uint32_t fw;
	if (sev && hv_sev_snp_platform_status(sev, &st, &fw) == 0)
		plat.vlek = st.vlek_en;
	plat.chip_id_known = sev && hv_sev_get_id(sev, plat.chip_id, &fw) == 0;
	json_object *certs = json_object_new_object(), *missing = json_object_new_array();
	const char *product = snp_product_name(plat.product);
	struct coco_cert_key keys[3] = {{.kind = plat.vlek ? COCO_CERT_ASVK : COCO_CERT_ASK},
					{.kind = COCO_CERT_ARK}};
	bool keyed = product && plat.chip_id_known && certmgr_vek_key(&plat, &keys[2]) == 0;
	const char *names[3] = {plat.vlek ? "asvk" : "ask", "ark", plat.vlek ? "vlek" : "vcek"};
	for (size_t i = 0; i < 3; i++) {
		struct coco_cert_record rec;
		if (product && i < 2)
			snprintf(keys[i].product, sizeof(keys[i].product), "%s", product);
		if (!product || (i == 2 && !keyed) ||
		    coco_store_cert_get(s->store, &keys[i], &rec) < 0) {
			json_object_array_add(missing, json_object_new_string(names[i]));
			continue;
		}
		char *b64 = base64_encode(rec.der, rec.der_len);
		json_object_object_add(certs, names[i], b64 ? json_object_new_string(b64) : NULL);
		free(b64);
		coco_cert_record_clear(&rec);
	}
	*ret_missing = missing;
	return certs;
}

static void reference_values(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct coco_guest g;
	if (get_guest(s, q->doc.id, &g, r) < 0)
		return;
	json_object *req = json_tokener_parse(g.request);
	json_object *o = json_object_new_object(), *pol = json_object_new_object();
	json_object_object_add(o, "guest", json_object_new_string(g.id));
	json_object_object_add(o, "tee", json_object_new_string(g.tee));
	json_object_object_add(o, "state", json_object_new_string(coco_guest_state_name(g.state)));
	bool snp = streq(g.tee, "snp");
	json_object_object_add(o, snp ? "measurement" : "mrtd", json_object_new_string(g.expected));
	json_object_object_add(pol, snp ? "measurement" : "mrtd",
			       json_object_new_string(g.expected));
	struct guest_spec sp;
	char err[128];
	if (guest_spec_parse(req, &sp, err, sizeof(err)) == 0) {
		json_object_object_add(o, snp ? "policy" : "attributes", svc_tcb_json(sp.policy));
		if (snp) {
			json_object_object_add(o, "host_data",
					       sp.has_host_data ? svc_hex_json(sp.host_data, 32) : NULL);
			if (sp.has_host_data)
				json_object_object_add(pol, "host_data", svc_hex_json(sp.host_data, 32));
			json_object_object_add(pol, "forbid_debug",
					       json_object_new_boolean(!(sp.policy & (1ull << 19))));
		} else {
			json_object_object_add(o, "mrconfigid",
					       svc_hex_json(sp.mrconfigid, 48));
			json_object_object_add(o, "mrowner", svc_hex_json(sp.mrowner, 48));
			json_object_object_add(o, "mrownerconfig", svc_hex_json(sp.mrownerconfig, 48));
		}
		guest_spec_clear(&sp);
	}
	if (snp) {
		json_object *missing;
		json_object_object_add(o, "platform_tcb", svc_tcb_json(g.platform_tcb));
		const char *prod = snp_product_name(hv_platform_snp_product(s->platform));
		json_object_object_add(o, "product", prod ? json_object_new_string(prod) : NULL);
		json_object_object_add(o, "certs", snp_chain_json(s, g.platform_tcb, &missing));
		json_object_object_add(o, "certs_missing", missing);
		/* What POST /v1/attestation/verify takes as "policy" for this guest's reports. */
		json_object_object_add(o, "verify_policy", pol);
	} else {
		json_object_object_add(o, "verify_reference", pol);
	}
	json_object_put(req);
	coco_guest_clear(&g);
	r->doc.json = o;
}

/* --- area --- */

/* Bring the recorded guests back in line with what runs (see the file comment). */
static void reconcile(struct svc *s)
{
	struct coco_guest *v;
	size_t n;
	int e = coco_store_guest_list(s->store, &v, &n);
	if (e < 0) {
		log_err("guests: cannot list the recorded guests: %s", strerror(-e));
		return;
	}
	char err[384];
	for (size_t i = 0; i < n; i++) {
		struct coco_guest *g = &v[i];
		if (g->state != COCO_GUEST_RUNNING && g->state != COCO_GUEST_LAUNCHING)
			continue;
		if (streq(g->backend, "libvirt")) {
			struct hv_libvirt_domain d;
			e = with_libvirt(s->guest, s->config->libvirt_uri,
					 &(struct lv_op){.kind = LV_LOOKUP, .id = g->id, .dom = &d}, err,
					 sizeof(err));
			if (e < 0 && e != -ENOENT) {
				log_warn("guests: libvirt: %s; the state of %s is kept", err, g->name);
				continue;
			}
			if (e == -ENOENT)
				coco_store_guest_set_state(s->store, g->id, COCO_GUEST_LOST,
							   "libvirt has no such domain", 0);
			else if (e == 0 && d.state != HV_DOMAIN_RUNNING)
				coco_store_guest_set_state(s->store, g->id, COCO_GUEST_STOPPED,
							   hv_domain_state_name(d.state), 0);
			else if (e == 0)
				coco_store_guest_set_state(s->store, g->id, COCO_GUEST_RUNNING, NULL, 0);
			continue;
		}
		if (!emulated(s)) {
			coco_store_guest_set_state(s->store, g->id, COCO_GUEST_STOPPED,
						   "emulated guest on a native platform", 0);
			continue;
		}
		struct guest_spec sp;
		uint8_t exp[48];
		json_object *req = json_tokener_parse(g->request);
		e = hex_decode_exact(g->expected, exp, 48) < 0
			? set_error(err, sizeof(err), -EINVAL, "stored measurement unreadable")
			: guest_spec_parse(req, &sp, err, sizeof(err));
		if (e == 0) {
			e = launch(s, s->config->image_dirs, s->config->n_image_dirs, NULL, g, &sp,
				   exp, "cocod", err, sizeof(err));
			guest_spec_clear(&sp);
		}
		json_object_put(req);
		if (e == 0) {
			coco_store_guest_set_state(s->store, g->id, COCO_GUEST_RUNNING, NULL,
						   now_unix());
			log_info("guest %s (%s) relaunched after restart", g->name, g->id);
		} else {
			char why[sizeof(err) + 32];
			snprintf(why, sizeof(why), "relaunch after restart: %s", err);
			coco_store_guest_set_state(s->store, g->id, COCO_GUEST_FAILED, why, 0);
		}
	}
	coco_guests_free(v, n);
}

int svc_guest_start(struct svc *s, char *err, size_t errlen)
{
	struct svc_guest *sg = calloc(1, sizeof(*sg));
	if (!sg)
		return set_error(err, errlen, -ENOMEM, "guests: out of memory");
	pthread_mutex_init(&sg->lock, NULL);
	pthread_mutex_init(&sg->lv_lock, NULL);
	s->guest = sg;
	reconcile(s);
	return 0;
}

void svc_guest_stop(struct svc *s)
{
	struct svc_guest *sg = s->guest;
	if (!sg)
		return;
	for (size_t i = 0; i < sg->n; i++)
		guest_handle_free(&sg->rt[i].h);
	free(sg->rt);
	hv_libvirt_close(sg->lv);
	free(sg->lv_uri);
	pthread_mutex_destroy(&sg->lock);
	pthread_mutex_destroy(&sg->lv_lock);
	free(sg);
	s->guest = NULL;
}

bool svc_guest_is_slow(enum svc_op op)
{
	return op == SVC_GUEST_DELETE || op == SVC_SNP_HOST_REPORT || op == SVC_GUEST_TDREPORT;
}

void svc_guest_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	switch (q->op) {
	case SVC_GUEST_CREATE:
		guest_create(s, s->config->image_dirs, s->config->n_image_dirs,
			     s->config->libvirt_uri, q, r);
		svc_idem_release(s, q);
		return;
	case SVC_GUEST_LIST: guest_list(s, r); return;
	case SVC_GUEST_GET: guest_get(s, q, r); return;
	case SVC_GUEST_DELETE: guest_delete(s, q, r); return;
	case SVC_GUEST_REFERENCE: reference_values(s, q, r); return;
	case SVC_GUEST_TDREPORT: tdx_report(s, q, r); return;
	case SVC_SNP_HOST_REPORT: snp_host_report(s, q, r); return;
	default: break;
	}
	svc_reply_error(r, SVC_E_INTERNAL, "unknown guest operation %d", (int)q->op);
}
