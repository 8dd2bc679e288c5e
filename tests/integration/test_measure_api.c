/* POST /v1/snp/measurements on the real daemon: digests equal the known answers, the cache is
 * used and invalidated, names cannot leave the image directories, bad bodies change nothing. */
#include <check.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "coco/util.h"
#include "harness.h"
#include "tests/check_main.h"

#define FW SOURCE_DIR "/tests/data/snp/firmware"

static struct daemon d;
static void teardown(void) { daemon_cleanup(&d); }

static void measure(const char *body, struct reply *r)
{
	const char *h[] = {"Content-Type: application/json", NULL};
	struct req_opts o = {.headers = h, .body = body};
	http(&d, "POST", "/v1/snp/measurements", &o, r);
}

static void copy(const char *from, const char *to)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

/* d's image directory with the AmdSev fixture as ovmf.fd; its path goes to dir. */
static void make_images(char dir[128])
{
	char p[192];
	snprintf(dir, 128, "%s/images", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/ovmf.fd", dir);
	copy(FW "/ovmf_AmdSev_suffix.bin", p);
}

static bool cached(const char *body, const char *what)
{
	json_object *o = json_tokener_parse(body), *c, *v;
	ck_assert(json_object_object_get_ex(o, "cache", &c));
	ck_assert(json_object_object_get_ex(c, what, &v));
	bool b = json_object_get_boolean(v);
	json_object_put(o);
	return b;
}

START_TEST(digests_and_cache)
{
	daemon_config(&d, "image_dir = %DIR%/images\n");
	char dir[128], buf[128];
	snprintf(dir, sizeof(dir), "%s/images", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char fw[192], kernel[192];
	snprintf(fw, sizeof(fw), "%s/ovmf.fd", dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	copy(FW "/ovmf_AmdSev_suffix.bin", fw);
	copy("/dev/null", kernel);
	daemon_start(&d);
	struct reply r;
	/* Vector snp_default (measure-vectors.json): empty kernel and initrd. */
	const char *req = "{\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\",\"initrd\":\"vmlinuz\","
			  "\"cmdline\":\"console=ttyS0 loglevel=7\",\"vcpus\":1,"
			  "\"vcpu_type\":\"EPYC-v4\",\"guest_features\":\"0x21\"}";
	measure(req, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_str_eq(json_field(r.body, "digest", buf, sizeof(buf)),
			 "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e"
			 "7e1e17895dfe778d0228977");
	ck_assert(!cached(r.body, "firmware"));
	ck_assert(!cached(r.body, "kernel"));
	reply_free(&r);
	measure(req, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(cached(r.body, "firmware"));
	ck_assert(cached(r.body, "kernel"));
	reply_free(&r);
	/* Same cached firmware, other vCPU count and cmdline: vector snp_4_vcpus. */
	measure("{\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\",\"initrd\":\"vmlinuz\","
		"\"cmdline\":\"\",\"vcpus\":4,\"vcpu_family\":23,\"vcpu_model\":1,"
		"\"vcpu_stepping\":2,\"guest_features\":33}",
		&r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_field(r.body, "digest", buf, sizeof(buf)),
			 "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422"
			 "907be0b4698e2414a631942");
	reply_free(&r);
	/* Stage caches (chain before the VMSAs, VMSA hashes) answer repeats exactly. */
	for (int round = 0; round < 2; round++) {
		measure(req, &r);
		ck_assert_str_eq(json_field(r.body, "digest", buf, sizeof(buf)),
				 "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e5344"
				 "42e7e1e17895dfe778d0228977");
		reply_free(&r);
		measure("{\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\",\"initrd\":\"vmlinuz\","
			"\"cmdline\":\"\",\"vcpus\":4,\"vcpu_type\":\"EPYC-v4\","
			"\"guest_features\":33}",
			&r);
		ck_assert_str_eq(json_field(r.body, "digest", buf, sizeof(buf)),
				 "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b"
				 "422907be0b4698e2414a631942");
		reply_free(&r);
	}
	/* Replacing the firmware file invalidates the cached prefix. */
	copy(FW "/ovmf_OvmfX64_suffix.bin", fw);
	measure("{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC-v4\","
		"\"guest_features\":\"0x21\"}",
		&r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(!cached(r.body, "firmware"));
	ck_assert_str_eq(json_field(r.body, "digest", buf, sizeof(buf)),
			 "28797ae0afaba4005a81e629acebfb59e6687949d6be44007cd5506823b0dd66f146aaae2"
			 "6ff291eed7b493d8a64c385");
	reply_free(&r);
}
END_TEST

static const struct {
	const char *body;
	long status;
	const char *slug, *detail;
} bad[] = {
	{"{\"firmware\":\"../cocod.conf\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"}", 404, "not-found",
	 "'..' is not allowed"},
	{"{\"firmware\":\"/etc/passwd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"}", 404, "not-found",
	 "is not a file in any image_dir"},
	{"{\"firmware\":\"escape\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"}", 404, "not-found",
	 "is not a file in any image_dir"}, /* a symlink pointing outside */
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\",\"extra\":1}", 422,
	 "invalid-request", "field 'extra': not a known field"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpu_type\":\"EPYC\"}", 422, "invalid-request",
	 "field 'vcpus': required"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":0,\"vcpu_type\":\"EPYC\"}", 422, "invalid-request",
	 "field 'vcpus'"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1}", 422, "invalid-request", "field 'vcpu_type'"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\",\"guest_features\":-1}", 422,
	 "invalid-request", "field 'guest_features'"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\",\"mode\":\"tdx\"}", 422,
	 "invalid-request", "field 'mode'"},
	{"{\"firmware\":\"x64.fd\",\"kernel\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"}", 422,
	 "invalid-request", "no SEV kernel-hashes section"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\",\"cmdline\":\"x\"}", 422,
	 "invalid-request", "initrd and cmdline need a kernel"},
	{"{\"firmware\":\"ovmf.fd\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"", 400, "malformed-json",
	 "byte offset"},
};

START_TEST(refusals)
{
	daemon_config(&d, "image_dir = %DIR%/images\n");
	char dir[128], p[192];
	make_images(dir);
	snprintf(p, sizeof(p), "%s/x64.fd", dir);
	copy(FW "/ovmf_OvmfX64_suffix.bin", p);
	snprintf(p, sizeof(p), "%s/escape", dir);
	ck_assert_int_eq(symlink(d.conf, p), 0);
	daemon_start(&d);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct reply r;
		char buf[512], want[96];
		measure(bad[i].body, &r);
		ck_assert_msg(r.status == bad[i].status, "case %zu: %ld %s", i, r.status, r.body);
		snprintf(want, sizeof(want), "urn:cocod:problem:%s", bad[i].slug);
		ck_assert_str_eq(json_field(r.body, "type", buf, sizeof(buf)), want);
		ck_assert_msg(strstr(json_field(r.body, "detail", buf, sizeof(buf)), bad[i].detail),
			      "case %zu: %s", i, r.body);
		reply_free(&r);
	}
}
END_TEST

/* A measurement hashing a large initrd runs on the worker: /healthz answers meanwhile. */
START_TEST(loop_not_blocked)
{
	daemon_config(&d, "image_dir = %DIR%/images\n");
	char dir[128], p[192];
	make_images(dir);
	snprintf(p, sizeof(p), "%s/initrd", dir);
	FILE *f = fopen(p, "w");
	ck_assert_int_eq(ftruncate(fileno(f), 512 << 20), 0); /* sparse: hashing is the cost */
	fclose(f);
	daemon_start(&d);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct reply r;
		measure("{\"firmware\":\"ovmf.fd\",\"kernel\":\"initrd\",\"initrd\":\"initrd\","
			"\"vcpus\":1,\"vcpu_type\":\"EPYC-v4\"}",
			&r);
		_exit(r.status == 200 ? 0 : 1);
	}
	usleep(100000); /* let the measurement start */
	int fast = 0, polls = 0, st = 0;
	while (waitpid(child, &st, WNOHANG) == 0 && polls < 500) {
		struct reply r;
		uint64_t t0 = now_ns();
		http(&d, "GET", "/healthz", NULL, &r);
		uint64_t dt = now_ns() - t0;
		ck_assert_int_eq(r.status, 200);
		reply_free(&r);
		fast += dt < 250000000ull; /* 250 ms, even under ASan on a busy machine */
		polls++;
		usleep(20000);
	}
	if (polls >= 500)
		waitpid(child, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "measurement failed");
	/* The measurement took a while and the loop kept answering meanwhile: a blocked loop
	 * would hold the first poll until the hash is done, leaving one or two polls. */
	ck_assert_int_ge(polls, 3);
	ck_assert_int_ge(fast * 10, polls * 9);
}
END_TEST

START_TEST(no_image_dir)
{
	daemon_config(&d, "");
	daemon_start(&d);
	struct reply r;
	char buf[256];
	measure("{\"firmware\":\"x\",\"vcpus\":1,\"vcpu_type\":\"EPYC\"}", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(json_field(r.body, "detail", buf, sizeof(buf)),
				     "no image_dir is configured"));
	reply_free(&r);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("measure-api");
	TCase *tc = tcase_create("measure");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, digests_and_cache);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, no_image_dir);
	tcase_add_test(tc, loop_not_blocked);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	curl_global_cleanup();
	return r;
}
