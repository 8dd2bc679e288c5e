/* SEV-SNP routes. */
#include <openssl/evp.h>

#include "api/http.h"
#include "api/routes.h"
#include "coco/util.h"

/* Integers arrive as JSON numbers or as strings in C notation ("0x21"), as on the CLI. */
static bool get_u64(json_object *v, uint64_t *ret)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t x = json_object_get_int64(v);
		if (x < 0)
			return false;
		*ret = json_object_get_uint64(v);
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	if (!*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, base);
	if (errno || *end)
		return false;
	*ret = x;
	return true;
}

bool api_snp_measurement_prepare(const struct api_env *env, struct api_request *rq,
				 struct api_response *rs, struct api_async *a)
{
	json_object *body = api_parse_json_body(rq, rs);
	if (!body)
		return false;
	a->req = (struct svc_req){.op = SVC_SNP_MEASURE, .role = rq->role, .actor = rq->actor};
	struct svc_snp_measure *m = &a->req.snp_measure;
	m->mode = SNP_MODE_SNP;
	m->guest_features = 0x1;
	m->vmm = SNP_VMM_QEMU;
	bool have_vcpus = false, have_sig = false, have_fms[3] = {false, false, false};
	uint64_t fms[3] = {0, 0, 0};
	const char *bad = NULL, *why = "";
	json_object_object_foreach(body, key, v)
	{
		uint64_t n;
		bool is_str = json_object_is_type(v, json_type_string);
		const char *str = is_str ? json_object_get_string(v) : NULL;
		if (streq(key, "mode")) {
			if (!is_str || snp_mode_from_name(str, &m->mode) < 0)
				bad = key, why = "snp, seves, sev, snp:ovmf-hash or snp:svsm";
		} else if (streq(key, "firmware") || streq(key, "kernel") || streq(key, "initrd") ||
			   streq(key, "svsm") || streq(key, "cmdline")) {
			if (!is_str)
				bad = key, why = "a string";
			else if (key[0] == 'f')
				m->firmware = str;
			else if (key[0] == 'k')
				m->kernel = str;
			else if (key[0] == 'i')
				m->initrd = str;
			else if (key[0] == 's')
				m->svsm = str;
			else
				m->cmdline = str;
		} else if (streq(key, "vcpus")) {
			if (!get_u64(v, &n) || n < 1 || n > 4096)
				bad = key, why = "an integer from 1 to 4096";
			m->vcpus = (unsigned)n;
			have_vcpus = true;
		} else if (streq(key, "vcpu_type")) {
			uint32_t sig;
			if (!is_str || snp_vcpu_type_sig(str, &sig) < 0)
				bad = key, why = "a QEMU EPYC CPU model name (e.g. EPYC-v4, EPYC-Milan)";
			else if (!have_sig)
				m->vcpu_sig = sig;
			have_sig = true;
		} else if (streq(key, "vcpu_sig")) {
			if (!get_u64(v, &n) || n > UINT32_MAX)
				bad = key, why = "a 32-bit CPUID signature";
			m->vcpu_sig = n;
			have_sig = true;
		} else if (streq(key, "vcpu_family") || streq(key, "vcpu_model") ||
			   streq(key, "vcpu_stepping")) {
			int i = key[5] == 'f' ? 0 : key[5] == 'm' ? 1 : 2;
			static const uint64_t max[3] = {0x10e, 0xff, 0xf};
			if (!get_u64(v, &fms[i]) || fms[i] > max[i])
				bad = key, why = i == 0 ? "an integer from 0 to 270"
					 : i == 1 ? "an integer from 0 to 255"
						  : "an integer from 0 to 15";
			have_fms[i] = true;
		} else if (streq(key, "guest_features")) {
			if (!get_u64(v, &m->guest_features))
				bad = key, why = "an integer (or a \"0x...\" string)";
		} else if (streq(key, "vmm_type")) {
			if (!is_str || snp_vmm_type_from_name(str, &m->vmm) < 0)
				bad = key, why = "qemu, ec2 or gce";
		} else if (streq(key, "vars_size")) {
			if (!get_u64(v, &m->vars_size))
				bad = key, why = "a byte count";
		} else {
			bad = key, why = "not a known field";
		}
		if (bad)
			break;
	}
	if (!bad && (have_fms[0] || have_fms[1] || have_fms[2])) {
		if (!(have_fms[0] && have_fms[1] && have_fms[2]))
			bad = "vcpu_family", why = "vcpu_family, vcpu_model and vcpu_stepping go together";
		else
			m->vcpu_sig = snp_vcpu_sig((unsigned)fms[0], (unsigned)fms[1], (unsigned)fms[2]);
		have_sig = true;
	}
	bool needs_vcpus = m->mode != SNP_MODE_SEV && m->mode != SNP_MODE_OVMF_HASH;
	if (!bad && !m->firmware)
		bad = "firmware", why = "required";
	if (!bad && needs_vcpus && !have_vcpus)
		bad = "vcpus", why = "required in this mode";
	if (!bad && needs_vcpus && !have_sig && m->vmm == SNP_VMM_QEMU)
		bad = "vcpu_type", why = "vcpu_type, vcpu_sig or vcpu_family/model/stepping is required "
					 "for qemu";
	if (bad) {
		api_problem(rs, 422, "invalid-request", "Invalid request", "field '%.64s': %s", bad,
			    why);
		json_object_put(body);
		return false;
	}
	a->keep = body; /* the request's strings point into it */
	return true;
}

void api_snp_measurement_render(const struct api_env *env, struct api_async *a,
				struct api_response *rs)
{
	if (a->reply.status != SVC_OK) {
		api_problem_from_svc(rs, &a->reply);
		return;
	}
	const struct svc_snp_measurement *r = &a->reply.snp_measurement;
	char hex[97], b64[80];
	hex_encode(r->digest, r->digest_len, hex);
	EVP_EncodeBlock((unsigned char *)b64, r->digest, (int)r->digest_len);
	json_object *o = json_object_new_object(), *cache = json_object_new_object();
	json_object_object_add(o, "mode", json_object_new_string(snp_mode_name(a->req.snp_measure.mode)));
	json_object_object_add(o, "digest", json_object_new_string(hex));
	json_object_object_add(o, "digest_base64", json_object_new_string(b64));
	json_object_object_add(o, "pages", json_object_new_int64(r->pages));
	json_object_object_add(o, "elapsed_us", json_object_new_int64((int64_t)(r->elapsed_ns / 1000)));
	json_object_object_add(cache, "firmware", json_object_new_boolean(r->firmware_cached));
	json_object_object_add(cache, "kernel", json_object_new_boolean(r->kernel_cached));
	json_object_object_add(cache, "initrd", json_object_new_boolean(r->initrd_cached));
	json_object_object_add(o, "cache", cache);
	api_response_json(rs, 200, o);
}

/* The reply of a firmware change: the journaled operation and the status read afterwards. */
static void platform_change(const struct api_env *env, struct api_request *rq,
			    struct api_response *rs, struct svc_req *req)
{
	struct svc_reply reply;
	req->role = rq->role;
	req->actor = rq->actor;
	memset(&reply, 0, sizeof(reply));
	env->dispatch(env->dispatch_ctx, req, &reply);
	if (reply.status != SVC_OK) {
		api_problem_from_svc(rs, &reply);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "operation", json_object_new_string(reply.snp_platform.operation));
	json_object_object_add(o, "platform", api_snp_platform_json(&reply.snp_platform));
	api_response_json(rs, 200, o);
}

void api_put_snp_config(const struct api_env *env, struct api_request *rq,
			struct api_response *rs)
{
	json_object *body = api_parse_json_body(rq, rs);
	if (!body)
		return;
	struct svc_req req = {.op = SVC_SNP_CONFIG_SET};
	req.snp_config.mask_chip_id = req.snp_config.mask_chip_key = -1;
	const char *bad = NULL, *why = "";
	json_object_object_foreach(body, key, v)
	{
		if (streq(key, "reported_tcb")) {
			req.snp_config.set_tcb = true;
			if (json_object_is_type(v, json_type_string) &&
			    streq(json_object_get_string(v), "current"))
				req.snp_config.reported_tcb = 0; /* SNP ABI: 0 = the current TCB */
			else if (!get_u64(v, &req.snp_config.reported_tcb))
				bad = key, why = "a TCB_VERSION (integer or \"0x...\") or \"current\"";
		} else if (streq(key, "mask_chip_id") || streq(key, "mask_chip_key")) {
			if (!json_object_is_type(v, json_type_boolean))
				bad = key, why = "true or false";
			else
				*(streq(key, "mask_chip_id") ? &req.snp_config.mask_chip_id
							      : &req.snp_config.mask_chip_key) =
					json_object_get_boolean(v);
		} else {
			bad = key, why = "not a member (reported_tcb, mask_chip_id, mask_chip_key)";
		}
		if (bad)
			break;
	}
	bool empty = json_object_object_length(body) == 0;
	char badkey[64];
	snprintf(badkey, sizeof(badkey), "%s", bad ? bad : "");
	json_object_put(body);
	if (bad) {
		api_problem(rs, 422, "invalid-request", "Invalid request", "'%s': %s", badkey, why);
		return;
	}
	if (empty) {
		api_problem(rs, 422, "invalid-request", "Invalid request",
			    "nothing to change: give reported_tcb, mask_chip_id or mask_chip_key");
		return;
	}
	platform_change(env, rq, rs, &req);
}

void api_post_snp_commit(const struct api_env *env, struct api_request *rq,
			 struct api_response *rs)
{
	struct svc_req req = {.op = SVC_SNP_COMMIT};
	platform_change(env, rq, rs, &req);
}
