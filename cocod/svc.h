/* The service dispatch behind the REST API: owns the config, store and platform, and routes
 * typed requests to the services (sevd/, tdxd/, attest/ as they land). */
#pragma once
#include "api/dispatch.h"
#include "coco/config.h"
#include "coco/store.h"
#include "coco/workq.h"
#include "hv/platform.h"
#include "sevd/measure_svc.h"

struct svc {
	struct coco_config *config;
	struct coco_store *store;
	struct hv_platform *platform;
	struct sevd_measure_cache *measure_cache; /* used only by measure_q's worker */
	struct coco_workq *measure_q;
	int64_t started;
	/* Cached platform probe; refreshed when older than SVC_PROBE_TTL_NS. */
	struct hv_host_info probe;
	uint64_t probe_at;
	bool probe_ok;
	/* Config reload, provided by the daemon (it owns the listeners). */
	int (*reload)(void *userdata, struct svc_reload *ret, char *err, size_t errlen);
	void *reload_userdata;
};

#define SVC_PROBE_TTL_NS (2ull * 1000000000ull)

void svc_dispatch(void *ctx, const struct svc_req *req, struct svc_reply *reply);
int svc_dispatch_async(void *ctx, const struct svc_req *req, struct svc_reply *reply,
		       void (*complete)(void *userdata), void *userdata);
/* Probe now (start-up, reload); logs what it found. */
int svc_probe_platform(struct svc *s, bool log_findings);
