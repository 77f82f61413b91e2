/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the generic deadline queue (daemon/timer.h) on its own: due
 * callbacks run in deadline order, timer_mod moves a deadline either way,
 * timer_del wins before the firing and loses during it, timers due
 * together run before any of their deferred work, a timer due while
 * deferred work runs goes before the next item, callbacks re-arm
 * themselves, and stop leaves pending timers queued and unfired.
 *
 * Deterministic: the lease clock is advanced by its debug offset and due
 * timers are run with timer_run_due(), or the thread's firing is waited
 * for with a condition variable; nothing depends on how fast it is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <urcu/compiler.h>

#include "daemon/timer.h"
#include "selftests/harness.h"

#define MANY 150
#define SEC NSEC_PER_SEC

struct tt {
	struct timer t;
	int id;
	int fired;			/* times its callback ran */
	int rearm;			/* times it should re-arm itself */
	int64_t step;			/* ns added by each re-arm */
	struct timer_base *tb;
};

/* What the callbacks saw; one test at a time per process. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int order[MANY];		/* ids in firing order */
	int nr;				/* callbacks run */
	int deferred_saw[MANY];		/* nr when each deferred work ran */
	int nr_deferred;
	bool sync;			/* of the last round */
	bool in_cb;			/* the gated callback has started */
	bool gate;			/* it may return */
} seen = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void record(struct tt *x, struct timer_round *rd)
{
	pthread_mutex_lock(&seen.lock);
	x->fired++;
	if (seen.nr < MANY)
		seen.order[seen.nr] = x->id;
	seen.nr++;
	seen.sync = rd->sync;
	pthread_cond_broadcast(&seen.cond);
	pthread_mutex_unlock(&seen.lock);
}

static void cb(struct timer *t, struct timer_round *rd)
{
	struct tt *x = caa_container_of(t, struct tt, t);

	record(x, rd);
	if (x->rearm > 0) {
		x->rearm--;
		timer_add(x->tb, t, timer_deadline(t) + x->step);
	}
}

static void deferred(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&seen.lock);
	seen.deferred_saw[seen.nr_deferred++] = seen.nr;
	pthread_mutex_unlock(&seen.lock);
}

static void cb_defer(struct timer *t, struct timer_round *rd)
{
	record(caa_container_of(t, struct tt, t), rd);
	timer_defer(rd, deferred, NULL);
}

static void cb_gated(struct timer *t, struct timer_round *rd)
{
	record(caa_container_of(t, struct tt, t), rd);
	pthread_mutex_lock(&seen.lock);
	seen.in_cb = true;
	pthread_cond_broadcast(&seen.cond);
	while (!seen.gate)
		pthread_cond_wait(&seen.cond, &seen.lock);
	seen.in_cb = false;
	pthread_cond_broadcast(&seen.cond);
	pthread_mutex_unlock(&seen.lock);
}

static void wait_fired(int n)
{
	pthread_mutex_lock(&seen.lock);
	while (seen.nr < n)
		pthread_cond_wait(&seen.cond, &seen.lock);
	pthread_mutex_unlock(&seen.lock);
}

static void tt_init(struct tt *x, int id, timer_fn fn, struct timer_base *tb)
{
	timer_init(&x->t, fn);
	x->id = id;
	x->fired = 0;
	x->rearm = 0;
	x->step = 0;
	x->tb = tb;
}

TEST(due_callbacks_run_in_deadline_order)
{
	static struct tt x[MANY];
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;
	int i;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	/* deadlines 1000 s + a permutation of 0..MANY-1 ms */
	for (i = 0; i < MANY; i++) {
		int k = (i * 37) % MANY;

		tt_init(&x[i], k, cb, &tb);
		ASSERT_EQ(timer_add(&tb, &x[i].t,
				    t0 + 1000 * SEC + k * 1000000LL), 0);
	}
	timer_run_due(&tb);
	EXPECT_EQ(seen.nr, 0);		/* nothing due yet */
	ASSERT_EQ(clock_advance_to(&c, 2000), 0);
	timer_run_due(&tb);
	ASSERT_EQ(seen.nr, MANY);
	EXPECT_TRUE(seen.sync);
	for (i = 0; i < MANY; i++) {
		EXPECT_EQ(seen.order[i], i);
		EXPECT_EQ(x[i].fired, 1);
	}
	EXPECT_EQ(timer_take_first(&tb), NULL);
	timer_base_destroy(&tb);
}

TEST(mod_moves_deadline_earlier_and_later)
{
	struct tt a, b, d;
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	tt_init(&a, 0, cb, &tb);
	tt_init(&b, 1, cb, &tb);
	tt_init(&d, 2, cb, &tb);
	ASSERT_EQ(timer_add(&tb, &a.t, t0 + 100 * SEC), 0);
	ASSERT_EQ(timer_add(&tb, &b.t, t0 + 200 * SEC), 0);
	ASSERT_EQ(timer_add(&tb, &d.t, t0 + 300 * SEC), 0);
	/* the root later: the next one is due first */
	EXPECT_EQ(timer_mod(&tb, &a.t, t0 + 400 * SEC), 0);
	EXPECT_EQ(timer_deadline(&a.t), t0 + 400 * SEC);
	ASSERT_EQ(clock_advance_to(&c, 250), 0);
	timer_run_due(&tb);
	ASSERT_EQ(seen.nr, 1);
	EXPECT_EQ(seen.order[0], 1);
	/* the last earlier, into the past: due now, before a */
	EXPECT_EQ(timer_mod(&tb, &d.t, t0 + 50 * SEC), 0);
	timer_run_due(&tb);
	ASSERT_EQ(seen.nr, 2);
	EXPECT_EQ(seen.order[1], 2);
	EXPECT_EQ(a.fired, 0);
	EXPECT_EQ(timer_mod(&tb, &d.t, t0 + 900 * SEC), -ENOENT); /* fired */
	ASSERT_EQ(clock_advance_to(&c, 450), 0);
	timer_run_due(&tb);
	EXPECT_EQ(a.fired, 1);
	EXPECT_EQ(d.fired, 1);
	timer_base_destroy(&tb);
}

TEST(del_before_fire_wins)
{
	struct tt a, b;
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	tt_init(&a, 0, cb, &tb);
	tt_init(&b, 1, cb, &tb);
	EXPECT_FALSE(timer_del(&tb, &a.t));		/* never added */
	EXPECT_EQ(timer_mod(&tb, &a.t, t0), -ENOENT);
	ASSERT_EQ(timer_add(&tb, &a.t, t0 + 10 * SEC), 0);
	EXPECT_EQ(timer_add(&tb, &a.t, t0 + 20 * SEC), -EBUSY);
	ASSERT_EQ(timer_add(&tb, &b.t, t0 + 10 * SEC), 0);
	EXPECT_TRUE(timer_del(&tb, &a.t));
	EXPECT_FALSE(timer_del(&tb, &a.t));
	EXPECT_EQ(timer_mod(&tb, &a.t, t0), -ENOENT);
	ASSERT_EQ(clock_advance_to(&c, 30), 0);
	timer_run_due(&tb);
	EXPECT_EQ(a.fired, 0);
	EXPECT_EQ(b.fired, 1);
	/* a deleted timer can be armed again */
	ASSERT_EQ(timer_add(&tb, &a.t, t0), 0);
	timer_run_due(&tb);
	EXPECT_EQ(a.fired, 1);
	timer_base_destroy(&tb);
}

/* The thread fires it; while its callback runs, del and mod lose and
 * the queue stays usable (no timer lock is held by a callback). */
TEST(del_during_fire_loses)
{
	struct tt g, other;
	struct gl_clock c = { 0 };
	struct timer_base tb;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	ASSERT_EQ(timer_start(&tb), 0);
	tt_init(&g, 0, cb_gated, &tb);
	tt_init(&other, 1, cb, &tb);
	ASSERT_EQ(timer_add(&tb, &g.t, clock_now(&c)), 0);
	pthread_mutex_lock(&seen.lock);
	while (!seen.in_cb)
		pthread_cond_wait(&seen.cond, &seen.lock);
	pthread_mutex_unlock(&seen.lock);
	EXPECT_FALSE(timer_del(&tb, &g.t));
	EXPECT_EQ(timer_mod(&tb, &g.t, clock_now(&c) + SEC), -ENOENT);
	EXPECT_EQ(timer_add(&tb, &other.t, clock_now(&c) + 1000 * SEC), 0);
	EXPECT_TRUE(timer_del(&tb, &other.t));
	pthread_mutex_lock(&seen.lock);
	seen.gate = true;
	pthread_cond_broadcast(&seen.cond);
	while (seen.in_cb)
		pthread_cond_wait(&seen.cond, &seen.lock);
	pthread_mutex_unlock(&seen.lock);
	EXPECT_FALSE(seen.sync);	/* the thread's round */
	timer_stop(&tb);
	EXPECT_EQ(g.fired, 1);
	EXPECT_EQ(other.fired, 0);
	timer_base_destroy(&tb);
}

/* All callbacks due together run before any deferred work, in batches
 * of TIMER_DEFER_MAX (the lease expiry batch). */
TEST(many_due_together_defer_to_round_end)
{
	static struct tt x[MANY];
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;
	int i, batch_end;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	for (i = 0; i < MANY; i++) {
		tt_init(&x[i], i, cb_defer, &tb);
		ASSERT_EQ(timer_add(&tb, &x[i].t, t0 + 5 * SEC), 0);
	}
	ASSERT_EQ(clock_advance_to(&c, 10), 0);
	timer_run_due(&tb);
	ASSERT_EQ(seen.nr, MANY);
	ASSERT_EQ(seen.nr_deferred, MANY);
	for (i = 0; i < MANY; i++) {
		EXPECT_EQ(x[i].fired, 1);
		batch_end = (i / TIMER_DEFER_MAX + 1) * TIMER_DEFER_MAX;
		if (batch_end > MANY)
			batch_end = MANY;
		EXPECT_EQ(seen.deferred_saw[i], batch_end);
	}
	timer_base_destroy(&tb);
}

/* A deadline that falls due while deferred work runs. */
static struct {
	struct timer_base *tb;
	struct tt *late;
} due_mid;

static void deferred_makes_due(void *arg)
{
	deferred(arg);
	timer_mod(due_mid.tb, &due_mid.late->t,
		  clock_now(due_mid.tb->clock));
}

static void cb_defer_two(struct timer *t, struct timer_round *rd)
{
	record(caa_container_of(t, struct tt, t), rd);
	timer_defer(rd, deferred_makes_due, NULL);
	timer_defer(rd, deferred, NULL);
}

/*
 * Deferred work (freeing pages) is slow; a timer that falls due while it
 * runs fires before the next deferred item, not after the whole round.
 */
TEST(due_timer_goes_before_the_next_deferred_item)
{
	static struct tt x[2];
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	tt_init(&x[0], 0, cb_defer_two, &tb);
	tt_init(&x[1], 1, cb, &tb);
	due_mid.tb = &tb;
	due_mid.late = &x[1];
	ASSERT_EQ(timer_add(&tb, &x[0].t, t0 + 5 * SEC), 0);
	ASSERT_EQ(timer_add(&tb, &x[1].t, t0 + 1000 * SEC), 0);
	ASSERT_EQ(clock_advance_to(&c, 10), 0);
	timer_run_due(&tb);
	ASSERT_EQ(seen.nr, 2);
	ASSERT_EQ(seen.nr_deferred, 2);
	EXPECT_EQ(seen.order[0], 0);
	EXPECT_EQ(seen.order[1], 1);
	EXPECT_EQ(seen.deferred_saw[0], 1);	/* after timer 0 */
	EXPECT_EQ(seen.deferred_saw[1], 2);	/* after timer 1 too */
	timer_base_destroy(&tb);
}

TEST(callbacks_rearm_themselves)
{
	struct tt a, b;
	struct gl_clock c = { 0 };
	struct timer_base tb;
	int64_t t0;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	t0 = clock_now(&c);
	/* a re-arms 4 times, 10 s apart; b sits in the middle */
	tt_init(&a, 0, cb, &tb);
	a.rearm = 4;
	a.step = 10 * SEC;
	tt_init(&b, 1, cb, &tb);
	ASSERT_EQ(timer_add(&tb, &a.t, t0 + 10 * SEC), 0);
	ASSERT_EQ(timer_add(&tb, &b.t, t0 + 25 * SEC), 0);
	ASSERT_EQ(clock_advance_to(&c, 100), 0);
	timer_run_due(&tb);		/* all five and b in one round */
	ASSERT_EQ(seen.nr, 6);
	EXPECT_EQ(a.fired, 5);
	EXPECT_EQ(b.fired, 1);
	EXPECT_EQ(seen.order[2], 1);	/* b after a's 10 s and 20 s */
	EXPECT_EQ(timer_take_first(&tb), NULL);

	/* and on the thread, at real deadlines a millisecond apart */
	ASSERT_EQ(timer_start(&tb), 0);
	a.rearm = 3;
	a.step = 1000000;
	ASSERT_EQ(timer_add(&tb, &a.t, clock_now(&c)), 0);
	wait_fired(10);
	timer_stop(&tb);
	EXPECT_EQ(a.fired, 9);
	EXPECT_EQ(a.rearm, 0);
	EXPECT_EQ(timer_take_first(&tb), NULL);
	timer_base_destroy(&tb);
}

TEST(stop_leaves_pending_timers_unfired)
{
	static struct tt x[8];
	struct gl_clock c = { 0 };
	struct timer_base tb;
	struct timer *t;
	int64_t t0;
	int i;

	ASSERT_EQ(timer_base_init(&tb, &c), 0);
	ASSERT_EQ(timer_start(&tb), 0);
	t0 = clock_now(&c);
	for (i = 0; i < 8; i++) {
		tt_init(&x[i], i, cb, &tb);
		ASSERT_EQ(timer_add(&tb, &x[i].t,
				    t0 + (1000 - i) * SEC), 0);
	}
	timer_stop(&tb);
	/* due now, but nobody runs them: the thread is gone */
	ASSERT_EQ(clock_advance_to(&c, 5000), 0);
	EXPECT_TRUE(timer_del(&tb, &x[0].t));
	for (i = 7; i >= 1; i--) {
		t = timer_take_first(&tb);
		ASSERT_NE(t, NULL);
		EXPECT_EQ(caa_container_of(t, struct tt, t)->id, i);
		EXPECT_EQ(t->idx, TIMER_IDLE);
	}
	EXPECT_EQ(timer_take_first(&tb), NULL);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(x[i].fired, 0);
	EXPECT_EQ(seen.nr, 0);
	timer_base_destroy(&tb);
}

TEST_HARNESS_MAIN
