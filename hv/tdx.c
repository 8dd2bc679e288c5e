/* TDX host sysfs: attribute parsers, live reads, the fw_upload sequence (hv/tdx.h). */
#include "hv/tdx.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/util.h"

#define TDX_HOST_DIR "devices/faux/tdx_host"
#define FW_DIR "class/firmware/tdx_module"
#define CPU_DIR "devices/system/cpu"
#define ATTR_MAX 4096 /* one sysfs page (sysfs_emit) */

struct hv_tdx {
	char *root;
	struct hv_tdx_options opt;
};

int hv_tdx_open(const char *sysfs_root, const struct hv_tdx_options *opt, struct hv_tdx **ret)
{
	struct hv_tdx *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->root = strdup(sysfs_root ? sysfs_root : "/sys");
	if (!t->root) {
		free(t);
		return -ENOMEM;
	}
	if (opt)
		t->opt = *opt;
	*ret = t;
	return 0;
}

void hv_tdx_free(struct hv_tdx *t)
{
	if (!t)
		return;
	free(t->root);
	free(t);
}

/* ---------------------------------------------------------------- parsers */

/* Strip exactly one trailing newline (sysfs_emit "%...\n"); refuse NULs inside. */
static int attr_body(const char *s, size_t len, size_t *ret_len)
{
	if (len && s[len - 1] == '\n')
		len--;
	if (memchr(s, '\0', len))
		return -EINVAL;
	*ret_len = len;
	return 0;
}

static int digits(const char *s, size_t n, size_t min_digits, uint64_t max, uint64_t *ret)
{
	return tdx_decimal_parse(s, n, min_digits, max, ret);
}

int hv_tdx_version_parse(const char *s, size_t len, struct hv_tdx_version *ret)
{
	size_t n;
	if (!s || attr_body(s, len, &n) < 0)
		return -EINVAL;
	return tdx_version_parse(s, n, ret);
}

int hv_tdx_u32_parse(const char *s, size_t len, uint32_t max, uint32_t *ret)
{
	size_t n;
	uint64_t v;
	int r;
	if (!s || attr_body(s, len, &n) < 0)
		return -EINVAL;
	if ((r = digits(s, n, 1, max, &v)) < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int hv_cpuset_parse(const char *s, size_t len, struct hv_cpuset *ret)
{
	size_t n;
	if (!s || attr_body(s, len, &n) < 0)
		return -EINVAL;
	/* Built in a local copy: *ret stays untouched on failure. */
	struct hv_cpuset c;
	memset(&c, 0, sizeof(c));
	size_t i = 0;
	int64_t last = -1;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		uint64_t lo, hi;
		int r = digits(s + i, j - i, 1, HV_TDX_MAX_CPUS - 1, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (j < n && s[j] == '-') {
			size_t k = ++j;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if ((r = digits(s + k, j - k, 1, HV_TDX_MAX_CPUS - 1, &hi)) < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		if ((int64_t)lo <= last)
			return -EINVAL; /* not ascending, or overlapping */
		for (uint64_t cpu = lo; cpu <= hi; cpu++)
			c.bits[cpu / 64] |= 1ull << (cpu % 64);
		c.count += (uint32_t)(hi - lo + 1);
		last = (int64_t)hi;
		if (j == n)
			break;
		if (s[j] != ',' || j + 1 == n)
			return -EINVAL;
		i = j + 1;
	}
	*ret = c;
	return 0;
}

bool hv_cpuset_has(const struct hv_cpuset *c, uint32_t cpu)
{
	return cpu < HV_TDX_MAX_CPUS && (c->bits[cpu / 64] >> (cpu % 64)) & 1;
}

void hv_cpuset_format(const struct hv_cpuset *c, char *out, size_t outlen)
{
	if (!outlen)
		return;
	out[0] = '\0';
	size_t pos = 0;
	for (uint32_t cpu = 0; cpu < HV_TDX_MAX_CPUS; cpu++) {
		if (!hv_cpuset_has(c, cpu))
			continue;
		uint32_t end = cpu;
		while (end + 1 < HV_TDX_MAX_CPUS && hv_cpuset_has(c, end + 1))
			end++;
		char part[32];
		int k = end == cpu ? snprintf(part, sizeof(part), "%s%u", pos ? "," : "", cpu)
				   : snprintf(part, sizeof(part), "%s%u-%u", pos ? "," : "", cpu,
					      end);
		if (pos + (size_t)k + 1 > outlen) {
			if (outlen >= 4)
				memcpy(out + (pos + 4 <= outlen ? pos : outlen - 4), "...", 4);
			return;
		}
		memcpy(out + pos, part, (size_t)k + 1);
		pos += (size_t)k;
		cpu = end;
	}
}

static const char *const fw_status_names[] = {
	[HV_FW_IDLE] = "idle",
	[HV_FW_RECEIVING] = "receiving",
	[HV_FW_PREPARING] = "preparing",
	[HV_FW_TRANSFERRING] = "transferring",
	[HV_FW_PROGRAMMING] = "programming",
	[HV_FW_STATUS_UNKNOWN] = "unknown-status",
};
static const char *const fw_err_names[] = {
	[HV_FW_ERR_NONE] = "none",
	[HV_FW_ERR_HW_ERROR] = "hw-error",
	[HV_FW_ERR_TIMEOUT] = "timeout",
	[HV_FW_ERR_USER_ABORT] = "user-abort",
	[HV_FW_ERR_DEVICE_BUSY] = "device-busy",
	[HV_FW_ERR_INVALID_FILE_SIZE] = "invalid-file-size",
	[HV_FW_ERR_READ_WRITE_ERROR] = "read-write-error",
	[HV_FW_ERR_FLASH_WEAROUT] = "flash-wearout",
	[HV_FW_ERR_FIRMWARE_INVALID] = "firmware-invalid",
	[HV_FW_ERR_UNKNOWN] = "unknown-error",
};

const char *hv_fw_status_name(enum hv_fw_status s)
{
	return (unsigned)s < ARRAY_SIZE(fw_status_names) ? fw_status_names[s] : "unknown-status";
}

const char *hv_fw_err_name(enum hv_fw_err e)
{
	return (unsigned)e < ARRAY_SIZE(fw_err_names) ? fw_err_names[e] : "unknown-error";
}

static int lookup(const char *const *names, size_t count, const char *s, size_t n)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return (int)i;
	return -EINVAL;
}

int hv_fw_status_parse(const char *s, size_t len, enum hv_fw_status *ret)
{
	size_t n;
	if (!s || attr_body(s, len, &n) < 0)
		return -EINVAL;
	int i = lookup(fw_status_names, ARRAY_SIZE(fw_status_names), s, n);
	if (i < 0)
		return i;
	*ret = (enum hv_fw_status)i;
	return 0;
}

int hv_fw_error_parse(const char *s, size_t len, struct hv_fw_error *ret)
{
	size_t n;
	if (!s || attr_body(s, len, &n) < 0)
		return -EINVAL;
	if (n == 0) {
		*ret = (struct hv_fw_error){.failed = false, .at = HV_FW_IDLE,
					    .code = HV_FW_ERR_NONE};
		return 0;
	}
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return -EINVAL;
	int st = lookup(fw_status_names, ARRAY_SIZE(fw_status_names), s, (size_t)(colon - s));
	int er = lookup(fw_err_names, ARRAY_SIZE(fw_err_names), colon + 1,
			n - (size_t)(colon + 1 - s));
	/* The kernel prints an error only for a non-zero code: "none" cannot appear. */
	if (st < 0 || er < 0 || er == HV_FW_ERR_NONE)
		return -EINVAL;
	*ret = (struct hv_fw_error){.failed = true, .at = (enum hv_fw_status)st,
				    .code = (enum hv_fw_err)er};
	return 0;
}

/* ---------------------------------------------------------------- reads */

static int attr_path(struct hv_tdx *t, const char *dir, const char *name, char **ret)
{
	if (asprintf(ret, "%s/%s/%s", t->root, dir, name) < 0)
		return -ENOMEM;
	return 0;
}

/* Read one attribute. ENXIO may come from open (the simulator's socket inode) or from read
 * (a real sysfs show() returning -ENXIO): both come back as -ENXIO. */
static int attr_read(struct hv_tdx *t, const char *dir, const char *name, char **ret,
		     size_t *ret_len)
{
	_cleanup_free_ char *p = NULL;
	int r = attr_path(t, dir, name, &p);
	if (r < 0)
		return r;
	return read_file_max(p, ATTR_MAX, ret, ret_len);
}

static int attr_write(struct hv_tdx *t, const char *dir, const char *name, const char *v)
{
	_cleanup_free_ char *p = NULL;
	int r = attr_path(t, dir, name, &p);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t n = strlen(v);
	ssize_t w = write(fd, v, n);
	if (w < 0)
		return -errno;
	if ((size_t)w != n)
		return -EIO;
	return 0;
}

static int read_version(struct hv_tdx *t, const char *name, struct hv_tdx_version *ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r = attr_read(t, TDX_HOST_DIR, name, &s, &n);
	if (r < 0)
		return r;
	return hv_tdx_version_parse(s, n, ret) < 0 ? -EBADMSG : 0;
}

int hv_tdx_module_version(struct hv_tdx *t, struct hv_tdx_version *ret)
{
	return read_version(t, "version", ret);
}

int hv_tdx_seamldr_version(struct hv_tdx *t, struct hv_tdx_version *ret)
{
	return read_version(t, "seamldr_version", ret);
}

static int read_u32(struct hv_tdx *t, const char *dir, const char *name, uint32_t *ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r = attr_read(t, dir, name, &s, &n);
	if (r < 0)
		return r;
	return hv_tdx_u32_parse(s, n, UINT32_MAX, ret) < 0 ? -EBADMSG : 0;
}

int hv_tdx_remaining_updates(struct hv_tdx *t, uint32_t *ret)
{
	return read_u32(t, TDX_HOST_DIR, "num_remaining_updates", ret);
}

int hv_tdx_upload_remaining(struct hv_tdx *t, uint32_t *ret)
{
	return read_u32(t, FW_DIR, "remaining_size", ret);
}

int hv_tdx_update_interface(struct hv_tdx *t)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s", t->root, FW_DIR) < 0)
		return -ENOMEM;
	struct stat st;
	if (stat(p, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

static int read_cpuset(struct hv_tdx *t, const char *name, struct hv_cpuset *ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r = attr_read(t, CPU_DIR, name, &s, &n);
	if (r < 0)
		return r;
	return hv_cpuset_parse(s, n, ret) < 0 ? -EBADMSG : 0;
}

int hv_tdx_cpus(struct hv_tdx *t, struct hv_tdx_cpus *ret)
{
	_cleanup_free_ struct hv_tdx_cpus *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r;
	if ((r = read_cpuset(t, "online", &c->online)) < 0 ||
	    (r = read_cpuset(t, "possible", &c->possible)) < 0)
		return r;
	r = read_cpuset(t, "present", &c->present);
	if (r < 0 && r != -ENOENT)
		return r;
	c->present_known = r == 0;
	const struct hv_cpuset *need = c->present_known ? &c->present : &c->possible;
	for (size_t i = 0; i < ARRAY_SIZE(c->missing.bits); i++) {
		c->missing.bits[i] = need->bits[i] & ~c->online.bits[i];
		c->missing.count += (uint32_t)__builtin_popcountll(c->missing.bits[i]);
	}
	*ret = *c;
	return 0;
}

int hv_tdx_upload_status(struct hv_tdx *t, enum hv_fw_status *ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r = attr_read(t, FW_DIR, "status", &s, &n);
	if (r < 0)
		return r;
	return hv_fw_status_parse(s, n, ret) < 0 ? -EBADMSG : 0;
}

int hv_tdx_upload_error(struct hv_tdx *t, struct hv_fw_error *ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r = attr_read(t, FW_DIR, "error", &s, &n);
	if (r < 0)
		return r; /* -EBUSY from a real kernel while an upload runs */
	return hv_fw_error_parse(s, n, ret) < 0 ? -EBADMSG : 0;
}

void hv_tdx_state_read(struct hv_tdx *t, struct hv_tdx_state *ret)
{
	struct hv_tdx_state s = {0};
	s.version_errno = -hv_tdx_module_version(t, &s.version);
	s.seamldr_errno = -hv_tdx_seamldr_version(t, &s.seamldr);
	s.remaining_errno = -hv_tdx_remaining_updates(t, &s.remaining_updates);
	s.update_interface = hv_tdx_update_interface(t) == 1;
	struct hv_tdx_cpus *c = calloc(1, sizeof(*c));
	if (!c)
		s.cpus_errno = ENOMEM;
	else {
		s.cpus_errno = -hv_tdx_cpus(t, c);
		if (!s.cpus_errno) {
			s.cpus_online = c->online.count;
			s.cpus_present = c->present_known ? c->present.count : c->possible.count;
			s.cpus_possible = c->possible.count;
			s.cpus_missing = c->missing.count;
		}
		free(c);
	}
	s.upload_errno = s.update_interface ? -hv_tdx_upload_status(t, &s.upload_status) : ENOENT;
	*ret = s;
}

/* ---------------------------------------------------------------- upload */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_data(struct hv_tdx *t, const uint8_t *image, size_t len)
{
	_cleanup_free_ char *p = NULL;
	int r = attr_path(t, FW_DIR, "data", &p);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < len) {
		/* sysfs bin attributes take at most a page per write(); larger writes are split
		 * by the VFS anyway, so hand them over in 64 KiB steps. */
		size_t chunk = len - off < 65536 ? len - off : 65536;
		ssize_t w = write(fd, image + off, chunk);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		off += (size_t)w;
	}
	if (close(TAKE_FD(fd)) < 0)
		return -errno;
	return 0;
}

int hv_tdx_upload(struct hv_tdx *t, const uint8_t *image, size_t len,
		  const struct hv_tdx_upload_options *opt, struct hv_tdx_upload_result *ret)
{
	struct hv_tdx_upload_options o = opt ? *opt : (struct hv_tdx_upload_options){0};
	unsigned timeout = o.timeout_ms ? o.timeout_ms : 120000;
	unsigned interval = o.poll_interval_ms ? o.poll_interval_ms : 50;
	if (len == 0)
		return -EINVAL;
	if (len > UINT32_MAX)
		return -EFBIG; /* fw_upload sizes are u32 */
	int r = hv_tdx_update_interface(t);
	if (r <= 0)
		return r == 0 ? -ENOENT : r;
	enum hv_fw_status st;
	if ((r = hv_tdx_upload_status(t, &st)) < 0)
		return r;
	if (st != HV_FW_IDLE)
		return -EBUSY; /* fw_upload_start() would refuse too: "on-going fw_upload" */

	if ((r = attr_write(t, FW_DIR, "loading", "1")) < 0)
		return r;
	r = write_data(t, image, len);
	if (r < 0) {
		(void)attr_write(t, FW_DIR, "loading", "-1"); /* abort the data write */
		return r;
	}
	if ((r = attr_write(t, FW_DIR, "loading", "0")) < 0)
		return r;

	uint64_t start = now_ns();
	struct hv_tdx_upload_result res = {0};
	enum hv_fw_status last = HV_FW_IDLE;
	for (;;) {
		uint64_t ms = (now_ns() - start) / 1000000u;
		r = hv_tdx_upload_status(t, &st);
		if (r < 0)
			return r;
		if (st != last && st != HV_FW_IDLE && o.progress) {
			uint32_t rem = 0;
			(void)hv_tdx_upload_remaining(t, &rem);
			o.progress(o.userdata, st, rem, ms);
		}
		last = st;
		if (st != HV_FW_IDLE)
			res.saw_busy_status = true;
		else if (res.saw_busy_status || ms >= t->opt.start_grace_ms)
			break;
		if (ms >= timeout)
			return -ETIMEDOUT;
		sleep_ms(interval);
	}
	res.elapsed_ms = (now_ns() - start) / 1000000u;
	if ((r = hv_tdx_upload_error(t, &res.error)) < 0)
		return r;
	if ((r = hv_tdx_upload_remaining(t, &res.remaining_size)) < 0)
		return r;
	if (o.progress)
		o.progress(o.userdata, HV_FW_IDLE, res.remaining_size, res.elapsed_ms);
	*ret = res;
	return 0;
}

int hv_tdx_upload_cancel(struct hv_tdx *t)
{
	return attr_write(t, FW_DIR, "cancel", "1");
}
