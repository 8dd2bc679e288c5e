/* KVM UAPI definitions newer than Debian 12's 6.1 headers, used only when the system's
 * <linux/kvm.h> (and the <asm/kvm.h> it includes) lacks them. Values and layouts from upstream
 * include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h; every size and offset is
 * asserted below, whichever header supplied the definition.
 *
 * Enumerators (sev_cmd_id, kvm_tdx_cmd_id) are not macros, so #ifndef cannot see them: each
 * group is guarded by a macro that the same header release introduced, detected here before
 * anything in this file defines it. */
#pragma once
#include <stddef.h>
#include <linux/kvm.h>

#ifdef KVM_X86_SEV_VMSA_FEATURES /* Linux 6.10: KVM_SEV_INIT2, struct kvm_sev_init */
#define HV_SYS_KVM_SEV_INIT2 1
#endif
#ifdef KVM_X86_SNP_VM /* Linux 6.11: SNP launch commands and structs */
#define HV_SYS_KVM_SNP 1
#endif
#ifdef KVM_X86_TDX_VM /* Linux 6.16: KVM_TDX_* */
#define HV_SYS_KVM_TDX 1
#endif
#ifdef KVM_X86_SEV_SNP_REQ_CERTS /* Linux 7.0: KVM_SEV_SNP_ENABLE_REQ_CERTS */
#define HV_SYS_KVM_SNP_REQ_CERTS 1
#endif

#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235 /* Linux 6.8: bitmask of supported KVM_X86_*_VM types */
#endif
#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM 0
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_X86_SEV_VM
#define KVM_X86_SEV_VM 2
#endif
#ifndef KVM_X86_SEV_ES_VM
#define KVM_X86_SEV_ES_VM 3
#endif
#ifndef KVM_X86_SNP_VM
#define KVM_X86_SNP_VM 4 /* Linux 6.11 */
#endif
#ifndef KVM_X86_TDX_VM
#define KVM_X86_TDX_VM 5 /* Linux 6.16 */
#endif

/* --- guest_memfd and memory attributes (Linux 6.8) --- */
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_SET_MEMORY_ATTRIBUTES
struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#endif
#ifndef KVM_MEMORY_ATTRIBUTE_PRIVATE
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#endif
#ifndef KVM_CREATE_GUEST_MEMFD
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif

/* --- SEV: KVM_SEV_INIT2 (Linux 6.10) --- */
#ifndef HV_SYS_KVM_SEV_INIT2
#define KVM_SEV_INIT2 22
struct kvm_sev_init {
	__u64 vmsa_features;
	__u32 flags;
	__u16 ghcb_version;
	__u16 pad1;
	__u32 pad2[8];
};
#define KVM_X86_GRP_SEV 1
#define KVM_X86_SEV_VMSA_FEATURES 0
#else
_Static_assert(KVM_SEV_INIT2 == 22, "KVM_SEV_INIT2");
#endif

/* --- SEV-SNP launch (Linux 6.11) --- */
#ifndef HV_SYS_KVM_SNP
#define KVM_SEV_SNP_LAUNCH_START 100
#define KVM_SEV_SNP_LAUNCH_UPDATE 101
#define KVM_SEV_SNP_LAUNCH_FINISH 102
struct kvm_sev_snp_launch_start {
	__u64 policy;
	__u8 gosvw[16];
	__u16 flags;
	__u8 pad0[6];
	__u64 pad1[4];
};
struct kvm_sev_snp_launch_update {
	__u64 gfn_start;
	__u64 uaddr;
	__u64 len;
	__u8 type;
	__u8 pad0;
	__u16 flags;
	__u32 pad1;
	__u64 pad2[4];
};
struct kvm_sev_snp_launch_finish {
	__u64 id_block_uaddr;
	__u64 id_auth_uaddr;
	__u8 id_block_en;
	__u8 auth_key_en;
	__u8 vcek_disabled;
	__u8 host_data[32];
	__u8 pad0[3];
	__u16 flags;
	__u64 pad1[4];
};
#else
_Static_assert(KVM_SEV_SNP_LAUNCH_START == 100, "KVM_SEV_SNP_LAUNCH_START");
_Static_assert(KVM_SEV_SNP_LAUNCH_UPDATE == 101, "KVM_SEV_SNP_LAUNCH_UPDATE");
_Static_assert(KVM_SEV_SNP_LAUNCH_FINISH == 102, "KVM_SEV_SNP_LAUNCH_FINISH");
#endif
/* The page types LAUNCH_UPDATE takes (the SNP ABI's PAGE_TYPE; VMSA pages are KVM's own). */
#ifndef KVM_SEV_SNP_PAGE_TYPE_NORMAL
#define KVM_SEV_SNP_PAGE_TYPE_NORMAL 0x1
#endif
#ifndef KVM_SEV_SNP_PAGE_TYPE_ZERO
#define KVM_SEV_SNP_PAGE_TYPE_ZERO 0x3
#endif
#ifndef KVM_SEV_SNP_PAGE_TYPE_UNMEASURED
#define KVM_SEV_SNP_PAGE_TYPE_UNMEASURED 0x4
#endif
#ifndef KVM_SEV_SNP_PAGE_TYPE_SECRETS
#define KVM_SEV_SNP_PAGE_TYPE_SECRETS 0x5
#endif
#ifndef KVM_SEV_SNP_PAGE_TYPE_CPUID
#define KVM_SEV_SNP_PAGE_TYPE_CPUID 0x6
#endif
#ifndef KVM_SEV_SNP_ID_BLOCK_SIZE
#define KVM_SEV_SNP_ID_BLOCK_SIZE 96
#endif
#ifndef KVM_SEV_SNP_ID_AUTH_SIZE
#define KVM_SEV_SNP_ID_AUTH_SIZE 4096
#endif
#ifndef KVM_SEV_SNP_FINISH_DATA_SIZE
#define KVM_SEV_SNP_FINISH_DATA_SIZE 32
#endif

/* --- SNP certificate fetching (Linux 7.0) --- */
#ifndef HV_SYS_KVM_SNP_REQ_CERTS
#define KVM_SEV_SNP_ENABLE_REQ_CERTS 103
#define KVM_X86_SEV_SNP_REQ_CERTS 2 /* KVM_X86_GRP_SEV device attribute: 1 if supported */
#else
_Static_assert(KVM_SEV_SNP_ENABLE_REQ_CERTS == 103, "KVM_SEV_SNP_ENABLE_REQ_CERTS");
#endif
#ifndef KVM_EXIT_SNP_REQ_CERTS
#define KVM_EXIT_SNP_REQ_CERTS 43
#else
_Static_assert(KVM_EXIT_SNP_REQ_CERTS == 43, "KVM_EXIT_SNP_REQ_CERTS");
#endif
/* kvm_run's snp_req_certs member, under our own name: 6.1's kvm_run has no such member, so it
 * is reached through hv_kvm_run_snp_req_certs_get/_set at the start of the exit union. */
struct hv_kvm_exit_snp_req_certs {
	__u64 gpa;    /* guest RAX: 4 KiB aligned (KVM checks), otherwise unvalidated */
	__u64 npages; /* guest RBX: pages at gpa; on ENOSPC userspace writes the pages needed */
	__u64 ret;    /* userspace: 0, ENOSPC, EAGAIN or EIO (positive); KVM_RUN -EINVAL else */
};
#define HV_KVM_RUN_EXIT_UNION_OFFSET 32

/* --- TDX (Linux 6.16) --- */
#ifndef HV_SYS_KVM_TDX
#define KVM_TDX_CAPABILITIES 0
#define KVM_TDX_INIT_VM 1
#define KVM_TDX_INIT_VCPU 2
#define KVM_TDX_INIT_MEM_REGION 3
#define KVM_TDX_FINALIZE_VM 4
#define KVM_TDX_GET_CPUID 5
struct kvm_tdx_cmd {
	__u32 id;	/* KVM_TDX_* */
	__u32 flags;	/* sub-command flags, 0 unless stated */
	__u64 data;	/* immediate, or a pointer in this process */
	__u64 hw_error; /* out: the SEAMCALL status */
};
struct kvm_tdx_capabilities {
	__u64 supported_attrs;
	__u64 supported_xfam;
	__u64 kernel_tdvmcallinfo_1_r11;
	__u64 user_tdvmcallinfo_1_r11;
	__u64 kernel_tdvmcallinfo_1_r12;
	__u64 user_tdvmcallinfo_1_r12;
	__u64 reserved[250];
	struct kvm_cpuid2 cpuid; /* configurable CPUID bits; entries follow */
};
struct kvm_tdx_init_vm {
	__u64 attributes;
	__u64 xfam;
	__u64 mrconfigid[6];
	__u64 mrowner[6];
	__u64 mrownerconfig[6];
	__u64 reserved[12]; /* TD_PARAMS before the CPUIDs is 256 bytes */
	struct kvm_cpuid2 cpuid;
};
struct kvm_tdx_init_mem_region {
	__u64 source_addr;
	__u64 gpa;
	__u64 nr_pages;
};
#else
_Static_assert(KVM_TDX_CAPABILITIES == 0 && KVM_TDX_INIT_VM == 1 && KVM_TDX_INIT_VCPU == 2 &&
		       KVM_TDX_INIT_MEM_REGION == 3 && KVM_TDX_FINALIZE_VM == 4,
	       "KVM_TDX_* command numbers");
#endif
#ifndef KVM_TDX_MEASURE_MEMORY_REGION
#define KVM_TDX_MEASURE_MEMORY_REGION (1ULL << 0)
#endif

/* --- Sizes, offsets and ioctl numbers against the kernel ABI --- */
_Static_assert(sizeof(struct kvm_sev_cmd) == 24, "kvm_sev_cmd");
_Static_assert(offsetof(struct kvm_sev_cmd, data) == 8, "kvm_sev_cmd.data");
_Static_assert(offsetof(struct kvm_sev_cmd, error) == 16, "kvm_sev_cmd.error");
_Static_assert(offsetof(struct kvm_sev_cmd, sev_fd) == 20, "kvm_sev_cmd.sev_fd");
_Static_assert(KVM_MEMORY_ENCRYPT_OP == 0xc008aeba, "KVM_MEMORY_ENCRYPT_OP");

_Static_assert(sizeof(struct kvm_sev_init) == 48, "kvm_sev_init");
_Static_assert(offsetof(struct kvm_sev_init, flags) == 8, "kvm_sev_init.flags");
_Static_assert(offsetof(struct kvm_sev_init, ghcb_version) == 12, "kvm_sev_init.ghcb_version");
_Static_assert(offsetof(struct kvm_sev_init, pad2) == 16, "kvm_sev_init.pad2");

_Static_assert(sizeof(struct kvm_sev_snp_launch_start) == 64, "kvm_sev_snp_launch_start");
_Static_assert(offsetof(struct kvm_sev_snp_launch_start, gosvw) == 8, "launch_start.gosvw");
_Static_assert(offsetof(struct kvm_sev_snp_launch_start, flags) == 24, "launch_start.flags");
_Static_assert(offsetof(struct kvm_sev_snp_launch_start, pad1) == 32, "launch_start.pad1");
_Static_assert(sizeof(struct kvm_sev_snp_launch_update) == 64, "kvm_sev_snp_launch_update");
_Static_assert(offsetof(struct kvm_sev_snp_launch_update, uaddr) == 8, "launch_update.uaddr");
_Static_assert(offsetof(struct kvm_sev_snp_launch_update, len) == 16, "launch_update.len");
_Static_assert(offsetof(struct kvm_sev_snp_launch_update, type) == 24, "launch_update.type");
_Static_assert(offsetof(struct kvm_sev_snp_launch_update, flags) == 26, "launch_update.flags");
_Static_assert(offsetof(struct kvm_sev_snp_launch_update, pad2) == 32, "launch_update.pad2");
_Static_assert(sizeof(struct kvm_sev_snp_launch_finish) == 88, "kvm_sev_snp_launch_finish");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, id_auth_uaddr) == 8, "finish.id_auth");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, id_block_en) == 16, "finish.id_block_en");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, auth_key_en) == 17, "finish.auth_key_en");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, vcek_disabled) == 18, "finish.vcek_dis");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, host_data) == 19, "finish.host_data");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, flags) == 54, "finish.flags");
_Static_assert(offsetof(struct kvm_sev_snp_launch_finish, pad1) == 56, "finish.pad1");

_Static_assert(sizeof(struct hv_kvm_exit_snp_req_certs) == 24, "kvm_exit_snp_req_certs");
_Static_assert(offsetof(struct kvm_run, mmio) == HV_KVM_RUN_EXIT_UNION_OFFSET, "kvm_run union");
#ifdef HV_SYS_KVM_SNP_REQ_CERTS
_Static_assert(offsetof(struct kvm_run, snp_req_certs) == HV_KVM_RUN_EXIT_UNION_OFFSET,
	       "kvm_run.snp_req_certs");
_Static_assert(sizeof(struct kvm_exit_snp_req_certs) == 24, "kvm_exit_snp_req_certs");
#endif

_Static_assert(sizeof(struct kvm_userspace_memory_region2) == 160, "memory_region2");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, guest_phys_addr) == 8, "region2.gpa");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, userspace_addr) == 24, "region2.uaddr");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd_offset) == 32,
	       "region2.guest_memfd_offset");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, guest_memfd) == 40, "region2.gmem");
_Static_assert(offsetof(struct kvm_userspace_memory_region2, pad2) == 48, "region2.pad2");
_Static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40a0ae49, "KVM_SET_USER_MEMORY_REGION2");
_Static_assert(sizeof(struct kvm_memory_attributes) == 32, "kvm_memory_attributes");
_Static_assert(offsetof(struct kvm_memory_attributes, attributes) == 16, "attributes.attributes");
_Static_assert(KVM_SET_MEMORY_ATTRIBUTES == 0x4020aed2, "KVM_SET_MEMORY_ATTRIBUTES");
_Static_assert(sizeof(struct kvm_create_guest_memfd) == 64, "kvm_create_guest_memfd");
_Static_assert(KVM_CREATE_GUEST_MEMFD == 0xc040aed4, "KVM_CREATE_GUEST_MEMFD");

_Static_assert(sizeof(struct kvm_tdx_cmd) == 24, "kvm_tdx_cmd");
_Static_assert(offsetof(struct kvm_tdx_cmd, data) == 8, "kvm_tdx_cmd.data");
_Static_assert(offsetof(struct kvm_tdx_cmd, hw_error) == 16, "kvm_tdx_cmd.hw_error");
_Static_assert(offsetof(struct kvm_tdx_capabilities, cpuid) == 2048, "tdx_capabilities.cpuid");
_Static_assert(sizeof(struct kvm_tdx_capabilities) == 2056, "kvm_tdx_capabilities");
_Static_assert(offsetof(struct kvm_tdx_init_vm, mrconfigid) == 16, "tdx_init_vm.mrconfigid");
_Static_assert(offsetof(struct kvm_tdx_init_vm, mrowner) == 64, "tdx_init_vm.mrowner");
_Static_assert(offsetof(struct kvm_tdx_init_vm, mrownerconfig) == 112, "tdx_init_vm.mrownercfg");
_Static_assert(offsetof(struct kvm_tdx_init_vm, cpuid) == 256, "tdx_init_vm.cpuid");
_Static_assert(sizeof(struct kvm_tdx_init_vm) == 264, "kvm_tdx_init_vm");
_Static_assert(sizeof(struct kvm_tdx_init_mem_region) == 24, "kvm_tdx_init_mem_region");

/* The exit's fields live at the start of kvm_run's exit union (KVM_EXIT_SNP_REQ_CERTS). */
static inline void hv_kvm_run_snp_req_certs_get(const struct kvm_run *run,
						struct hv_kvm_exit_snp_req_certs *ret)
{
	__builtin_memcpy(ret, (const char *)run + HV_KVM_RUN_EXIT_UNION_OFFSET, sizeof(*ret));
}
static inline void hv_kvm_run_snp_req_certs_set(struct kvm_run *run,
						const struct hv_kvm_exit_snp_req_certs *v)
{
	__builtin_memcpy((char *)run + HV_KVM_RUN_EXIT_UNION_OFFSET, v, sizeof(*v));
}
