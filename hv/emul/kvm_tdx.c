/* The emulated KVM's TDX side: KVM_MEMORY_ENCRYPT_OP on a TDX VM and its vCPUs, as Linux 6.16
 * answers it (arch/x86/kvm/vmx/tdx.c: tdx_vm_ioctl, tdx_vcpu_ioctl; Documentation/virt/kvm/
 * x86/intel-tdx.rst), on the emulated TDX module (hv/emul/tdx_module.h): INIT_VM is
 * TDH.MNG.CREATE + TDH.MNG.INIT, INIT_MEM_REGION is TDH.MEM.PAGE.ADD per page plus 16
 * TDH.MR.EXTEND per page when measured, FINALIZE_VM is TDH.MR.FINALIZE. */
#include "coco/util.h"
#include "hv/emul/kvm_priv.h"
#include "hv/emul/tdx_module.h"

/* TD attributes this emulated module lets a VMM set: DEBUG (bit 0), SEPT_VE_DISABLE (28),
 * PKS (30), PERFMON (63) (TDX Module ABI, ATTRIBUTES). */
#define EKVM_TDX_ATTRS ((1ull << 0) | (1ull << 28) | (1ull << 30) | (1ull << 63))
/* XFAM: x87, SSE (fixed to 1), AVX, AVX-512 (5-7), PT (8), PKRU (9), CET (11-12), AMX (17-18). */
#define EKVM_TDX_XFAM_FIXED1 0x3ull
#define EKVM_TDX_XFAM 0x61ae7ull
#define EKVM_TDX_MAX_CPUID 256 /* KVM_MAX_CPUID_ENTRIES */
#define EKVM_TDX_MR_CHUNK 256

static void *user_ptr(uint64_t uaddr)
{
	return (void *)(uintptr_t)uaddr;
}

static int tdx_capabilities(struct kvm_tdx_cmd *cmd)
{
	if (cmd->flags)
		return -EINVAL;
	if (!cmd->data)
		return -EFAULT;
	/* The emulated module has no configurable CPUID leaves: zero entries follow. */
	struct kvm_tdx_capabilities caps = {
		.supported_attrs = EKVM_TDX_ATTRS,
		.supported_xfam = EKVM_TDX_XFAM,
		.cpuid = {.nent = 0},
	};
	memcpy(user_ptr(cmd->data), &caps, sizeof(caps));
	return 0;
}

static int tdx_init_vm(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_tdx_cmd *cmd)
{
	/* tdx_td_init(): once, flags zero, reserved zero, attributes and XFAM supported */
	if (cmd->flags || vm->td_state != EKVM_TD_NONE)
		return -EINVAL;
	if (!cmd->data)
		return -EFAULT;
	struct kvm_tdx_init_vm in;
	memcpy(&in, user_ptr(cmd->data), sizeof(in));
	for (size_t i = 0; i < ARRAY_SIZE(in.reserved); i++)
		if (in.reserved[i])
			return -EINVAL;
	if (in.cpuid.nent > EKVM_TDX_MAX_CPUID)
		return -E2BIG;
	if (in.attributes & ~EKVM_TDX_ATTRS)
		return -EINVAL;
	if (in.xfam & ~EKVM_TDX_XFAM || (in.xfam & EKVM_TDX_XFAM_FIXED1) != EKVM_TDX_XFAM_FIXED1)
		return -EINVAL;
	if (!ek->tdx)
		return -ENODEV;
	struct emul_td_params p = {.attributes = in.attributes, .xfam = in.xfam};
	memcpy(p.mrconfigid, in.mrconfigid, 48);
	memcpy(p.mrowner, in.mrowner, 48);
	memcpy(p.mrownerconfig, in.mrownerconfig, 48);
	int r = emul_tdx_td_create(ek->tdx, &p, &vm->td);
	if (r < 0)
		return r;
	vm->td_state = EKVM_TD_INITIALIZED;
	return 0;
}

static int tdx_init_vcpu(struct ekvm_vm *vm, struct ekvm_vcpu *v, struct kvm_tdx_cmd *cmd)
{
	/* tdx_vcpu_init(): the TD initialized and not finalized, once per vCPU; data is RCX */
	if (cmd->flags || vm->td_state != EKVM_TD_INITIALIZED || v->td_init)
		return -EINVAL;
	v->td_rcx = cmd->data;
	v->td_init = true;
	return 0;
}

/* One page: TDH.MEM.PAGE.ADD, then TDH.MR.EXTEND over its 16 chunks when measured. */
static int add_page(struct emul_kvm *ek, struct ekvm_vm *vm, uint64_t gpa, const uint8_t *src,
		    bool measure)
{
	int r = emul_tdx_td_page_add(ek->tdx, vm->td, gpa, src);
	for (uint64_t off = 0; r == 0 && measure && off < EKVM_PAGE; off += EKVM_TDX_MR_CHUNK)
		r = emul_tdx_td_mr_extend(ek->tdx, vm->td, gpa + off);
	return r;
}

static int tdx_init_mem_region(struct emul_kvm *ek, struct ekvm_vm *vm, struct ekvm_vcpu *v,
			       struct kvm_tdx_cmd *cmd)
{
	/* tdx_vcpu_init_mem_region(): vCPU initialized, TD not finalized, only the MEASURE
	 * flag, page-aligned source and GPA, no wrap, the range private (kvm_gmem_populate) */
	if (!v->td_init || vm->td_state != EKVM_TD_INITIALIZED)
		return -EINVAL;
	if (cmd->flags & ~(uint32_t)KVM_TDX_MEASURE_MEMORY_REGION)
		return -EINVAL;
	if (!cmd->data)
		return -EFAULT;
	struct kvm_tdx_init_mem_region reg;
	memcpy(&reg, user_ptr(cmd->data), sizeof(reg));
	if ((reg.source_addr | reg.gpa) & (EKVM_PAGE - 1) || !reg.nr_pages)
		return -EINVAL;
	if (reg.nr_pages > (UINT64_MAX >> 12) || reg.gpa + (reg.nr_pages << 12) <= reg.gpa)
		return -EINVAL;
	if (!reg.source_addr)
		return -EFAULT;
	uint64_t len = reg.nr_pages << 12;
	struct ekvm_slot *s = ekvm_slot_find(vm, reg.gpa, len);
	if (!s || !s->gmem || !ekvm_range_private(vm, reg.gpa, len))
		return -EINVAL;
	if (!ek->tdx)
		return -ENODEV;
	bool measure = cmd->flags & KVM_TDX_MEASURE_MEMORY_REGION;
	int r = 0;
	while (reg.nr_pages) {
		uint64_t page = (s->gmem_off + (reg.gpa - s->gpa)) / EKVM_PAGE;
		if (s->gmem->populated[page / 8] & (1u << (page % 8))) {
			r = -EEXIST;
			break;
		}
		const uint8_t *src = user_ptr(reg.source_addr);
		r = add_page(ek, vm, reg.gpa, src, measure);
		if (r < 0)
			break;
		memcpy(s->gmem->mem + page * EKVM_PAGE, src, EKVM_PAGE);
		s->gmem->populated[page / 8] |= (uint8_t)(1u << (page % 8));
		/* the struct tracks progress, as KVM writes it back */
		reg.source_addr += EKVM_PAGE;
		reg.gpa += EKVM_PAGE;
		reg.nr_pages--;
	}
	memcpy(user_ptr(cmd->data), &reg, sizeof(reg));
	return r;
}

static int tdx_finalize_vm(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_tdx_cmd *cmd)
{
	if (cmd->flags || cmd->data || vm->td_state != EKVM_TD_INITIALIZED)
		return -EINVAL;
	int r = emul_tdx_td_finalize(ek->tdx, vm->td);
	if (r == 0)
		vm->td_state = EKVM_TD_RUNNABLE;
	return r;
}

int ekvm_tdx_op(struct emul_kvm *ek, struct ekvm_vm *vm, struct ekvm_vcpu *v,
		struct kvm_tdx_cmd *cmd)
{
	cmd->hw_error = 0;
	if (v) { /* vCPU-scoped commands */
		switch (cmd->id) {
		case KVM_TDX_INIT_VCPU:
			return tdx_init_vcpu(vm, v, cmd);
		case KVM_TDX_INIT_MEM_REGION:
			return tdx_init_mem_region(ek, vm, v, cmd);
		default:
			return -EINVAL;
		}
	}
	switch (cmd->id) {
	case KVM_TDX_CAPABILITIES:
		return tdx_capabilities(cmd);
	case KVM_TDX_INIT_VM:
		return tdx_init_vm(ek, vm, cmd);
	case KVM_TDX_FINALIZE_VM:
		return tdx_finalize_vm(ek, vm, cmd);
	default:
		return -EINVAL;
	}
}

void ekvm_tdx_vm_destroy(struct emul_kvm *ek, struct ekvm_vm *vm)
{
	/* TDH.MNG.VPFLUSHDONE .. reclaim, as KVM does when the VM goes */
	if (vm->td_state != EKVM_TD_NONE && ek->tdx)
		emul_tdx_td_destroy(ek->tdx, vm->td);
}
