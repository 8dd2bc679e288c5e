#include "coco/snp/gctx.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* OpenSSL 3 looks the algorithm up on every SHA384() call; fetch it once (an immutable handle,
 * never freed: it lives as long as the process). */
static EVP_MD *sha384_md;
static void fetch_sha384(void) { sha384_md = EVP_MD_fetch(NULL, "SHA384", NULL); }

static void sha384(const uint8_t *d, size_t n, uint8_t out[SNP_LD_SIZE])
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fetch_sha384);
	if (!sha384_md || EVP_Digest(d, n, out, NULL, sha384_md, NULL) != 1)
		SHA384(d, n, out); /* no provider handle: the slow path still gives the answer */
}

void snp_gctx_init(struct snp_gctx *g, const uint8_t *seed)
{
	if (seed)
		memcpy(g->ld, seed, SNP_LD_SIZE);
	else
		memset(g->ld, 0, SNP_LD_SIZE);
}

void snp_gctx_update_page(struct snp_gctx *g, enum snp_page_type type, uint64_t gpa,
			  const uint8_t *contents_hash)
{
	uint8_t info[SNP_PAGE_INFO_SIZE] = {0};
	memcpy(info, g->ld, SNP_LD_SIZE); /* 0x00 DIGEST_CUR */
	if (contents_hash)
		memcpy(info + 0x30, contents_hash, SNP_LD_SIZE); /* 0x30 CONTENTS */
	info[0x60] = SNP_PAGE_INFO_SIZE;			 /* 0x60 LENGTH (u16) */
	info[0x61] = 0;
	info[0x62] =
	    (uint8_t)type; /* 0x62 PAGE_TYPE; 0x63 IMI_PAGE = 0; 0x64..0x67 VMPL perms/rsvd = 0 */
	for (int i = 0; i < 8; i++) /* 0x68 GPA (u64, little-endian) */
		info[0x68 + i] = (uint8_t)(gpa >> (8 * i));
	sha384(info, sizeof(info), g->ld);
}

void snp_gctx_update_normal_hashed(struct snp_gctx *g, uint64_t gpa, const uint8_t *hashes,
				   size_t npages)
{
	for (size_t i = 0; i < npages; i++)
		snp_gctx_update_page(g, SNP_PAGE_NORMAL, gpa + i * SNP_PAGE_SIZE,
				     hashes + i * SNP_LD_SIZE);
}

int snp_gctx_update_normal(struct snp_gctx *g, uint64_t gpa, const uint8_t *data, size_t len)
{
	if (len % SNP_PAGE_SIZE)
		return -EINVAL;
	uint8_t h[SNP_LD_SIZE];
	for (size_t off = 0; off < len; off += SNP_PAGE_SIZE) {
		sha384(data + off, SNP_PAGE_SIZE, h);
		snp_gctx_update_page(g, SNP_PAGE_NORMAL, gpa + off, h);
	}
	return 0;
}

void snp_gctx_update_typed(struct snp_gctx *g, enum snp_page_type type, uint64_t gpa, size_t len)
{
	for (size_t off = 0; off < len; off += SNP_PAGE_SIZE)
		snp_gctx_update_page(g, type, gpa + off, NULL);
}

void snp_gctx_update_vmsa(struct snp_gctx *g, uint64_t gpa, const uint8_t page[SNP_PAGE_SIZE])
{
	uint8_t h[SNP_LD_SIZE];
	sha384(page, SNP_PAGE_SIZE, h);
	snp_gctx_update_page(g, SNP_PAGE_VMSA, gpa, h);
}

struct hash_job {
	const uint8_t *data;
	uint8_t *out;
	size_t first, count;
};

static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;
	for (size_t i = j->first; i < j->first + j->count; i++)
		sha384(j->data + i * SNP_PAGE_SIZE, SNP_PAGE_SIZE, j->out + i * SNP_LD_SIZE);
	return NULL;
}

int snp_hash_pages(const uint8_t *data, size_t npages, uint8_t *out_hashes, unsigned threads)
{
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > 64)
		threads = 64;
	/* Below ~1 MiB a thread costs more than it saves. */
	if (npages < 256 || threads == 1) {
		struct hash_job j = {data, out_hashes, 0, npages};
		hash_worker(&j);
		return 0;
	}
	pthread_t tid[64];
	struct hash_job jobs[64];
	size_t per = (npages + threads - 1) / threads, started = 0;
	for (unsigned t = 0; t < threads; t++) {
		size_t first = (size_t)t * per;
		if (first >= npages)
			break;
		jobs[t] = (struct hash_job){data, out_hashes, first,
					    first + per > npages ? npages - first : per};
		if (t == 0)
			continue; /* the caller's thread takes the first share */
		if (pthread_create(&tid[t], NULL, hash_worker, &jobs[t]) != 0) {
			hash_worker(&jobs[t]); /* no thread: do it here */
			jobs[t].count = 0;
			continue;
		}
		started |= (size_t)1 << t;
	}
	hash_worker(&jobs[0]);
	for (unsigned t = 1; t < threads; t++)
		if (started & ((size_t)1 << t))
			pthread_join(tid[t], NULL);
	return 0;
}
