/* hv/: the native probe against temporary /dev and /sys trees, and the emulated platform. */
#include <check.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "tests/check_main.h"
#include "tests/pki_cache.h"
#include "hv/platform.h"
#include "hv/uapi/kvm_compat.h"

static char root[64], sys[128], dev[128];

static void put(const char *rel, const char *content)
{
	char p[512], cmd[600];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
	ck_assert_int_eq(system(cmd), 0);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/cocod-hv-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	mkdir(sys, 0755);
	mkdir(dev, 0755);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(native_empty_host)
{
	struct hv_platform *p;
	struct hv_host_info h;
	char err[256];
	struct hv_platform_params pp = {.kind = COCO_PLATFORM_NATIVE, .sysfs_root = sys,
					.dev_root = dev};
	ck_assert_int_eq(hv_platform_open(&pp, &p, err, sizeof(err)), 0);
	int e = 0;
	ck_assert_ptr_null(hv_platform_sev(p, false, &e));
	ck_assert_int_eq(e, ENOENT);
	ck_assert_int_eq(hv_platform_probe(p, &h), 0);
	ck_assert_int_eq(h.platform, COCO_PLATFORM_NATIVE);
	ck_assert(!h.sev_device);
	ck_assert_int_eq(h.sev_errno, ENOENT);
	ck_assert(!h.kvm_device);
	ck_assert_int_eq(h.kvm_errno, ENOENT);
	ck_assert(!h.tdx_host);
	ck_assert_int_eq(h.tdx_remaining_updates, -1);
	ck_assert(!hv_host_snp_available(&h));
	ck_assert(!hv_host_tdx_available(&h));
	hv_platform_close(p);
}
END_TEST

START_TEST(native_tdx_sysfs)
{
	put("sys/devices/faux/tdx_host/version", "1.5.06\n");
	put("sys/devices/faux/tdx_host/seamldr_version", "1.5.02\n");
	put("sys/devices/faux/tdx_host/num_remaining_updates", "3\n");
	put("sys/class/firmware/tdx_module/loading", "0\n");
	/* Not character devices: the probe must not mistake regular files for devices. */
	put("dev/sev", "");
	put("dev/kvm", "");
	struct hv_host_info h;
	ck_assert_int_eq(hv_native_probe(sys, dev, &h), 0);
	ck_assert(h.tdx_host);
	ck_assert_str_eq(h.tdx_module_version, "1.5.06");
	ck_assert_str_eq(h.tdx_seamldr_version, "1.5.02");
	ck_assert_int_eq(h.tdx_remaining_updates, 3);
	ck_assert(h.tdx_update_interface);
	ck_assert_int_eq(h.tdx_version_errno, 0);
	ck_assert(!h.sev_device);
	ck_assert_int_eq(h.sev_errno, ENOTTY);
	/* /dev/kvm opens but KVM_CHECK_EXTENSION fails on a regular file. */
	ck_assert(h.kvm_device);
	ck_assert(!h.kvm_vm_types_known);
	ck_assert_int_eq(h.kvm_errno, ENOTTY);
	ck_assert(!hv_host_tdx_available(&h));
}
END_TEST

START_TEST(native_tdx_version_unreadable)
{
	/* A version attribute that cannot be read is reported with its errno, not ignored. */
	char p[256];
	snprintf(p, sizeof(p), "%s/devices/faux/tdx_host/version", sys);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", p);
	ck_assert_int_eq(system(cmd), 0);
	put("sys/devices/faux/tdx_host/num_remaining_updates", "garbage\n");
	struct hv_host_info h;
	ck_assert_int_eq(hv_native_probe(sys, dev, &h), 0);
	ck_assert(h.tdx_host);
	ck_assert_int_eq(h.tdx_version_errno, EINVAL); /* not a regular attribute file */
	ck_assert_str_eq(h.tdx_module_version, "");
	ck_assert_int_eq(h.tdx_remaining_updates, -1);
	ck_assert(!h.tdx_update_interface);
}
END_TEST

START_TEST(real_host_kvm)
{
	/* On this machine's real /dev/kvm (if any) the probe must agree with a direct look. */
	struct hv_host_info h;
	ck_assert_int_eq(hv_native_probe("/sys", "/dev", &h), 0);
	ck_assert_int_eq(h.kvm_device, access("/dev/kvm", R_OK | W_OK) == 0);
	if (h.kvm_vm_types_known)
		ck_assert(h.kvm_vm_types & (1ull << KVM_X86_DEFAULT_VM));
}
END_TEST

START_TEST(emulated)
{
	struct hv_platform *p;
	struct hv_host_info h;
	char err[256];
	share_emulated_pki(root);
	struct hv_platform_params pp = {.kind = COCO_PLATFORM_EMULATED, .state_dir = root};
	ck_assert_int_eq(hv_platform_open(&pp, &p, err, sizeof(err)), 0);
	int e = 0;
	ck_assert_ptr_nonnull(hv_platform_sev(p, false, &e));
	ck_assert_ptr_nonnull(hv_platform_sev(p, true, &e));
	ck_assert_int_eq(hv_platform_probe(p, &h), 0);
	ck_assert_int_eq(h.platform, COCO_PLATFORM_EMULATED);
	ck_assert(hv_host_snp_available(&h));
	ck_assert(hv_host_tdx_available(&h));
	ck_assert_str_eq(h.tdx_module_version, "1.5.06");
	hv_platform_close(p);
	pp = (struct hv_platform_params){0};
	ck_assert_int_eq(hv_platform_open(&pp, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown platform kind 0");
	pp.kind = COCO_PLATFORM_EMULATED;
	ck_assert_int_eq(hv_platform_open(&pp, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "the emulated platform needs a state directory");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("probe");
	tcase_add_checked_fixture(tc, setup, teardown);
	/* The first test to need the shared emulated key set makes it (RSA-4096 x3). */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, native_empty_host);
	tcase_add_test(tc, native_tdx_sysfs);
	tcase_add_test(tc, native_tdx_version_unreadable);
	tcase_add_test(tc, real_host_kvm);
	tcase_add_test(tc, emulated);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
