/* The cross-check: an SNP guest launched through hv/snp_launch (the sequence QEMU performs) on
 * the emulated KVM and the emulated PSP yields a firmware launch digest equal to coco's offline
 * snp_measure() for the same inputs, and to the vector's digest.
 * Vectors: tests/data/snp/measure-vectors.json (sev-snp-measure 0.0.13's tests),
 * extra-vectors.json (its test_guest.py values and three computed with it) and
 * generated-vectors.json (computed with sev-snp-measure on 4 MiB generated firmware, the Debian
 * OVMF.fd, generated kernels/initrds; provenance in each file). Only mode "snp" with the QEMU
 * layout launches: ec2/gce are other VMMs, seeded digests are not launches. */
#include <check.h>
#include <ftw.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "coco/filehash.h"
#include "coco/snp/measure.h"
#include "coco/util.h"
#include "hv/emul/kvm.h"
#include "hv/emul/psp.h"
#include "hv/snp_launch.h"
#include "tests/check_main.h"

#define DATA SOURCE_DIR "/tests/data/snp"

static char state_dir[] = "/tmp/test-snp-launch-XXXXXX";
static struct emul_psp *psp;
static struct emul_kvm *ek;
static struct hv_kvm *kvm;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	struct emul_psp_config cfg = {.state_dir = state_dir};
	ck_assert_int_eq(emul_psp_open(&cfg, &psp), 0);
	ck_assert_int_eq(emul_kvm_new_psp(psp, &ek), 0);
	ck_assert_int_eq(hv_kvm_open_emulated(ek, &kvm), 0);
}

static void teardown(void)
{
	hv_kvm_free(kvm);
	emul_kvm_free(ek);
	emul_psp_free(psp);
	nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	strcpy(state_dir, "/tmp/test-snp-launch-XXXXXX");
}

/* --- inputs as the vector files describe them --- */

static const char *str(json_object *v, const char *k)
{
	json_object *o;
	if (!json_object_object_get_ex(v, k, &o) || json_object_is_type(o, json_type_null))
		return NULL;
	return json_object_get_string(o);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_uint_eq(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* PRNG(label, n) = SHA-256(label || LE32(0)) || SHA-256(label || LE32(1)) || ... cut to n
 * (generated-vectors.json "source"). */
static void prng(const char *label, size_t n, uint8_t *out)
{
	size_t ll = strlen(label);
	uint8_t in[256], h[32];
	ck_assert_uint_lt(ll, sizeof(in) - 4);
	memcpy(in, label, ll);
	for (uint32_t i = 0; n; i++) {
		memcpy(in + ll, &i, 4);
		SHA256(in, ll + 4, h);
		size_t k = n < 32 ? n : 32;
		memcpy(out, h, k);
		out += k;
		n -= k;
	}
}

/* SHA-256 of a file named as in the vectors ('/dev/null', 'gen:LABEL:SIZE'). */
static void file_sha256(const char *spec, uint8_t out[32])
{
	if (strncmp(spec, "gen:", 4)) {
		ck_assert_int_eq(coco_sha256_file(spec, out, NULL), 0);
		return;
	}
	char label[128];
	size_t size;
	ck_assert_int_eq(sscanf(spec, "gen:%127[^:]:%zu", label, &size), 2);
	uint8_t *buf = malloc(size ? size : 1);
	ck_assert_ptr_nonnull(buf);
	prng(label, size, buf);
	SHA256(buf, size, out);
	free(buf);
}

/* The firmware bytes: 'firmware/X', 'system:PATH', 'gen-fw:LABEL:SIZE'. NULL when absent. */
static uint8_t *load_firmware(const char *spec, size_t *ret_size)
{
	char path[512];
	if (!strncmp(spec, "gen-fw:", 7)) {
		char label[128];
		size_t size;
		ck_assert_int_eq(sscanf(spec, "gen-fw:%127[^:]:%zu", label, &size), 2);
		uint8_t *fw = malloc(size);
		ck_assert_ptr_nonnull(fw);
		prng(label, size - 4096, fw);
		char *suffix;
		size_t n;
		ck_assert_int_eq(read_file_max(DATA "/firmware/ovmf_AmdSev_suffix.bin", 1 << 20,
					       &suffix, &n), 0);
		ck_assert_uint_eq(n, 4096);
		memcpy(fw + size - 4096, suffix, 4096);
		free(suffix);
		*ret_size = size;
		return fw;
	}
	if (!strncmp(spec, "system:", 7))
		snprintf(path, sizeof(path), "%s", spec + 7);
	else
		snprintf(path, sizeof(path), DATA "/%s", spec);
	char *data;
	size_t n;
	if (read_file_max(path, 64u << 20, &data, &n) < 0)
		return NULL;
	*ret_size = n;
	return (uint8_t *)data;
}

struct vec {
	const char *name;
	uint8_t *fw;
	size_t fw_size;
	bool kernel;
	struct snp_kernel_hashes hashes;
	unsigned vcpus;
	uint32_t sig;
	uint64_t features;
	uint8_t digest[48];
};

/* False when the vector is not a QEMU SNP launch (or its files are absent here). */
static bool vec_load(json_object *v, struct vec *out)
{
	memset(out, 0, sizeof(*out));
	out->name = str(v, "name");
	const char *mode = str(v, "mode"), *vmm = str(v, "vmm_type");
	if (!mode || strcmp(mode, "snp") || (vmm && strcmp(vmm, "qemu")) || str(v, "ovmf_hash"))
		return false;
	out->fw = load_firmware(str(v, "ovmf"), &out->fw_size);
	if (!out->fw)
		return false;
	json_object *o;
	ck_assert(json_object_object_get_ex(v, "vcpus", &o));
	out->vcpus = (unsigned)json_object_get_int(o);
	if (str(v, "vcpu_type"))
		ck_assert_int_eq(snp_vcpu_type_sig(str(v, "vcpu_type"), &out->sig), 0);
	else if (str(v, "vcpu_sig"))
		out->sig = (uint32_t)strtoul(str(v, "vcpu_sig"), NULL, 0);
	else {
		json_object *f, *m, *s;
		ck_assert(json_object_object_get_ex(v, "vcpu_family", &f));
		ck_assert(json_object_object_get_ex(v, "vcpu_model", &m));
		ck_assert(json_object_object_get_ex(v, "vcpu_stepping", &s));
		out->sig = snp_vcpu_sig((unsigned)json_object_get_int(f),
					(unsigned)json_object_get_int(m),
					(unsigned)json_object_get_int(s));
	}
	const char *gf = str(v, "guest_features");
	out->features = gf ? strtoull(gf, NULL, 0) : 0x1;
	if (str(v, "kernel")) {
		out->kernel = true;
		file_sha256(str(v, "kernel"), out->hashes.kernel);
		if (str(v, "initrd"))
			file_sha256(str(v, "initrd"), out->hashes.initrd);
		else
			SHA256((const uint8_t *)"", 0, out->hashes.initrd);
		snp_hash_cmdline(str(v, "append"), out->hashes.cmdline);
	}
	const char *fmt = str(v, "output_format");
	if (fmt && !strcmp(fmt, "base64")) {
		uint8_t raw[66];
		ck_assert_int_eq(EVP_DecodeBlock(raw, (const uint8_t *)str(v, "digest"), 64), 48);
		memcpy(out->digest, raw, 48);
	} else
		unhex(str(v, "digest"), out->digest, 48);
	return true;
}

/* coco's offline digest for the same inputs. */
static void offline_digest(const struct vec *t, uint8_t out[48])
{
	struct snp_measure_input in = {
		.mode = SNP_MODE_SNP,
		.ovmf = t->fw,
		.ovmf_size = t->fw_size,
		.kernel = t->kernel,
		.hashes = t->hashes,
		.vcpus = t->vcpus,
		.vcpu_sig = t->sig,
		.guest_features = t->features,
		.vmm = SNP_VMM_QEMU,
		.threads = 2,
	};
	struct snp_measure_result res;
	char err[256];
	ck_assert_msg(snp_measure(&in, &res, err, sizeof(err)) == 0, "%s: %s", t->name, err);
	ck_assert_uint_eq(res.digest_len, 48);
	memcpy(out, res.digest, 48);
}

/* Launch through hv/snp_launch; the firmware's digest, or the launch's error. */
static int launch_digest(const struct vec *t, uint8_t out[48], char *err, size_t errlen)
{
	struct hv_snp_ovmf_launch in = {
		.ovmf = t->fw,
		.ovmf_size = t->fw_size,
		.hashes = t->kernel ? &t->hashes : NULL,
		.vcpus = t->vcpus,
		.vcpu_sig = t->sig,
		.sev_features = t->features,
	};
	struct hv_snp_guest *g = NULL;
	uint32_t fw_error = 0;
	int r = hv_snp_launch_ovmf(kvm, &in, &g, &fw_error, err, errlen);
	if (r < 0)
		return r;
	uint32_t handle;
	ck_assert_int_eq(emul_kvm_snp_handle(ek, hv_snp_guest_vm_fd(g), &handle), 0);
	ck_assert_int_eq(emul_psp_snp_launch_digest(psp, handle, out), 0);
	hv_snp_guest_free(g);
	return 0;
}

static const char *const vector_files[] = {"measure-vectors.json", "extra-vectors.json",
					   "generated-vectors.json"};

/* KVM (Linux 7.0) accepts DebugSwap and SecureTSC besides SNPActive in KVM_SEV_INIT2: other
 * features cannot be launched through KVM, so those vectors are expected to be refused. */
static bool kvm_can_launch(uint64_t features)
{
	return !(features & ~((1ull << 0) | (1ull << 5) | (1ull << 9)));
}

START_TEST(cross_check_vectors)
{
	unsigned launched = 0, refused = 0;
	for (size_t f = 0; f < ARRAY_SIZE(vector_files); f++) {
		char path[512];
		snprintf(path, sizeof(path), DATA "/%s", vector_files[f]);
		json_object *root = json_object_from_file(path), *vs;
		ck_assert_ptr_nonnull(root);
		ck_assert(json_object_object_get_ex(root, "vectors", &vs));
		for (size_t i = 0; i < json_object_array_length(vs); i++) {
			struct vec t;
			if (!vec_load(json_object_array_get_idx(vs, i), &t))
				continue;
			uint8_t off[48], fw[48];
			char err[256] = "";
			offline_digest(&t, off);
			ck_assert_msg(!memcmp(off, t.digest, 48), "%s: coco differs from vector",
				      t.name);
			int r = launch_digest(&t, fw, err, sizeof(err));
			if (!kvm_can_launch(t.features)) {
				ck_assert_msg(r == -EINVAL, "%s: features 0x%llx launched", t.name,
					      (unsigned long long)t.features);
				refused++;
			} else {
				ck_assert_msg(r == 0, "%s: launch failed: %s", t.name, err);
				ck_assert_msg(!memcmp(fw, off, 48),
					      "%s: firmware digest differs from coco's", t.name);
				launched++;
			}
			free(t.fw);
		}
		json_object_put(root);
	}
	/* QEMU SNP launches: 6 measure + 2 extra + 10 generated vectors (3 of these from the
	 * Debian OVMF.fd package, skipped where it is not installed); 3 generated ones ask for
	 * VmsaRegProt (0x4021), which KVM refuses. */
	bool debian = access("/usr/share/ovmf/OVMF.fd", R_OK) == 0;
	ck_assert_uint_eq(launched, debian ? 18 : 15);
	ck_assert_uint_eq(refused, 3);
}
END_TEST

/* The matrix the issue asks for: each fixture firmware, with and without kernel hashes, 1 and 4
 * vCPUs, several CPU types, features 0x1 and 0x21: firmware digest == offline digest. */
START_TEST(cross_check_matrix)
{
	static const char *const fws[] = {"firmware/ovmf_AmdSev_suffix.bin",
					  "firmware/ovmf_OvmfX64_suffix.bin",
					  "gen-fw:cocod-fw:4194304"};
	static const char *const types[] = {"EPYC-v4", "EPYC-Milan", "EPYC-Genoa"};
	static const unsigned vcpus[] = {1, 4};
	static const uint64_t feats[] = {0x1, 0x21};
	unsigned n = 0;
	for (size_t a = 0; a < ARRAY_SIZE(fws); a++) {
		struct vec t = {.name = fws[a]};
		t.fw = load_firmware(fws[a], &t.fw_size);
		ck_assert_ptr_nonnull(t.fw);
		for (int k = 0; k < 2; k++) {
			/* OvmfX64 has no SNP_KERNEL_HASHES section: a kernel is refused */
			t.kernel = k;
			if (k) {
				file_sha256("gen:cocod-kernel-small:1234567", t.hashes.kernel);
				file_sha256("gen:cocod-initrd-small:7", t.hashes.initrd);
				snp_hash_cmdline("console=ttyS0", t.hashes.cmdline);
			}
			for (size_t c = 0; c < ARRAY_SIZE(vcpus); c++)
				for (size_t y = 0; y < ARRAY_SIZE(types); y++)
					for (size_t f = 0; f < ARRAY_SIZE(feats); f++) {
						t.vcpus = vcpus[c];
						ck_assert_int_eq(snp_vcpu_type_sig(types[y], &t.sig), 0);
						t.features = feats[f];
						uint8_t fw[48], off[48];
						char err[256] = "";
						int r = launch_digest(&t, fw, err, sizeof(err));
						if (k && strstr(fws[a], "OvmfX64")) {
							ck_assert_int_eq(r, -EINVAL);
							ck_assert_ptr_nonnull(strstr(err, "SNP_KERNEL_HASHES"));
							continue;
						}
						ck_assert_msg(r == 0, "%s: %s", fws[a], err);
						offline_digest(&t, off);
						ck_assert_msg(!memcmp(fw, off, 48),
							      "%s k%d %u vCPUs %s 0x%llx: digests differ",
							      fws[a], k, t.vcpus, types[y],
							      (unsigned long long)t.features);
						n++;
					}
		}
		free(t.fw);
	}
	ck_assert_uint_eq(n, 60);
}
END_TEST

/* Launch refusals before any firmware call: what the QEMU layout cannot do. */
START_TEST(launch_refusals)
{
	size_t size;
	uint8_t *fw = load_firmware("firmware/ovmf_AmdSev_suffix.bin", &size);
	ck_assert_ptr_nonnull(fw);
	struct hv_snp_ovmf_launch in = {.ovmf = fw, .ovmf_size = size, .vcpus = 1,
					.vcpu_type = "EPYC-v4"};
	struct hv_snp_guest *g = NULL;
	char err[256];
	in.sev_features = 0x20; /* no SNPActive: KVM would set it and the digest would differ */
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in.sev_features = 0x1;
	in.vcpu_type = "EPYC-v9";
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "EPYC-v9"));
	in.vcpu_type = "EPYC-v4";
	in.vcpus = 0;
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in.vcpus = 1;
	in.ovmf_size = size - 1;
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in.ovmf_size = size;
	in.mem_size = 1 << 20; /* below the sections at 8 MiB */
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in.mem_size = 0;
	in.policy = 0x10000; /* bit 17 must be one: KVM refuses it */
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(g);
	/* and the good one, with host data: the firmware takes it */
	in.policy = 0;
	uint8_t host_data[32] = {1, 2, 3};
	struct hv_kvm_snp_finish fin = {.host_data = host_data};
	in.finish = &fin;
	ck_assert_int_eq(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)), 0);
	hv_snp_guest_free(g);
	free(fw);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("snp_launch");
	TCase *tc = tcase_create("cross-check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cross_check_vectors);
	tcase_add_test(tc, cross_check_matrix);
	tcase_add_test(tc, launch_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
