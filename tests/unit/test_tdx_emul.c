/* hv/emul/tdx_module.c: the emulated TDX module's TD build (MRTD), TD reports, and the
 * P-SEAMLDR update rules, called directly (test_tdx_sysfs.c drives them through sysfs).
 * Expected MRTDs are computed here a second time with OpenSSL over records written out in the
 * test. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coco/tdx/blob.h"
#include "coco/tdx/blobgen.h"
#include "coco/util.h"
#include "hv/emul/tdx_module.h"
#include "tests/check_main.h"
#include "tests/tdx_mrtd_ref.h"

static struct emul_tdx_module *module_with(uint32_t remaining)
{
	struct emul_tdx_module_config c = {.boot_version = {1, 5, 6},
					   .num_remaining_updates = remaining};
	struct emul_tdx_module *m = NULL;
	ck_assert_int_eq(emul_tdx_module_new(&c, &m), 0);
	return m;
}

START_TEST(mrtd_synthetic)
{
	struct emul_tdx_module *m = module_with(1);
	struct emul_td_params p = {0};
	uint32_t td;
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	uint8_t pg[3][4096];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4096; j++)
			pg[i][j] = (uint8_t)(i * 31 + j * 7);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha384(), NULL);
	/* page 0: add, extend all 16 chunks (single-pass, upstream KVM order) */
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0xffc00000, pg[0]), 0);
	tdx_ref_record(c, "MEM.PAGE.ADD", 0xffc00000);
	for (uint64_t off = 0; off < 4096; off += 256) {
		ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0xffc00000 + off), 0);
		tdx_ref_record(c, "MR.EXTEND", 0xffc00000 + off);
		EVP_DigestUpdate(c, pg[0] + off, 256);
	}
	/* page 1: added, not extended (a TempMem-like page) */
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x800000, pg[1]), 0);
	tdx_ref_record(c, "MEM.PAGE.ADD", 0x800000);
	/* page 2: added, one chunk extended later */
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x1000, pg[2]), 0);
	tdx_ref_record(c, "MEM.PAGE.ADD", 0x1000);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0x1000 + 0x300), 0);
	tdx_ref_record(c, "MR.EXTEND", 0x1300);
	EVP_DigestUpdate(c, pg[2] + 0x300, 256);
	uint8_t want[48], got[48];
	EVP_DigestFinal_ex(c, want, NULL);
	EVP_MD_CTX_free(c);

	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, got), -EINVAL); /* not finalized */
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, got), 0);
	ck_assert_mem_eq(got, want, 48);
	emul_tdx_module_free(m);
}
END_TEST

START_TEST(td_build_refusals)
{
	struct emul_tdx_module *m = module_with(1);
	struct emul_td_params p = {0};
	uint32_t td;
	uint8_t pg[4096] = {0};
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x1001, pg), -EINVAL);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x2000, pg), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x2000, pg), -EEXIST);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0x3000), -ENOENT);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0x2080), -EINVAL);
	ck_assert_int_eq(emul_tdx_td_page_add(m, 999, 0x4000, pg), -ENOENT);
	uint8_t rep[EMUL_TDREPORT_SIZE], rd[64] = {0};
	ck_assert_int_eq(emul_tdx_td_report(m, td, rd, rep), -EINVAL); /* still building */
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), -EINVAL);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0x5000, pg), -EINVAL);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0x2000), -EINVAL);
	ck_assert_int_eq(emul_tdx_td_destroy(m, td), 0);
	ck_assert_int_eq(emul_tdx_td_destroy(m, td), -ENOENT);
	/* Many pages: the page table grows. */
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	for (uint64_t i = 0; i < 1000; i++)
		ck_assert_int_eq(emul_tdx_td_page_add(m, td, i * 4096, pg), 0);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 999 * 4096 + 256), 0);
	emul_tdx_module_free(m);
}
END_TEST

START_TEST(td_report_layout)
{
	struct emul_tdx_module *m = module_with(1);
	struct emul_td_params p = {.attributes = 0x10000000, .xfam = 0x61ae7};
	memset(p.mrconfigid, 0x11, 48);
	memset(p.mrowner, 0x22, 48);
	memset(p.mrownerconfig, 0x33, 48);
	uint32_t td;
	uint8_t pg[4096] = {9};
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0, pg), 0);
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	uint8_t d[48];
	memset(d, 0x44, sizeof(d));
	ck_assert_int_eq(emul_tdx_td_rtmr_extend(m, td, 2, d), 0);
	ck_assert_int_eq(emul_tdx_td_rtmr_extend(m, td, 4, d), -EINVAL);

	uint8_t rd[64], rep[EMUL_TDREPORT_SIZE], mrtd[48];
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	ck_assert_int_eq(emul_tdx_td_report(m, td, rd, rep), 0);
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, mrtd), 0);
	/* REPORTMACSTRUCT */
	ck_assert_uint_eq(rep[0], 0x81);
	ck_assert_mem_eq(rep + 128, rd, 64);
	uint8_t h[48];
	SHA384(rep + 256, 239, h);
	ck_assert_mem_eq(rep + 32, h, 48);
	SHA384(rep + 512, 512, h);
	ck_assert_mem_eq(rep + 80, h, 48);
	/* TEE_TCB_INFO: MRSEAM = the running module's */
	struct emul_tdx_identity id;
	ck_assert_int_eq(emul_tdx_module_identity(m, &id), 0);
	ck_assert_mem_eq(rep + 256 + 24, id.mrseam, 48);
	ck_assert_uint_eq(rep[256 + 8], id.seamsvn & 0xff); /* TEE_TCB_SVN: minor SVN byte */
	/* TDINFO */
	uint64_t attr, xfam;
	memcpy(&attr, rep + 512, 8);
	memcpy(&xfam, rep + 520, 8);
	ck_assert_uint_eq(attr, 0x10000000);
	ck_assert_uint_eq(xfam, 0x61ae7);
	ck_assert_mem_eq(rep + 512 + 16, mrtd, 48);
	for (int i = 0; i < 48; i++) {
		ck_assert_uint_eq(rep[512 + 64 + i], 0x11);
		ck_assert_uint_eq(rep[512 + 112 + i], 0x22);
		ck_assert_uint_eq(rep[512 + 160 + i], 0x33);
		ck_assert_uint_eq(rep[512 + 208 + i], 0); /* RTMR0 */
	}
	uint8_t zd[96] = {0}, rtmr2[48];
	memcpy(zd + 48, d, 48);
	SHA384(zd, 96, rtmr2);
	ck_assert_mem_eq(rep + 512 + 208 + 2 * 48, rtmr2, 48);
	/* The MAC and hashes verify; any changed byte does not. */
	ck_assert_int_eq(emul_tdx_report_verify(m, rep), 0);
	for (size_t off = 0; off < EMUL_TDREPORT_SIZE; off += 97) {
		rep[off] ^= 1;
		ck_assert_int_eq(emul_tdx_report_verify(m, rep), -EBADMSG);
		rep[off] ^= 1;
	}
	emul_tdx_module_free(m);
}
END_TEST

/* ---------------------------------------------------------------- updates */

static void split(const uint8_t *blob, size_t n, struct tdx_blob *b)
{
	char err[256];
	ck_assert_int_eq(tdx_blob_parse(blob, n, b, err, sizeof(err)), 0);
}

static enum emul_tdx_update_result update_with(struct emul_tdx_module *m,
					       const struct tdx_blobgen_params *p,
					       bool cpus, enum emul_tdx_update_step fail,
					       char *reason, size_t rlen)
{
	uint8_t *blob = NULL;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(p, &blob, &n), 0);
	struct tdx_blob b;
	split(blob, n, &b);
	struct emul_tdx_update_outcome o;
	ck_assert_int_eq(emul_tdx_module_update(m, blob + b.sigstruct_off, b.sigstruct_len,
						blob + b.module_off, b.module_len, cpus, fail, &o),
			 0);
	if (reason)
		snprintf(reason, rlen, "%s", o.reason);
	free(blob);
	return o.result;
}

static uint32_t running_td(struct emul_tdx_module *m)
{
	struct emul_td_params p = {0};
	uint32_t td;
	uint8_t pg[4096] = {0};
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0, pg), 0);
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	return td;
}

static enum emul_td_state td_state(struct emul_tdx_module *m, uint32_t td)
{
	enum emul_td_state s;
	ck_assert_int_eq(emul_tdx_td_state(m, td, &s), 0);
	return s;
}

START_TEST(td_preserving_update)
{
	struct emul_tdx_module *m = module_with(2);
	uint32_t td = running_td(m);
	uint8_t before[48], after[48];
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, before), 0);
	struct tdx_blobgen_params p = {.major = 1, .minor = 5, .update = 8, .module_pages = 4,
				       .attributes = 0x5};
	char why[160];
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_NONE, why, sizeof(why)),
			 EMUL_TDX_UPDATED);
	struct emul_tdx_identity id;
	ck_assert_int_eq(emul_tdx_module_identity(m, &id), 0);
	ck_assert_uint_eq(id.version.update, 8);
	ck_assert_uint_eq(id.attributes, 5);
	struct hv_tdx_version ldr;
	uint32_t rem;
	emul_tdx_seamldr_info(m, &ldr, &rem);
	ck_assert_uint_eq(rem, 1);
	ck_assert_int_eq(td_state(m, td), EMUL_TD_RUNNABLE);
	ck_assert_int_eq(emul_tdx_td_mrtd(m, td, after), 0);
	ck_assert_mem_eq(before, after, 48);
	/* A TD built after the update works as before. */
	uint32_t td2 = running_td(m);
	ck_assert_int_eq(td_state(m, td2), EMUL_TD_RUNNABLE);
	unsigned ups, fails;
	emul_tdx_module_counters(m, &ups, &fails);
	ck_assert_uint_eq(ups, 1);
	ck_assert_uint_eq(fails, 0);
	emul_tdx_module_free(m);
}
END_TEST

START_TEST(busy_before_shutdown)
{
	struct emul_tdx_module *m = module_with(2);
	uint32_t td = running_td(m);
	ck_assert_int_eq(emul_tdx_td_set_migrating(m, td, true), 0);
	struct tdx_blobgen_params p = {.major = 1, .minor = 5, .update = 8, .module_pages = 4};
	char why[160];
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_NONE, why, sizeof(why)),
			 EMUL_TDX_REFUSED_BUSY);
	ck_assert_ptr_nonnull(strstr(why, "migration"));
	ck_assert_int_eq(td_state(m, td), EMUL_TD_RUNNABLE);
	ck_assert(emul_tdx_module_present(m));
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_SHUTDOWN, NULL, 0),
			 EMUL_TDX_REFUSED_BUSY);
	ck_assert_int_eq(emul_tdx_td_set_migrating(m, td, false), 0);
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_SHUTDOWN, NULL, 0),
			 EMUL_TDX_REFUSED);
	ck_assert(emul_tdx_module_present(m));
	ck_assert_int_eq(td_state(m, td), EMUL_TD_RUNNABLE);
	emul_tdx_module_free(m);
}
END_TEST

/* Each case from a fresh module with one running TD: the update fails after shutdown, the
 * module is gone and the TD is dead. */
START_TEST(after_shutdown_failures)
{
	static const uint32_t other_cpu = 0x000a06a4;
	static const struct {
		struct tdx_blobgen_params p;
		uint32_t remaining;
		bool cpus;
		enum emul_tdx_update_step fail;
		const char *why;
	} cases[] = {
		{{.major = 1, .minor = 5, .update = 8}, 0, true, 0, "no updates left"},
		{{.major = 1, .minor = 5, .update = 8}, 1, false, 0, "every CPU"},
		{{.major = 1, .minor = 5, .update = 8}, 1, true, EMUL_TDX_STEP_INSTALL, "injected"},
		{{.major = 1, .minor = 5, .update = 8}, 1, true, EMUL_TDX_STEP_RUN_UPDATE,
		 "injected"},
		{{.major = 2, .minor = 0, .update = 8}, 1, true, 0, "hand-off"},
		{{.major = 1, .minor = 5, .update = 8, .min_update_hv = 2}, 1, true, 0, "hand-off"},
		{{.major = 1, .minor = 5, .update = 8, .debug = true}, 1, true, 0, "debug"},
		{{.major = 1, .minor = 5, .update = 8, .cpuid = &other_cpu, .cpuid_count = 1}, 1,
		 true, 0, "CPUID"},
		{{.major = 1, .minor = 5, .update = 5, .seamsvn = 1, .no_downgrade = true}, 1,
		 true, 0, "downgrade"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct emul_tdx_module *m = module_with(cases[i].remaining);
		uint32_t td = running_td(m);
		struct tdx_blobgen_params p = cases[i].p;
		p.module_pages = 4;
		char why[160];
		ck_assert_int_eq(update_with(m, &p, cases[i].cpus, cases[i].fail, why,
					     sizeof(why)),
				 EMUL_TDX_LOST);
		ck_assert_msg(strstr(why, cases[i].why), "case %zu: \"%s\"", i, why);
		ck_assert(!emul_tdx_module_present(m));
		struct emul_tdx_identity id;
		ck_assert_int_eq(emul_tdx_module_identity(m, &id), -ENXIO);
		ck_assert_int_eq(td_state(m, td), EMUL_TD_DEAD);
		uint8_t x[48];
		ck_assert_int_eq(emul_tdx_td_mrtd(m, td, x), -ENXIO);
		emul_tdx_module_reboot(m);
		ck_assert(emul_tdx_module_present(m));
		ck_assert_int_eq(emul_tdx_td_state(m, td, &(enum emul_td_state){0}), -ENOENT);
		emul_tdx_module_free(m);
	}
}
END_TEST

START_TEST(boot_from_blob)
{
	struct tdx_blobgen_params p = {.major = 2, .minor = 0, .update = 5, .module_pages = 4,
				       .debug = true};
	uint8_t *blob = NULL;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(&p, &blob, &n), 0);
	struct emul_tdx_module_config c = {.boot_blob = blob, .boot_blob_len = n};
	struct emul_tdx_module *m = NULL;
	ck_assert_int_eq(emul_tdx_module_new(&c, &m), 0);
	struct emul_tdx_identity id;
	ck_assert_int_eq(emul_tdx_module_identity(m, &id), 0);
	ck_assert_uint_eq(id.version.major, 2);
	ck_assert_uint_eq(id.version.update, 5);
	ck_assert(id.debug);
	struct tdx_blob b;
	split(blob, n, &b);
	ck_assert_mem_eq(id.mrseam, b.sig.seamhash, 48);
	emul_tdx_module_free(m);
	blob[0x3000] ^= 1; /* seamhash no longer matches (checksum too) */
	ck_assert_int_lt(emul_tdx_module_new(&c, &m), 0);
	free(blob);
}
END_TEST

/* The Debian OVMF known answer, built through these SEAMCALLs, is in test_tdx_measure.c
 * (debian_ovmf): the TDVF metadata reader is coco/tdx/tdvf.c, and the offline MRTD must equal the
 * emulated module's. */

/* The module's state outlives the process hosting it (cocod killed -9 mid-update): the
 * running module, the budget and a loss come back from the state file; a corrupt file is an
 * error, never a silent reset to the boot module. */
static struct emul_tdx_module *module_kept(const char *file)
{
	struct emul_tdx_module_config c = {.boot_version = {1, 5, 6},
					   .num_remaining_updates = 3, .state_file = file};
	struct emul_tdx_module *m = NULL;
	ck_assert_int_eq(emul_tdx_module_new(&c, &m), 0);
	return m;
}

START_TEST(state_file_kept)
{
	char dir[] = "/tmp/tdx-emul-state-XXXXXX", file[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/module.state", dir);
	struct emul_tdx_module *m = module_kept(file);
	struct tdx_blobgen_params p = {.major = 1, .minor = 5, .update = 8, .module_pages = 4};
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_NONE, NULL, 0), EMUL_TDX_UPDATED);
	struct emul_tdx_identity id1, id2;
	ck_assert_int_eq(emul_tdx_module_identity(m, &id1), 0);
	emul_tdx_module_free(m);

	m = module_kept(file); /* "restart": 1.5.08 still runs, one update used */
	ck_assert_int_eq(emul_tdx_module_identity(m, &id2), 0);
	ck_assert_uint_eq(id2.version.update, 8);
	ck_assert_mem_eq(id1.mrseam, id2.mrseam, 48);
	uint32_t rem;
	emul_tdx_seamldr_info(m, NULL, &rem);
	ck_assert_uint_eq(rem, 2);
	p.update = 9;
	ck_assert_int_eq(update_with(m, &p, true, EMUL_TDX_STEP_RUN_UPDATE, NULL, 0),
			 EMUL_TDX_LOST);
	emul_tdx_module_free(m);

	m = module_kept(file); /* the loss survives too */
	ck_assert(!emul_tdx_module_present(m));
	ck_assert_int_eq(emul_tdx_module_identity(m, &id2), -ENXIO);
	emul_tdx_module_reboot(m); /* a reboot brings the boot module back, and is kept */
	emul_tdx_module_free(m);
	m = module_kept(file);
	ck_assert_int_eq(emul_tdx_module_identity(m, &id2), 0);
	ck_assert_uint_eq(id2.version.update, 6);
	emul_tdx_module_free(m);

	/* Corrupt: one flipped MRSEAM digit no longer matches the sigstruct's seamhash. */
	char *buf = NULL;
	size_t n;
	ck_assert_int_eq(read_file_max(file, 16384, &buf, &n), 0);
	char *mr = strstr(buf, "mrseam ");
	ck_assert_ptr_nonnull(mr);
	mr[7] = mr[7] == '0' ? '1' : '0';
	FILE *f = fopen(file, "w");
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
	free(buf);
	struct emul_tdx_module_config c = {.num_remaining_updates = 3, .state_file = file};
	struct emul_tdx_module *bad = NULL;
	ck_assert_int_eq(emul_tdx_module_new(&c, &bad), -EINVAL);
	ck_assert_ptr_null(bad);
	f = fopen(file, "w");
	fputs("emul-tdx-module 1\npresent 2\n", f);
	fclose(f);
	ck_assert_int_eq(emul_tdx_module_new(&c, &bad), -EINVAL);
	unlink(file);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tdx_emul");
	TCase *tc = tcase_create("module");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mrtd_synthetic);
	tcase_add_test(tc, td_build_refusals);
	tcase_add_test(tc, td_report_layout);
	tcase_add_test(tc, td_preserving_update);
	tcase_add_test(tc, busy_before_shutdown);
	tcase_add_test(tc, after_shutdown_failures);
	tcase_add_test(tc, boot_from_blob);
	tcase_add_test(tc, state_file_kept);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
