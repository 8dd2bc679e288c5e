/* tests/kds_mock.h: a mock AMD KDS for tests: a libmicrohttpd server on 127.0.0.1 (ephemeral
 * port) answering from the emulated KDS (hv/emul/amdpki.h emul_kds_get), scriptable per
 * request. Thread-safe; kds_mock_stop() waits for every connection. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hv/emul/amdpki.h"

enum kds_mock_kind {
	KDS_MOCK_SERVE,	     /* the emulated KDS's answer (after delay_ms) */
	KDS_MOCK_STATUS,     /* `status` with a short text body and optional Retry-After */
	KDS_MOCK_TRUNCATE,   /* a 200 with the first half of the real body */
	KDS_MOCK_GARBAGE,    /* a 200 with bytes that are no certificate */
	KDS_MOCK_OTHER_HWID, /* the VCEK for another hwid (the asked one with its first byte flipped) */
};

struct kds_mock_action {
	enum kds_mock_kind kind;
	int status;		  /* KDS_MOCK_STATUS */
	const char *retry_after;  /* KDS_MOCK_STATUS: header value, NULL for none (copied) */
	unsigned delay_ms;	  /* any kind: wait this long before answering (bounded 10 s) */
};

struct kds_mock;

/* pki is borrowed and must outlive the mock. */
int kds_mock_start(struct emul_amd_pki *pki, struct kds_mock **ret);
void kds_mock_stop(struct kds_mock *m);
/* "http://127.0.0.1:<port>" */
const char *kds_mock_base_url(const struct kds_mock *m);
/* Queue actions: request i (from now on) gets action i; once the queue is empty, requests are
 * served normally. -ENOSPC beyond 64 queued actions. */
int kds_mock_push(struct kds_mock *m, const struct kds_mock_action *a);
/* Push `count` copies. */
int kds_mock_push_n(struct kds_mock *m, const struct kds_mock_action *a, unsigned count);
/* Requests seen since start. */
unsigned kds_mock_requests(struct kds_mock *m);
/* The path (with query) of the last request, copied into out. */
void kds_mock_last_path(struct kds_mock *m, char *out, size_t n);

/* The emulated AMD PKI of Milan, Genoa and Turin (indexed by enum snp_product), opened from a
 * key cache directory, shared by the tests that run a mock KDS; and one TCB per product they
 * ask for. kds_test_pkis_open aborts when a PKI cannot be opened. */
extern struct emul_amd_pki *kds_test_pkis[4];
void kds_test_pkis_open(const char *dir);
void kds_test_pkis_close(void);
const struct snp_tcb *kds_test_tcb(enum snp_product p);
