/* The emulated platform's identity, as its probe reports it. The emulated PSP and TDX module
 * (issue 4) implement the firmware commands behind these versions. */
#include "coco/util.h"
#include "hv/platform.h"
#include "hv/uapi/kvm_compat.h"

/* Versions the emulator implements: SNP ABI and TDX module releases it models. */
#define EMUL_TDX_MODULE_VERSION "1.5.06"
#define EMUL_TDX_SEAMLDR_VERSION "1.5.02"
#define EMUL_TDX_REMAINING_UPDATES 16

int hv_emul_probe(struct hv_host_info *ret)
{
	struct hv_host_info h = {
		.platform = COCO_PLATFORM_EMULATED,
		.sev_device = true,
		.kvm_device = true,
		.kvm_vm_types_known = true,
		.kvm_vm_types = (1ull << KVM_X86_DEFAULT_VM) | (1ull << KVM_X86_SNP_VM) |
				(1ull << KVM_X86_TDX_VM),
		.tdx_host = true,
		.tdx_remaining_updates = EMUL_TDX_REMAINING_UPDATES,
		.tdx_update_interface = true,
	};
	snprintf(h.tdx_module_version, sizeof(h.tdx_module_version), "%s",
		 EMUL_TDX_MODULE_VERSION);
	snprintf(h.tdx_seamldr_version, sizeof(h.tdx_seamldr_version), "%s",
		 EMUL_TDX_SEAMLDR_VERSION);
	*ret = h;
	return 0;
}
