/* The initial VMSA of an SEV-ES/SNP vCPU as KVM builds it in sev_es_sync_vmsa(): the VMCB save
 * area KVM keeps from KVM_SET_SREGS/REGS (with its own adjustments), then the GPRs, XCR0, XSS,
 * DR6, the VM's SEV features and, for VMs of a non-default type, the x87/SSE state from
 * KVM_SET_FPU. Offsets: AMD APM vol. 2, table B-4 (VMSA layout); Linux struct sev_es_save_area. */
#include <linux/kvm.h>
#include <string.h>

#include "hv/emul/kvm.h"

#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR4_MCE (1ull << 6)
#define EFER_SVME (1ull << 12)

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}
static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}
static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

/* VMCB segment {u16 selector, u16 attrib, u32 limit, u64 base}; attrib packs the descriptor
 * bits as svm_set_segment() does (an unusable segment has attrib 0). */
static void put_segment(uint8_t *p, size_t off, const struct kvm_segment *s)
{
	uint16_t attrib = 0;
	if (!s->unusable)
		attrib = (uint16_t)((s->type & 0xf) | (s->s & 1) << 4 | (s->dpl & 3) << 5 |
				    (s->present & 1) << 7 | (s->avl & 1) << 8 | (s->l & 1) << 9 |
				    (s->db & 1) << 10 | (s->g & 1) << 11);
	put16(p, off, s->selector);
	put16(p, off + 2, attrib);
	put32(p, off + 4, s->limit);
	put64(p, off + 8, s->base);
}

/* GDTR/IDTR: svm_set_gdt()/svm_set_idt() set only limit and base. */
static void put_dtable(uint8_t *p, size_t off, const struct kvm_dtable *d)
{
	put32(p, off + 4, d->limit);
	put64(p, off + 8, d->base);
}

void emul_kvm_vmsa_build(const struct emul_kvm_vcpu_state *st, uint64_t sev_features,
			 uint8_t page[4096])
{
	const struct kvm_regs *r = st->regs;
	const struct kvm_sregs *sr = st->sregs;
	const struct kvm_fpu *f = st->fpu;
	memset(page, 0, 4096);

	put_segment(page, 0x000, &sr->es);
	put_segment(page, 0x010, &sr->cs);
	put_segment(page, 0x020, &sr->ss);
	put_segment(page, 0x030, &sr->ds);
	put_segment(page, 0x040, &sr->fs);
	put_segment(page, 0x050, &sr->gs);
	put_dtable(page, 0x060, &sr->gdt);
	put_segment(page, 0x070, &sr->ldt);
	put_dtable(page, 0x080, &sr->idt);
	put_segment(page, 0x090, &sr->tr);
	page[0x0cb] = sr->ss.dpl & 3; /* CPL follows SS.DPL (svm_set_segment) */

	put64(page, 0x0d0, sr->efer | EFER_SVME); /* svm_set_efer(): SVME always set */
	put64(page, 0x140, st->xss);
	put64(page, 0x148, sr->cr4 | X86_CR4_MCE); /* svm_set_cr4(): the host's CR4.MCE */
	put64(page, 0x150, sr->cr3);
	/* svm_set_cr0(): KVM_X86_QUIRK_CD_NW_CLEARED (on by default) clears CD and NW. */
	put64(page, 0x158, sr->cr0 & ~(X86_CR0_CD | X86_CR0_NW));
	put64(page, 0x160, st->dr7);
	put64(page, 0x168, st->dr6);
	put64(page, 0x170, r->rflags);
	put64(page, 0x178, r->rip);
	put64(page, 0x1d8, r->rsp);
	put64(page, 0x1f8, r->rax);
	put64(page, 0x240, sr->cr2);
	put64(page, 0x268, st->pat);

	put64(page, 0x308, r->rcx);
	put64(page, 0x310, r->rdx);
	put64(page, 0x318, r->rbx);
	put64(page, 0x328, r->rbp);
	put64(page, 0x330, r->rsi);
	put64(page, 0x338, r->rdi);
	const uint64_t hi[8] = {r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};
	for (size_t i = 0; i < 8; i++)
		put64(page, 0x340 + 8 * i, hi[i]);

	put64(page, 0x3b0, sev_features);
	put64(page, 0x3e8, st->xcr0);

	/* x87/SSE from the guest FPU (KVM_SET_FPU fills the FXSAVE image: ftwx is the abridged
	 * tag word); skipped only for KVM_X86_DEFAULT_VM, which is never SNP. */
	put64(page, 0x400, f->last_dp);
	put32(page, 0x408, f->mxcsr);
	put16(page, 0x40c, f->ftwx);
	put16(page, 0x40e, f->fsw);
	put16(page, 0x410, f->fcw);
	put16(page, 0x412, f->last_opcode);
	put64(page, 0x418, f->last_ip);
	for (size_t i = 0; i < 8; i++)
		memcpy(page + 0x420 + 10 * i, f->fpr[i], 10); /* 10 bytes per x87 register */
	memcpy(page + 0x470, f->xmm, 256);
	/* YMM (0x570) stays zero: a reset vCPU has no AVX state. */
}
