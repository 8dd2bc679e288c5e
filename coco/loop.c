#include "coco/loop.h"

#include <sys/epoll.h>

#include "coco/util.h"

struct source {
	int fd;
	coco_io_fn fn;
	void *userdata;
};

struct prepare {
	coco_prepare_fn fn;
	void *userdata;
};

struct coco_loop {
	int epfd;
	bool exiting;
	int exit_code;
	struct source sources[COCO_LOOP_MAX_SOURCES];
	struct prepare prepares[8];
	size_t n_prepares;
};

int coco_loop_new(struct coco_loop **ret)
{
	struct coco_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		return -e;
	}
	for (size_t i = 0; i < COCO_LOOP_MAX_SOURCES; i++)
		l->sources[i].fd = -1;
	*ret = l;
	return 0;
}

void coco_loop_free(struct coco_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int coco_loop_add(struct coco_loop *l, int fd, uint32_t events, coco_io_fn fn, void *userdata)
{
	for (size_t i = 0; i < COCO_LOOP_MAX_SOURCES; i++) {
		if (l->sources[i].fd >= 0)
			continue;
		struct epoll_event ev = {.events = events, .data.ptr = &l->sources[i]};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		l->sources[i] = (struct source){fd, fn, userdata};
		return 0;
	}
	return -ENOSPC;
}

int coco_loop_remove(struct coco_loop *l, int fd)
{
	for (size_t i = 0; i < COCO_LOOP_MAX_SOURCES; i++)
		if (l->sources[i].fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			l->sources[i].fd = -1;
			return 0;
		}
	return -ENOENT;
}

int coco_loop_add_prepare(struct coco_loop *l, coco_prepare_fn fn, void *userdata)
{
	if (l->n_prepares >= ARRAY_SIZE(l->prepares))
		return -ENOSPC;
	l->prepares[l->n_prepares++] = (struct prepare){fn, userdata};
	return 0;
}

int coco_loop_run(struct coco_loop *l)
{
	while (!l->exiting) {
		int timeout = -1;
		for (size_t i = 0; i < l->n_prepares; i++) {
			int t = l->prepares[i].fn(l, l->prepares[i].userdata);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		if (l->exiting)
			break;
		struct epoll_event evs[16];
		int n = epoll_wait(l->epfd, evs, (int)ARRAY_SIZE(evs), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->exiting; i++) {
			struct source *s = evs[i].data.ptr;
			if (s->fd >= 0)
				s->fn(l, s->fd, evs[i].events, s->userdata);
		}
		/* Sources with no readiness (MHD timeouts) are serviced by the prepare hooks. */
	}
	return l->exit_code;
}

void coco_loop_exit(struct coco_loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}
