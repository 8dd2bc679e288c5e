/* The TD-launch gate (tdxd/gate.h): a reader-writer lock with writer preference, timeouts on
 * both sides and a closed state. */
#include "tdxd/gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "coco/util.h"

struct tdxd_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned shared;
	unsigned writers_waiting;
	bool exclusive, closed;
	uint64_t exclusive_since, last_hold_ns, exclusive_entries;
};

int tdxd_gate_new(struct tdxd_gate **ret)
{
	struct tdxd_gate *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	*ret = g;
	return 0;
}

void tdxd_gate_free(struct tdxd_gate *g)
{
	if (!g)
		return;
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

static struct timespec deadline_ts(uint64_t deadline_ns)
{
	return (struct timespec){.tv_sec = (time_t)(deadline_ns / 1000000000u),
				 .tv_nsec = (long)(deadline_ns % 1000000000u)};
}

int tdxd_gate_enter_shared(struct tdxd_gate *g, unsigned timeout_ms)
{
	struct timespec dl = deadline_ts(now_ns() + (uint64_t)timeout_ms * 1000000u);
	int r = 0;
	pthread_mutex_lock(&g->mu);
	while (!g->closed && (g->exclusive || g->writers_waiting))
		if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			break;
		}
	if (g->closed)
		r = -ENXIO;
	else if (r == 0)
		g->shared++;
	pthread_mutex_unlock(&g->mu);
	return r;
}

void tdxd_gate_leave_shared(struct tdxd_gate *g)
{
	pthread_mutex_lock(&g->mu);
	if (g->shared)
		g->shared--;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

int tdxd_gate_enter_exclusive(struct tdxd_gate *g, unsigned timeout_ms)
{
	struct timespec dl = deadline_ts(now_ns() + (uint64_t)timeout_ms * 1000000u);
	int r = 0;
	pthread_mutex_lock(&g->mu);
	if (g->closed || g->exclusive) {
		r = g->closed ? -ENXIO : -EBUSY;
		goto out;
	}
	g->writers_waiting++;
	while (!g->closed && !g->exclusive && g->shared)
		if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			break;
		}
	g->writers_waiting--;
	if (g->closed)
		r = -ENXIO;
	else if (g->exclusive)
		r = -EBUSY;
	else if (r == 0 && g->shared)
		r = -ETIMEDOUT;
	if (r == 0) {
		g->exclusive = true;
		g->exclusive_since = now_ns();
		g->exclusive_entries++;
	}
	pthread_cond_broadcast(&g->cv); /* a timed-out writer lets the readers in again */
out:
	pthread_mutex_unlock(&g->mu);
	return r;
}

void tdxd_gate_leave_exclusive(struct tdxd_gate *g)
{
	pthread_mutex_lock(&g->mu);
	if (g->exclusive) {
		g->exclusive = false;
		g->last_hold_ns = now_ns() - g->exclusive_since;
	}
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void tdxd_gate_close(struct tdxd_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->closed = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void tdxd_gate_stats(struct tdxd_gate *g, struct tdxd_gate_stats *ret)
{
	pthread_mutex_lock(&g->mu);
	*ret = (struct tdxd_gate_stats){.shared = g->shared,
					.exclusive = g->exclusive,
					.exclusive_waiting = g->writers_waiting > 0,
					.closed = g->closed,
					.last_exclusive_hold_ns = g->last_hold_ns,
					.exclusive_entries = g->exclusive_entries};
	pthread_mutex_unlock(&g->mu);
}
