/* hv/tdx_launch.h: the TD launch sequence a VMM (QEMU target/i386/kvm/tdx.c) performs through
 * KVM (Linux 6.16, Documentation/virt/kvm/x86/intel-tdx.rst), over hv/kvm.h so it runs on
 * /dev/kvm and on the emulated KVM alike: KVM_CREATE_VM(KVM_X86_TDX_VM), KVM_TDX_CAPABILITIES,
 * KVM_TDX_INIT_VM (attributes, XFAM, MRCONFIGID/MROWNER/MROWNERCONFIG), guest_memfd-backed
 * private memory, vCPUs with KVM_TDX_INIT_VCPU (RCX = the TD HOB's GPA),
 * KVM_TDX_INIT_MEM_REGION per region (KVM_TDX_MEASURE_MEMORY_REGION when measured) in the
 * given order, then KVM_TDX_FINALIZE_VM. The TDX module computes MRTD from what this feeds it;
 * nothing here computes a digest.
 *
 * Regions are abstract (a GPA, source bytes, a page count, measured or not): turning TDVF
 * metadata sections into regions is the caller's job (coco/ parses TDVF). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/kvm.h"

#define HV_TDX_MAX_REGIONS 16
#define HV_TDX_MAX_VCPUS 512
#define HV_TDX_XFAM_DEFAULT 0x3ull /* x87 | SSE, the bits XFAM fixes to 1 */
#define HV_TDREPORT_SIZE 1024
#define HV_TDREPORT_MRTD_OFF (512 + 16) /* TDREPORT_STRUCT: TDINFO at 512, MRTD at +16 */

struct hv_tdx_region {
	uint64_t gpa;	    /* page-aligned */
	const uint8_t *src; /* nr_pages * 4096 bytes */
	uint64_t nr_pages;
	bool measure; /* TDH.MR.EXTEND each page (TDVF section attribute MR.EXTEND) */
};

struct hv_tdx_launch {
	const struct hv_tdx_region *regions; /* 1..HV_TDX_MAX_REGIONS, added in this order */
	size_t n_regions;
	unsigned vcpus;	      /* 1..HV_TDX_MAX_VCPUS */
	uint64_t attributes;  /* TD ATTRIBUTES; must be among KVM_TDX_CAPABILITIES' */
	uint64_t xfam;	      /* 0 = HV_TDX_XFAM_DEFAULT */
	const uint8_t *mrconfigid, *mrowner, *mrownerconfig; /* 48 bytes each, or NULL = zeros */
	uint64_t ram_size;    /* private RAM at GPA 0 (may hold regions); 0 = none */
	uint64_t hob_gpa;     /* RCX of every vCPU (KVM_TDX_INIT_VCPU) */
};

struct hv_tdx_guest;

/* Returns 0 with the finalized TD, or a negative errno with a message in err (*ret_hw_error,
 * which may be NULL, holds the SEAMCALL status KVM reported). */
int hv_tdx_launch(struct hv_kvm *k, const struct hv_tdx_launch *in, struct hv_tdx_guest **ret,
		  uint64_t *ret_hw_error, char *err, size_t errlen);
void hv_tdx_guest_free(struct hv_tdx_guest *g);
int hv_tdx_guest_vm_fd(const struct hv_tdx_guest *g);
unsigned hv_tdx_guest_vcpus(const struct hv_tdx_guest *g);
/* The TD's TDREPORT_STRUCT (HV_TDREPORT_SIZE bytes) and its MRTD, read back from the TD:
 * the emulated KVM has the module produce it; on native KVM the host cannot (-EOPNOTSUPP),
 * and MRTD comes from the guest's own TDREPORT or quote. */
int hv_tdx_guest_report(struct hv_tdx_guest *g, const uint8_t report_data[64], uint8_t *ret);
int hv_tdx_guest_mrtd(struct hv_tdx_guest *g, uint8_t ret[48]);
