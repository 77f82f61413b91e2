/* SPDX-License-Identifier: MIT */
/*
 * The reaper: the thread that runs the broker's one timer queue. It knows
 * nothing of what it times out: a lease's expiry (lease.c), later a
 * model's idle timeout or a batching delay, each a struct timer with its
 * own callback and, for teardown, its own cancel.
 *
 * Invariant: after reaper_destroy no timer is queued and every queued
 * timer's cancel has run once.
 */
#include "daemon/reaper.h"

int reaper_init(struct reaper *r, const struct gl_clock *clock)
{
	return timer_base_init(&r->timers, clock);
}

int reaper_start(struct reaper *r)
{
	return timer_start(&r->timers);
}

void reaper_stop(struct reaper *r)
{
	timer_stop(&r->timers);
}

void reaper_run_due(struct reaper *r)
{
	timer_run_due(&r->timers);
}

void reaper_destroy(struct reaper *r)
{
	timer_drain(&r->timers);
	timer_base_destroy(&r->timers);
}
