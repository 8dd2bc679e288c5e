/* Native platform probe: what this kernel offers, read without changing anything. */
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "hv/platform.h"
#include "hv/uapi/kvm_compat.h"

/* Read one sysfs attribute (first line, at most n-1 bytes). */
static int sysfs_read_line(const char *root, const char *rel, char *buf, size_t n)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, buf, n - 1);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

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

static void probe_tdx(const char *sysfs_root, struct hv_host_info *h)
{
	char buf[sizeof(h->tdx_module_version)];
	/* Linux 7.2: /sys/devices/faux/tdx_host/{version,seamldr_version,num_remaining_updates} */
	int r = sysfs_read_line(sysfs_root, "devices/faux/tdx_host/version", buf, sizeof(buf));
	if (r == -ENOENT)
		return;
	h->tdx_host = true;
	if (r < 0)
		h->tdx_version_errno = -r; /* ENXIO after a failed update: reboot required */
	else
		snprintf(h->tdx_module_version, sizeof(h->tdx_module_version), "%s", buf);
	if (sysfs_read_line(sysfs_root, "devices/faux/tdx_host/seamldr_version", buf,
			    sizeof(buf)) == 0)
		snprintf(h->tdx_seamldr_version, sizeof(h->tdx_seamldr_version), "%s", buf);
	uint64_t n;
	if (sysfs_read_line(sysfs_root, "devices/faux/tdx_host/num_remaining_updates", buf,
			    sizeof(buf)) == 0 &&
	    parse_uint(buf, LONG_MAX, &n) == 0)
		h->tdx_remaining_updates = (long)n;
	char path[4200];
	snprintf(path, sizeof(path), "%s/class/firmware/tdx_module/loading", sysfs_root);
	h->tdx_update_interface = access(path, F_OK) == 0;
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
