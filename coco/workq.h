/* A small work queue: slow jobs (hashing large files, later KDS fetches and module uploads)
 * run on worker threads so the daemon's loop keeps serving; each job's completion callback
 * runs back on the loop thread, woken through an eventfd. */
#pragma once
#include "coco/loop.h"

struct coco_workq;
typedef void (*coco_work_fn)(void *arg); /* on a worker thread */
typedef void (*coco_done_fn)(void *arg); /* on the loop thread, after work */

int coco_workq_new(struct coco_loop *loop, unsigned threads, unsigned max_queued,
		   struct coco_workq **ret);
/* -EAGAIN when max_queued jobs are already waiting: the caller answers "busy". */
int coco_workq_submit(struct coco_workq *q, coco_work_fn work, coco_done_fn done, void *arg);
/* Jobs submitted and not yet completed (done callback not yet run). */
unsigned coco_workq_pending(struct coco_workq *q);
/* Wait for every submitted job and run its done callback here (shutdown). */
void coco_workq_drain(struct coco_workq *q);
/* Drain, stop the threads, free. */
void coco_workq_free(struct coco_workq *q);
