/* The simulated kernel side of the TDX host sysfs tree (tdx_kernel.h). */
#include "hv/emul/tdx_kernel.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "coco/util.h"

#define HOST_DIR "devices/faux/tdx_host"
#define FW_DIR "class/firmware/tdx_module"
#define CPU_DIR "devices/system/cpu"
#define FALLBACK_POLL_MS 50
/* seamldr.c: header page + SEAMLDR_MAX_NR_SIG_PAGES + SEAMLDR_MAX_NR_MODULE_PAGES */
#define KERNEL_IMAGE_MAX (4096u * (1 + 4 + 496))

struct emul_tdx_kernel {
	struct emul_tdx_kernel_config cfg;
	char *root;
	int host_fd, fw_fd, cpu_fd; /* directory fds */
	int ino_fd;		    /* -1: polling fallback */
	int stop_fd;		    /* eventfd */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* guards everything below and every publish */
	bool stop;
	bool *online;
	struct emul_tdx_kernel_fault fault;
	bool fault_armed;
	enum hv_fw_status stall_at;
	bool pending_loading; /* a write to `loading` not handled yet */
	struct emul_tdx_kernel_stats stats;
};

/* ---------------------------------------------------------------- the tree */

static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_dir(const char *root, const char *sub, int *ret)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s", root, sub) < 0)
		return -ENOMEM;
	int r = mkdir_p(p);
	if (r < 0)
		return r;
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret = fd;
	return 0;
}

/* Replace dir/name with content, atomically for readers. */
static int publish(int dirfd, const char *name, const char *content)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t n = strlen(content);
	if (n && write(fd, content, n) != (ssize_t)n)
		return -EIO;
	if (close(TAKE_FD(fd)) < 0)
		return -errno;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return -errno;
	return 0;
}

/* An attribute whose read fails with ENXIO: a UNIX socket inode (open(2): ENXIO). Bound
 * through /proc/self/fd so that the path fits sun_path whatever the root's length. */
static int publish_enxio(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static int publish_fmt(int dirfd, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int publish_fmt(int dirfd, const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return publish(dirfd, name, buf);
}

/* Called with k->lock held. */
static int publish_module(struct emul_tdx_kernel *k)
{
	struct emul_tdx_identity id;
	struct hv_tdx_version ldr;
	uint32_t remaining;
	char v[HV_TDX_VERSION_STRLEN];
	int r;
	emul_tdx_seamldr_info(k->cfg.module, &ldr, &remaining);
	hv_tdx_version_format(&ldr, v);
	if ((r = publish_fmt(k->host_fd, "seamldr_version", "%s\n", v)) < 0 ||
	    (r = publish_fmt(k->host_fd, "num_remaining_updates", "%u\n", remaining)) < 0)
		return r;
	if (emul_tdx_module_identity(k->cfg.module, &id) < 0)
		return publish_enxio(k->host_fd, "version");
	hv_tdx_version_format(&id.version, v);
	return publish_fmt(k->host_fd, "version", "%s\n", v);
}

/* Called with k->lock held. */
static int publish_cpus(struct emul_tdx_kernel *k)
{
	struct hv_cpuset *c = calloc(1, sizeof(*c));
	char *list = malloc(8192);
	int r = -ENOMEM;
	if (c && list) {
		for (uint32_t i = 0; i < k->cfg.cpus; i++)
			if (k->online[i])
				c->bits[i / 64] |= 1ull << (i % 64);
		hv_cpuset_format(c, list, 8192);
		r = publish_fmt(k->cpu_fd, "online", "%s\n", list);
	}
	free(list);
	free(c);
	return r;
}

static bool all_online(struct emul_tdx_kernel *k)
{
	for (uint32_t i = 0; i < k->cfg.cpus; i++)
		if (!k->online[i])
			return false;
	return true;
}

/* ---------------------------------------------------------------- the upload */

static bool stop_requested(struct emul_tdx_kernel *k)
{
	pthread_mutex_lock(&k->lock);
	bool s = k->stop;
	pthread_mutex_unlock(&k->lock);
	return s;
}

/* Read pending inotify events: writes to `cancel` are counted at once (the kernel's cancel op
 * runs beside the upload); a write to `loading` is remembered for the main loop. */
static void drain_events(struct emul_tdx_kernel *k)
{
	uint8_t buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t len = read(k->ino_fd, buf, sizeof(buf));
		if (len <= 0)
			return;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= len;) {
			const struct inotify_event *e = (const void *)(buf + off);
			pthread_mutex_lock(&k->lock);
			if (e->len && streq(e->name, "loading"))
				k->pending_loading = true;
			if (e->len && streq(e->name, "cancel"))
				k->stats.cancels++; /* tdx_fw_cancel(): "not cancellable" */
			pthread_mutex_unlock(&k->lock);
			off += (ssize_t)sizeof(*e) + e->len;
		}
	}
}

/* Sleep up to ms (events are read meanwhile); woken early by stop, and by a write to
 * `loading` when wake_on_loading; -ECANCELED if stopping. */
static int sim_wait(struct emul_tdx_kernel *k, unsigned ms, bool wake_on_loading)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		struct pollfd p[2] = {{.fd = k->stop_fd, .events = POLLIN},
				      {.fd = k->ino_fd, .events = POLLIN}};
		uint64_t now = now_ns();
		int left = now >= end ? 0 : (int)((end - now + 999999) / 1000000);
		int r = poll(p, k->ino_fd >= 0 ? 2 : 1, left);
		if (stop_requested(k))
			return -ECANCELED;
		if (r > 0 && k->ino_fd >= 0 && (p[1].revents & POLLIN)) {
			drain_events(k);
			pthread_mutex_lock(&k->lock);
			bool pending = k->pending_loading;
			pthread_mutex_unlock(&k->lock);
			if (wake_on_loading && pending)
				return 0;
		}
		if (now_ns() >= end)
			return 0;
	}
}

/* Publish a status, honour a stall at it, then spend the step's delay. */
static int enter_status(struct emul_tdx_kernel *k, enum hv_fw_status st)
{
	pthread_mutex_lock(&k->lock);
	int r = publish_fmt(k->fw_fd, "status", "%s\n", hv_fw_status_name(st));
	pthread_mutex_unlock(&k->lock);
	if (r < 0)
		return r;
	for (;;) {
		pthread_mutex_lock(&k->lock);
		bool stalled = k->stall_at == st && st != HV_FW_IDLE;
		pthread_mutex_unlock(&k->lock);
		if (!stalled)
			break;
		if (sim_wait(k, 10, false) < 0)
			return -ECANCELED;
	}
	return sim_wait(k, k->cfg.step_delay_ms, false);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The kernel's own checks of a tdx_image (seamldr.c init_seamldr_params(), v10): size, version
 * 0x200, page limits, "TDX-BLOB", zero reserved bytes. Written apart from coco/tdx/blob.c on
 * purpose: the kernel does not check the checksum or anything inside the payload. */
static bool kernel_image_ok(const uint8_t *d, size_t n, uint32_t *ret_sp, uint32_t *ret_mp)
{
	if (n < 4096)
		return false;
	uint32_t sp = rd32(d + 12), mp = rd32(d + 16);
	if ((uint64_t)4096 * (1 + (uint64_t)sp + mp) != n)
		return false;
	if ((d[0] | d[1] << 8) != 0x200 || sp > 4 || mp > 496 || memcmp(d + 4, "TDX-BLOB", 8))
		return false;
	for (size_t i = 20; i < 4096; i++)
		if (d[i])
			return false;
	*ret_sp = sp;
	*ret_mp = mp;
	return true;
}

static int read_data(struct emul_tdx_kernel *k, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(k->fw_fd, "data", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Past the kernel's largest image only the size matters: keep one byte more. */
	size_t want = (uint64_t)st.st_size > KERNEL_IMAGE_MAX ? KERNEL_IMAGE_MAX + 1
							      : (size_t)st.st_size;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* The kernel frees its buffer once the upload is done (fw_free_paged_buf). */
	if (ftruncate(fd, 0) < 0) {
		free(buf);
		return -errno;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}

static void finish(struct emul_tdx_kernel *k, enum hv_fw_status at, enum hv_fw_err code,
		   uint32_t remaining)
{
	pthread_mutex_lock(&k->lock);
	(void)publish_module(k);
	(void)publish_fmt(k->fw_fd, "remaining_size", "%u\n", remaining);
	if (code == HV_FW_ERR_NONE)
		(void)publish(k->fw_fd, "error", "");
	else
		(void)publish_fmt(k->fw_fd, "error", "%s:%s\n", hv_fw_status_name(at),
				  hv_fw_err_name(code));
	(void)publish(k->fw_fd, "status", "idle\n");
	pthread_mutex_unlock(&k->lock);
}

/* A fault injected at this status, if any (consumed). */
static bool take_fault(struct emul_tdx_kernel *k, enum hv_fw_status at,
		       struct emul_tdx_kernel_fault *ret)
{
	pthread_mutex_lock(&k->lock);
	bool hit = k->fault_armed && k->fault.at == at && k->fault.module_step == EMUL_TDX_STEP_NONE;
	if (hit) {
		*ret = k->fault;
		k->fault_armed = false;
	}
	pthread_mutex_unlock(&k->lock);
	return hit;
}

static void run_upload(struct emul_tdx_kernel *k)
{
	_cleanup_free_ uint8_t *img = NULL;
	size_t n = 0;
	if (read_data(k, &img, &n) < 0 || n == 0)
		return; /* fw_upload_start(): nothing written, nothing started */
	pthread_mutex_lock(&k->lock);
	k->stats.uploads++;
	(void)publish_fmt(k->fw_fd, "remaining_size", "%zu\n", n);
	pthread_mutex_unlock(&k->lock);
	uint32_t remaining = (uint32_t)n;

	static const enum hv_fw_status steps[] = {HV_FW_RECEIVING, HV_FW_PREPARING,
						  HV_FW_TRANSFERRING, HV_FW_PROGRAMMING};
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		enum hv_fw_status st = steps[i];
		if (enter_status(k, st) < 0)
			return; /* stopping */
		struct emul_tdx_kernel_fault f;
		if (take_fault(k, st, &f)) {
			if (f.lose_module)
				emul_tdx_module_fail(k->cfg.module);
			finish(k, st, f.code, remaining);
			return;
		}
		if (st != HV_FW_TRANSFERRING)
			continue;
		/* tdx_fw_write() -> seamldr_install_module() */
		uint32_t sp = 0, mp = 0;
		if (!kernel_image_ok(img, n, &sp, &mp)) {
			pthread_mutex_lock(&k->lock);
			k->stats.last = (struct emul_tdx_update_outcome){
				.result = EMUL_TDX_REFUSED,
				.reason = "kernel: not a v2 TDX image (init_seamldr_params)"};
			pthread_mutex_unlock(&k->lock);
			finish(k, st, HV_FW_ERR_FIRMWARE_INVALID, remaining);
			return;
		}
		pthread_mutex_lock(&k->lock);
		enum emul_tdx_update_step step = EMUL_TDX_STEP_NONE;
		if (k->fault_armed && k->fault.module_step != EMUL_TDX_STEP_NONE) {
			step = k->fault.module_step;
			k->fault_armed = false;
		}
		bool cpus_ok = all_online(k);
		pthread_mutex_unlock(&k->lock);
		struct emul_tdx_update_outcome o;
		(void)emul_tdx_module_update(k->cfg.module, img + 4096, (size_t)sp * 4096,
					     img + 4096 + (size_t)sp * 4096, (size_t)mp * 4096,
					     cpus_ok, step, &o);
		pthread_mutex_lock(&k->lock);
		k->stats.last = o;
		pthread_mutex_unlock(&k->lock);
		if (o.result != EMUL_TDX_UPDATED) {
			finish(k, st,
			       o.result == EMUL_TDX_REFUSED_BUSY ? HV_FW_ERR_DEVICE_BUSY
								 : HV_FW_ERR_FIRMWARE_INVALID,
			       remaining);
			return;
		}
		remaining = 0; /* written in one go */
		pthread_mutex_lock(&k->lock);
		(void)publish_fmt(k->fw_fd, "remaining_size", "0\n");
		pthread_mutex_unlock(&k->lock);
	}
	finish(k, HV_FW_IDLE, HV_FW_ERR_NONE, remaining);
}

static void on_loading(struct emul_tdx_kernel *k)
{
	char buf[16] = "";
	_cleanup_close_ int fd = openat(k->fw_fd, "loading", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return; /* mid-write (truncated): the close will come with the value */
	buf[n] = '\0';
	char *v = str_strip(buf);
	if (streq(v, "0")) {
		run_upload(k); /* no data (already consumed, or none written): a no-op */
	} else if (streq(v, "-1")) {
		int d = openat(k->fw_fd, "data", O_WRONLY | O_TRUNC | O_CLOEXEC); /* drop the data */
		if (d >= 0)
			close(d);
		pthread_mutex_lock(&k->lock);
		k->stats.aborts++;
		pthread_mutex_unlock(&k->lock);
	}
	/* "1": loading starts; the data file collects the image until "0". */
}

static void *kernel_thread(void *arg)
{
	struct emul_tdx_kernel *k = arg;
	while (sim_wait(k, k->ino_fd >= 0 ? 1000 : FALLBACK_POLL_MS, true) == 0) {
		pthread_mutex_lock(&k->lock);
		bool loading = k->pending_loading || k->ino_fd < 0;
		k->pending_loading = false;
		pthread_mutex_unlock(&k->lock);
		if (loading)
			on_loading(k);
	}
	return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

void emul_tdx_kernel_stop(struct emul_tdx_kernel *k)
{
	if (!k)
		return;
	if (k->thread_started) {
		pthread_mutex_lock(&k->lock);
		k->stop = true;
		pthread_mutex_unlock(&k->lock);
		uint64_t one = 1;
		(void)!write(k->stop_fd, &one, sizeof(one));
		pthread_join(k->thread, NULL);
	}
	int *fds[] = {&k->host_fd, &k->fw_fd, &k->cpu_fd, &k->ino_fd, &k->stop_fd};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	pthread_mutex_destroy(&k->lock);
	free(k->online);
	free(k->root);
	free(k);
}

int emul_tdx_kernel_start(const struct emul_tdx_kernel_config *cfg,
			  struct emul_tdx_kernel **ret)
{
	if (!cfg->root || !cfg->module || cfg->cpus > HV_TDX_MAX_CPUS)
		return -EINVAL;
	struct emul_tdx_kernel *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->host_fd = k->fw_fd = k->cpu_fd = k->ino_fd = k->stop_fd = -1;
	k->cfg = *cfg;
	k->cfg.cpus = cfg->cpus ? cfg->cpus : 8;
	k->cfg.step_delay_ms = cfg->step_delay_ms ? cfg->step_delay_ms : 5;
	k->stall_at = HV_FW_IDLE;
	int r = pthread_mutex_init(&k->lock, NULL);
	if (r != 0) {
		free(k);
		return -r;
	}
	k->root = strdup(cfg->root);
	k->online = calloc(k->cfg.cpus, sizeof(bool));
	if (!k->root || !k->online) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < k->cfg.cpus; i++)
		k->online[i] = true;
	k->cfg.root = k->root;
	if ((r = open_dir(k->root, HOST_DIR, &k->host_fd)) < 0 ||
	    (r = open_dir(k->root, FW_DIR, &k->fw_fd)) < 0 ||
	    (r = open_dir(k->root, CPU_DIR, &k->cpu_fd)) < 0)
		goto fail;

	char all[32];
	snprintf(all, sizeof(all), k->cfg.cpus == 1 ? "0\n" : "0-%u\n", k->cfg.cpus - 1);
	pthread_mutex_lock(&k->lock);
	if ((r = publish_module(k)) < 0 || (r = publish(k->cpu_fd, "possible", all)) < 0 ||
	    (r = publish(k->cpu_fd, "present", all)) < 0 || (r = publish_cpus(k)) < 0 ||
	    (r = publish(k->fw_fd, "loading", "0\n")) < 0 || (r = publish(k->fw_fd, "data", "")) < 0 ||
	    (r = publish(k->fw_fd, "cancel", "")) < 0 ||
	    (r = publish(k->fw_fd, "status", "idle\n")) < 0 ||
	    (r = publish(k->fw_fd, "error", "")) < 0 ||
	    (r = publish(k->fw_fd, "remaining_size", "0\n")) < 0) {
		pthread_mutex_unlock(&k->lock);
		goto fail;
	}
	pthread_mutex_unlock(&k->lock);

	k->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (!cfg->no_inotify) {
		k->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (k->ino_fd >= 0) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/%s", k->root, FW_DIR) < 0) {
				r = -ENOMEM;
				goto fail;
			}
			if (inotify_add_watch(k->ino_fd, p, IN_CLOSE_WRITE) < 0) {
				close(k->ino_fd); /* fall back to polling */
				k->ino_fd = -1;
			}
		}
	}
	/* The thread takes no signals: they belong to the embedding program (cocod reads
	 * SIGTERM from a signalfd, which only works while no thread leaves it unblocked). */
	sigset_t block_all, old;
	sigfillset(&block_all);
	pthread_sigmask(SIG_SETMASK, &block_all, &old);
	r = pthread_create(&k->thread, NULL, kernel_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		r = -r;
		goto fail;
	}
	k->thread_started = true;
	*ret = k;
	return 0;
fail:
	emul_tdx_kernel_stop(k);
	return r;
}

int emul_tdx_kernel_set_cpu_online(struct emul_tdx_kernel *k, uint32_t cpu, bool online)
{
	if (cpu >= k->cfg.cpus)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->online[cpu] = online;
	int r = publish_cpus(k);
	pthread_mutex_unlock(&k->lock);
	return r;
}

void emul_tdx_kernel_inject(struct emul_tdx_kernel *k, const struct emul_tdx_kernel_fault *f)
{
	pthread_mutex_lock(&k->lock);
	k->fault = *f;
	k->fault_armed = true;
	pthread_mutex_unlock(&k->lock);
}

void emul_tdx_kernel_stall(struct emul_tdx_kernel *k, enum hv_fw_status at)
{
	pthread_mutex_lock(&k->lock);
	k->stall_at = at;
	pthread_mutex_unlock(&k->lock);
}

void emul_tdx_kernel_stats(struct emul_tdx_kernel *k, struct emul_tdx_kernel_stats *ret)
{
	pthread_mutex_lock(&k->lock);
	*ret = k->stats;
	pthread_mutex_unlock(&k->lock);
}

int emul_tdx_kernel_refresh(struct emul_tdx_kernel *k)
{
	pthread_mutex_lock(&k->lock);
	int r = publish_module(k);
	pthread_mutex_unlock(&k->lock);
	return r;
}
