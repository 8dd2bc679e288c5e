#include "hv/platform.h"

#include <cpuid.h>

#include "coco/util.h"
#include "hv/emul/psp.h"
#include "hv/sev.h"
#include "hv/uapi/kvm_compat.h"

struct hv_platform {
	enum coco_platform kind;
	char *sysfs_root;
	char *dev_root;
	/* SEV firmware: read-only handle opened at start, read-write one on first need. */
	struct hv_sev *sev, *sev_rw;
	int sev_errno, sev_rw_errno;
	struct emul_psp *psp; /* emulated only */
};

static int fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
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
	} else if ((r = hv_sev_open_native(p->dev_root, false, &p->sev)) < 0) {
		p->sev_errno = -r; /* no /dev/sev: reported by the probe and by each command */
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
	if (p->sev_rw != p->sev)
		hv_sev_free(p->sev_rw);
	hv_sev_free(p->sev);
	emul_psp_free(p->psp);
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

int hv_platform_probe(struct hv_platform *p, struct hv_host_info *ret)
{
	if (p->kind == COCO_PLATFORM_EMULATED)
		return hv_emul_probe(ret);
	return hv_native_probe(p->sysfs_root, p->dev_root, ret);
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
