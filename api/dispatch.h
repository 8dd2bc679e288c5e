/* The service dispatch: the only way api/ reaches the services. A typed request goes in, a
 * typed reply comes out; api/ renders it. This is the boundary a privilege-separated REST
 * process would cross over a socketpair. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "coco/config.h"
#include "coco/snp/measure.h"
#include "coco/store.h"

enum svc_op {
	SVC_HOST_GET,      /* platform summary */
	SVC_READY_GET,     /* readiness: store and platform usable */
	SVC_OPERATION_GET, /* one long-running operation */
	SVC_RELOAD,        /* re-read configuration (as SIGHUP) */
	SVC_LOG_LEVEL_SET, /* change the log level at run time */
	SVC_SNP_MEASURE,   /* expected SEV/SEV-ES/SNP launch digest */
	SVC_SNP_PLATFORM_GET, /* SNP_PLATFORM_STATUS, chip id, product */
	SVC_TDX_MODULE_GET,   /* TDX module, P-SEAMLDR, update interface, CPUs */
	SVC_SNP_CONFIG_SET,   /* SNP_SET_CONFIG: reported TCB, chip id / key masking */
	SVC_SNP_COMMIT,       /* SNP_COMMIT: commit the running firmware (no rollback) */

	/* Document ops: the request is req.doc, the reply reply.doc (a JSON document or bytes
	 * the service renders itself). Each service area keeps its own block of numbers. */
	SVC_DOC_FIRST = 100,
	/* sevd: certificates and VLEK (cocod/svc_snp.c) */
	SVC_SNP_CERTS_LIST = SVC_DOC_FIRST, /* GET /v1/snp/certs */
	SVC_SNP_CERTS_TABLE,                /* GET /v1/snp/certs/table: the GHCB blob */
	SVC_SNP_CERTS_REFRESH,              /* POST /v1/snp/certs/refresh (slow: KDS) */
	SVC_SNP_CERTS_IMPORT,               /* POST /v1/snp/certs: offline import */
	SVC_SNP_VLEK_LOAD,                  /* POST /v1/snp/vlek */
	SVC_SNP_VLEK_GET,                   /* GET /v1/snp/vlek */
	SVC_SNP_VLEK_DELETE,                /* DELETE /v1/snp/vlek */
	/* tdxd: module update (cocod/svc_tdx.c) */
	SVC_TDX_FIRST = SVC_DOC_FIRST + 100,
	SVC_TDX_CANDIDATES = SVC_TDX_FIRST, /* GET /v1/tdx/module/candidates */
	SVC_TDX_UPDATE,                     /* POST /v1/tdx/module/updates (202 + operation) */
	SVC_TDX_UPDATES_LIST,               /* GET /v1/tdx/module/updates: the journal */
	SVC_TDX_MEASURE,                    /* POST /v1/tdx/measurements: MRTD, RTMR replay */
	/* attest: verification and evidence (cocod/svc_attest.c) */
	SVC_ATTEST_FIRST = SVC_DOC_FIRST + 200,
	SVC_ATTEST_VERIFY = SVC_ATTEST_FIRST, /* POST /v1/attestation/verify */
	/* guests (cocod/svc_guest.c) */
	SVC_GUEST_FIRST = SVC_DOC_FIRST + 300,
	SVC_GUEST_CREATE = SVC_GUEST_FIRST, /* POST /v1/guests (slow: measure + launch) */
	SVC_GUEST_LIST,                     /* GET /v1/guests */
	SVC_GUEST_GET,                      /* GET /v1/guests/{id} */
	SVC_GUEST_DELETE,                   /* DELETE /v1/guests/{id} */
	SVC_GUEST_REFERENCE,                /* GET /v1/guests/{id}/reference-values */
	SVC_GUEST_TDREPORT,                 /* GET /v1/guests/{id}/tdreport (emulated TDX) */
	SVC_SNP_HOST_REPORT,                /* GET /v1/snp/reports/host?guest={id} */
	SVC_DOC_LAST = SVC_DOC_FIRST + 399,
};

enum svc_status {
	SVC_OK = 0,
	SVC_E_INVALID,     /* the request is wrong: 400/422 */
	SVC_E_NOT_FOUND,   /* 404 */
	SVC_E_CONFLICT,    /* 409 */
	SVC_E_UNAVAILABLE, /* 503: try later */
	SVC_E_INTERNAL,    /* 500 */
	SVC_E_NOT_SUPPORTED, /* 501: this host or kernel does not offer it */
	SVC_E_FIRMWARE,    /* 502: the firmware refused; detail names the status code */
	SVC_E_UPSTREAM,    /* 502: an upstream service (AMD KDS) failed; detail says how */
};

/* The input of a document op. Everything is borrowed and stays valid until the reply is
 * rendered, also when the op runs on a worker thread. */
#define SVC_DOC_MAX_ARGS 8
struct svc_doc_req {
	json_object *json;    /* the body parsed as one JSON object, or NULL */
	const uint8_t *bytes; /* the raw body when it is not JSON (octet-stream), or NULL */
	size_t len;
	const char *content_type; /* of the body, or NULL */
	const char *id;           /* the route's {id} capture, or NULL */
	struct {
		char name[32];
		char value[160];
	} args[SVC_DOC_MAX_ARGS]; /* query parameters, copied */
	size_t n_args;
	char idempotency_key[80]; /* the Idempotency-Key header, or "" */
};
/* A query parameter's value, or NULL. */
const char *svc_doc_arg(const struct svc_doc_req *d, const char *name);

struct svc_req {
	enum svc_op op;
	enum coco_role role;
	const char *actor; /* "uid:0", "token:ci", "cert:CN=..": for the audit log */
	union {
		struct {
			char id[37];
		} operation_get;
		struct {
			int level;
		} log_level_set;
		struct {
			bool set_tcb;      /* else keep the reported TCB */
			uint64_t reported_tcb; /* 0: back to the current TCB (SNP ABI) */
			int mask_chip_id;  /* 0/1, or -1: keep */
			int mask_chip_key;
		} snp_config;
		struct svc_snp_measure {
			enum snp_mode mode;
			/* Names inside the configured image directories; NULL when absent. The
			 * strings live as long as the request. */
			const char *firmware, *kernel, *initrd, *svsm, *cmdline;
			unsigned vcpus;
			uint64_t vcpu_sig;
			uint64_t guest_features;
			enum snp_vmm_type vmm;
			uint64_t vars_size;
		} snp_measure;
		struct svc_doc_req doc;
	};
};

struct svc_host {
	char platform[16];
	char version[32];
	char commit[16];
	int64_t started;
	bool sev_device;
	char sev_error[64]; /* why /dev/sev could not be used */
	bool kvm_device;
	char kvm_error[64];
	bool kvm_vm_types_known;
	uint64_t kvm_vm_types;
	bool snp_available;
	bool tdx_available;
	bool tdx_host;
	char tdx_module_version[32];
	char tdx_module_error[64]; /* "reboot required" after a lost module */
	char tdx_seamldr_version[32];
	long tdx_remaining_updates;
	bool tdx_update_interface;
};

struct svc_ready {
	bool ready;
	char reason[128];
};

struct svc_reload {
	bool applied;
	char changed[256];        /* keys applied */
	char needs_restart[256];  /* keys changed on disk that only a restart applies */
};

struct svc_log_level {
	int previous, current;
};

struct svc_snp_measurement {
	uint8_t digest[48];
	size_t digest_len;
	unsigned pages;
	uint64_t elapsed_ns;
	bool firmware_cached, kernel_cached, initrd_cached;
};

struct svc_snp_platform {
	char operation[37]; /* config/commit: the journaled operation; "" for a status read */
	char backend[16];  /* "native" or "emulated" */
	char product[16];  /* "Milan", "Genoa", "Turin"; "" when unknown */
	uint8_t api_major, api_minor;
	uint32_t build_id;
	uint8_t state;
	bool rmp_initialized;
	bool mask_chip_id, mask_chip_key, vlek_loaded;
	bool ciphertext_hiding_cap, ciphertext_hiding_en, rapl_dis;
	uint32_t guest_count;
	uint64_t current_tcb, reported_tcb;
	bool committed_tcb_known;
	uint64_t committed_tcb;
	bool chip_id_known;
	uint8_t chip_id[64];
	char chip_id_error[96]; /* why the chip id is not shown */
};

struct svc_tdx_module {
	bool host;              /* /sys/devices/faux/tdx_host present */
	char version[32];
	char error[96];         /* "tdx-lost: ..." after a failed update past shutdown */
	bool lost;
	char seamldr_version[32];
	long remaining_updates; /* -1 unknown */
	bool update_interface;  /* /sys/class/firmware/tdx_module */
	unsigned cpus_online, cpus_possible;
	bool cpus_known;
	bool updating;          /* a module update runs now */
	char boot_version[32];  /* the module this host booted with ("" unknown) */
};

/* The output of a document op: one of json or bytes (both owned, freed by svc_reply_clear). A
 * failed op sets reply.status and detail as usual, and may set retry_after. */
struct svc_doc {
	json_object *json;
	uint8_t *bytes; /* malloc'd */
	size_t len;
	char content_type[64]; /* for bytes; "" = application/octet-stream */
	unsigned http_status;  /* 0 = 200 */
	char location[192];    /* Location header, or "" */
	unsigned retry_after;  /* seconds, or 0 */
};

struct svc_reply {
	enum svc_status status;
	char detail[512]; /* human-readable reason for a non-OK status */
	union {
		struct svc_host host;
		struct svc_ready ready;
		struct coco_operation operation; /* owns heap strings: svc_reply_clear() */
		struct svc_reload reload;
		struct svc_log_level log_level;
		struct svc_snp_measurement snp_measurement;
		struct svc_snp_platform snp_platform;
		struct svc_tdx_module tdx_module;
		struct svc_doc doc;
	};
};

typedef void (*svc_dispatch_fn)(void *ctx, const struct svc_req *req, struct svc_reply *reply);
/* For slow operations: returns 1 when the reply was filled at once, 0 when the work was queued
 * and complete(userdata) will run later on the loop thread (req and reply must stay valid until
 * then). */
typedef int (*svc_dispatch_async_fn)(void *ctx, const struct svc_req *req, struct svc_reply *reply,
				     void (*complete)(void *userdata), void *userdata);

static inline bool svc_op_is_doc(enum svc_op op)
{
	return op >= SVC_DOC_FIRST && op <= SVC_DOC_LAST;
}
void svc_reply_clear(const struct svc_req *req, struct svc_reply *reply);
