/* SPDX-License-Identifier: MIT */
/*
 * The timer queue and its thread. It sleeps on a CLOCK_MONOTONIC
 * condition variable until the earliest deadline, so a callback runs
 * within the wake-up latency of its deadline (well under 10 ms).
 *
 * Invariant: under tb->lock, heap[i]->idx == i for every queued timer,
 * and a timer is unqueued (idx == TIMER_IDLE) before its callback runs,
 * which it does with tb->lock dropped.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/timer.h"

void timer_init(struct timer *t, timer_fn fn)
{
	atomic_init(&t->deadline, 0);
	t->idx = TIMER_IDLE;
	t->fn = fn;
	t->cancel = NULL;
}

void timer_set_cancel(struct timer *t, timer_cancel_fn cancel)
{
	t->cancel = cancel;
}

void timer_drain(struct timer_base *tb)
{
	struct timer *t;

	while ((t = timer_take_first(tb)))
		if (t->cancel)
			t->cancel(t);
}

int timer_base_init(struct timer_base *tb, const struct gl_clock *clock)
{
	pthread_condattr_t attr;
	int err;

	tb->heap = NULL;
	tb->nr = 0;
	tb->cap = 0;
	tb->stop = false;
	tb->running = false;
	tb->clock = clock;
	err = pthread_mutex_init(&tb->lock, NULL);
	if (err)
		return -err;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(&tb->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err) {
		pthread_mutex_destroy(&tb->lock);
		return -err;
	}
	return 0;
}

static bool heap_less(struct timer_base *tb, size_t i, size_t j)
{
	return timer_deadline(tb->heap[i]) < timer_deadline(tb->heap[j]);
}

static void heap_swap(struct timer_base *tb, size_t i, size_t j)
{
	struct timer *t = tb->heap[i];

	tb->heap[i] = tb->heap[j];
	tb->heap[j] = t;
	tb->heap[i]->idx = i;
	tb->heap[j]->idx = j;
}

static void heap_up(struct timer_base *tb, size_t i)
{
	while (i && heap_less(tb, i, (i - 1) / 2)) {
		heap_swap(tb, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct timer_base *tb, size_t i)
{
	for (;;) {
		size_t m = i, c = 2 * i + 1;

		if (c < tb->nr && heap_less(tb, c, m))
			m = c;
		if (c + 1 < tb->nr && heap_less(tb, c + 1, m))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(tb, i, m);
		i = m;
	}
}

/* Unlink heap[i] and return it. Under tb->lock. */
static struct timer *heap_take(struct timer_base *tb, size_t i)
{
	struct timer *t = tb->heap[i];

	assert(i < tb->nr && t->idx == i);
	tb->nr--;
	if (i != tb->nr) {
		tb->heap[i] = tb->heap[tb->nr];
		tb->heap[i]->idx = i;
		heap_down(tb, i);
		heap_up(tb, i);
	}
	t->idx = TIMER_IDLE;
	return t;
}

int timer_add(struct timer_base *tb, struct timer *t, int64_t deadline)
{
	int err = 0;

	pthread_mutex_lock(&tb->lock);
	if (t->idx != TIMER_IDLE) {
		err = -EBUSY;
		goto out;
	}
	if (tb->nr == tb->cap) {
		size_t cap = tb->cap ? tb->cap * 2 : 64;
		struct timer **h = realloc(tb->heap, cap * sizeof(*h));

		if (!h) {
			err = -ENOMEM;
			goto out;
		}
		tb->heap = h;
		tb->cap = cap;
	}
	atomic_store(&t->deadline, deadline);
	t->idx = tb->nr;
	tb->heap[tb->nr++] = t;
	heap_up(tb, t->idx);
	if (t->idx == 0)
		pthread_cond_signal(&tb->cond);
out:
	pthread_mutex_unlock(&tb->lock);
	return err;
}

int timer_mod(struct timer_base *tb, struct timer *t, int64_t deadline)
{
	int err = 0;

	pthread_mutex_lock(&tb->lock);
	if (t->idx == TIMER_IDLE) {
		err = -ENOENT;
		goto out;
	}
	assert(tb->heap[t->idx] == t);
	atomic_store(&t->deadline, deadline);
	heap_down(tb, t->idx);
	heap_up(tb, t->idx);
	pthread_cond_signal(&tb->cond);
out:
	pthread_mutex_unlock(&tb->lock);
	return err;
}

bool timer_del(struct timer_base *tb, struct timer *t)
{
	bool queued;

	pthread_mutex_lock(&tb->lock);
	queued = t->idx != TIMER_IDLE;
	if (queued)
		heap_take(tb, t->idx);
	pthread_mutex_unlock(&tb->lock);
	return queued;
}

struct timer *timer_take_first(struct timer_base *tb)
{
	struct timer *t = NULL;

	pthread_mutex_lock(&tb->lock);
	if (tb->nr)
		t = heap_take(tb, 0);
	pthread_mutex_unlock(&tb->lock);
	return t;
}

static void round_flush(struct timer_round *rd)
{
	while (rd->head < rd->nr) {
		rd->head++;
		rd->defer[rd->head - 1].fn(rd->defer[rd->head - 1].arg);
	}
	rd->head = rd->nr = 0;
}

void timer_defer(struct timer_round *rd, void (*fn)(void *arg), void *arg)
{
	assert(rd->nr < TIMER_DEFER_MAX);
	rd->defer[rd->nr].fn = fn;
	rd->defer[rd->nr].arg = arg;
	if (++rd->nr == TIMER_DEFER_MAX)
		round_flush(rd);
}

/* Run every due callback. Called with tb->lock held; drops it around
 * each callback and the round's deferred work. With !@sync (the thread)
 * a callback should never wait for other work, so one timer's owner
 * never delays another's deadline. */
static void timer_expire_due(struct timer_base *tb, bool sync)
{
	struct timer_round rd = { .sync = sync, .head = 0, .nr = 0 };
	struct timer *t;

	for (;;) {
		while (tb->nr &&
		       timer_deadline(tb->heap[0]) <= clock_now(tb->clock)) {
			t = heap_take(tb, 0);
			pthread_mutex_unlock(&tb->lock);
			t->fn(t, &rd);
			pthread_mutex_lock(&tb->lock);
		}
		if (rd.head == rd.nr)
			break;
		/* one deferred item, then look for new deadlines again */
		pthread_mutex_unlock(&tb->lock);
		rd.head++;
		rd.defer[rd.head - 1].fn(rd.defer[rd.head - 1].arg);
		pthread_mutex_lock(&tb->lock);
	}
}

void timer_run_due(struct timer_base *tb)
{
	pthread_mutex_lock(&tb->lock);
	timer_expire_due(tb, true);
	pthread_cond_signal(&tb->cond);
	pthread_mutex_unlock(&tb->lock);
}

static void *timer_main(void *arg)
{
	struct timer_base *tb = arg;

	pthread_mutex_lock(&tb->lock);
	while (!tb->stop) {
		int64_t wait_ns, at;
		struct timespec ts;

		timer_expire_due(tb, false);
		if (tb->stop)
			break;
		if (!tb->nr) {
			pthread_cond_wait(&tb->cond, &tb->lock);
			continue;
		}
		wait_ns = timer_deadline(tb->heap[0]) - clock_now(tb->clock);
		at = clock_mono() + wait_ns;
		ts.tv_sec = at / NSEC_PER_SEC;
		ts.tv_nsec = at % NSEC_PER_SEC;
		pthread_cond_timedwait(&tb->cond, &tb->lock, &ts);
	}
	pthread_mutex_unlock(&tb->lock);
	return NULL;
}

int timer_start(struct timer_base *tb)
{
	int err = pthread_create(&tb->thread, NULL, timer_main, tb);

	if (err)
		return -err;
	tb->running = true;
	return 0;
}

void timer_stop(struct timer_base *tb)
{
	if (!tb->running)
		return;
	pthread_mutex_lock(&tb->lock);
	tb->stop = true;
	pthread_cond_signal(&tb->cond);
	pthread_mutex_unlock(&tb->lock);
	pthread_join(tb->thread, NULL);
	tb->running = false;
}

void timer_base_destroy(struct timer_base *tb)
{
	assert(!tb->running && !tb->nr);
	free(tb->heap);
	tb->heap = NULL;
	tb->cap = 0;
	pthread_cond_destroy(&tb->cond);
	pthread_mutex_destroy(&tb->lock);
}
