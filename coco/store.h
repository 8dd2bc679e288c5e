/* The state store: one SQLite database in the state directory (WAL). This module owns all SQL;
 * services call these functions and never see a statement. */
#pragma once
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
