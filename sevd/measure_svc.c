#include "sevd/measure_svc.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coco/filehash.h"
#include "coco/util.h"

#define FW_MAX_BYTES (64ull << 20)
/* Firmware is copied, not mapped: an image truncated under a mapping would SIGBUS the daemon. */
#define FW_CACHE_BYTES (256ull << 20)

struct fw_entry {
	char path[PATH_MAX];
	struct coco_file_id id;
	uint8_t *data;
	size_t size;
	uint8_t prefix[48]; /* SNP chain after the firmware pages */
	bool prefix_ok;
	uint64_t used, load;
};

/* Later stages of the SNP chain, per loaded firmware (load): the chain before the VMSAs for a
 * (VMM, kernel hashes), and the two VMSA page hashes for a (VMM, features, signature). */
#define STAGE_ENTRIES 64
struct stage_entry {
	uint64_t load, used;
	uint8_t key[128];
	uint8_t value[96];
};

struct hash_entry {
	char path[PATH_MAX];
	struct coco_file_id id;
	uint8_t sha256[32];
	uint64_t used;
};

struct sevd_measure_cache {
	struct fw_entry fw[SEVD_FW_CACHE_ENTRIES];
	struct hash_entry *hashes; /* SEVD_HASH_CACHE_ENTRIES */
	uint64_t clock;
	size_t fw_bytes; /* sum of the cached firmware copies */
	struct stage_entry pre_vmsa[STAGE_ENTRIES], vmsa[STAGE_ENTRIES];
};

int sevd_measure_cache_new(struct sevd_measure_cache **ret)
{
	struct sevd_measure_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->hashes = calloc(SEVD_HASH_CACHE_ENTRIES, sizeof(*c->hashes));
	if (!c->hashes) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void sevd_measure_cache_free(struct sevd_measure_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < SEVD_FW_CACHE_ENTRIES; i++)
		free(c->fw[i].data);
	free(c->hashes);
	free(c);
}

int sevd_resolve_image(char *const *dirs, size_t n_dirs, const char *name, char out[PATH_MAX],
		       char *err, size_t errlen)
{
	if (n_dirs == 0)
		return set_error(err, errlen, -EACCES,
				 "no image_dir is configured: API requests cannot name files");
	if (!*name || strlen(name) >= PATH_MAX - 1)
		return set_error(err, errlen, -EINVAL, "empty or overlong file name");
	/* ".." never: names are relative to an image directory, or absolute inside one. */
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return set_error(err, errlen, -EACCES, "'%.200s': '..' is not allowed",
					 name);
		p += l + (p[l] == '/');
	}
	for (size_t i = 0; i < n_dirs; i++) {
		char dir[PATH_MAX], cand[PATH_MAX * 2], real[PATH_MAX];
		if (!realpath(dirs[i], dir))
			continue;
		if (name[0] == '/')
			snprintf(cand, sizeof(cand), "%s", name);
		else
			snprintf(cand, sizeof(cand), "%s/%s", dir, name);
		if (!realpath(cand, real))
			continue;
		size_t dl = strlen(dir);
		/* Symlinks are followed, but the target must still be inside the directory. */
		if (strncmp(real, dir, dl) == 0 && (real[dl] == '/' || dl == 1)) {
			memcpy(out, real, strlen(real) + 1);
			return 0;
		}
	}
	return set_error(err, errlen, -ENOENT, "'%.200s' is not a file in any image_dir", name);
}

static bool id_eq(const struct coco_file_id *a, const struct coco_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* SHA-256 of a kernel/initrd, from the cache when the file is unchanged. */
static int file_sha256(struct sevd_measure_cache *c, const char *path, uint8_t out[32],
		       bool *cached)
{
	struct coco_file_id id;
	int r = coco_file_id_get(path, &id);
	if (r < 0)
		return r;
	struct hash_entry *victim = &c->hashes[0];
	for (size_t i = 0; i < SEVD_HASH_CACHE_ENTRIES; i++) {
		struct hash_entry *e = &c->hashes[i];
		if (e->used && strcmp(e->path, path) == 0 && id_eq(&e->id, &id)) {
			e->used = ++c->clock;
			memcpy(out, e->sha256, 32);
			*cached = true;
			return 0;
		}
		if (e->used < victim->used)
			victim = e;
	}
	struct coco_file_id hashed;
	if ((r = coco_sha256_file(path, out, &hashed)) < 0)
		return r;
	*cached = false;
	/* Cache only if the file did not change while it was read. */
	if (id_eq(&hashed, &id)) {
		snprintf(victim->path, sizeof(victim->path), "%s", path);
		victim->id = id;
		memcpy(victim->sha256, out, 32);
		victim->used = ++c->clock;
	}
	return 0;
}

int sevd_measure_file_sha256(struct sevd_measure_cache *c, const char *path, uint8_t out[32],
			     bool *ret_cached)
{
	bool cached = false;
	int r = file_sha256(c, path, out, &cached);
	if (r == 0 && ret_cached)
		*ret_cached = cached;
	return r;
}

static void fw_evict(struct sevd_measure_cache *c, struct fw_entry *e)
{
	c->fw_bytes -= e->size;
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static struct fw_entry *firmware(struct sevd_measure_cache *c, const char *path, bool *cached,
				 int *ret_err)
{
	struct coco_file_id id, after;
	int r = coco_file_id_get(path, &id);
	if (r < 0) {
		*ret_err = r;
		return NULL;
	}
	struct fw_entry *victim = &c->fw[0];
	for (size_t i = 0; i < SEVD_FW_CACHE_ENTRIES; i++) {
		struct fw_entry *e = &c->fw[i];
		if (e->used && strcmp(e->path, path) == 0 && id_eq(&e->id, &id)) {
			e->used = ++c->clock;
			*cached = true;
			return e;
		}
		if (e->used < victim->used)
			victim = e;
	}
	if ((uint64_t)id.size > FW_MAX_BYTES) {
		*ret_err = -EFBIG;
		return NULL;
	}
	char *buf;
	size_t len;
	if ((r = read_file_max(path, FW_MAX_BYTES, &buf, &len)) < 0) {
		*ret_err = r;
		return NULL;
	}
	/* Replaced while read: refuse rather than measure a mix of two files. */
	if (coco_file_id_get(path, &after) < 0 || !id_eq(&id, &after) || (off_t)len != id.size) {
		free(buf);
		*ret_err = -EAGAIN;
		return NULL;
	}
	fw_evict(c, victim);
	/* Keep the copies within budget: drop least recently used ones. */
	while (c->fw_bytes + len > FW_CACHE_BYTES) {
		struct fw_entry *lru = NULL;
		for (size_t i = 0; i < SEVD_FW_CACHE_ENTRIES; i++)
			if (c->fw[i].used && (!lru || c->fw[i].used < lru->used))
				lru = &c->fw[i];
		if (!lru)
			break;
		fw_evict(c, lru);
	}
	snprintf(victim->path, sizeof(victim->path), "%s", path);
	victim->id = id;
	victim->data = (uint8_t *)buf;
	victim->size = len;
	victim->used = victim->load = ++c->clock;
	c->fw_bytes += len;
	*cached = false;
	return victim;
}

static struct stage_entry *stage_find(struct sevd_measure_cache *c, struct stage_entry *tab,
				      uint64_t load, const uint8_t key[128])
{
	for (size_t i = 0; i < STAGE_ENTRIES; i++)
		if (tab[i].used && tab[i].load == load && memcmp(tab[i].key, key, 128) == 0) {
			tab[i].used = ++c->clock;
			return &tab[i];
		}
	return NULL;
}

static void stage_put(struct sevd_measure_cache *c, struct stage_entry *tab, uint64_t load,
		      const uint8_t key[128], const uint8_t *value, size_t n)
{
	struct stage_entry *v = &tab[0];
	for (size_t i = 1; i < STAGE_ENTRIES; i++)
		if (tab[i].used < v->used)
			v = &tab[i];
	v->load = load;
	v->used = ++c->clock;
	memcpy(v->key, key, 128);
	memcpy(v->value, value, n);
}

int sevd_measure(struct sevd_measure_cache *c, char *const *image_dirs, size_t n_dirs,
		 const struct sevd_measure_req *req, struct sevd_measure_reply *reply, char *err,
		 size_t errlen)
{
	uint64_t t0 = now_ns();
	memset(reply, 0, sizeof(*reply));
	char fw_path[PATH_MAX], k_path[PATH_MAX], i_path[PATH_MAX], s_path[PATH_MAX];
	int r;
	if (!req->firmware)
		return set_error(err, errlen, -EINVAL, "firmware is required");
	if ((r = sevd_resolve_image(image_dirs, n_dirs, req->firmware, fw_path, err, errlen)) < 0)
		return r;
	/* An empty command line without a kernel means nothing, as with --append "". */
	if ((req->initrd || (req->cmdline && *req->cmdline)) && !req->kernel &&
	    req->mode != SNP_MODE_OVMF_HASH)
		return set_error(err, errlen, -EINVAL, "initrd and cmdline need a kernel");
	struct snp_measure_input in = {
	    .mode = req->mode,
	    .vcpus = req->vcpus,
	    .vcpu_sig = req->vcpu_sig,
	    .guest_features = req->mode == SNP_MODE_SEVES ? 0 : req->guest_features,
	    .vmm = req->vmm,
	    .vars_size = req->vars_size,
	    .threads = 0,
	};
	if (req->kernel && req->mode != SNP_MODE_OVMF_HASH) {
		if ((r = sevd_resolve_image(image_dirs, n_dirs, req->kernel, k_path, err, errlen)) <
		    0)
			return r;
		if ((r = file_sha256(c, k_path, in.hashes.kernel, &reply->kernel_cached)) < 0)
			return set_error(err, errlen, r, "kernel %s: %s", req->kernel,
					 strerror(-r));
		if (req->initrd) {
			if ((r = sevd_resolve_image(image_dirs, n_dirs, req->initrd, i_path, err,
						    errlen)) < 0)
				return r;
			if ((r = file_sha256(c, i_path, in.hashes.initrd, &reply->initrd_cached)) <
			    0)
				return set_error(err, errlen, r, "initrd %s: %s", req->initrd,
						 strerror(-r));
		} else {
			SHA256((const uint8_t *)"", 0, in.hashes.initrd);
		}
		snp_hash_cmdline(req->cmdline, in.hashes.cmdline);
		in.kernel = true;
	}
	struct fw_entry *fw = firmware(c, fw_path, &reply->firmware_cached, &r);
	if (!fw)
		return set_error(err, errlen, r, "firmware %s: %s", req->firmware, strerror(-r));
	in.ovmf = fw->data;
	in.ovmf_size = fw->size;
	char *svsm = NULL;
	size_t svsm_len = 0;
	if (req->mode == SNP_MODE_SVSM) {
		if (!req->svsm)
			return set_error(err, errlen, -EINVAL, "snp:svsm needs svsm");
		if ((r = sevd_resolve_image(image_dirs, n_dirs, req->svsm, s_path, err, errlen)) <
		    0)
			return r;
		if ((r = read_file_max(s_path, FW_MAX_BYTES, &svsm, &svsm_len)) < 0)
			return set_error(err, errlen, r, "svsm %s: %s", req->svsm, strerror(-r));
		in.svsm = (const uint8_t *)svsm;
		in.svsm_size = svsm_len;
	}
	bool snp_chain = req->mode == SNP_MODE_SNP || req->mode == SNP_MODE_SVSM ||
			 req->mode == SNP_MODE_OVMF_HASH;
	if (snp_chain && !fw->prefix_ok) {
		struct snp_measure_input p = {.ovmf = in.ovmf, .ovmf_size = in.ovmf_size};
		if ((r = snp_measure_prefix(&p, fw->prefix, err, errlen)) < 0) {
			free(svsm);
			return r;
		}
		fw->prefix_ok = true;
	}
	struct snp_measure_result res;
	if (req->mode == SNP_MODE_OVMF_HASH) {
		memcpy(res.digest, fw->prefix, 48);
		res.digest_len = 48;
		res.pages = (unsigned)(in.ovmf_size / SNP_PAGE_SIZE);
	} else {
		if (snp_chain)
			in.seed = fw->prefix;
		/* Stage keys: everything each stage depends on besides the firmware load. */
		uint8_t pre_key[128] = {0}, vmsa_key[128] = {0};
		struct stage_entry *pre = NULL, *vm = NULL;
		if (req->mode == SNP_MODE_SNP) {
			pre_key[0] = (uint8_t)in.vmm;
			pre_key[1] = in.kernel;
			if (in.kernel)
				memcpy(pre_key + 8, &in.hashes, sizeof(in.hashes));
			vmsa_key[0] = (uint8_t)in.vmm;
			memcpy(vmsa_key + 8, &in.guest_features, 8);
			memcpy(vmsa_key + 16, &in.vcpu_sig, 8);
			if ((pre = stage_find(c, c->pre_vmsa, fw->load, pre_key)))
				in.pre_vmsa = pre->value;
			if ((vm = stage_find(c, c->vmsa, fw->load, vmsa_key)))
				in.vmsa_hashes = vm->value;
		}
		r = snp_measure(&in, &res, err, errlen);
		free(svsm);
		if (r < 0)
			return r;
		if (req->mode == SNP_MODE_SNP) {
			if (!pre)
				stage_put(c, c->pre_vmsa, fw->load, pre_key, res.pre_vmsa, 48);
			if (!vm)
				stage_put(c, c->vmsa, fw->load, vmsa_key, res.vmsa_hashes, 96);
		}
	}
	memcpy(reply->digest, res.digest, res.digest_len);
	reply->digest_len = res.digest_len;
	reply->pages = res.pages;
	reply->elapsed_ns = now_ns() - t0;
	return 0;
}
