#include "coco/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "coco/util.h"

struct coco_store {
	sqlite3 *db;
	int lock_fd;
};

/* Schema migrations, applied in order; index + 1 is the version. Never edit a shipped entry:
 * append a new one. */
static const char *const migrations[] = {
	/* 1: operations and audit log */
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
	"  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),"
	"  message TEXT,"
	"  result TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX operations_state ON operations(state);"
	"CREATE TABLE audit_log ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT);",
};

int coco_store_latest_schema(void) { return (int)ARRAY_SIZE(migrations); }

static const char *const op_state_names[] = {
	[COCO_OP_PENDING] = "pending", [COCO_OP_RUNNING] = "running",
	[COCO_OP_SUCCEEDED] = "succeeded", [COCO_OP_FAILED] = "failed",
};

const char *coco_op_state_name(enum coco_op_state st)
{
	return (size_t)st < ARRAY_SIZE(op_state_names) ? op_state_names[st] : "unknown";
}

static int op_state_from_name(const char *s, enum coco_op_state *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(op_state_names); i++)
		if (streq(op_state_names[i], s)) {
			*ret = (enum coco_op_state)i;
			return 0;
		}
	return -EINVAL;
}

static int sql_exec(struct coco_store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			snprintf(err, errlen, "%s", msg ? msg : "sqlite error");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int migrate(struct coco_store *s, char *err, size_t errlen)
{
	int r = sql_exec(s,
			 "CREATE TABLE IF NOT EXISTS schema_version ("
			 "  version INTEGER PRIMARY KEY, applied INTEGER NOT NULL);",
			 err, errlen);
	if (r < 0)
		return r;
	int cur;
	if ((r = coco_store_schema_version(s, &cur)) < 0) {
		snprintf(err, errlen, "cannot read schema version");
		return r;
	}
	if (cur > coco_store_latest_schema()) {
		snprintf(err, errlen,
			 "store schema version %d is newer than this cocod knows (%d): refusing to "
			 "downgrade",
			 cur, coco_store_latest_schema());
		return -EPROTO;
	}
	for (int v = cur + 1; v <= coco_store_latest_schema(); v++) {
		char ins[128];
		snprintf(ins, sizeof(ins),
			 "INSERT INTO schema_version(version, applied) VALUES (%d, %lld);", v,
			 (long long)now_unix());
		if ((r = sql_exec(s, "BEGIN IMMEDIATE;", err, errlen)) < 0)
			return r;
		if ((r = sql_exec(s, migrations[v - 1], err, errlen)) < 0 ||
		    (r = sql_exec(s, ins, err, errlen)) < 0) {
			sql_exec(s, "ROLLBACK;", NULL, 0);
			return r;
		}
		if ((r = sql_exec(s, "COMMIT;", err, errlen)) < 0)
			return r;
	}
	return 0;
}

int coco_store_open(const char *state_dir, struct coco_store **ret, char *err, size_t errlen)
{
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create state directory %s: %s", state_dir, strerror(e));
		return -e;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/cocod.lock", state_dir);
	_cleanup_close_ int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	/* One daemon per state directory: an OFD write lock dies with the process. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(lfd, F_OFD_SETLK, &fl) < 0) {
		int e = errno;
		snprintf(err, errlen, "state directory %s is in use by another cocod (%s)", state_dir,
			 strerror(e));
		return -EBUSY;
	}
	struct coco_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	snprintf(path, sizeof(path), "%s/%s", state_dir, COCO_STORE_FILE);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		coco_store_close(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 5000);
	int r = sql_exec(s,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
			 err, errlen);
	if (r == 0)
		r = migrate(s, err, errlen);
	if (r < 0) {
		coco_store_close(s);
		return r;
	}
	s->lock_fd = TAKE_FD(lfd);
	*ret = s;
	return 0;
}

void coco_store_close(struct coco_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

static void finalizep(sqlite3_stmt **st) { sqlite3_finalize(*st); }
#define _cleanup_stmt_ _cleanup_(finalizep)

static int prepare(struct coco_store *s, const char *sql, sqlite3_stmt **ret)
{
	return sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) == SQLITE_OK ? 0 : -EIO;
}

int coco_store_schema_version(struct coco_store *s, int *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "SELECT COALESCE(MAX(version), 0) FROM schema_version;", &st) < 0 ||
	    sqlite3_step(st) != SQLITE_ROW)
		return -EIO;
	*ret = sqlite3_column_int(st, 0);
	return 0;
}

int coco_store_op_create(struct coco_store *s, const char *kind, char ret_id[static 37])
{
	char id[37];
	int r = uuid_v4(id);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT INTO operations(id, kind, state, progress, created, updated) "
		    "VALUES (?1, ?2, 'pending', 0, ?3, ?3);",
		    &st) < 0)
		return -EIO;
	int64_t now = now_unix();
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	memcpy(ret_id, id, sizeof(id));
	return 0;
}

int coco_store_op_update(struct coco_store *s, const char *id, enum coco_op_state state,
			 int progress, const char *message, const char *result_json)
{
	if (progress < 0 || progress > 100 || (size_t)state >= ARRAY_SIZE(op_state_names))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "UPDATE operations SET state=?2, progress=?3, message=?4, "
		    "result=COALESCE(?5, result), updated=?6 WHERE id=?1;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, coco_op_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, progress);
	sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, result_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now_unix());
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

int coco_store_op_get(struct coco_store *s, const char *id, struct coco_operation *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT id, kind, state, progress, message, result, created, updated "
		    "FROM operations WHERE id=?1;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	struct coco_operation op = {0};
	snprintf(op.id, sizeof(op.id), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(op.kind, sizeof(op.kind), "%s", (const char *)sqlite3_column_text(st, 1));
	if (op_state_from_name((const char *)sqlite3_column_text(st, 2), &op.state) < 0)
		return -EIO;
	op.progress = sqlite3_column_int(st, 3);
	op.message = column_strdup(st, 4);
	op.result_json = column_strdup(st, 5);
	op.created = sqlite3_column_int64(st, 6);
	op.updated = sqlite3_column_int64(st, 7);
	*ret = op;
	return 0;
}

void coco_operation_clear(struct coco_operation *op)
{
	free(op->message);
	free(op->result_json);
	op->message = op->result_json = NULL;
}

int coco_store_audit(struct coco_store *s, const char *actor, const char *action,
		     const char *detail)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "INSERT INTO audit_log(at, actor, action, detail) VALUES (?1, ?2, ?3, ?4);",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, now_unix());
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

int coco_store_audit_count(struct coco_store *s, const char *action, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "SELECT COUNT(*) FROM audit_log WHERE action=?1;", &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}
