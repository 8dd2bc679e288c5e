/* The emulated firmware's side of an SNP guest launch, as KVM drives it: SNP_LAUNCH_START
 * (policy checks), SNP_LAUNCH_UPDATE (the launch digest, folded page by page exactly as the SNP
 * ABI's PAGE_INFO says), SNP_LAUNCH_FINISH (ID block and ID authentication), SNP_DECOMMISSION.
 * The digest code is written independently of coco/snp/gctx.c: tests compare the two. */
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/emul/psp_priv.h"
#include "hv/uapi/sev_compat.h"

/* SNP ABI "Guest Policy" (section 4.3). */
#define POLICY_ABI_MINOR(p) ((uint8_t)((p)&0xff))
#define POLICY_ABI_MAJOR(p) ((uint8_t)(((p) >> 8) & 0xff))
#define POLICY_SMT (1ull << 16)
#define POLICY_RSVD_MBO (1ull << 17)
#define POLICY_MEM_AES_256_XTS (1ull << 22)
#define POLICY_RAPL_DIS (1ull << 23)
#define POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define POLICY_RSVD_MBZ (~0ull << 26)

/* SNP ABI SNP_LAUNCH_UPDATE, PAGE_INFO (0x70 bytes) and PAGE_TYPE. */
#define PAGE_INFO_SIZE 0x70
#define PAGE_INFO_DIGEST_CUR 0x00
#define PAGE_INFO_CONTENTS 0x30
#define PAGE_INFO_LENGTH 0x60
#define PAGE_INFO_PAGE_TYPE 0x62
#define PAGE_INFO_IMI_PAGE 0x63
#define PAGE_INFO_VMPL3_PERMS 0x64
#define PAGE_INFO_VMPL2_PERMS 0x65
#define PAGE_INFO_VMPL1_PERMS 0x66
#define PAGE_INFO_GPA 0x68
enum { PAGE_NORMAL = 1, PAGE_VMSA, PAGE_ZERO, PAGE_UNMEASURED, PAGE_SECRETS, PAGE_CPUID };

/* SNP ABI SNP_LAUNCH_FINISH "ID Block". */
#define ID_BLOCK_LD 0x00
#define ID_BLOCK_FAMILY_ID 0x30
#define ID_BLOCK_IMAGE_ID 0x40
#define ID_BLOCK_VERSION 0x50
#define ID_BLOCK_GUEST_SVN 0x54
#define ID_BLOCK_POLICY 0x58

/* SNP_LAUNCH_START's policy checks: malformed (reserved bits) is INVALID_PARAM; a policy this
 * platform cannot honour is POLICY_FAILURE. */
static uint32_t psp_policy_check(const struct emul_psp *psp, uint64_t policy)
{
	if (!(policy & POLICY_RSVD_MBO) || (policy & POLICY_RSVD_MBZ))
		return HV_SEV_RET_INVALID_PARAM;
	/* The guest's minimum ABI version must not exceed the firmware's. */
	if (POLICY_ABI_MAJOR(policy) > psp->api_major ||
	    (POLICY_ABI_MAJOR(policy) == psp->api_major &&
	     POLICY_ABI_MINOR(policy) > psp->api_minor))
		return HV_SEV_RET_POLICY_FAILURE;
	/* SMT clear: the guest refuses to run while SMT is enabled. */
	if (!(policy & POLICY_SMT) && psp->smt_en)
		return HV_SEV_RET_POLICY_FAILURE;
	if ((policy & POLICY_MEM_AES_256_XTS) && psp->product == SNP_PRODUCT_MILAN)
		return HV_SEV_RET_POLICY_FAILURE;
	/* The emulated platform has RAPL enabled and ciphertext hiding off. */
	if (policy & (POLICY_RAPL_DIS | POLICY_CIPHERTEXT_HIDING))
		return HV_SEV_RET_POLICY_FAILURE;
	return 0;
}

int emul_psp_snp_launch_start(struct emul_psp *psp, uint64_t policy, const uint8_t gosvw[16],
			      uint32_t *ret_handle, uint32_t *ret_fw_error)
{
	struct psp_guest *g = NULL;
	uint32_t st;
	int r = 0;

	if (!psp || !ret_handle)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	st = psp_policy_check(psp, policy);
	if (st) {
		r = psp_fail(ret_fw_error, st);
		goto out;
	}
	for (size_t i = 0; i < PSP_MAX_GUESTS && !g; i++)
		if (psp->guests[i].state == PSP_GSTATE_FREE)
			g = &psp->guests[i];
	if (!g) {
		r = psp_fail(ret_fw_error, HV_SEV_RET_RESOURCE_LIMIT);
		goto out;
	}
	memset(g, 0, sizeof(*g));
	if (RAND_bytes(g->report_id, sizeof(g->report_id)) != 1) {
		r = -EIO;
		goto out;
	}
	do {
		g->handle = psp->next_handle++;
	} while (g->handle == 0 || psp_guest_find(psp, g->handle));
	g->state = PSP_GSTATE_LAUNCH;
	g->policy = policy;
	if (gosvw)
		memcpy(g->gosvw, gosvw, sizeof(g->gosvw));
	g->launch_tcb = psp->current_tcb; /* REPORT.LAUNCH_TCB: CurrentTcb at launch */
	*ret_handle = g->handle;
	if (ret_fw_error)
		*ret_fw_error = 0;
out:
	pthread_mutex_unlock(&psp->lock);
	return r;
}

/* SNP ABI SNP_LAUNCH_UPDATE: LD := SHA-384(PAGE_INFO). CONTENTS is the SHA-384 of the page for
 * NORMAL and VMSA pages and zero for ZERO, UNMEASURED, SECRETS and CPUID pages. */
static void psp_fold_page(uint8_t ld[PSP_LD_SIZE], uint8_t page_type, const uint8_t *contents,
			  bool imi, uint8_t vmpl3, uint8_t vmpl2, uint8_t vmpl1, uint64_t gpa)
{
	uint8_t info[PAGE_INFO_SIZE] = {0};

	memcpy(info + PAGE_INFO_DIGEST_CUR, ld, PSP_LD_SIZE);
	if (page_type == PAGE_NORMAL || page_type == PAGE_VMSA)
		SHA384(contents, 4096, info + PAGE_INFO_CONTENTS);
	info[PAGE_INFO_LENGTH] = PAGE_INFO_SIZE & 0xff;
	info[PAGE_INFO_LENGTH + 1] = PAGE_INFO_SIZE >> 8;
	info[PAGE_INFO_PAGE_TYPE] = page_type;
	info[PAGE_INFO_IMI_PAGE] = imi;
	info[PAGE_INFO_VMPL3_PERMS] = vmpl3;
	info[PAGE_INFO_VMPL2_PERMS] = vmpl2;
	info[PAGE_INFO_VMPL1_PERMS] = vmpl1;
	for (int i = 0; i < 8; i++)
		info[PAGE_INFO_GPA + i] = (uint8_t)(gpa >> (8 * i));
	SHA384(info, sizeof(info), ld);
}

int emul_psp_snp_launch_update(struct emul_psp *psp, uint32_t handle, uint64_t gpa,
			       uint8_t page_type, const uint8_t contents[4096], bool imi,
			       uint8_t vmpl3_perms, uint8_t vmpl2_perms, uint8_t vmpl1_perms,
			       uint32_t *ret_fw_error)
{
	int r = 0;

	if (!psp)
		return -EINVAL;
	if ((page_type == PAGE_NORMAL || page_type == PAGE_VMSA) && !contents)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	struct psp_guest *g = psp_guest_find(psp, handle);
	if (!g)
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST);
	else if (g->state != PSP_GSTATE_LAUNCH)
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST_STATE);
	else if (page_type < PAGE_NORMAL || page_type > PAGE_CPUID || (gpa & 0xfff))
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_PARAM);
	else {
		psp_fold_page(g->ld, page_type, contents, imi, vmpl3_perms, vmpl2_perms,
			      vmpl1_perms, gpa);
		if (ret_fw_error)
			*ret_fw_error = 0;
	}
	pthread_mutex_unlock(&psp->lock);
	return r;
}

/* SNP ABI SNP_LAUNCH_FINISH with an ID block: the signatures (ID_AUTH), then the block's LD
 * against the launch digest (BAD_MEASUREMENT) and its POLICY against the guest's
 * (POLICY_FAILURE). Returns 0 or a SEV_RET_* status, or a negative errno. */
static int psp_finish_id_block(struct psp_guest *g, const uint8_t *id_block, const uint8_t *id_auth,
			       bool author_key_en)
{
	uint8_t id_digest[PSP_LD_SIZE], author_digest[PSP_LD_SIZE];
	int r;

	if (get_le32(id_block + ID_BLOCK_VERSION) != 1)
		return HV_SEV_RET_INVALID_PARAM;
	r = psp_id_auth_check(id_block, id_auth, author_key_en, id_digest, author_digest);
	if (r != 0)
		return r;
	if (!mem_equal_ct(id_block + ID_BLOCK_LD, g->ld, PSP_LD_SIZE))
		return HV_SEV_RET_BAD_MEASUREMENT;
	if (get_le64(id_block + ID_BLOCK_POLICY) != g->policy)
		return HV_SEV_RET_POLICY_FAILURE;
	g->id_block_en = true;
	g->author_key_en = author_key_en;
	memcpy(g->family_id, id_block + ID_BLOCK_FAMILY_ID, sizeof(g->family_id));
	memcpy(g->image_id, id_block + ID_BLOCK_IMAGE_ID, sizeof(g->image_id));
	g->guest_svn = get_le32(id_block + ID_BLOCK_GUEST_SVN);
	memcpy(g->id_key_digest, id_digest, PSP_LD_SIZE);
	memcpy(g->author_key_digest, author_digest, PSP_LD_SIZE);
	return 0;
}

int emul_psp_snp_launch_finish(struct emul_psp *psp, uint32_t handle, const uint8_t *id_block,
			       const uint8_t *id_auth, bool author_key_en,
			       const uint8_t host_data[32], uint32_t *ret_fw_error)
{
	int r = 0;

	if (!psp || (id_block && !id_auth))
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	struct psp_guest *g = psp_guest_find(psp, handle);
	if (!g) {
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST);
		goto out;
	}
	if (g->state != PSP_GSTATE_LAUNCH) {
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST_STATE);
		goto out;
	}
	/* AUTHOR_KEY_EN without an ID block (ID_BLOCK_EN = 0) is malformed. */
	if (author_key_en && !id_block) {
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_PARAM);
		goto out;
	}
	if (id_block) {
		r = psp_finish_id_block(g, id_block, id_auth, author_key_en);
		if (r > 0)
			r = psp_fail(ret_fw_error, (uint32_t)r);
		if (r < 0)
			goto out;
	}
	if (host_data)
		memcpy(g->host_data, host_data, sizeof(g->host_data));
	g->state = PSP_GSTATE_RUNNING;
	if (ret_fw_error)
		*ret_fw_error = 0;
out:
	pthread_mutex_unlock(&psp->lock);
	return r;
}

int emul_psp_snp_launch_digest(struct emul_psp *psp, uint32_t handle, uint8_t ret[48])
{
	int r = 0;

	if (!psp || !ret)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	struct psp_guest *g = psp_guest_find(psp, handle);
	if (g)
		memcpy(ret, g->ld, PSP_LD_SIZE);
	else
		r = -ENOENT;
	pthread_mutex_unlock(&psp->lock);
	return r;
}

int emul_psp_snp_decommission(struct emul_psp *psp, uint32_t handle, uint32_t *ret_fw_error)
{
	int r = 0;

	if (!psp)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	struct psp_guest *g = psp_guest_find(psp, handle);
	if (!g) {
		r = psp_fail(ret_fw_error, HV_SEV_RET_INVALID_GUEST);
	} else {
		memset(g, 0, sizeof(*g));
		if (ret_fw_error)
			*ret_fw_error = 0;
	}
	pthread_mutex_unlock(&psp->lock);
	return r;
}
