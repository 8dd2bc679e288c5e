/* Module inventory and selection (coco/tdx/select.h). */
#include "coco/tdx/select.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <stdarg.h>

#include "coco/util.h"

int tdx_module_file_name_version(const char *name, struct tdx_version *ret)
{
	size_t n = strlen(name), lp = strlen(TDX_MODULE_FILE_PREFIX),
	       ls = strlen(TDX_MODULE_FILE_SUFFIX);
	if (n <= lp + ls || strncmp(name, TDX_MODULE_FILE_PREFIX, lp) != 0 ||
	    strcmp(name + n - ls, TDX_MODULE_FILE_SUFFIX) != 0)
		return -EINVAL;
	return tdx_version_parse(name + lp, n - lp - ls, ret) < 0 ? -EINVAL : 0;
}

/* A regular file under dir of at most TDX_BLOB_MAX_SIZE bytes. */
static int read_blob(const char *dir, const char *name, uint8_t **ret, size_t *ret_len,
		     char *err, size_t errlen)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return set_error(err, errlen, -ENAMETOOLONG, "path too long");
	char *buf;
	int r = read_file_max(path, TDX_BLOB_MAX_SIZE, &buf, ret_len);
	if (r == -EFBIG)
		return set_error(err, errlen, r, "over the %u-byte limit", TDX_BLOB_MAX_SIZE);
	if (r == -EINVAL)
		return set_error(err, errlen, r, "not a regular file");
	if (r < 0)
		return set_error(err, errlen, r, "cannot read: %s", strerror(-r));
	*ret = (uint8_t *)buf;
	return 0;
}

/* Parse and verify; a failure goes into f->error. */
static void check_file(const char *dir, struct tdx_module_file *f)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len = 0;
	char msg[200];
	int r = read_blob(dir, f->name, &data, &len, msg, sizeof(msg));
	if (r == 0) {
		f->size = len;
		r = tdx_blob_parse(data, len, &f->blob, msg, sizeof(msg));
	}
	if (r == 0)
		r = tdx_blob_verify(data, &f->blob, f->mrseam, msg, sizeof(msg));
	if (r == 0)
		SHA384(data, len, f->sha384);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		f->error = r;
		snprintf(f->error_msg, sizeof(f->error_msg), "%s", msg);
	}
}

static int file_cmp(const void *a, const void *b)
{
	const struct tdx_module_file *x = a, *y = b;
	int c = tdx_version_cmp(&x->version, &y->version);
	return c ? c : strcmp(x->name, y->name);
}

int tdx_inventory_scan(const char *dir, struct tdx_inventory *ret, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d)
		return set_error(err, errlen, -errno, "module directory %s: %s", dir,
				 strerror(errno));
	struct tdx_module_file *files = NULL;
	size_t n = 0;
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct tdx_version v;
		if (strncmp(e->d_name, TDX_MODULE_FILE_PREFIX, strlen(TDX_MODULE_FILE_PREFIX)) ||
		    strlen(e->d_name) >= sizeof(files->name))
			continue;
		size_t nl = strlen(e->d_name), sl = strlen(TDX_MODULE_FILE_SUFFIX);
		if (nl < sl || strcmp(e->d_name + nl - sl, TDX_MODULE_FILE_SUFFIX))
			continue;
		if (n == TDX_INVENTORY_MAX_FILES) {
			r = set_error(err, errlen, -E2BIG, "module directory %s: over %d blobs",
				      dir, TDX_INVENTORY_MAX_FILES);
			goto fail;
		}
		struct tdx_module_file *nf = realloc(files, (n + 1) * sizeof(*files));
		if (!nf) {
			r = -ENOMEM;
			goto fail;
		}
		files = nf;
		struct tdx_module_file *f = &files[n++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", e->d_name);
		if (tdx_module_file_name_version(f->name, &v) < 0) {
			f->error = -EINVAL;
			snprintf(f->error_msg, sizeof(f->error_msg),
				 "name is not tdx_module_<x.y.zz>.blob");
			continue;
		}
		f->version = v;
		check_file(dir, f);
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(*files), file_cmp);
	ret->files = files;
	ret->n = n;
	return 0;
fail:
	closedir(d);
	free(files);
	return r;
}

void tdx_inventory_clear(struct tdx_inventory *inv)
{
	if (!inv)
		return;
	free(inv->files);
	inv->files = NULL;
	inv->n = 0;
}

int tdx_module_file_load(const char *dir, const struct tdx_module_file *f, uint8_t **ret,
			 size_t *ret_len, struct tdx_blob *ret_blob, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len;
	struct tdx_blob b;
	uint8_t md[TDX_SEAMHASH_SIZE];
	int r;
	if (f->error)
		return set_error(err, errlen, f->error, "%s: %s", f->name, f->error_msg);
	if ((r = read_blob(dir, f->name, &data, &len, err, errlen)) < 0 ||
	    (r = tdx_blob_parse(data, len, &b, err, errlen)) < 0 ||
	    (r = tdx_blob_verify(data, &b, md, err, errlen)) < 0)
		return r;
	uint8_t sha[48];
	SHA384(data, len, sha);
	if (len != f->size || memcmp(sha, f->sha384, sizeof(sha)) != 0)
		return set_error(err, errlen, -ESTALE, "%s changed since the inventory", f->name);
	*ret = TAKE_PTR(data);
	*ret_len = len;
	*ret_blob = b;
	return 0;
}

static const char *const reason_names[TDX_REASON_COUNT] = {
	"blob", "no-mapping", "cpu", "seamldr", "cross-minor", "not-newer", "td-preserving",
	"debug",
};

const char *tdx_reason_name(enum tdx_reason r)
{
	for (unsigned i = 0; i < TDX_REASON_COUNT; i++)
		if (r == 1u << i)
			return reason_names[i];
	return NULL;
}

__attribute__((format(printf, 3, 4))) static void reason(struct tdx_candidate *c,
							 enum tdx_reason r, const char *fmt, ...)
{
	size_t len = strlen(c->detail);
	c->reasons |= r;
	if (len && len + 2 < sizeof(c->detail)) {
		memcpy(c->detail + len, "; ", 3);
		len += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	if (len < sizeof(c->detail))
		vsnprintf(c->detail + len, sizeof(c->detail) - len, fmt, ap);
	va_end(ap);
}

static void judge(const struct tdx_module_file *f, const struct tdx_mapping *map,
		  const struct tdx_select_input *in, struct tdx_candidate *c)
{
	char cur[TDX_VERSION_STRLEN], v[TDX_VERSION_STRLEN], x[TDX_VERSION_STRLEN];
	tdx_version_format(&in->current, cur);
	tdx_version_format(&f->version, v);
	c->file = f;
	if (f->error) {
		reason(c, TDX_REASON_BLOB, "blob: %s", f->error_msg);
		if (f->version.major == 0 && f->version.minor == 0 && f->version.update == 0)
			return; /* no version: nothing else can be judged */
	}
	const struct tdx_mapping_release *rel = tdx_mapping_find(map, &f->version);
	if (!rel)
		reason(c, TDX_REASON_NO_MAPPING, "%s is not in mapping_file.json", v);
	if (!f->error && !tdx_sigstruct_supports_cpu(&f->blob.sig, in->cpuid_1_eax))
		reason(c, TDX_REASON_CPU, "CPUID.1.EAX %#010x (stepping masked) not in the "
			  "sigstruct's CPUID table",
		       in->cpuid_1_eax);
	if (rel && !tdx_mapping_seamldr_match(rel, &in->seamldr)) {
		tdx_version_format(&in->seamldr, x);
		reason(c, TDX_REASON_SEAMLDR, "P-SEAMLDR %s not among min_seamldr_versions", x);
	}
	if (!tdx_version_same_minor(&f->version, &in->current))
		reason(c, TDX_REASON_CROSS_MINOR,
		       "%s is not a %u.%u Z-stream update of the running %s (needs a reboot)", v,
		       in->current.major, in->current.minor, cur);
	else {
		int cmp = tdx_version_cmp(&f->version, &in->current);
		if (cmp < 0 || (cmp == 0 && !in->reinstall))
			reason(c, TDX_REASON_NOT_NEWER, "%s is not newer than the running %s%s", v,
			       cur, cmp == 0 ? " (reinstall not requested)" : "");
	}
	if (rel && tdx_version_cmp(&rel->min_td_preserving, &in->current) > 0) {
		tdx_version_format(&rel->min_td_preserving, x);
		reason(c, TDX_REASON_TD_PRESERVING,
		       "needs a running module >= %s to preserve TDs (running %s)", x, cur);
	}
	if (!f->error && f->blob.sig.debug && !in->allow_debug)
		reason(c, TDX_REASON_DEBUG, "debug-signed module (allow_debug not set)");
	c->eligible = c->reasons == 0;
}

int tdx_select(const struct tdx_inventory *inv, const struct tdx_mapping *map,
	       const struct tdx_select_input *in, struct tdx_selection *ret)
{
	struct tdx_candidate *c = calloc(inv->n ? inv->n : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	const struct tdx_candidate *target = NULL;
	bool pin_seen = false;
	for (size_t i = 0; i < inv->n; i++) {
		judge(&inv->files[i], map, in, &c[i]);
		bool pin = in->pinned && tdx_version_cmp(&inv->files[i].version, &in->pin) == 0;
		pin_seen |= pin;
		if (!c[i].eligible || (in->pinned && !pin))
			continue;
		/* sorted ascending: the last eligible one is the highest; among equal versions
		 * the first by name */
		if (!target || tdx_version_cmp(&target->file->version, &c[i].file->version) < 0)
			target = &c[i];
	}
	memset(ret, 0, sizeof(*ret));
	ret->candidates = c;
	ret->n = inv->n;
	ret->target = target;
	if (!target) {
		char p[TDX_VERSION_STRLEN];
		tdx_version_format(&in->pin, p);
		if (in->pinned)
			snprintf(ret->why_none, sizeof(ret->why_none),
				 pin_seen ? "the pinned version %s is not eligible"
					  : "the pinned version %s is not in the module directory",
				 p);
		else
			snprintf(ret->why_none, sizeof(ret->why_none),
				 inv->n ? "no eligible module in the directory"
					: "no module blobs in the directory");
	}
	return 0;
}

void tdx_selection_clear(struct tdx_selection *s)
{
	if (!s)
		return;
	free(s->candidates);
	memset(s, 0, sizeof(*s));
}
