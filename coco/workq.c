#include "coco/workq.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "coco/util.h"

#define WORKQ_MAX_THREADS 16

struct job {
	struct job *next;
	coco_work_fn work;
	coco_done_fn done;
	void *arg;
};

struct coco_workq {
	struct coco_loop *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;	 /* work queued, or stopping */
	pthread_cond_t finished; /* a job moved to the done list */
	struct job *queue, **queue_tail;
	struct job *done, **done_tail;
	unsigned queued, max_queued, pending;
	bool stopping;
	int efd;
	pthread_t threads[WORKQ_MAX_THREADS];
	unsigned n_threads;
};

static void *worker(void *arg)
{
	struct coco_workq *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->queue && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		if (!q->queue)
			break;
		struct job *j = q->queue;
		q->queue = j->next;
		if (!q->queue)
			q->queue_tail = &q->queue;
		q->queued--;
		pthread_mutex_unlock(&q->lock);
		j->work(j->arg);
		pthread_mutex_lock(&q->lock);
		j->next = NULL;
		*q->done_tail = j;
		q->done_tail = &j->next;
		pthread_cond_broadcast(&q->finished);
		uint64_t one = 1;
		if (write(q->efd, &one, sizeof(one)) < 0) {
			/* eventfd counter saturated: the loop is already due to wake */
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Run the done callbacks of finished jobs (loop thread). */
static void deliver(struct coco_workq *q)
{
	pthread_mutex_lock(&q->lock);
	struct job *list = q->done;
	q->done = NULL;
	q->done_tail = &q->done;
	pthread_mutex_unlock(&q->lock);
	while (list) {
		struct job *j = list;
		list = j->next;
		if (j->done)
			j->done(j->arg);
		free(j);
		pthread_mutex_lock(&q->lock);
		q->pending--;
		pthread_mutex_unlock(&q->lock);
	}
}

static void on_event(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing new; deliver() below finds out */
	}
	deliver(userdata);
}

int coco_workq_new(struct coco_loop *loop, unsigned threads, unsigned max_queued,
		   struct coco_workq **ret)
{
	if (threads == 0 || threads > WORKQ_MAX_THREADS)
		return -EINVAL;
	struct coco_workq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->loop = loop;
	q->max_queued = max_queued;
	q->queue_tail = &q->queue;
	q->done_tail = &q->done;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_cond_init(&q->finished, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = q->efd < 0 ? -errno : 0;
	if (r == 0 && loop)
		r = coco_loop_add(loop, q->efd, EPOLLIN, on_event, q);
	for (unsigned i = 0; r == 0 && i < threads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
			r = -EAGAIN;
		else
			q->n_threads++;
	}
	if (r < 0) {
		coco_workq_free(q);
		return r;
	}
	*ret = q;
	return 0;
}

int coco_workq_submit(struct coco_workq *q, coco_work_fn work, coco_done_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){NULL, work, done, arg};
	pthread_mutex_lock(&q->lock);
	if (q->stopping || q->queued >= q->max_queued) {
		pthread_mutex_unlock(&q->lock);
		free(j);
		return -EAGAIN;
	}
	*q->queue_tail = j;
	q->queue_tail = &j->next;
	q->queued++;
	q->pending++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

unsigned coco_workq_pending(struct coco_workq *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned n = q->pending;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void coco_workq_drain(struct coco_workq *q)
{
	for (;;) {
		deliver(q);
		pthread_mutex_lock(&q->lock);
		if (q->pending == 0) {
			pthread_mutex_unlock(&q->lock);
			return;
		}
		while (!q->done)
			pthread_cond_wait(&q->finished, &q->lock);
		pthread_mutex_unlock(&q->lock);
	}
}

void coco_workq_free(struct coco_workq *q)
{
	if (!q)
		return;
	if (q->n_threads)
		coco_workq_drain(q);
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->n_threads; i++)
		pthread_join(q->threads[i], NULL);
	if (q->efd >= 0) {
		if (q->loop)
			coco_loop_remove(q->loop, q->efd);
		close(q->efd);
	}
	pthread_cond_destroy(&q->finished);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
