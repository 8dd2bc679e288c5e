/* The REST routes: each handler turns an HTTP request into one typed dispatch request and
 * renders the typed reply. Every path here must appear in api/openapi.yaml (tested). */
#include <ctype.h>

#include "api/http.h"
#include "api/routes.h"
#include "attest/snp_report.h"
#include "coco/snp/product.h"
#include "coco/util.h"

static void dispatch(const struct api_env *env, const struct api_request *rq,
		     struct svc_req *req, struct svc_reply *reply)
{
	req->role = rq->role;
	req->actor = rq->actor;
	memset(reply, 0, sizeof(*reply));
	env->dispatch(env->dispatch_ctx, req, reply);
}

static void get_healthz(const struct api_env *env, struct api_request *rq,
			struct api_response *rs)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ok"));
	api_response_json(rs, 200, o);
}

static void get_readyz(const struct api_env *env, struct api_request *rq,
		       struct api_response *rs)
{
	struct svc_req req = {.op = SVC_READY_GET};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	if (!reply.ready.ready) {
		api_problem(rs, 503, "not-ready", "Not ready", "%s", reply.ready.reason);
		api_response_header(rs, "Retry-After", "1");
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ready"));
	api_response_json(rs, 200, o);
}

static void get_metrics(const struct api_env *env, struct api_request *rq,
			struct api_response *rs)
{
	char *buf;
	size_t len;
	if (env->render_metrics(env->server, &buf, &len) < 0) {
		api_problem(rs, 500, "internal", "Internal error", "cannot render metrics");
		return;
	}
	/* Platform gauges from the (cached) probe: what an alert on a lost TDX module or an
	 * exhausted update budget needs. */
	struct svc_req req = {.op = SVC_HOST_GET};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status == SVC_OK) {
		const struct svc_host *h = &reply.host;
		char extra[1024];
		int n = snprintf(
			extra, sizeof(extra),
			"# HELP cocod_tee_available Guest type this host can run now.\n"
			"# TYPE cocod_tee_available gauge\n"
			"cocod_tee_available{tee=\"snp\"} %d\n"
			"cocod_tee_available{tee=\"tdx\"} %d\n"
			"# HELP cocod_tdx_module_lost 1 when the TDX module is gone after a failed "
			"update: reboot required.\n"
			"# TYPE cocod_tdx_module_lost gauge\n"
			"cocod_tdx_module_lost %d\n",
			h->snp_available, h->tdx_available,
			h->tdx_host && strncmp(h->tdx_module_error, "tdx-lost", 8) == 0);
		if (h->tdx_remaining_updates >= 0 && n > 0 && (size_t)n < sizeof(extra))
			n += snprintf(extra + n, sizeof(extra) - (size_t)n,
				      "# HELP cocod_tdx_remaining_updates Runtime TDX module updates "
				      "left before a reboot.\n"
				      "# TYPE cocod_tdx_remaining_updates gauge\n"
				      "cocod_tdx_remaining_updates %ld\n",
				      h->tdx_remaining_updates);
		char *nb = n > 0 && (size_t)n < sizeof(extra) ? realloc(buf, len + (size_t)n + 1)
							       : NULL;
		if (nb) {
			memcpy(nb + len, extra, (size_t)n + 1);
			buf = nb;
			len += (size_t)n;
		}
	}
	api_response_clear(rs);
	rs->status = 200;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	rs->body = buf;
	rs->body_len = len;
}

static void get_openapi(const struct api_env *env, struct api_request *rq,
			struct api_response *rs)
{
	api_response_clear(rs);
	rs->status = 200;
	rs->content_type = "application/yaml";
	rs->body = (char *)env->openapi;
	rs->body_len = env->openapi_len;
	rs->body_static = true;
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *host_to_json(const struct svc_host *h)
{
	json_object *o = json_object_new_object(), *sev = json_object_new_object(),
		    *kvm = json_object_new_object(), *tdx = json_object_new_object(),
		    *tees = json_object_new_array(), *types = json_object_new_array();
	json_object_object_add(o, "platform", json_object_new_string(h->platform));
	json_object_object_add(o, "version", json_object_new_string(h->version));
	json_object_object_add(o, "commit", json_object_new_string(h->commit));
	json_object_object_add(o, "started", json_object_new_int64(h->started));
	if (h->snp_available)
		json_object_array_add(tees, json_object_new_string("snp"));
	if (h->tdx_available)
		json_object_array_add(tees, json_object_new_string("tdx"));
	json_object_object_add(o, "tees", tees);

	json_object_object_add(sev, "device", json_object_new_boolean(h->sev_device));
	json_object_object_add(sev, "error", str_or_null(h->sev_error));
	json_object_object_add(sev, "snp", json_object_new_boolean(h->snp_available));
	json_object_object_add(o, "sev", sev);

	json_object_object_add(kvm, "device", json_object_new_boolean(h->kvm_device));
	json_object_object_add(kvm, "error", str_or_null(h->kvm_error));
	static const char *const type_names[] = {"default", "sw_protected", "sev", "sev_es",
						 "snp", "tdx"};
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (h->kvm_vm_types_known && (h->kvm_vm_types & (1ull << i)))
			json_object_array_add(types, json_object_new_string(type_names[i]));
	json_object_object_add(kvm, "vm_types", h->kvm_vm_types_known ? types : NULL);
	if (!h->kvm_vm_types_known)
		json_object_put(types);
	json_object_object_add(o, "kvm", kvm);

	json_object_object_add(tdx, "host", json_object_new_boolean(h->tdx_host));
	json_object_object_add(tdx, "available", json_object_new_boolean(h->tdx_available));
	json_object_object_add(tdx, "module_version", str_or_null(h->tdx_module_version));
	json_object_object_add(tdx, "module_error", str_or_null(h->tdx_module_error));
	json_object_object_add(tdx, "seamldr_version", str_or_null(h->tdx_seamldr_version));
	json_object_object_add(tdx, "remaining_updates",
			       h->tdx_remaining_updates >= 0
				       ? json_object_new_int64(h->tdx_remaining_updates)
				       : NULL);
	json_object_object_add(tdx, "update_interface",
			       json_object_new_boolean(h->tdx_update_interface));
	json_object_object_add(o, "tdx", tdx);
	return o;
}

static void get_host(const struct api_env *env, struct api_request *rq, struct api_response *rs)
{
	struct svc_req req = {.op = SVC_HOST_GET};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	api_response_json(rs, 200, host_to_json(&reply.host));
}

/* A TCB_VERSION: the raw value and its components in the product's layout (null when the
 * product is unknown or the value does not fit the layout). */
static json_object *tcb_to_json(const char *product, uint64_t v)
{
	enum snp_product p;
	if (!product || snp_product_from_name(product, &p) < 0)
		p = SNP_PRODUCT_UNKNOWN;
	return snp_tcb_json(p, v);
}

json_object *api_snp_platform_json(const struct svc_snp_platform *p)
{
	json_object *o = json_object_new_object(), *fw = json_object_new_object(),
		    *cfg = json_object_new_object(), *tcb = json_object_new_object();
	json_object_object_add(o, "backend", json_object_new_string(p->backend));
	json_object_object_add(o, "product", str_or_null(p->product));
	char api[16], build[32];
	snprintf(api, sizeof(api), "%u.%u", p->api_major, p->api_minor);
	snprintf(build, sizeof(build), "%u.%u.%u", p->api_major, p->api_minor, p->build_id);
	json_object_object_add(fw, "api_version", json_object_new_string(api));
	json_object_object_add(fw, "build_id", json_object_new_int64(p->build_id));
	json_object_object_add(fw, "version", json_object_new_string(build));
	json_object_object_add(o, "firmware", fw);
	json_object_object_add(o, "state",
			       json_object_new_string(p->state == 1 ? "init" : p->state == 0
										? "uninit"
										: "unknown"));
	json_object_object_add(o, "rmp_initialized", json_object_new_boolean(p->rmp_initialized));
	json_object_object_add(o, "guest_count", json_object_new_int64(p->guest_count));
	json_object_object_add(o, "vlek_loaded", json_object_new_boolean(p->vlek_loaded));
	json_object_object_add(cfg, "mask_chip_id", json_object_new_boolean(p->mask_chip_id));
	json_object_object_add(cfg, "mask_chip_key", json_object_new_boolean(p->mask_chip_key));
	json_object_object_add(cfg, "ciphertext_hiding_capable",
			       json_object_new_boolean(p->ciphertext_hiding_cap));
	json_object_object_add(cfg, "ciphertext_hiding_enabled",
			       json_object_new_boolean(p->ciphertext_hiding_en));
	json_object_object_add(cfg, "rapl_disabled", json_object_new_boolean(p->rapl_dis));
	json_object_object_add(o, "config", cfg);
	json_object_object_add(tcb, "current", tcb_to_json(p->product, p->current_tcb));
	json_object_object_add(tcb, "reported", tcb_to_json(p->product, p->reported_tcb));
	json_object_object_add(tcb, "committed", p->committed_tcb_known
							 ? tcb_to_json(p->product, p->committed_tcb)
							 : NULL);
	json_object_object_add(o, "tcb", tcb);
	if (p->chip_id_known) {
		char hex[129];
		hex_encode(p->chip_id, sizeof(p->chip_id), hex);
		json_object_object_add(o, "chip_id", json_object_new_string(hex));
	} else {
		json_object_object_add(o, "chip_id", NULL);
		json_object_object_add(o, "chip_id_error", str_or_null(p->chip_id_error));
	}
	return o;
}

static void get_snp_platform(const struct api_env *env, struct api_request *rq,
			     struct api_response *rs)
{
	struct svc_req req = {.op = SVC_SNP_PLATFORM_GET};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	api_response_json(rs, 200, api_snp_platform_json(&reply.snp_platform));
}

static void get_tdx_module(const struct api_env *env, struct api_request *rq,
			   struct api_response *rs)
{
	struct svc_req req = {.op = SVC_TDX_MODULE_GET};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	const struct svc_tdx_module *m = &reply.tdx_module;
	json_object *o = json_object_new_object(), *cpus = NULL;
	json_object_object_add(o, "version", str_or_null(m->version));
	json_object_object_add(o, "state",
			       json_object_new_string(m->lost	     ? "lost"
						      : m->error[0] ? "unreadable"
						      : m->updating ? "updating"
								    : "ok"));
	json_object_object_add(o, "error", str_or_null(m->error));
	json_object_object_add(o, "seamldr_version", str_or_null(m->seamldr_version));
	json_object_object_add(o, "remaining_updates", m->remaining_updates >= 0
								? json_object_new_int64(m->remaining_updates)
								: NULL);
	json_object_object_add(o, "update_interface", json_object_new_boolean(m->update_interface));
	if (m->cpus_known) {
		cpus = json_object_new_object();
		json_object_object_add(cpus, "online", json_object_new_int64(m->cpus_online));
		json_object_object_add(cpus, "possible", json_object_new_int64(m->cpus_possible));
		json_object_object_add(cpus, "all_online",
				       json_object_new_boolean(m->cpus_online == m->cpus_possible));
	}
	json_object_object_add(o, "cpus", cpus);
	json_object *boot = json_object_new_object();
	json_object_object_add(boot, "version", str_or_null(m->boot_version));
	json_object_object_add(boot, "current_differs",
			       json_object_new_boolean(m->boot_version[0] && m->version[0] &&
						       strcmp(m->boot_version, m->version) != 0));
	json_object_object_add(boot, "note",
			       json_object_new_string("runtime updates do not survive a reboot: "
						      "the boot-time module comes back"));
	json_object_object_add(o, "boot", boot);
	api_response_json(rs, 200, o);
}

static bool is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void get_operation(const struct api_env *env, struct api_request *rq,
			  struct api_response *rs)
{
	const char *id = rq->captures[0];
	if (!is_uuid(id)) {
		api_problem(rs, 400, "invalid-request", "Invalid request",
			    "operation id '%.64s' is not a UUID", id);
		return;
	}
	struct svc_req req = {.op = SVC_OPERATION_GET};
	for (size_t i = 0; i < 36; i++) /* ids are stored in lower case (RFC 4122 3) */
		req.operation_get.id[i] = (char)tolower((unsigned char)id[i]);
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	const struct coco_operation *op = &reply.operation;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(op->id));
	json_object_object_add(o, "kind", json_object_new_string(op->kind));
	json_object_object_add(o, "state", json_object_new_string(coco_op_state_name(op->state)));
	json_object_object_add(o, "progress", json_object_new_int(op->progress));
	json_object_object_add(o, "message", str_or_null(op->message));
	json_object *result = op->result_json ? json_tokener_parse(op->result_json) : NULL;
	json_object_object_add(o, "result", result);
	json_object_object_add(o, "created", json_object_new_int64(op->created));
	json_object_object_add(o, "updated", json_object_new_int64(op->updated));
	svc_reply_clear(&req, &reply);
	api_response_json(rs, 200, o);
}

static void post_reload(const struct api_env *env, struct api_request *rq,
			struct api_response *rs)
{
	struct svc_req req = {.op = SVC_RELOAD};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "applied", json_object_new_string(reply.reload.changed));
	json_object_object_add(o, "needs_restart",
			       json_object_new_string(reply.reload.needs_restart));
	api_response_json(rs, 200, o);
}

static void put_log_level(const struct api_env *env, struct api_request *rq,
			  struct api_response *rs)
{
	json_object *body = api_parse_json_body(rq, rs);
	if (!body)
		return;
	json_object *lv = NULL;
	int level = -1;
	bool extra = json_object_object_length(body) != 1;
	if (json_object_object_get_ex(body, "level", &lv) && json_object_is_type(lv, json_type_string))
		level = coco_log_level_from_name(json_object_get_string(lv));
	json_object_put(body);
	if (level < 0 || extra) {
		api_problem(rs, 422, "invalid-request", "Invalid request",
			    "expected {\"level\": \"error|warning|notice|info|debug\"}");
		return;
	}
	struct svc_req req = {.op = SVC_LOG_LEVEL_SET, .log_level_set.level = level};
	struct svc_reply reply;
	dispatch(env, rq, &req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "previous",
			       json_object_new_string(coco_log_level_name(reply.log_level.previous)));
	json_object_object_add(o, "level",
			       json_object_new_string(coco_log_level_name(reply.log_level.current)));
	api_response_json(rs, 200, o);
}

const struct api_route api_routes[] = {
	{.method = "GET", .pattern = "/healthz", .role = COCO_ROLE_NONE, .handler = get_healthz},
	{.method = "GET", .pattern = "/readyz", .role = COCO_ROLE_NONE, .handler = get_readyz},
	{.method = "GET", .pattern = "/metrics", .role = COCO_ROLE_READER, .handler = get_metrics},
	{.method = "GET", .pattern = "/v1/openapi.yaml", .role = COCO_ROLE_READER,
	 .handler = get_openapi},
	{.method = "GET", .pattern = "/v1/host", .role = COCO_ROLE_READER, .handler = get_host},
	{.method = "POST", .pattern = "/v1/host/reload", .role = COCO_ROLE_ADMIN,
	 .handler = post_reload},
	{.method = "PUT", .pattern = "/v1/host/log-level", .role = COCO_ROLE_ADMIN,
	 .handler = put_log_level},
	{.method = "GET", .pattern = "/v1/operations/{id}", .role = COCO_ROLE_READER,
	 .handler = get_operation},
	{.method = "GET", .pattern = "/v1/snp/platform", .role = COCO_ROLE_READER,
	 .handler = get_snp_platform},
	{.method = "GET", .pattern = "/v1/tdx/module", .role = COCO_ROLE_READER,
	 .handler = get_tdx_module},
	{.method = "PUT", .pattern = "/v1/snp/config", .role = COCO_ROLE_ADMIN,
	 .handler = api_put_snp_config},
	{.method = "POST", .pattern = "/v1/snp/commit", .role = COCO_ROLE_ADMIN,
	 .handler = api_post_snp_commit},
	{.method = "POST", .pattern = "/v1/snp/measurements", .role = COCO_ROLE_READER,
	 .prepare = api_snp_measurement_prepare, .render = api_snp_measurement_render},
	API_DOC_ROUTE("GET", "/v1/snp/certs", COCO_ROLE_READER, SVC_SNP_CERTS_LIST, API_BODY_NONE),
	API_DOC_ROUTE("POST", "/v1/snp/certs", COCO_ROLE_ADMIN, SVC_SNP_CERTS_IMPORT, API_BODY_JSON),
	API_DOC_ROUTE("GET", "/v1/snp/certs/table", COCO_ROLE_READER, SVC_SNP_CERTS_TABLE,
		      API_BODY_NONE),
	API_DOC_ROUTE("POST", "/v1/snp/certs/refresh", COCO_ROLE_OPERATOR, SVC_SNP_CERTS_REFRESH,
		      API_BODY_JSON | API_BODY_OPTIONAL),
	API_DOC_ROUTE("GET", "/v1/snp/vlek", COCO_ROLE_READER, SVC_SNP_VLEK_GET, API_BODY_NONE),
	API_DOC_ROUTE("POST", "/v1/snp/vlek", COCO_ROLE_ADMIN, SVC_SNP_VLEK_LOAD,
		      API_BODY_JSON | API_BODY_BYTES),
	API_DOC_ROUTE("DELETE", "/v1/snp/vlek", COCO_ROLE_ADMIN, SVC_SNP_VLEK_DELETE,
		      API_BODY_NONE),
	API_DOC_ROUTE("GET", "/v1/tdx/module/candidates", COCO_ROLE_READER, SVC_TDX_CANDIDATES,
		      API_BODY_NONE),
	API_DOC_ROUTE("POST", "/v1/tdx/module/updates", COCO_ROLE_ADMIN, SVC_TDX_UPDATE,
		      API_BODY_JSON | API_BODY_OPTIONAL),
	API_DOC_ROUTE("GET", "/v1/tdx/module/updates", COCO_ROLE_READER, SVC_TDX_UPDATES_LIST,
		      API_BODY_NONE),
	API_DOC_ROUTE("POST", "/v1/tdx/measurements", COCO_ROLE_READER, SVC_TDX_MEASURE,
		      API_BODY_JSON),
	API_DOC_ROUTE("POST", "/v1/attestation/verify", COCO_ROLE_READER, SVC_ATTEST_VERIFY,
		      API_BODY_JSON),
	API_DOC_ROUTE("POST", "/v1/guests", COCO_ROLE_OPERATOR, SVC_GUEST_CREATE, API_BODY_JSON),
	API_DOC_ROUTE("GET", "/v1/guests", COCO_ROLE_READER, SVC_GUEST_LIST, API_BODY_NONE),
	API_DOC_ROUTE("GET", "/v1/guests/{id}", COCO_ROLE_READER, SVC_GUEST_GET, API_BODY_NONE),
	API_DOC_ROUTE("DELETE", "/v1/guests/{id}", COCO_ROLE_OPERATOR, SVC_GUEST_DELETE,
		      API_BODY_NONE),
	API_DOC_ROUTE("GET", "/v1/guests/{id}/reference-values", COCO_ROLE_READER,
		      SVC_GUEST_REFERENCE, API_BODY_NONE),
	API_DOC_ROUTE("GET", "/v1/guests/{id}/tdreport", COCO_ROLE_READER, SVC_GUEST_TDREPORT,
		      API_BODY_NONE),
	API_DOC_ROUTE("GET", "/v1/snp/reports/host", COCO_ROLE_READER, SVC_SNP_HOST_REPORT,
		      API_BODY_NONE),
};
const size_t api_n_routes = ARRAY_SIZE(api_routes);
