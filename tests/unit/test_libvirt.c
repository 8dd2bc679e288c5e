/* hv/libvirt: the domain XML of SNP, TDX and plain guests against golden files
 * (tests/data/libvirt/, reviewed by hand against libvirt's formatdomain.rst), checked with
 * libvirt's own schema (xmllint --relaxng on the installed domain.rng) where the installed
 * libvirt knows the element, and the lifecycle on libvirt's test:///default driver (no QEMU).
 * COCOD_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "coco/util.h"
#include "hv/libvirt.h"
#include "tests/check_main.h"

#define GOLDEN SOURCE_DIR "/tests/data/libvirt/"
#define SCHEMA "/usr/share/libvirt/schemas/domain.rng"
#define XMLLINT "/usr/bin/xmllint"

static uint8_t id_block[HV_SNP_ID_BLOCK_SIZE], id_auth[HV_SNP_ID_AUTH_SIZE];

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 13);
}

static struct hv_guest_desc base(enum hv_tee tee)
{
	return (struct hv_guest_desc){
		.name = "guest-1",
		.uuid = "5f3c1a2b-8d4e-4f60-9a7b-0c1d2e3f4a5b",
		.tee = tee,
		.firmware = "/var/lib/cocod/images/OVMF.amdsev.fd",
		.kernel = "/var/lib/cocod/images/vmlinuz",
		.initrd = "/var/lib/cocod/images/initrd.img",
		/* quotes, <, > and & must come out escaped */
		.cmdline = "console=ttyS0 root=/dev/vda1 x='a<b' y=\"c>d\" & z",
		.vcpus = 4,
		.memory_mib = 2048,
	};
}

static struct hv_guest_desc snp_full(void)
{
	struct hv_guest_desc d = base(HV_TEE_SNP);
	d.snp.policy = 0x30000;
	d.snp.has_host_data = true;
	fill(d.snp.host_data, 32, 1);
	fill(id_block, sizeof(id_block), 2);
	fill(id_auth, sizeof(id_auth), 3);
	d.snp.id_block = id_block;
	d.snp.id_auth = id_auth;
	d.snp.author_key = true;
	d.snp.vlek = true;
	d.snp.kernel_hashes = true;
	return d;
}

static struct hv_guest_desc tdx_full(void)
{
	struct hv_guest_desc d = base(HV_TEE_TDX);
	d.name = "td.1";
	d.firmware = "/usr/share/ovmf/OVMF.tdx.fd";
	d.tdx.policy = 0x10000000; /* SEPT_VE_DISABLE */
	d.tdx.has_mrconfigid = d.tdx.has_mrowner = d.tdx.has_mrownerconfig = true;
	fill(d.tdx.mrconfigid, 48, 4);
	fill(d.tdx.mrowner, 48, 5);
	fill(d.tdx.mrownerconfig, 48, 6);
	d.tdx.qgs_path = "/var/run/tdx-qgs/qgs.socket";
	return d;
}

static char *gen(const struct hv_guest_desc *d)
{
	char *xml = NULL, err[256] = "";
	int r = hv_libvirt_domain_xml(d, &xml, err, sizeof(err));
	ck_assert_msg(r == 0, "domain xml: %s", err);
	return xml;
}

static void check_golden(const char *file, const char *xml)
{
	char path[512];
	snprintf(path, sizeof(path), GOLDEN "%s", file);
	if (getenv("COCOD_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(xml, f);
		fclose(f);
		return;
	}
	char *want = NULL;
	size_t n = 0;
	ck_assert_int_eq(read_file_max(path, 1 << 20, &want, &n), 0);
	ck_assert_msg(streq(want, xml), "%s differs:\n%s", file, xml);
	free(want);
}

/* xmllint's verdict on xml against libvirt's installed schema: 0 valid, 1 invalid,
 * -1 when the tools are missing (the test says so and skips). */
static int schema_check(const char *xml)
{
	if (access(XMLLINT, X_OK) != 0 || access(SCHEMA, R_OK) != 0) {
		fprintf(stderr, "SKIP schema check: %s or %s missing\n", XMLLINT, SCHEMA);
		return -1;
	}
	char tmp[] = "/tmp/cocod-domain-XXXXXX";
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	close(fd);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), XMLLINT " --noout --relaxng " SCHEMA " %s 2>/dev/null", tmp);
	int st = system(cmd);
	unlink(tmp);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st) == 0 ? 0 : 1;
}

static unsigned long libvirt_version(void)
{
	unsigned long v = 0;
	ck_assert_int_eq(virGetVersion(&v, NULL, NULL), 0);
	return v; /* major * 1000000 + minor * 1000 + micro */
}

START_TEST(golden_snp)
{
	struct hv_guest_desc d = snp_full();
	char *xml = gen(&d);
	check_golden("snp-full.xml", xml);
	/* base64 of the raw bytes (value from Python base64.b64encode) */
	ck_assert_ptr_nonnull(strstr(xml, "<hostData>AQ4bKDVCT1xpdoOQnaq3xNHe6/gFEh8sOUZTYG16h5Q=</hostData>"));
	ck_assert_ptr_nonnull(strstr(xml, "x=&apos;a&lt;b&apos; y=&quot;c&gt;d&quot; &amp; z"));
	int v = schema_check(xml);
	if (libvirt_version() >= 10005000)
		ck_assert_int_eq(v == -1 ? 0 : v, 0);
	else if (v >= 0) /* libvirt 9.0 (Debian 12) knows only sev and s390-pv */
		ck_assert_int_eq(v, 1);
	free(xml);

	d = base(HV_TEE_SNP);
	d.snp.policy = 0x30000;
	d.kernel = d.initrd = d.cmdline = NULL;
	xml = gen(&d);
	check_golden("snp-minimal.xml", xml);
	free(xml);
}
END_TEST

START_TEST(golden_tdx)
{
	struct hv_guest_desc d = tdx_full();
	char *xml = gen(&d);
	check_golden("tdx-full.xml", xml);
	int v = schema_check(xml);
	if (libvirt_version() >= 11006000)
		ck_assert_int_eq(v == -1 ? 0 : v, 0);
	else if (v >= 0)
		ck_assert_int_eq(v, 1);
	free(xml);
}
END_TEST

START_TEST(plain_valid_for_installed_libvirt)
{
	/* Without <launchSecurity> the same document is what every libvirt >= 9.0 accepts. */
	struct hv_guest_desc d = snp_full();
	d.omit_launch_security = true;
	char *xml = gen(&d);
	check_golden("plain.xml", xml);
	ck_assert_ptr_null(strstr(xml, "launchSecurity"));
	int v = schema_check(xml);
	if (v >= 0)
		ck_assert_int_eq(v, 0);
	free(xml);
	/* and the TDX variant (with its ioapic) too */
	d = tdx_full();
	d.omit_launch_security = true;
	xml = gen(&d);
	v = schema_check(xml);
	if (v >= 0)
		ck_assert_int_eq(v, 0);
	free(xml);
}
END_TEST

static void expect_refused(const struct hv_guest_desc *d, const char *needle)
{
	char *xml = NULL, err[256] = "";
	ck_assert_int_eq(hv_libvirt_domain_xml(d, &xml, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(xml);
	ck_assert_msg(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

START_TEST(hostile_descriptions)
{
	struct hv_guest_desc d = base(HV_TEE_SNP);
	d.name = "a<b";
	expect_refused(&d, "guest name");
	d.name = "-x";
	expect_refused(&d, "guest name");
	d.name = "";
	expect_refused(&d, "guest name");
	d = base(HV_TEE_SNP);
	d.uuid = "5F3C1A2B-8D4E-4F60-9A7B-0C1D2E3F4A5B"; /* not canonical */
	expect_refused(&d, "UUID");
	d.uuid = "5f3c1a2b-8d4e-4f60-9a7b-0c1d2e3f4a5";
	expect_refused(&d, "UUID");
	d = base(HV_TEE_SNP);
	d.cmdline = "console=ttyS0\nroot=/dev/sda";
	expect_refused(&d, "cmdline");
	d.cmdline = "caf\xc3\xa9";
	expect_refused(&d, "cmdline");
	d = base(HV_TEE_SNP);
	d.kernel = "vmlinuz";
	expect_refused(&d, "kernel must be an absolute path");
	d = base(HV_TEE_SNP);
	d.firmware = "/a\tb";
	expect_refused(&d, "firmware");
	d = base(HV_TEE_SNP);
	d.kernel = NULL;
	expect_refused(&d, "need a kernel");
	d.initrd = d.cmdline = NULL;
	d.snp.kernel_hashes = true;
	expect_refused(&d, "kernel hashes");
	d = base(HV_TEE_SNP);
	d.snp.id_auth = id_auth;
	expect_refused(&d, "ID block");
	d.snp.id_auth = NULL;
	d.snp.author_key = true;
	expect_refused(&d, "author key");
	d = base(HV_TEE_SNP);
	d.vcpus = 0;
	expect_refused(&d, "vCPU");
	d.vcpus = HV_GUEST_MAX_VCPUS + 1;
	expect_refused(&d, "vCPU");
	d = base(HV_TEE_SNP);
	d.memory_mib = 0;
	expect_refused(&d, "memory");
	d = tdx_full();
	d.tdx.qgs_path = "qgs.sock";
	expect_refused(&d, "quote generation");
	d = base(HV_TEE_SNP);
	d.tee = (enum hv_tee)7;
	expect_refused(&d, "TEE");
}
END_TEST

/* --- lifecycle on test:///default --- */

static struct hv_guest_desc test_guest(const char *name, const char *uuid)
{
	struct hv_guest_desc d = snp_full();
	d.name = name;
	d.uuid = uuid;
	d.domain_type = "test";
	d.omit_launch_security = true;
	return d;
}

static size_t count_named(struct hv_libvirt *c, const char *name, struct hv_libvirt_domain *ret)
{
	struct hv_libvirt_domain *l = NULL;
	size_t n = 0, hits = 0;
	char err[256];
	ck_assert_int_eq(hv_libvirt_list(c, &l, &n, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++)
		if (streq(l[i].name, name)) {
			hits++;
			if (ret)
				*ret = l[i];
		}
	free(l);
	return hits;
}

START_TEST(lifecycle_test_driver)
{
	char err[256] = "";
	struct hv_libvirt *a = NULL, *b = NULL;
	ck_assert_msg(hv_libvirt_open("test:///default", &a, err, sizeof(err)) == 0, "%s", err);
	const char *uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
	struct hv_guest_desc d = test_guest("cocod-guest", uuid);
	char *xml = gen(&d);
	char got_uuid[37] = "";
	ck_assert_msg(hv_libvirt_define_start(a, xml, got_uuid, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(got_uuid, uuid);
	free(xml);

	struct hv_libvirt_domain dom;
	ck_assert_int_eq(hv_libvirt_lookup(a, uuid, &dom, err, sizeof(err)), 0);
	ck_assert_str_eq(dom.name, "cocod-guest");
	ck_assert_int_eq(dom.state, HV_DOMAIN_RUNNING);
	ck_assert_str_eq(hv_domain_state_name(dom.state), "running");
	ck_assert_uint_eq(count_named(a, "cocod-guest", NULL), 1);

	/* cocod restarting: a new connection finds the guest by the UUID in its store
	 * (test:///default keeps its state while any connection to it is open) */
	ck_assert_int_eq(hv_libvirt_open("test:///default", &b, err, sizeof(err)), 0);
	hv_libvirt_close(a);
	ck_assert_int_eq(hv_libvirt_lookup(b, uuid, &dom, err, sizeof(err)), 0);
	ck_assert_int_eq(dom.state, HV_DOMAIN_RUNNING);
	ck_assert_uint_eq(count_named(b, "cocod-guest", &dom), 1);
	ck_assert_str_eq(dom.uuid, uuid);

	/* the same name again is refused and changes nothing */
	struct hv_guest_desc d2 = test_guest("cocod-guest", "11111111-2222-4333-8444-555555555555");
	xml = gen(&d2);
	ck_assert_int_lt(hv_libvirt_define_start(b, xml, NULL, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "libvirt define"));
	free(xml);
	ck_assert_uint_eq(count_named(b, "cocod-guest", NULL), 1);
	ck_assert_int_eq(hv_libvirt_lookup(b, d2.uuid, &dom, err, sizeof(err)), -ENOENT);

	/* XML libvirt refuses: an error, no domain */
	ck_assert_int_eq(hv_libvirt_define_start(b, "<domain type='test'><name>x</name>", NULL,
						 err, sizeof(err)),
			 -EINVAL);
	ck_assert_uint_eq(count_named(b, "x", NULL), 0);

	/* destroy + undefine */
	ck_assert_int_eq(hv_libvirt_destroy(b, uuid, err, sizeof(err)), 0);
	ck_assert_int_eq(hv_libvirt_lookup(b, uuid, &dom, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, uuid));
	ck_assert_int_eq(hv_libvirt_destroy(b, uuid, err, sizeof(err)), -ENOENT);
	ck_assert_uint_eq(count_named(b, "cocod-guest", NULL), 0);
	ck_assert_int_eq(hv_libvirt_lookup(b, "not-a-uuid", &dom, err, sizeof(err)), -EINVAL);
	hv_libvirt_close(b);
}
END_TEST

START_TEST(open_refused)
{
	char err[256] = "";
	struct hv_libvirt *c = NULL;
	ck_assert_int_eq(hv_libvirt_open("nosuchdriver:///x", &c, err, sizeof(err)), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "nosuchdriver:///x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("libvirt");
	TCase *tc = tcase_create("xml");
	tcase_add_test(tc, golden_snp);
	tcase_add_test(tc, golden_tdx);
	tcase_add_test(tc, plain_valid_for_installed_libvirt);
	tcase_add_test(tc, hostile_descriptions);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lifecycle_test_driver);
	tcase_add_test(tc, open_refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
