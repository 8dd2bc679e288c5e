/* hv/sev: every /dev/sev command through hv_sev_* on the emulated PSP (the same marshalling the
 * native backend runs), firmware status names, native open errors, and the UAPI layouts
 * against the kernel ABI numbers. */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/emul/psp.h"
#include "hv/sev.h"
#include "hv/uapi/sev_compat.h"
#include "tests/check_main.h"

/* Genoa defaults of the emulated PSP (its REPORTED_TCB comes from the real Genoa report in
 * ../shared/testdata/snp/reports/genoa: BL 0x0a, TEE 0, SNP 0x19, ucode 0x54). */
#define GENOA_TCB 0x541900000000000aull

static char state_dir[64];
static char pki_dir[64]; /* one emulated AMD PKI (RSA-4096 keys) shared by every test */
static struct emul_psp *psp;
static struct hv_sev *sev;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void open_psp(void)
{
	struct emul_psp_config cfg = {.state_dir = state_dir, .product = SNP_PRODUCT_GENOA};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	ck_assert_int_eq(hv_sev_open_emulated(psp, &sev), 0);
}

static void close_psp(void)
{
	hv_sev_free(sev);
	emul_psp_free(psp);
	sev = NULL;
	psp = NULL;
}

static void setup(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/test-sev-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	char from[128], to[128];
	snprintf(from, sizeof(from), "%s/emul-amd-genoa", pki_dir);
	snprintf(to, sizeof(to), "%s/emul-amd-genoa", state_dir);
	ck_assert_int_eq(symlink(from, to), 0);
	open_psp();
}

static void teardown(void)
{
	close_psp();
	nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t tcb(enum snp_product p, uint8_t bl, uint8_t tee, uint8_t snp, uint8_t uc)
{
	struct snp_tcb t = {.bootloader = bl, .tee = tee, .snp = snp, .microcode = uc};
	uint64_t v;
	ck_assert_int_eq(snp_tcb_encode(p, &t, &v), 0);
	return v;
}

START_TEST(test_platform_status)
{
	struct hv_snp_status st;
	uint32_t fw = 0xdead;

	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(fw, 0);
	ck_assert_uint_eq(st.api_major, 1);
	ck_assert_uint_eq(st.api_minor, 55);
	ck_assert_uint_eq(st.state, 1); /* INIT */
	ck_assert(st.rmp_initialized);
	ck_assert_uint_eq(st.build_id, 43);
	ck_assert(!st.mask_chip_id && !st.mask_chip_key && !st.vlek_en);
	ck_assert_uint_eq(st.guest_count, 0);
	ck_assert_uint_eq(st.current_tcb, GENOA_TCB);
	ck_assert_uint_eq(st.reported_tcb, GENOA_TCB);
	ck_assert(!st.committed_tcb_known);
	ck_assert_str_eq(sev->ops->name, "emulated");

	/* The kernel refuses a NULL buffer before the firmware sees it. */
	ck_assert_int_eq(emul_psp_issue(psp, SNP_PLATFORM_STATUS, NULL, &fw), -EINVAL);

	/* A launched guest counts until it is decommissioned. */
	uint32_t h;
	ck_assert_int_eq(emul_psp_snp_launch_start(psp, 0x30000, NULL, &h, &fw), 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, NULL), 0);
	ck_assert_uint_eq(st.guest_count, 1);
	ck_assert_int_eq(emul_psp_snp_decommission(psp, h, &fw), 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, NULL), 0);
	ck_assert_uint_eq(st.guest_count, 0);
}
END_TEST

START_TEST(test_get_id)
{
	uint8_t id[64], want[64], zero[64] = {0};
	uint32_t fw;

	ck_assert_int_eq(hv_sev_get_id(sev, id, &fw), 0);
	emul_psp_chip_id(psp, want);
	ck_assert_mem_eq(id, want, 64);
	ck_assert(memcmp(id, zero, 64) != 0);

	/* A length query (no buffer) answers INVALID_LEN with the length needed. */
	struct sev_user_data_get_id2 q = {.address = 0, .length = 0};
	ck_assert_int_eq(emul_psp_issue(psp, SEV_GET_ID2, &q, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_LEN);
	ck_assert_uint_eq(q.length, 64);

	/* The chip id is the PSP's identity: the same after a restart. */
	close_psp();
	open_psp();
	ck_assert_int_eq(hv_sev_get_id(sev, id, &fw), 0);
	ck_assert_mem_eq(id, want, 64);
}
END_TEST

START_TEST(test_commit)
{
	struct hv_snp_status st;
	uint32_t fw;
	uint64_t newer = tcb(SNP_PRODUCT_GENOA, 0x0a, 0, 0x1a, 0x54);

	/* New firmware: current moves, reported and committed stay. */
	ck_assert_int_eq(emul_psp_set_current_tcb(psp, newer), 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.current_tcb, newer);
	ck_assert_uint_eq(st.reported_tcb, GENOA_TCB);
	ck_assert_uint_eq(emul_psp_committed_tcb(psp), GENOA_TCB);

	ck_assert_int_eq(hv_sev_snp_commit(sev, &fw), 0);
	ck_assert_uint_eq(fw, 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.current_tcb, newer);
	ck_assert_uint_eq(st.reported_tcb, newer);
	ck_assert_uint_eq(emul_psp_committed_tcb(psp), newer);

	/* Committed is persistent, and firmware below it no longer loads (anti-rollback). */
	close_psp();
	open_psp();
	ck_assert_uint_eq(emul_psp_committed_tcb(psp), newer);
	ck_assert_int_eq(emul_psp_set_current_tcb(psp, GENOA_TCB), -EPERM);
}
END_TEST

START_TEST(test_set_config)
{
	struct hv_snp_status st;
	uint32_t fw;
	uint64_t older = tcb(SNP_PRODUCT_GENOA, 0x09, 0, 0x18, 0x50);
	uint64_t above = tcb(SNP_PRODUCT_GENOA, 0x0a, 0, 0x1a, 0x54);

	ck_assert_int_eq(hv_sev_snp_set_config(sev, older, true, false, &fw), 0);
	ck_assert_uint_eq(fw, 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.reported_tcb, older);
	ck_assert_uint_eq(st.current_tcb, GENOA_TCB);
	ck_assert(st.mask_chip_id && !st.mask_chip_key);

	/* Reported above committed in one component: INVALID_PARAM, nothing changes. */
	fw = 0;
	ck_assert_int_eq(hv_sev_snp_set_config(sev, above, false, true, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.reported_tcb, older);
	ck_assert(st.mask_chip_id && !st.mask_chip_key);

	/* Nonzero reserved TCB bytes (Genoa bytes 2-5) are not a TCB_VERSION. */
	ck_assert_int_eq(hv_sev_snp_set_config(sev, GENOA_TCB | 1ull << 24, false, false, &fw),
			 -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);

	/* Reserved bits and bytes of the command buffer must be zero. */
	struct sev_user_data_snp_config raw;
	uint8_t b[sizeof(raw)] = {0};
	b[HV_SNP_CONFIG_MASKS_OFF] = 0x04;
	memcpy(&raw, b, sizeof(raw));
	ck_assert_int_eq(emul_psp_issue(psp, SNP_SET_CONFIG, &raw, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);
	memset(b, 0, sizeof(b));
	b[63] = 1;
	memcpy(&raw, b, sizeof(raw));
	ck_assert_int_eq(emul_psp_issue(psp, SNP_SET_CONFIG, &raw, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_PARAM);

	/* Zero REPORTED_TCB resets it to the current TCB; the masks follow the call. */
	ck_assert_int_eq(hv_sev_snp_set_config(sev, 0, false, true, &fw), 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.reported_tcb, GENOA_TCB);
	ck_assert(!st.mask_chip_id && st.mask_chip_key);

	/* SNP_COMMIT resets the reported TCB to the current one. */
	ck_assert_int_eq(hv_sev_snp_set_config(sev, older, false, false, &fw), 0);
	ck_assert_int_eq(hv_sev_snp_commit(sev, &fw), 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert_uint_eq(st.reported_tcb, GENOA_TCB);
}
END_TEST

START_TEST(test_vlek_load)
{
	struct emul_amd_pki *pki = emul_psp_pki(psp);
	uint8_t stick[EMUL_VLEK_HASHSTICK_SIZE];
	struct hv_snp_status st;
	uint32_t fw;

	/* Issued for another TCB than the reported one: BAD_SVN. */
	uint64_t other = tcb(SNP_PRODUCT_GENOA, 0x09, 0, 0x19, 0x54);
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, other, stick), 0);
	fw = 0;
	ck_assert_int_eq(hv_sev_snp_vlek_load(sev, stick, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_BAD_SVN);

	/* Tampered: the unwrap does not authenticate it. */
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, GENOA_TCB, stick), 0);
	stick[0x20] ^= 1;
	fw = 0;
	ck_assert_int_eq(hv_sev_snp_vlek_load(sev, stick, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_KEY);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert(!st.vlek_en);

	/* The kernel's own checks: LEN must be 16, version 0, an address. */
	stick[0x20] ^= 1;
	struct sev_user_data_snp_vlek_load arg = {
	    .len = 15, .vlek_wrapped_version = 0, .vlek_wrapped_address = (uintptr_t)stick};
	ck_assert_int_eq(emul_psp_issue(psp, SNP_VLEK_LOAD, &arg, &fw), -EINVAL);
	arg.len = 16;
	arg.vlek_wrapped_version = 1;
	ck_assert_int_eq(emul_psp_issue(psp, SNP_VLEK_LOAD, &arg, &fw), -EINVAL);
	arg.vlek_wrapped_version = 0;
	arg.vlek_wrapped_address = 0;
	ck_assert_int_eq(emul_psp_issue(psp, SNP_VLEK_LOAD, &arg, &fw), -EFAULT);

	/* Good. */
	ck_assert_int_eq(hv_sev_snp_vlek_load(sev, stick, &fw), 0);
	ck_assert_uint_eq(fw, 0);
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert(st.vlek_en);

	/* A platform reset loses it, as on hardware. */
	close_psp();
	open_psp();
	ck_assert_int_eq(hv_sev_snp_platform_status(sev, &st, &fw), 0);
	ck_assert(!st.vlek_en);
}
END_TEST

START_TEST(test_unknown_commands)
{
	uint32_t fw = 0xdead;
	uint8_t buf[64] = {0};

	/* Past the kernel's SEV_MAX: the ioctl refuses, the firmware never sees it. */
	ck_assert_int_eq(emul_psp_issue(psp, 13, buf, &fw), -EINVAL);
	ck_assert_uint_eq(fw, 0);
	ck_assert_int_eq(emul_psp_issue(psp, 0xffffffffu, buf, &fw), -EINVAL);
	/* Known to the kernel, not to the emulated firmware. */
	ck_assert_int_eq(emul_psp_issue(psp, SEV_PEK_GEN, NULL, &fw), -EIO);
	ck_assert_uint_eq(fw, HV_SEV_RET_INVALID_COMMAND);
}
END_TEST

START_TEST(test_fw_error_names)
{
	ck_assert_str_eq(hv_sev_fw_error_name(0x00), "SUCCESS");
	ck_assert_str_eq(hv_sev_fw_error_name(0x01), "INVALID_PLATFORM_STATE");
	ck_assert_str_eq(hv_sev_fw_error_name(0x07), "POLICY_FAILURE");
	ck_assert_str_eq(hv_sev_fw_error_name(0x0b), "BAD_MEASUREMENT");
	ck_assert_str_eq(hv_sev_fw_error_name(0x11), "INVALID_COMMAND");
	ck_assert_str_eq(hv_sev_fw_error_name(0x16), "INVALID_PARAM");
	ck_assert_str_eq(hv_sev_fw_error_name(0x1a), "INVALID_PAGE_STATE");
	ck_assert_str_eq(hv_sev_fw_error_name(0x21), "BAD_SVN");
	ck_assert_str_eq(hv_sev_fw_error_name(0x27), "INVALID_KEY");
	ck_assert_str_eq(hv_sev_fw_error_name(0x3f), "RESPONSE_TOO_LARGE");
	ck_assert_str_eq(hv_sev_fw_error_name(0x1e), "UNKNOWN");
	ck_assert_str_eq(hv_sev_fw_error_name(0x40), "UNKNOWN");
	ck_assert_str_eq(hv_sev_fw_error_message(0x40), "unknown firmware status");
	/* Every assigned code 0x00-0x28, 0x30-0x33, 0x35-0x3F has a name and a sentence. */
	for (uint32_t c = 0; c <= 0x3f; c++) {
		bool gap = c == 0x1e || (c >= 0x29 && c <= 0x2f) || c == 0x34;
		ck_assert_msg(gap == streq(hv_sev_fw_error_name(c), "UNKNOWN"), "code %#x", c);
		const char *m = hv_sev_fw_error_message(c);
		ck_assert(strlen(m) > 10);
		if (!gap)
			ck_assert_msg(m[strlen(m) - 1] == '.', "code %#x", c);
	}

	ck_assert_str_eq(hv_sev_cmd_name(SEV_GET_ID2), "SEV_GET_ID2");
	ck_assert_str_eq(hv_sev_cmd_name(9), "SNP_PLATFORM_STATUS");
	ck_assert_str_eq(hv_sev_cmd_name(10), "SNP_COMMIT");
	ck_assert_str_eq(hv_sev_cmd_name(11), "SNP_SET_CONFIG");
	ck_assert_str_eq(hv_sev_cmd_name(12), "SNP_VLEK_LOAD");
	ck_assert_ptr_null(hv_sev_cmd_name(13));
	ck_assert_str_eq(hv_sev_cmd_linux_version(SNP_PLATFORM_STATUS), "6.9");
	ck_assert_str_eq(hv_sev_cmd_linux_version(SNP_SET_CONFIG), "6.9");
	ck_assert_str_eq(hv_sev_cmd_linux_version(SNP_VLEK_LOAD), "6.11");
	ck_assert_ptr_null(hv_sev_cmd_linux_version(SEV_GET_ID2));
}
END_TEST

START_TEST(test_native_open)
{
	char root[64], path[128];
	struct hv_sev *s = NULL;

	snprintf(root, sizeof(root), "/tmp/test-sev-dev-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	/* No device: ENOENT, nothing returned. */
	ck_assert_int_eq(hv_sev_open_native(root, false, &s), -ENOENT);
	ck_assert_ptr_null(s);

	/* Something that is not /dev/sev: opens, and the ioctl says ENOTTY (the native
	 * marshalling runs up to the kernel). */
	snprintf(path, sizeof(path), "%s/sev", root);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(hv_sev_open_native(root, true, &s), 0);
	ck_assert_str_eq(s->ops->name, "native");
	struct hv_snp_status st;
	uint32_t fw = 0xdead;
	ck_assert_int_eq(hv_sev_snp_platform_status(s, &st, &fw), -ENOTTY);
	ck_assert_uint_eq(fw, 0);
	ck_assert_int_eq(hv_sev_snp_commit(s, &fw), -ENOTTY);
	hv_sev_free(s);
	unlink(path);

	/* A directory cannot be opened read-write. */
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(hv_sev_open_native(root, true, &s), -EISDIR);
	rmdir(path);
	rmdir(root);
}
END_TEST

/* Kernel ABI numbers, from upstream include/uapi/linux/psp-sev.h (all structs __packed). */
START_TEST(test_uapi_layout)
{
	ck_assert_uint_eq(SEV_ISSUE_CMD, 0xc0105300); /* _IOWR('S', 0, 16 bytes) */
	ck_assert_uint_eq(sizeof(struct sev_issue_cmd), 16);
	ck_assert_uint_eq(offsetof(struct sev_issue_cmd, cmd), 0);
	ck_assert_uint_eq(offsetof(struct sev_issue_cmd, data), 4);
	ck_assert_uint_eq(offsetof(struct sev_issue_cmd, error), 12);
	ck_assert_uint_eq(SEV_GET_ID2, 8);
	ck_assert_uint_eq(SNP_PLATFORM_STATUS, 9);
	ck_assert_uint_eq(SNP_COMMIT, 10);
	ck_assert_uint_eq(SNP_SET_CONFIG, 11);
	ck_assert_uint_eq(SNP_VLEK_LOAD, 12);
	ck_assert_uint_eq(sizeof(struct sev_user_data_get_id2), 12);
	ck_assert_uint_eq(offsetof(struct sev_user_data_get_id2, length), 8);
	ck_assert_uint_eq(sizeof(struct sev_user_data_snp_status), 32);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_status, build_id), 4);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_status, guest_count), 12);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_status, current_tcb_version), 16);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_status, reported_tcb_version), 24);
	ck_assert_uint_eq(sizeof(struct sev_user_data_snp_config), 64);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_config, rsvd1), 12);
	ck_assert_uint_eq(sizeof(struct sev_user_data_snp_vlek_load), 16);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_vlek_load, vlek_wrapped_version), 4);
	ck_assert_uint_eq(offsetof(struct sev_user_data_snp_vlek_load, vlek_wrapped_address), 8);
	ck_assert_uint_eq(sizeof(struct sev_user_data_snp_wrapped_vlek_hashstick), 432);

	/* The bitfields sit where the byte offsets used by hv/sev.c say. */
	struct sev_user_data_snp_status s;
	uint8_t b[32];
	memset(&s, 0, sizeof(s));
	s.is_rmp_initialized = 1;
	s.mask_chip_key = 1;
	s.vlek_en = 1;
	memcpy(b, &s, sizeof(b));
	ck_assert_uint_eq(b[HV_SNP_STATUS_FLAGS_OFF], 1);
	ck_assert_uint_eq(b[HV_SNP_STATUS_MASKS_OFF],
			  HV_SNP_STATUS_MASK_CHIP_KEY | HV_SNP_STATUS_VLEK_EN);
	struct sev_user_data_snp_config c;
	memset(&c, 0, sizeof(c));
	c.mask_chip_id = 1;
	memcpy(b, &c, sizeof(b));
	ck_assert_uint_eq(b[HV_SNP_CONFIG_MASKS_OFF], HV_SNP_CONFIG_MASK_CHIP_ID);
}
END_TEST

static Suite *sev_suite(void)
{
	Suite *s = suite_create("sev");
	TCase *tc = tcase_create("emulated");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_platform_status);
	tcase_add_test(tc, test_get_id);
	tcase_add_test(tc, test_commit);
	tcase_add_test(tc, test_set_config);
	tcase_add_test(tc, test_vlek_load);
	tcase_add_test(tc, test_unknown_commands);
	suite_add_tcase(s, tc);
	TCase *tn = tcase_create("plain");
	tcase_add_test(tn, test_fw_error_names);
	tcase_add_test(tn, test_native_open);
	tcase_add_test(tn, test_uapi_layout);
	suite_add_tcase(s, tn);
	return s;
}

int main(void)
{
	struct emul_amd_pki *pki = NULL;

	snprintf(pki_dir, sizeof(pki_dir), "/tmp/test-sev-pki-XXXXXX");
	if (!mkdtemp(pki_dir) || emul_amd_pki_open(pki_dir, SNP_PRODUCT_GENOA, &pki) < 0)
		return 1;
	emul_amd_pki_free(pki);
	int r = run_suite(sev_suite());
	nftw(pki_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
