/* sevd/kds.c: AMD KDS client. URL shapes and sources: see kds.h. */
#include "sevd/kds.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/random.h>

#include "coco/util.h"

#define KDS_INFLIGHT_MAX 64
#define KDS_BODY_HARD_MAX (16u << 20)
#define KDS_ERR_MAX 512
/* A waiter gives up this long after the leader's own bound (it cannot outlive it otherwise). */
#define KDS_WAITER_SLACK_MS 5000

/* ---- URLs ---------------------------------------------------------------------------------- */

static int base_len(const char *base, size_t *ret)
{
	if (!base || !*base)
		return -EINVAL;
	size_t n = strlen(base);
	if (n > 1 && base[n - 1] == '/')
		n--;
	*ret = n;
	return 0;
}

/* snprintf into ret only when the whole URL fits. */
static int url_format(char *ret, size_t retlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int url_format(char *ret, size_t retlen, const char *fmt, ...)
{
	char buf[KDS_URL_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n >= retlen)
		return -ENOBUFS;
	memcpy(ret, buf, (size_t)n + 1);
	return 0;
}

int kds_vcek_url(const char *base, enum snp_product product,
		 const uint8_t chip_id[KDS_CHIP_ID_SIZE], const struct snp_tcb *tcb, char *ret,
		 size_t retlen)
{
	const char *name = snp_product_name(product);
	size_t bl;
	if (!name || !chip_id || !tcb || !ret || base_len(base, &bl) < 0)
		return -EINVAL;
	char hwid[2 * KDS_CHIP_ID_SIZE + 1];
	if (product == SNP_PRODUCT_TURIN) {
		/* Turin's hwID is the first 8 bytes of CHIP_ID (go-sev-guest TurinHWIDSize). */
		hex_encode(chip_id, KDS_TURIN_HWID_SIZE, hwid);
		return url_format(ret, retlen,
				  "%.*s/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
				  (int)bl, base, name, hwid, tcb->fmc, tcb->bootloader, tcb->tee,
				  tcb->snp, tcb->microcode);
	}
	if (tcb->fmc != 0)
		return -EINVAL;
	hex_encode(chip_id, KDS_CHIP_ID_SIZE, hwid);
	return url_format(ret, retlen, "%.*s/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
			  (int)bl, base, name, hwid, tcb->bootloader, tcb->tee, tcb->snp,
			  tcb->microcode);
}

static int product_url(const char *base, enum kds_key_type type, enum snp_product product,
		       const char *leaf, char *ret, size_t retlen)
{
	const char *name = snp_product_name(product);
	size_t bl;
	if (!name || !ret || base_len(base, &bl) < 0 ||
	    (type != KDS_KEY_VCEK && type != KDS_KEY_VLEK))
		return -EINVAL;
	return url_format(ret, retlen, "%.*s/%s/v1/%s/%s", (int)bl, base,
			  type == KDS_KEY_VLEK ? "vlek" : "vcek", name, leaf);
}

int kds_chain_url(const char *base, enum kds_key_type type, enum snp_product product, char *ret,
		  size_t retlen)
{
	return product_url(base, type, product, "cert_chain", ret, retlen);
}

int kds_crl_url(const char *base, enum kds_key_type type, enum snp_product product, char *ret,
		size_t retlen)
{
	return product_url(base, type, product, "crl", ret, retlen);
}

int kds_parse_retry_after(const char *value, time_t now, uint64_t *ret_seconds)
{
	if (!value)
		return -EINVAL;
	char buf[128];
	size_t n = strlen(value);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, n + 1);
	char *v = str_strip(buf);
	if (!*v)
		return -EINVAL;
	if (isdigit((unsigned char)*v)) {
		uint64_t s;
		/* delay-seconds = 1*DIGIT; clamp absurd values rather than refuse them. */
		int r = parse_uint(v, UINT32_MAX, &s);
		if (r == -ERANGE)
			s = UINT32_MAX;
		else if (r < 0)
			return -EINVAL;
		*ret_seconds = s;
		return 0;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_seconds = t > now ? (uint64_t)(t - now) : 0;
	return 0;
}

/* ---- client -------------------------------------------------------------------------------- */

struct inflight {
	char *url;
	unsigned refs;
	bool done;
	int r;
	uint8_t *body;
	size_t len;
	char err[KDS_ERR_MAX];
};

struct kds_client {
	struct kds_options o;
	char *base;
	char *client_cert, *client_key;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct inflight *inflight[KDS_INFLIGHT_MAX];
	bool cancelled; /* under lock; also read unlocked (atomically) by transfers */
};

static bool cancelled(struct kds_client *c)
{
	return __atomic_load_n(&c->cancelled, __ATOMIC_ACQUIRE);
}

void kds_client_cancel(struct kds_client *c)
{
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->cancelled, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return cancelled(ud) ? 1 : 0; /* nonzero aborts the transfer */
}

void kds_options_default(struct kds_options *ret)
{
	*ret = (struct kds_options){
		.base_url = NULL,
		.connect_timeout_ms = 10000,
		.attempt_timeout_ms = 30000,
		.low_speed_bytes = 64,
		.low_speed_time_s = 15,
		.max_body = 64 * 1024,
		.max_attempts = 5,
		.total_timeout_ms = 120000,
		.backoff_base_ms = 1000,
		.backoff_max_ms = 30000,
		.retry_after_max_ms = 60000,
	};
}

int kds_client_new(const struct kds_options *opts, struct kds_client **ret)
{
	if (!opts || !ret || !opts->client_cert != !opts->client_key ||
	    opts->max_attempts == 0 || opts->max_attempts > 100 ||
	    opts->connect_timeout_ms == 0 || opts->attempt_timeout_ms == 0 ||
	    opts->total_timeout_ms == 0 || opts->max_body == 0 ||
	    opts->max_body > KDS_BODY_HARD_MAX || opts->backoff_max_ms < opts->backoff_base_ms)
		return -EINVAL;
	const char *base = opts->base_url ? opts->base_url : KDS_DEFAULT_BASE_URL;
	size_t bl;
	if (base_len(base, &bl) < 0 || bl >= KDS_URL_MAX / 2)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	struct kds_client *c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	c->o = *opts;
	c->base = strndup(base, bl);
	if (opts->client_cert) {
		c->client_cert = strdup(opts->client_cert);
		c->client_key = strdup(opts->client_key);
	}
	c->o.client_cert = c->client_cert;
	c->o.client_key = c->client_key;
	pthread_condattr_t ca;
	int ok = c->base && (!opts->client_cert || (c->client_cert && c->client_key)) &&
		 pthread_condattr_init(&ca) == 0;
	if (ok) {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		     pthread_cond_init(&c->cond, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!ok) {
		free(c->base);
		free(c->client_cert);
		free(c->client_key);
		free(c);
		curl_global_cleanup();
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->o.base_url = c->base;
	*ret = c;
	return 0;
}

void kds_client_free(struct kds_client *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->base);
	free(c->client_cert);
	free(c->client_key);
	free(c);
	curl_global_cleanup();
}

const char *kds_client_base_url(const struct kds_client *c)
{
	return c->base;
}

/* ---- one attempt --------------------------------------------------------------------------- */

struct attempt {
	uint8_t *body;
	size_t len, max;
	bool too_big;
	bool has_retry_after;
	char retry_after[64];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct attempt *a = ud;
	size_t n = size * nmemb;
	if (n > a->max - a->len) {
		a->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	memcpy(a->body + a->len, p, n);
	a->len += n;
	return n;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
	struct attempt *a = ud;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) /* a new response (after 1xx): forget */
		a->has_retry_after = false;
	else if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		size_t vl = n - (sizeof(name) - 1);
		if (vl < sizeof(a->retry_after)) {
			memcpy(a->retry_after, p + sizeof(name) - 1, vl);
			a->retry_after[vl] = 0;
			a->has_retry_after = true;
		}
	}
	return n;
}

/* Runs one GET. Returns the CURLcode; *ret_status the HTTP status (0 when none). */
static CURLcode attempt_run(struct kds_client *c, const char *url, uint32_t timeout_ms,
			    struct attempt *a, long *ret_status, char *curlerr)
{
	const struct kds_options *o = &c->o;
	CURL *h = curl_easy_init();
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	uint32_t connect = o->connect_timeout_ms < timeout_ms ? o->connect_timeout_ms : timeout_ms;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (o->low_speed_time_s) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_bytes);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_time_s);
	}
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cocod-kds/1");
	if (o->client_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, o->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY, o->client_key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curlerr[0] = 0;
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	*ret_status = status;
	curl_easy_cleanup(h);
	return cc;
}

/* ---- retries ------------------------------------------------------------------------------- */

static uint64_t random_u64(void)
{
	uint64_t x;
	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
		x = now_ns() * 0x9e3779b97f4a7c15ull;
	return x;
}

/* Full jitter (uniform in [0, min(max, base * 2^(n-1))]) for the n-th retry. */
static uint64_t backoff_ms(const struct kds_options *o, unsigned n)
{
	uint64_t cap = o->backoff_base_ms;
	for (unsigned i = 1; i < n && cap < o->backoff_max_ms; i++)
		cap *= 2;
	if (cap > o->backoff_max_ms)
		cap = o->backoff_max_ms;
	return cap ? random_u64() % (cap + 1) : 0;
}

/* Sleep ms, or less when the client is cancelled (-ECANCELED). */
static int wait_ms(struct kds_client *c, uint64_t ms)
{
	struct timespec until; /* c->cond runs on CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &until);
	uint64_t ns = (uint64_t)until.tv_nsec + (ms % 1000) * 1000000ull;
	until.tv_sec += (time_t)(ms / 1000 + ns / 1000000000ull);
	until.tv_nsec = (long)(ns % 1000000000ull);
	pthread_mutex_lock(&c->lock);
	int w = 0;
	while (!c->cancelled && w != ETIMEDOUT)
		w = pthread_cond_timedwait(&c->cond, &c->lock, &until);
	bool cxl = c->cancelled;
	pthread_mutex_unlock(&c->lock);
	return cxl ? -ECANCELED : 0;
}

static void fmt_delay(uint64_t ms, char *out, size_t n)
{
	if (ms >= 1000 && ms % 1000 == 0)
		snprintf(out, n, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(out, n, "%llu ms", (unsigned long long)ms);
}

/* A short printable excerpt of an error body (KDS answers errors with one text/plain line). */
static void body_excerpt(const struct attempt *a, char *out, size_t n)
{
	size_t j = 0;
	if (n < 4) {
		if (n)
			out[0] = 0;
		return;
	}
	for (size_t i = 0; i < a->len && j + 1 < n && j < 80; i++) {
		unsigned char ch = a->body[i];
		if (ch == '\n' || ch == '\r')
			break;
		out[j++] = isprint(ch) ? (char)ch : '?';
	}
	out[j] = 0;
}

static const char *status_reason(long s)
{
	switch (s) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not found";
	case 429: return "too many requests";
	case 500: return "internal server error";
	case 502: return "bad gateway";
	case 503: return "service unavailable";
	case 504: return "gateway timeout";
	default: return "unexpected status";
	}
}

static void progress(const struct kds_options *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void progress(const struct kds_options *o, const char *fmt, ...)
{
	if (!o->progress)
		return;
	char msg[KDS_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->progress(o->progress_ud, msg);
}

/* The fetch without coalescing: attempts, waits and validation, all bounded. */
static int fetch_uncoalesced(struct kds_client *c, const char *url, kds_validate_fn validate,
			     void *ud, uint8_t **ret_body, size_t *ret_len, char *err,
			     size_t errlen)
{
	const struct kds_options *o = &c->o;
	uint64_t start = now_ns();
	uint64_t deadline = start + (uint64_t)o->total_timeout_ms * 1000000ull;
	struct attempt a = {.max = o->max_body};
	_cleanup_free_ uint8_t *buf = malloc(o->max_body);
	if (!buf)
		return set_error(err, errlen, -ENOMEM, "KDS: out of memory");
	a.body = buf;
	char what[KDS_ERR_MAX];

	for (unsigned n = 1;; n++) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return set_error(err, errlen, -ETIMEDOUT,
					 "KDS %s: total time bound of %u ms reached", url,
					 o->total_timeout_ms);
		uint64_t left_ms = (deadline - now + 999999) / 1000000;
		uint32_t tmo = o->attempt_timeout_ms < left_ms ? o->attempt_timeout_ms
							       : (uint32_t)left_ms;
		a.len = 0;
		a.too_big = false;
		a.has_retry_after = false;
		char curlerr[CURL_ERROR_SIZE];
		long status = 0;
		if (cancelled(c))
			return set_error(err, errlen, -ECANCELED, "KDS %s: cancelled (shutting down)",
					 url);
		CURLcode cc = attempt_run(c, url, tmo, &a, &status, curlerr);
		if (cc == CURLE_ABORTED_BY_CALLBACK)
			return set_error(err, errlen, -ECANCELED, "KDS %s: cancelled (shutting down)",
					 url);

		int r;
		bool retry_after_applies = false;
		if (cc == CURLE_OUT_OF_MEMORY)
			return set_error(err, errlen, -ENOMEM, "KDS: out of memory");
		/* An oversized certificate is refused; an oversized error page (a proxy's 503)
		 * still counts as its status. */
		bool oversized = a.too_big || cc == CURLE_FILESIZE_EXCEEDED;
		if (oversized && (status == 200 || status == 0))
			return set_error(err, errlen, -EFBIG,
					 "KDS %ld for %s: response larger than %zu bytes (not retried)",
					 status, url, o->max_body);
		if (oversized) {
			cc = CURLE_OK;
			a.len = 0;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			r = -ETIMEDOUT;
			snprintf(what, sizeof(what), "KDS %s: timed out after %u ms", url, tmo);
		} else if (cc != CURLE_OK) {
			r = -EIO;
			snprintf(what, sizeof(what), "KDS %s: %s", url,
				 curlerr[0] ? curlerr : curl_easy_strerror(cc));
		} else if (status == 200) {
			char verr[KDS_ERR_MAX] = "";
			r = validate(ud, a.body, a.len, verr, sizeof(verr));
			if (r < 0)
				return set_error(err, errlen, -EBADMSG,
						 "KDS 200 for %s: %zu-byte body rejected: %s (not retried)",
						 url, a.len, verr[0] ? verr : "invalid");
			uint8_t *out = malloc(a.len ? a.len : 1);
			if (!out)
				return set_error(err, errlen, -ENOMEM, "KDS: out of memory");
			memcpy(out, a.body, a.len);
			*ret_body = out;
			*ret_len = a.len;
			return 0;
		} else if (status == 429 || status == 503) {
			r = -EAGAIN;
			retry_after_applies = true;
			snprintf(what, sizeof(what), "KDS %ld for %s: %s", status, url,
				 status_reason(status));
		} else if (status >= 500 && status <= 599) {
			r = -EIO;
			snprintf(what, sizeof(what), "KDS %ld for %s: %s", status, url,
				 status_reason(status));
		} else {
			char ex[96];
			body_excerpt(&a, ex, sizeof(ex));
			r = status == 404 ? -ENOENT : status >= 400 && status <= 499 ? -EINVAL : -EPROTO;
			return set_error(err, errlen, r, "KDS %ld for %s: %s%s%s%s (not retried)",
					 status, url, status_reason(status), ex[0] ? " (\"" : "", ex,
					 ex[0] ? "\")" : "");
		}

		if (n >= o->max_attempts)
			return set_error(err, errlen, r, "%s; giving up after %u attempts", what, n);
		uint64_t delay = backoff_ms(o, n);
		uint64_t ra;
		if (retry_after_applies && a.has_retry_after &&
		    kds_parse_retry_after(a.retry_after, time(NULL), &ra) == 0) {
			delay = ra * 1000;
			if (delay > o->retry_after_max_ms)
				delay = o->retry_after_max_ms;
		}
		now = now_ns();
		if (now + delay * 1000000ull >= deadline)
			return set_error(err, errlen, r,
					 "%s; giving up: a retry in %llu ms would pass the total "
					 "time bound of %u ms (attempt %u/%u)",
					 what, (unsigned long long)delay, o->total_timeout_ms, n,
					 o->max_attempts);
		char d[32];
		fmt_delay(delay, d, sizeof(d));
		progress(o, "%s: retrying in %s (attempt %u/%u)", what, d, n + 1, o->max_attempts);
		if (wait_ms(c, delay) < 0)
			return set_error(err, errlen, -ECANCELED, "KDS %s: cancelled (shutting down)",
					 url);
	}
}

/* ---- coalescing ---------------------------------------------------------------------------- */

static void inflight_unref_locked(struct inflight *f)
{
	if (--f->refs > 0)
		return;
	free(f->url);
	free(f->body);
	free(f);
}

static int copy_out(const uint8_t *body, size_t len, kds_validate_fn validate, void *ud,
		    const char *url, uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen)
{
	char verr[KDS_ERR_MAX] = "";
	if (validate(ud, body, len, verr, sizeof(verr)) < 0)
		return set_error(err, errlen, -EBADMSG, "KDS 200 for %s: %zu-byte body rejected: %s",
				 url, len, verr[0] ? verr : "invalid");
	uint8_t *out = malloc(len ? len : 1);
	if (!out)
		return set_error(err, errlen, -ENOMEM, "KDS: out of memory");
	memcpy(out, body, len);
	*ret_body = out;
	*ret_len = len;
	return 0;
}

int kds_fetch(struct kds_client *c, const char *url, kds_validate_fn validate, void *ud,
	      uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen)
{
	if (!c || !url || !validate || !ret_body || !ret_len)
		return set_error(err, errlen, -EINVAL, "KDS: invalid arguments");
	if (strlen(url) >= KDS_URL_MAX)
		return set_error(err, errlen, -EINVAL, "KDS: URL longer than %d bytes",
				 KDS_URL_MAX - 1);

	pthread_mutex_lock(&c->lock);
	struct inflight *f = NULL;
	int slot = -1;
	for (int i = 0; i < KDS_INFLIGHT_MAX; i++) {
		if (c->inflight[i] && streq(c->inflight[i]->url, url)) {
			f = c->inflight[i];
			break;
		}
		if (!c->inflight[i] && slot < 0)
			slot = i;
	}
	if (f) {
		/* Another caller is fetching this URL: wait for it and share the outcome. */
		f->refs++;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		uint64_t ms = (uint64_t)c->o.total_timeout_ms + KDS_WAITER_SLACK_MS;
		until.tv_sec += (time_t)(ms / 1000);
		until.tv_nsec += (long)(ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		int w = 0;
		while (!f->done && w == 0)
			w = pthread_cond_timedwait(&c->cond, &c->lock, &until);
		int r;
		if (!f->done)
			r = set_error(err, errlen, -ETIMEDOUT,
				      "KDS %s: gave up waiting for the request in flight", url);
		else if (f->r < 0)
			r = set_error(err, errlen, f->r, "%s", f->err);
		else
			r = copy_out(f->body, f->len, validate, ud, url, ret_body, ret_len, err,
				     errlen);
		inflight_unref_locked(f);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	if (slot >= 0) {
		f = calloc(1, sizeof(*f));
		if (f && !(f->url = strdup(url))) {
			free(f);
			f = NULL;
		}
		if (f) {
			f->refs = 1;
			c->inflight[slot] = f;
		}
	}
	pthread_mutex_unlock(&c->lock);

	/* Table full or no memory: fetch on our own, uncoalesced. */
	if (!f)
		return fetch_uncoalesced(c, url, validate, ud, ret_body, ret_len, err, errlen);

	uint8_t *body = NULL;
	size_t len = 0;
	char ferr[KDS_ERR_MAX] = "";
	int r = fetch_uncoalesced(c, url, validate, ud, &body, &len, ferr, sizeof(ferr));

	pthread_mutex_lock(&c->lock);
	f->r = r;
	snprintf(f->err, sizeof(f->err), "%s", ferr);
	if (r == 0 && f->refs > 1) {
		f->body = malloc(len ? len : 1);
		if (f->body) {
			memcpy(f->body, body, len);
			f->len = len;
		} else {
			f->r = -ENOMEM;
			snprintf(f->err, sizeof(f->err), "KDS: out of memory");
		}
	}
	f->done = true;
	c->inflight[slot] = NULL;
	pthread_cond_broadcast(&c->cond);
	inflight_unref_locked(f);
	pthread_mutex_unlock(&c->lock);

	if (r < 0)
		return set_error(err, errlen, r, "%s", ferr);
	*ret_body = body;
	*ret_len = len;
	return 0;
}
