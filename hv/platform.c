#include "hv/platform.h"

#include <cpuid.h>

#include "coco/tdx/blobgen.h"
#include "coco/util.h"
#include "hv/emul/kvm.h"
#include "hv/emul/psp.h"
#include "hv/kvm.h"
#include "hv/emul/tdx_kernel.h"
#include "hv/emul/tdx_module.h"
#include "hv/sev.h"
#include "hv/tdx.h"
#include "hv/uapi/kvm_compat.h"

struct hv_platform {
	enum coco_platform kind;
	char *sysfs_root;
	char *dev_root;
	/* SEV firmware: read-only handle opened at start, read-write one on first need. */
	struct hv_sev *sev, *sev_rw;
	int sev_errno, sev_rw_errno;
	struct emul_psp *psp; /* emulated only */
	/* TDX host: sysfs (native: sysfs_root; emulated: a tree under the state directory whose
	 * kernel side the emulated kernel plays in front of the emulated module). */
	struct hv_tdx *tdx;
	struct emul_tdx_module *tdx_module;
	struct emul_tdx_kernel *tdx_kernel;
	/* KVM for guest launches: native /dev/kvm, or the emulated KVM in front of the emulated
	 * PSP and TDX module. */
	struct emul_kvm *ek;
	struct hv_kvm *kvm;
};

static int fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

/* The simulated kernel starts the upload on a thread that notices loading=0 (inotify), so
 * "idle" may linger briefly after it: see hv_tdx_options.start_grace_ms. */
#define EMUL_TDX_START_GRACE_MS 500

static int emul_tdx_start(struct hv_platform *p, const char *state_dir, char *err,
			  size_t errlen)
{
	_cleanup_free_ char *root = NULL, *state = NULL;
	if (asprintf(&root, "%s/emul-sysfs", state_dir) < 0 ||
	    asprintf(&state, "%s/emul-tdx-module.state", state_dir) < 0)
		return fail(err, errlen, -ENOMEM, "emulated TDX");
	/* The module's state outlives cocod (as a real module outlives a kill -9 of cocod). */
	struct emul_tdx_module_config mc = {.num_remaining_updates = 16, .state_file = state};
	int r = emul_tdx_module_new(&mc, &p->tdx_module);
	if (r < 0) {
		snprintf(err, errlen, "emulated TDX module (%s): %s", state,
			 r == -EINVAL ? "state file does not parse" : strerror(-r));
		return r;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct emul_tdx_kernel_config kc = {
		.root = root, .module = p->tdx_module,
		.cpus = ncpu > 0 && ncpu <= 1024 ? (uint32_t)ncpu : 8,
	};
	if ((r = emul_tdx_kernel_start(&kc, &p->tdx_kernel)) < 0)
		return fail(err, errlen, r, "emulated TDX kernel side");
	struct hv_tdx_options to = {.start_grace_ms = EMUL_TDX_START_GRACE_MS};
	if ((r = hv_tdx_open(root, &to, &p->tdx)) < 0)
		return fail(err, errlen, r, "emulated TDX sysfs");
	return 0;
}

int hv_platform_open(const struct hv_platform_params *prm, struct hv_platform **ret, char *err,
		     size_t errlen)
{
	if (prm->kind != COCO_PLATFORM_NATIVE && prm->kind != COCO_PLATFORM_EMULATED) {
		snprintf(err, errlen, "unknown platform kind %d", (int)prm->kind);
		return -EINVAL;
	}
	if (prm->kind == COCO_PLATFORM_EMULATED && !prm->state_dir) {
		snprintf(err, errlen, "the emulated platform needs a state directory");
		return -EINVAL;
	}
	struct hv_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return fail(err, errlen, -ENOMEM, "platform");
	p->kind = prm->kind;
	p->sysfs_root = strdup(prm->sysfs_root ? prm->sysfs_root : "/sys");
	p->dev_root = strdup(prm->dev_root ? prm->dev_root : "/dev");
	int r = -ENOMEM;
	if (!p->sysfs_root || !p->dev_root) {
		fail(err, errlen, r, "platform");
		goto bad;
	}
	if (p->kind == COCO_PLATFORM_EMULATED) {
		struct emul_psp_config pc = {.state_dir = prm->state_dir};
		if ((r = emul_psp_open(&pc, &p->psp)) < 0) {
			fail(err, errlen, r, "emulated PSP");
			goto bad;
		}
		if ((r = hv_sev_open_emulated(p->psp, &p->sev)) < 0) {
			fail(err, errlen, r, "emulated PSP");
			goto bad;
		}
		p->sev_rw = p->sev;
		if ((r = emul_tdx_start(p, prm->state_dir, err, errlen)) < 0)
			goto bad;
		if ((r = emul_kvm_new_psp(p->psp, &p->ek)) < 0 ||
		    (r = hv_kvm_open_emulated(p->ek, &p->kvm)) < 0) {
			fail(err, errlen, r, "emulated KVM");
			goto bad;
		}
		emul_kvm_set_tdx_module(p->ek, p->tdx_module);
	} else {
		if ((r = hv_kvm_open_native(p->dev_root, &p->kvm)) < 0) {
			fail(err, errlen, r, "KVM");
			goto bad;
		}
		if ((r = hv_sev_open_native(p->dev_root, false, &p->sev)) < 0)
			p->sev_errno = -r; /* no /dev/sev: the probe and each command say so */
		if ((r = hv_tdx_open(p->sysfs_root, NULL, &p->tdx)) < 0) {
			fail(err, errlen, r, "TDX sysfs");
			goto bad;
		}
	}
	*ret = p;
	return 0;
bad:
	hv_platform_close(p);
	return r;
}

void hv_platform_close(struct hv_platform *p)
{
	if (!p)
		return;
	hv_kvm_free(p->kvm); /* guests launched on it are gone by now */
	emul_kvm_free(p->ek);
	if (p->sev_rw != p->sev)
		hv_sev_free(p->sev_rw);
	hv_sev_free(p->sev);
	emul_psp_free(p->psp);
	hv_tdx_free(p->tdx);
	emul_tdx_kernel_stop(p->tdx_kernel); /* joins its thread before the module goes */
	emul_tdx_module_free(p->tdx_module);
	free(p->sysfs_root);
	free(p->dev_root);
	free(p);
}

enum coco_platform hv_platform_kind(const struct hv_platform *p)
{
	return p->kind;
}

struct hv_sev *hv_platform_sev(struct hv_platform *p, bool writable, int *ret_errno)
{
	if (!writable) {
		if (!p->sev && ret_errno)
			*ret_errno = p->sev_errno ? p->sev_errno : ENODEV;
		return p->sev;
	}
	if (!p->sev_rw && p->kind == COCO_PLATFORM_NATIVE) {
		int r = hv_sev_open_native(p->dev_root, true, &p->sev_rw);
		p->sev_rw_errno = r < 0 ? -r : 0;
	}
	if (!p->sev_rw && ret_errno)
		*ret_errno = p->sev_rw_errno ? p->sev_rw_errno : ENODEV;
	return p->sev_rw;
}

enum snp_product hv_platform_snp_product(const struct hv_platform *p)
{
	if (p->psp)
		return emul_psp_product(p->psp);
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return SNP_PRODUCT_UNKNOWN;
	return snp_product_from_cpuid(a);
}

uint32_t hv_platform_cpuid_1_eax(const struct hv_platform *p)
{
	if (p->kind == COCO_PLATFORM_EMULATED)
		return TDX_BLOBGEN_CPUID_DEFAULT; /* emul_tdx_start leaves the module's default */
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return a;
}

struct hv_tdx *hv_platform_tdx(struct hv_platform *p)
{
	return p->tdx;
}

struct emul_tdx_kernel *hv_platform_emul_tdx_kernel(struct hv_platform *p)
{
	return p->tdx_kernel;
}

struct hv_kvm *hv_platform_kvm(struct hv_platform *p)
{
	return p->kvm;
}

int hv_platform_snp_hv_report(struct hv_platform *p, int vm_fd, uint8_t ret[HV_SNP_REPORT_SIZE],
			      uint32_t *ret_fw_error, char *err, size_t errlen)
{
	if (!p->ek) {
		snprintf(err, errlen,
			 "SNP_HV_REPORT_REQ: the kernel does not expose it to userspace (no KVM "
			 "ioctl for host-requested reports); the guest's own report is the evidence");
		return -EOPNOTSUPP;
	}
	uint32_t handle;
	int r = emul_kvm_snp_handle(p->ek, vm_fd, &handle);
	if (r < 0) {
		snprintf(err, errlen, "SNP_HV_REPORT_REQ: no SNP guest on this VM (%s)", strerror(-r));
		return r;
	}
	if ((r = emul_psp_snp_hv_report(p->psp, handle, ret, ret_fw_error)) < 0)
		snprintf(err, errlen, "SNP_HV_REPORT_REQ: %s", strerror(-r));
	return r;
}

int hv_platform_snp_launch_digest(struct hv_platform *p, int vm_fd, uint8_t ret[48])
{
	if (!p->ek)
		return -EOPNOTSUPP;
	uint32_t handle;
	int r = emul_kvm_snp_handle(p->ek, vm_fd, &handle);
	return r < 0 ? r : emul_psp_snp_launch_digest(p->psp, handle, ret);
}

struct emul_amd_pki *hv_platform_emul_pki(struct hv_platform *p)
{
	return p->psp ? emul_psp_pki(p->psp) : NULL;
}

void hv_host_info_fill_tdx(struct hv_tdx *t, struct hv_host_info *h)
{
	struct hv_tdx_state st;
	hv_tdx_state_read(t, &st);
	h->tdx_host = st.version_errno != ENOENT;
	h->tdx_module_version[0] = h->tdx_seamldr_version[0] = '\0';
	h->tdx_remaining_updates = -1;
	h->tdx_version_errno = 0;
	h->cpus_known = st.cpus_errno == 0;
	if (h->cpus_known) {
		h->cpus_online = st.cpus_online;
		/* The update needs every present CPU online (possible when present is unknown). */
		h->cpus_possible = st.cpus_online + st.cpus_missing;
	}
	if (!h->tdx_host)
		return;
	char v[HV_TDX_VERSION_STRLEN];
	if (st.version_errno)
		h->tdx_version_errno = st.version_errno; /* ENXIO: module lost, reboot required */
	else {
		hv_tdx_version_format(&st.version, v);
		snprintf(h->tdx_module_version, sizeof(h->tdx_module_version), "%s", v);
	}
	if (!st.seamldr_errno) {
		hv_tdx_version_format(&st.seamldr, v);
		snprintf(h->tdx_seamldr_version, sizeof(h->tdx_seamldr_version), "%s", v);
	}
	if (!st.remaining_errno)
		h->tdx_remaining_updates = st.remaining_updates;
	h->tdx_update_interface = st.update_interface;
}

int hv_platform_probe(struct hv_platform *p, struct hv_host_info *ret)
{
	struct hv_host_info h;
	int r = p->kind == COCO_PLATFORM_EMULATED ? hv_emul_probe(&h)
						  : hv_native_probe(p->sysfs_root, p->dev_root, &h);
	if (r < 0)
		return r;
	hv_host_info_fill_tdx(p->tdx, &h);
	*ret = h;
	return 0;
}

bool hv_host_snp_available(const struct hv_host_info *h)
{
	return h->sev_device && h->kvm_vm_types_known &&
	       (h->kvm_vm_types & (1ull << KVM_X86_SNP_VM));
}

bool hv_host_tdx_available(const struct hv_host_info *h)
{
	return h->tdx_host && h->kvm_vm_types_known && (h->kvm_vm_types & (1ull << KVM_X86_TDX_VM));
}
