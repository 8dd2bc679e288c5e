/* The emulated PSP's guest side: the launch digest it folds page by page against coco/snp's
 * offline calculator and sev-snp-measure's known answers, launch policy and ID block checks,
 * and its version-5 attestation reports (layout against the real Genoa report, ECDSA signature
 * verified here with OpenSSL against the VCEK/VLEK certificate). */
#include <ftw.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "coco/snp/gctx.h"
#include "coco/snp/hashes.h"
#include "coco/snp/idblock.h"
#include "coco/snp/measure.h"
#include "coco/snp/vmsa.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/emul/psp.h"
#include "hv/sev.h"
#include "hv/uapi/sev_compat.h"
#include "tests/check_main.h"

#define GENOA_TCB 0x541900000000000aull
#define FW_DIR SOURCE_DIR "/tests/data/snp/firmware"
#define GENOA_REPORT SOURCE_DIR "/tests/data/snp/reports/genoa/report.bin"

static char state_dir[64];
static char pki_dir[64];
static struct emul_psp *psp;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void open_psp(enum snp_product product)
{
	struct emul_psp_config cfg = {.state_dir = state_dir, .product = product};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
}

static void setup(void)
{
	char from[128], to[128];

	snprintf(state_dir, sizeof(state_dir), "/tmp/test-psp-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	snprintf(from, sizeof(from), "%s/emul-amd-genoa", pki_dir);
	snprintf(to, sizeof(to), "%s/emul-amd-genoa", state_dir);
	ck_assert_int_eq(symlink(from, to), 0);
	open_psp(SNP_PRODUCT_GENOA);
}

static void teardown(void)
{
	emul_psp_free(psp);
	psp = NULL;
	nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_uint_eq(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Both the PSP and coco's GCTX fold the same page. */
static void both_update(uint32_t h, struct snp_gctx *g, uint8_t type, uint64_t gpa,
			const uint8_t *page)
{
	uint32_t fw = 0xdead;
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, gpa, type, page, false, 0, 0, 0, &fw),
			 0);
	ck_assert_uint_eq(fw, 0);
	if (type == SNP_PAGE_NORMAL || type == SNP_PAGE_VMSA) {
		uint8_t d[48];
		SHA384(page, 4096, d);
		snp_gctx_update_page(g, type, gpa, d);
	} else {
		snp_gctx_update_page(g, type, gpa, NULL);
	}
}

static void both_range(uint32_t h, struct snp_gctx *g, uint8_t type, uint64_t gpa, size_t len)
{
	for (size_t off = 0; off < len; off += 4096)
		both_update(h, g, type, gpa + off, NULL);
}

static void assert_same_digest(uint32_t h, const struct snp_gctx *g)
{
	uint8_t ld[48];
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);
	ck_assert_mem_eq(ld, g->ld, 48);
}

/* sev-snp-measure 0.0.13 vector "snp_default" (tests/data/snp/measure-vectors.json): AmdSev
 * firmware suffix, QEMU, 1 vCPU EPYC-v4, empty kernel/initrd, append "console=ttyS0
 * loglevel=7", features 0x21. Pages in sev-snp-measure's order (docs/notes/snp-measure-facts.md
 * section 3), fed to the PSP one at a time as KVM would, checked against coco's GCTX after every
 * group and against coco's snp_measure() and the known answer at the end. */
START_TEST(test_digest_snp_default)
{
	_cleanup_free_ char *fw_img = NULL;
	size_t fw_len;
	uint8_t page[4096], want[48];
	struct snp_gctx g;
	uint32_t h, fwst, sig;

	ck_assert_int_eq(read_file_max(FW_DIR "/ovmf_AmdSev_suffix.bin", 1 << 20, &fw_img, &fw_len),
			 0);
	ck_assert_uint_eq(fw_len, 4096);
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000, NULL, &h, &fwst), 0);
	snp_gctx_init(&g, NULL);

	both_update(h, &g, SNP_PAGE_NORMAL, 0xfffff000, (const uint8_t *)fw_img);
	/* Known answer: the chain after the firmware page is sev-snp-measure's ovmf hash
	 * (fact sheet section 3 trace, first 8 bytes 086e2e9149ebf45a). */
	uint8_t ld[48];
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);
	ck_assert_uint_eq(ld[0], 0x08);
	ck_assert_uint_eq(ld[1], 0x6e);
	ck_assert_uint_eq(ld[7], 0x5a);
	assert_same_digest(h, &g);

	both_range(h, &g, SNP_PAGE_ZERO, 0x800000, 0x9000);
	both_range(h, &g, SNP_PAGE_ZERO, 0x80a000, 0x3000);
	both_update(h, &g, SNP_PAGE_SECRETS, 0x80d000, NULL);
	both_update(h, &g, SNP_PAGE_CPUID, 0x80e000, NULL);
	both_range(h, &g, SNP_PAGE_ZERO, 0x80f000, 0x1000);
	assert_same_digest(h, &g);

	struct snp_kernel_hashes kh;
	SHA256((const uint8_t *)"", 0, kh.kernel);
	SHA256((const uint8_t *)"", 0, kh.initrd);
	snp_hash_cmdline("console=ttyS0 loglevel=7", kh.cmdline);
	ck_assert_int_eq(snp_hash_table_page(&kh, 0x810c00, page), 0);
	both_update(h, &g, SNP_PAGE_NORMAL, 0x810000, page);
	both_range(h, &g, SNP_PAGE_ZERO, 0x811000, 0xf000);
	assert_same_digest(h, &g);

	ck_assert_int_eq(snp_vcpu_type_sig("EPYC-v4", &sig), 0);
	snp_vmsa_build(page, SNP_VMM_QEMU, SNP_BSP_EIP, 0x21, sig);
	both_update(h, &g, SNP_PAGE_VMSA, SNP_VMSA_GPA, page);
	assert_same_digest(h, &g);

	unhex("803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895"
	      "dfe778d0228977",
	      want, sizeof(want));
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);
	ck_assert_mem_eq(ld, want, 48);

	/* coco's whole offline calculation agrees too. */
	struct snp_measure_input in = {
	    .mode = SNP_MODE_SNP,
	    .ovmf = (const uint8_t *)fw_img,
	    .ovmf_size = fw_len,
	    .kernel = true,
	    .hashes = kh,
	    .vcpus = 1,
	    .vcpu_sig = sig,
	    .guest_features = 0x21,
	    .vmm = SNP_VMM_QEMU,
	    .threads = 1,
	};
	struct snp_measure_result res;
	char err[256];
	ck_assert_int_eq(snp_measure(&in, &res, err, sizeof(err)), 0);
	ck_assert_mem_eq(res.digest, ld, 48);

	/* After LAUNCH_FINISH the digest is what the report carries as MEASUREMENT. */
	uint8_t rep[EMUL_SNP_REPORT_SIZE];
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, NULL, &fwst), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fwst), 0);
	ck_assert_mem_eq(rep + 0x90, want, 48);
}
END_TEST

/* Every page type, and the PAGE_INFO fields coco's calculator always leaves zero (IMI_PAGE,
 * VMPL1-3 permissions) checked against a PAGE_INFO built here from the SNP ABI table. */
START_TEST(test_digest_page_types)
{
	uint8_t page[4096];
	struct snp_gctx g;
	uint32_t h, fw;

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000, NULL, &h, &fw), 0);
	snp_gctx_init(&g, NULL);
	both_update(h, &g, SNP_PAGE_NORMAL, 0x1000, page);
	both_update(h, &g, SNP_PAGE_ZERO, 0x2000, NULL);
	both_update(h, &g, SNP_PAGE_UNMEASURED, 0x3000, NULL);
	both_update(h, &g, SNP_PAGE_SECRETS, 0x4000, NULL);
	both_update(h, &g, SNP_PAGE_CPUID, 0x5000, NULL);
	both_update(h, &g, SNP_PAGE_VMSA, SNP_VMSA_GPA, page);
	assert_same_digest(h, &g);

	/* IMI page with VMPL permissions: SNP ABI PAGE_INFO, 0x70 bytes. */
	uint8_t info[0x70] = {0}, want[48], ld[48];
	memcpy(info, g.ld, 48);
	SHA384(page, 4096, info + 0x30);
	info[0x60] = 0x70; /* LENGTH */
	info[0x62] = SNP_PAGE_NORMAL;
	info[0x63] = 1;	   /* IMI_PAGE */
	info[0x64] = 0x0f; /* VMPL3_PERMS */
	info[0x65] = 0x03; /* VMPL2_PERMS */
	info[0x66] = 0x01; /* VMPL1_PERMS */
	uint64_t gpa = 0x123456000ull;
	for (int i = 0; i < 8; i++)
		info[0x68 + i] = (uint8_t)(gpa >> (8 * i));
	SHA384(info, sizeof(info), want);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, gpa, SNP_PAGE_NORMAL, page, true, 0x0f,
						    0x03, 0x01, &fw),
			 0);
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);
	ck_assert_mem_eq(ld, want, 48);

	/* Refusals: bad page type, unaligned GPA, missing contents, unknown guest. */
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0x1000, 7, page, false, 0, 0, 0, &fw),
			 -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0x1008, 1, page, false, 0, 0, 0, &fw),
			 -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0x1000, 1, NULL, false, 0, 0, 0, &fw),
			 -EINVAL);
	ck_assert_int_eq(
	    emul_psp_snp_launch_update(psp, h + 100, 0x1000, 1, page, false, 0, 0, 0, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_GUEST);
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);
	ck_assert_mem_eq(ld, want, 48);
}
END_TEST

START_TEST(test_launch_policy)
{
	uint32_t h, fw;

	/* Bit 17 must be one; bits 63:26 zero. */
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x10000, NULL, &h, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000 | 1ull << 26, NULL, &h, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	/* SMT clear while the platform has SMT on. */
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x20000, NULL, &h, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_POLICY_FAILURE);
	/* A minimum ABI above the firmware's 1.55. */
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000 | 1 << 8 | 56, NULL, &h, &fw),
			 -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_POLICY_FAILURE);
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000 | 2 << 8, NULL, &h, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_POLICY_FAILURE);
	/* Ciphertext hiding is not enabled on the emulated platform. */
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000 | 1ull << 24, NULL, &h, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_POLICY_FAILURE);
	/* ABI 1.55 exactly, debug allowed. */
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0xb0000 | 1 << 8 | 55, NULL, &h, &fw), 0);
	ck_assert_uint_eq(fw, 0);

	/* State machine: no report before LAUNCH_FINISH, no update after it. */
	uint8_t rep[EMUL_SNP_REPORT_SIZE], page[4096] = {0};
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_GUEST_STATE);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, true, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM); /* author key without an ID block */
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, NULL, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0, 1, page, false, 0, 0, 0, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_GUEST_STATE);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_GUEST_STATE);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 4, rep, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM); /* VMPL 0-3 only */
	ck_assert_int_eq(emul_psp_snp_decommission(psp, h, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_hv_report(psp, h, rep, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_GUEST);
}
END_TEST

/* ECDSA P-384/SHA-384 over report bytes 0x000-0x29F; R at 0x2A0 and S at 0x2E8 as 72-byte
 * little-endian integers (SNP ABI "ECDSA Signature Format"). */
static bool report_verifies(const uint8_t rep[EMUL_SNP_REPORT_SIZE], EVP_PKEY *pub)
{
	uint8_t rb[72], sb[72];
	for (int i = 0; i < 72; i++) {
		rb[i] = rep[0x2a0 + 71 - i];
		sb[i] = rep[0x2e8 + 71 - i];
	}
	ECDSA_SIG *sig = ECDSA_SIG_new();
	ECDSA_SIG_set0(sig, BN_bin2bn(rb, 72, NULL), BN_bin2bn(sb, 72, NULL));
	unsigned char *der = NULL;
	int dlen = i2d_ECDSA_SIG(sig, &der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = dlen > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pub) == 1 &&
		  EVP_DigestVerify(md, der, (size_t)dlen, rep, 0x2a0) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

static X509 *vcek_cert(uint64_t tcb)
{
	uint8_t chip[64];
	X509 *cert = NULL;
	emul_psp_chip_id(psp, chip);
	ck_assert_int_eq(emul_amd_pki_vcek(emul_psp_pki(psp), chip, tcb, NULL, &cert), 0);
	return cert;
}

static uint32_t launched_guest(uint64_t policy, const uint8_t host_data[32])
{
	uint8_t page[4096];
	uint32_t h, fw;
	memset(page, 0x5a, sizeof(page));
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, policy, NULL, &h, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0xfffff000, SNP_PAGE_NORMAL, page,
						    false, 0, 0, 0, &fw),
			 0);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, NULL, NULL, false, host_data, &fw), 0);
	return h;
}

START_TEST(test_report_layout_and_signature)
{
	uint8_t rep[EMUL_SNP_REPORT_SIZE], data[64], host[32], chip[64], ld[48], ff[32];
	_cleanup_free_ char *genoa = NULL;
	size_t glen;
	uint32_t fw;

	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 32; i++)
		host[i] = (uint8_t)i;
	memset(ff, 0xff, sizeof(ff));
	uint32_t h = launched_guest(0x30000, host);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, data, 2, rep, &fw), 0);
	ck_assert_uint_eq(fw, 0);
	emul_psp_chip_id(psp, chip);
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, h, ld), 0);

	/* SNP ABI 1.58 ATTESTATION_REPORT offsets. */
	ck_assert_uint_eq(le32(rep + 0x000), 5);	 /* VERSION */
	ck_assert_uint_eq(le32(rep + 0x004), 0);	 /* GUEST_SVN */
	ck_assert_uint_eq(le64(rep + 0x008), 0x30000);	 /* POLICY */
	ck_assert_uint_eq(le32(rep + 0x030), 2);	 /* VMPL */
	ck_assert_uint_eq(le32(rep + 0x034), 1);	 /* SIGNATURE_ALGO: ECDSA P-384 */
	ck_assert_uint_eq(le64(rep + 0x038), GENOA_TCB); /* CURRENT_TCB */
	ck_assert_uint_eq(le64(rep + 0x040), 0x25);	 /* PLATFORM_INFO: SMT, ECC, alias chk */
	ck_assert_uint_eq(le32(rep + 0x048), 0);	 /* no author key, VCEK-signed */
	ck_assert_mem_eq(rep + 0x050, data, 64);	 /* REPORT_DATA */
	ck_assert_mem_eq(rep + 0x090, ld, 48);		 /* MEASUREMENT */
	ck_assert_mem_eq(rep + 0x0c0, host, 32);	 /* HOST_DATA */
	ck_assert_mem_eq(rep + 0x160, ff, 32);		 /* REPORT_ID_MA: no migration agent */
	ck_assert_uint_eq(le64(rep + 0x180), GENOA_TCB); /* REPORTED_TCB */
	ck_assert_mem_eq(rep + 0x1a0, chip, 64);	 /* CHIP_ID */
	ck_assert_uint_eq(le64(rep + 0x1e0), GENOA_TCB); /* COMMITTED_TCB */
	ck_assert_uint_eq(rep[0x1e8], 43);		 /* CURRENT_BUILD */
	ck_assert_uint_eq(rep[0x1e9], 55);		 /* CURRENT_MINOR */
	ck_assert_uint_eq(rep[0x1ea], 1);		 /* CURRENT_MAJOR */
	ck_assert_uint_eq(le64(rep + 0x1f0), GENOA_TCB); /* LAUNCH_TCB */

	/* Same places as in the real Genoa report (project-oak testdata). */
	ck_assert_int_eq(read_file_max(GENOA_REPORT, 4096, &genoa, &glen), 0);
	ck_assert_uint_eq(glen, EMUL_SNP_REPORT_SIZE);
	const uint8_t *gr = (const uint8_t *)genoa;
	ck_assert_mem_eq(rep + 0x000, gr + 0x000, 4);  /* VERSION 5 */
	ck_assert_mem_eq(rep + 0x034, gr + 0x034, 4);  /* SIGNATURE_ALGO */
	ck_assert_mem_eq(rep + 0x160, gr + 0x160, 32); /* REPORT_ID_MA */
	ck_assert_mem_eq(rep + 0x180, gr + 0x180, 8);  /* REPORTED_TCB (our Genoa default) */
	ck_assert_mem_eq(rep + 0x188, gr + 0x188, 3);  /* CPUID_FAM_ID/MOD_ID/STEP */
	ck_assert_mem_eq(rep + 0x1e8, gr + 0x1e8, 8);  /* CURRENT and COMMITTED versions */
	ck_assert_mem_eq(rep + 0x040, gr + 0x040, 8);  /* PLATFORM_INFO */

	/* Signed by the VCEK for (CHIP_ID, REPORTED_TCB); any flipped signed byte breaks it. */
	X509 *cert = vcek_cert(GENOA_TCB);
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	ck_assert(report_verifies(rep, pub));
	static const size_t flips[] = {0x000, 0x050, 0x090, 0x180, 0x1a0, 0x29f};
	for (size_t i = 0; i < ARRAY_SIZE(flips); i++) {
		rep[flips[i]] ^= 0x01;
		ck_assert_msg(!report_verifies(rep, pub), "flip at %#zx", flips[i]);
		rep[flips[i]] ^= 0x01;
	}
	rep[0x2a0] ^= 1;
	ck_assert(!report_verifies(rep, pub));
	rep[0x2a0] ^= 1;
	ck_assert(report_verifies(rep, pub));

	/* Host-requested report: VMPL 0xFFFFFFFF, REPORT_DATA zero, same signer. */
	uint8_t zero[64] = {0};
	ck_assert_int_eq(emul_psp_snp_hv_report(psp, h, rep, &fw), 0);
	ck_assert_uint_eq(le32(rep + 0x030), 0xffffffffu);
	ck_assert_mem_eq(rep + 0x050, zero, 64);
	ck_assert_mem_eq(rep + 0x0c0, host, 32);
	ck_assert(report_verifies(rep, pub));
	X509_free(cert);
}
END_TEST

START_TEST(test_report_masks_and_vlek)
{
	uint8_t rep[EMUL_SNP_REPORT_SIZE], zero[64] = {0};
	struct hv_sev *sev;
	uint32_t fw;

	ck_assert_int_eq(hv_sev_open_emulated(psp, &sev), 0);
	uint32_t h = launched_guest(0x30000, NULL);
	X509 *vcek = vcek_cert(GENOA_TCB);

	/* MASK_CHIP_ID: CHIP_ID is zero, the report still VCEK-signed. */
	ck_assert_int_eq(hv_sev_snp_set_config(sev, 0, true, false, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_mem_eq(rep + 0x1a0, zero, 64);
	ck_assert(report_verifies(rep, X509_get0_pubkey(vcek)));

	/* MASK_CHIP_KEY: no signature, MASK_CHIP_KEY bit set, SIGNING_KEY 7 (none). */
	ck_assert_int_eq(hv_sev_snp_set_config(sev, 0, false, true, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq(le32(rep + 0x048), 2u | 7u << 2);
	ck_assert_mem_eq(rep + 0x2a0, zero, 64);
	ck_assert_mem_eq(rep + 0x2e8, zero, 64);
	ck_assert(!report_verifies(rep, X509_get0_pubkey(vcek)));

	/* A lower reported TCB: reports carry it and the VCEK for it signs. */
	struct snp_tcb t = {.bootloader = 9, .tee = 0, .snp = 0x18, .microcode = 0x50};
	uint64_t older;
	ck_assert_int_eq(snp_tcb_encode(SNP_PRODUCT_GENOA, &t, &older), 0);
	ck_assert_int_eq(hv_sev_snp_set_config(sev, older, false, false, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq(le64(rep + 0x180), older);
	ck_assert_uint_eq(le64(rep + 0x038), GENOA_TCB);
	X509 *vcek_old = vcek_cert(older);
	ck_assert(report_verifies(rep, X509_get0_pubkey(vcek_old)));
	ck_assert(!report_verifies(rep, X509_get0_pubkey(vcek)));
	X509_free(vcek_old);

	/* VLEK loaded for the reported TCB: SIGNING_KEY 1 and the VLEK signs, not the VCEK. */
	uint8_t stick[EMUL_VLEK_HASHSTICK_SIZE];
	X509 *vlek = NULL;
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(emul_psp_pki(psp), older, stick), 0);
	ck_assert_int_eq(hv_sev_snp_vlek_load(sev, stick, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq((le32(rep + 0x048) >> 2) & 7, 1);
	ck_assert_int_eq(emul_amd_pki_vlek(emul_psp_pki(psp), older, NULL, &vlek), 0);
	ck_assert(report_verifies(rep, X509_get0_pubkey(vlek)));
	ck_assert(!report_verifies(rep, X509_get0_pubkey(vcek)));
	X509_free(vlek);
	X509_free(vcek);
	hv_sev_free(sev);
}
END_TEST

static EVP_PKEY *p384_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");
	ck_assert_ptr_nonnull(k);
	return k;
}

/* LAUNCH_FINISH with an ID block and ID_AUTH signed by coco/snp/idblock.c (the format snpctl
 * id-block writes) and checked by the PSP's own verifier. */
START_TEST(test_id_block)
{
	uint8_t page[4096], block[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE],
	    rep[EMUL_SNP_REPORT_SIZE];
	uint8_t id_digest[48], author_digest[48];
	char err[256];
	uint32_t h, fw;
	EVP_PKEY *id_key = p384_key(), *author_key = p384_key();

	memset(page, 0x11, sizeof(page));
	struct snp_id_block_fields f = {.guest_svn = 7, .policy = 0x30000};
	memset(f.family_id, 0xfa, sizeof(f.family_id));
	memset(f.image_id, 0x1d, sizeof(f.image_id));
	struct snp_gctx g;
	uint8_t d[48];
	snp_gctx_init(&g, NULL);
	SHA384(page, sizeof(page), d);
	snp_gctx_update_page(&g, SNP_PAGE_NORMAL, 0x1000, d);
	memcpy(f.ld, g.ld, 48);
	snp_id_block_build(&f, block);
	ck_assert_int_eq(snp_id_auth_sign(block, id_key, author_key, auth, err, sizeof(err)), 0);
	ck_assert_int_eq(snp_id_key_digest(id_key, id_digest, err, sizeof(err)), 0);
	ck_assert_int_eq(snp_id_key_digest(author_key, author_digest, err, sizeof(err)), 0);

#define LAUNCH(policy)                                                                             \
	do {                                                                                       \
		ck_assert_int_eq(emul_psp_snp_launch_start(psp, policy, NULL, &h, &fw), 0);        \
		ck_assert_int_eq(                                                                  \
		    emul_psp_snp_launch_update(psp, h, 0x1000, 1, page, false, 0, 0, 0, &fw), 0);  \
	} while (0)

	/* Good, with the author key. */
	LAUNCH(0x30000);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, true, NULL, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq(le32(rep + 0x004), 7); /* GUEST_SVN */
	ck_assert_mem_eq(rep + 0x010, f.family_id, 16);
	ck_assert_mem_eq(rep + 0x020, f.image_id, 16);
	ck_assert_uint_eq(le32(rep + 0x048) & 1, 1); /* AUTHOR_KEY_EN */
	ck_assert_mem_eq(rep + 0x0e0, id_digest, 48);
	ck_assert_mem_eq(rep + 0x110, author_digest, 48);

	/* Without the author key: no AUTHOR_KEY_DIGEST. */
	uint8_t zero[48] = {0};
	LAUNCH(0x30000);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, false, NULL, &fw), 0);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq(le32(rep + 0x048) & 1, 0);
	ck_assert_mem_eq(rep + 0x0e0, id_digest, 48);
	ck_assert_mem_eq(rep + 0x110, zero, 48);

	/* A digest other than the block's LD. */
	LAUNCH(0x30000);
	ck_assert_int_eq(emul_psp_snp_launch_update(psp, h, 0x2000, 3, NULL, false, 0, 0, 0, &fw),
			 0);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, true, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_BAD_MEASUREMENT);

	/* A policy other than the block's. */
	LAUNCH(0x70000);
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, true, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_POLICY_FAILURE);

	/* Tampered block, tampered ID key signature, wrong algorithm. */
	LAUNCH(0x30000);
	block[0x54] ^= 1;
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, true, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_BAD_SIGNATURE);
	block[0x54] ^= 1;
	auth[0x680] ^= 1;
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, true, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_BAD_SIGNATURE);
	/* ... which the firmware does not look at without the author key. */
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, false, NULL, &fw), 0);
	auth[0x680] ^= 1;
	LAUNCH(0x30000);
	auth[0] = 2;
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, false, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	auth[0] = 1;
	auth[0x240] = 3; /* ID_KEY curve */
	ck_assert_int_eq(emul_psp_snp_launch_finish(psp, h, block, auth, false, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
#undef LAUNCH
	EVP_PKEY_free(id_key);
	EVP_PKEY_free(author_key);
}
END_TEST

/* Turin: TCB_VERSION in the Turin layout and an 8-byte CHIP_ID (as the real Turin report). */
START_TEST(test_turin)
{
	uint8_t chip[64], zero[56] = {0}, rep[EMUL_SNP_REPORT_SIZE];
	char dir[128];
	uint32_t fw;

	emul_psp_free(psp);
	snprintf(dir, sizeof(dir), "%s/turin", state_dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	struct emul_psp_config cfg = {.state_dir = dir, .product = SNP_PRODUCT_TURIN};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	ck_assert_int_eq(emul_psp_product(psp), SNP_PRODUCT_TURIN);
	emul_psp_chip_id(psp, chip);
	ck_assert_mem_eq(chip + 8, zero, 56);
	uint32_t h = launched_guest(0x30000, NULL);
	ck_assert_int_eq(emul_psp_snp_guest_report(psp, h, NULL, 0, rep, &fw), 0);
	ck_assert_uint_eq(le64(rep + 0x180), 0x4700000002000100ull);
	ck_assert_uint_eq(rep[0x188], 0x1a);
	X509 *cert = vcek_cert(0x4700000002000100ull);
	ck_assert(report_verifies(rep, X509_get0_pubkey(cert)));
	X509_free(cert);

	/* The state directory belongs to Turin now. */
	emul_psp_free(psp);
	psp = NULL;
	cfg.product = SNP_PRODUCT_GENOA;
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), -EINVAL);
	cfg.product = SNP_PRODUCT_UNKNOWN;
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	ck_assert_int_eq(emul_psp_product(psp), SNP_PRODUCT_TURIN);
}
END_TEST

static Suite *psp_suite(void)
{
	Suite *s = suite_create("emul_psp");
	TCase *tc = tcase_create("psp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_digest_snp_default);
	tcase_add_test(tc, test_digest_page_types);
	tcase_add_test(tc, test_launch_policy);
	tcase_add_test(tc, test_report_layout_and_signature);
	tcase_add_test(tc, test_report_masks_and_vlek);
	tcase_add_test(tc, test_id_block);
	tcase_add_test(tc, test_turin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct emul_amd_pki *pki = NULL;

	snprintf(pki_dir, sizeof(pki_dir), "/tmp/test-psp-pki-XXXXXX");
	if (!mkdtemp(pki_dir) || emul_amd_pki_open(pki_dir, SNP_PRODUCT_GENOA, &pki) < 0)
		return 1;
	emul_amd_pki_free(pki);
	int r = run_suite(psp_suite());
	nftw(pki_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
