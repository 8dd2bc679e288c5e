#include "hv/platform.h"

#include "coco/util.h"
#include "hv/uapi/kvm_compat.h"

struct hv_platform {
	enum coco_platform kind;
	char *sysfs_root;
	char *dev_root;
};

int hv_platform_open(enum coco_platform kind, const char *sysfs_root, const char *dev_root,
		     struct hv_platform **ret)
{
	if (kind != COCO_PLATFORM_NATIVE && kind != COCO_PLATFORM_EMULATED)
		return -EINVAL;
	struct hv_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = kind;
	p->sysfs_root = strdup(sysfs_root ? sysfs_root : "/sys");
	p->dev_root = strdup(dev_root ? dev_root : "/dev");
	if (!p->sysfs_root || !p->dev_root) {
		hv_platform_close(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void hv_platform_close(struct hv_platform *p)
{
	if (!p)
		return;
	free(p->sysfs_root);
	free(p->dev_root);
	free(p);
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
