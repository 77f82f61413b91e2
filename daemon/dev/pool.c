/* SPDX-License-Identifier: MIT */
/*
 * Fork-join worker pool. Invariant: a job is on p->jobs while it has
 * parts nobody took (next < n); it is complete when done == n, and only
 * then may pool_run return and the job (on the caller's stack) vanish.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <urcu/list.h>

#include "daemon/dev/pool.h"

struct pool_job {
	struct cds_list_head link;	/* p->jobs; p->lock */
	void (*fn)(void *arg, unsigned i);
	void *arg;
	unsigned n;
	unsigned next;			/* p->lock: next part to hand out */
	unsigned done;			/* p->lock: parts finished */
	pthread_cond_t finished;	/* signalled at done == n */
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued, or stop */
	struct cds_list_head jobs;	/* lock; FIFO of jobs with parts */
	bool stop;			/* lock */
	unsigned nthreads;
	pthread_t threads[];
};

/* Take the next part of the oldest job. Called with p->lock held. */
static struct pool_job *pool_take(struct pool *p, unsigned *part)
{
	struct pool_job *j;

	if (cds_list_empty(&p->jobs))
		return NULL;
	j = cds_list_first_entry(&p->jobs, struct pool_job, link);
	assert(j->next < j->n);	/* on the list only with parts left */
	*part = j->next++;
	if (j->next == j->n)
		cds_list_del_init(&j->link);
	return j;
}

/* Run one part with the lock dropped, then count it. Lock held. */
static void pool_do(struct pool *p, struct pool_job *j, unsigned part)
{
	pthread_mutex_unlock(&p->lock);
	j->fn(j->arg, part);
	pthread_mutex_lock(&p->lock);
	assert(j->done < j->n);
	if (++j->done == j->n)
		pthread_cond_signal(&j->finished);
}

void pool_thread_batch(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	/* best effort: a thread that cannot change stays SCHED_OTHER */
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
}

static void *pool_main(void *arg)
{
	struct pool *p = arg;
	struct pool_job *j;
	unsigned part;

	pool_thread_batch();
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		j = pool_take(p, &part);
		if (!j) {
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		pool_do(p, j, part);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pool_create(struct pool **out, unsigned nthreads)
{
	struct pool *p;
	unsigned i;
	int err;

	if (!nthreads)
		nthreads = 1;
	p = calloc(1, sizeof(*p) + nthreads * sizeof(p->threads[0]));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	CDS_INIT_LIST_HEAD(&p->jobs);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&p->threads[i], NULL, pool_main, p);
		if (err) {
			p->nthreads = i;
			pool_destroy(p);
			return -err;
		}
	}
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

void pool_destroy(struct pool *p)
{
	unsigned i;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

unsigned pool_threads(const struct pool *p)
{
	return p->nthreads;
}

void pool_run(struct pool *p, void (*fn)(void *arg, unsigned i), void *arg,
	      unsigned n)
{
	struct pool_job job = { .fn = fn, .arg = arg, .n = n };
	unsigned part;

	if (!n)
		return;
	pthread_cond_init(&job.finished, NULL);
	pthread_mutex_lock(&p->lock);
	cds_list_add_tail(&job.link, &p->jobs);
	if (n > 1)
		pthread_cond_broadcast(&p->work);
	/* the caller works on its own job until every part is taken */
	while (job.next < job.n) {
		part = job.next++;
		if (job.next == job.n)
			cds_list_del_init(&job.link);
		pool_do(p, &job, part);
	}
	while (job.done < job.n)
		pthread_cond_wait(&job.finished, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&job.finished);
}
