/* coco_sha256_mapped uses OpenSSL's low-level SHA-256 on purpose: see there. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "coco/filehash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* 256 KiB: large enough for few syscalls, small enough to stay in cache (a 4 MiB buffer made
 * copy_to_user and page zeroing a third of the CPU: bench/measure). */
#define READ_CHUNK (256u << 10)

static void fill_id(const struct stat *st, struct coco_file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

int coco_file_id_get(const char *path, struct coco_file_id *ret)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fill_id(&st, ret);
	return 0;
}

static int map_file(const char *path, size_t max, int flags, struct coco_mapped_file *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* /dev/null stands for "an empty file" in sev-snp-measure usage. */
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) {
		memset(ret, 0, sizeof(*ret));
		fill_id(&st, &ret->id);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	fill_id(&st, &ret->id);
	if (st.st_size > 0) {
		void *p =
		    mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | flags, fd, 0);
		if (p == MAP_FAILED) {
			r = -errno;
			goto out;
		}
		ret->data = p;
		ret->size = (size_t)st.st_size;
	}
out:
	close(fd);
	return r;
}

int coco_map_file(const char *path, size_t max, struct coco_mapped_file *ret)
{
	return map_file(path, max, MAP_POPULATE, ret);
}

int coco_map_file_lazy(const char *path, size_t max, struct coco_mapped_file *ret)
{
	return map_file(path, max, 0, ret);
}

void coco_map_populate(const struct coco_mapped_file *m)
{
#ifdef MADV_POPULATE_READ
	/* Best effort: an old kernel (EINVAL) leaves the pages to faults, with the same result. */
	if (m->data && m->size)
		(void)madvise((void *)m->data, m->size, MADV_POPULATE_READ);
#else
	(void)m;
#endif
}

void coco_unmap_file(struct coco_mapped_file *m)
{
	if (m->data && m->size)
		munmap((void *)m->data, m->size);
	m->data = NULL;
	m->size = 0;
}

int coco_sha256_file(const char *path, uint8_t out[32], struct coco_file_id *ret_id)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	uint8_t *buf = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || fstat(fd, &st) < 0) {
		r = ctx ? -errno : -ENOMEM;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) {
		r = -EINVAL;
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = malloc(READ_CHUNK);
	if (!buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		r = -EIO;
	if (ret_id)
		fill_id(&st, ret_id);
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

/* Hashed 1 KiB at a time, each step prefetching the cache lines one page (4 KiB) ahead of it:
 * without prefetching SHA-256 stalls on memory at every page of a page-cache stream (the
 * hardware prefetcher stops at page boundaries); prefetching a whole page in one burst at
 * 4 KiB steps overruns the line-fill buffers and stalls instead. 64 MiB, populated mapping,
 * one core: 4 KiB steps with a page burst 43 ms, 1 KiB steps 40 ms, in-cache (openssl speed
 * rate) 39.5 ms. A page ahead stays inside the fault-around window of a lazy mapping. */
#define STREAM_STEP 1024u
#define PREFETCH_AHEAD 4096u
#define CACHE_LINE 64u

/* How often the hashing thread reports progress to coco_sha256_join_releasing(). */
#define RELEASE_CHUNK (8u << 20)

static int sha256_stream(const uint8_t *data, size_t size, uint8_t out[32],
			 struct coco_hash_thread *t)
{
	/* SHA256_Init and friends (deprecated, still shipped by OpenSSL 3) run the same SHA-NI
	 * code as EVP without fetching from a provider: the critical-path thread does not wait
	 * for the library's first-use initialisation (config, providers: ~1 ms per process). */
	SHA256_CTX c;
	if (SHA256_Init(&c) != 1)
		return -EIO;
	for (size_t off = 0; off < size; off += STREAM_STEP) {
		size_t n = size - off < STREAM_STEP ? size - off : STREAM_STEP;
		if (size - off >= PREFETCH_AHEAD + STREAM_STEP)
			for (size_t l = 0; l < STREAM_STEP; l += CACHE_LINE)
				__builtin_prefetch(data + off + PREFETCH_AHEAD + l);
		SHA256_Update(&c, data + off, n);
		if (t && (off + n) % RELEASE_CHUNK == 0) {
			pthread_mutex_lock(&t->lock);
			t->progress = off + n;
			pthread_cond_signal(&t->cond);
			pthread_mutex_unlock(&t->lock);
		}
	}
	return SHA256_Final(out, &c) == 1 ? 0 : -EIO;
}

int coco_sha256_mapped(const uint8_t *data, size_t size, uint8_t out[32])
{
	return sha256_stream(data, size, out, NULL);
}

static void *hash_thread(void *arg)
{
	struct coco_hash_thread *t = arg;
	if (t->path)
		t->result = coco_sha256_file(t->path, t->digest, &t->id);
	else
		t->result = sha256_stream(t->data, t->size, t->digest, t);
	pthread_mutex_lock(&t->lock);
	t->finished = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int thread_start(struct coco_hash_thread *t)
{
	t->progress = 0;
	t->finished = 0;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->started = pthread_create(&t->tid, NULL, hash_thread, t) == 0;
	if (!t->started)
		hash_thread(t); /* no thread to be had: hash here */
	return 0;
}

int coco_sha256_file_start(struct coco_hash_thread *t, const char *path)
{
	t->path = path;
	t->data = NULL;
	t->size = 0;
	return thread_start(t);
}

int coco_sha256_mapped_start(struct coco_hash_thread *t, const struct coco_mapped_file *m)
{
	t->path = NULL;
	t->data = m->data;
	t->size = m->size;
	t->id = m->id;
	return thread_start(t);
}

int coco_sha256_file_join(struct coco_hash_thread *t)
{
	if (t->started) {
		pthread_join(t->tid, NULL);
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
	}
	t->started = 0;
	return t->result;
}

int coco_sha256_join_releasing(struct coco_hash_thread *t, struct coco_mapped_file *m)
{
	size_t released = 0;
	while (t->started && !t->path && m->data == t->data + released) {
		pthread_mutex_lock(&t->lock);
		while (!t->finished && t->progress - released < RELEASE_CHUNK)
			pthread_cond_wait(&t->cond, &t->lock);
		size_t upto = t->progress;
		int finished = t->finished;
		pthread_mutex_unlock(&t->lock);
		if (finished || upto <= released)
			break;
		/* Behind the reader, never again read: unmapping it here takes its share of
		 * the final teardown off the critical path. */
		if (munmap((void *)m->data, upto - released) < 0)
			break;
		m->data += upto - released;
		m->size -= upto - released;
		released = upto;
	}
	return coco_sha256_file_join(t);
}
