/* The SEV-SNP certificate area of the service: the KDS-backed certificate cache, the GHCB
 * certificate table (the file VMMs read and the VMM socket), and the VLEK.
 *
 * Threads: builds that may fetch run on the work queue; everything that touches the VMM
 * socket runs on the loop thread (svc_snp_loop_sync after each job). `mu` guards the served
 * table. Builds are not serialised (a fetch may take minutes; the loop thread's cache-only
 * builds must not wait for it): each takes a generation number when it starts, and a build
 * never replaces the table of a build that started after it. */
#include <errno.h>
#include <grp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cocod/svc.h"
#include "coco/log.h"
#include "coco/snp/amdcert.h"
#include "coco/snp/certtable.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/sev.h"
#include "hv/uapi/sev_compat.h"
#include "sevd/certfile.h"
#include "sevd/certmgr.h"
#include "sevd/kds.h"
#include "sevd/vmmsock.h"

#define SNP_TABLE_LOCK_TIMEOUT_MS 5000
#define SNP_REFRESH_RETRY_S 60

struct svc_snp {
	struct svc *svc;
	bool active; /* an SNP platform (the SEV firmware answers) */
	char inactive_reason[160];
	enum snp_product product;
	char table_path[4200]; /* "" none */
	struct kds_client *kds;
	struct kds_client *csp; /* the CSP VLEK interface (snp_vlek_url), with the client cert */
	const char *csp_url;    /* the template, borrowed from the config */
	struct emul_amd_pki *pki; /* emulated platform */
	struct certmgr_fetcher fetcher;
	X509 *trusted[1];
	struct certmgr_params params;
	struct vmmsock *vmm;

	pthread_mutex_t mu; /* the fields below */
	uint64_t gen, published_gen;
	uint8_t *blob;      /* served table */
	size_t len;
	bool vmm_dirty; /* blob replaced off the loop thread: the socket still has the old */
	struct certmgr_platform served_for;
	bool served_complete;
	unsigned n_entries;
	char missing[1024];
	int64_t built_at;
	int64_t last_fetch_at;
	char last_fetch_error[512];
	bool fetch_queued;
	bool fetch_again; /* asked while one was queued: the platform may have changed since */
	bool fetch_expiring; /* the queued fetch also renews what expires soon (refresh timer) */
	/* The refresh timer (timerfd, CLOCK_REALTIME, absolute): CERTMGR_AHEAD_S before the
	 * served table's first expiry (a certificate's notAfter, the CRL's nextUpdate), or
	 * SNP_RETRY_S after a build that left something missing. */
	int refresh_fd;
	int64_t next_refresh_at;
};

/* ---- certificate sources ---- */

static int kds_fetcher(void *ud, const char *url, kds_validate_fn validate, void *vud,
		       uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen)
{
	return kds_fetch(ud, url, validate, vud, ret_body, ret_len, err, errlen);
}

/* The emulated platform's KDS, in process: same URLs, same statuses, same validation. */
static int emul_fetcher(void *ud, const char *url, kds_validate_fn validate, void *vud,
			uint8_t **ret_body, size_t *ret_len, char *err, size_t errlen)
{
	const char *path = url + strlen("emulated");
	int status = 0;
	uint8_t *body = NULL;
	size_t len = 0;
	const char *ct;
	int r = emul_kds_get(ud, path, &status, &body, &len, &ct);
	if (r < 0) {
		snprintf(err, errlen, "emulated KDS: %s", strerror(-r));
		return r;
	}
	if (status != 200) {
		snprintf(err, errlen, "emulated KDS %s: HTTP %d: %.*s", path, status,
			 (int)(len > 120 ? 120 : len), body ? (const char *)body : "");
		free(body);
		return status == 404 ? -ENOENT : -EINVAL;
	}
	if ((r = validate(vud, body, len, err, errlen)) < 0) {
		free(body);
		return -EBADMSG;
	}
	*ret_body = body;
	*ret_len = len;
	return 0;
}

/* The vlek_fetch contract: x as malloc'd DER (x is freed). */
static int x509_take_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);
	X509_free(x);
	if (n <= 0 || !(*ret = malloc((size_t)n))) {
		OPENSSL_free(d);
		return -ENOMEM;
	}
	memcpy(*ret, d, (size_t)n);
	*ret_len = (size_t)n;
	OPENSSL_free(d);
	return 0;
}

static int emul_vlek_fetch(void *ud, uint64_t tcb, uint8_t **ret_der, size_t *ret_len, char *err,
			   size_t errlen)
{
	X509 *x = NULL;
	int r = emul_amd_pki_vlek(ud, tcb, NULL, &x);
	if (r < 0) {
		snprintf(err, errlen, "emulated CSP interface: no VLEK for TCB 0x%016llx: %s",
			 (unsigned long long)tcb, strerror(-r));
		return r;
	}
	return x509_take_der(x, ret_der, ret_len);
}

/* A body from the CSP VLEK interface: one certificate, DER or PEM (the chain and TCB checks
 * are certmgr's, as for every VEK). */
static int csp_vlek_validate(void *ud, const uint8_t *body, size_t len, char *err, size_t errlen)
{
	X509 **ret = ud;
	X509 *x = NULL;
	int r = amd_cert_parse(body, len, &x, err, errlen);
	if (r < 0)
		return r;
	X509_free(*ret);
	*ret = x;
	return 0;
}

static int csp_vlek_fetch(void *ud, uint64_t tcb, uint8_t **ret_der, size_t *ret_len, char *err,
			  size_t errlen)
{
	struct svc_snp *n = ud;
	char url[KDS_URL_MAX];
	int r = snp_tcb_url_expand(n->csp_url, n->product, tcb, url, sizeof(url));
	if (r < 0) {
		snprintf(err, errlen, "snp_vlek_url: cannot build the URL for TCB 0x%016llx: %s",
			 (unsigned long long)tcb, strerror(-r));
		return r;
	}
	X509 *x = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	if ((r = kds_fetch(n->csp, url, csp_vlek_validate, &x, &body, &len, err, errlen)) < 0) {
		X509_free(x);
		return r;
	}
	free(body);
	return x509_take_der(x, ret_der, ret_len);
}

/* ---- the platform as the table must describe it ---- */

static int read_platform(struct svc *s, struct certmgr_platform *ret, char *err, size_t errlen)
{
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(s->platform, false, &eno);
	if (!sev) {
		snprintf(err, errlen, "/dev/sev: %s", strerror(eno));
		return -eno;
	}
	struct hv_snp_status st;
	uint32_t fw = 0;
	int r = hv_sev_snp_platform_status(sev, &st, &fw);
	if (r < 0) {
		snprintf(err, errlen, "SNP_PLATFORM_STATUS: %s",
			 r == -EIO ? hv_sev_fw_error_name(fw) : strerror(-r));
		return r;
	}
	*ret = (struct certmgr_platform){.product = s->snp->product,
					 .reported_tcb = st.reported_tcb,
					 .vlek = st.vlek_en};
	ret->chip_id_known = hv_sev_get_id(sev, ret->chip_id, &fw) == 0;
	return 0;
}

static bool same_platform(const struct certmgr_platform *a, const struct certmgr_platform *b)
{
	return a->product == b->product && a->reported_tcb == b->reported_tcb &&
	       a->vlek == b->vlek && a->chip_id_known == b->chip_id_known &&
	       memcmp(a->chip_id, b->chip_id, sizeof(a->chip_id)) == 0;
}

/* ---- publishing ---- */

/* Make t the served table unless it is worse than what is served for the same platform state
 * (a failed fetch must not take away a complete cached chain; a revocation does). Writes the file (under the
 * lock, or under `held` when the caller holds it), and the socket when on the loop thread.
 * Takes t->blob. */
static void publish(struct svc_snp *n, uint64_t gen, const struct certmgr_platform *plat,
		    struct certmgr_table *t, bool complete, bool on_loop, struct certfile_lock *held)
{
	pthread_mutex_lock(&n->mu);
	bool same = n->blob && same_platform(&n->served_for, plat);
	if (gen < n->published_gen || (same && n->served_complete && !complete && !t->revoked)) {
		pthread_mutex_unlock(&n->mu);
		certmgr_table_clear(t);
		return;
	}
	bool changed = !n->blob || n->len != t->len || memcmp(n->blob, t->blob, t->len) != 0;
	free(n->blob);
	n->blob = t->blob;
	n->len = t->len;
	t->blob = NULL;
	n->served_for = *plat;
	n->served_complete = complete;
	n->published_gen = gen;
	n->n_entries = t->n_entries;
	snprintf(n->missing, sizeof(n->missing), "%s", t->missing);
	n->built_at = now_unix();
	if (changed)
		n->vmm_dirty = true;
	if (changed && n->table_path[0]) {
		int r = held ? certfile_write_locked(held, n->table_path, n->blob, n->len)
			     : certfile_write(n->table_path, n->blob, n->len,
					      SNP_TABLE_LOCK_TIMEOUT_MS);
		if (r < 0)
			log_err("certificate table %s: %s", n->table_path, strerror(-r));
		else
			log_info("certificate table %s: %u entries (%s chain)%s", n->table_path,
				 n->n_entries, plat->vlek ? "VLEK" : "VCEK",
				 complete ? "" : ", incomplete");
	}
	pthread_mutex_unlock(&n->mu);
	if (on_loop)
		svc_snp_loop_sync(n->svc);
}

void svc_snp_loop_sync(struct svc *s)
{
	struct svc_snp *n = s->snp;
	if (!n || !n->vmm)
		return;
	pthread_mutex_lock(&n->mu);
	if (n->vmm_dirty) {
		int r = vmmsock_set_table(n->vmm, n->blob, n->len);
		if (r < 0)
			log_err("VMM socket: cannot serve the table: %s", strerror(-r));
		n->vmm_dirty = false;
	}
	pthread_mutex_unlock(&n->mu);
}

/* Build for the platform as it is now and publish. Returns the build's result (0 complete,
 * -ENOENT incomplete) with what is missing in err. */
#define SNP_RETRY_S 600 /* an incomplete table is fetched for again this much later */

/* Any thread (timerfd_settime is). */
static void arm_refresh(struct svc_snp *n, const struct certmgr_table *t, int r)
{
	if (n->refresh_fd < 0 || (r < 0 && r != -ENOENT))
		return;
	int64_t now = now_unix(), at;
	if (r == -ENOENT)
		at = now + SNP_RETRY_S;
	else if (t->expires_at > 0)
		at = t->expires_at - CERTMGR_AHEAD_S;
	else
		return;
	if (at < now + 60)
		at = now + 60;
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)at}};
	if (timerfd_settime(n->refresh_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("certificate refresh timer: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&n->mu);
	n->next_refresh_at = at;
	pthread_mutex_unlock(&n->mu);
}

static int rebuild(struct svc *s, enum certmgr_mode mode, bool on_loop, struct certfile_lock *held,
		   struct certmgr_table *out_info, char *err, size_t errlen)
{
	struct svc_snp *n = s->snp;
	struct certmgr_platform plat;
	int r = read_platform(s, &plat, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&n->mu);
	uint64_t gen = ++n->gen;
	pthread_mutex_unlock(&n->mu);
	struct certmgr_table t;
	r = certmgr_build(&n->params, &plat, mode, &t, err, errlen);
	arm_refresh(n, &t, r);
	if (mode != CERTMGR_CACHE_ONLY) {
		pthread_mutex_lock(&n->mu);
		n->last_fetch_at = now_unix();
		snprintf(n->last_fetch_error, sizeof(n->last_fetch_error), "%s",
			 r == 0 ? "" : err);
		pthread_mutex_unlock(&n->mu);
	}
	if (r == -ENOENT && t.revoked) {
		log_err("certificates revoked by AMD's CRL, no longer served: %s", t.missing);
		/* The ASK itself revoked: guests get a table of only the terminator. */
		if (!t.blob && (t.blob = calloc(1, SNP_CERT_TABLE_ENTRY_SIZE)))
			t.len = SNP_CERT_TABLE_ENTRY_SIZE;
	}
	if (r == 0 || (r == -ENOENT && t.blob)) {
		if (out_info) {
			*out_info = t;
			out_info->blob = NULL;
		}
		publish(n, gen, &plat, &t, r == 0, on_loop, held);
	} else if (out_info) {
		*out_info = t;
		out_info->blob = NULL;
		certmgr_table_clear(&t);
	} else {
		certmgr_table_clear(&t);
	}
	return r;
}

/* ---- background fetch of what the cache lacks ---- */

static void fetch_work(void *arg)
{
	struct svc *s = arg;
	char err[512];
	pthread_mutex_lock(&s->snp->mu);
	bool expiring = s->snp->fetch_expiring;
	s->snp->fetch_expiring = false;
	pthread_mutex_unlock(&s->snp->mu);
	int r = rebuild(s, expiring ? CERTMGR_FETCH_EXPIRING : CERTMGR_FETCH_MISSING, false, NULL,
			NULL, err, sizeof(err));
	if (r < 0)
		log_warn("certificates: %s", err);
}

static void schedule_fetch(struct svc *s);

static void fetch_done(void *arg)
{
	struct svc *s = arg;
	pthread_mutex_lock(&s->snp->mu);
	s->snp->fetch_queued = false;
	bool again = s->snp->fetch_again;
	s->snp->fetch_again = false;
	pthread_mutex_unlock(&s->snp->mu);
	svc_snp_loop_sync(s);
	if (again)
		schedule_fetch(s);
}

/* Loop thread. */
static void schedule_fetch(struct svc *s)
{
	struct svc_snp *n = s->snp;
	pthread_mutex_lock(&n->mu);
	bool queued = n->fetch_queued;
	n->fetch_queued = true;
	if (queued)
		n->fetch_again = true;
	pthread_mutex_unlock(&n->mu);
	if (queued)
		return;
	if (coco_workq_submit(s->work_q, fetch_work, fetch_done, s) < 0) {
		pthread_mutex_lock(&n->mu);
		n->fetch_queued = false;
		pthread_mutex_unlock(&n->mu);
		log_warn("certificates: work queue full; fetch on the next change or refresh");
	}
}

/* Loop thread: the refresh timer fired. */
static void on_refresh_timer(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	(void)l, (void)events;
	struct svc *s = userdata;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
		return;
	log_info("certificates: scheduled refresh (an expiry is near, or something was missing)");
	pthread_mutex_lock(&s->snp->mu);
	s->snp->fetch_expiring = true;
	pthread_mutex_unlock(&s->snp->mu);
	schedule_fetch(s);
}

/* ---- locking around firmware changes (svc.c's SNP_COMMIT / SNP_SET_CONFIG) ---- */

int svc_snp_table_lock(struct svc *s, struct certfile_lock *l, char *err, size_t errlen)
{
	l->fd = -1;
	struct svc_snp *n = s->snp;
	if (!n || !n->table_path[0])
		return 0;
	int r = certfile_lock(n->table_path, SNP_TABLE_LOCK_TIMEOUT_MS, l);
	if (r < 0)
		snprintf(err, errlen, "certificate table %s: %s", n->table_path,
			 r == -ETIMEDOUT ? "VMMs held the read lock for over 5 s"
					 : strerror(-r));
	return r;
}

void svc_snp_after_change(struct svc *s, struct certfile_lock *l)
{
	struct svc_snp *n = s->snp;
	if (n && n->active) {
		char err[512];
		int r = rebuild(s, CERTMGR_CACHE_ONLY, true, l->fd >= 0 ? l : NULL, NULL, err,
				sizeof(err));
		if (r == -ENOENT)
			schedule_fetch(s);
		else if (r < 0)
			log_warn("certificates after the firmware change: %s", err);
	}
	certfile_unlock(l);
}

/* ---- VLEK ---- */

/* SNP_VLEK_LOAD under the table's exclusive lock, then the table for the VLEK chain, still
 * under it. Fills r on failure. */
static int vlek_load(struct svc *s, const uint8_t hs[CERTMGR_HASHSTICK_SIZE], struct svc_reply *r)
{
	char err[512];
	struct certfile_lock l;
	int e = svc_snp_table_lock(s, &l, err, sizeof(err));
	if (e < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s", err);
		return e;
	}
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(s->platform, true, &eno);
	uint32_t fw = 0;
	if (!sev) {
		svc_reply_sev_error(r, "/dev/sev (read-write)", 0, -eno, 0);
		certfile_unlock(&l);
		return -eno;
	}
	e = hv_sev_snp_vlek_load(sev, hs, &fw);
	if (e < 0) {
		svc_reply_sev_error(r, "SNP_VLEK_LOAD", SNP_VLEK_LOAD, e, fw);
		certfile_unlock(&l);
		return e;
	}
	svc_snp_after_change(s, &l);
	return 0;
}

/* At start and whenever the firmware lost it (a reset): load the kept hashstick again. */
static void vlek_reload(struct svc *s)
{
	struct coco_vlek_record rec;
	if (coco_store_vlek_get(s->store, &rec) < 0)
		return;
	struct certmgr_platform plat;
	char err[256];
	if (read_platform(s, &plat, err, sizeof(err)) < 0 || plat.vlek) {
		explicit_bzero(&rec, sizeof(rec));
		return;
	}
	struct svc_reply r = {0};
	if (rec.tcb != plat.reported_tcb) {
		log_err("VLEK kept since %lld is for TCB 0x%016llx, the platform reports 0x%016llx: "
			"not loaded (load a new hashstick)",
			(long long)rec.loaded_at, (unsigned long long)rec.tcb,
			(unsigned long long)plat.reported_tcb);
	} else if (vlek_load(s, rec.hashstick, &r) == 0) {
		log_notice("VLEK reloaded (TCB 0x%016llx, loaded by %s)",
			   (unsigned long long)rec.tcb, rec.actor);
		coco_store_audit(s->store, "cocod", "snp.vlek.reload", "reloaded at start");
	} else {
		log_err("VLEK reload failed: %s", r.detail);
	}
	explicit_bzero(&rec, sizeof(rec));
}

/* ---- start / stop ---- */

int svc_snp_start(struct svc *s, char *err, size_t errlen)
{
	struct svc_snp *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->snp = n;
	n->svc = s;
	n->refresh_fd = -1;
	pthread_mutex_init(&n->mu, NULL);
	const struct coco_config *c = s->config;
	n->product = hv_platform_snp_product(s->platform);
	int eno = 0;
	struct hv_sev *sev = hv_platform_sev(s->platform, false, &eno);
	struct hv_snp_status st;
	uint32_t fw = 0;
	if (!sev) {
		snprintf(n->inactive_reason, sizeof(n->inactive_reason),
			 "no SEV firmware on this host (/dev/sev: %s)", strerror(eno));
	} else if (hv_sev_snp_platform_status(sev, &st, &fw) < 0) {
		snprintf(n->inactive_reason, sizeof(n->inactive_reason),
			 "SEV-SNP is not initialised on this host (SNP_PLATFORM_STATUS failed)");
	} else if (!snp_product_name(n->product)) {
		snprintf(n->inactive_reason, sizeof(n->inactive_reason),
			 "the SEV-SNP product of this CPU is not known");
	} else {
		n->active = true;
	}

	n->pki = hv_platform_emul_pki(s->platform);
	if (streq(c->kds_base_url, "emulated")) {
		if (!n->pki) {
			snprintf(err, errlen, "kds_base_url = emulated needs the emulated platform");
			return -EINVAL;
		}
		n->fetcher = (struct certmgr_fetcher){.fetch = emul_fetcher, .ud = n->pki,
						      .base_url = "emulated",
						      .source = COCO_CERT_SRC_EMULATED};
		n->params.vlek_fetch = emul_vlek_fetch;
		n->params.vlek_ud = n->pki;
		n->params.vlek_source = COCO_CERT_SRC_EMULATED;
	} else {
		struct kds_options o;
		kds_options_default(&o);
		o.base_url = c->kds_base_url;
		o.max_attempts = c->kds_attempts;
		o.total_timeout_ms = c->kds_timeout_s * 1000u;
		if (o.attempt_timeout_ms > o.total_timeout_ms)
			o.attempt_timeout_ms = o.total_timeout_ms;
		if (o.connect_timeout_ms > o.total_timeout_ms)
			o.connect_timeout_ms = o.total_timeout_ms;
		int r = kds_client_new(&o, &n->kds);
		if (r < 0) {
			snprintf(err, errlen, "KDS client: %s", strerror(-r));
			return r;
		}
		n->fetcher = (struct certmgr_fetcher){.fetch = kds_fetcher, .ud = n->kds,
						      .base_url = kds_client_base_url(n->kds),
						      .source = COCO_CERT_SRC_KDS};
		if (c->snp_vlek_url) {
			const char *files[] = {c->kds_client_cert, c->kds_client_key};
			for (size_t i = 0; i < ARRAY_SIZE(files); i++)
				if (files[i] && access(files[i], R_OK) < 0) {
					r = -errno;
					snprintf(err, errlen, "%s %s: %s",
						 i ? "kds_client_key" : "kds_client_cert",
						 files[i], strerror(-r));
					return r;
				}
			o.client_cert = c->kds_client_cert;
			o.client_key = c->kds_client_key;
			if ((r = kds_client_new(&o, &n->csp)) < 0) {
				snprintf(err, errlen, "CSP VLEK client: %s", strerror(-r));
				return r;
			}
			n->csp_url = c->snp_vlek_url;
			n->params.vlek_fetch = csp_vlek_fetch;
			n->params.vlek_ud = n;
			n->params.vlek_source = COCO_CERT_SRC_KDS;
		}
	}
	n->params.store = s->store;
	n->params.fetcher = &n->fetcher;
	n->params.include_crl = c->snp_cert_crl;
	if (c->snp_trust_emulated_root && n->pki) {
		n->trusted[0] = emul_amd_pki_ark(n->pki);
		n->params.trusted = n->trusted;
		n->params.n_trusted = 1;
	}
	if (!c->snp_cert_table)
		snprintf(n->table_path, sizeof(n->table_path), "%s/snp-cert-table.bin",
			 c->state_dir);
	else
		snprintf(n->table_path, sizeof(n->table_path), "%s", c->snp_cert_table);

	if (c->vmm_socket && c->vmm_socket[0]) {
		struct vmmsock_options vo = {0};
		if (c->vmm_socket_group) {
			char *end;
			unsigned long g = strtoul(c->vmm_socket_group, &end, 10);
			struct group *gr = *end ? getgrnam(c->vmm_socket_group) : NULL;
			vo.allowed_gid = *end ? (gr ? gr->gr_gid : 0) : (gid_t)g;
			vo.allow_gid = *end ? gr != NULL : 1;
		}
		int r = vmmsock_new(s->loop, c->vmm_socket, &vo, &n->vmm);
		if (r < 0) {
			snprintf(err, errlen, "vmm_socket %s: %s", c->vmm_socket, strerror(-r));
			return r;
		}
	}
	if (!n->active) {
		log_info("certificates: inactive: %s", n->inactive_reason);
		return 0;
	}
	/* The operator's VLEK certificate, validated into the cache. */
	if (c->snp_vlek_cert) {
		char *buf = NULL;
		size_t len = 0;
		char why[256];
		int r = read_file_max(c->snp_vlek_cert, AMD_CERT_MAX_SIZE, &buf, &len);
		if (r < 0)
			log_err("snp_vlek_cert %s: %s", c->snp_vlek_cert, strerror(-r));
		else if ((r = certmgr_import(&n->params, n->product, COCO_CERT_VLEK,
					     (const uint8_t *)buf, len, NULL, why, sizeof(why))) < 0)
			log_err("snp_vlek_cert %s: refused: %s", c->snp_vlek_cert, why);
		free(buf);
	}
	if (n->active) {
		int r = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
		if (r < 0 || coco_loop_add(s->loop, r, EPOLLIN, on_refresh_timer, s) < 0) {
			int e = r < 0 ? errno : EMFILE;
			if (r >= 0)
				close(r);
			snprintf(err, errlen, "certificate refresh timer: %s", strerror(e));
			return -e;
		}
		n->refresh_fd = r;
	}
	vlek_reload(s);
	char why[512];
	int r = rebuild(s, CERTMGR_CACHE_ONLY, true, NULL, NULL, why, sizeof(why));
	if (r == -ENOENT)
		schedule_fetch(s);
	else if (r < 0)
		log_warn("certificates: %s", why);
	return 0;
}

int svc_snp_fetch_chain(struct svc *s, const struct certmgr_platform *plat, char *err,
			size_t errlen)
{
	struct svc_snp *n = s->snp;
	if (!n || !n->params.fetcher) {
		snprintf(err, errlen, "no certificate source configured");
		return -ENOTSUP;
	}
	struct certmgr_table t;
	int r = certmgr_build(&n->params, plat, CERTMGR_FETCH_MISSING, &t, err, errlen);
	certmgr_table_clear(&t);
	return r;
}

void svc_snp_cancel(struct svc *s)
{
	if (s->snp && s->snp->kds)
		kds_client_cancel(s->snp->kds);
	if (s->snp && s->snp->csp)
		kds_client_cancel(s->snp->csp);
}

void svc_snp_stop(struct svc *s)
{
	struct svc_snp *n = s->snp;
	if (!n)
		return;
	if (n->refresh_fd >= 0) {
		coco_loop_remove(s->loop, n->refresh_fd);
		close(n->refresh_fd);
	}
	vmmsock_free(n->vmm);
	kds_client_free(n->kds);
	kds_client_free(n->csp);
	free(n->blob);
	pthread_mutex_destroy(&n->mu);
	free(n);
	s->snp = NULL;
}

bool svc_snp_is_slow(enum svc_op op)
{
	return op == SVC_SNP_CERTS_REFRESH;
}

/* ---- documents ---- */

json_object *svc_hex_json(const uint8_t *b, size_t n)
{
	char h[2 * 64 + 1];
	if (n > 64)
		n = 64;
	hex_encode(b, n, h);
	return json_object_new_string(h);
}

json_object *svc_tcb_json(uint64_t v)
{
	char h[24];
	snprintf(h, sizeof(h), "0x%016llx", (unsigned long long)v);
	return json_object_new_string(h);
}

static json_object *missing_json(const char *m)
{
	json_object *a = json_object_new_array();
	while (*m) {
		size_t l = strcspn(m, "\n");
		json_object_array_add(a, json_object_new_string_len(m, (int)l));
		m += l + (m[l] == '\n');
	}
	return a;
}

static json_object *name_json(const X509_NAME *nm)
{
	char buf[256];
	X509_NAME_oneline(nm, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static json_object *cert_json(const struct coco_cert_record *rec)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kind",
			       json_object_new_string(coco_cert_kind_name(rec->key.kind)));
	json_object_object_add(o, "product", json_object_new_string(rec->key.product));
	if (rec->key.hwid[0])
		json_object_object_add(o, "hwid", json_object_new_string(rec->key.hwid));
	if (rec->key.kind == COCO_CERT_VCEK || rec->key.kind == COCO_CERT_VLEK)
		json_object_object_add(o, "tcb", svc_tcb_json(rec->key.tcb));
	json_object_object_add(o, "source",
			       json_object_new_string(coco_cert_source_name(rec->source)));
	json_object_object_add(o, "cached_at", json_object_new_int64(rec->fetched_at));
	json_object_object_add(o, rec->key.kind == COCO_CERT_CRL ? "next_update" : "not_after",
			       json_object_new_int64(rec->not_after));
	uint8_t fp[SHA256_DIGEST_LENGTH];
	SHA256(rec->der, rec->der_len, fp);
	json_object_object_add(o, "sha256", svc_hex_json(fp, sizeof(fp)));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)rec->der_len));
	if (rec->key.kind != COCO_CERT_CRL) {
		const uint8_t *p = rec->der;
		X509 *x = d2i_X509(NULL, &p, (long)rec->der_len);
		if (x) {
			json_object_object_add(o, "subject", name_json(X509_get_subject_name(x)));
			json_object_object_add(o, "issuer", name_json(X509_get_issuer_name(x)));
			const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
			BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
			char *hx = bn ? BN_bn2hex(bn) : NULL;
			if (hx)
				json_object_object_add(o, "serial", json_object_new_string(hx));
			OPENSSL_free(hx);
			BN_free(bn);
			X509_free(x);
		}
		ERR_clear_error();
	}
	return o;
}

static json_object *table_state_json(struct svc_snp *n)
{
	json_object *t = json_object_new_object();
	pthread_mutex_lock(&n->mu);
	json_object_object_add(t, "path", n->table_path[0]
						? json_object_new_string(n->table_path)
						: NULL);
	json_object_object_add(t, "served", json_object_new_boolean(n->blob != NULL));
	if (n->blob) {
		json_object_object_add(t, "chain",
				       json_object_new_string(n->served_for.vlek ? "vlek" : "vcek"));
		json_object_object_add(t, "reported_tcb", svc_tcb_json(n->served_for.reported_tcb));
		json_object_object_add(t, "entries", json_object_new_int((int)n->n_entries));
		json_object_object_add(t, "size", json_object_new_int64((int64_t)n->len));
		json_object_object_add(t, "complete", json_object_new_boolean(n->served_complete));
		json_object_object_add(t, "built_at", json_object_new_int64(n->built_at));
	}
	json_object_object_add(t, "next_refresh_at",
			       n->next_refresh_at ? json_object_new_int64(n->next_refresh_at)
						  : NULL);
	json_object_object_add(t, "missing", missing_json(n->missing));
	json_object_object_add(t, "last_fetch_at",
			       n->last_fetch_at ? json_object_new_int64(n->last_fetch_at) : NULL);
	json_object_object_add(t, "last_fetch_error",
			       n->last_fetch_error[0]
				   ? json_object_new_string(n->last_fetch_error)
				   : NULL);
	if (n->vmm) {
		struct vmmsock_stats vs;
		vmmsock_get_stats(n->vmm, &vs);
		json_object *v = json_object_new_object();
		json_object_object_add(v, "path", json_object_new_string(n->svc->config->vmm_socket));
		json_object_object_add(v, "connections", json_object_new_int((int)vs.connections));
		json_object_object_add(v, "requests", json_object_new_int64((int64_t)vs.requests));
		json_object_object_add(t, "vmm_socket", v);
	}
	pthread_mutex_unlock(&n->mu);
	return t;
}

static void certs_list(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_snp *n = s->snp;
	const char *product = svc_doc_arg(&q->doc, "product");
	enum snp_product pr;
	if (product && snp_product_from_name(product, &pr) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "unknown product '%.40s' (Milan, Genoa, Turin)",
				product);
		return;
	}
	struct coco_cert_record *recs = NULL;
	size_t nrec = 0;
	int e = coco_store_cert_list(s->store, product ? snp_product_name(pr) : NULL, &recs,
				     &nrec);
	if (e < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "certificate cache: %s", strerror(-e));
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "active", json_object_new_boolean(n->active));
	if (!n->active)
		json_object_object_add(o, "inactive_reason",
				       json_object_new_string(n->inactive_reason));
	else
		json_object_object_add(o, "product",
				       json_object_new_string(snp_product_name(n->product)));
	json_object_object_add(o, "kds",
			       json_object_new_string(n->fetcher.base_url ? n->fetcher.base_url
									  : ""));
	json_object_object_add(o, "table", table_state_json(n));
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < nrec; i++)
		json_object_array_add(a, cert_json(&recs[i]));
	coco_cert_records_free(recs, nrec);
	json_object_object_add(o, "certificates", a);
	r->doc.json = o;
}

static void certs_table(struct svc *s, struct svc_reply *r)
{
	struct svc_snp *n = s->snp;
	pthread_mutex_lock(&n->mu);
	if (!n->blob) {
		svc_reply_error(r, SVC_E_NOT_FOUND, "no certificate table yet%s%s",
				n->missing[0] ? ": " : "", n->missing);
		pthread_mutex_unlock(&n->mu);
		return;
	}
	r->doc.bytes = malloc(n->len);
	if (r->doc.bytes) {
		memcpy(r->doc.bytes, n->blob, n->len);
		r->doc.len = n->len;
	}
	pthread_mutex_unlock(&n->mu);
	if (!r->doc.bytes) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "out of memory");
		return;
	}
	snprintf(r->doc.content_type, sizeof(r->doc.content_type), "application/octet-stream");
}

/* Worker thread. */
static void certs_refresh(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	bool force = false;
	if (q->doc.json) {
		json_object_object_foreach(q->doc.json, key, v)
		{
			if (streq(key, "force") && json_object_is_type(v, json_type_boolean)) {
				force = json_object_get_boolean(v);
			} else {
				svc_reply_error(r, SVC_E_INVALID,
						"unknown or mistyped member '%.40s' (expected "
						"{\"force\": true|false})",
						key);
				return;
			}
		}
	}
	vlek_reload(s); /* after a firmware reset the VLEK is gone: load it first */
	char err[512];
	struct certmgr_table info;
	int e = rebuild(s, force ? CERTMGR_FETCH_ALL : CERTMGR_FETCH_MISSING, false, NULL, &info,
			err, sizeof(err));
	if (e < 0 && e != -ENOENT) {
		svc_reply_error(r, e == -ENODEV || e == -ENOENT ? SVC_E_NOT_SUPPORTED
								: SVC_E_UNAVAILABLE,
				"%s", err);
		return;
	}
	coco_store_audit(s->store, q->actor, "snp.certs.refresh", e == 0 ? "complete" : err);
	if (e == -ENOENT) {
		svc_reply_error(r, SVC_E_UPSTREAM, "certificates incomplete: %s", err);
		r->doc.retry_after = SNP_REFRESH_RETRY_S;
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "fetched", json_object_new_int((int)info.fetched));
	json_object_object_add(o, "table", table_state_json(s->snp));
	r->doc.json = o;
}

static int import_one(struct svc *s, json_object *item, json_object *done, char *err,
		      size_t errlen)
{
	struct svc_snp *n = s->snp;
	const char *kind_s = NULL, *product_s = NULL, *pem = NULL, *der_b64 = NULL;
	json_object_object_foreach(item, key, v)
	{
		const char *str = json_object_is_type(v, json_type_string)
				      ? json_object_get_string(v)
				      : NULL;
		if (!str) {
			snprintf(err, errlen, "member '%.40s' must be a string", key);
			return -EINVAL;
		}
		if (streq(key, "kind"))
			kind_s = str;
		else if (streq(key, "product"))
			product_s = str;
		else if (streq(key, "pem"))
			pem = str;
		else if (streq(key, "der_base64"))
			der_b64 = str;
		else {
			snprintf(err, errlen, "unknown member '%.40s'", key);
			return -EINVAL;
		}
	}
	enum coco_cert_kind kind;
	enum snp_product product = n->product;
	if (!kind_s || coco_cert_kind_from_name(kind_s, &kind) < 0) {
		snprintf(err, errlen, "'kind' must be one of ark, ask, asvk, vcek, vlek, crl");
		return -EINVAL;
	}
	if (product_s && snp_product_from_name(product_s, &product) < 0) {
		snprintf(err, errlen, "unknown product '%.40s'", product_s);
		return -EINVAL;
	}
	if (!snp_product_name(product)) {
		snprintf(err, errlen, "'product' is required (this host's is not known)");
		return -EINVAL;
	}
	if (!!pem == !!der_b64) {
		snprintf(err, errlen, "give exactly one of 'pem' and 'der_base64'");
		return -EINVAL;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (der_b64) {
		if (base64_decode(der_b64, strlen(der_b64), &buf, &len) < 0) {
			snprintf(err, errlen, "'der_base64' is not base64");
			return -EINVAL;
		}
	} else {
		len = strlen(pem);
		buf = malloc(len ? len : 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, pem, len);
	}
	struct coco_cert_key k;
	int e = certmgr_import(&n->params, product, kind, buf, len, &k, err, errlen);
	free(buf);
	if (e < 0)
		return e;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(coco_cert_kind_name(k.kind)));
	json_object_object_add(o, "product", json_object_new_string(k.product));
	if (k.hwid[0])
		json_object_object_add(o, "hwid", json_object_new_string(k.hwid));
	if (k.kind == COCO_CERT_VCEK || k.kind == COCO_CERT_VLEK)
		json_object_object_add(o, "tcb", svc_tcb_json(k.tcb));
	json_object_array_add(done, o);
	return 0;
}

/* Offline import: {"certificates": [{"kind", "product", "pem"|"der_base64"}, ...]}. Each is
 * validated as it goes in order (ARK before ASK before VCEK); the first refusal stops the
 * import and is reported with its index (the ones before it stay: each was valid). */
static void certs_import(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	json_object *list = NULL;
	if (!q->doc.json || !json_object_object_get_ex(q->doc.json, "certificates", &list) ||
	    !json_object_is_type(list, json_type_array) || json_object_object_length(q->doc.json) != 1) {
		svc_reply_error(r, SVC_E_INVALID,
				"expected {\"certificates\": [{\"kind\": ..., \"product\": ..., "
				"\"pem\" or \"der_base64\": ...}, ...]}");
		return;
	}
	size_t cnt = json_object_array_length(list);
	if (cnt == 0 || cnt > 64) {
		svc_reply_error(r, SVC_E_INVALID, "between 1 and 64 certificates per import");
		return;
	}
	json_object *done = json_object_new_array();
	for (size_t i = 0; i < cnt; i++) {
		json_object *item = json_object_array_get_idx(list, i);
		char err[320];
		int e = json_object_is_type(item, json_type_object)
			    ? import_one(s, item, done, err, sizeof(err))
			    : (snprintf(err, sizeof(err), "not an object"), -EINVAL);
		if (e < 0) {
			svc_reply_error(r, e == -ENOMEM ? SVC_E_UNAVAILABLE : SVC_E_INVALID,
					"certificates[%zu]: %s%s", i, err,
					i ? " (the ones before it were imported)" : "");
			json_object_put(done);
			return;
		}
	}
	coco_store_audit(s->store, q->actor, "snp.certs.import", "");
	if (s->snp->active) {
		char err[512];
		rebuild(s, CERTMGR_CACHE_ONLY, true, NULL, NULL, err, sizeof(err));
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "imported", done);
	json_object_object_add(o, "table", table_state_json(s->snp));
	r->doc.json = o;
}

static void vlek_status(struct svc *s, struct svc_reply *r)
{
	struct certmgr_platform plat;
	char err[256];
	if (read_platform(s, &plat, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s", err);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "loaded", json_object_new_boolean(plat.vlek));
	json_object_object_add(o, "reported_tcb", svc_tcb_json(plat.reported_tcb));
	struct coco_vlek_record rec;
	if (coco_store_vlek_get(s->store, &rec) == 0) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "tcb", svc_tcb_json(rec.tcb));
		json_object_object_add(k, "product", json_object_new_string(rec.product));
		json_object_object_add(k, "loaded_at", json_object_new_int64(rec.loaded_at));
		json_object_object_add(k, "loaded_by", json_object_new_string(rec.actor));
		json_object_object_add(o, "kept", k);
		explicit_bzero(&rec, sizeof(rec));
	} else {
		json_object_object_add(o, "kept", NULL);
	}
	r->doc.json = o;
}

static void vlek_post(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_snp *n = s->snp;
	uint8_t *decoded = NULL;
	const uint8_t *hs = q->doc.bytes;
	size_t len = q->doc.len;
	if (q->doc.json) {
		const char *b64 = NULL;
		json_object_object_foreach(q->doc.json, key, v)
		{
			if (streq(key, "hashstick") && json_object_is_type(v, json_type_string)) {
				b64 = json_object_get_string(v);
			} else if (streq(key, "version") && json_object_is_type(v, json_type_int)) {
				if (json_object_get_int64(v) != 0) {
					svc_reply_error(r, SVC_E_INVALID,
							"unsupported hashstick version %lld (SNP "
							"ABI: 0)",
							(long long)json_object_get_int64(v));
					return;
				}
			} else {
				svc_reply_error(r, SVC_E_INVALID,
						"unknown or mistyped member '%.40s' (expected "
						"{\"hashstick\": base64, \"version\": 0})",
						key);
				return;
			}
		}
		if (!b64 || base64_decode(b64, strlen(b64), &decoded, &len) < 0) {
			svc_reply_error(r, SVC_E_INVALID, "'hashstick' must be base64");
			return;
		}
		hs = decoded;
	}
	char err[256];
	uint64_t tcb = 0;
	struct certmgr_platform plat;
	int e;
	if (!n->active) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s", n->inactive_reason);
		goto out;
	}
	if (!hs || certmgr_hashstick_check(hs, len, n->product, &tcb, err, sizeof(err)) < 0) {
		svc_reply_error(r, SVC_E_INVALID, "%s", hs ? err : "a hashstick is required");
		goto out;
	}
	if ((e = read_platform(s, &plat, err, sizeof(err))) < 0) {
		svc_reply_error(r, SVC_E_UNAVAILABLE, "%s", err);
		goto out;
	}
	if (tcb != plat.reported_tcb) {
		svc_reply_error(r, SVC_E_INVALID,
				"the hashstick is for TCB 0x%016llx but the platform reports "
				"0x%016llx: nothing was loaded",
				(unsigned long long)tcb, (unsigned long long)plat.reported_tcb);
		goto out;
	}
	char id[37];
	char what[96];
	snprintf(what, sizeof(what), "VLEK for TCB 0x%016llx", (unsigned long long)tcb);
	if ((e = coco_store_op_create(s->store, "snp.vlek_load", id)) < 0 ||
	    (e = coco_store_op_update(s->store, id, COCO_OP_RUNNING, 0, what, NULL)) < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "journal: %s", strerror(-e));
		goto out;
	}
	if (vlek_load(s, hs, r) < 0) {
		coco_store_op_update(s->store, id, COCO_OP_FAILED, 100, r->detail, NULL);
		coco_store_audit(s->store, q->actor, "snp.vlek_load.failed", r->detail);
		log_warn("VLEK load by %s failed: %s", q->actor, r->detail);
		goto out;
	}
	struct coco_vlek_record rec = {.tcb = tcb, .loaded_at = now_unix()};
	memcpy(rec.hashstick, hs, sizeof(rec.hashstick));
	snprintf(rec.product, sizeof(rec.product), "%s", snp_product_name(n->product));
	snprintf(rec.actor, sizeof(rec.actor), "%s", q->actor);
	e = coco_store_vlek_put(s->store, &rec);
	explicit_bzero(&rec, sizeof(rec));
	if (e < 0)
		log_err("VLEK loaded but not kept for restarts: %s", strerror(-e));
	coco_store_op_update(s->store, id, COCO_OP_SUCCEEDED, 100, what, NULL);
	coco_store_audit(s->store, q->actor, "snp.vlek_load", what);
	log_notice("VLEK loaded by %s: %s", q->actor, what);
	pthread_mutex_lock(&n->mu);
	bool complete = n->served_complete && n->served_for.vlek;
	pthread_mutex_unlock(&n->mu);
	if (!complete)
		schedule_fetch(s);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "operation", json_object_new_string(id));
	json_object_object_add(o, "loaded", json_object_new_boolean(true));
	json_object_object_add(o, "tcb", svc_tcb_json(tcb));
	json_object_object_add(o, "kept", json_object_new_boolean(e == 0));
	json_object_object_add(o, "table", table_state_json(n));
	r->doc.json = o;
out:
	if (decoded) {
		explicit_bzero(decoded, len);
		free(decoded);
	}
}

static void vlek_delete(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	int e = coco_store_vlek_delete(s->store);
	if (e == -ENOENT) {
		svc_reply_error(r, SVC_E_NOT_FOUND, "no VLEK hashstick is kept");
		return;
	}
	if (e < 0) {
		svc_reply_error(r, SVC_E_INTERNAL, "store: %s", strerror(-e));
		return;
	}
	coco_store_audit(s->store, q->actor, "snp.vlek.forget", "");
	log_notice("VLEK hashstick forgotten by %s", q->actor);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "forgotten", json_object_new_boolean(true));
	json_object_object_add(
	    o, "note",
	    json_object_new_string("the firmware keeps a loaded VLEK until its next reset; "
				   "cocod will not load it again"));
	r->doc.json = o;
}

size_t svc_snp_trusted_roots(struct svc *s, X509 *const **ret)
{
	if (!s->snp || !s->snp->params.n_trusted) {
		*ret = NULL;
		return 0;
	}
	*ret = s->snp->params.trusted;
	return s->snp->params.n_trusted;
}

void svc_snp_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	struct svc_snp *n = s->snp;
	bool needs_active = q->op == SVC_SNP_CERTS_REFRESH || q->op == SVC_SNP_VLEK_LOAD ||
			    q->op == SVC_SNP_VLEK_GET;
	if (!n || (needs_active && !n->active)) {
		svc_reply_error(r, SVC_E_NOT_SUPPORTED, "%s",
				n ? n->inactive_reason : "SEV-SNP service not started");
		return;
	}
	switch (q->op) {
	case SVC_SNP_CERTS_LIST: certs_list(s, q, r); return;
	case SVC_SNP_CERTS_TABLE: certs_table(s, r); return;
	case SVC_SNP_CERTS_REFRESH: certs_refresh(s, q, r); return;
	case SVC_SNP_CERTS_IMPORT: certs_import(s, q, r); return;
	case SVC_SNP_VLEK_LOAD: vlek_post(s, q, r); return;
	case SVC_SNP_VLEK_GET: vlek_status(s, r); return;
	case SVC_SNP_VLEK_DELETE: vlek_delete(s, q, r); return;
	default: break;
	}
	svc_reply_error(r, SVC_E_INTERNAL, "unknown operation %d", (int)q->op);
}
