/* bench/tdx_update_bench: what a runtime TDX module update costs cocod itself, on the simulated
 * Linux 7.2 sysfs tree in front of the emulated module (the same hv/tdx.c and tdxd/update.c a
 * real host runs). Per round: a fresh host (boot 1.5.06), a module directory with Intel's
 * mapping file and a 600 KiB v1 blob of 1.5.08, one update through tdxd_update_run().
 *   overhead = the whole run minus the time inside hv_tdx_upload() (the kernel's part: on the
 *              simulated tree its step delays and our status polling), i.e. preflight (sysfs
 *              reads, mapping parse, inventory scan with SHA-384 verification, the blob read
 *              and verified again, v1 -> v2), the journal writes and the post-check;
 *   limit    = 100 ms; and for scale, SHA-384 of the 600 KiB blob measured in the same run;
 *   gate     = the exclusive hold of the TD-launch gate / the upload window (1.00 = the gate is
 *              held for the upload and nothing else of note).
 * Usage: bench_tdx_update MAPPING_FILE ROUNDS. Prints one line of medians:
 *   overhead_ms limit_ms sha384_ms upload_ms gate_hold_ms gate_over_upload blob_bytes */
#include <openssl/sha.h>
#include <sys/stat.h>

#include "bench/bench_util.h"
#include "coco/store.h"
#include "coco/tdx/blobgen.h"
#include "coco/util.h"
#include "hv/emul/tdx_kernel.h"
#include "hv/emul/tdx_module.h"
#include "tdxd/update.h"

#define MAX_ROUNDS 64

static int write_all(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	size_t w = fwrite(d, 1, n, f);
	return fclose(f) == 0 && w == n ? 0 : -EIO;
}

static int round_once(const char *top, const char *map, size_t maplen, const uint8_t *blob,
		      size_t bloblen, struct tdxd_update_report *rep)
{
	char dir[256], sys[300], mods[300], state[300], p[400];
	snprintf(dir, sizeof(dir), "%s/round-XXXXXX", top);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(mods, sizeof(mods), "%s/modules", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	if (mkdir(mods, 0700) < 0 || mkdir(state, 0700) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/mapping_file.json", mods);
	int r = write_all(p, map, maplen);
	snprintf(p, sizeof(p), "%s/tdx_module_1.5.08.blob", mods);
	if (r < 0 || (r = write_all(p, blob, bloblen)) < 0)
		return r;
	struct emul_tdx_module_config mc = {.boot_version = {1, 5, 6},
					    .seamldr_version = {2, 0, 0},
					    .num_remaining_updates = 2};
	struct emul_tdx_module *mod = NULL;
	struct emul_tdx_kernel *kern = NULL;
	struct hv_tdx *tdx = NULL;
	struct coco_store *store = NULL;
	struct tdxd_gate *gate = NULL;
	struct tdxd_updater *up = NULL;
	char err[256];
	struct emul_tdx_kernel_config kc = {.root = sys, .cpus = 8, .step_delay_ms = 5};
	struct hv_tdx_options o = {.start_grace_ms = 3000};
	if ((r = emul_tdx_module_new(&mc, &mod)) < 0)
		goto out;
	kc.module = mod;
	if ((r = emul_tdx_kernel_start(&kc, &kern)) < 0 || (r = hv_tdx_open(sys, &o, &tdx)) < 0 ||
	    (r = coco_store_open(state, &store, err, sizeof(err))) < 0 ||
	    (r = tdxd_gate_new(&gate)) < 0)
		goto out;
	struct tdxd_update_config cfg = {.module_dir = mods,
					 .cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT,
					 .upload = {.timeout_ms = 30000, .poll_interval_ms = 1}};
	if ((r = tdxd_updater_new(&cfg, tdx, store, gate, &up)) < 0)
		goto out;
	struct tdxd_update_request rq = {.latest = true};
	if ((r = tdxd_update_run(up, &rq, NULL, NULL, rep)) == 0 &&
	    rep->outcome != TDXD_UPDATE_UPDATED) {
		fprintf(stderr, "update: %s\n", rep->message);
		r = -EIO;
	}
out:
	tdxd_updater_free(up);
	tdxd_gate_free(gate);
	coco_store_close(store);
	hv_tdx_free(tdx);
	emul_tdx_kernel_stop(kern);
	emul_tdx_module_free(mod);
	bench_rm_tree(dir);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MAPPING_FILE ROUNDS\n", argv[0]);
		return 2;
	}
	int rounds = atoi(argv[2]);
	if (rounds < 1 || rounds > MAX_ROUNDS)
		return 2;
	char *map;
	size_t maplen;
	if (read_file_max(argv[1], 1 << 20, &map, &maplen) < 0) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	/* 600 KiB: 4 KiB header + 4 KiB sigstruct + 142 module pages (Intel's: 412-592 KiB) */
	struct tdx_blobgen_params bp = {.major = 1, .minor = 5, .update = 8, .module_pages = 148,
					.seed = 8};
	uint8_t *blob;
	size_t bloblen;
	if (tdx_blobgen(&bp, &blob, &bloblen) < 0)
		return 1;
	char top[] = "/tmp/bench-tdx-update-XXXXXX";
	if (!mkdtemp(top))
		return 1;
	double ov[MAX_ROUNDS], sha[MAX_ROUNDS], upl[MAX_ROUNDS], hold[MAX_ROUNDS], ratio[MAX_ROUNDS];
	int rc = 0;
	for (int i = 0; i < rounds; i++) {
		struct tdxd_update_report rep;
		int r = round_once(top, map, maplen, blob, bloblen, &rep);
		if (r < 0) {
			fprintf(stderr, "round %d: %s\n", i, strerror(-r));
			rc = 1;
			break;
		}
		uint8_t md[48];
		uint64_t t0 = now_ns();
		SHA384(blob, bloblen, md);
		sha[i] = (double)(now_ns() - t0) / 1e6;
		ov[i] = (double)(rep.total_ns - rep.upload_ns - rep.retry_wait_ns) / 1e6;
		upl[i] = (double)rep.upload_ns / 1e6;
		hold[i] = (double)rep.gate_hold_ns / 1e6;
		ratio[i] = (double)rep.gate_hold_ns / (double)rep.upload_ns;
	}
	if (rc == 0)
		printf("%.2f %.0f %.3f %.2f %.2f %.3f %zu\n", bench_median(ov, rounds), 100.0,
		       bench_median(sha, rounds), bench_median(upl, rounds), bench_median(hold, rounds),
		       bench_median(ratio, rounds), bloblen);
	bench_rm_tree(top);
	free(blob);
	free(map);
	return rc;
}
