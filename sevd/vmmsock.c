/* The VMM socket server (sevd/vmmsock.h, docs/VMM-SOCKET.md). Every message is size-checked
 * before it is used; a peer that sends a wrong size, magic, version or op loses its connection
 * and nobody else notices (OpenSMTPD mproc style). */
#include "sevd/vmmsock.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "coco/endian.h"
#include "coco/loop.h"
#include "coco/util.h"

#define DEFAULT_MAX_CONNECTIONS 64u
#define MAX_CONNECTIONS_LIMIT 4096u
#define ACCEPTS_PER_WAKEUP 32
/* Per connection and readiness event: level-triggered epoll reports the next one, so a busy VMM
 * cannot starve the others, and no recv() is spent learning that nothing else is queued. */
#define REQUESTS_PER_WAKEUP 1
#define PEER_GROUPS_MAX 256

/* A table as served: replies waiting for a full socket hold a reference, so a swap never frees
 * bytes a queued reply still points at. */
struct table {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

struct conn {
	int fd;
	struct vmmsock *v;
	bool pending; /* a reply is waiting for EPOLLOUT; no requests are read meanwhile */
	uint8_t hdr[VMMSOCK_REPLY_HEADER_SIZE];
	struct table *body; /* NULL: header only */
};

struct vmmsock {
	struct coco_loop *loop;
	int epfd, lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vmmsock_options opts;
	struct table *table; /* NULL: not ready */
	struct conn *conns;
	struct vmmsock_stats stats;
};

static void table_unref(struct table *t)
{
	if (t && --t->refs == 0)
		free(t);
}

static void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(c->v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->pending = false;
	table_unref(c->body);
	c->body = NULL;
	c->v->stats.connections--;
}

static bool peer_allowed(const struct vmmsock *v, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (!v->opts.allow_gid)
		return false;
	if (cred.gid == v->opts.allowed_gid)
		return true;
	gid_t groups[PEER_GROUPS_MAX];
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: more groups than we look at; refuse rather than guess */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == v->opts.allowed_gid)
			return true;
	return false;
}

static int conn_watch(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	return epoll_ctl(c->v->epfd, op, c->fd, &ev) < 0 ? -errno : 0;
}

/* Send the queued reply. 0 sent, -EAGAIN still queued, other: the connection is broken. */
static int conn_flush(struct conn *c)
{
	struct iovec iov[2] = {{c->hdr, sizeof(c->hdr)}, {NULL, 0}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 1};
	if (c->body) {
		iov[1] = (struct iovec){c->body->data, c->body->len};
		mh.msg_iovlen = 2;
	}
	ssize_t n;
	do
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* SOCK_SEQPACKET sends a message whole or not at all. */
	table_unref(c->body);
	c->body = NULL;
	return 0;
}

static void conn_answer(struct conn *c, uint32_t guest_pages)
{
	struct vmmsock *v = c->v;
	const struct table *t = v->table;
	uint32_t status, need = 0, len = 0;
	if (!t) {
		status = VMMSOCK_STATUS_EAGAIN;
		v->stats.replies_eagain++;
	} else {
		need = (uint32_t)((t->len + VMMSOCK_PAGE_SIZE - 1) / VMMSOCK_PAGE_SIZE);
		if (guest_pages < need) {
			status = VMMSOCK_STATUS_ENOSPC;
			v->stats.replies_enospc++;
		} else {
			status = VMMSOCK_STATUS_OK;
			len = (uint32_t)t->len;
			v->stats.replies_ok++;
		}
	}
	put_le32(c->hdr, VMMSOCK_MAGIC);
	put_le32(c->hdr + 4, status);
	put_le32(c->hdr + 8, need);
	put_le32(c->hdr + 12, len);
	if (len) {
		c->body = v->table;
		c->body->refs++;
	}
}

static void conn_readable(struct conn *c)
{
	struct vmmsock *v = c->v;
	for (int i = 0; i < REQUESTS_PER_WAKEUP && c->fd >= 0 && !c->pending; i++) {
		uint8_t req[VMMSOCK_REQUEST_SIZE + 1];
		/* MSG_TRUNC: the message's real length even when longer than req. */
		ssize_t n = recv(c->fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EWOULDBLOCK)
			return;
		if (n <= 0) { /* EOF (or an empty message, which is not a request either) */
			conn_close(c);
			return;
		}
		if (n != VMMSOCK_REQUEST_SIZE || get_le32(req) != VMMSOCK_MAGIC ||
		    get_le32(req + 4) != VMMSOCK_VERSION ||
		    get_le32(req + 8) != VMMSOCK_OP_GET_CERTS) {
			v->stats.protocol_errors++;
			conn_close(c);
			return;
		}
		v->stats.requests++;
		conn_answer(c, get_le32(req + 12));
		int r = conn_flush(c);
		if (r == -EAGAIN) {
			c->pending = true;
			if (conn_watch(c, EPOLLOUT, EPOLL_CTL_MOD) < 0)
				conn_close(c);
			return;
		}
		if (r < 0) {
			conn_close(c);
			return;
		}
	}
}

static void conn_writable(struct conn *c)
{
	int r = conn_flush(c);
	if (r == -EAGAIN)
		return;
	if (r < 0 || conn_watch(c, EPOLLIN, EPOLL_CTL_MOD) < 0) {
		conn_close(c);
		return;
	}
	c->pending = false;
	conn_readable(c);
}

static void listener_readable(struct vmmsock *v)
{
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: the listener stays readable */
		struct conn *c = NULL;
		for (unsigned j = 0; j < v->opts.max_connections; j++)
			if (v->conns[j].fd < 0) {
				c = &v->conns[j];
				break;
			}
		if (!c || !peer_allowed(v, fd)) {
			v->stats.refused++;
			close(fd);
			continue;
		}
		*c = (struct conn){.fd = fd, .v = v};
		if (conn_watch(c, EPOLLIN, EPOLL_CTL_ADD) < 0) {
			close(fd);
			c->fd = -1;
			v->stats.refused++;
			continue;
		}
		v->stats.accepted++;
		v->stats.connections++;
	}
}

static void vmmsock_dispatch(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	struct vmmsock *v = userdata;
	struct epoll_event evs[64];
	int n = epoll_wait(v->epfd, evs, (int)ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == v) {
			listener_readable(v);
			continue;
		}
		struct conn *c = evs[i].data.ptr;
		if (c->fd < 0)
			continue; /* closed earlier in this batch */
		if (c->pending) {
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				conn_writable(c);
		} else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			conn_readable(c);
		}
	}
}

int vmmsock_new(struct coco_loop *loop, const char *path, const struct vmmsock_options *opts,
		struct vmmsock **ret)
{
	if (!loop || !path || !ret)
		return -EINVAL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	struct vmmsock_options o = opts ? *opts : (struct vmmsock_options){0};
	if (o.max_connections == 0)
		o.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (o.max_connections > MAX_CONNECTIONS_LIMIT)
		return -EINVAL;
	if (o.socket_mode == 0)
		o.socket_mode = 0660;

	/* Replace a stale socket, never another kind of file. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	}

	struct vmmsock *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->loop = loop;
	v->opts = o;
	v->epfd = v->lfd = -1;
	strcpy(v->path, path);
	strcpy(sa.sun_path, path);
	int r = 0;
	v->conns = calloc(o.max_connections, sizeof(*v->conns));
	if (!v->conns)
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < o.max_connections; i++)
		v->conns[i].fd = -1;
	if (r == 0 && (v->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		r = -errno;
	if (r == 0 && (v->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
				       0)) < 0)
		r = -errno;
	if (r == 0) {
		mode_t old = umask(0777 & ~o.socket_mode); /* no window with a wider mode */
		if (bind(v->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			r = -errno;
		umask(old);
	}
	if (r == 0 && (chmod(path, o.socket_mode) < 0 || listen(v->lfd, 128) < 0))
		r = -errno;
	if (r == 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = v};
		if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->lfd, &ev) < 0)
			r = -errno;
	}
	if (r == 0)
		r = coco_loop_add(loop, v->epfd, EPOLLIN, vmmsock_dispatch, v);
	if (r < 0) {
		if (v->lfd >= 0) {
			close(v->lfd);
			v->lfd = -1;
			unlink(path);
		}
		if (v->epfd >= 0)
			close(v->epfd);
		free(v->conns);
		free(v);
		return r;
	}
	*ret = v;
	return 0;
}

void vmmsock_free(struct vmmsock *v)
{
	if (!v)
		return;
	coco_loop_remove(v->loop, v->epfd);
	for (unsigned i = 0; i < v->opts.max_connections; i++)
		conn_close(&v->conns[i]);
	close(v->lfd);
	unlink(v->path);
	close(v->epfd);
	table_unref(v->table);
	free(v->conns);
	free(v);
}

int vmmsock_set_table(struct vmmsock *v, const uint8_t *blob, size_t len)
{
	if (!v || (!blob && len) || len > VMMSOCK_TABLE_MAX)
		return -EINVAL;
	struct table *t = NULL;
	if (len) {
		t = malloc(sizeof(*t) + len);
		if (!t)
			return -ENOMEM;
		t->refs = 1;
		t->len = len;
		memcpy(t->data, blob, len);
	}
	table_unref(v->table);
	v->table = t;
	return 0;
}

void vmmsock_get_stats(const struct vmmsock *v, struct vmmsock_stats *ret)
{
	*ret = v->stats;
}

int vmmsock_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int vmmsock_request(int fd, uint32_t guest_pages, uint8_t *buf, size_t buf_len,
		    uint32_t *ret_status, uint32_t *ret_pages_needed, size_t *ret_len)
{
	uint8_t req[VMMSOCK_REQUEST_SIZE], hdr[VMMSOCK_REPLY_HEADER_SIZE];
	put_le32(req, VMMSOCK_MAGIC);
	put_le32(req + 4, VMMSOCK_VERSION);
	put_le32(req + 8, VMMSOCK_OP_GET_CERTS);
	put_le32(req + 12, guest_pages);
	ssize_t n;
	do
		n = send(fd, req, sizeof(req), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(req))
		return -EIO;
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {buf, buf ? buf_len : 0}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if ((size_t)n < sizeof(hdr) || get_le32(hdr) != VMMSOCK_MAGIC ||
	    get_le32(hdr + 12) != (size_t)n - sizeof(hdr))
		return -EBADMSG;
	*ret_status = get_le32(hdr + 4);
	*ret_pages_needed = get_le32(hdr + 8);
	*ret_len = (size_t)n - sizeof(hdr);
	return 0;
}
