/* snpctl measure as a user runs it: sev-snp-measure's flags, output forms, refusals and
 * exit codes (0 ok, 1 refused, 2 usage). Digests: tests/data/snp/measure-vectors.json. */
#include <check.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "harness.h"
#include "tests/check_main.h"

#define FW SOURCE_DIR "/tests/data/snp/firmware"

static int snpctl(char **out, const char *const *args)
{
	const char *argv[32] = {SNPCTL_BIN, "measure"};
	size_t n = 2;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return run_capture(argv, out);
}

START_TEST(digests_and_formats)
{
	char *out;
	const char *snp_default[] = {"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4",
				     "--ovmf", FW "/ovmf_AmdSev_suffix.bin", "--kernel", "/dev/null",
				     "--initrd", "/dev/null", "--append",
				     "console=ttyS0 loglevel=7", "--guest-features", "0x21", NULL};
	ck_assert_int_eq(snpctl(&out, snp_default), 0);
	ck_assert_str_eq(out, "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e"
			      "534442e7e1e17895dfe778d0228977\n");
	free(out);
	/* sev-snp-measure's defaults: guest features 0x1, vmm QEMU; base64 output. */
	const char *b64[] = {"--mode", "snp", "--vcpus", "1", "--vcpu-sig", "0x800f12", "--ovmf",
			     FW "/ovmf_AmdSev_suffix.bin", "--output-format", "base64", NULL};
	ck_assert_int_eq(snpctl(&out, b64), 0);
	ck_assert_str_eq(out, "GTWLqadhVTSpoeLw38KThNzU3LcGL/nGATsmhppfxuyr4DPEjdb2211tdufF32Mt\n");
	free(out);
	const char *fms[] = {"--mode", "snp", "--vcpus", "1", "--vcpu-family", "23", "--vcpu-model",
			     "1", "--vcpu-stepping", "2", "--ovmf", FW "/ovmf_AmdSev_suffix.bin",
			     "-v", NULL};
	ck_assert_int_eq(snpctl(&out, fms), 0);
	ck_assert_str_eq(out, "Calculated SEV_SNP guest measurement: 19358ba9a7615534a9a1e2f0dfc293"
			      "84dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d\n");
	free(out);
	const char *ovmf_hash[] = {"--mode", "snp:ovmf-hash", "--ovmf",
				   FW "/ovmf_AmdSev_suffix.bin", "--output-format", "base64", NULL};
	ck_assert_int_eq(snpctl(&out, ovmf_hash), 0); /* always hex, as sev-snp-measure */
	ck_assert_str_eq(out, "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16af"
			      "f8c374c2a55c467a50da6d466b74\n");
	free(out);
	const char *gce[] = {"--mode", "snp", "--vcpus", "1", "--vmm-type", "gce", "--ovmf",
			     FW "/ovmf_AmdSev_suffix.bin", "--kernel", "/dev/null", "--initrd",
			     "/dev/null", "--append", "", "--json", NULL};
	ck_assert_int_eq(snpctl(&out, gce), 0);
	json_object *j = json_tokener_parse(out), *d;
	ck_assert_ptr_nonnull(j);
	ck_assert(json_object_object_get_ex(j, "digest", &d));
	ck_assert_str_eq(json_object_get_string(d),
			 "5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c"
			 "8404efed4397ea5d5d0722e");
	json_object_put(j);
	free(out);
}
END_TEST

START_TEST(dump_vmsa)
{
	char dir[] = "/tmp/snpctl-vmsa-XXXXXX", cwd[PATH_MAX];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	char *out;
	const char *args[] = {"--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf",
			      FW "/ovmf_AmdSev_suffix.bin", "--dump-vmsa", NULL};
	ck_assert_int_eq(snpctl(&out, args), 0);
	free(out);
	char *v0, *v1;
	size_t l0, l1;
	ck_assert_int_eq(read_file_max("vmsa0.bin", 8192, &v0, &l0), 0);
	ck_assert_int_eq(read_file_max("vmsa1.bin", 8192, &v1, &l1), 0);
	ck_assert_uint_eq(l0, 4096);
	ck_assert_uint_eq(l1, 4096);
	/* BSP: CS base 0xffff0000, RIP 0xfff0; AP: base 0x800000, RIP 0xb004 (reset block). */
	ck_assert_uint_eq((uint8_t)v0[0x10 + 10], 0xff);
	ck_assert_uint_eq((uint8_t)v0[0x178], 0xf0);
	ck_assert_uint_eq((uint8_t)v1[0x10 + 10], 0x80);
	ck_assert_uint_eq((uint8_t)v1[0x178], 0x04);
	ck_assert_uint_eq((uint8_t)v1[0x179], 0xb0);
	free(v0);
	free(v1);
	ck_assert_int_eq(chdir(cwd), 0);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* generated-vectors.json's "gen:LABEL:SIZE" file: the first SIZE bytes of
 * SHA-256(LABEL || LE32(0)) || SHA-256(LABEL || LE32(1)) || ...; "gen-fw:" ends with the
 * 4 KiB AmdSev fixture instead of the last 4 KiB of the stream. Written to dir. */
static void write_generated(const char *dir, const char *spec, char *path, size_t pathlen)
{
	bool fw = strncmp(spec, "gen-fw:", 7) == 0;
	const char *label = strchr(spec, ':') + 1, *colon = strrchr(spec, ':');
	size_t label_len = (size_t)(colon - label), size = strtoul(colon + 1, NULL, 10);
	ck_assert(label_len > 0 && label_len < 64 && size > 0);
	snprintf(path, pathlen, "%s/%.*s", dir, (int)label_len, label);
	struct stat st;
	if (stat(path, &st) == 0 && (size_t)st.st_size == size)
		return; /* written for an earlier vector */
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	size_t stream = fw ? size - 4096 : size;
	uint8_t in[68], block[32];
	memcpy(in, label, label_len);
	for (uint32_t i = 0; (size_t)i * 32 < stream; i++) {
		for (int b = 0; b < 4; b++)
			in[label_len + b] = (uint8_t)(i >> (8 * b));
		SHA256(in, label_len + 4, block);
		size_t n = stream - (size_t)i * 32 < 32 ? stream - (size_t)i * 32 : 32;
		ck_assert_uint_eq(fwrite(block, 1, n, f), n);
	}
	if (fw) {
		char *suffix;
		size_t len;
		ck_assert_int_eq(read_file_max(FW "/ovmf_AmdSev_suffix.bin", 8192, &suffix, &len), 0);
		ck_assert_uint_eq(len, 4096);
		ck_assert_uint_eq(fwrite(suffix, 1, len, f), len);
		free(suffix);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/* The generated vectors with kernels and initrds, as files (the library tests hash them in
 * memory): the mapped, threaded file hashing of snpctl against sev-snp-measure's digests,
 * with the initrd the larger file, the kernel the larger one, and a 7-byte initrd. */
START_TEST(generated_files)
{
	static const char *const names[] = {"snp_fw4m_gce_2vcpus_ksmall_i64m",
					    "snp_fw4m_genoa_8vcpus_ksmall_ismall",
					    "snp_fw4m_ec2_4vcpus_k16m_ismall_utf8",
					    "seves_fw4m_ec2_4vcpus_ksmall_ismall"};
	char dir[] = "/tmp/snpctl-gen-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	json_object *root = json_object_from_file(SOURCE_DIR "/tests/data/snp/generated-vectors.json");
	ck_assert_ptr_nonnull(root);
	json_object *vectors, *v, *f;
	ck_assert(json_object_object_get_ex(root, "vectors", &vectors));
	for (size_t n = 0; n < ARRAY_SIZE(names); n++) {
		v = NULL;
		for (size_t i = 0; i < json_object_array_length(vectors); i++) {
			json_object *name, *e = json_object_array_get_idx(vectors, i);
			if (json_object_object_get_ex(e, "name", &name) &&
			    strcmp(json_object_get_string(name), names[n]) == 0)
				v = e;
		}
		ck_assert_msg(v, "%s is not in generated-vectors.json", names[n]);
		static const char *const flags[][2] = {
		    {"mode", "--mode"},		  {"vcpus", "--vcpus"},
		    {"vcpu_type", "--vcpu-type"}, {"vmm_type", "--vmm-type"},
		    {"append", "--append"},	  {"guest_features", "--guest-features"},
		    {"ovmf", "--ovmf"},		  {"kernel", "--kernel"},
		    {"initrd", "--initrd"}};
		const char *args[24];
		char paths[3][256];
		size_t na = 0, np = 0;
		for (size_t k = 0; k < ARRAY_SIZE(flags); k++) {
			if (!json_object_object_get_ex(v, flags[k][0], &f))
				continue;
			const char *val = json_object_get_string(f);
			args[na++] = flags[k][1];
			if (strncmp(val, "gen", 3) == 0) {
				write_generated(dir, val, paths[np], sizeof(paths[np]));
				val = paths[np++];
			}
			args[na++] = val;
		}
		args[na] = NULL;
		char *out;
		ck_assert_int_eq(snpctl(&out, args), 0);
		ck_assert(json_object_object_get_ex(v, "digest", &f));
		size_t dl = strlen(json_object_get_string(f)); /* 96 hex digits, 64 for SEV-ES */
		ck_assert_msg(strncmp(out, json_object_get_string(f), dl) == 0 && out[dl] == '\n' &&
				  !out[dl + 1],
			      "%s: snpctl %s, sev-snp-measure %s", names[n], out,
			      json_object_get_string(f));
		free(out);
	}
	json_object_put(root);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static const struct {
	const char *args[16];
	int status;
	const char *msg;
} refusals[] = {
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf",
	  FW "/ovmf_OvmfX64_suffix.bin", "--kernel", "/dev/null"},
	 1, "no SEV kernel-hashes section"},
	{{"--mode", "snp", "--vcpu-type", "EPYC-v4", "--ovmf", FW "/ovmf_AmdSev_suffix.bin"},
	 2, "missing --vcpus N in guest mode 'snp'"},
	{{"--mode", "snp", "--vcpus", "1", "--ovmf", FW "/ovmf_AmdSev_suffix.bin"},
	 2, "missing --vcpu-type or --vcpu-sig or --vcpu-family"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v9", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin"},
	 2, "unknown --vcpu-type 'EPYC-v9'"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin", "--initrd", "/dev/null"},
	 2, "--kernel required when using --initrd"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin", "--append", "x"},
	 2, "--kernel required when using --append"},
	{{"--mode", "tdx", "--ovmf", "x"}, 2, "unknown mode 'tdx'"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", "/nonexistent"},
	 1, "--ovmf /nonexistent: No such file or directory"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin", "--snp-ovmf-hash", "abcd"},
	 2, "is not 96 hex digits"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin", "--vmm-type", "xen"},
	 2, "unknown VMM type 'xen'"},
	{{"--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/svsm_ovmf.fd", "--svsm", FW "/svsm.bin"},
	 2, "requires --vars-size or --vars-file"},
	{{"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
	  FW "/ovmf_AmdSev_suffix.bin", "--guest-features", "-1"},
	 2, "is not a non-negative integer"},
};

START_TEST(refused)
{
	char *out;
	ck_assert_int_eq(snpctl(&out, refusals[_i].args), refusals[_i].status);
	ck_assert_msg(strstr(out, refusals[_i].msg), "case %d: %s", _i, out);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snpctl");
	TCase *tc = tcase_create("measure");
	tcase_add_test(tc, digests_and_formats);
	tcase_add_test(tc, dump_vmsa);
	tcase_add_test(tc, generated_files);
	tcase_set_timeout(tc, 120); /* generated_files writes 84 MiB through SHA-256 */
	tcase_add_loop_test(tc, refused, 0, (int)ARRAY_SIZE(refusals));
	suite_add_tcase(s, tc);
	return run_suite(s);
}
