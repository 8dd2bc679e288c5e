/* Emulated TDX module + P-SEAMLDR (tdx_module.h). */
#include "hv/emul/tdx_module.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "coco/tdx/blob.h"
#include "coco/tdx/blobgen.h"
#include "coco/util.h"

#define MAX_TDS 64
#define TD_MAX_PAGES (1u << 16) /* 256 MiB of private memory per emulated TD */
#define PAGE 4096u
#define MR_RECORD 128	/* MRTD extension record (TDX base spec, TDH.MEM.PAGE.ADD) */
#define MR_CHUNK 256	/* TDH.MR.EXTEND extends 256 bytes per call */

struct td_page {
	uint64_t gpa; /* key + 1 in the table, 0 = empty slot */
	uint8_t *data;
};

struct td {
	uint32_t handle; /* 0 = slot free */
	enum emul_td_state state;
	bool migrating;
	struct emul_td_params params;
	EVP_MD_CTX *mrtd_ctx; /* running SHA-384 until finalize */
	uint8_t mrtd[48];
	uint8_t rtmr[4][48];
	struct td_page *pages; /* open addressing, cap entries */
	size_t npages, cap;
};

struct identity {
	struct hv_tdx_version version;
	struct tdx_sigstruct sig;
	uint8_t mrseam[48];
	uint8_t sig_raw[TDX_SIGSTRUCT_SIZE]; /* for the state file */
};

struct emul_tdx_module {
	pthread_mutex_t lock;
	struct emul_tdx_module_config cfg;
	struct identity boot;
	struct identity cur;
	bool present;
	uint32_t remaining;
	uint8_t mac_key[32];
	struct td tds[MAX_TDS];
	uint32_t next_handle;
	unsigned updates, failures;
	char *state_file; /* NULL: state not kept */
};

static void lose_module(struct emul_tdx_module *m);
static int state_save(struct emul_tdx_module *m);
static int state_load(struct emul_tdx_module *m);

/* ---------------------------------------------------------------- identity */

static int identity_from_parts(const uint8_t *sig, size_t sig_len, const uint8_t *mod,
			       size_t mod_len, struct identity *ret, char *err, size_t errlen)
{
	struct identity id = {0};
	int r = tdx_sigstruct_parse(sig, sig_len, &id.sig, err, errlen);
	if (r < 0)
		return r;
	memcpy(id.sig_raw, sig, sizeof(id.sig_raw)); /* sig_len >= 2048: parsed */
	unsigned mdlen = 0;
	if (!EVP_Digest(mod, mod_len, id.mrseam, &mdlen, EVP_sha384(), NULL))
		return set_error(err, errlen, -ENOMEM, "SHA-384 failed");
	if (!mem_equal_ct(id.mrseam, id.sig.seamhash, sizeof(id.mrseam)))
		return set_error(err, errlen, -EBADMSG,
				 "seamhash does not match SHA-384 of the module");
	if (tdx_synth_module_version(mod, mod_len, &id.version.major, &id.version.minor,
				     &id.version.update) < 0)
		return set_error(err, errlen, -EINVAL,
				 "not a module this emulator can run (no synthetic header)");
	*ret = id;
	return 0;
}

int emul_tdx_module_new(const struct emul_tdx_module_config *cfg, struct emul_tdx_module **ret)
{
	_cleanup_free_ struct emul_tdx_module *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->cfg.boot_blob = NULL; /* not kept: the identity is */
	m->cfg.state_file = NULL;
	if (cfg->state_file && !(m->state_file = strdup(cfg->state_file)))
		return -ENOMEM;
	if (!m->cfg.cpuid_1_eax)
		m->cfg.cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT;
	if (!m->cfg.seamldr_version.major && !m->cfg.seamldr_version.minor &&
	    !m->cfg.seamldr_version.update)
		m->cfg.seamldr_version = (struct hv_tdx_version){1, 5, 2};

	_cleanup_free_ uint8_t *gen = NULL;
	const uint8_t *blob = cfg->boot_blob;
	size_t blen = cfg->boot_blob_len;
	if (!blob) {
		struct hv_tdx_version v = cfg->boot_version;
		if (!v.major && !v.minor && !v.update)
			v = (struct hv_tdx_version){1, 5, 6};
		uint32_t id = m->cfg.cpuid_1_eax;
		struct tdx_blobgen_params p = {.major = v.major, .minor = v.minor,
					       .update = v.update, .module_pages = 8,
					       .cpuid = &id, .cpuid_count = 1};
		int r = tdx_blobgen(&p, &gen, &blen);
		if (r < 0)
			return r;
		blob = gen;
	}
	struct tdx_blob b;
	int r = tdx_blob_parse(blob, blen, &b, NULL, 0);
	if (r < 0)
		return r;
	r = identity_from_parts(blob + b.sigstruct_off, b.sigstruct_len, blob + b.module_off,
				b.module_len, &m->boot, NULL, 0);
	if (r < 0)
		return r;
	if (RAND_bytes(m->mac_key, sizeof(m->mac_key)) != 1)
		return -EIO;
	if ((r = pthread_mutex_init(&m->lock, NULL)) != 0)
		return -r;
	m->cur = m->boot;
	m->present = true;
	m->remaining = cfg->num_remaining_updates;
	m->next_handle = 1;
	if (m->state_file && (r = state_load(m)) < 0) {
		pthread_mutex_destroy(&m->lock);
		free(m->state_file);
		return r;
	}
	*ret = TAKE_PTR(m);
	return 0;
}

static void td_release(struct td *t)
{
	if (t->pages)
		for (size_t i = 0; i < t->cap; i++)
			free(t->pages[i].data);
	free(t->pages);
	EVP_MD_CTX_free(t->mrtd_ctx);
	memset(t, 0, sizeof(*t));
}

void emul_tdx_module_free(struct emul_tdx_module *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < MAX_TDS; i++)
		td_release(&m->tds[i]);
	pthread_mutex_destroy(&m->lock);
	OPENSSL_cleanse(m->mac_key, sizeof(m->mac_key));
	free(m->state_file);
	free(m);
}

int emul_tdx_module_identity(struct emul_tdx_module *m, struct emul_tdx_identity *ret)
{
	pthread_mutex_lock(&m->lock);
	int r = -ENXIO;
	if (m->present) {
		struct emul_tdx_identity id = {
			.version = m->cur.version,
			.seamsvn = m->cur.sig.seamsvn,
			.attributes = m->cur.sig.attributes,
			.module_hv = m->cur.sig.module_hv,
			.min_update_hv = m->cur.sig.min_update_hv,
			.debug = m->cur.sig.debug,
		};
		memcpy(id.mrseam, m->cur.mrseam, sizeof(id.mrseam));
		*ret = id;
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void emul_tdx_seamldr_info(struct emul_tdx_module *m, struct hv_tdx_version *ret_version,
			   uint32_t *ret_remaining)
{
	pthread_mutex_lock(&m->lock);
	if (ret_version)
		*ret_version = m->cfg.seamldr_version;
	if (ret_remaining)
		*ret_remaining = m->remaining;
	pthread_mutex_unlock(&m->lock);
}

bool emul_tdx_module_present(struct emul_tdx_module *m)
{
	pthread_mutex_lock(&m->lock);
	bool p = m->present;
	pthread_mutex_unlock(&m->lock);
	return p;
}

void emul_tdx_module_counters(struct emul_tdx_module *m, unsigned *ret_updates,
			      unsigned *ret_failures)
{
	pthread_mutex_lock(&m->lock);
	if (ret_updates)
		*ret_updates = m->updates;
	if (ret_failures)
		*ret_failures = m->failures;
	pthread_mutex_unlock(&m->lock);
}

void emul_tdx_module_fail(struct emul_tdx_module *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->present) {
		lose_module(m);
		state_save(m);
	}
	pthread_mutex_unlock(&m->lock);
}

void emul_tdx_module_reboot(struct emul_tdx_module *m)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < MAX_TDS; i++)
		td_release(&m->tds[i]);
	m->cur = m->boot;
	m->present = true;
	m->remaining = m->cfg.num_remaining_updates;
	state_save(m);
	pthread_mutex_unlock(&m->lock);
}

/* ---------------------------------------------------------------- state file */

/* Text, one "key value" per line:
 *   emul-tdx-module 1
 *   present 0|1
 *   remaining <u32>
 *   version <x.y.zz>          the running (or last) module
 *   mrseam <96 hex>
 *   sigstruct <4096 hex>
 * Under the lock. Best effort: the emulated module runs on when the disk fails. */
static int state_save(struct emul_tdx_module *m)
{
	if (!m->state_file)
		return 0;
	char v[TDX_VERSION_STRLEN], mr[97];
	static char sig[2 * TDX_SIGSTRUCT_SIZE + 1]; /* under m->lock */
	tdx_version_format(&m->cur.version, v);
	hex_encode(m->cur.mrseam, sizeof(m->cur.mrseam), mr);
	hex_encode(m->cur.sig_raw, sizeof(m->cur.sig_raw), sig);
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", m->state_file) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "emul-tdx-module 1\npresent %d\nremaining %u\nversion %s\nmrseam %s\n"
		   "sigstruct %s\n",
		m->present, m->remaining, v, mr, sig);
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, m->state_file) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* The value of "key value" among lines already split at NULs (buf[0..len)). */
static const char *state_field(const char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
		if (strncmp(buf + off, key, kl) == 0 && buf[off + kl] == ' ')
			return buf + off + kl + 1;
	return NULL;
}

/* The state a previous process left; a missing file is the first start. */
static int state_load(struct emul_tdx_module *m)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_max(m->state_file, 16384, &buf, &len);
	if (r == -ENOENT)
		return state_save(m) < 0 ? -EIO : 0;
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = '\0';
	const char *hdr = state_field(buf, len, "emul-tdx-module"),
		   *pr = state_field(buf, len, "present"), *rem = state_field(buf, len, "remaining"),
		   *ver = state_field(buf, len, "version"), *mr = state_field(buf, len, "mrseam"),
		   *sig = state_field(buf, len, "sigstruct");
	struct identity id = {0};
	uint64_t n;
	if (!hdr || !streq(hdr, "1") || !pr || (!streq(pr, "0") && !streq(pr, "1")) || !rem ||
	    parse_uint(rem, UINT32_MAX, &n) < 0 || !ver ||
	    tdx_version_parse(ver, strlen(ver), &id.version) < 0 ||
	    hex_decode_exact(mr, id.mrseam, sizeof(id.mrseam)) < 0 ||
	    hex_decode_exact(sig, id.sig_raw, sizeof(id.sig_raw)) < 0 ||
	    tdx_sigstruct_parse(id.sig_raw, sizeof(id.sig_raw), &id.sig, NULL, 0) < 0 ||
	    !mem_equal_ct(id.mrseam, id.sig.seamhash, sizeof(id.mrseam)))
		return -EINVAL;
	m->cur = id;
	m->present = streq(pr, "1");
	m->remaining = (uint32_t)n;
	return 0;
}

/* ---------------------------------------------------------------- update */

static void outcome(struct emul_tdx_update_outcome *o, enum emul_tdx_update_result res,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void outcome(struct emul_tdx_update_outcome *o, enum emul_tdx_update_result res,
		    const char *fmt, ...)
{
	o->result = res;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
}

static void lose_module(struct emul_tdx_module *m)
{
	m->present = false;
	for (size_t i = 0; i < MAX_TDS; i++)
		if (m->tds[i].handle)
			m->tds[i].state = EMUL_TD_DEAD;
	m->failures++;
}

int emul_tdx_module_update(struct emul_tdx_module *m, const uint8_t *sigstruct, size_t sig_len,
			   const uint8_t *module, size_t mod_len, bool all_cpus_online,
			   enum emul_tdx_update_step fail_at, struct emul_tdx_update_outcome *ret)
{
	struct emul_tdx_update_outcome o = {0};
	char why[128] = "";
	pthread_mutex_lock(&m->lock);

	/* TDH.SYS.SHUTDOWN (with "avoid compat-sensitive"): nothing to shut down, or refused. */
	if (!m->present) {
		outcome(&o, EMUL_TDX_REFUSED, "no TDX module is loaded");
		m->failures++;
		goto out;
	}
	for (size_t i = 0; i < MAX_TDS; i++) {
		const struct td *t = &m->tds[i];
		if (t->handle && (t->state == EMUL_TD_BUILDING || t->migrating)) {
			outcome(&o, EMUL_TDX_REFUSED_BUSY,
				"TD %u has a %s in flight: shutdown refused", t->handle,
				t->migrating ? "migration" : "build");
			m->failures++;
			goto out;
		}
	}
	if (fail_at == EMUL_TDX_STEP_SHUTDOWN) {
		outcome(&o, EMUL_TDX_REFUSED, "TDH.SYS.SHUTDOWN failed (injected)");
		m->failures++;
		goto out;
	}
	/* Shut down: TDs pause (they hold no CPU until the new module resumes them). From here
	 * on a failure leaves no module. */
	struct identity next;
	if (fail_at == EMUL_TDX_STEP_INSTALL) {
		snprintf(why, sizeof(why), "SEAMLDR.INSTALL failed (injected)");
	} else if (m->remaining == 0) {
		snprintf(why, sizeof(why), "P-SEAMLDR has no updates left");
	} else if (!all_cpus_online) {
		snprintf(why, sizeof(why), "SEAMLDR.INSTALL did not run on every CPU");
	} else if (identity_from_parts(sigstruct, sig_len, module, mod_len, &next, why,
				       sizeof(why)) < 0) {
		/* why says it */
	} else if (next.sig.debug && !m->cfg.allow_debug_modules) {
		snprintf(why, sizeof(why), "debug-signed module on a production platform");
	} else if (!tdx_sigstruct_supports_cpu(&next.sig, m->cfg.cpuid_1_eax)) {
		snprintf(why, sizeof(why), "module does not list CPUID.1.EAX 0x%08x",
			 m->cfg.cpuid_1_eax);
	} else if (next.sig.no_downgrade && next.sig.seamsvn < m->cur.sig.seamsvn) {
		snprintf(why, sizeof(why), "SEAMSVN downgrade 0x%04x -> 0x%04x refused",
			 m->cur.sig.seamsvn, next.sig.seamsvn);
	} else if (next.version.major != m->cur.version.major ||
		   next.version.minor != m->cur.version.minor ||
		   next.sig.min_update_hv > m->cur.sig.module_hv) {
		snprintf(why, sizeof(why),
			 "hand-off from %u.%u.%02u (hv %u) not accepted by %u.%u.%02u (min hv %u)",
			 m->cur.version.major, m->cur.version.minor, m->cur.version.update,
			 m->cur.sig.module_hv, next.version.major, next.version.minor,
			 next.version.update, next.sig.min_update_hv);
	} else if (fail_at == EMUL_TDX_STEP_RUN_UPDATE) {
		snprintf(why, sizeof(why), "TDH.SYS.UPDATE failed (injected)");
	}
	if (why[0]) {
		lose_module(m);
		state_save(m);
		outcome(&o, EMUL_TDX_LOST, "after shutdown: %s; no module, every TD lost", why);
		goto out;
	}
	m->cur = next;
	m->remaining--;
	m->updates++;
	state_save(m);
	outcome(&o, EMUL_TDX_UPDATED, "updated to %u.%u.%02u", next.version.major,
		next.version.minor, next.version.update);
out:
	pthread_mutex_unlock(&m->lock);
	*ret = o;
	return 0;
}

/* ---------------------------------------------------------------- TDs */

static struct td *td_get(struct emul_tdx_module *m, uint32_t handle)
{
	if (!handle)
		return NULL;
	for (size_t i = 0; i < MAX_TDS; i++)
		if (m->tds[i].handle == handle)
			return &m->tds[i];
	return NULL;
}

/* Locks, finds the TD and checks the module is there; on error unlocks. */
static int td_enter(struct emul_tdx_module *m, uint32_t handle, struct td **ret)
{
	pthread_mutex_lock(&m->lock);
	struct td *t = td_get(m, handle);
	int r = !t ? -ENOENT : !m->present || t->state == EMUL_TD_DEAD ? -ENXIO : 0;
	if (r < 0) {
		pthread_mutex_unlock(&m->lock);
		return r;
	}
	*ret = t;
	return 0;
}

int emul_tdx_td_create(struct emul_tdx_module *m, const struct emul_td_params *p,
		       uint32_t *ret_td)
{
	pthread_mutex_lock(&m->lock);
	int r = 0;
	struct td *t = NULL;
	if (!m->present) {
		r = -ENXIO;
		goto out;
	}
	for (size_t i = 0; i < MAX_TDS && !t; i++)
		if (!m->tds[i].handle)
			t = &m->tds[i];
	if (!t) {
		r = -ENOSPC;
		goto out;
	}
	t->mrtd_ctx = EVP_MD_CTX_new();
	if (!t->mrtd_ctx || !EVP_DigestInit_ex(t->mrtd_ctx, EVP_sha384(), NULL)) {
		EVP_MD_CTX_free(t->mrtd_ctx);
		t->mrtd_ctx = NULL;
		r = -ENOMEM;
		goto out;
	}
	t->handle = m->next_handle++;
	t->state = EMUL_TD_BUILDING;
	t->params = *p;
	*ret_td = t->handle;
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

static size_t slot_of(const struct td *t, uint64_t gpa)
{
	uint64_t h = (gpa >> 12) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (t->cap - 1);
}

static struct td_page *page_find(const struct td *t, uint64_t gpa)
{
	if (!t->cap)
		return NULL;
	for (size_t i = slot_of(t, gpa), n = 0; n < t->cap; i = (i + 1) & (t->cap - 1), n++) {
		if (!t->pages[i].gpa)
			return NULL;
		if (t->pages[i].gpa == gpa + 1)
			return &t->pages[i];
	}
	return NULL;
}

static int page_insert(struct td *t, uint64_t gpa, uint8_t *data)
{
	if (t->npages * 2 >= t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct td_page *np = calloc(ncap, sizeof(*np));
		if (!np)
			return -ENOMEM;
		struct td_page *old = t->pages;
		size_t ocap = t->cap;
		t->pages = np;
		t->cap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].gpa)
				continue;
			size_t j = slot_of(t, old[i].gpa - 1);
			while (t->pages[j].gpa)
				j = (j + 1) & (t->cap - 1);
			t->pages[j] = old[i];
		}
		free(old);
	}
	size_t j = slot_of(t, gpa);
	while (t->pages[j].gpa)
		j = (j + 1) & (t->cap - 1);
	t->pages[j] = (struct td_page){.gpa = gpa + 1, .data = data};
	t->npages++;
	return 0;
}

static int mrtd_record(struct td *t, const char *tag, uint64_t gpa, const uint8_t *data,
		       size_t datalen)
{
	uint8_t rec[MR_RECORD] = {0};
	memcpy(rec, tag, strlen(tag));
	for (int i = 0; i < 8; i++)
		rec[16 + i] = (uint8_t)(gpa >> (8 * i));
	if (!EVP_DigestUpdate(t->mrtd_ctx, rec, sizeof(rec)) ||
	    (datalen && !EVP_DigestUpdate(t->mrtd_ctx, data, datalen)))
		return -ENOMEM;
	return 0;
}

int emul_tdx_td_page_add(struct emul_tdx_module *m, uint32_t td, uint64_t gpa,
			 const uint8_t page[4096])
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	if (t->state != EMUL_TD_BUILDING || gpa % PAGE || gpa == UINT64_MAX - PAGE + 1)
		r = -EINVAL;
	else if (page_find(t, gpa))
		r = -EEXIST;
	else if (t->npages >= TD_MAX_PAGES)
		r = -ENOSPC;
	else {
		uint8_t *copy = malloc(PAGE);
		if (!copy)
			r = -ENOMEM;
		else {
			memcpy(copy, page, PAGE);
			r = page_insert(t, gpa, copy);
			if (r < 0)
				free(copy);
			else
				r = mrtd_record(t, "MEM.PAGE.ADD", gpa, NULL, 0);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int emul_tdx_td_mr_extend(struct emul_tdx_module *m, uint32_t td, uint64_t gpa)
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	const struct td_page *pg = NULL;
	if (t->state != EMUL_TD_BUILDING || gpa % MR_CHUNK)
		r = -EINVAL;
	else if (!(pg = page_find(t, gpa & ~(uint64_t)(PAGE - 1))))
		r = -ENOENT; /* TDX: the page must have been added (TDX_PAGE_METADATA_INCORRECT) */
	else
		r = mrtd_record(t, "MR.EXTEND", gpa, pg->data + (gpa % PAGE), MR_CHUNK);
	pthread_mutex_unlock(&m->lock);
	return r;
}

int emul_tdx_td_finalize(struct emul_tdx_module *m, uint32_t td)
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	unsigned n = 0;
	if (t->state != EMUL_TD_BUILDING)
		r = -EINVAL;
	else if (!EVP_DigestFinal_ex(t->mrtd_ctx, t->mrtd, &n) || n != sizeof(t->mrtd))
		r = -ENOMEM;
	else
		t->state = EMUL_TD_RUNNABLE;
	pthread_mutex_unlock(&m->lock);
	return r;
}

int emul_tdx_td_mrtd(struct emul_tdx_module *m, uint32_t td, uint8_t ret[48])
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	if (t->state != EMUL_TD_RUNNABLE)
		r = -EINVAL;
	else
		memcpy(ret, t->mrtd, 48);
	pthread_mutex_unlock(&m->lock);
	return r;
}

int emul_tdx_td_rtmr_extend(struct emul_tdx_module *m, uint32_t td, unsigned index,
			    const uint8_t digest[48])
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	uint8_t buf[96];
	unsigned n = 0;
	if (t->state != EMUL_TD_RUNNABLE || index > 3)
		r = -EINVAL;
	else {
		memcpy(buf, t->rtmr[index], 48);
		memcpy(buf + 48, digest, 48);
		if (!EVP_Digest(buf, sizeof(buf), t->rtmr[index], &n, EVP_sha384(), NULL))
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int emul_tdx_td_set_migrating(struct emul_tdx_module *m, uint32_t td, bool migrating)
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	t->migrating = migrating;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int emul_tdx_td_state(struct emul_tdx_module *m, uint32_t td, enum emul_td_state *ret)
{
	pthread_mutex_lock(&m->lock);
	struct td *t = td_get(m, td);
	if (t)
		*ret = t->state;
	pthread_mutex_unlock(&m->lock);
	return t ? 0 : -ENOENT;
}

int emul_tdx_td_destroy(struct emul_tdx_module *m, uint32_t td)
{
	pthread_mutex_lock(&m->lock);
	struct td *t = td_get(m, td);
	if (t)
		td_release(t);
	pthread_mutex_unlock(&m->lock);
	return t ? 0 : -ENOENT;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int report_seal(const uint8_t key[32], uint8_t *rep)
{
	unsigned n = 0;
	if (!EVP_Digest(rep + TDREPORT_TEE_TCB_INFO_OFF, TDREPORT_TEE_TCB_INFO_SIZE,
			rep + TDREPORT_TEE_TCB_INFO_HASH_OFF, &n, EVP_sha384(), NULL) ||
	    !EVP_Digest(rep + TDREPORT_TDINFO_OFF, TDREPORT_TDINFO_SIZE,
			rep + TDREPORT_TEE_INFO_HASH_OFF, &n, EVP_sha384(), NULL) ||
	    !HMAC(EVP_sha256(), key, 32, rep, TDREPORT_MAC_OFF, rep + TDREPORT_MAC_OFF, &n))
		return -ENOMEM;
	return 0;
}

int emul_tdx_td_report(struct emul_tdx_module *m, uint32_t td, const uint8_t report_data[64],
		       uint8_t ret[EMUL_TDREPORT_SIZE])
{
	struct td *t;
	int r = td_enter(m, td, &t);
	if (r < 0)
		return r;
	if (t->state != EMUL_TD_RUNNABLE) {
		pthread_mutex_unlock(&m->lock);
		return -EINVAL;
	}
	uint8_t rep[EMUL_TDREPORT_SIZE] = {0};
	/* REPORTTYPE: TDX (0x81), subtype 0, version 1 (TDX 1.5: SERVTD_HASH present) */
	rep[TDREPORT_TYPE_OFF] = 0x81;
	rep[TDREPORT_TYPE_OFF + 2] = 1;
	memcpy(rep + TDREPORT_REPORTDATA_OFF, report_data, 64);
	uint8_t *tcb = rep + TDREPORT_TEE_TCB_INFO_OFF;
	/* VALID: bit i = the 8 bytes at 8*i are valid: TEE_TCB_SVN through ATTRIBUTES (1..15). */
	put64(tcb + TEE_TCB_INFO_VALID_OFF, 0xfffeull);
	tcb[TEE_TCB_INFO_SVN_OFF] = (uint8_t)m->cur.sig.seamsvn;
	tcb[TEE_TCB_INFO_SVN_OFF + 1] = (uint8_t)(m->cur.sig.seamsvn >> 8);
	memcpy(tcb + TEE_TCB_INFO_MRSEAM_OFF, m->cur.mrseam, 48);
	put64(tcb + TEE_TCB_INFO_ATTRIBUTES_OFF, m->cur.sig.attributes);
	uint8_t *ti = rep + TDREPORT_TDINFO_OFF;
	put64(ti + TDINFO_ATTRIBUTES_OFF, t->params.attributes);
	put64(ti + TDINFO_XFAM_OFF, t->params.xfam);
	memcpy(ti + TDINFO_MRTD_OFF, t->mrtd, 48);
	memcpy(ti + TDINFO_MRCONFIGID_OFF, t->params.mrconfigid, 48);
	memcpy(ti + TDINFO_MROWNER_OFF, t->params.mrowner, 48);
	memcpy(ti + TDINFO_MROWNERCONFIG_OFF, t->params.mrownerconfig, 48);
	memcpy(ti + TDINFO_RTMR_OFF, t->rtmr, sizeof(t->rtmr));
	r = report_seal(m->mac_key, rep);
	pthread_mutex_unlock(&m->lock);
	if (r == 0)
		memcpy(ret, rep, sizeof(rep));
	return r;
}

int emul_tdx_report_verify(struct emul_tdx_module *m, const uint8_t report[EMUL_TDREPORT_SIZE])
{
	uint8_t again[EMUL_TDREPORT_SIZE];
	memcpy(again, report, sizeof(again));
	pthread_mutex_lock(&m->lock);
	int r = report_seal(m->mac_key, again);
	pthread_mutex_unlock(&m->lock);
	if (r < 0)
		return r;
	return mem_equal_ct(again, report, sizeof(again)) ? 0 : -EBADMSG;
}
