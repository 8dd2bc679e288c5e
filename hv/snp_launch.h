/* hv/snp_launch.h: the SEV-SNP launch sequence a VMM (QEMU) performs through KVM: a VM of type
 * KVM_X86_SNP_VM with guest_memfd-backed private memory, KVM_SEV_INIT2, SNP_LAUNCH_START,
 * SNP_LAUNCH_UPDATE per page range and type, vCPUs in QEMU's reset state, SNP_LAUNCH_FINISH.
 * The firmware computes the launch digest from what this code feeds it; nothing here computes a
 * digest (that is coco/snp/measure.c's job, and the two are compared in the tests). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/hashes.h"
#include "hv/kvm.h"
#include "hv/snp_req_certs.h"

#define HV_SNP_MAX_VCPUS 512
#define HV_SNP_MAX_REGIONS 8
/* SNP ABI GUEST_POLICY: bit 17 reserved-must-be-one, SMT allowed (bit 16): QEMU's default. */
#define HV_SNP_POLICY_DEFAULT 0x30000ull
#define HV_SNP_FEATURE_SNP_ACTIVE 0x1ull

struct hv_snp_guest;

/* Step by step (the order QEMU uses). hv_snp_guest_create: KVM_CREATE_VM(KVM_X86_SNP_VM),
 * KVM_SEV_INIT2 with sev_features minus SNP_ACTIVE (KVM sets it; sev_features must include it),
 * SNP_LAUNCH_START, and KVM_SEV_SNP_ENABLE_REQ_CERTS when asked (before any vCPU exists). */
struct hv_snp_guest_config {
	uint64_t policy;       /* 0 = HV_SNP_POLICY_DEFAULT */
	uint64_t sev_features; /* the VMSA SEV_FEATURES, e.g. 0x1 or 0x21 */
	uint8_t gosvw[16];
	bool enable_req_certs;
};
int hv_snp_guest_create(struct hv_kvm *k, const struct hv_snp_guest_config *cfg,
			struct hv_snp_guest **ret, uint32_t *ret_fw_error);
/* RAM at [gpa, gpa + size): a guest_memfd, a shared anonymous mapping, one memory slot, and the
 * whole range made private (QEMU converts guest_memfd regions to private when it adds them). */
int hv_snp_guest_add_memory(struct hv_snp_guest *g, uint64_t gpa, uint64_t size);
/* The shared mapping of [gpa, gpa + len), or NULL when outside the guest's memory. */
uint8_t *hv_snp_guest_hva(struct hv_snp_guest *g, uint64_t gpa, uint64_t len);
/* SNP_LAUNCH_UPDATE of [gpa, gpa + len) from the guest's own shared pages (QEMU copies images
 * there first); type KVM_SEV_SNP_PAGE_TYPE_*. */
int hv_snp_guest_launch_update(struct hv_snp_guest *g, uint64_t gpa, uint64_t len, uint8_t type,
			       uint32_t *ret_fw_error);
/* vCPUs 0..n-1 in QEMU's reset state: the BSP at the reset vector (CS 0xf000:base 0xffff0000,
 * RIP 0xfff0), APs at ap_reset_eip (OVMF's SEV-ES reset block: CS base eip & 0xffff0000, RIP
 * eip & 0xffff, selector still 0xf000); RDX = vcpu_sig; x87/SSE/XCR0 defaults. */
int hv_snp_guest_create_vcpus(struct hv_snp_guest *g, unsigned n, uint32_t vcpu_sig,
			      uint32_t ap_reset_eip);
int hv_snp_guest_launch_finish(struct hv_snp_guest *g, const struct hv_kvm_snp_finish *f,
			       uint32_t *ret_fw_error);
void hv_snp_guest_free(struct hv_snp_guest *g);

int hv_snp_guest_vm_fd(const struct hv_snp_guest *g);
unsigned hv_snp_guest_vcpus(const struct hv_snp_guest *g);
int hv_snp_guest_vcpu_fd(const struct hv_snp_guest *g, unsigned i);
struct kvm_run *hv_snp_guest_run(const struct hv_snp_guest *g, unsigned i);
/* The guest's shared memory, for hv_snp_req_certs_handle(). */
void hv_snp_guest_memory(const struct hv_snp_guest *g, struct hv_guest_mem *ret);

/* All of it from an OVMF image, exactly as QEMU lays it out: the firmware at the top of 4 GiB
 * (NORMAL pages), then the SEV metadata sections in table order (SNP_SEC_MEM and SVSM_CAA:
 * ZERO; SNP_SECRETS: SECRETS; CPUID: the CPUID page; SNP_KERNEL_HASHES: the hashes table page
 * as NORMAL with a kernel, ZERO without), vCPUs, then LAUNCH_FINISH (KVM measures the VMSAs). */
struct hv_snp_ovmf_launch {
	const uint8_t *ovmf;
	size_t ovmf_size;			 /* a multiple of 4 KiB */
	const struct snp_kernel_hashes *hashes;	 /* direct kernel boot, or NULL */
	unsigned vcpus;				 /* 1..HV_SNP_MAX_VCPUS */
	const char *vcpu_type;			 /* QEMU CPU model, or NULL to use vcpu_sig */
	uint32_t vcpu_sig;			 /* CPUID 1 EAX in RDX */
	uint64_t sev_features;			 /* 0 = 0x1 (SNPActive) */
	uint64_t policy;			 /* 0 = HV_SNP_POLICY_DEFAULT */
	uint64_t mem_size;			 /* 0 = enough for the metadata sections */
	const struct hv_kvm_snp_finish *finish;	 /* ID block/auth, host_data; may be NULL */
	bool enable_req_certs;
};
/* Returns 0 with the launched guest, or a negative errno with a message in err (-EIO: the
 * firmware refused, *ret_fw_error says why). */
int hv_snp_launch_ovmf(struct hv_kvm *k, const struct hv_snp_ovmf_launch *in,
		       struct hv_snp_guest **ret, uint32_t *ret_fw_error, char *err, size_t errlen);
