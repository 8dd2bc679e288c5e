/* Initial VMSAs (SEV-ES save area, AMD APM vol. 2 table B-4; Linux struct sev_es_save_area) as
 * the VMMs create them, and the vCPU signatures they put in RDX. */
#pragma once
#include <stdint.h>

#include "coco/snp/gctx.h"

enum snp_vmm_type { SNP_VMM_QEMU, SNP_VMM_EC2, SNP_VMM_GCE };

#define SNP_BSP_EIP 0xfffffff0u
/* The RMP records a VMSA at GPA (u64)-1; page-aligned and cut to 52 bits. */
#define SNP_VMSA_GPA 0xfffffffff000ull

/* CPUID Fn0000_0001_EAX for family/model/stepping (extended family/model when family > 0xf). */
uint32_t snp_vcpu_sig(unsigned family, unsigned model, unsigned stepping);
/* QEMU CPU model name (EPYC, EPYC-v1..v4, EPYC-IBPB, EPYC-Rome*, EPYC-Milan*, EPYC-Genoa*,
 * EPYC-Turin) to signature; -ENOENT for an unknown name. */
int snp_vcpu_type_sig(const char *name, uint32_t *ret_sig);
/* Names accepted by snp_vcpu_type_sig, NULL-terminated. */
extern const char *const snp_vcpu_type_names[];
int snp_vmm_type_from_name(const char *name, enum snp_vmm_type *ret);
const char *snp_vmm_type_name(enum snp_vmm_type t);

/* A vCPU's VMSA at reset: BSP with eip 0xfffffff0, APs with the firmware's AP reset EIP. */
void snp_vmsa_build(uint8_t page[SNP_PAGE_SIZE], enum snp_vmm_type vmm, uint32_t eip,
		    uint64_t sev_features, uint64_t vcpu_sig);
/* The VMSA QEMU gives COCONUT-SVSM at VMPL0: 32-bit protected mode at the SVSM entry point. */
void snp_vmsa_build_svsm(uint8_t page[SNP_PAGE_SIZE], uint64_t eip, uint64_t vcpu_sig);
