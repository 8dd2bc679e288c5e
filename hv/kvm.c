/* KVM ioctls, one small function per command, over a backend's ops (hv/kvm.h). */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "coco/util.h"
#include "hv/kvm.h"

/* --- native backend --- */

struct kvm_native {
	char dev_root[4096];
};

static int native_open_system(void *ctx, int *ret_fd)
{
	struct kvm_native *n = ctx;
	char path[4200];
	snprintf(path, sizeof(path), "%s/kvm", n->dev_root);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static int native_ioctl(void *ctx, int fd, unsigned long request, unsigned long arg)
{
	int r = ioctl(fd, request, arg);
	return r < 0 ? -errno : r;
}

static int native_mmap(void *ctx, int vcpu_fd, size_t size, void **ret)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	return 0;
}

static void native_munmap(void *ctx, void *p, size_t size)
{
	munmap(p, size);
}

static int native_close(void *ctx, int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static void native_free(void *ctx)
{
	free(ctx);
}

static const struct hv_kvm_ops native_ops = {
	.name = "native",
	.open_system = native_open_system,
	.ioctl = native_ioctl,
	.mmap = native_mmap,
	.munmap = native_munmap,
	.close = native_close,
	.free = native_free,
};

int hv_kvm_new(const struct hv_kvm_ops *ops, void *ctx, struct hv_kvm **ret)
{
	struct hv_kvm *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->ops = ops;
	k->ctx = ctx;
	*ret = k;
	return 0;
}

int hv_kvm_open_native(const char *dev_root, struct hv_kvm **ret)
{
	_cleanup_free_ struct kvm_native *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	const char *root = dev_root ? dev_root : "/dev";
	if (strlen(root) >= sizeof(n->dev_root))
		return -ENAMETOOLONG;
	strcpy(n->dev_root, root);
	int r = hv_kvm_new(&native_ops, n, ret);
	if (r < 0)
		return r;
	n = NULL;
	return 0;
}

void hv_kvm_free(struct hv_kvm *k)
{
	if (!k)
		return;
	if (k->ops->free)
		k->ops->free(k->ctx);
	free(k);
}

static int kvm_ioctl(struct hv_kvm *k, int fd, unsigned long request, unsigned long arg)
{
	return k->ops->ioctl(k->ctx, fd, request, arg);
}

static int kvm_ioctl_ptr(struct hv_kvm *k, int fd, unsigned long request, const void *arg)
{
	return k->ops->ioctl(k->ctx, fd, request, (unsigned long)(uintptr_t)arg);
}

/* --- system and VM --- */

int hv_kvm_system_open(struct hv_kvm *k, int *ret_fd)
{
	return k->ops->open_system(k->ctx, ret_fd);
}

int hv_kvm_close(struct hv_kvm *k, int fd)
{
	if (fd < 0)
		return 0;
	return k->ops->close(k->ctx, fd);
}

int hv_kvm_check_extension(struct hv_kvm *k, int fd, long cap, int *ret_value)
{
	int r = kvm_ioctl(k, fd, KVM_CHECK_EXTENSION, (unsigned long)cap);
	if (r < 0)
		return r;
	*ret_value = r;
	return 0;
}

int hv_kvm_sev_get_attr(struct hv_kvm *k, int sys_fd, uint64_t attr, uint64_t *ret_value)
{
	uint64_t value = 0;
	struct kvm_device_attr a = {
		.group = KVM_X86_GRP_SEV,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)&value,
	};
	int r = kvm_ioctl_ptr(k, sys_fd, KVM_GET_DEVICE_ATTR, &a);
	if (r < 0)
		return r;
	*ret_value = value;
	return 0;
}

int hv_kvm_create_vm(struct hv_kvm *k, int sys_fd, unsigned long type, int *ret_vm_fd)
{
	int r = kvm_ioctl(k, sys_fd, KVM_CREATE_VM, type);
	if (r < 0)
		return r;
	*ret_vm_fd = r;
	return 0;
}

int hv_kvm_vcpu_mmap_size(struct hv_kvm *k, int sys_fd, size_t *ret_size)
{
	int r = kvm_ioctl(k, sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < 0)
		return r;
	if ((size_t)r < sizeof(struct kvm_run))
		return -EPROTO;
	*ret_size = (size_t)r;
	return 0;
}

/* --- memory --- */

int hv_kvm_create_guest_memfd(struct hv_kvm *k, int vm_fd, uint64_t size, uint64_t flags,
			      int *ret_fd)
{
	struct kvm_create_guest_memfd g = {.size = size, .flags = flags};
	int r = kvm_ioctl_ptr(k, vm_fd, KVM_CREATE_GUEST_MEMFD, &g);
	if (r < 0)
		return r;
	*ret_fd = r;
	return 0;
}

int hv_kvm_set_memory_region2(struct hv_kvm *k, int vm_fd, const struct hv_kvm_memslot *s)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = s->slot,
		.flags = s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = s->uaddr,
		.guest_memfd_offset = s->gmem_offset,
		.guest_memfd = s->gmem_fd < 0 ? 0 : (uint32_t)s->gmem_fd,
	};
	int r = kvm_ioctl_ptr(k, vm_fd, KVM_SET_USER_MEMORY_REGION2, &m);
	return r < 0 ? r : 0;
}

int hv_kvm_set_memory_private(struct hv_kvm *k, int vm_fd, uint64_t gpa, uint64_t size,
			      bool private_)
{
	struct kvm_memory_attributes a = {
		.address = gpa,
		.size = size,
		.attributes = private_ ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	int r = kvm_ioctl_ptr(k, vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
	return r < 0 ? r : 0;
}

/* --- vCPUs --- */

int hv_kvm_create_vcpu(struct hv_kvm *k, int vm_fd, unsigned long id, int *ret_vcpu_fd)
{
	int r = kvm_ioctl(k, vm_fd, KVM_CREATE_VCPU, id);
	if (r < 0)
		return r;
	*ret_vcpu_fd = r;
	return 0;
}

int hv_kvm_map_run(struct hv_kvm *k, int vcpu_fd, size_t size, struct kvm_run **ret)
{
	if (!k->ops->mmap)
		return -EOPNOTSUPP;
	void *p;
	int r = k->ops->mmap(k->ctx, vcpu_fd, size, &p);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

void hv_kvm_unmap_run(struct hv_kvm *k, struct kvm_run *run, size_t size)
{
	if (run && k->ops->munmap)
		k->ops->munmap(k->ctx, run, size);
}

int hv_kvm_run(struct hv_kvm *k, int vcpu_fd)
{
	int r = kvm_ioctl(k, vcpu_fd, KVM_RUN, 0);
	return r < 0 ? r : 0;
}

int hv_kvm_get_regs(struct hv_kvm *k, int vcpu_fd, struct kvm_regs *ret)
{
	struct kvm_regs regs = {0};
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_GET_REGS, &regs);
	if (r < 0)
		return r;
	*ret = regs;
	return 0;
}

int hv_kvm_set_regs(struct hv_kvm *k, int vcpu_fd, const struct kvm_regs *regs)
{
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_SET_REGS, regs);
	return r < 0 ? r : 0;
}

int hv_kvm_get_sregs(struct hv_kvm *k, int vcpu_fd, struct kvm_sregs *ret)
{
	struct kvm_sregs sregs = {0};
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return r;
	*ret = sregs;
	return 0;
}

int hv_kvm_set_sregs(struct hv_kvm *k, int vcpu_fd, const struct kvm_sregs *sregs)
{
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_SET_SREGS, sregs);
	return r < 0 ? r : 0;
}

int hv_kvm_set_fpu(struct hv_kvm *k, int vcpu_fd, const struct kvm_fpu *fpu)
{
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_SET_FPU, fpu);
	return r < 0 ? r : 0;
}

int hv_kvm_set_xcrs(struct hv_kvm *k, int vcpu_fd, const struct kvm_xcrs *xcrs)
{
	int r = kvm_ioctl_ptr(k, vcpu_fd, KVM_SET_XCRS, xcrs);
	return r < 0 ? r : 0;
}

/* --- SEV / SEV-SNP --- */

int hv_kvm_sev_op(struct hv_kvm *k, int vm_fd, struct kvm_sev_cmd *cmd)
{
	int r = kvm_ioctl_ptr(k, vm_fd, KVM_MEMORY_ENCRYPT_OP, cmd);
	return r < 0 ? r : 0;
}

/* One SEV command: the firmware status when it got that far; -EIO when it refused. */
static int sev_cmd(struct hv_kvm *k, int vm_fd, uint32_t id, void *data, uint32_t *ret_fw_error)
{
	struct kvm_sev_cmd cmd = {.id = id, .data = (uint64_t)(uintptr_t)data};
	int r = hv_kvm_sev_op(k, vm_fd, &cmd);
	if (ret_fw_error)
		*ret_fw_error = cmd.error;
	if (r < 0)
		return r;
	return cmd.error ? -EIO : 0;
}

int hv_kvm_sev_init2(struct hv_kvm *k, int vm_fd, uint64_t vmsa_features, uint16_t ghcb_version,
		     uint32_t *ret_fw_error)
{
	struct kvm_sev_init init = {.vmsa_features = vmsa_features, .ghcb_version = ghcb_version};
	return sev_cmd(k, vm_fd, KVM_SEV_INIT2, &init, ret_fw_error);
}

int hv_kvm_snp_launch_start(struct hv_kvm *k, int vm_fd, uint64_t policy,
			    const uint8_t gosvw[16], uint32_t *ret_fw_error)
{
	struct kvm_sev_snp_launch_start s = {.policy = policy};
	if (gosvw)
		memcpy(s.gosvw, gosvw, sizeof(s.gosvw));
	return sev_cmd(k, vm_fd, KVM_SEV_SNP_LAUNCH_START, &s, ret_fw_error);
}

int hv_kvm_snp_launch_update(struct hv_kvm *k, int vm_fd, uint64_t gpa, const void *src,
			     uint64_t len, uint8_t type, uint32_t *ret_fw_error)
{
	if (gpa & 0xfff || len & 0xfff || len == 0)
		return -EINVAL;
	struct kvm_sev_snp_launch_update u = {
		.gfn_start = gpa >> 12,
		.uaddr = (uint64_t)(uintptr_t)src,
		.len = len,
		.type = type,
	};
	/* Linux api: on success KVM may have processed only part of the range; gfn_start, uaddr
	 * and len then describe what is left. Continue until len is 0. */
	while (u.len) {
		uint64_t before = u.len;
		int r = sev_cmd(k, vm_fd, KVM_SEV_SNP_LAUNCH_UPDATE, &u, ret_fw_error);
		if (r < 0)
			return r;
		if (u.len >= before)
			return -EPROTO; /* no progress: do not spin */
	}
	return 0;
}

int hv_kvm_snp_launch_finish(struct hv_kvm *k, int vm_fd, const struct hv_kvm_snp_finish *f,
			     uint32_t *ret_fw_error)
{
	struct kvm_sev_snp_launch_finish s = {0};
	if (f && f->id_block) {
		if (!f->id_auth)
			return -EINVAL;
		s.id_block_en = 1;
		s.id_block_uaddr = (uint64_t)(uintptr_t)f->id_block;
		s.id_auth_uaddr = (uint64_t)(uintptr_t)f->id_auth;
		s.auth_key_en = f->auth_key_en;
	}
	if (f && f->host_data)
		memcpy(s.host_data, f->host_data, sizeof(s.host_data));
	return sev_cmd(k, vm_fd, KVM_SEV_SNP_LAUNCH_FINISH, &s, ret_fw_error);
}

int hv_kvm_snp_enable_req_certs(struct hv_kvm *k, int vm_fd, uint32_t *ret_fw_error)
{
	return sev_cmd(k, vm_fd, KVM_SEV_SNP_ENABLE_REQ_CERTS, NULL, ret_fw_error);
}

/* --- TDX --- */

int hv_kvm_tdx_op(struct hv_kvm *k, int fd, struct kvm_tdx_cmd *cmd)
{
	int r = kvm_ioctl_ptr(k, fd, KVM_MEMORY_ENCRYPT_OP, cmd);
	return r < 0 ? r : 0;
}

static int tdx_cmd(struct hv_kvm *k, int fd, uint32_t id, uint32_t flags, uint64_t data,
		   uint64_t *ret_hw_error)
{
	struct kvm_tdx_cmd cmd = {.id = id, .flags = flags, .data = data};
	int r = hv_kvm_tdx_op(k, fd, &cmd);
	if (ret_hw_error)
		*ret_hw_error = cmd.hw_error;
	return r;
}

int hv_kvm_tdx_capabilities(struct hv_kvm *k, int vm_fd, struct kvm_tdx_capabilities *caps,
			    uint64_t *ret_hw_error)
{
	return tdx_cmd(k, vm_fd, KVM_TDX_CAPABILITIES, 0, (uint64_t)(uintptr_t)caps, ret_hw_error);
}

int hv_kvm_tdx_init_vm(struct hv_kvm *k, int vm_fd, struct kvm_tdx_init_vm *init,
		       uint64_t *ret_hw_error)
{
	return tdx_cmd(k, vm_fd, KVM_TDX_INIT_VM, 0, (uint64_t)(uintptr_t)init, ret_hw_error);
}

int hv_kvm_tdx_init_vcpu(struct hv_kvm *k, int vcpu_fd, uint64_t rcx, uint64_t *ret_hw_error)
{
	return tdx_cmd(k, vcpu_fd, KVM_TDX_INIT_VCPU, 0, rcx, ret_hw_error);
}

int hv_kvm_tdx_init_mem_region(struct hv_kvm *k, int vcpu_fd, const void *src, uint64_t gpa,
			       uint64_t npages, bool measure, uint64_t *ret_hw_error)
{
	struct kvm_tdx_init_mem_region m = {
		.source_addr = (uint64_t)(uintptr_t)src,
		.gpa = gpa,
		.nr_pages = npages,
	};
	/* Like SNP's update, KVM may stop early (-EAGAIN after a signal) with the struct advanced. */
	while (m.nr_pages) {
		uint64_t before = m.nr_pages;
		int r = tdx_cmd(k, vcpu_fd, KVM_TDX_INIT_MEM_REGION,
				measure ? (uint32_t)KVM_TDX_MEASURE_MEMORY_REGION : 0,
				(uint64_t)(uintptr_t)&m, ret_hw_error);
		if (r < 0 && !(r == -EAGAIN && m.nr_pages < before))
			return r;
		if (m.nr_pages >= before)
			return -EPROTO;
	}
	return 0;
}

int hv_kvm_tdx_finalize_vm(struct hv_kvm *k, int vm_fd, uint64_t *ret_hw_error)
{
	return tdx_cmd(k, vm_fd, KVM_TDX_FINALIZE_VM, 0, 0, ret_hw_error);
}

const char *hv_kvm_vm_type_name(unsigned long type)
{
	switch (type) {
	case KVM_X86_DEFAULT_VM:
		return "default";
	case KVM_X86_SW_PROTECTED_VM:
		return "sw-protected";
	case KVM_X86_SEV_VM:
		return "sev";
	case KVM_X86_SEV_ES_VM:
		return "sev-es";
	case KVM_X86_SNP_VM:
		return "snp";
	case KVM_X86_TDX_VM:
		return "tdx";
	default:
		return "unknown";
	}
}
