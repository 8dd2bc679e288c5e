/* The state store: one SQLite database in the state directory (WAL). This module owns all SQL;
 * services call these functions and never see a statement. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coco_store;

#define COCO_STORE_FILE "cocod.db"

enum coco_op_state { COCO_OP_PENDING, COCO_OP_RUNNING, COCO_OP_SUCCEEDED, COCO_OP_FAILED };

struct coco_operation {
	char id[37];
	char kind[64];
	enum coco_op_state state;
	int progress; /* 0..100 */
	char *message;     /* may be NULL */
	char *result_json; /* may be NULL */
	int64_t created, updated;
};

/* Open (creating if needed) the store in state_dir, take the state directory's lock, apply
 * migrations. -EBUSY if another cocod holds the directory; -EPROTO if the schema is newer than
 * this build knows. On failure a message is written into err. */
int coco_store_open(const char *state_dir, struct coco_store **ret, char *err, size_t errlen);
void coco_store_close(struct coco_store *s);
int coco_store_schema_version(struct coco_store *s, int *ret);
int coco_store_latest_schema(void);

int coco_store_op_create(struct coco_store *s, const char *kind, char ret_id[static 37]);
int coco_store_op_update(struct coco_store *s, const char *id, enum coco_op_state state,
			 int progress, const char *message, const char *result_json);
/* -ENOENT when there is no such operation. */
int coco_store_op_get(struct coco_store *s, const char *id, struct coco_operation *ret);
void coco_operation_clear(struct coco_operation *op);
const char *coco_op_state_name(enum coco_op_state st);

int coco_store_audit(struct coco_store *s, const char *actor, const char *action,
		     const char *detail);
/* Count audit rows for an action (tests and /metrics). */
int coco_store_audit_count(struct coco_store *s, const char *action, int64_t *ret);

/* The SNP certificate cache: one row per (product, hwid, TCB, kind). Validation happens
 * before a certificate reaches the store (sevd's KDS client); the store checks only shapes. */
enum coco_cert_kind {
	COCO_CERT_VCEK,
	COCO_CERT_VLEK,
	COCO_CERT_ASK,
	COCO_CERT_ASVK,
	COCO_CERT_ARK,
	COCO_CERT_CRL,
};
enum coco_cert_source { COCO_CERT_SRC_KDS, COCO_CERT_SRC_IMPORT, COCO_CERT_SRC_EMULATED };

#define COCO_CERT_PRODUCT_MAX 16   /* "Milan", "Genoa", "Turin", ... */
#define COCO_CERT_HWID_HEX_MAX 128 /* CHIP_ID is 64 bytes */
#define COCO_CERT_DER_MAX (1u << 20)
#define COCO_CERT_LIST_MAX 4096

struct coco_cert_key {
	char product[COCO_CERT_PRODUCT_MAX + 1]; /* [A-Za-z0-9-], not empty */
	char hwid[COCO_CERT_HWID_HEX_MAX + 1];    /* lowercase hex; "" for ARK/ASK/ASVK/CRL */
	uint64_t tcb;                             /* reported TCB (incl. FMC); 0 when not per-TCB */
	enum coco_cert_kind kind;
};

struct coco_cert_record {
	struct coco_cert_key key;
	enum coco_cert_source source;
	int64_t fetched_at, not_after; /* Unix seconds */
	uint8_t *der;                  /* malloc'd on get/list */
	size_t der_len;
};

const char *coco_cert_kind_name(enum coco_cert_kind k);       /* "vcek", ... or NULL */
const char *coco_cert_source_name(enum coco_cert_source src); /* "kds", ... or NULL */
int coco_cert_kind_from_name(const char *s, enum coco_cert_kind *ret);

/* Insert or replace. -EINVAL: bad key (product/hwid syntax, hwid or tcb set on a kind that is
 * not per chip), unknown source, empty or oversized der. */
int coco_store_cert_put(struct coco_store *s, const struct coco_cert_record *rec);
/* -ENOENT when absent. *ret owns der: coco_cert_record_clear(). */
int coco_store_cert_get(struct coco_store *s, const struct coco_cert_key *key,
			struct coco_cert_record *ret);
/* Every row (of one product, or all when product is NULL), ordered by product, kind, hwid,
 * tcb; at most COCO_CERT_LIST_MAX (-E2BIG beyond). Free with coco_cert_records_free(). */
int coco_store_cert_list(struct coco_store *s, const char *product, struct coco_cert_record **ret,
			 size_t *ret_n);
/* -ENOENT when absent. */
int coco_store_cert_delete(struct coco_store *s, const struct coco_cert_key *key);
void coco_cert_record_clear(struct coco_cert_record *rec);
void coco_cert_records_free(struct coco_cert_record *recs, size_t n);

/* The TDX module update journal (tdxd/update.c). A row is created 'running' at preflight;
 * every step is appended (before and after what it names); finish sets the final state. A
 * row still 'running' at start-up is what a kill -9 left: tdxd reconciles it. */
enum coco_tdx_update_state {
	COCO_TDX_UPDATE_RUNNING,
	COCO_TDX_UPDATE_SUCCEEDED,
	COCO_TDX_UPDATE_FAILED,	 /* the old module still runs (or the outcome is unknown) */
	COCO_TDX_UPDATE_REFUSED, /* preflight said no: nothing was written to sysfs */
	COCO_TDX_UPDATE_LOST,	 /* no module: reboot required */
};
#define COCO_TDX_UPDATE_LIST_MAX 1000
struct coco_tdx_update {
	char id[37];
	char op_id[37]; /* "" when not started through an operation */
	char from_version[24], target[24];
	enum coco_tdx_update_state state;
	char step[64]; /* the last step journaled ("done" when finished) */
	char *detail;
	int64_t started, finished; /* finished 0 while running */
};
struct coco_tdx_update_step {
	char step[64];
	char *detail;
	int64_t at;
};
const char *coco_tdx_update_state_name(enum coco_tdx_update_state st);
int coco_store_tdx_update_begin(struct coco_store *s, const char *op_id, const char *from,
				const char *target, const char *detail, char ret_id[static 37]);
/* -ENOENT unless the update is running. */
int coco_store_tdx_update_step(struct coco_store *s, const char *id, const char *step,
			       const char *detail);
int coco_store_tdx_update_finish(struct coco_store *s, const char *id,
				 enum coco_tdx_update_state state, const char *detail);
/* Newest first, at most limit (0 = COCO_TDX_UPDATE_LIST_MAX). */
int coco_store_tdx_update_list(struct coco_store *s, bool running_only, size_t limit,
			       struct coco_tdx_update **ret, size_t *ret_n);
int coco_store_tdx_update_steps(struct coco_store *s, const char *id,
				struct coco_tdx_update_step **ret, size_t *ret_n);
void coco_tdx_updates_free(struct coco_tdx_update *v, size_t n);
void coco_tdx_update_steps_free(struct coco_tdx_update_step *v, size_t n);
/* Idempotency-Key records (POSTs that change state): per (key, actor), the op, the SHA-256 of
 * the request and the response given, so a retry gets the same answer and a different
 * request under the same key is refused. */
struct coco_idem_record {
	char key[80];
	char actor[256];
	char op[64];
	uint8_t request_sha256[32];
	int status; /* HTTP status of the response */
	char location[192];
	char *response; /* JSON text, or NULL */
	int64_t created;
};
/* -ENOENT when the key is unknown for this actor. *ret owns response: coco_idem_record_clear. */
int coco_store_idem_get(struct coco_store *s, const char *key, const char *actor,
			struct coco_idem_record *ret);
/* -EEXIST when the key is already recorded for this actor (created 0 = now). */
int coco_store_idem_put(struct coco_store *s, const struct coco_idem_record *rec);
void coco_idem_record_clear(struct coco_idem_record *r);

/* The VLEK hashstick that was loaded with SNP_VLEK_LOAD, kept (in the 0600 store) to load it
 * again after a restart or a firmware reset. At most one. The bytes are a secret: never log
 * them. */
struct coco_vlek_record {
	uint8_t hashstick[432];
	uint64_t tcb; /* the TCB the hashstick was issued for */
	char product[COCO_CERT_PRODUCT_MAX + 1];
	int64_t loaded_at;
	char actor[128];
};
int coco_store_vlek_put(struct coco_store *s, const struct coco_vlek_record *rec);
/* -ENOENT when none is kept. */
int coco_store_vlek_get(struct coco_store *s, struct coco_vlek_record *ret);
/* -ENOENT when none was kept. */
int coco_store_vlek_delete(struct coco_store *s);

/* Confidential guests (cocod/svc_guest.c): one row per guest, name unique. `request` is the
 * launch request as JSON (what a relaunch replays), `expected` the hex launch digest (SNP) or
 * MRTD (TDX) the launch must produce. */
enum coco_guest_state {
	COCO_GUEST_LAUNCHING, /* recorded, launch in progress (journaled before the launch) */
	COCO_GUEST_RUNNING,
	COCO_GUEST_FAILED,  /* the launch failed (detail says why); nothing runs */
	COCO_GUEST_STOPPED, /* was running; not relaunched (detail says why) */
	COCO_GUEST_LOST,    /* the backend no longer knows it (libvirt domain gone) */
};
#define COCO_GUEST_LIST_MAX 4096
struct coco_guest {
	char id[37];
	char name[65];
	char tee[4];	 /* "snp" | "tdx" */
	char backend[9]; /* "emulated" | "libvirt" */
	char expected[97];
	enum coco_guest_state state;
	char *request; /* JSON; malloc'd on get/list */
	char *detail;  /* may be NULL */
	uint64_t platform_tcb; /* SNP reported TCB at launch; 0 for TDX */
	int64_t created, launched; /* Unix seconds; launched 0 until a launch succeeded */
};
const char *coco_guest_state_name(enum coco_guest_state st);
/* -EEXIST when the id or name is taken; -EINVAL for a malformed record. */
int coco_store_guest_put(struct coco_store *s, const struct coco_guest *g);
/* -ENOENT when absent; *ret owns its strings: coco_guest_clear(). */
int coco_store_guest_get(struct coco_store *s, const char *id, struct coco_guest *ret);
/* Oldest first; at most COCO_GUEST_LIST_MAX (-E2BIG beyond). coco_guests_free(). */
int coco_store_guest_list(struct coco_store *s, struct coco_guest **ret, size_t *ret_n);
/* launched > 0 also sets the launch time. -ENOENT when absent. */
int coco_store_guest_set_state(struct coco_store *s, const char *id, enum coco_guest_state state,
			       const char *detail, int64_t launched);
int coco_store_guest_delete(struct coco_store *s, const char *id);
void coco_guest_clear(struct coco_guest *g);
void coco_guests_free(struct coco_guest *v, size_t n);
