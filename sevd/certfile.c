/* The published certificate table file: atomic rewrites under the VMMs' OFD lock protocol
 * (sevd/certfile.h). */
#include "sevd/certfile.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/util.h"

#define CERTFILE_MODE 0644

int certfile_lock(const char *path, unsigned timeout_ms, struct certfile_lock *ret)
{
	if (!path || !ret)
		return -EINVAL;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	/* The inode at path may be replaced between open and lock (a rewrite by whoever held the
	 * lock): then the lock is on a stale inode and we go again. Bounded by the deadline. */
	for (;;) {
		_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY |
							    O_NOFOLLOW,
					      CERTFILE_MODE);
		if (fd < 0)
			return -errno;
		struct stat a, b;
		if (fstat(fd, &a) < 0)
			return -errno;
		if (!S_ISREG(a.st_mode))
			return -EBADF;
		int r = coco_ofd_lock_until(fd, F_WRLCK, deadline);
		if (r < 0)
			return r;
		if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			ret->fd = TAKE_FD(fd);
			return 0;
		}
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
	}
}

void certfile_unlock(struct certfile_lock *lock)
{
	if (lock && lock->fd >= 0) {
		close(lock->fd); /* closing the last fd of the description drops the OFD lock */
		lock->fd = -1;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int certfile_write_locked(struct certfile_lock *lock, const char *path, const uint8_t *blob,
			  size_t len)
{
	if (!lock || lock->fd < 0 || !path || (!blob && len) || len > (1u << 20))
		return -EINVAL;
	char tmpl[PATH_MAX], dirbuf[PATH_MAX];
	if (snprintf(tmpl, sizeof(tmpl), "%s.XXXXXX", path) >= (int)sizeof(tmpl) ||
	    snprintf(dirbuf, sizeof(dirbuf), "%s", path) >= (int)sizeof(dirbuf))
		return -ENAMETOOLONG;
	const char *dir = dirname(dirbuf);

	_cleanup_close_ int tfd = mkostemp(tmpl, O_CLOEXEC);
	if (tfd < 0)
		return -errno;
	int r = 0;
	/* Locked before it becomes visible: a VMM opening path after the rename waits for us. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fchmod(tfd, CERTFILE_MODE) < 0 || fcntl(tfd, F_OFD_SETLK, &fl) < 0)
		r = -errno;
	if (r == 0)
		r = write_all(tfd, blob, len, 0);
	if (r == 0 && fsync(tfd) < 0)
		r = -errno;
	if (r == 0 && rename(tmpl, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmpl);
		return r;
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		r = -errno; /* renamed but maybe not durable: report, keep going */

	/* VMMs already waiting on the old inode read it once we let go: give it the new bytes.
	 * Size first, then contents, all under our write lock. */
	int r2 = 0;
	if (ftruncate(lock->fd, (off_t)len) < 0)
		r2 = -errno;
	if (r2 == 0)
		r2 = write_all(lock->fd, blob, len, 0);
	close(lock->fd);
	lock->fd = TAKE_FD(tfd);
	return r < 0 ? r : r2;
}

int certfile_write(const char *path, const uint8_t *blob, size_t len, unsigned timeout_ms)
{
	struct certfile_lock lock = {.fd = -1};
	int r = certfile_lock(path, timeout_ms, &lock);
	if (r < 0)
		return r;
	r = certfile_write_locked(&lock, path, blob, len);
	certfile_unlock(&lock);
	return r;
}
