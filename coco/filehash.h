/* Whole-file SHA-256 (kernels, initrds) and file mapping for firmware images, with the
 * file's identity so that callers can cache by (device, inode, size, mtime, ctime). */
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct coco_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns, ctime_ns;
};

struct coco_mapped_file {
	const uint8_t *data;
	size_t size;
	struct coco_file_id id;
};

/* The identity of a regular file by path (-EINVAL for anything else). */
int coco_file_id_get(const char *path, struct coco_file_id *ret);
/* Map a regular file read-only (at most max bytes; an empty file maps to size 0). */
int coco_map_file(const char *path, size_t max, struct coco_mapped_file *ret);
/* The same without reading the pages in: faults (or coco_map_populate) bring them. */
int coco_map_file_lazy(const char *path, size_t max, struct coco_mapped_file *ret);
/* Fault a mapping's pages in now (best effort), e.g. on another thread than the one that will
 * read them, so that the reader takes no page faults. */
void coco_map_populate(const struct coco_mapped_file *m);
void coco_unmap_file(struct coco_mapped_file *m);
/* SHA-256 of a file's whole contents, read in large chunks. */
int coco_sha256_file(const char *path, uint8_t out[32], struct coco_file_id *ret_id);

/* SHA-256 of mapped bytes (a coco_map_file_lazy() mapping: no copy, next page prefetched).
 * A file truncated under the mapping raises SIGBUS: for a CLI, not for the daemon. */
int coco_sha256_mapped(const uint8_t *data, size_t size, uint8_t out[32]);

/* The same on a thread of its own: start, then join for the result. */
struct coco_hash_thread {
	pthread_t tid;
	const char *path; /* coco_sha256_file_start; NULL: data, size */
	const uint8_t *data;
	size_t size;
	uint8_t digest[32];
	struct coco_file_id id;
	int result;
	int started;
	/* Progress of a mapped stream, for coco_sha256_join_releasing(). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t progress;
	int finished;
};
int coco_sha256_file_start(struct coco_hash_thread *t, const char *path);
int coco_sha256_mapped_start(struct coco_hash_thread *t, const struct coco_mapped_file *m);
int coco_sha256_file_join(struct coco_hash_thread *t);
/* Join a coco_sha256_mapped_start() thread over m, unmapping m's pages behind the hash as it
 * goes (m then covers only the rest: coco_unmap_file(m) after this is right). For a caller
 * with nothing else to do but wait: the unmapping is done on its CPU, not at the end. */
int coco_sha256_join_releasing(struct coco_hash_thread *t, struct coco_mapped_file *m);
