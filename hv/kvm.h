/* hv/kvm.h: KVM as a VMM drives it for confidential guests: /dev/kvm, VM and vCPU fds, guest_memfd,
 * and KVM_MEMORY_ENCRYPT_OP (SEV-SNP, TDX) on the kernel's UAPI structs (linux/kvm.h,
 * hv/uapi/kvm_compat.h). The native backend is open(2)/ioctl(2)/mmap(2); the emulated one
 * (hv/emul/kvm.h) implements the same ioctls on the same structs behind fake fds, so every
 * function below runs unchanged in tests.
 *
 * Every function returns 0 (or the documented non-negative value) or a negative errno: the
 * ioctl's errno, or -EIO when the firmware refused (then *ret_fw_error, which may be NULL, holds
 * the SEV firmware status or the TDX SEAMCALL status). Outputs are written only on success. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/uapi/kvm_compat.h"

struct hv_kvm_ops {
	const char *name; /* "native" or "emulated" */
	/* The /dev/kvm system fd. */
	int (*open_system)(void *ctx, int *ret_fd);
	/* ioctl(2) on a fd this backend handed out: >= 0 (the ioctl's value) or -errno. `arg` is
	 * the ioctl argument: a pointer to the UAPI struct, or an integer (KVM_CREATE_VM type). */
	int (*ioctl)(void *ctx, int fd, unsigned long request, unsigned long arg);
	/* Map a vCPU's kvm_run area (size from KVM_GET_VCPU_MMAP_SIZE). */
	int (*mmap)(void *ctx, int vcpu_fd, size_t size, void **ret);
	void (*munmap)(void *ctx, void *p, size_t size);
	int (*close)(void *ctx, int fd);
	void (*free)(void *ctx);
	/* A finalized TD's TDREPORT_STRUCT (1024 bytes) for report_data, or NULL: the native
	 * kernel gives the host no way to read a TD's measurements (TDG.MR.REPORT is a guest
	 * call); there MRTD comes from the guest's report or quote, i.e. from attestation. */
	int (*tdx_report)(void *ctx, int vm_fd, const uint8_t report_data[64], uint8_t *ret);
};

struct hv_kvm {
	const struct hv_kvm_ops *ops;
	void *ctx;
};

/* Native: opens <dev_root>/kvm (dev_root NULL = "/dev") on each hv_kvm_system_open. */
int hv_kvm_open_native(const char *dev_root, struct hv_kvm **ret);
/* Any backend: wraps ops/ctx (ctx is released by ops->free when the hv_kvm is freed). */
int hv_kvm_new(const struct hv_kvm_ops *ops, void *ctx, struct hv_kvm **ret);
void hv_kvm_free(struct hv_kvm *k);

/* --- system and VM --- */
int hv_kvm_system_open(struct hv_kvm *k, int *ret_fd);
int hv_kvm_close(struct hv_kvm *k, int fd);
/* KVM_CHECK_EXTENSION: the capability's value (0 = absent). */
int hv_kvm_check_extension(struct hv_kvm *k, int fd, long cap, int *ret_value);
/* KVM_GET_DEVICE_ATTR on /dev/kvm, group KVM_X86_GRP_SEV (VMSA features, REQ_CERTS support). */
int hv_kvm_sev_get_attr(struct hv_kvm *k, int sys_fd, uint64_t attr, uint64_t *ret_value);
int hv_kvm_create_vm(struct hv_kvm *k, int sys_fd, unsigned long type, int *ret_vm_fd);
int hv_kvm_vcpu_mmap_size(struct hv_kvm *k, int sys_fd, size_t *ret_size);

/* --- memory --- */
int hv_kvm_create_guest_memfd(struct hv_kvm *k, int vm_fd, uint64_t size, uint64_t flags,
			      int *ret_fd);
struct hv_kvm_memslot {
	uint32_t slot;
	uint32_t flags; /* KVM_MEM_GUEST_MEMFD when gmem_fd is set */
	uint64_t gpa, size;
	uint64_t uaddr; /* shared backing in this process */
	int gmem_fd;
	uint64_t gmem_offset;
};
int hv_kvm_set_memory_region2(struct hv_kvm *k, int vm_fd, const struct hv_kvm_memslot *s);
/* KVM_SET_MEMORY_ATTRIBUTES: KVM_MEMORY_ATTRIBUTE_PRIVATE on (private) or off. */
int hv_kvm_set_memory_private(struct hv_kvm *k, int vm_fd, uint64_t gpa, uint64_t size,
			      bool private_);

/* --- vCPUs --- */
int hv_kvm_create_vcpu(struct hv_kvm *k, int vm_fd, unsigned long id, int *ret_vcpu_fd);
int hv_kvm_map_run(struct hv_kvm *k, int vcpu_fd, size_t size, struct kvm_run **ret);
void hv_kvm_unmap_run(struct hv_kvm *k, struct kvm_run *run, size_t size);
/* KVM_RUN: 0 when the vCPU exited to userspace (run->exit_reason says why). */
int hv_kvm_run(struct hv_kvm *k, int vcpu_fd);
int hv_kvm_get_regs(struct hv_kvm *k, int vcpu_fd, struct kvm_regs *ret);
int hv_kvm_set_regs(struct hv_kvm *k, int vcpu_fd, const struct kvm_regs *regs);
int hv_kvm_get_sregs(struct hv_kvm *k, int vcpu_fd, struct kvm_sregs *ret);
int hv_kvm_set_sregs(struct hv_kvm *k, int vcpu_fd, const struct kvm_sregs *sregs);
int hv_kvm_set_fpu(struct hv_kvm *k, int vcpu_fd, const struct kvm_fpu *fpu);
int hv_kvm_set_xcrs(struct hv_kvm *k, int vcpu_fd, const struct kvm_xcrs *xcrs);

/* --- KVM_MEMORY_ENCRYPT_OP: SEV / SEV-SNP (VM fd) --- */
/* The raw op: cmd->error receives the firmware status. */
int hv_kvm_sev_op(struct hv_kvm *k, int vm_fd, struct kvm_sev_cmd *cmd);
/* KVM_SEV_INIT2. vmsa_features without SNP_ACTIVE (bit 0): KVM sets it for SNP VMs and
 * Linux 6.11-7.0 refuse it here. ghcb_version 0 = KVM's default (2). */
int hv_kvm_sev_init2(struct hv_kvm *k, int vm_fd, uint64_t vmsa_features, uint16_t ghcb_version,
		     uint32_t *ret_fw_error);
int hv_kvm_snp_launch_start(struct hv_kvm *k, int vm_fd, uint64_t policy,
			    const uint8_t gosvw[16], uint32_t *ret_fw_error);
/* KVM_SEV_SNP_LAUNCH_UPDATE over [gpa, gpa + len) from `src` (page-aligned; NULL for ZERO
 * pages), repeated while KVM reports partial progress. The range must be private already. */
int hv_kvm_snp_launch_update(struct hv_kvm *k, int vm_fd, uint64_t gpa, const void *src,
			     uint64_t len, uint8_t type, uint32_t *ret_fw_error);
struct hv_kvm_snp_finish {
	const uint8_t *id_block; /* KVM_SEV_SNP_ID_BLOCK_SIZE bytes, or NULL */
	const uint8_t *id_auth;	 /* KVM_SEV_SNP_ID_AUTH_SIZE bytes (with id_block) */
	bool auth_key_en;
	const uint8_t *host_data; /* 32 bytes, or NULL for zeros */
};
/* KVM_SEV_SNP_LAUNCH_FINISH: KVM measures every vCPU's VMSA, then the firmware finishes. */
int hv_kvm_snp_launch_finish(struct hv_kvm *k, int vm_fd, const struct hv_kvm_snp_finish *f,
			     uint32_t *ret_fw_error);
/* KVM_SEV_SNP_ENABLE_REQ_CERTS (Linux 7.0): before any vCPU exists. */
int hv_kvm_snp_enable_req_certs(struct hv_kvm *k, int vm_fd, uint32_t *ret_fw_error);

/* --- KVM_MEMORY_ENCRYPT_OP: TDX (Linux 6.16) --- */
int hv_kvm_tdx_op(struct hv_kvm *k, int fd, struct kvm_tdx_cmd *cmd);
/* caps->cpuid.nent says how many entries follow caps; KVM fills them. */
int hv_kvm_tdx_capabilities(struct hv_kvm *k, int vm_fd, struct kvm_tdx_capabilities *caps,
			    uint64_t *ret_hw_error);
int hv_kvm_tdx_init_vm(struct hv_kvm *k, int vm_fd, struct kvm_tdx_init_vm *init,
		       uint64_t *ret_hw_error);
int hv_kvm_tdx_init_vcpu(struct hv_kvm *k, int vcpu_fd, uint64_t rcx, uint64_t *ret_hw_error);
/* KVM_TDX_INIT_MEM_REGION (a vCPU ioctl): TDH.MEM.PAGE.ADD, and TDH.MR.EXTEND when measure. */
int hv_kvm_tdx_init_mem_region(struct hv_kvm *k, int vcpu_fd, const void *src, uint64_t gpa,
			       uint64_t npages, bool measure, uint64_t *ret_hw_error);
int hv_kvm_tdx_finalize_vm(struct hv_kvm *k, int vm_fd, uint64_t *ret_hw_error);

const char *hv_kvm_vm_type_name(unsigned long type);
