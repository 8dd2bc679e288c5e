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
	/* 2: SNP certificate cache. Keys that are not per chip (ARK, ASK, ASVK, CRL) use hwid ''
	 * and tcb 0; tcb is the u64 reported TCB (FMC included on Turin) stored bit for bit. */
	"CREATE TABLE snp_certs ("
	"  product TEXT NOT NULL,"
	"  hwid TEXT NOT NULL,"
	"  tcb INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('vcek','vlek','ask','asvk','ark','crl')),"
	"  der BLOB NOT NULL,"
	"  source TEXT NOT NULL CHECK (source IN ('kds','import','emulated')),"
	"  fetched_at INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  PRIMARY KEY (product, hwid, tcb, kind));",
	/* 3: the loaded VLEK's wrapped hashstick (at most one), reloaded at start. */
	"CREATE TABLE snp_vlek ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  hashstick BLOB NOT NULL CHECK (length(hashstick) = 432),"
	"  tcb INTEGER NOT NULL,"
	"  product TEXT NOT NULL,"
	"  loaded_at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL);",
	/* 4: the TDX module update journal (tdxd/update.c): one row per update attempt, and its
	 * steps, each written before and after the step it names, so that a restart after
	 * kill -9 finds what was in progress. */
	"CREATE TABLE tdx_updates ("
	"  id TEXT PRIMARY KEY,"
	"  op_id TEXT,"
	"  from_version TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('running','succeeded','failed','refused','lost')),"
	"  step TEXT NOT NULL,"
	"  detail TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER);"
	"CREATE INDEX tdx_updates_state ON tdx_updates(state);"
	"CREATE TABLE tdx_update_steps ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  update_id TEXT NOT NULL REFERENCES tdx_updates(id),"
	"  step TEXT NOT NULL,"
	"  detail TEXT,"
	"  at INTEGER NOT NULL);",
	/* 5: confidential guests (cocod/svc_guest.c): what was asked (the request document),
	 * the measurement the launch must produce, and the platform TCB at launch. */
	"CREATE TABLE guests ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  tee TEXT NOT NULL CHECK (tee IN ('snp','tdx')),"
	"  backend TEXT NOT NULL CHECK (backend IN ('emulated','libvirt')),"
	"  request TEXT NOT NULL,"
	"  expected TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('launching','running','failed','stopped','lost')),"
	"  detail TEXT,"
	"  platform_tcb INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  launched INTEGER NOT NULL);",
	/* 6: Idempotency-Key records of POSTs, per (key, actor): the request's SHA-256 and the
	 * response given. */
	"CREATE TABLE idempotency ("
	"  key TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  op TEXT NOT NULL,"
	"  request_sha256 BLOB NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  location TEXT NOT NULL,"
	"  response TEXT,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (key, actor));",
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
	/* The store holds secrets (the VLEK hashstick): owner only, whatever the umask was. The
	 * -wal and -shm files take the database file's mode. */
	if (chmod(path, 0600) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(e));
		coco_store_close(s);
		return -e;
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

/* Step a single-row query: 0 with the row ready, -ENOENT when there is none, -EIO. */
static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

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
	int rc = step_row(st);
	if (rc < 0)
		return rc;
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

static const char *const cert_kind_names[] = {
	[COCO_CERT_VCEK] = "vcek", [COCO_CERT_VLEK] = "vlek", [COCO_CERT_ASK] = "ask",
	[COCO_CERT_ASVK] = "asvk", [COCO_CERT_ARK] = "ark",   [COCO_CERT_CRL] = "crl",
};
static const char *const cert_source_names[] = {
	[COCO_CERT_SRC_KDS] = "kds",
	[COCO_CERT_SRC_IMPORT] = "import",
	[COCO_CERT_SRC_EMULATED] = "emulated",
};

const char *coco_cert_kind_name(enum coco_cert_kind k)
{
	return (size_t)k < ARRAY_SIZE(cert_kind_names) ? cert_kind_names[k] : NULL;
}

const char *coco_cert_source_name(enum coco_cert_source src)
{
	return (size_t)src < ARRAY_SIZE(cert_source_names) ? cert_source_names[src] : NULL;
}

int coco_cert_kind_from_name(const char *s, enum coco_cert_kind *ret)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(cert_kind_names); i++)
		if (streq(cert_kind_names[i], s)) {
			*ret = (enum coco_cert_kind)i;
			return 0;
		}
	return -EINVAL;
}

static int cert_source_from_name(const char *s, enum coco_cert_source *ret)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(cert_source_names); i++)
		if (streq(cert_source_names[i], s)) {
			*ret = (enum coco_cert_source)i;
			return 0;
		}
	return -EINVAL;
}

static bool cert_key_valid(const struct coco_cert_key *k)
{
	if (!coco_cert_kind_name(k->kind))
		return false;
	size_t pl = strnlen(k->product, sizeof(k->product));
	if (pl == 0 || pl == sizeof(k->product))
		return false;
	for (size_t i = 0; i < pl; i++) {
		char c = k->product[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	size_t hl = strnlen(k->hwid, sizeof(k->hwid));
	if (hl == sizeof(k->hwid))
		return false;
	for (size_t i = 0; i < hl; i++) {
		char c = k->hwid[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	/* VCEK is per chip and TCB; VLEK per TCB (its hwid may be ""); the rest are neither. */
	bool per_chip = k->kind == COCO_CERT_VCEK || k->kind == COCO_CERT_VLEK;
	if (!per_chip && (hl != 0 || k->tcb != 0))
		return false;
	if (k->kind == COCO_CERT_VCEK && hl == 0)
		return false;
	return true;
}

static void bind_cert_key(sqlite3_stmt *st, const struct coco_cert_key *k)
{
	sqlite3_bind_text(st, 1, k->product, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->hwid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)k->tcb); /* the u64 bit for bit */
	sqlite3_bind_text(st, 4, coco_cert_kind_name(k->kind), -1, SQLITE_STATIC);
}

int coco_store_cert_put(struct coco_store *s, const struct coco_cert_record *rec)
{
	if (!rec || !cert_key_valid(&rec->key) || !coco_cert_source_name(rec->source) ||
	    !rec->der || rec->der_len == 0 || rec->der_len > COCO_CERT_DER_MAX)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT OR REPLACE INTO snp_certs(product, hwid, tcb, kind, der, source, "
		    "fetched_at, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);",
		    &st) < 0)
		return -EIO;
	bind_cert_key(st, &rec->key);
	sqlite3_bind_blob(st, 5, rec->der, (int)rec->der_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, coco_cert_source_name(rec->source), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, rec->fetched_at);
	sqlite3_bind_int64(st, 8, rec->not_after);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

/* Columns: product, hwid, tcb, kind, der, source, fetched_at, not_after. */
static int cert_row(sqlite3_stmt *st, struct coco_cert_record *ret)
{
	struct coco_cert_record r = {0};
	const char *product = (const char *)sqlite3_column_text(st, 0);
	const char *hwid = (const char *)sqlite3_column_text(st, 1);
	if (!product || !hwid || strlen(product) >= sizeof(r.key.product) ||
	    strlen(hwid) >= sizeof(r.key.hwid))
		return -EIO;
	strcpy(r.key.product, product);
	strcpy(r.key.hwid, hwid);
	r.key.tcb = (uint64_t)sqlite3_column_int64(st, 2);
	if (coco_cert_kind_from_name((const char *)sqlite3_column_text(st, 3), &r.key.kind) < 0 ||
	    cert_source_from_name((const char *)sqlite3_column_text(st, 5), &r.source) < 0)
		return -EIO;
	int n = sqlite3_column_bytes(st, 4);
	const void *der = sqlite3_column_blob(st, 4);
	if (n <= 0 || !der || (size_t)n > COCO_CERT_DER_MAX)
		return -EIO;
	r.der = malloc((size_t)n);
	if (!r.der)
		return -ENOMEM;
	memcpy(r.der, der, (size_t)n);
	r.der_len = (size_t)n;
	r.fetched_at = sqlite3_column_int64(st, 6);
	r.not_after = sqlite3_column_int64(st, 7);
	*ret = r;
	return 0;
}

#define CERT_COLUMNS "product, hwid, tcb, kind, der, source, fetched_at, not_after"

int coco_store_cert_get(struct coco_store *s, const struct coco_cert_key *key,
			struct coco_cert_record *ret)
{
	if (!key || !ret || !cert_key_valid(key))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT " CERT_COLUMNS " FROM snp_certs "
		    "WHERE product=?1 AND hwid=?2 AND tcb=?3 AND kind=?4;",
		    &st) < 0)
		return -EIO;
	bind_cert_key(st, key);
	int rc = step_row(st);
	if (rc < 0)
		return rc;
	return cert_row(st, ret);
}

int coco_store_cert_list(struct coco_store *s, const char *product, struct coco_cert_record **ret,
			 size_t *ret_n)
{
	if (!ret || !ret_n)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT " CERT_COLUMNS " FROM snp_certs WHERE ?1 IS NULL OR product=?1 "
		    "ORDER BY product, kind, hwid, tcb LIMIT ?2;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, product, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, COCO_CERT_LIST_MAX + 1);
	struct coco_cert_record *recs = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == COCO_CERT_LIST_MAX) {
			r = -E2BIG;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct coco_cert_record *t = realloc(recs, ncap * sizeof(*recs));
			if (!t) {
				r = -ENOMEM;
				break;
			}
			recs = t;
			cap = ncap;
		}
		if ((r = cert_row(st, &recs[n])) < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	if (r < 0) {
		coco_cert_records_free(recs, n);
		return r;
	}
	*ret = recs;
	*ret_n = n;
	return 0;
}

int coco_store_cert_delete(struct coco_store *s, const struct coco_cert_key *key)
{
	if (!key || !cert_key_valid(key))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "DELETE FROM snp_certs WHERE product=?1 AND hwid=?2 AND tcb=?3 AND kind=?4;",
		    &st) < 0)
		return -EIO;
	bind_cert_key(st, key);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

void coco_cert_record_clear(struct coco_cert_record *rec)
{
	if (!rec)
		return;
	free(rec->der);
	rec->der = NULL;
	rec->der_len = 0;
}

void coco_cert_records_free(struct coco_cert_record *recs, size_t n)
{
	for (size_t i = 0; recs && i < n; i++)
		coco_cert_record_clear(&recs[i]);
	free(recs);
}

/* ---------------------------------------------------------------- TDX update journal */

static const char *const tdx_update_state_names[] = {
	[COCO_TDX_UPDATE_RUNNING] = "running", [COCO_TDX_UPDATE_SUCCEEDED] = "succeeded",
	[COCO_TDX_UPDATE_FAILED] = "failed",   [COCO_TDX_UPDATE_REFUSED] = "refused",
	[COCO_TDX_UPDATE_LOST] = "lost",
};

const char *coco_tdx_update_state_name(enum coco_tdx_update_state st)
{
	return (unsigned)st < ARRAY_SIZE(tdx_update_state_names) ? tdx_update_state_names[st]
								  : NULL;
}

static int tdx_step_append(struct coco_store *s, const char *id, const char *step,
			   const char *detail, int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT INTO tdx_update_steps(update_id, step, detail, at) "
		    "VALUES (?1, ?2, ?3, ?4);",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

int coco_store_tdx_update_begin(struct coco_store *s, const char *op_id, const char *from,
				const char *target, const char *detail, char ret_id[static 37])
{
	char id[37];
	int r = uuid_v4(id);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT INTO tdx_updates(id, op_id, from_version, target, state, step, detail, "
		    "started) VALUES (?1, ?2, ?3, ?4, 'running', 'preflight', ?5, ?6);",
		    &st) < 0)
		return -EIO;
	int64_t now = now_unix();
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, op_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_DONE || tdx_step_append(s, id, "preflight", detail, now) < 0)
		return -EIO;
	memcpy(ret_id, id, sizeof(id));
	return 0;
}

int coco_store_tdx_update_step(struct coco_store *s, const char *id, const char *step,
			       const char *detail)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "UPDATE tdx_updates SET step=?2 WHERE id=?1 AND state='running';", &st) <
	    0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return tdx_step_append(s, id, step, detail, now_unix());
}

int coco_store_tdx_update_finish(struct coco_store *s, const char *id,
				 enum coco_tdx_update_state state, const char *detail)
{
	const char *name = coco_tdx_update_state_name(state);
	if (!name || state == COCO_TDX_UPDATE_RUNNING)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "UPDATE tdx_updates SET state=?2, step='done', detail=?3, finished=?4 "
		    "WHERE id=?1 AND state='running';",
		    &st) < 0)
		return -EIO;
	int64_t now = now_unix();
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return tdx_step_append(s, id, name, detail, now);
}

static int tdx_update_row(sqlite3_stmt *st, struct coco_tdx_update *u)
{
	memset(u, 0, sizeof(*u));
	const char *state = (const char *)sqlite3_column_text(st, 4);
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(tdx_update_state_names); i++)
		if (state && streq(state, tdx_update_state_names[i])) {
			u->state = (enum coco_tdx_update_state)i;
			known = true;
		}
	if (!known)
		return -EIO;
	snprintf(u->id, sizeof(u->id), "%s", (const char *)sqlite3_column_text(st, 0));
	const char *op = (const char *)sqlite3_column_text(st, 1);
	snprintf(u->op_id, sizeof(u->op_id), "%s", op ? op : "");
	snprintf(u->from_version, sizeof(u->from_version), "%s",
		 (const char *)sqlite3_column_text(st, 2));
	snprintf(u->target, sizeof(u->target), "%s", (const char *)sqlite3_column_text(st, 3));
	snprintf(u->step, sizeof(u->step), "%s", (const char *)sqlite3_column_text(st, 5));
	u->detail = column_strdup(st, 6);
	u->started = sqlite3_column_int64(st, 7);
	u->finished = sqlite3_column_type(st, 8) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 8);
	return 0;
}

/* Every row of st into a growing array of `size`-byte elements, each filled by row(); more
 * than max rows is -E2BIG. On failure the filled elements are released with clear_row(). */
static int collect_rows(sqlite3_stmt *st, size_t size, size_t max,
			int (*row)(sqlite3_stmt *st, void *elem), void (*clear_row)(void *elem),
			void **ret, size_t *ret_n)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int rc, r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t *nv = n < max ? realloc(v, (n + 1) * size) : NULL;
		if (!nv) {
			r = n < max ? -ENOMEM : -E2BIG;
			break;
		}
		v = nv;
		if ((r = row(st, v + n * size)) < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			clear_row(v + i * size);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int tdx_update_row_any(sqlite3_stmt *st, void *u) { return tdx_update_row(st, u); }
static void tdx_update_clear_any(void *p)
{
	struct coco_tdx_update *u = p;
	free(u->detail);
}

int coco_store_tdx_update_list(struct coco_store *s, bool running_only, size_t limit,
			       struct coco_tdx_update **ret, size_t *ret_n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT id, op_id, from_version, target, state, step, detail, started, finished "
		    "FROM tdx_updates WHERE (?1 = 0 OR state = 'running') "
		    "ORDER BY started DESC, rowid DESC LIMIT ?2;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_int(st, 1, running_only);
	sqlite3_bind_int64(st, 2, (int64_t)(limit ? limit : COCO_TDX_UPDATE_LIST_MAX));
	void *v;
	int r = collect_rows(st, sizeof(struct coco_tdx_update), SIZE_MAX, tdx_update_row_any,
			     tdx_update_clear_any, &v, ret_n);
	if (r == 0)
		*ret = v;
	return r;
}

int coco_store_tdx_update_steps(struct coco_store *s, const char *id,
				struct coco_tdx_update_step **ret, size_t *ret_n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT step, detail, at FROM tdx_update_steps WHERE update_id=?1 "
		    "ORDER BY seq LIMIT 4096;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	struct coco_tdx_update_step *v = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct coco_tdx_update_step *nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			coco_tdx_update_steps_free(v, n);
			return -ENOMEM;
		}
		v = nv;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].step, sizeof(v[n].step), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		v[n].detail = column_strdup(st, 1);
		v[n].at = sqlite3_column_int64(st, 2);
		n++;
	}
	if (rc != SQLITE_DONE) {
		coco_tdx_update_steps_free(v, n);
		return -EIO;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void coco_tdx_updates_free(struct coco_tdx_update *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].detail);
	free(v);
}

void coco_tdx_update_steps_free(struct coco_tdx_update_step *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].detail);
	free(v);
}

int coco_store_vlek_put(struct coco_store *s, const struct coco_vlek_record *rec)
{
	if (!rec || !rec->product[0] || !rec->actor[0])
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT OR REPLACE INTO snp_vlek(id, hashstick, tcb, product, loaded_at, actor) "
		    "VALUES (1, ?1, ?2, ?3, ?4, ?5);",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_blob(st, 1, rec->hashstick, sizeof(rec->hashstick), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)rec->tcb);
	sqlite3_bind_text(st, 3, rec->product, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, rec->loaded_at);
	sqlite3_bind_text(st, 5, rec->actor, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

int coco_store_vlek_get(struct coco_store *s, struct coco_vlek_record *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "SELECT hashstick, tcb, product, loaded_at, actor FROM snp_vlek WHERE id=1;",
		    &st) < 0)
		return -EIO;
	int rc = step_row(st);
	if (rc < 0)
		return rc;
	const void *hs = sqlite3_column_blob(st, 0);
	const char *product = (const char *)sqlite3_column_text(st, 2);
	const char *actor = (const char *)sqlite3_column_text(st, 4);
	if (!hs || sqlite3_column_bytes(st, 0) != (int)sizeof(ret->hashstick) || !product ||
	    !actor)
		return -EIO;
	struct coco_vlek_record r = {0};
	memcpy(r.hashstick, hs, sizeof(r.hashstick));
	r.tcb = (uint64_t)sqlite3_column_int64(st, 1);
	snprintf(r.product, sizeof(r.product), "%s", product);
	r.loaded_at = sqlite3_column_int64(st, 3);
	snprintf(r.actor, sizeof(r.actor), "%s", actor);
	*ret = r;
	explicit_bzero(&r, sizeof(r));
	return 0;
}

int coco_store_vlek_delete(struct coco_store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "DELETE FROM snp_vlek WHERE id=1;", &st) < 0)
		return -EIO;
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

/* --- guests --- */

static const char *const guest_state_names[] = {
	[COCO_GUEST_LAUNCHING] = "launching", [COCO_GUEST_RUNNING] = "running",
	[COCO_GUEST_FAILED] = "failed",	      [COCO_GUEST_STOPPED] = "stopped",
	[COCO_GUEST_LOST] = "lost",
};

const char *coco_guest_state_name(enum coco_guest_state st)
{
	return (unsigned)st < ARRAY_SIZE(guest_state_names) ? guest_state_names[st] : NULL;
}

static bool guest_valid(const struct coco_guest *g)
{
	return g && strlen(g->id) == 36 && g->name[0] && (streq(g->tee, "snp") || streq(g->tee, "tdx")) &&
	       (streq(g->backend, "emulated") || streq(g->backend, "libvirt")) && g->request &&
	       coco_guest_state_name(g->state) && g->expected[0];
}

int coco_store_guest_put(struct coco_store *s, const struct coco_guest *g)
{
	if (!guest_valid(g))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT INTO guests(id, name, tee, backend, request, expected, state, detail, "
		    "platform_tcb, created, launched) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11);",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, g->tee, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, g->backend, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, g->request, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, g->expected, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, coco_guest_state_name(g->state), -1, SQLITE_STATIC);
	if (g->detail)
		sqlite3_bind_text(st, 8, g->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (int64_t)g->platform_tcb);
	sqlite3_bind_int64(st, 10, g->created);
	sqlite3_bind_int64(st, 11, g->launched);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int guest_row(sqlite3_stmt *st, struct coco_guest *ret)
{
	struct coco_guest g = {0};
	const char *id = (const char *)sqlite3_column_text(st, 0);
	const char *name = (const char *)sqlite3_column_text(st, 1);
	const char *tee = (const char *)sqlite3_column_text(st, 2);
	const char *backend = (const char *)sqlite3_column_text(st, 3);
	const char *expected = (const char *)sqlite3_column_text(st, 5);
	const char *state = (const char *)sqlite3_column_text(st, 6);
	if (!id || !name || !tee || !backend || !expected || !state)
		return -EIO;
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.tee, sizeof(g.tee), "%s", tee);
	snprintf(g.backend, sizeof(g.backend), "%s", backend);
	snprintf(g.expected, sizeof(g.expected), "%s", expected);
	size_t i = 0;
	while (i < ARRAY_SIZE(guest_state_names) && !streq(guest_state_names[i], state))
		i++;
	if (i == ARRAY_SIZE(guest_state_names))
		return -EIO;
	g.state = (enum coco_guest_state)i;
	g.platform_tcb = (uint64_t)sqlite3_column_int64(st, 8);
	g.created = sqlite3_column_int64(st, 9);
	g.launched = sqlite3_column_int64(st, 10);
	g.request = column_strdup(st, 4);
	g.detail = column_strdup(st, 7);
	if (!g.request) {
		coco_guest_clear(&g);
		return -ENOMEM;
	}
	*ret = g;
	return 0;
}

static int guest_row_any(sqlite3_stmt *st, void *g) { return guest_row(st, g); }
static void guest_clear_any(void *g) { coco_guest_clear(g); }

#define GUEST_COLUMNS                                                                              \
	"SELECT id, name, tee, backend, request, expected, state, detail, platform_tcb, created, "  \
	"launched FROM guests "

int coco_store_guest_get(struct coco_store *s, const char *id, struct coco_guest *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, GUEST_COLUMNS "WHERE id=?1;", &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = step_row(st);
	if (rc < 0)
		return rc;
	return guest_row(st, ret);
}

int coco_store_guest_list(struct coco_store *s, struct coco_guest **ret, size_t *ret_n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, GUEST_COLUMNS "ORDER BY created, name;", &st) < 0)
		return -EIO;
	void *v;
	int r = collect_rows(st, sizeof(struct coco_guest), COCO_GUEST_LIST_MAX, guest_row_any,
			     guest_clear_any, &v, ret_n);
	if (r == 0)
		*ret = v;
	return r;
}

int coco_store_guest_set_state(struct coco_store *s, const char *id, enum coco_guest_state state,
			       const char *detail, int64_t launched)
{
	if (!coco_guest_state_name(state))
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "UPDATE guests SET state=?2, detail=?3, launched=CASE WHEN ?4 > 0 THEN ?4 "
		    "ELSE launched END WHERE id=?1;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, coco_guest_state_name(state), -1, SQLITE_STATIC);
	if (detail)
		sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, launched);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int coco_store_guest_delete(struct coco_store *s, const char *id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s, "DELETE FROM guests WHERE id=?1;", &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

void coco_guest_clear(struct coco_guest *g)
{
	free(g->request);
	free(g->detail);
	g->request = g->detail = NULL;
}

void coco_guests_free(struct coco_guest *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		coco_guest_clear(&v[i]);
	free(v);
}

/* ---------------------------------------------------------------- idempotency */

int coco_store_idem_get(struct coco_store *s, const char *key, const char *actor,
			struct coco_idem_record *ret)
{
	if (!key || !*key || !actor)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "SELECT op, request_sha256, status, location, response, created FROM idempotency "
		    "WHERE key=?1 AND actor=?2;",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	int rc = step_row(st);
	if (rc < 0)
		return rc;
	const char *op = (const char *)sqlite3_column_text(st, 0);
	const void *h = sqlite3_column_blob(st, 1);
	const char *loc = (const char *)sqlite3_column_text(st, 3);
	const char *resp = (const char *)sqlite3_column_text(st, 4);
	if (!op || !h || sqlite3_column_bytes(st, 1) != 32 || !loc)
		return -EIO;
	struct coco_idem_record r = {0};
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.actor, sizeof(r.actor), "%s", actor);
	snprintf(r.op, sizeof(r.op), "%s", op);
	memcpy(r.request_sha256, h, 32);
	r.status = sqlite3_column_int(st, 2);
	snprintf(r.location, sizeof(r.location), "%s", loc);
	if (resp && !(r.response = strdup(resp)))
		return -ENOMEM;
	r.created = sqlite3_column_int64(st, 5);
	*ret = r;
	return 0;
}

int coco_store_idem_put(struct coco_store *s, const struct coco_idem_record *rec)
{
	if (!rec->key[0] || !rec->op[0] || rec->status < 100 || rec->status > 599)
		return -EINVAL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(s,
		    "INSERT INTO idempotency(key, actor, op, request_sha256, status, location, "
		    "response, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);",
		    &st) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, rec->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rec->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rec->op, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, rec->request_sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, rec->status);
	sqlite3_bind_text(st, 6, rec->location, -1, SQLITE_STATIC);
	if (rec->response)
		sqlite3_bind_text(st, 7, rec->response, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int64(st, 8, rec->created ? rec->created : now_unix());
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

void coco_idem_record_clear(struct coco_idem_record *r)
{
	free(r->response);
	r->response = NULL;
}
