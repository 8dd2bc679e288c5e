/* hv/emul/kvm.h: an emulated KVM behind hv_kvm's ops. It hands out fake fds for the system, VM,
 * vCPU and guest_memfd handles and implements the ioctls a VMM uses for confidential guests on
 * the kernel's own UAPI structs: VM types (default, SNP, TDX), guest_memfd, memory slots and
 * attributes, vCPU register state, and KVM_MEMORY_ENCRYPT_OP for SEV-SNP (INIT2, LAUNCH_START /
 * UPDATE / FINISH, ENABLE_REQ_CERTS). LAUNCH_UPDATE copies the source pages from this process
 * into the private memory; LAUNCH_FINISH builds each vCPU's VMSA from its register state as
 * KVM's sev_es_sync_vmsa() does and measures it at 0xFFFFFFFFF000, BSP first. The firmware side
 * is the emulated PSP (emul_kvm_new_psp) or any implementation of emul_kvm_snp_fw.
 *
 * A guest's Extended Guest Request (GHCB SNP_GUEST_REQUEST with MSG_REPORT_REQ) is played with
 * emul_kvm_guest_ext_report(): the vCPU's next KVM_RUN exits with KVM_EXIT_SNP_REQ_CERTS when
 * certificate fetching is on (else KVM writes an empty table itself, as the kernel does), and
 * the KVM_RUN after that completes the request according to the exit's `ret`. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emul_kvm;
struct emul_psp;
struct hv_kvm;

/* The SNP firmware commands KVM issues (same contracts as hv/emul/psp.h). */
struct emul_kvm_snp_fw {
	void *ctx;
	int (*launch_start)(void *ctx, uint64_t policy, const uint8_t gosvw[16],
			    uint32_t *ret_handle, uint32_t *ret_fw_error);
	/* contents: the page for NORMAL, VMSA and CPUID pages; NULL for the others. */
	int (*launch_update)(void *ctx, uint32_t handle, uint64_t gpa, uint8_t page_type,
			     const uint8_t *contents, uint32_t *ret_fw_error);
	int (*launch_finish)(void *ctx, uint32_t handle, const uint8_t *id_block,
			     const uint8_t *id_auth, bool author_key_en, const uint8_t host_data[32],
			     uint32_t *ret_fw_error);
	/* MSG_REPORT_REQ from VMPL0: a 1184-byte report. */
	int (*guest_report)(void *ctx, uint32_t handle, const uint8_t report_data[64],
			    uint8_t *ret_report, uint32_t *ret_fw_error);
	int (*decommission)(void *ctx, uint32_t handle, uint32_t *ret_fw_error); /* optional */
};

/* fw may be NULL: SNP launch commands then fail with -ENODEV. `fw` is copied. */
int emul_kvm_new(const struct emul_kvm_snp_fw *fw, struct emul_kvm **ret);
/* The emulated PSP as the firmware (not owned: free it after the emul_kvm). */
int emul_kvm_new_psp(struct emul_psp *psp, struct emul_kvm **ret);
void emul_kvm_free(struct emul_kvm *ek);
/* hv_kvm whose ops are this emulator (ek must outlive it). */
int hv_kvm_open_emulated(struct emul_kvm *ek, struct hv_kvm **ret);

/* TDX: KVM_TDX_CAPABILITIES, INIT_VM, INIT_VCPU, INIT_MEM_REGION (with
 * KVM_TDX_MEASURE_MEMORY_REGION) and FINALIZE_VM on TDX VMs (Linux 6.16,
 * arch/x86/kvm/vmx/tdx.c) run on this emulated TDX module (not owned: it must outlive ek).
 * Errors are KVM's for misuse; a module refusal comes back as the module's errno. */
struct emul_tdx_module;
void emul_kvm_set_tdx_module(struct emul_kvm *ek, struct emul_tdx_module *m);
/* The module's TD handle of a TDX VM after KVM_TDX_INIT_VM (-ENOENT before). */
int emul_kvm_tdx_handle(struct emul_kvm *ek, int vm_fd, uint32_t *ret_td);

/* The firmware's guest handle of an SNP VM after LAUNCH_START. */
int emul_kvm_snp_handle(struct emul_kvm *ek, int vm_fd, uint32_t *ret_handle);
/* Read `len` bytes of private (guest_memfd) memory at gpa: what LAUNCH_UPDATE placed there. */
int emul_kvm_read_private(struct emul_kvm *ek, int vm_fd, uint64_t gpa, void *buf, size_t len);
/* The VMSA page LAUNCH_FINISH measured for a vCPU (after finish). */
int emul_kvm_vmsa(struct emul_kvm *ek, int vcpu_fd, uint8_t ret_page[4096]);

/* Guest side: queue an Extended Guest Request for a report on this vCPU, with certificate data
 * pages [gpa, gpa + npages * 4096) (shared memory). -EBUSY if one is outstanding. */
int emul_kvm_guest_ext_report(struct emul_kvm *ek, int vcpu_fd, uint64_t gpa, uint64_t npages,
			      const uint8_t report_data[64]);
#define EMUL_KVM_REPORT_SIZE 1184
struct emul_kvm_guest_report {
	/* SW_EXITINFO2 as the guest sees it: upper 32 bits the VMM error (GHCB: 1 invalid length,
	 * 2 busy; KVM's 0xffffffff generic), lower 32 the firmware status. 0 = success. */
	uint64_t exitinfo2;
	uint64_t rbx; /* the pages needed, after an invalid-length error */
	bool has_report;
	uint8_t report[EMUL_KVM_REPORT_SIZE];
};
/* The completed request's outcome (and clears it); -EAGAIN while it is still pending. */
int emul_kvm_guest_ext_report_result(struct emul_kvm *ek, int vcpu_fd,
				     struct emul_kvm_guest_report *ret);

/* The VMSA KVM builds for an SEV-ES/SNP vCPU from its register state (hv/emul/kvm_vmsa.c). */
struct kvm_regs;
struct kvm_sregs;
struct kvm_fpu;
struct emul_kvm_vcpu_state {
	const struct kvm_regs *regs;
	const struct kvm_sregs *sregs;
	const struct kvm_fpu *fpu;
	uint64_t xcr0, xss, dr6, dr7, pat;
};
void emul_kvm_vmsa_build(const struct emul_kvm_vcpu_state *s, uint64_t sev_features,
			 uint8_t page[4096]);
