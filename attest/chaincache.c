/* attest/chaincache.c: verified AMD chains by fingerprints (snp_verify.h), so that a stream of
 * reports from one platform costs one ECDSA verify each. */
#include <openssl/evp.h>
#include <pthread.h>

#include "attest/chaincache.h"
#include "coco/snp/amdcert.h"
#include "coco/util.h"

struct entry {
	uint8_t key[SNP_CHAIN_KEY_SIZE];
	time_t from, until;
	uint64_t used;
	bool live;
};

struct snp_chain_cache {
	pthread_mutex_t lock;
	size_t capacity;
	uint64_t clock, hits, misses;
	struct entry *e;
};

struct snp_chain_cache *snp_chain_cache_new(size_t capacity)
{
	if (capacity == 0 || capacity > 65536)
		return NULL;
	struct snp_chain_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(capacity, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void snp_chain_cache_free(struct snp_chain_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}

void snp_chain_cache_stats(struct snp_chain_cache *c, uint64_t *ret_hits, uint64_t *ret_misses,
			   size_t *ret_entries)
{
	pthread_mutex_lock(&c->lock);
	size_t n = 0;
	for (size_t i = 0; i < c->capacity; i++)
		n += c->e[i].live;
	if (ret_hits)
		*ret_hits = c->hits;
	if (ret_misses)
		*ret_misses = c->misses;
	if (ret_entries)
		*ret_entries = n;
	pthread_mutex_unlock(&c->lock);
}

int snp_chain_key(enum snp_product product, X509 *ark, X509 *ask, X509 *vek,
		  X509 *const *trusted, size_t n_trusted, uint8_t ret[SNP_CHAIN_KEY_SIZE])
{
	uint8_t fp[AMD_FINGERPRINT_SIZE];
	X509 *const chain[] = {ark, ask, vek};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t p = (uint8_t)product;
	int r = -ENOMEM;
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, &p, 1) != 1)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(chain); i++)
		if ((r = amd_cert_fingerprint(chain[i], fp)) < 0 ||
		    EVP_DigestUpdate(md, fp, sizeof(fp)) != 1)
			goto out;
	for (size_t i = 0; i < n_trusted; i++)
		if ((r = amd_cert_fingerprint(trusted[i], fp)) < 0 ||
		    EVP_DigestUpdate(md, fp, sizeof(fp)) != 1)
			goto out;
	r = EVP_DigestFinal_ex(md, ret, NULL) == 1 ? 0 : -EIO;
out:
	EVP_MD_CTX_free(md);
	return r < 0 ? r : 0;
}

bool snp_chain_cache_lookup(struct snp_chain_cache *c, const uint8_t key[SNP_CHAIN_KEY_SIZE],
			    time_t now)
{
	bool hit = false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->capacity; i++) {
		struct entry *e = &c->e[i];
		if (e->live && memcmp(e->key, key, SNP_CHAIN_KEY_SIZE) == 0) {
			hit = now >= e->from && now < e->until;
			if (hit)
				e->used = ++c->clock;
			break;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void snp_chain_cache_insert(struct snp_chain_cache *c, const uint8_t key[SNP_CHAIN_KEY_SIZE],
			    time_t from, time_t until)
{
	pthread_mutex_lock(&c->lock);
	struct entry *slot = NULL;
	for (size_t i = 0; i < c->capacity && !slot; i++)
		if (c->e[i].live && memcmp(c->e[i].key, key, SNP_CHAIN_KEY_SIZE) == 0)
			slot = &c->e[i];
	for (size_t i = 0; i < c->capacity && !slot; i++)
		if (!c->e[i].live)
			slot = &c->e[i];
	if (!slot) {
		slot = &c->e[0];
		for (size_t i = 1; i < c->capacity; i++)
			if (c->e[i].used < slot->used)
				slot = &c->e[i];
	}
	memcpy(slot->key, key, SNP_CHAIN_KEY_SIZE);
	slot->from = from;
	slot->until = until;
	slot->used = ++c->clock;
	slot->live = true;
	pthread_mutex_unlock(&c->lock);
}
