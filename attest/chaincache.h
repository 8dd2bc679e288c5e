/* attest/chaincache.h: the chain cache's internals, for snp_verify.c and tests (the public
 * part is in snp_verify.h). */
#pragma once
#include "attest/snp_verify.h"

#define SNP_CHAIN_KEY_SIZE 32

int snp_chain_key(enum snp_product product, X509 *ark, X509 *ask, X509 *vek,
		  X509 *const *trusted, size_t n_trusted, uint8_t ret[SNP_CHAIN_KEY_SIZE]);
/* A hit only when now lies in [from, until). */
bool snp_chain_cache_lookup(struct snp_chain_cache *c, const uint8_t key[SNP_CHAIN_KEY_SIZE],
			    time_t now);
void snp_chain_cache_insert(struct snp_chain_cache *c, const uint8_t key[SNP_CHAIN_KEY_SIZE],
			    time_t from, time_t until);
