/* Native platform probe: what this kernel offers, read without changing anything. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "hv/platform.h"
#include "hv/tdx.h"
#include "hv/uapi/kvm_compat.h"

static void probe_kvm(const char *dev_root, struct hv_host_info *h)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/kvm", dev_root);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		h->kvm_errno = errno;
		return;
	}
	h->kvm_device = true;
	/* KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) returns the mask of KVM_X86_*_VM types (6.8+);
	 * 0 on older kernels, which only know the default VM type. */
	int r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	if (r < 0) {
		h->kvm_errno = errno;
		return;
	}
	h->kvm_vm_types_known = true;
	h->kvm_vm_types = r > 0 ? (uint64_t)r : (1ull << KVM_X86_DEFAULT_VM);
}

static void probe_sev(const char *dev_root, struct hv_host_info *h)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/sev", dev_root);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		h->sev_errno = errno;
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		h->sev_errno = ENOTTY;
		return;
	}
	h->sev_device = true;
}

/* TDX host: through hv/tdx.c, the same reader the update path uses. */
static void probe_tdx(const char *sysfs_root, struct hv_host_info *h)
{
	struct hv_tdx *t;
	if (hv_tdx_open(sysfs_root, NULL, &t) < 0)
		return;
	hv_host_info_fill_tdx(t, h);
	hv_tdx_free(t);
}

int hv_native_probe(const char *sysfs_root, const char *dev_root, struct hv_host_info *ret)
{
	struct hv_host_info h = {.platform = COCO_PLATFORM_NATIVE, .tdx_remaining_updates = -1};
	probe_sev(dev_root, &h);
	probe_kvm(dev_root, &h);
	probe_tdx(sysfs_root, &h);
	*ret = h;
	return 0;
}
