/* SPDX-License-Identifier: MIT */
/*
 * The reaper thread and its deadline heap. It sleeps on a CLOCK_MONOTONIC
 * condition variable until the earliest deadline, so a lease's memory is
 * freed within the wake-up latency of its deadline (well under 10 ms).
 *
 * Invariant: under r->lock, heap[i]->heap_idx == i for every queued
 * lease, and each queued lease holds one reference owned by the heap.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "daemon/reaper.h"

/* Leases expired before the first of their memory is given back. */
#define REAPER_BATCH 64

int reaper_init(struct reaper *r, struct broker *b)
{
	pthread_condattr_t attr;
	int err;

	r->heap = NULL;
	r->nr = 0;
	r->cap = 0;
	r->stop = false;
	r->running = false;
	r->b = b;
	err = pthread_mutex_init(&r->lock, NULL);
	if (err)
		return -err;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err) {
		pthread_mutex_destroy(&r->lock);
		return -err;
	}
	return 0;
}

static bool heap_less(struct reaper *r, size_t i, size_t j)
{
	return atomic_load(&r->heap[i]->deadline_ns) <
	       atomic_load(&r->heap[j]->deadline_ns);
}

static void heap_swap(struct reaper *r, size_t i, size_t j)
{
	struct lease *t = r->heap[i];

	r->heap[i] = r->heap[j];
	r->heap[j] = t;
	r->heap[i]->heap_idx = i;
	r->heap[j]->heap_idx = j;
}

static void heap_up(struct reaper *r, size_t i)
{
	while (i && heap_less(r, i, (i - 1) / 2)) {
		heap_swap(r, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct reaper *r, size_t i)
{
	for (;;) {
		size_t m = i, c = 2 * i + 1;

		if (c < r->nr && heap_less(r, c, m))
			m = c;
		if (c + 1 < r->nr && heap_less(r, c + 1, m))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(r, i, m);
		i = m;
	}
}

/* Unlink heap[i]; returns the lease, whose reference the caller owns. */
static struct lease *heap_take(struct reaper *r, size_t i)
{
	struct lease *l = r->heap[i];

	assert(i < r->nr && l->heap_idx == i);
	r->nr--;
	if (i != r->nr) {
		r->heap[i] = r->heap[r->nr];
		r->heap[i]->heap_idx = i;
		heap_down(r, i);
		heap_up(r, i);
	}
	l->heap_idx = REAPER_NOT_QUEUED;
	return l;
}

int reaper_add(struct reaper *r, struct lease *l, int64_t deadline)
{
	int err = 0;

	pthread_mutex_lock(&r->lock);
	if (r->nr == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct lease **h = realloc(r->heap, cap * sizeof(*h));

		if (!h) {
			err = -ENOMEM;
			goto out;
		}
		r->heap = h;
		r->cap = cap;
	}
	assert(l->heap_idx == REAPER_NOT_QUEUED);
	lease_get(l);
	atomic_store(&l->deadline_ns, deadline);
	l->heap_idx = r->nr;
	r->heap[r->nr++] = l;
	heap_up(r, l->heap_idx);
	if (l->heap_idx == 0)
		pthread_cond_signal(&r->cond);
out:
	pthread_mutex_unlock(&r->lock);
	return err;
}

int reaper_update(struct reaper *r, struct lease *l, int64_t deadline)
{
	int err = 0;

	pthread_mutex_lock(&r->lock);
	if (l->heap_idx == REAPER_NOT_QUEUED) {
		err = -EKEYEXPIRED;
		goto out;
	}
	assert(r->heap[l->heap_idx] == l);
	atomic_store(&l->deadline_ns, deadline);
	heap_down(r, l->heap_idx);
	heap_up(r, l->heap_idx);
	pthread_cond_signal(&r->cond);
out:
	pthread_mutex_unlock(&r->lock);
	return err;
}

void reaper_remove(struct reaper *r, struct lease *l)
{
	struct lease *got = NULL;

	pthread_mutex_lock(&r->lock);
	if (l->heap_idx != REAPER_NOT_QUEUED)
		got = heap_take(r, l->heap_idx);
	pthread_mutex_unlock(&r->lock);
	if (got)
		lease_put(got);
}

/* Expire every lease whose deadline has passed. Called with r->lock
 * held; drops it around each expiry. Without @wait no expiry waits for
 * a launch (lease_expire()), so one lease's work never delays
 * another's deadline. */
static void reaper_expire_due(struct reaper *r, bool wait)
{
	struct lease_detached spoils[REAPER_BATCH];
	unsigned n = 0, i;
	struct lease *l;

	while (r->nr && atomic_load(&r->heap[0]->deadline_ns) <=
			clock_now(&r->b->clock)) {
		l = heap_take(r, 0);
		pthread_mutex_unlock(&r->lock);
		lease_expire(l, wait, &spoils[n++]);
		lease_put(l);
		if (n == REAPER_BATCH) {
			for (i = 0; i < n; i++)
				lease_release_detached(&spoils[i]);
			n = 0;
		}
		pthread_mutex_lock(&r->lock);
	}
	if (!n)
		return;
	/* pages go back last: freeing them is the slow part of an expiry */
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < n; i++)
		lease_release_detached(&spoils[i]);
	pthread_mutex_lock(&r->lock);
}

void reaper_run_due(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
	reaper_expire_due(r, true);
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;
	struct broker *b = r->b;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		int64_t wait_ns, at;
		struct timespec ts;

		reaper_expire_due(r, false);
		if (r->stop)
			break;
		if (!r->nr) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		wait_ns = atomic_load(&r->heap[0]->deadline_ns) -
			  clock_now(&b->clock);
		at = clock_mono() + wait_ns;
		ts.tv_sec = at / NSEC_PER_SEC;
		ts.tv_nsec = at % NSEC_PER_SEC;
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int reaper_start(struct reaper *r)
{
	int err = pthread_create(&r->thread, NULL, reaper_main, r);

	if (err)
		return -err;
	r->running = true;
	return 0;
}

void reaper_stop(struct reaper *r)
{
	if (r->running) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->running = false;
	}
}

void reaper_destroy(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->nr) {
		struct lease *l = heap_take(r, r->nr - 1);

		pthread_mutex_unlock(&r->lock);
		lease_put(l);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	free(r->heap);
	r->heap = NULL;
	r->cap = 0;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}
