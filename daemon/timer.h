/* SPDX-License-Identifier: MIT */
/*
 * Timers: the broker's one deadline queue. A struct timer (a deadline on
 * the lease clock and a callback) is embedded in whatever it times out:
 * a lease's expiry, later a model's idle timeout or a batching delay. One
 * thread per queue sleeps on a CLOCK_MONOTONIC condition variable until
 * the earliest deadline and runs the callbacks that are due.
 *
 * The rule against a concurrently firing callback: a timer is unqueued
 * under the queue lock before its callback runs, and callbacks run with
 * no timer lock held. So exactly one of these wins for a queued timer:
 * timer_del() (returns true: the callback will not run), timer_mod()
 * (returns 0: it will run later), or the firing (timer_del() returns
 * false, timer_mod() -ENOENT). A false from timer_del() says nothing
 * about whether the callback has returned yet: an owner that frees the
 * object keeps it alive for the callback by other means (a lease: the
 * reference the queued timer stands for passes to the callback).
 */
#ifndef GL_TIMER_H
#define GL_TIMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/clock.h"

struct timer;
struct timer_round;

/* Runs once per arming, with no timer lock held; may timer_add() any
 * timer (itself included) and timer_defer() work to the round's end. */
typedef void (*timer_fn)(struct timer *t, struct timer_round *rd);

/* Called at teardown for a timer still queued, unfired (timer_drain):
 * its owner releases what the queued timer stood for. */
typedef void (*timer_cancel_fn)(struct timer *t);

struct timer {
	_Atomic int64_t deadline;	/* lease clock, ns; written under the
					 * queue lock, read lock-free */
	size_t idx;			/* queue lock; TIMER_IDLE when not
					 * queued */
	timer_fn fn;			/* fixed after timer_init() */
	timer_cancel_fn cancel;		/* fixed; NULL: nothing to release */
};

#define TIMER_IDLE ((size_t)-1)

/* Work deferred by callbacks until the timers due together have all run
 * (or TIMER_DEFER_MAX are pending): e.g. leases due together all turn
 * expired before any of their pages is freed. A timer that falls due
 * while the deferred work runs goes first: it runs before the next
 * deferred item, so slow deferred work never makes a deadline late by
 * more than one item. */
#define TIMER_DEFER_MAX 64

struct timer_round {
	bool sync;			/* run by timer_run_due(): callbacks may
					 * wait for other work */
	unsigned head;			/* next deferred item to run */
	unsigned nr;			/* items below, run or pending */
	struct {
		void (*fn)(void *arg);
		void *arg;
	} defer[TIMER_DEFER_MAX];
};

struct timer_base {
	pthread_mutex_t lock;		/* the queue lock: everything below and
					 * every queued timer's deadline, idx */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	struct timer **heap;		/* min-heap on deadline */
	size_t nr;			/* lock */
	size_t cap;			/* lock */
	bool stop;			/* lock */
	bool running;			/* thread started */
	pthread_t thread;
	const struct gl_clock *clock;	/* fixed */
};

/* timer_init - an idle timer that will call @fn. */
void timer_init(struct timer *t, timer_fn fn);

/* timer_set_cancel - @cancel runs if @t is still queued at teardown
 * (timer_drain). Before @t is first queued. */
void timer_set_cancel(struct timer *t, timer_cancel_fn cancel);

/* timer_deadline - @t's last deadline (lease clock, ns). Lock-free. */
static inline int64_t timer_deadline(const struct timer *t)
{
	return atomic_load(&t->deadline);
}

/* timer_base_init - an empty queue on @clock. 0 or -errno. */
int timer_base_init(struct timer_base *tb, const struct gl_clock *clock);

/* timer_start - start the thread. 0 or -errno. */
int timer_start(struct timer_base *tb);

/* timer_stop - stop the thread (a callback it runs finishes first);
 * queued timers stay queued and unfired. */
void timer_stop(struct timer_base *tb);

/* timer_base_destroy - free the queue. After timer_stop() and with no
 * timer queued (timer_take_first() empties it). */
void timer_base_destroy(struct timer_base *tb);

/* timer_add - queue idle @t at @deadline. 0, -EBUSY (queued already),
 * -ENOMEM. Takes the queue lock. */
int timer_add(struct timer_base *tb, struct timer *t, int64_t deadline);

/* timer_mod - move queued @t to @deadline, earlier or later. 0, or
 * -ENOENT when @t is not queued (never added, deleted, fired or firing). */
int timer_mod(struct timer_base *tb, struct timer *t, int64_t deadline);

/* timer_del - unqueue @t. True when it was queued: its callback will not
 * run for this arming; false when it was not (its callback may be running
 * now). Never waits for a callback. */
bool timer_del(struct timer_base *tb, struct timer *t);

/* timer_take_first - unqueue and return the earliest timer, due or not,
 * without calling it; NULL when none is queued. For teardown. */
struct timer *timer_take_first(struct timer_base *tb);

/* timer_drain - unqueue every timer without firing it and call its
 * cancel, if set: whatever kind of object embeds it. After timer_stop();
 * the queue is then empty, ready for timer_base_destroy(). */
void timer_drain(struct timer_base *tb);

/* timer_run_due - run, in the calling thread and in deadline order, every
 * callback due by the lease clock, with rd->sync set; the round's
 * deferred work is done when it returns. Sleeps as long as they do. */
void timer_run_due(struct timer_base *tb);

/* timer_defer - run @fn(@arg) once the round's due callbacks have run,
 * or at once (no timer lock held) when this fills the round's
 * TIMER_DEFER_MAX slots. From a callback only. */
void timer_defer(struct timer_round *rd, void (*fn)(void *arg), void *arg);

#endif
