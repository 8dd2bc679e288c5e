/* The service dispatch behind the REST API: owns the config, store and platform, and routes
 * typed requests to the services (sevd/, tdxd/, attest/ as they land). */
#pragma once
#include <openssl/x509.h>
#include <pthread.h>

#include "api/dispatch.h"
#include "coco/config.h"
#include "coco/store.h"
#include "coco/workq.h"
#include "hv/platform.h"
#include "hv/sev.h"
#include "sevd/measure_svc.h"

struct svc {
	/* Replaced on reload (loop thread). Workers that read it take config_lock for reading. */
	struct coco_config *config;
	pthread_rwlock_t config_lock;
	bool config_lock_init;
	struct coco_store *store;
	struct hv_platform *platform;
	struct sevd_measure_cache *measure_cache; /* used only by measure_q's worker */
	struct coco_workq *measure_q;
	struct coco_workq *work_q; /* slow document ops (KDS fetches, updates, verification) */
	struct coco_loop *loop;
	/* Service areas' state (cocod/svc_<area>.c). */
	struct svc_snp *snp;
	struct svc_attest *attest;
	struct svc_tdx *tdx;
	struct svc_guest *guest;
	/* The TD-launch gate (tdxd/gate.h): TD launches hold it shared, a module update takes it
	 * exclusive; closed for good once the module is lost. Created by svc_start. */
	struct tdxd_gate *tdx_gate;
	int64_t started;
	/* Cached platform probe; refreshed when older than SVC_PROBE_TTL_NS. */
	struct hv_host_info probe;
	uint64_t probe_at;
	uint64_t probe_tdx_gen; /* svc_tdx_generation() when probed */
	bool probe_ok;
	/* Idempotency-Keys whose first request is running (svc_idem_replay). */
	struct svc_idem_claim *idem_claims;
	/* Config reload, provided by the daemon (it owns the listeners). */
	int (*reload)(void *userdata, struct svc_reload *ret, char *err, size_t errlen);
	void *reload_userdata;
};

#define SVC_PROBE_TTL_NS (2ull * 1000000000ull)

/* After the platform is open and the loop exists: work queues, then each area's start
 * (reload persisted state, reconcile journals). */
int svc_start(struct svc *s, struct coco_loop *loop, char *err, size_t errlen);
/* Reload: make nc the configuration (the caller frees the old one afterwards). */
void svc_config_swap(struct svc *s, struct coco_config *nc);
/* Finish queued work (its completions resume suspended connections). */
void svc_drain(struct svc *s);
/* Stop the areas and free the queues (after svc_drain and the API server are gone). */
void svc_stop(struct svc *s);

/* Helpers for the areas. */
void svc_reply_error(struct svc_reply *r, enum svc_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* JSON values: hex of at most 64 bytes; a u64 as "0x" and 16 hex digits. */
json_object *svc_hex_json(const uint8_t *b, size_t n);
json_object *svc_tcb_json(uint64_t v);
/* A failed SEV command as a reply (firmware status named, "needs Linux x.y", ...). */
void svc_reply_sev_error(struct svc_reply *r, const char *what, uint32_t cmd, int e, uint32_t fw);
/* The SEV firmware (read-write for commands that change it) and its status now; NULL with the
 * reply filled when either is not to be had. */
struct hv_sev *svc_sev_with_status(struct svc *s, bool writable, struct hv_snp_status *st,
				   struct svc_reply *r);

/* Service areas: start/stop, which document ops are slow (run on work_q), and dispatch. */
int svc_snp_start(struct svc *s, char *err, size_t errlen);
void svc_snp_stop(struct svc *s);
bool svc_snp_is_slow(enum svc_op op);
void svc_snp_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r);
/* Worker thread: fetch what the cache lacks of plat's chain (ARK, ASK|ASVK, VCEK|VLEK) from
 * the configured source, each validated (for plat's chip and TCB) before it is cached. 0,
 * -ENOENT (err says what could not be had), -ENOTSUP (no source). */
struct certmgr_platform;
int svc_snp_fetch_chain(struct svc *s, const struct certmgr_platform *plat, char *err,
			size_t errlen);
/* Shutdown: make running KDS fetches end now. */
void svc_snp_cancel(struct svc *s);
/* The operator-trusted AMD roots besides the pinned ones (the emulated ARK when
 * snp_trust_emulated_root is set); borrowed, valid until svc_snp_stop. */
size_t svc_snp_trusted_roots(struct svc *s, X509 *const **ret);
int svc_attest_start(struct svc *s, char *err, size_t errlen);
void svc_attest_stop(struct svc *s);
bool svc_attest_is_slow(enum svc_op op);
void svc_attest_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r);
int svc_tdx_start(struct svc *s, char *err, size_t errlen);
void svc_tdx_stop(struct svc *s);
bool svc_tdx_is_slow(enum svc_op op);
void svc_tdx_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r);
/* The TDX module is lost (a failed update past shutdown, or version reads ENXIO): reboot
 * required. why gets a sentence naming it. TD launches and updates must refuse. */
bool svc_tdx_lost(struct svc *s, char *why, size_t whylen);
/* Bumped (thread-safe) whenever a module update finished: a cached probe is stale then. */
uint64_t svc_tdx_generation(struct svc *s);
/* Fill what the TDX area knows beyond sysfs: an update running, the boot-time module. */
void svc_tdx_module_status(struct svc *s, struct svc_tdx_module *o);

/* Idempotency-Key for a POST document op (any area): call svc_idem_replay first; true means
 * the reply is filled (the stored response of the same request, 422 for a different request
 * under the same key, 409 + Retry-After while the key's first request still runs) and the op
 * must not run. false claims the key for q: after a successful reply call svc_idem_record to
 * keep it. The claim ends with svc_idem_record or svc_idem_release(q), which the dispatch
 * calls after every op (a failed op keeps nothing). Without the header all do nothing. */
bool svc_idem_replay(struct svc *s, const struct svc_req *q, const char *op,
		     struct svc_reply *r);
void svc_idem_record(struct svc *s, const struct svc_req *q, const char *op,
		     const struct svc_reply *r);
void svc_idem_release(struct svc *s, const struct svc_req *q);
/* Guests (cocod/svc_guest.c). svc_guest_start reconciles the recorded guests (relaunching
 * emulated ones); svc_guest_submit queues a launch (POST /v1/guests) on measure_q. */
int svc_guest_start(struct svc *s, char *err, size_t errlen);
void svc_guest_stop(struct svc *s);
bool svc_guest_is_slow(enum svc_op op);
void svc_guest_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r);
int svc_guest_submit(struct svc *s, const struct svc_req *q, struct svc_reply *r,
		     void (*complete)(void *), void *userdata);
/* Loop thread: hand a table rebuilt on a worker to the VMM socket. */
void svc_snp_loop_sync(struct svc *s);
/* Around a firmware change that alters what the table must say (SNP_COMMIT, SNP_SET_CONFIG):
 * take the table's exclusive lock (l->fd -1 when there is no table file), and afterwards
 * rebuild the table under it, release it, and fetch what the new TCB needs. */
struct certfile_lock;
int svc_snp_table_lock(struct svc *s, struct certfile_lock *l, char *err, size_t errlen);
void svc_snp_after_change(struct svc *s, struct certfile_lock *l);

void svc_dispatch(void *ctx, const struct svc_req *req, struct svc_reply *reply);
int svc_dispatch_async(void *ctx, const struct svc_req *req, struct svc_reply *reply,
		       void (*complete)(void *userdata), void *userdata);
/* Probe now (start-up, reload); logs what it found. */
int svc_probe_platform(struct svc *s, bool log_findings);
