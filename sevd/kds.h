/* sevd/kds.h: the client of AMD's Key Distribution Service (KDS): URL building and a blocking,
 * bounded, coalescing fetch over libcurl. Meant to run on a worker thread.
 *
 * URL shapes, from AMD's "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
 * Specification" (57230) as the peer tools spell them (google/go-sev-guest kds/kds.go
 * VCEKCertQuery/ProductCertChainURL/tcbArgs at 130884d1; virtee/snpguest src/fetch.rs
 * request_vcek_kds at d3a2aed0):
 *   {base}/vcek/v1/{Milan|Genoa}/{128 hex}?blSPL=B&teeSPL=T&snpSPL=S&ucodeSPL=U
 *   {base}/vcek/v1/Turin/{16 hex}?fmcSPL=F&blSPL=B&teeSPL=T&snpSPL=S&ucodeSPL=U
 *   {base}/{vcek|vlek}/v1/{product}/cert_chain   (PEM: ASK or ASVK, then ARK)
 *   {base}/{vcek|vlek}/v1/{product}/crl          (DER CRL)
 * SPLs in decimal; hwid lowercase hex of CHIP_ID, Turin its first 8 bytes only.
 *
 * Library code: never logs; returns 0 or a negative errno and a one-line reason in err. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "coco/snp/product.h"

#define KDS_DEFAULT_BASE_URL "https://kdsintf.amd.com"
#define KDS_URL_MAX 512
#define KDS_CHIP_ID_SIZE 64
#define KDS_TURIN_HWID_SIZE 8

enum kds_key_type {
	KDS_KEY_VCEK,
	KDS_KEY_VLEK,
};

/* URL builders: pure. The base has no trailing '/' expected; one is tolerated and dropped.
 * -EINVAL: unknown product, empty base, fmc != 0 off Turin; -ENOBUFS: retlen too small
 * (ret untouched on failure). */
int kds_vcek_url(const char *base, enum snp_product product,
		 const uint8_t chip_id[KDS_CHIP_ID_SIZE], const struct snp_tcb *tcb, char *ret,
		 size_t retlen);
int kds_chain_url(const char *base, enum kds_key_type type, enum snp_product product, char *ret,
		  size_t retlen);
int kds_crl_url(const char *base, enum kds_key_type type, enum snp_product product, char *ret,
		size_t retlen);

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, relative to `now`. A date in
 * the past gives 0. -EINVAL: neither form. */
int kds_parse_retry_after(const char *value, time_t now, uint64_t *ret_seconds);

/* Checks a 200 body before it may be returned (DER/PEM parses, chain verifies, hwID/TCB equal
 * what was asked...). 0 accepts; negative errno rejects with a reason in err. */
typedef int (*kds_validate_fn)(void *ud, const uint8_t *body, size_t len, char *err,
			       size_t errlen);
/* Progress of retries ("KDS 429: retrying in 3 s (attempt 2/5)"); the caller logs it. */
typedef void (*kds_progress_fn)(void *ud, const char *msg);

struct kds_options {
	const char *base_url;	      /* copied; NULL: KDS_DEFAULT_BASE_URL */
	uint32_t connect_timeout_ms;  /* per attempt */
	uint32_t attempt_timeout_ms;  /* whole transfer of one attempt */
	uint32_t low_speed_bytes;     /* abort an attempt slower than this many bytes/s ... */
	uint32_t low_speed_time_s;    /* ... for this long (0: off) */
	size_t max_body;	      /* larger responses fail with -EFBIG */
	unsigned max_attempts;	      /* >= 1 */
	uint32_t total_timeout_ms;    /* all attempts and waits of one fetch */
	uint32_t backoff_base_ms;     /* full jitter: sleep uniform in [0, min(max, base*2^n)] */
	uint32_t backoff_max_ms;
	uint32_t retry_after_max_ms;  /* Retry-After is honoured up to this */
	kds_progress_fn progress;
	void *progress_ud;
	/* A TLS client certificate and its key (PEM files; both or neither; copied): what AMD's
	 * authenticated CSP interface (VLEK) requires. */
	const char *client_cert, *client_key;
};

/* Defaults: connect 10 s, attempt 30 s, low speed 64 B/s for 15 s, 64 KiB, 5 attempts in 120 s,
 * backoff 1 s .. 30 s, Retry-After capped at 60 s. */
void kds_options_default(struct kds_options *ret);

struct kds_client;

/* -EINVAL: options out of range (0 attempts, 0 timeouts, max_body 0 or above 16 MiB). */
int kds_client_new(const struct kds_options *opts, struct kds_client **ret);
/* No fetch may be running. */
void kds_client_free(struct kds_client *c);
/* Make running and later fetches end soon with -ECANCELED (shutdown): transfers abort, backoff
 * waits end. Irreversible. */
void kds_client_cancel(struct kds_client *c);
const char *kds_client_base_url(const struct kds_client *c);

/* GET url. On 200 the body goes through validate (required); only a body it accepts is
 * returned (ret_body malloc'd, caller frees). Concurrent calls for the same URL coalesce:
 * later callers wait for the one in flight and share its outcome (each still runs its own
 * validate over the shared body). Errors (ret_* untouched):
 *   -ENOENT 404, -EINVAL other 4xx (not retried), -EBADMSG validation failed (not retried),
 *   -EFBIG a 200 body above max_body (not retried), -EPROTO another status (1xx/3xx; redirects
 *   are not followed), -EAGAIN 429/503 still refused after the bounds, -EIO other 5xx or
 *   transport errors after the bounds, -ETIMEDOUT attempt timeouts after the bounds, -ECANCELED after kds_client_cancel(), -ENOMEM.
 * Retries stop at max_attempts, or as soon as the next wait would end past total_timeout_ms
 * (the error is then the last attempt's, its message naming the bound). */
int kds_fetch(struct kds_client *c, const char *url, kds_validate_fn validate, void *ud,
	      uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen);
