/* tests/kds_mock.c: the mock KDS (see kds_mock.h). One thread per connection, so a delayed
 * answer holds up only its own request. */
#include "tests/kds_mock.h"

#include <arpa/inet.h>
#include <endian.h>
#include <openssl/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/util.h"

#define MOCK_QUEUE_MAX 64
#define MOCK_DELAY_MAX_MS 10000
#define MOCK_PATH_MAX 1024

/* The cloud provider's VLEK interface as the operator's template in the tests spells it:
 * /csp/vlek/<tcb as 16 hex digits> -> the emulated PKI's VLEK for that TCB (DER). */
#define MOCK_CSP_VLEK_PREFIX "/csp/vlek/"

struct queued {
	struct kds_mock_action a;
	char retry_after[64];
};

struct kds_mock {
	struct emul_amd_pki *pki;
	struct MHD_Daemon *d;
	char base[64];
	pthread_mutex_t lock;
	struct queued q[MOCK_QUEUE_MAX];
	unsigned q_head, q_len;
	unsigned requests;
	char last_path[MOCK_PATH_MAX];
	atomic_bool stopping;
};

/* Per request: the raw URI with its query (MHD hands the access handler the path only). */
struct mock_req {
	char *uri;
	bool headers_seen;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	(void)cls;
	(void)con;
	struct mock_req *rq = calloc(1, sizeof(*rq));
	if (rq)
		rq->uri = strndup(uri, MOCK_PATH_MAX - 1);
	return rq;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con;
	(void)toe;
	struct mock_req *rq = *req_cls;
	if (rq) {
		free(rq->uri);
		free(rq);
	}
	*req_cls = NULL;
}

static void mock_sleep(struct kds_mock *m, unsigned ms)
{
	if (ms > MOCK_DELAY_MAX_MS)
		ms = MOCK_DELAY_MAX_MS;
	for (unsigned t = 0; t < ms && !atomic_load(&m->stopping); t += 10) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static enum MHD_Result send_bytes(struct MHD_Connection *con, unsigned status, const void *p,
				  size_t n, const char *ct, const char *retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ct)
		MHD_add_response_header(r, "Content-Type", ct);
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	enum MHD_Result res = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return res;
}

/* "/vcek/v1/<P>/<hex>?..." with the first hex byte of the hwid flipped. */
static int other_hwid_path(const char *path, char *out, size_t n)
{
	if (strncmp(path, "/vcek/v1/", 9) != 0 || strlen(path) >= n)
		return -EINVAL;
	const char *slash = strchr(path + 9, '/');
	if (!slash || !slash[1] || !slash[2])
		return -EINVAL;
	strcpy(out, path);
	size_t i = (size_t)(slash + 1 - path);
	out[i] = out[i] == '0' ? '1' : '0';
	return 0;
}

static enum MHD_Result csp_vlek(struct kds_mock *m, struct MHD_Connection *con, const char *arg)
{
	uint64_t tcb = 0;
	size_t n = strlen(arg);
	if (n != 16 || hex_decode_exact(arg, (uint8_t *)&tcb, 8) < 0)
		return send_bytes(con, 400, "mock: bad TCB\n", 14, "text/plain", NULL);
	tcb = be64toh(tcb);
	X509 *x = NULL;
	if (emul_amd_pki_vlek(m->pki, tcb, NULL, &x) < 0)
		return send_bytes(con, 404, "mock: no VLEK\n", 14, "text/plain", NULL);
	unsigned char *der = NULL;
	int dl = i2d_X509(x, &der);
	X509_free(x);
	if (dl <= 0)
		return send_bytes(con, 500, "mock: DER\n", 10, "text/plain", NULL);
	enum MHD_Result res = send_bytes(con, 200, der, (size_t)dl, "application/pkix-cert", NULL);
	OPENSSL_free(der);
	return res;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	(void)url;
	(void)version;
	(void)upload_data;
	struct kds_mock *m = cls;
	struct mock_req *rq = *req_cls;
	if (!rq || !rq->uri)
		return MHD_NO;
	if (!rq->headers_seen) {
		rq->headers_seen = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!streq(method, "GET"))
		return send_bytes(con, 405, "method not allowed\n", 19, "text/plain", NULL);

	struct queued act = {.a = {.kind = KDS_MOCK_SERVE}};
	pthread_mutex_lock(&m->lock);
	m->requests++;
	snprintf(m->last_path, sizeof(m->last_path), "%s", rq->uri);
	if (m->q_len) {
		act = m->q[m->q_head];
		m->q_head = (m->q_head + 1) % MOCK_QUEUE_MAX;
		m->q_len--;
	}
	pthread_mutex_unlock(&m->lock);

	if (act.a.delay_ms)
		mock_sleep(m, act.a.delay_ms);
	if (atomic_load(&m->stopping))
		return MHD_NO;

	switch (act.a.kind) {
	case KDS_MOCK_STATUS: {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "mock status %d\n", act.a.status);
		return send_bytes(con, (unsigned)act.a.status, msg, (size_t)n, "text/plain",
				  act.retry_after[0] ? act.retry_after : NULL);
	}
	case KDS_MOCK_GARBAGE: {
		static const char junk[] = "<html><body>Service temporarily unavailable</body></html>";
		return send_bytes(con, 200, junk, sizeof(junk) - 1, "application/pkix-cert", NULL);
	}
	default:
		break;
	}

	char path[MOCK_PATH_MAX];
	if (act.a.kind == KDS_MOCK_OTHER_HWID) {
		if (other_hwid_path(rq->uri, path, sizeof(path)) < 0)
			return send_bytes(con, 500, "mock: not a VCEK path\n", 22, "text/plain", NULL);
	} else
		snprintf(path, sizeof(path), "%s", rq->uri);

	int status = 0;
	uint8_t *body = NULL;
	size_t len = 0;
	const char *ct = NULL;
	if (strncmp(path, MOCK_CSP_VLEK_PREFIX, strlen(MOCK_CSP_VLEK_PREFIX)) == 0)
		return csp_vlek(m, con, path + strlen(MOCK_CSP_VLEK_PREFIX));
	if (emul_kds_get(m->pki, path, &status, &body, &len, &ct) < 0)
		return send_bytes(con, 500, "mock: emulated KDS failed\n", 26, "text/plain", NULL);
	if (act.a.kind == KDS_MOCK_TRUNCATE && status == 200)
		len /= 2;
	enum MHD_Result res = send_bytes(con, (unsigned)status, body, len, ct, NULL);
	free(body);
	return res;
}

int kds_mock_start(struct emul_amd_pki *pki, struct kds_mock **ret)
{
	struct kds_mock *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pki = pki;
	pthread_mutex_init(&m->lock, NULL);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, m, MHD_OPTION_NOTIFY_COMPLETED,
				on_completed, m, MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!m->d) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return -EADDRNOTAVAIL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		MHD_stop_daemon(m->d);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return -EADDRNOTAVAIL;
	}
	snprintf(m->base, sizeof(m->base), "http://127.0.0.1:%u", (unsigned)info->port);
	*ret = m;
	return 0;
}

void kds_mock_stop(struct kds_mock *m)
{
	if (!m)
		return;
	atomic_store(&m->stopping, true);
	MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

const char *kds_mock_base_url(const struct kds_mock *m)
{
	return m->base;
}

int kds_mock_push(struct kds_mock *m, const struct kds_mock_action *a)
{
	int r = 0;
	pthread_mutex_lock(&m->lock);
	if (m->q_len >= MOCK_QUEUE_MAX)
		r = -ENOSPC;
	else {
		struct queued *q = &m->q[(m->q_head + m->q_len) % MOCK_QUEUE_MAX];
		*q = (struct queued){.a = *a};
		if (a->retry_after)
			snprintf(q->retry_after, sizeof(q->retry_after), "%s", a->retry_after);
		q->a.retry_after = NULL;
		m->q_len++;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int kds_mock_push_n(struct kds_mock *m, const struct kds_mock_action *a, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		int r = kds_mock_push(m, a);
		if (r < 0)
			return r;
	}
	return 0;
}

unsigned kds_mock_requests(struct kds_mock *m)
{
	pthread_mutex_lock(&m->lock);
	unsigned n = m->requests;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void kds_mock_last_path(struct kds_mock *m, char *out, size_t n)
{
	pthread_mutex_lock(&m->lock);
	snprintf(out, n, "%s", m->last_path);
	pthread_mutex_unlock(&m->lock);
}

/* ---- the PKIs the mock serves ---- */

struct emul_amd_pki *kds_test_pkis[4];

void kds_test_pkis_open(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		abort();
	static const enum snp_product ps[] = {SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA,
					      SNP_PRODUCT_TURIN};
	for (size_t i = 0; i < ARRAY_SIZE(ps); i++)
		if (emul_amd_pki_open(dir, ps[i], &kds_test_pkis[ps[i]]) < 0)
			abort();
}

void kds_test_pkis_close(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(kds_test_pkis); i++) {
		emul_amd_pki_free(kds_test_pkis[i]);
		kds_test_pkis[i] = NULL;
	}
}

const struct snp_tcb *kds_test_tcb(enum snp_product p)
{
	static const struct snp_tcb milan = {.bootloader = 3, .tee = 0, .snp = 20, .microcode = 209};
	static const struct snp_tcb genoa = {.bootloader = 7, .tee = 1, .snp = 22, .microcode = 72};
	static const struct snp_tcb turin = {.fmc = 1, .bootloader = 2, .tee = 0, .snp = 3,
					     .microcode = 4};
	return p == SNP_PRODUCT_MILAN ? &milan : p == SNP_PRODUCT_GENOA ? &genoa : &turin;
}
