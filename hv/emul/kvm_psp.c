/* The emulated PSP as the firmware behind the emulated KVM (hv/emul/psp.h). Kept apart from
 * kvm.c so that the emulated KVM links without the PSP where a test brings its own firmware. */
#include "hv/emul/kvm.h"
#include "hv/emul/psp.h"

static int psp_launch_start(void *ctx, uint64_t policy, const uint8_t gosvw[16],
			    uint32_t *ret_handle, uint32_t *ret_fw_error)
{
	return emul_psp_snp_launch_start(ctx, policy, gosvw, ret_handle, ret_fw_error);
}

static int psp_launch_update(void *ctx, uint32_t handle, uint64_t gpa, uint8_t page_type,
			     const uint8_t *contents, uint32_t *ret_fw_error)
{
	/* KVM gives every page VMPL permissions 0 and IMI off (sev_gmem_post_populate()). */
	return emul_psp_snp_launch_update(ctx, handle, gpa, page_type, contents, false, 0, 0, 0,
					  ret_fw_error);
}

static int psp_launch_finish(void *ctx, uint32_t handle, const uint8_t *id_block,
			     const uint8_t *id_auth, bool author_key_en,
			     const uint8_t host_data[32], uint32_t *ret_fw_error)
{
	return emul_psp_snp_launch_finish(ctx, handle, id_block, id_auth, author_key_en,
					  host_data, ret_fw_error);
}

static int psp_guest_report(void *ctx, uint32_t handle, const uint8_t report_data[64],
			    uint8_t *ret_report, uint32_t *ret_fw_error)
{
	return emul_psp_snp_guest_report(ctx, handle, report_data, 0, ret_report, ret_fw_error);
}

static int psp_decommission(void *ctx, uint32_t handle, uint32_t *ret_fw_error)
{
	return emul_psp_snp_decommission(ctx, handle, ret_fw_error);
}

int emul_kvm_new_psp(struct emul_psp *psp, struct emul_kvm **ret)
{
	const struct emul_kvm_snp_fw fw = {
		.ctx = psp,
		.launch_start = psp_launch_start,
		.launch_update = psp_launch_update,
		.launch_finish = psp_launch_finish,
		.guest_report = psp_guest_report,
		.decommission = psp_decommission,
	};
	return emul_kvm_new(&fw, ret);
}
