/* bench/guests_bench: guests launched per second on the emulated platform, as POST /v1/guests
 * does it (cocod/guest_launch.c: expected measurement with a warm measurement cache, then the
 * KVM launch sequence on the emulated KVM + PSP / TDX module and the comparison), and the
 * measurement's share of that latency. Peer measured in the same run: the bare SNP launch
 * sequence (hv_snp_launch_ovmf on firmware already in memory and kernel hashes already known),
 * i.e. what a launch costs without cocod's measurement, file reads and checks.
 * Inputs (generated, deterministic): a 4 MiB OVMF (pseudo-random body + the AmdSev fixture's
 * last 4 KiB: its SEV metadata and reset vector), an 8 MiB kernel, a 1 MiB initrd, a 2 MiB
 * synthetic TDVF; 2 vCPUs.
 * Usage: bench_guests SOURCE_DIR ROUNDS. Prints two lines of medians:
 *   snp guests_per_s measure_ms launch_ms measure_share bare_launch_ms rate_over_bare
 *   tdx guests_per_s measure_ms launch_ms measure_share */
#include <openssl/sha.h>
#include <sys/stat.h>

#include "bench/bench_util.h"
#include "cocod/guest_launch.h"
#include "coco/snp/hashes.h"
#include "coco/snp/vmsa.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "hv/platform.h"
#include "hv/snp_launch.h"
#include "sevd/measure_svc.h"
#include "tdxd/gate.h"

#define MAX_ROUNDS 200
#define FW_SIZE (4u << 20)

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

static int write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		return -errno;
	size_t w = fwrite(b, 1, n, f);
	return fclose(f) == 0 && w == n ? 0 : -EIO;
}

static double ms(uint64_t a, uint64_t b) { return (double)(b - a) / 1e6; }

struct run {
	double measure[MAX_ROUNDS], launch[MAX_ROUNDS], total[MAX_ROUNDS];
};

/* n launches of body as cocod does them; 0 or -1 with a message. */
static int launches(struct hv_platform *p, struct tdxd_gate *gate, struct sevd_measure_cache *c,
		    char *const *dirs, const char *body, int n, struct run *out)
{
	char err[512];
	json_object *j = json_tokener_parse(body);
	struct guest_spec sp;
	if (!j || guest_spec_parse(j, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_guests: bad request: %s\n", j ? err : body);
		json_object_put(j);
		return -1;
	}
	uint8_t exp[48];
	int r = guest_expected(c, dirs, 1, &sp, exp, err, sizeof(err)); /* warm the cache */
	for (int i = 0; r == 0 && i <= n; i++) {
		struct guest_handle h;
		uint64_t t0 = now_ns();
		r = guest_expected(c, dirs, 1, &sp, exp, err, sizeof(err));
		uint64_t t1 = now_ns();
		if (r == 0)
			r = guest_launch_emulated(p, gate, c, dirs, 1, &sp, exp, &h, err, sizeof(err));
		uint64_t t2 = now_ns();
		if (r == 0)
			guest_handle_free(&h);
		if (i == 0)
			continue; /* the first launch maps the emulator's state: not counted */
		out->measure[i - 1] = ms(t0, t1);
		out->launch[i - 1] = ms(t1, t2);
		out->total[i - 1] = ms(t0, t2);
	}
	if (r < 0)
		fprintf(stderr, "bench_guests: %s\n", err);
	guest_spec_clear(&sp);
	json_object_put(j);
	return r < 0 ? -1 : 0;
}

/* The bare launch sequence: firmware in memory, hashes known. */
static int bare_launches(struct hv_platform *p, const uint8_t *fw, const uint8_t *k,
			 const uint8_t *ird, int n, double *out)
{
	struct snp_kernel_hashes hs;
	SHA256(k, 8u << 20, hs.kernel);
	SHA256(ird, 1u << 20, hs.initrd);
	snp_hash_cmdline("console=ttyS0", hs.cmdline);
	struct hv_snp_ovmf_launch in = {.ovmf = fw, .ovmf_size = FW_SIZE, .hashes = &hs,
					.vcpus = 2, .sev_features = 1};
	if (snp_vcpu_type_sig("EPYC-Milan", &in.vcpu_sig) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct hv_snp_guest *g;
		uint32_t fwe;
		char err[256];
		uint64_t t0 = now_ns();
		if (hv_snp_launch_ovmf(hv_platform_kvm(p), &in, &g, &fwe, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_guests: bare launch: %s\n", err);
			return -1;
		}
		out[i] = ms(t0, now_ns());
		hv_snp_guest_free(g);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc == 3 ? atoi(argv[2]) : 0;
	if (n < 1 || n > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_guests SOURCE_DIR ROUNDS (1..%d)\n", MAX_ROUNDS);
		return 2;
	}
	char top[] = "/tmp/cocod-bench-guests-XXXXXX", images[64], state[64], suffix[512], err[256];
	if (!mkdtemp(top))
		return 1;
	snprintf(images, sizeof(images), "%s/images", top);
	snprintf(state, sizeof(state), "%s/state", top);
	snprintf(suffix, sizeof(suffix), "%s/tests/data/snp/firmware/ovmf_AmdSev_suffix.bin",
		 argv[1]);
	int rc = 1;
	uint8_t *fw = malloc(FW_SIZE), *k = malloc(8u << 20), *ird = malloc(1u << 20), *td = NULL;
	char *suf = NULL;
	size_t sl = 0;
	struct hv_platform *p = NULL;
	struct tdxd_gate *gate = NULL;
	struct sevd_measure_cache *c = NULL;
	struct run *snp = calloc(1, sizeof(*snp)), *tdx = calloc(1, sizeof(*tdx));
	double *bare = calloc(MAX_ROUNDS, sizeof(double));
	if (!fw || !k || !ird || !snp || !tdx || !bare || mkdir(images, 0755) < 0 ||
	    mkdir(state, 0700) < 0 ||
	    read_file_max(suffix, 8192, &suf, &sl) < 0 || sl != 4096 ||
	    tdvf_synth(2u << 20, 11, false, &td) < 0)
		goto out;
	fill(fw, FW_SIZE - 4096, 1);
	memcpy(fw + FW_SIZE - 4096, suf, 4096);
	fill(k, 8u << 20, 2);
	fill(ird, 1u << 20, 3);
	if (write_file(images, "ovmf.fd", fw, FW_SIZE) < 0 ||
	    write_file(images, "vmlinuz", k, 8u << 20) < 0 ||
	    write_file(images, "initrd", ird, 1u << 20) < 0 ||
	    write_file(images, "tdvf.fd", td, 2u << 20) < 0)
		goto out;
	struct hv_platform_params pp = {.kind = COCO_PLATFORM_EMULATED, .state_dir = state};
	if (hv_platform_open(&pp, &p, err, sizeof(err)) < 0 || tdxd_gate_new(&gate) < 0 ||
	    sevd_measure_cache_new(&c) < 0) {
		fprintf(stderr, "bench_guests: %s\n", err);
		goto out;
	}
	char *dirs[] = {images};
	if (launches(p, gate, c, dirs,
		     "{\"name\":\"b\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"kernel\":\"vmlinuz\","
		     "\"initrd\":\"initrd\",\"cmdline\":\"console=ttyS0\",\"vcpus\":2,"
		     "\"vcpu_type\":\"EPYC-Milan\"}",
		     n, snp) < 0 ||
	    launches(p, gate, c, dirs,
		     "{\"name\":\"t\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\",\"vcpus\":2}", n,
		     tdx) < 0 ||
	    bare_launches(p, fw, k, ird, n, bare) < 0)
		goto out;
	struct run *runs[2] = {snp, tdx};
	for (int t = 0; t < 2; t++) {
		double m = bench_median(runs[t]->measure, n), l = bench_median(runs[t]->launch, n),
		       tot = bench_median(runs[t]->total, n);
		printf("%s %.1f %.3f %.3f %.3f", t ? "tdx" : "snp", 1000.0 / tot, m, l, m / tot);
		if (t == 0) {
			double b = bench_median(bare, n);
			printf(" %.3f %.3f", b, b / tot);
		}
		printf("\n");
	}
	rc = 0;
out:
	hv_platform_close(p);
	tdxd_gate_free(gate);
	sevd_measure_cache_free(c);
	free(fw), free(k), free(ird), free(td), free(suf), free(snp), free(tdx), free(bare);
	bench_rm_tree(top);
	return rc;
}
