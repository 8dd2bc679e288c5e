/* The emulated firmware's attestation reports: MSG_REPORT_REQ from a guest and
 * SNP_HV_REPORT_REQ from the host, as version-5 ATTESTATION_REPORTs (SNP ABI 1.58, table
 * "ATTESTATION_REPORT Structure", 0x4A0 bytes; layouts checked against the real Genoa and Turin
 * reports in ../shared/testdata/snp/reports), signed with ECDSA P-384/SHA-384 over bytes
 * 0x000-0x29F by the VCEK for (CHIP_ID, REPORTED_TCB), or by the VLEK once one is loaded. */
#include <openssl/x509.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/emul/psp_priv.h"
#include "hv/uapi/sev_compat.h"

#define REPORT_VERSION 5
#define REPORT_VERSION_OFF 0x000
#define REPORT_GUEST_SVN_OFF 0x004
#define REPORT_POLICY_OFF 0x008
#define REPORT_FAMILY_ID_OFF 0x010
#define REPORT_IMAGE_ID_OFF 0x020
#define REPORT_VMPL_OFF 0x030
#define REPORT_SIGNATURE_ALGO_OFF 0x034
#define REPORT_CURRENT_TCB_OFF 0x038
#define REPORT_PLATFORM_INFO_OFF 0x040
#define REPORT_KEY_INFO_OFF 0x048 /* bit 0 AUTHOR_KEY_EN, 1 MASK_CHIP_KEY, 4:2 SIGNING_KEY */
#define REPORT_REPORT_DATA_OFF 0x050
#define REPORT_MEASUREMENT_OFF 0x090
#define REPORT_HOST_DATA_OFF 0x0c0
#define REPORT_ID_KEY_DIGEST_OFF 0x0e0
#define REPORT_AUTHOR_KEY_DIGEST_OFF 0x110
#define REPORT_REPORT_ID_OFF 0x140
#define REPORT_REPORT_ID_MA_OFF 0x160
#define REPORT_REPORTED_TCB_OFF 0x180
#define REPORT_CPUID_FAM_ID_OFF 0x188
#define REPORT_CPUID_MOD_ID_OFF 0x189
#define REPORT_CPUID_STEP_OFF 0x18a
#define REPORT_CHIP_ID_OFF 0x1a0
#define REPORT_COMMITTED_TCB_OFF 0x1e0
#define REPORT_CURRENT_BUILD_OFF 0x1e8	 /* CURRENT_BUILD, _MINOR 0x1E9, _MAJOR 0x1EA */
#define REPORT_COMMITTED_BUILD_OFF 0x1ec /* COMMITTED_BUILD, _MINOR 0x1ED, _MAJOR 0x1EE */
#define REPORT_LAUNCH_TCB_OFF 0x1f0
#define REPORT_LAUNCH_MIT_VECTOR_OFF 0x1f8
#define REPORT_CURRENT_MIT_VECTOR_OFF 0x200
#define REPORT_SIGNED_LEN 0x2a0
#define REPORT_SIGNATURE_OFF 0x2a0
#define SIGNING_KEY_VCEK 0u
#define SIGNING_KEY_VLEK 1u
#define SIGNING_KEY_NONE 7u

_Static_assert(EMUL_SNP_REPORT_SIZE == 0x4a0, "ATTESTATION_REPORT size");
_Static_assert(REPORT_SIGNATURE_OFF + 0x200 == EMUL_SNP_REPORT_SIZE, "signature at the end");

/* The VCEK for the reported TCB, cached until the reported TCB changes. */
static int psp_vcek(struct emul_psp *psp, EVP_PKEY **ret)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r;

	if (!psp->vcek || psp->vcek_tcb != psp->reported_tcb) {
		r = emul_amd_pki_vcek(psp->pki, psp->chip_id, psp->reported_tcb, &key, &cert);
		if (r < 0)
			return r;
		X509_free(cert);
		EVP_PKEY_free(psp->vcek);
		psp->vcek = key;
		psp->vcek_tcb = psp->reported_tcb;
	}
	*ret = psp->vcek;
	return 0;
}

static int psp_report_build(struct emul_psp *psp, const struct psp_guest *g,
			    const uint8_t report_data[64], uint32_t vmpl,
			    uint8_t out[EMUL_SNP_REPORT_SIZE])
{
	uint8_t rep[EMUL_SNP_REPORT_SIZE] = {0};
	EVP_PKEY *key = NULL;
	uint32_t signing_key;
	int r;

	if (psp->vlek) {
		key = psp->vlek;
		signing_key = SIGNING_KEY_VLEK;
	} else if (psp->mask_chip_key) {
		signing_key = SIGNING_KEY_NONE; /* MASK_CHIP_KEY: the VCEK does not sign */
	} else {
		r = psp_vcek(psp, &key);
		if (r < 0)
			return r;
		signing_key = SIGNING_KEY_VCEK;
	}

	put_le32(rep + REPORT_VERSION_OFF, REPORT_VERSION);
	put_le32(rep + REPORT_GUEST_SVN_OFF, g->guest_svn);
	put_le64(rep + REPORT_POLICY_OFF, g->policy);
	memcpy(rep + REPORT_FAMILY_ID_OFF, g->family_id, 16);
	memcpy(rep + REPORT_IMAGE_ID_OFF, g->image_id, 16);
	put_le32(rep + REPORT_VMPL_OFF, vmpl);
	put_le32(rep + REPORT_SIGNATURE_ALGO_OFF, 1); /* ECDSA P-384 with SHA-384 */
	put_le64(rep + REPORT_CURRENT_TCB_OFF, psp->current_tcb);
	put_le64(rep + REPORT_PLATFORM_INFO_OFF, psp->platform_info);
	put_le32(rep + REPORT_KEY_INFO_OFF,
		 (g->author_key_en ? 1u : 0u) | (psp->mask_chip_key ? 2u : 0u) | signing_key << 2);
	if (report_data)
		memcpy(rep + REPORT_REPORT_DATA_OFF, report_data, 64);
	memcpy(rep + REPORT_MEASUREMENT_OFF, g->ld, PSP_LD_SIZE);
	memcpy(rep + REPORT_HOST_DATA_OFF, g->host_data, 32);
	memcpy(rep + REPORT_ID_KEY_DIGEST_OFF, g->id_key_digest, PSP_LD_SIZE);
	memcpy(rep + REPORT_AUTHOR_KEY_DIGEST_OFF, g->author_key_digest, PSP_LD_SIZE);
	memcpy(rep + REPORT_REPORT_ID_OFF, g->report_id, 32);
	memset(rep + REPORT_REPORT_ID_MA_OFF, 0xff, 32); /* no migration agent */
	put_le64(rep + REPORT_REPORTED_TCB_OFF, psp->reported_tcb);
	psp_cpuid(psp, &rep[REPORT_CPUID_FAM_ID_OFF], &rep[REPORT_CPUID_MOD_ID_OFF],
		  &rep[REPORT_CPUID_STEP_OFF]);
	if (!psp->mask_chip_id)
		memcpy(rep + REPORT_CHIP_ID_OFF, psp->chip_id, 64);
	put_le64(rep + REPORT_COMMITTED_TCB_OFF, psp->committed_tcb);
	rep[REPORT_CURRENT_BUILD_OFF] = psp->build_id;
	rep[REPORT_CURRENT_BUILD_OFF + 1] = psp->api_minor;
	rep[REPORT_CURRENT_BUILD_OFF + 2] = psp->api_major;
	rep[REPORT_COMMITTED_BUILD_OFF] = psp->committed_build_id;
	rep[REPORT_COMMITTED_BUILD_OFF + 1] = psp->committed_api_minor;
	rep[REPORT_COMMITTED_BUILD_OFF + 2] = psp->committed_api_major;
	put_le64(rep + REPORT_LAUNCH_TCB_OFF, g->launch_tcb);
	put_le64(rep + REPORT_LAUNCH_MIT_VECTOR_OFF, 0);
	put_le64(rep + REPORT_CURRENT_MIT_VECTOR_OFF, 0);

	if (key) {
		r = psp_ecdsa_sign(key, rep, REPORT_SIGNED_LEN, rep + REPORT_SIGNATURE_OFF);
		if (r < 0)
			return r;
	}
	memcpy(out, rep, sizeof(rep));
	return 0;
}

static int psp_report(struct emul_psp *psp, uint32_t handle, const uint8_t report_data[64],
		      uint32_t vmpl, uint8_t ret_report[EMUL_SNP_REPORT_SIZE],
		      uint32_t *ret_fw_error)
{
	int r;

	if (!psp || !ret_report)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	struct psp_guest *g = psp_guest_find(psp, handle);
	if (!g)
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST);
	else if (g->state != PSP_GSTATE_RUNNING)
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST_STATE);
	else {
		r = psp_report_build(psp, g, report_data, vmpl, ret_report);
		if (r == 0 && ret_fw_error)
			*ret_fw_error = 0;
	}
	pthread_mutex_unlock(&psp->lock);
	return r;
}

int emul_psp_snp_guest_report(struct emul_psp *psp, uint32_t handle, const uint8_t report_data[64],
			      uint32_t vmpl, uint8_t ret_report[EMUL_SNP_REPORT_SIZE],
			      uint32_t *ret_fw_error)
{
	/* MSG_REPORT_REQ: VMPL must be one the guest has (0-3). */
	if (vmpl > 3)
		return psp_fail(ret_fw_error, HV_SEV_RET_INVALID_PARAM);
	return psp_report(psp, handle, report_data, vmpl, ret_report, ret_fw_error);
}

int emul_psp_snp_hv_report(struct emul_psp *psp, uint32_t handle,
			   uint8_t ret_report[EMUL_SNP_REPORT_SIZE], uint32_t *ret_fw_error)
{
	/* SNP_HV_REPORT_REQ: VMPL 0xFFFFFFFF marks a host-requested report; REPORT_DATA zero. */
	return psp_report(psp, handle, NULL, 0xffffffffu, ret_report, ret_fw_error);
}
