/* bench_attest: SEV-SNP report verifications per second with a warm chain cache (driven by
 * bench/attest). Loads a real report with its VCEK and AMD's ARK/ASK (tests/data/snp), warms
 * the cache with one verification, then runs `threads` threads, each verifying the report in a
 * loop for `seconds`. Every verification must pass (the run aborts otherwise). Prints
 * "<verifications/s> <cache hits> <cache misses>". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "attest/snp_verify.h"
#include "coco/snp/amdcert.h"
#include "coco/util.h"

struct job {
	struct snp_verify_input in;
	uint64_t deadline;
	uint64_t count;
};

static void *worker(void *p)
{
	struct job *j = p;
	struct attest_result *res = malloc(sizeof(*res));
	if (!res)
		abort();
	while (now_ns() < j->deadline) {
		snp_verify(&j->in, res);
		if (!attest_ok(res)) {
			fprintf(stderr, "bench_attest: verification failed: %s\n",
				attest_first_failure(res) ? attest_first_failure(res)->name : "?");
			abort();
		}
		j->count++;
	}
	free(res);
	return NULL;
}

static X509 *load(const char *path)
{
	char *buf = NULL, err[256];
	size_t len;
	X509 *c = NULL;
	if (read_file_max(path, AMD_CERT_MAX_SIZE, &buf, &len) < 0 ||
	    amd_cert_parse((uint8_t *)buf, len, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_attest: %s: cannot load\n", path);
		exit(1);
	}
	free(buf);
	return c;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bench_attest SECONDS THREADS DATA_DIR (tests/data/snp)\n");
		return 2;
	}
	int seconds = atoi(argv[1]), threads = atoi(argv[2]);
	if (seconds < 1 || seconds > 600 || threads < 1 || threads > 64)
		return 2;
	char path[4096];
	snprintf(path, sizeof(path), "%s/reports/genoa/report.bin", argv[3]);
	char *report = NULL;
	size_t len;
	if (read_file_max(path, 4096, &report, &len) < 0) {
		fprintf(stderr, "bench_attest: %s: cannot read\n", path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/reports/genoa/vcek.der", argv[3]);
	X509 *vcek = load(path);
	snprintf(path, sizeof(path), "%s/amd/genoa/ask.pem", argv[3]);
	X509 *ask = load(path);
	snprintf(path, sizeof(path), "%s/amd/genoa/ark.pem", argv[3]);
	X509 *ark = load(path);
	struct snp_chain_cache *cache = snp_chain_cache_new(64);
	/* A fixed time inside every certificate's validity (2026-01-01). */
	struct snp_verify_input in = {.report = (uint8_t *)report, .report_len = len, .ark = ark,
				      .ask = ask, .vek = vcek, .now = 1767225600, .cache = cache};
	struct attest_result res;
	snp_verify(&in, &res); /* warm: the one chain verification */
	if (!attest_ok(&res)) {
		fprintf(stderr, "bench_attest: the report does not verify\n");
		return 1;
	}
	struct job *jobs = calloc((size_t)threads, sizeof(*jobs));
	pthread_t *t = calloc((size_t)threads, sizeof(*t));
	if (!jobs || !t)
		return 1;
	uint64_t start = now_ns(), deadline = start + (uint64_t)seconds * 1000000000ull;
	for (int i = 0; i < threads; i++) {
		jobs[i].in = in;
		jobs[i].deadline = deadline;
		if (pthread_create(&t[i], NULL, worker, &jobs[i]) != 0)
			return 1;
	}
	uint64_t total = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += jobs[i].count;
	}
	double elapsed = (double)(now_ns() - start) / 1e9;
	uint64_t hits, misses;
	snp_chain_cache_stats(cache, &hits, &misses, NULL);
	printf("%.1f %llu %llu\n", (double)total / elapsed, (unsigned long long)hits,
	       (unsigned long long)misses);
	snp_chain_cache_free(cache);
	X509_free(ark);
	X509_free(ask);
	X509_free(vcek);
	free(report);
	free(jobs);
	free(t);
	return 0;
}
