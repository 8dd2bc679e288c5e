/* cocod/guest_launch.c: launch requests, expected measurements, emulated and libvirt launches. */
#include "cocod/guest_launch.h"

#include <openssl/sha.h>

#include "coco/filehash.h"
#include "coco/snp/hashes.h"
#include "coco/snp/vmsa.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "hv/platform.h"
#include "hv/sev.h"
#include "hv/snp_launch.h"
#include "hv/tdx_launch.h"
#include "sevd/measure_svc.h"
#include "tdxd/gate.h"

/* --- the request --- */

enum member_kind { M_STR, M_U64, M_BOOL, M_HEX, M_B64 };
struct member {
	const char *key;
	enum member_kind kind;
	enum hv_tee only; /* HV_TEE_NONE: both */
	uint64_t max;	  /* M_U64: largest value; M_HEX/M_B64: byte count; M_STR: length */
};

static const struct member members[] = {
	{"name", M_STR, HV_TEE_NONE, HV_GUEST_NAME_MAX},
	{"tee", M_STR, HV_TEE_NONE, 3},
	{"firmware", M_STR, HV_TEE_NONE, HV_GUEST_PATH_MAX},
	{"kernel", M_STR, HV_TEE_NONE, HV_GUEST_PATH_MAX},
	{"initrd", M_STR, HV_TEE_NONE, HV_GUEST_PATH_MAX},
	{"cmdline", M_STR, HV_TEE_NONE, HV_GUEST_CMDLINE_MAX},
	{"vcpus", M_U64, HV_TEE_NONE, HV_GUEST_MAX_VCPUS},
	{"memory_mib", M_U64, HV_TEE_NONE, GUEST_MAX_MEMORY_MIB},
	{"policy", M_U64, HV_TEE_NONE, UINT64_MAX},
	{"host_data", M_HEX, HV_TEE_SNP, 32},
	{"vcpu_type", M_STR, HV_TEE_SNP, 31},
	{"sev_features", M_U64, HV_TEE_SNP, UINT64_MAX},
	{"id_block", M_B64, HV_TEE_SNP, HV_SNP_ID_BLOCK_SIZE},
	{"id_auth", M_B64, HV_TEE_SNP, HV_SNP_ID_AUTH_SIZE},
	{"author_key", M_BOOL, HV_TEE_SNP, 0},
	{"mrconfigid", M_HEX, HV_TEE_TDX, 48},
	{"mrowner", M_HEX, HV_TEE_TDX, 48},
	{"mrownerconfig", M_HEX, HV_TEE_TDX, 48},
};

static const struct member *member_find(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(members); i++)
		if (streq(members[i].key, k))
			return &members[i];
	return NULL;
}

/* An integer member: a JSON integer, or a "0x..." hex string (policies read better in hex). */
static int u64_value(json_object *v, const struct member *m, uint64_t *ret, char *err,
		     size_t errlen)
{
	uint64_t x;
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);
		if (i < 0)
			goto bad;
		x = (uint64_t)i;
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v), *h = s + 2;
		size_t n = strlen(s);
		if (strncmp(s, "0x", 2) || n < 3 || n > 18 || strspn(h, "0123456789abcdefABCDEF") != n - 2)
			goto bad;
		x = strtoull(h, NULL, 16);
	} else {
		goto bad;
	}
	if (x > m->max || (m->max != UINT64_MAX && x == 0))
		goto bad;
	*ret = x;
	return 0;
bad:
	return set_error(err, errlen, -EINVAL, "%s: an integer %s..%llu (or a \"0x\" hex string)",
			 m->key, m->max == UINT64_MAX ? "0" : "1", (unsigned long long)m->max);
}

static int member_value(json_object *v, const struct member *m, struct guest_spec *sp, char *err,
			size_t errlen)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if ((m->kind == M_STR || m->kind == M_HEX || m->kind == M_B64) && !s)
		return set_error(err, errlen, -EINVAL, "%s: not a string", m->key);
	if (m->kind == M_BOOL && !json_object_is_type(v, json_type_boolean))
		return set_error(err, errlen, -EINVAL, "%s: not a boolean", m->key);
	if (m->kind == M_STR && (strlen(s) > m->max || !s[0]))
		return set_error(err, errlen, -EINVAL, "%s: 1..%llu characters", m->key,
				 (unsigned long long)m->max);
	uint64_t x = 0;
	if (m->kind == M_U64 && u64_value(v, m, &x, err, errlen) < 0)
		return -EINVAL;
	uint8_t *hex_dst = streq(m->key, "host_data")	  ? sp->host_data
			   : streq(m->key, "mrconfigid")  ? sp->mrconfigid
			   : streq(m->key, "mrowner")	  ? sp->mrowner
			   : streq(m->key, "mrownerconfig") ? sp->mrownerconfig
							  : NULL;
	if (m->kind == M_HEX) {
		if (hex_decode_exact(s, hex_dst, m->max) < 0)
			return set_error(err, errlen, -EINVAL, "%s: %llu hex digits", m->key,
					 (unsigned long long)(2 * m->max));
		*(hex_dst == sp->host_data	    ? &sp->has_host_data
		  : hex_dst == sp->mrconfigid ? &sp->has_mrconfigid
		  : hex_dst == sp->mrowner    ? &sp->has_mrowner
					      : &sp->has_mrownerconfig) = true;
		return 0;
	}
	if (m->kind == M_B64) {
		uint8_t *b = NULL;
		size_t n = 0;
		if (strlen(s) > 4 * ((m->max + 2) / 3) || base64_decode(s, strlen(s), &b, &n) < 0 ||
		    n != m->max) {
			free(b);
			return set_error(err, errlen, -EINVAL, "%s: base64 of exactly %llu bytes",
					 m->key, (unsigned long long)m->max);
		}
		*(streq(m->key, "id_block") ? &sp->id_block : &sp->id_auth) = b;
		return 0;
	}
	if (streq(m->key, "name")) {
		snprintf(sp->name, sizeof(sp->name), "%s", s);
	} else if (streq(m->key, "tee")) {
		sp->tee = streq(s, "snp") ? HV_TEE_SNP : streq(s, "tdx") ? HV_TEE_TDX : HV_TEE_NONE;
	} else if (streq(m->key, "firmware")) {
		sp->firmware = s;
	} else if (streq(m->key, "kernel")) {
		sp->kernel = s;
	} else if (streq(m->key, "initrd")) {
		sp->initrd = s;
	} else if (streq(m->key, "cmdline")) {
		sp->cmdline = s;
	} else if (streq(m->key, "vcpu_type")) {
		snprintf(sp->vcpu_type, sizeof(sp->vcpu_type), "%s", s);
	} else if (streq(m->key, "vcpus")) {
		sp->vcpus = (unsigned)x;
	} else if (streq(m->key, "memory_mib")) {
		sp->memory_mib = x;
	} else if (streq(m->key, "policy")) {
		sp->policy = x;
	} else if (streq(m->key, "sev_features")) {
		sp->sev_features = x;
	} else if (streq(m->key, "author_key")) {
		sp->author_key = json_object_get_boolean(v);
	}
	return 0;
}

/* The guest name rule libvirt and our store share (hv/libvirt.h). */
static bool name_ok(const char *n)
{
	if (!n[0] || n[0] == '.' || n[0] == '-')
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '.' || *n == '_' || *n == '-'))
			return false;
	return true;
}

int guest_spec_parse(json_object *o, struct guest_spec *ret, char *err, size_t errlen)
{
	struct guest_spec sp = {.vcpus = 1, .memory_mib = GUEST_DEFAULT_MEMORY_MIB,
				.sev_features = 0x1, .vcpu_type = "EPYC-v4"};
	int r = -EINVAL;
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object)) {
		set_error(err, errlen, -EINVAL, "expected a JSON object");
		goto bad;
	}
	/* The TEE first: it decides which members belong. */
	if (!json_object_object_get_ex(o, "tee", &v) ||
	    member_value(v, member_find("tee"), &sp, err, errlen) < 0 || sp.tee == HV_TEE_NONE) {
		set_error(err, errlen, -EINVAL, "tee: \"snp\" or \"tdx\" is required");
		goto bad;
	}
	json_object_object_foreach(o, k, val)
	{
		const struct member *m = member_find(k);
		if (!m) {
			set_error(err, errlen, -EINVAL, "unknown member '%.64s'", k);
			goto bad;
		}
		if (m->only != HV_TEE_NONE && m->only != sp.tee) {
			set_error(err, errlen, -EINVAL, "%s: not a %s setting", k,
				  sp.tee == HV_TEE_SNP ? "SEV-SNP" : "TDX");
			goto bad;
		}
		if (member_value(val, m, &sp, err, errlen) < 0)
			goto bad;
	}
	if (!sp.name[0] || !name_ok(sp.name)) {
		set_error(err, errlen, -EINVAL,
			  "name: 1..%d of [A-Za-z0-9._-], not starting with '.' or '-'",
			  HV_GUEST_NAME_MAX);
		goto bad;
	}
	if (!sp.firmware) {
		set_error(err, errlen, -EINVAL, "firmware is required");
		goto bad;
	}
	if ((sp.initrd || sp.cmdline) && !sp.kernel) {
		set_error(err, errlen, -EINVAL, "initrd and cmdline need a kernel");
		goto bad;
	}
	if (sp.cmdline)
		for (const char *c = sp.cmdline; *c; c++)
			if (*c < 0x20 || *c > 0x7e) {
				set_error(err, errlen, -EINVAL, "cmdline: printable ASCII only");
				goto bad;
			}
	if (!!sp.id_block != !!sp.id_auth) {
		set_error(err, errlen, -EINVAL, "id_block and id_auth go together");
		goto bad;
	}
	if (sp.tee == HV_TEE_SNP) {
		if (!json_object_object_get_ex(o, "policy", &v))
			sp.policy = HV_SNP_POLICY_DEFAULT;
		if (snp_vcpu_type_sig(sp.vcpu_type, &sp.vcpu_sig) < 0) {
			set_error(err, errlen, -EINVAL, "vcpu_type: unknown QEMU CPU model '%s'",
				  sp.vcpu_type);
			goto bad;
		}
		if (!(sp.sev_features & HV_SNP_FEATURE_SNP_ACTIVE)) {
			set_error(err, errlen, -EINVAL, "sev_features: bit 0 (SNPActive) must be set");
			goto bad;
		}
	}
	*ret = sp;
	return 0;
bad:
	guest_spec_clear(&sp);
	return r;
}

void guest_spec_clear(struct guest_spec *sp)
{
	free(sp->id_block);
	free(sp->id_auth);
	sp->id_block = sp->id_auth = NULL;
}

/* --- expected measurement --- */

static int read_firmware(char *const *dirs, size_t n_dirs, const char *name, char **ret,
			 size_t *ret_len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r = sevd_resolve_image(dirs, n_dirs, name, path, err, errlen);
	if (r < 0)
		return r;
	if ((r = read_file_max(path, GUEST_FIRMWARE_MAX, ret, ret_len)) < 0)
		return set_error(err, errlen, r, "firmware %s: %s", name, strerror(-r));
	return 0;
}

/* The TDVF image (malloc'd, *ret_fw) and its parsed metadata (malloc'd, *ret_t). */
static int read_tdvf(char *const *dirs, size_t n_dirs, const char *name, char **ret_fw,
		     size_t *ret_len, struct tdvf **ret_t, char *err, size_t errlen)
{
	int r = read_firmware(dirs, n_dirs, name, ret_fw, ret_len, err, errlen);
	if (r < 0)
		return r;
	if (!(*ret_t = malloc(sizeof(**ret_t))))
		r = set_error(err, errlen, -ENOMEM, "out of memory");
	else
		r = tdvf_parse((const uint8_t *)*ret_fw, *ret_len, *ret_t, err, errlen);
	if (r < 0) {
		free(*ret_fw);
		free(*ret_t);
		*ret_fw = NULL;
		*ret_t = NULL;
	}
	return r;
}

int guest_expected(struct sevd_measure_cache *c, char *const *dirs, size_t n_dirs,
		   const struct guest_spec *sp, uint8_t ret[48], char *err, size_t errlen)
{
	/* Each name resolves inside the image directories, or the member is named. */
	const char *names[3] = {sp->firmware, sp->kernel, sp->initrd};
	static const char *const keys[3] = {"firmware", "kernel", "initrd"};
	for (int i = 0; i < 3; i++) {
		char path[PATH_MAX], why[256];
		int r = names[i] ? sevd_resolve_image(dirs, n_dirs, names[i], path, why, sizeof(why))
				 : 0;
		if (r < 0)
			return set_error(err, errlen, r, "%s: %s", keys[i], why);
	}
	if (sp->tee == HV_TEE_SNP) {
		struct sevd_measure_req q = {
			.mode = SNP_MODE_SNP, .firmware = sp->firmware, .kernel = sp->kernel,
			.initrd = sp->initrd, .cmdline = sp->cmdline, .vcpus = sp->vcpus,
			.vcpu_sig = sp->vcpu_sig, .guest_features = sp->sev_features,
			.vmm = SNP_VMM_QEMU,
		};
		struct sevd_measure_reply rep;
		int r = sevd_measure(c, dirs, n_dirs, &q, &rep, err, errlen);
		if (r < 0)
			return r;
		if (rep.digest_len != 48)
			return set_error(err, errlen, -EINVAL, "unexpected digest length %zu",
					 rep.digest_len);
		memcpy(ret, rep.digest, 48);
		return 0;
	}
	if (sp->kernel)
		return set_error(err, errlen, -EINVAL,
				 "kernel: TDX direct kernel boot is measured into RTMRs, not MRTD; "
				 "launch from the TDVF alone");
	_cleanup_free_ char *fw = NULL;
	_cleanup_free_ struct tdvf *t = NULL;
	size_t len;
	int r = read_tdvf(dirs, n_dirs, sp->firmware, &fw, &len, &t, err, errlen);
	return r < 0 ? r : tdvf_mrtd(t, TDVF_SINGLE_PASS, ret, err, errlen);
}

/* --- emulated launch --- */

void guest_handle_free(struct guest_handle *h)
{
	if (h->snp)
		hv_snp_guest_free(h->snp);
	if (h->tdx)
		hv_tdx_guest_free(h->tdx);
	h->snp = NULL;
	h->tdx = NULL;
}

/* The launches leave the guest in *ret (also when reading its measurement fails). */
static int launch_snp(struct hv_platform *p, struct sevd_measure_cache *c, char *const *dirs,
		      size_t n_dirs,
		      const struct guest_spec *sp, uint8_t measured[48], struct guest_handle *ret,
		      char *err, size_t errlen)
{
	_cleanup_free_ char *fw = NULL;
	size_t len;
	int r = read_firmware(dirs, n_dirs, sp->firmware, &fw, &len, err, errlen);
	if (r < 0)
		return r;
	struct snp_kernel_hashes hashes;
	if (sp->kernel) {
		char path[PATH_MAX];
		const char *names[2] = {sp->kernel, sp->initrd};
		uint8_t *outs[2] = {hashes.kernel, hashes.initrd};
		for (int i = 0; i < 2; i++) {
			if (!names[i]) {
				SHA256((const uint8_t *)"", 0, outs[i]);
				continue;
			}
			if ((r = sevd_resolve_image(dirs, n_dirs, names[i], path, err, errlen)) < 0)
				return r;
			if ((r = c ? sevd_measure_file_sha256(c, path, outs[i], NULL)
				   : coco_sha256_file(path, outs[i], NULL)) < 0)
				return set_error(err, errlen, r, "%s: %s", names[i], strerror(-r));
		}
		snp_hash_cmdline(sp->cmdline, hashes.cmdline);
	}
	struct hv_kvm_snp_finish fin = {.id_block = sp->id_block, .id_auth = sp->id_auth,
					.auth_key_en = sp->author_key,
					.host_data = sp->has_host_data ? sp->host_data : NULL};
	struct hv_snp_ovmf_launch in = {
		.ovmf = (const uint8_t *)fw, .ovmf_size = len,
		.hashes = sp->kernel ? &hashes : NULL, .vcpus = sp->vcpus, .vcpu_sig = sp->vcpu_sig,
		.sev_features = sp->sev_features, .policy = sp->policy, .finish = &fin,
	};
	uint32_t fwe = 0;
	struct hv_snp_guest *g;
	char why[256] = "";
	if ((r = hv_snp_launch_ovmf(hv_platform_kvm(p), &in, &g, &fwe, why, sizeof(why))) < 0)
		return set_error(err, errlen, r, "SNP launch: %s", why);
	ret->snp = g;
	if ((r = hv_platform_snp_launch_digest(p, hv_snp_guest_vm_fd(g), measured)) < 0)
		set_error(err, errlen, r, "launch digest: %s", strerror(-r));
	return r;
}

/* TDVF sections as launch regions: every section added at build time (not PAGE.AUG), in
 * table order (the order tdvf_mrtd measures), contents zero-filled to mem_size. */
static int launch_tdx(struct hv_platform *p, struct tdxd_gate *gate, char *const *dirs,
		      size_t n_dirs, const struct guest_spec *sp, uint8_t measured[48],
		      struct guest_handle *ret, char *err, size_t errlen)
{
	_cleanup_free_ char *fw = NULL;
	_cleanup_free_ struct tdvf *t = NULL;
	size_t len;
	int r = read_tdvf(dirs, n_dirs, sp->firmware, &fw, &len, &t, err, errlen);
	if (r < 0)
		return r;
	struct hv_tdx_region regions[HV_TDX_MAX_REGIONS];
	uint8_t *bufs[HV_TDX_MAX_REGIONS] = {0};
	size_t n = 0;
	uint64_t hob = 0;
	r = 0;
	for (uint32_t i = 0; i < t->n && r == 0; i++) {
		const struct tdvf_section *s = &t->s[i];
		if (s->type == TDVF_TD_HOB)
			hob = s->gpa;
		if ((s->attributes & TDVF_ATTR_PAGE_AUG) || !s->mem_size)
			continue;
		if (n == HV_TDX_MAX_REGIONS) {
			r = set_error(err, errlen, -EINVAL, "TDVF: more than %d sections to add",
				      HV_TDX_MAX_REGIONS);
			break;
		}
		if (!(bufs[n] = calloc(1, s->mem_size))) {
			r = set_error(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		memcpy(bufs[n], fw + s->data_offset, s->raw_size);
		regions[n] = (struct hv_tdx_region){.gpa = s->gpa, .src = bufs[n],
						    .nr_pages = s->mem_size / TDVF_PAGE,
						    .measure = s->attributes & TDVF_ATTR_MR_EXTEND};
		n++;
	}
	struct hv_tdx_guest *g = NULL;
	if (r == 0) {
		struct hv_tdx_launch in = {
			.regions = regions, .n_regions = n, .vcpus = sp->vcpus,
			.attributes = sp->policy,
			.mrconfigid = sp->has_mrconfigid ? sp->mrconfigid : NULL,
			.mrowner = sp->has_mrowner ? sp->mrowner : NULL,
			.mrownerconfig = sp->has_mrownerconfig ? sp->mrownerconfig : NULL,
			.hob_gpa = hob,
		};
		char why[256] = "";
		/* TDH.MNG.CREATE .. TDH.MR.FINALIZE must not overlap a module update. */
		r = tdxd_gate_enter_shared(gate, GUEST_GATE_TIMEOUT_MS);
		if (r == -ETIMEDOUT)
			set_error(err, errlen, r, "a TDX module update holds the TD-launch gate");
		else if (r < 0)
			set_error(err, errlen, r, "the TDX module is lost: reboot required");
		else {
			r = hv_tdx_launch(hv_platform_kvm(p), &in, &g, NULL, why, sizeof(why));
			tdxd_gate_leave_shared(gate);
			if (r < 0)
				set_error(err, errlen, r, "TD launch: %s", why);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	if (r < 0)
		return r;
	ret->tdx = g;
	if ((r = hv_tdx_guest_mrtd(g, measured)) < 0)
		set_error(err, errlen, r, "MRTD: %s", strerror(-r));
	return r;
}

int guest_launch_emulated(struct hv_platform *p, struct tdxd_gate *gate,
			  struct sevd_measure_cache *c, char *const *dirs,
			  size_t n_dirs, const struct guest_spec *sp, const uint8_t expected[48],
			  struct guest_handle *ret, char *err, size_t errlen)
{
	*ret = (struct guest_handle){0};
	uint8_t got[48];
	int r = sp->tee == HV_TEE_SNP
			? launch_snp(p, c, dirs, n_dirs, sp, got, ret, err, errlen)
			: launch_tdx(p, gate, dirs, n_dirs, sp, got, ret, err, errlen);
	if (r == 0 && !mem_equal_ct(got, expected, 48)) {
		char g[97], w[97];
		hex_encode(got, 48, g);
		hex_encode(expected, 48, w);
		r = set_error(err, errlen, -EBADMSG, "the %s %s differs from the expected %s",
			      sp->tee == HV_TEE_SNP ? "firmware's launch digest" : "TDX module's MRTD",
			      g, w);
	}
	if (r < 0)
		guest_handle_free(ret);
	return r;
}

/* --- libvirt --- */

int guest_launch_libvirt(struct hv_libvirt *c, bool test_driver, struct tdxd_gate *gate,
			 char *const *dirs, size_t n_dirs, const struct guest_spec *sp,
			 const char *uuid, char *err, size_t errlen)
{
	char fw[PATH_MAX], k[PATH_MAX], i[PATH_MAX];
	int r;
	if ((r = sevd_resolve_image(dirs, n_dirs, sp->firmware, fw, err, errlen)) < 0 ||
	    (sp->kernel && (r = sevd_resolve_image(dirs, n_dirs, sp->kernel, k, err, errlen)) < 0) ||
	    (sp->initrd && (r = sevd_resolve_image(dirs, n_dirs, sp->initrd, i, err, errlen)) < 0))
		return r;
	struct hv_guest_desc d = {
		.name = sp->name, .uuid = uuid, .tee = sp->tee, .firmware = fw,
		.kernel = sp->kernel ? k : NULL, .initrd = sp->initrd ? i : NULL,
		.cmdline = sp->cmdline, .vcpus = sp->vcpus, .memory_mib = sp->memory_mib,
		/* libvirt's test driver runs no QEMU and has no launch security */
		.domain_type = test_driver ? "test" : NULL, .omit_launch_security = test_driver,
	};
	if (sp->tee == HV_TEE_SNP) {
		d.snp = (struct hv_guest_snp){.policy = sp->policy, .has_host_data = sp->has_host_data,
					      .id_block = sp->id_block, .id_auth = sp->id_auth,
					      .author_key = sp->author_key,
					      .kernel_hashes = sp->kernel != NULL};
		memcpy(d.snp.host_data, sp->host_data, 32);
	} else {
		d.tdx = (struct hv_guest_tdx){.policy = sp->policy,
					      .has_mrconfigid = sp->has_mrconfigid,
					      .has_mrowner = sp->has_mrowner,
					      .has_mrownerconfig = sp->has_mrownerconfig};
		memcpy(d.tdx.mrconfigid, sp->mrconfigid, 48);
		memcpy(d.tdx.mrowner, sp->mrowner, 48);
		memcpy(d.tdx.mrownerconfig, sp->mrownerconfig, 48);
	}
	_cleanup_free_ char *xml = NULL;
	if ((r = hv_libvirt_domain_xml(&d, &xml, err, errlen)) < 0)
		return r;
	bool gated = sp->tee == HV_TEE_TDX;
	if (gated && (r = tdxd_gate_enter_shared(gate, GUEST_GATE_TIMEOUT_MS)) < 0)
		return set_error(err, errlen, r, "%s",
				 r == -ETIMEDOUT ? "a TDX module update holds the TD-launch gate"
						 : "the TDX module is lost: reboot required");
	r = hv_libvirt_define_start(c, xml, NULL, err, errlen);
	if (gated)
		tdxd_gate_leave_shared(gate);
	return r;
}

int guest_platform_tcb(struct hv_platform *p, uint64_t *ret)
{
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(p, false, &eno);
	if (!sev)
		return -eno;
	struct hv_snp_status st;
	uint32_t fw = 0;
	int r = hv_sev_snp_platform_status(sev, &st, &fw);
	if (r < 0)
		return r;
	*ret = st.reported_tcb;
	return 0;
}
