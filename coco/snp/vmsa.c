#include "coco/snp/vmsa.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Linux arch/x86/include/asm/svm.h, struct sev_es_save_area: offsets of the fields a VMM sets. */
enum {
	VMSA_ES = 0x000,
	VMSA_CS = 0x010,
	VMSA_SS = 0x020,
	VMSA_DS = 0x030,
	VMSA_FS = 0x040,
	VMSA_GS = 0x050,
	VMSA_GDTR = 0x060,
	VMSA_LDTR = 0x070,
	VMSA_IDTR = 0x080,
	VMSA_TR = 0x090,
	VMSA_EFER = 0x0d0,
	VMSA_CR4 = 0x148,
	VMSA_CR0 = 0x158,
	VMSA_DR7 = 0x160,
	VMSA_DR6 = 0x168,
	VMSA_RFLAGS = 0x170,
	VMSA_RIP = 0x178,
	VMSA_G_PAT = 0x268,
	VMSA_RDX = 0x310,
	VMSA_SEV_FEATURES = 0x3b0,
	VMSA_XCR0 = 0x3e8,
	VMSA_MXCSR = 0x408,
	VMSA_X87_FCW = 0x410,
};

static void put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* struct vmcb_seg: selector u16, attrib u16, limit u32, base u64. */
static void put_seg(uint8_t *page, unsigned off, uint16_t sel, uint16_t attrib, uint32_t limit,
		    uint64_t base)
{
	put(page + off, sel, 2);
	put(page + off + 2, attrib, 2);
	put(page + off + 4, limit, 4);
	put(page + off + 8, base, 8);
}

uint32_t snp_vcpu_sig(unsigned family, unsigned model, unsigned stepping)
{
	unsigned fam_lo = family, fam_hi = 0;
	if (family > 0xf) {
		fam_lo = 0xf;
		fam_hi = (family - 0xf) & 0xff;
	}
	return (uint32_t)(fam_hi << 20 | ((model >> 4) & 0xf) << 16 | fam_lo << 8 |
			  (model & 0xf) << 4 | (stepping & 0xf));
}

static const struct {
	const char *name;
	unsigned family, model, stepping;
} cpu_types[] = {
    /* QEMU target/i386/cpu.c CPU models (family, model, stepping). */
    {"EPYC", 23, 1, 2},		 {"EPYC-v1", 23, 1, 2},	      {"EPYC-v2", 23, 1, 2},
    {"EPYC-IBPB", 23, 1, 2},	 {"EPYC-v3", 23, 1, 2},	      {"EPYC-v4", 23, 1, 2},
    {"EPYC-Rome", 23, 49, 0},	 {"EPYC-Rome-v1", 23, 49, 0}, {"EPYC-Rome-v2", 23, 49, 0},
    {"EPYC-Rome-v3", 23, 49, 0}, {"EPYC-Milan", 25, 1, 1},    {"EPYC-Milan-v1", 25, 1, 1},
    {"EPYC-Milan-v2", 25, 1, 1}, {"EPYC-Genoa", 25, 17, 0},   {"EPYC-Genoa-v1", 25, 17, 0},
    {"EPYC-Turin", 26, 0, 0},
};

const char *const snp_vcpu_type_names[] = {
    "EPYC",	     "EPYC-v1",	     "EPYC-v2",	      "EPYC-IBPB",    "EPYC-v3",    "EPYC-v4",
    "EPYC-Rome",     "EPYC-Rome-v1", "EPYC-Rome-v2",  "EPYC-Rome-v3", "EPYC-Milan", "EPYC-Milan-v1",
    "EPYC-Milan-v2", "EPYC-Genoa",   "EPYC-Genoa-v1", "EPYC-Turin",   NULL,
};

int snp_vcpu_type_sig(const char *name, uint32_t *ret_sig)
{
	for (size_t i = 0; i < sizeof(cpu_types) / sizeof(cpu_types[0]); i++)
		if (strcmp(cpu_types[i].name, name) == 0) {
			*ret_sig = snp_vcpu_sig(cpu_types[i].family, cpu_types[i].model,
						cpu_types[i].stepping);
			return 0;
		}
	return -ENOENT;
}

int snp_vmm_type_from_name(const char *name, enum snp_vmm_type *ret)
{
	/* sev-snp-measure spells them QEMU, ec2, gce; any case is accepted here. */
	if (strcasecmp(name, "qemu") == 0)
		*ret = SNP_VMM_QEMU;
	else if (strcasecmp(name, "ec2") == 0)
		*ret = SNP_VMM_EC2;
	else if (strcasecmp(name, "gce") == 0)
		*ret = SNP_VMM_GCE;
	else
		return -EINVAL;
	return 0;
}

const char *snp_vmm_type_name(enum snp_vmm_type t)
{
	return t == SNP_VMM_EC2 ? "ec2" : t == SNP_VMM_GCE ? "gce" : "qemu";
}

void snp_vmsa_build(uint8_t page[SNP_PAGE_SIZE], enum snp_vmm_type vmm, uint32_t eip,
		    uint64_t sev_features, uint64_t vcpu_sig)
{
	memset(page, 0, SNP_PAGE_SIZE);
	/* Real-mode reset state: CS selector 0xf000 with the EIP's upper half as base. EC2
	 * marks the BSP's code segment not-yet-accessed (0x9a) and uses a 32-bit TSS type. */
	uint16_t cs_attr = vmm == SNP_VMM_EC2 && eip == SNP_BSP_EIP ? 0x9a : 0x9b;
	uint16_t ss_attr = vmm == SNP_VMM_EC2 ? 0x92 : 0x93;
	uint16_t tr_attr = vmm == SNP_VMM_EC2 ? 0x83 : 0x8b;
	put_seg(page, VMSA_ES, 0, 0x93, 0xffff, 0);
	put_seg(page, VMSA_CS, 0xf000, cs_attr, 0xffff, eip & 0xffff0000u);
	put_seg(page, VMSA_SS, 0, ss_attr, 0xffff, 0);
	put_seg(page, VMSA_DS, 0, 0x93, 0xffff, 0);
	put_seg(page, VMSA_FS, 0, 0x93, 0xffff, 0);
	put_seg(page, VMSA_GS, 0, 0x93, 0xffff, 0);
	put_seg(page, VMSA_GDTR, 0, 0, 0xffff, 0);
	put_seg(page, VMSA_IDTR, 0, 0, 0xffff, 0);
	put_seg(page, VMSA_LDTR, 0, 0x82, 0xffff, 0);
	put_seg(page, VMSA_TR, 0, tr_attr, 0xffff, 0);
	put(page + VMSA_EFER, 0x1000, 8); /* EFER.SVME: KVM sets it */
	put(page + VMSA_CR4, 0x40, 8);	  /* CR4.MCE */
	put(page + VMSA_CR0, 0x10, 8);	  /* CR0.ET */
	put(page + VMSA_DR7, 0x400, 8);
	put(page + VMSA_DR6, 0xffff0ff0, 8);
	put(page + VMSA_RFLAGS, 0x2, 8);
	put(page + VMSA_RIP, eip & 0xffff, 8);
	/* PAT at reset (APM vol. 2 A.3); GCE programs a different one. */
	put(page + VMSA_G_PAT, vmm == SNP_VMM_GCE ? 0x70106ull : 0x0007040600070406ull, 8);
	/* RDX holds the CPU signature at reset; EC2 and GCE report a fixed 0x600. */
	put(page + VMSA_RDX, vmm == SNP_VMM_QEMU ? vcpu_sig : 0x600, 8);
	put(page + VMSA_SEV_FEATURES, sev_features, 8);
	put(page + VMSA_XCR0, 0x1, 8);
	if (vmm == SNP_VMM_QEMU) { /* QEMU initialises the FPU state; EC2 and GCE leave it 0 */
		put(page + VMSA_MXCSR, 0x1f80, 4);
		put(page + VMSA_X87_FCW, 0x37f, 2);
	}
}

void snp_vmsa_build_svsm(uint8_t page[SNP_PAGE_SIZE], uint64_t eip, uint64_t vcpu_sig)
{
	memset(page, 0, SNP_PAGE_SIZE);
	/* Flat 32-bit segments (selector 0x10 data, 0x08 code) with granularity and D/B set. */
	put_seg(page, VMSA_ES, 0x10, 0xc93, 0xffffffff, 0);
	put_seg(page, VMSA_CS, 0x08, 0xc9b, 0xffffffff, 0);
	put_seg(page, VMSA_SS, 0x10, 0xc93, 0xffffffff, 0);
	put_seg(page, VMSA_DS, 0x10, 0xc93, 0xffffffff, 0);
	put_seg(page, VMSA_FS, 0x10, 0xc93, 0xffffffff, 0);
	put_seg(page, VMSA_GS, 0, 0x93, 0xffff, 0);
	put_seg(page, VMSA_GDTR, 0, 0, 0xffff, 0);
	put_seg(page, VMSA_IDTR, 0, 0, 0xffff, 0);
	put_seg(page, VMSA_LDTR, 0, 0x82, 0xffff, 0);
	put_seg(page, VMSA_TR, 0, 0x8b, 0xffff, 0);
	put(page + VMSA_EFER, 0x1000, 8);
	put(page + VMSA_CR4, 0x40, 8);
	put(page + VMSA_CR0, 0x11, 8); /* CR0.PE | CR0.ET */
	put(page + VMSA_DR7, 0x400, 8);
	put(page + VMSA_DR6, 0xffff0ff0, 8);
	put(page + VMSA_RFLAGS, 0x2, 8);
	put(page + VMSA_RIP, eip, 8);
	put(page + VMSA_G_PAT, 0x0007040600070406ull, 8);
	put(page + VMSA_RDX, vcpu_sig, 8);
	put(page + VMSA_SEV_FEATURES, 0x1, 8); /* SNPActive only */
	put(page + VMSA_XCR0, 0x1, 8);
	/* MXCSR set, x87 FCW left 0: what real launches measure (the SVSM vector confirms it). */
	put(page + VMSA_MXCSR, 0x1f80, 4);
}
