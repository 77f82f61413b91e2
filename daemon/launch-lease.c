/* SPDX-License-Identifier: MIT */
/*
 * The launch queue as a lease's internal listener (lease.h, struct
 * lease_work_ops): the lease module never calls the launch module by
 * name; it makes, stops and frees l->lq through launch_lease_ops, which
 * the broker registers on the lease table. Also the queue's counters for
 * the ctl and stats texts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/launch.h"
#include "daemon/lease.h"

void launch_stats(struct lease *l, struct launch_stats *st)
{
	struct launch_queue *q = l->lq;

	st->launches = atomic_load(&q->launches);
	st->failures = atomic_load(&q->failures);
	st->ns = atomic_load(&q->ns);
	st->queued = atomic_load(&q->nr_queued);
	st->running = atomic_load(&q->nr_running);
}

static int launch_queue_init(struct launch_queue *q)
{
	int err;

	memset(q, 0, sizeof(*q));
	CDS_INIT_LIST_HEAD(&q->queue);
	CDS_INIT_LIST_HEAD(&q->ready_link);
	q->next_seq = 1;
	err = pthread_mutex_init(&q->lock, NULL);
	if (err)
		return -err;
	err = pthread_cond_init(&q->idle, NULL);
	if (err) {
		pthread_mutex_destroy(&q->lock);
		return -err;
	}
	return 0;
}

static void launch_queue_destroy(struct launch_queue *q)
{
	pthread_cond_destroy(&q->idle);
	pthread_mutex_destroy(&q->lock);
}

/* The lease's internal listener (lease.h, struct lease_work_ops). */
static int launch_lease_create(void *ctx, struct lease *l)
{
	struct launch_queue *q = malloc(sizeof(*q));

	if (!q)
		return -ENOMEM;
	if (launch_queue_init(q)) {
		free(q);
		return -ENOMEM;
	}
	q->lease = l;
	q->lr = ctx;
	l->lq = q;
	return 0;
}

static void launch_lease_destroy(void *ctx, struct lease *l)
{
	launch_queue_destroy(l->lq);
	free(l->lq);
	l->lq = NULL;
}

static bool launch_lease_stop(void *ctx, struct lease *l, int err,
			      bool wait, void (*idle)(struct lease *l))
{
	if (!wait)
		return launch_close_async(l, err, idle);
	launch_close(l, err, true);
	return true;
}

const struct lease_work_ops launch_lease_ops = {
	.create = launch_lease_create,
	.destroy = launch_lease_destroy,
	.stop = launch_lease_stop,
};
