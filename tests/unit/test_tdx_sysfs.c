/* hv/tdx.c: the strict parsers of the tdx_host / fw_upload / cpu-list texts, and the whole
 * update path against the simulated kernel (hv/emul/tdx_kernel.c) in front of the emulated
 * module: status, a successful upload, device-busy, firmware-invalid, failure after shutdown
 * (version ENXIO, TDs dead), a stalled upload timing out, CPUs offline.
 * Every simulated tree lives in a fresh temporary directory removed at the end; every wait is
 * bounded (upload timeouts, the simulator's 1 ms steps). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coco/util.h"
#include "coco/tdx/blob.h"
#include "coco/tdx/blobgen.h"
#include "hv/emul/tdx_kernel.h"
#include "hv/emul/tdx_module.h"
#include "hv/tdx.h"
#include "tests/check_main.h"
#include "tests/tdx_td.h"

/* ---------------------------------------------------------------- parsers */

#define S(x) x, sizeof(x) - 1

START_TEST(version_parser)
{
	struct hv_tdx_version v;
	ck_assert_int_eq(hv_tdx_version_parse(S("1.5.06\n"), &v), 0);
	ck_assert_uint_eq(v.major, 1);
	ck_assert_uint_eq(v.minor, 5);
	ck_assert_uint_eq(v.update, 6);
	ck_assert_int_eq(hv_tdx_version_parse(S("2.0.08"), &v), 0);
	ck_assert_int_eq(hv_tdx_version_parse(S("1.5.100\n"), &v), 0);
	ck_assert_uint_eq(v.update, 100);
	ck_assert_int_eq(hv_tdx_version_parse(S("0.0.00\n"), &v), 0);
	struct hv_tdx_version keep = {9, 9, 9};
	static const char *const bad[] = {"1.5.6", "1.5.006", "01.5.06", "1..06", "1.5",
					  "1.5.06.1", " 1.5.06", "1.5.06 ", "1.5.06\n\n",
					  "+1.5.06", "1.-5.06", "", "\n", "1.5.0x", "a.b.cc",
					  "1.5.100\r\n", "1.05.06"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = keep;
		ck_assert_msg(hv_tdx_version_parse(bad[i], strlen(bad[i]), &v) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
		ck_assert_uint_eq(v.major, 9);
	}
	ck_assert_int_eq(hv_tdx_version_parse(S("65536.0.00"), &v), -ERANGE);
	ck_assert_int_eq(hv_tdx_version_parse(S("1.5.99999999999999999999"), &v), -ERANGE);
	ck_assert_int_eq(hv_tdx_version_parse(S("1.5.999999999999999999999"), &v), -EINVAL);
	ck_assert_int_eq(hv_tdx_version_parse("1.5\0.06", 7, &v), -EINVAL);
	char out[HV_TDX_VERSION_STRLEN];
	hv_tdx_version_format(&(struct hv_tdx_version){1, 5, 6}, out);
	ck_assert_str_eq(out, "1.5.06");
	hv_tdx_version_format(&(struct hv_tdx_version){65535, 65535, 65535}, out);
	ck_assert_str_eq(out, "65535.65535.65535");
	ck_assert_int_lt(hv_tdx_version_cmp(&(struct hv_tdx_version){1, 5, 6},
					    &(struct hv_tdx_version){1, 5, 8}), 0);
	ck_assert_int_gt(hv_tdx_version_cmp(&(struct hv_tdx_version){2, 0, 0},
					    &(struct hv_tdx_version){1, 9, 99}), 0);
}
END_TEST

START_TEST(u32_parser)
{
	uint32_t v = 7;
	ck_assert_int_eq(hv_tdx_u32_parse(S("3\n"), UINT32_MAX, &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(hv_tdx_u32_parse(S("4294967295"), UINT32_MAX, &v), 0);
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert_int_eq(hv_tdx_u32_parse(S("4294967296"), UINT32_MAX, &v), -ERANGE);
	ck_assert_int_eq(hv_tdx_u32_parse(S("-1"), UINT32_MAX, &v), -EINVAL);
	ck_assert_int_eq(hv_tdx_u32_parse(S("03"), UINT32_MAX, &v), -EINVAL);
	ck_assert_int_eq(hv_tdx_u32_parse(S(""), UINT32_MAX, &v), -EINVAL);
	ck_assert_uint_eq(v, 4294967295u);
}
END_TEST

START_TEST(cpulist_parser)
{
	struct hv_cpuset c;
	ck_assert_int_eq(hv_cpuset_parse(S("0-3,5\n"), &c), 0);
	ck_assert_uint_eq(c.count, 5);
	ck_assert(hv_cpuset_has(&c, 0) && hv_cpuset_has(&c, 3) && hv_cpuset_has(&c, 5));
	ck_assert(!hv_cpuset_has(&c, 4) && !hv_cpuset_has(&c, 6) && !hv_cpuset_has(&c, 9000));
	char out[64];
	hv_cpuset_format(&c, out, sizeof(out));
	ck_assert_str_eq(out, "0-3,5");
	ck_assert_int_eq(hv_cpuset_parse(S("0\n"), &c), 0);
	ck_assert_uint_eq(c.count, 1);
	ck_assert_int_eq(hv_cpuset_parse(S("\n"), &c), 0); /* e.g. an empty "offline" */
	ck_assert_uint_eq(c.count, 0);
	ck_assert_int_eq(hv_cpuset_parse(S("0-8191"), &c), 0);
	ck_assert_uint_eq(c.count, 8192);
	static const char *const bad[] = {"3-1", "0-3,2", "5,3", "0,,1", "0-", "-1", "1,",
					  ",1", "0-3\n\n", "0 - 3", "0-3;5", "00", "1-02",
					  "0-3,3-4"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hv_cpuset_parse(bad[i], strlen(bad[i]), &c) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(hv_cpuset_parse(S("8192"), &c), -ERANGE);
	ck_assert_int_eq(hv_cpuset_parse(S("0-99999"), &c), -ERANGE);
}
END_TEST

START_TEST(fw_texts)
{
	static const char *const st[] = {"idle", "receiving", "preparing", "transferring",
					 "programming"};
	for (size_t i = 0; i < 5; i++) {
		enum hv_fw_status s = HV_FW_STATUS_UNKNOWN;
		char line[32];
		int n = snprintf(line, sizeof(line), "%s\n", st[i]);
		ck_assert_int_eq(hv_fw_status_parse(line, (size_t)n, &s), 0);
		ck_assert_int_eq(s, (int)i);
		ck_assert_str_eq(hv_fw_status_name(s), st[i]);
	}
	enum hv_fw_status s;
	ck_assert_int_eq(hv_fw_status_parse(S("Idle\n"), &s), -EINVAL);
	ck_assert_int_eq(hv_fw_status_parse(S("idle \n"), &s), -EINVAL);
	ck_assert_int_eq(hv_fw_status_parse(S(""), &s), -EINVAL);

	struct hv_fw_error e;
	ck_assert_int_eq(hv_fw_error_parse(S(""), &e), 0);
	ck_assert(!e.failed);
	ck_assert_int_eq(hv_fw_error_parse(S("\n"), &e), 0);
	ck_assert(!e.failed);
	ck_assert_int_eq(hv_fw_error_parse(S("preparing:device-busy\n"), &e), 0);
	ck_assert(e.failed);
	ck_assert_int_eq(e.at, HV_FW_PREPARING);
	ck_assert_int_eq(e.code, HV_FW_ERR_DEVICE_BUSY);
	ck_assert_int_eq(hv_fw_error_parse(S("programming:firmware-invalid"), &e), 0);
	ck_assert_int_eq(e.at, HV_FW_PROGRAMMING);
	ck_assert_int_eq(e.code, HV_FW_ERR_FIRMWARE_INVALID);
	static const char *const codes[] = {"hw-error", "timeout", "user-abort",
					    "device-busy", "invalid-file-size",
					    "read-write-error", "flash-wearout",
					    "firmware-invalid", "unknown-error"};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "transferring:%s\n", codes[i]);
		ck_assert_int_eq(hv_fw_error_parse(line, (size_t)n, &e), 0);
		ck_assert_str_eq(hv_fw_err_name(e.code), codes[i]);
	}
	ck_assert_int_eq(hv_fw_error_parse(S("unknown-status:hw-error\n"), &e), 0);
	ck_assert_int_eq(e.at, HV_FW_STATUS_UNKNOWN);
	static const char *const bad[] = {"idle:none", "foo:hw-error", "preparing:",
					  "preparing", ":hw-error", "preparing:hw-error:x",
					  "preparing: hw-error", "preparing:hw-error\n\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hv_fw_error_parse(bad[i], strlen(bad[i]), &e) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
}
END_TEST

/* ---------------------------------------------------------------- the simulated host */

/* Every tree lives under one directory of this process, removed by main() after all tests
 * ran: a failing test (its own child process) cannot leave anything behind. */
static char top[64];

struct host {
	char dir[128];
	struct emul_tdx_module *mod;
	struct emul_tdx_kernel *kern;
	struct hv_tdx *tdx;
};

static void host_up(struct host *h, uint32_t remaining, bool no_inotify)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s/host-XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	struct emul_tdx_module_config mc = {.boot_version = {1, 5, 6},
					    .num_remaining_updates = remaining};
	ck_assert_int_eq(emul_tdx_module_new(&mc, &h->mod), 0);
	struct emul_tdx_kernel_config kc = {.root = h->dir, .module = h->mod, .cpus = 8,
					    .step_delay_ms = 1, .no_inotify = no_inotify};
	ck_assert_int_eq(emul_tdx_kernel_start(&kc, &h->kern), 0);
	struct hv_tdx_options o = {.start_grace_ms = 3000};
	ck_assert_int_eq(hv_tdx_open(h->dir, &o, &h->tdx), 0);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void host_down(struct host *h)
{
	hv_tdx_free(h->tdx);
	emul_tdx_kernel_stop(h->kern);
	emul_tdx_module_free(h->mod);
	ck_assert_int_eq(nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A v2 image of a synthetic module (Intel ships v1: convert as the daemon will). */
static uint8_t *image(uint16_t major, uint16_t minor, uint16_t update, size_t *n)
{
	struct tdx_blobgen_params p = {.major = major, .minor = minor, .update = update,
				       .module_pages = 16, .seed = update};
	uint8_t *v1 = NULL, *v2 = NULL;
	size_t n1;
	ck_assert_int_eq(tdx_blobgen(&p, &v1, &n1), 0);
	struct tdx_blob b;
	char err[256];
	ck_assert_int_eq(tdx_blob_parse(v1, n1, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(tdx_blob_to_v2(v1, &b, &v2, n, err, sizeof(err)), 0);
	free(v1);
	return v2;
}

struct progress {
	enum hv_fw_status seen[16];
	int n;
};

static void on_progress(void *u, enum hv_fw_status st, uint32_t rem, uint64_t ms)
{
	struct progress *p = u;
	if (p->n < 16)
		p->seen[p->n++] = st;
}

static void expect_version(struct host *h, uint16_t ma, uint16_t mi, uint16_t up)
{
	struct hv_tdx_version v;
	ck_assert_int_eq(hv_tdx_module_version(h->tdx, &v), 0);
	ck_assert_uint_eq(v.major, ma);
	ck_assert_uint_eq(v.minor, mi);
	ck_assert_uint_eq(v.update, up);
}

static uint32_t remaining(struct host *h)
{
	uint32_t r = 0;
	ck_assert_int_eq(hv_tdx_remaining_updates(h->tdx, &r), 0);
	return r;
}

START_TEST(status_read)
{
	struct host h;
	host_up(&h, 3, false);
	expect_version(&h, 1, 5, 6);
	struct hv_tdx_version ldr;
	ck_assert_int_eq(hv_tdx_seamldr_version(h.tdx, &ldr), 0);
	ck_assert_uint_eq(ldr.major, 1);
	ck_assert_uint_eq(ldr.update, 2);
	ck_assert_uint_eq(remaining(&h), 3);
	ck_assert_int_eq(hv_tdx_update_interface(h.tdx), 1);
	struct hv_tdx_state s;
	hv_tdx_state_read(h.tdx, &s);
	ck_assert_int_eq(s.version_errno, 0);
	ck_assert_uint_eq(s.version.update, 6);
	ck_assert_int_eq(s.remaining_errno, 0);
	ck_assert_uint_eq(s.remaining_updates, 3);
	ck_assert(s.update_interface);
	ck_assert_int_eq(s.cpus_errno, 0);
	ck_assert_uint_eq(s.cpus_online, 8);
	ck_assert_uint_eq(s.cpus_possible, 8);
	ck_assert_uint_eq(s.cpus_missing, 0);
	ck_assert_int_eq(s.upload_errno, 0);
	ck_assert_int_eq(s.upload_status, HV_FW_IDLE);
	host_down(&h);

	/* No tdx_host at all (not a TDX host): ENOENT, no interface. */
	struct hv_tdx *t;
	ck_assert_int_eq(hv_tdx_open("/nonexistent-sysfs", NULL, &t), 0);
	struct hv_tdx_version v;
	ck_assert_int_eq(hv_tdx_module_version(t, &v), -ENOENT);
	ck_assert_int_eq(hv_tdx_update_interface(t), 0);
	struct hv_tdx_upload_result res;
	uint8_t one = 1;
	ck_assert_int_eq(hv_tdx_upload(t, &one, 1, NULL, &res), -ENOENT);
	hv_tdx_free(t);
}
END_TEST

static void upload_ok(struct host *h, uint16_t update)
{
	size_t n;
	uint8_t *img = image(1, 5, update, &n);
	struct progress pr = {0};
	struct hv_tdx_upload_options o = {.timeout_ms = 10000, .poll_interval_ms = 1,
					  .progress = on_progress, .userdata = &pr};
	struct hv_tdx_upload_result res;
	ck_assert_int_eq(hv_tdx_upload(h->tdx, img, n, &o, &res), 0);
	ck_assert_msg(!res.error.failed, "error %s:%s", hv_fw_status_name(res.error.at),
		      hv_fw_err_name(res.error.code));
	ck_assert_uint_eq(res.remaining_size, 0);
	/* Progress: statuses in the fw_upload order, ending with idle. (A descheduled poller
	 * may see none but the final idle: saw_busy_status is not asserted.) */
	ck_assert_int_ge(pr.n, 1);
	ck_assert_int_eq(pr.seen[pr.n - 1], HV_FW_IDLE);
	for (int i = 1; i < pr.n - 1; i++)
		ck_assert_int_ge(pr.seen[i], pr.seen[i - 1]);
	free(img);
}

START_TEST(successful_update_preserves_tds)
{
	struct host h;
	host_up(&h, 3, false);
	uint32_t td = test_finalized_td(h.mod);
	uint8_t mrtd[48], after[48];
	ck_assert_int_eq(emul_tdx_td_mrtd(h.mod, td, mrtd), 0);

	upload_ok(&h, 8);
	expect_version(&h, 1, 5, 8);
	ck_assert_uint_eq(remaining(&h), 2);
	enum emul_td_state st;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_RUNNABLE);
	ck_assert_int_eq(emul_tdx_td_mrtd(h.mod, td, after), 0);
	ck_assert_mem_eq(mrtd, after, 48);
	/* The TD's report now names the new module: MRSEAM = SHA-384 of its module. */
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct tdx_blob b;
	ck_assert_int_eq(tdx_blob_parse(img, n, &b, NULL, 0), 0);
	uint8_t rep[EMUL_TDREPORT_SIZE], rd[64] = {0};
	ck_assert_int_eq(emul_tdx_td_report(h.mod, td, rd, rep), 0);
	ck_assert_mem_eq(rep + TDREPORT_TEE_TCB_INFO_OFF + TEE_TCB_INFO_MRSEAM_OFF, b.sig.seamhash,
			 48);
	free(img);

	/* A second Z-stream update, through the polling fallback's sibling path: same tree. */
	upload_ok(&h, 9);
	expect_version(&h, 1, 5, 9);
	ck_assert_uint_eq(remaining(&h), 1);
	host_down(&h);
}
END_TEST

START_TEST(polling_fallback)
{
	struct host h;
	host_up(&h, 1, true);
	upload_ok(&h, 8);
	expect_version(&h, 1, 5, 8);
	host_down(&h);
}
END_TEST

static struct hv_tdx_upload_result upload_expect_error(struct host *h, const uint8_t *img,
						       size_t n)
{
	struct hv_tdx_upload_options o = {.timeout_ms = 10000, .poll_interval_ms = 1};
	struct hv_tdx_upload_result res;
	ck_assert_int_eq(hv_tdx_upload(h->tdx, img, n, &o, &res), 0);
	ck_assert(res.error.failed);
	return res;
}

START_TEST(device_busy_retry_later)
{
	struct host h;
	host_up(&h, 3, false);
	/* A TD build in flight: TDH.SYS.SHUTDOWN refuses; the kernel says device-busy. */
	struct emul_td_params p = {0};
	uint32_t td;
	ck_assert_int_eq(emul_tdx_td_create(h.mod, &p, &td), 0);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct hv_tdx_upload_result res = upload_expect_error(&h, img, n);
	ck_assert_int_eq(res.error.at, HV_FW_TRANSFERRING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_DEVICE_BUSY);
	ck_assert_uint_eq(res.remaining_size, n); /* nothing was written to the module */
	expect_version(&h, 1, 5, 6);
	ck_assert_uint_eq(remaining(&h), 3);
	enum emul_td_state st;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_BUILDING);
	/* The build finishes: the same upload now goes through. */
	ck_assert_int_eq(emul_tdx_td_finalize(h.mod, td), 0);
	upload_ok(&h, 8);
	expect_version(&h, 1, 5, 8);

	/* Injected at "preparing" (the brief's example): the same verdict, module intact. */
	struct emul_tdx_kernel_fault f = {.at = HV_FW_PREPARING, .code = HV_FW_ERR_DEVICE_BUSY};
	emul_tdx_kernel_inject(h.kern, &f);
	res = upload_expect_error(&h, img, n);
	ck_assert_int_eq(res.error.at, HV_FW_PREPARING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_DEVICE_BUSY);
	expect_version(&h, 1, 5, 8);
	free(img);
	host_down(&h);
}
END_TEST

START_TEST(firmware_invalid_refused)
{
	struct host h;
	host_up(&h, 3, false);
	uint32_t td = test_finalized_td(h.mod);
	/* Intel's v1 blob as shipped: the kernel accepts 0x200 only. */
	struct tdx_blobgen_params p = {.major = 1, .minor = 5, .update = 8, .module_pages = 16};
	uint8_t *v1 = NULL;
	size_t n;
	ck_assert_int_eq(tdx_blobgen(&p, &v1, &n), 0);
	struct hv_tdx_upload_result res = upload_expect_error(&h, v1, n);
	ck_assert_int_eq(res.error.at, HV_FW_TRANSFERRING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_FIRMWARE_INVALID);
	expect_version(&h, 1, 5, 6);
	ck_assert_uint_eq(remaining(&h), 3);
	enum emul_td_state st;
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_RUNNABLE);
	struct emul_tdx_kernel_stats ks;
	emul_tdx_kernel_stats(h.kern, &ks);
	ck_assert_int_eq(ks.last.result, EMUL_TDX_REFUSED);

	/* Injected at "preparing": refused, old module intact. */
	size_t n2;
	uint8_t *img = image(1, 5, 8, &n2);
	struct emul_tdx_kernel_fault f = {.at = HV_FW_PREPARING,
					  .code = HV_FW_ERR_FIRMWARE_INVALID};
	emul_tdx_kernel_inject(h.kern, &f);
	res = upload_expect_error(&h, img, n2);
	ck_assert_int_eq(res.error.at, HV_FW_PREPARING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_FIRMWARE_INVALID);
	expect_version(&h, 1, 5, 6);
	ck_assert_int_eq(emul_tdx_td_state(h.mod, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_RUNNABLE);
	free(img);
	free(v1);
	host_down(&h);
}
END_TEST

static void expect_lost(struct host *h, uint32_t td)
{
	struct hv_tdx_version v;
	ck_assert_int_eq(hv_tdx_module_version(h->tdx, &v), -ENXIO);
	struct hv_tdx_state s;
	hv_tdx_state_read(h->tdx, &s);
	ck_assert_int_eq(s.version_errno, ENXIO);
	ck_assert_int_eq(s.remaining_errno, 0); /* P-SEAMLDR still answers */
	enum emul_td_state st;
	ck_assert_int_eq(emul_tdx_td_state(h->mod, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_DEAD);
	uint8_t rep[EMUL_TDREPORT_SIZE], rd[64] = {0};
	ck_assert_int_eq(emul_tdx_td_report(h->mod, td, rd, rep), -ENXIO);
	struct emul_td_params p = {0};
	uint32_t td2;
	ck_assert_int_eq(emul_tdx_td_create(h->mod, &p, &td2), -ENXIO);
}

START_TEST(failure_after_shutdown_loses_module)
{
	struct host h;
	host_up(&h, 3, false);
	uint32_t td = test_finalized_td(h.mod);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct emul_tdx_kernel_fault f = {.module_step = EMUL_TDX_STEP_INSTALL};
	emul_tdx_kernel_inject(h.kern, &f);
	struct hv_tdx_upload_result res = upload_expect_error(&h, img, n);
	ck_assert_int_eq(res.error.at, HV_FW_TRANSFERRING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_FIRMWARE_INVALID);
	expect_lost(&h, td);
	/* Nothing more can be updated: shutdown has no module. */
	res = upload_expect_error(&h, img, n);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_FIRMWARE_INVALID);
	/* Reboot: the boot module is back (runtime updates do not survive). */
	emul_tdx_module_reboot(h.mod);
	ck_assert_int_eq(emul_tdx_kernel_refresh(h.kern), 0);
	expect_version(&h, 1, 5, 6);
	ck_assert_uint_eq(remaining(&h), 3);
	free(img);
	host_down(&h);
}
END_TEST

START_TEST(hw_error_at_programming)
{
	struct host h;
	host_up(&h, 3, false);
	uint32_t td = test_finalized_td(h.mod);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct emul_tdx_kernel_fault f = {.at = HV_FW_PROGRAMMING, .code = HV_FW_ERR_HW_ERROR,
					  .lose_module = true};
	emul_tdx_kernel_inject(h.kern, &f);
	struct hv_tdx_upload_result res = upload_expect_error(&h, img, n);
	ck_assert_int_eq(res.error.at, HV_FW_PROGRAMMING);
	ck_assert_int_eq(res.error.code, HV_FW_ERR_HW_ERROR);
	expect_lost(&h, td);
	free(img);
	host_down(&h);
}
END_TEST

START_TEST(unchecked_preconditions_lose_module)
{
	/* What the kernel leaves to userspace: with no updates left, or a cross-minor
	 * module, P-SEAMLDR fails after the shutdown and the module is gone. */
	struct host h;
	host_up(&h, 0, false);
	uint32_t td = test_finalized_td(h.mod);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	upload_expect_error(&h, img, n);
	expect_lost(&h, td);
	free(img);
	host_down(&h);

	host_up(&h, 3, false);
	td = test_finalized_td(h.mod);
	img = image(2, 0, 8, &n);
	upload_expect_error(&h, img, n);
	expect_lost(&h, td);
	struct emul_tdx_kernel_stats ks;
	emul_tdx_kernel_stats(h.kern, &ks);
	ck_assert_int_eq(ks.last.result, EMUL_TDX_LOST);
	ck_assert_ptr_nonnull(strstr(ks.last.reason, "hand-off"));
	free(img);
	host_down(&h);
}
END_TEST

static void wait_idle(struct host *h)
{
	for (int i = 0; i < 5000; i++) {
		enum hv_fw_status st;
		ck_assert_int_eq(hv_tdx_upload_status(h->tdx, &st), 0);
		if (st == HV_FW_IDLE)
			return;
		usleep(1000);
	}
	ck_abort_msg("still not idle after 5 s");
}

static void wait_status(struct host *h, enum hv_fw_status want)
{
	for (int i = 0; i < 5000; i++) {
		enum hv_fw_status st;
		ck_assert_int_eq(hv_tdx_upload_status(h->tdx, &st), 0);
		if (st == want)
			return;
		usleep(1000);
	}
	ck_abort_msg("status never became %s", hv_fw_status_name(want));
}

START_TEST(timeout_when_stalled)
{
	struct host h;
	host_up(&h, 3, false);
	emul_tdx_kernel_stall(h.kern, HV_FW_TRANSFERRING);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct hv_tdx_upload_options o = {.timeout_ms = 300, .poll_interval_ms = 5};
	struct hv_tdx_upload_result res;
	uint64_t t0 = now_ns();
	ck_assert_int_eq(hv_tdx_upload(h.tdx, img, n, &o, &res), -ETIMEDOUT);
	uint64_t ms = (now_ns() - t0) / 1000000;
	ck_assert_uint_ge(ms, 300);
	ck_assert_uint_lt(ms, 3000);
	/* While it runs another upload is refused before anything is written. */
	ck_assert_int_eq(hv_tdx_upload(h.tdx, img, n, &o, &res), -EBUSY);
	/* The update was not lost: it finishes once the kernel moves on. */
	emul_tdx_kernel_stall(h.kern, HV_FW_IDLE);
	wait_idle(&h);
	expect_version(&h, 1, 5, 8);
	struct emul_tdx_kernel_stats ks;
	emul_tdx_kernel_stats(h.kern, &ks);
	ck_assert_uint_eq(ks.uploads, 1);
	free(img);
	host_down(&h);
}
END_TEST

START_TEST(cpus_offline)
{
	struct host h;
	host_up(&h, 3, false);
	ck_assert_int_eq(emul_tdx_kernel_set_cpu_online(h.kern, 3, false), 0);
	ck_assert_int_eq(emul_tdx_kernel_set_cpu_online(h.kern, 6, false), 0);
	struct hv_tdx_cpus *c = calloc(1, sizeof(*c));
	ck_assert_int_eq(hv_tdx_cpus(h.tdx, c), 0);
	ck_assert_uint_eq(c->online.count, 6);
	ck_assert_uint_eq(c->possible.count, 8);
	ck_assert(c->present_known);
	ck_assert_uint_eq(c->present.count, 8);
	ck_assert_uint_eq(c->missing.count, 2);
	char list[64];
	hv_cpuset_format(&c->missing, list, sizeof(list));
	ck_assert_str_eq(list, "3,6");
	hv_cpuset_format(&c->online, list, sizeof(list));
	ck_assert_str_eq(list, "0-2,4-5,7");
	struct hv_tdx_state s;
	hv_tdx_state_read(h.tdx, &s);
	ck_assert_uint_eq(s.cpus_missing, 2);
	ck_assert_int_eq(emul_tdx_kernel_set_cpu_online(h.kern, 8, false), -EINVAL);
	/* The kernel no longer refuses: P-SEAMLDR misses CPUs and the module is lost. */
	uint32_t td = test_finalized_td(h.mod);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	upload_expect_error(&h, img, n);
	expect_lost(&h, td);
	free(img);
	free(c);
	host_down(&h);
}
END_TEST

START_TEST(raw_sequence_and_cancel)
{
	/* The sysfs protocol by hand, as another tool would drive it: loading=-1 aborts. */
	struct host h;
	host_up(&h, 3, false);
	char p[256];
	snprintf(p, sizeof(p), "%s/class/firmware/tdx_module/loading", h.dir);
	FILE *f = fopen(p, "w");
	fputs("1", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/class/firmware/tdx_module/data", h.dir);
	f = fopen(p, "w");
	fputs("garbage", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/class/firmware/tdx_module/loading", h.dir);
	f = fopen(p, "w");
	fputs("-1", f);
	fclose(f);
	struct emul_tdx_kernel_stats ks;
	for (int i = 0; i < 5000; i++) {
		emul_tdx_kernel_stats(h.kern, &ks);
		if (ks.aborts)
			break;
		usleep(1000);
	}
	ck_assert_uint_ge(ks.aborts, 1); /* once per close of loading that reads "-1" */
	f = fopen(p, "w");
	fputs("0", f);
	fclose(f);
	usleep(50000);
	emul_tdx_kernel_stats(h.kern, &ks);
	ck_assert_uint_eq(ks.uploads, 0); /* the aborted data never went anywhere */
	expect_version(&h, 1, 5, 6);

	/* cancel: accepted, and (as in tdx-host.c) has no effect on a TDX update. */
	emul_tdx_kernel_stall(h.kern, HV_FW_PREPARING);
	size_t n;
	uint8_t *img = image(1, 5, 8, &n);
	struct hv_tdx_upload_options o = {.timeout_ms = 100, .poll_interval_ms = 5};
	struct hv_tdx_upload_result res;
	ck_assert_int_eq(hv_tdx_upload(h.tdx, img, n, &o, &res), -ETIMEDOUT);
	wait_status(&h, HV_FW_PREPARING);
	ck_assert_int_eq(hv_tdx_upload_cancel(h.tdx), 0);
	emul_tdx_kernel_stall(h.kern, HV_FW_IDLE);
	wait_idle(&h);
	emul_tdx_kernel_stats(h.kern, &ks);
	ck_assert_uint_eq(ks.cancels, 1);
	expect_version(&h, 1, 5, 8);
	free(img);
	host_down(&h);
}
END_TEST

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/test-tdx-sysfs-XXXXXX");
	if (!mkdtemp(top))
		return 1;
	Suite *s = suite_create("tdx_sysfs");
	TCase *tp = tcase_create("parsers");
	tcase_add_test(tp, version_parser);
	tcase_add_test(tp, u32_parser);
	tcase_add_test(tp, cpulist_parser);
	tcase_add_test(tp, fw_texts);
	suite_add_tcase(s, tp);
	TCase *th = tcase_create("simulated_host");
	tcase_set_timeout(th, 30);
	tcase_add_test(th, status_read);
	tcase_add_test(th, successful_update_preserves_tds);
	tcase_add_test(th, polling_fallback);
	tcase_add_test(th, device_busy_retry_later);
	tcase_add_test(th, firmware_invalid_refused);
	tcase_add_test(th, failure_after_shutdown_loses_module);
	tcase_add_test(th, hw_error_at_programming);
	tcase_add_test(th, unchecked_preconditions_lose_module);
	tcase_add_test(th, timeout_when_stalled);
	tcase_add_test(th, cpus_offline);
	tcase_add_test(th, raw_sequence_and_cancel);
	suite_add_tcase(s, th);
	int r = run_suite(s);
	if (nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		r = 1;
	return r;
}
