/* The SNP measurement service: resolves image names inside the configured image directories,
 * and caches per firmware file the SNP chain after its pages (the "OVMF hash" prefix) and per
 * kernel/initrd file its SHA-256, keyed by (path, device, inode, size, mtime, ctime). A
 * re-measurement with another cmdline or vCPU count then costs a few dozen page folds. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "coco/snp/measure.h"

#define SEVD_FW_CACHE_ENTRIES 8      /* firmware copies kept (at most 256 MiB in all) */
#define SEVD_HASH_CACHE_ENTRIES 256  /* kernel/initrd SHA-256s */

struct sevd_measure_cache;

struct sevd_measure_req {
	enum snp_mode mode;
	const char *firmware, *kernel, *initrd, *svsm; /* names under an image dir; NULL: none */
	const char *cmdline;                            /* NULL: none */
	unsigned vcpus;
	uint64_t vcpu_sig;
	uint64_t guest_features;
	enum snp_vmm_type vmm;
	uint64_t vars_size;
};

struct sevd_measure_reply {
	uint8_t digest[48];
	size_t digest_len;
	unsigned pages;
	uint64_t elapsed_ns;
	bool firmware_cached, kernel_cached, initrd_cached;
};

int sevd_measure_cache_new(struct sevd_measure_cache **ret);
void sevd_measure_cache_free(struct sevd_measure_cache *c);
/* -ENOENT/-EACCES/-EINVAL with a message for bad names; -EINVAL for refused inputs. */
int sevd_measure(struct sevd_measure_cache *c, char *const *image_dirs, size_t n_dirs,
		 const struct sevd_measure_req *req, struct sevd_measure_reply *reply, char *err,
		 size_t errlen);
/* SHA-256 of a resolved kernel/initrd path through the cache (the same entries sevd_measure
 * uses): what a launch's kernel-hashes page needs, without hashing the file again. */
int sevd_measure_file_sha256(struct sevd_measure_cache *c, const char *path, uint8_t out[32],
			     bool *ret_cached);
/* Resolve `name` inside one of the directories (no "..", symlinks may not escape). */
int sevd_resolve_image(char *const *dirs, size_t n_dirs, const char *name, char out[PATH_MAX],
		       char *err, size_t errlen);
