/* A small epoll main loop: the daemon's one thread waits here for the API sockets, signals
 * (signalfd) and timers (timerfd). */
#pragma once
#include <stdint.h>

struct coco_loop;
typedef void (*coco_io_fn)(struct coco_loop *l, int fd, uint32_t events, void *userdata);
/* Called before each wait; returns the wait timeout in ms (-1 = none). */
typedef int (*coco_prepare_fn)(struct coco_loop *l, void *userdata);

#define COCO_LOOP_MAX_SOURCES 32

int coco_loop_new(struct coco_loop **ret);
void coco_loop_free(struct coco_loop *l);
int coco_loop_add(struct coco_loop *l, int fd, uint32_t events, coco_io_fn fn, void *userdata);
int coco_loop_remove(struct coco_loop *l, int fd);
int coco_loop_add_prepare(struct coco_loop *l, coco_prepare_fn fn, void *userdata);
/* Run until coco_loop_exit(); returns the exit code. */
int coco_loop_run(struct coco_loop *l);
void coco_loop_exit(struct coco_loop *l, int code);
