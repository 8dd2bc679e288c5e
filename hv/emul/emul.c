/* The emulated platform's devices, as its probe reports them: the emulated PSP stands behind
 * /dev/sev and the emulated KVM offers the SNP and TDX VM types. The TDX fields come from the
 * emulated module's sysfs tree, read like a real one (hv/platform.c). */
#include "coco/util.h"
#include "hv/platform.h"
#include "hv/uapi/kvm_compat.h"

int hv_emul_probe(struct hv_host_info *ret)
{
	struct hv_host_info h = {
		.platform = COCO_PLATFORM_EMULATED,
		.sev_device = true,
		.kvm_device = true,
		.kvm_vm_types_known = true,
		.kvm_vm_types = (1ull << KVM_X86_DEFAULT_VM) | (1ull << KVM_X86_SNP_VM) |
				(1ull << KVM_X86_TDX_VM),
		.tdx_remaining_updates = -1,
	};
	*ret = h;
	return 0;
}
