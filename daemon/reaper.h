/* SPDX-License-Identifier: MIT */
/*
 * The reaper: the broker's timer queue (daemon/timer.h) and the thread
 * that runs it. Its users embed a struct timer and queue it themselves on
 * reaper.timers: lease expiry (lease.c) first. A lease whose timer has
 * fired is expiring, and a renew can no longer save it.
 */
#ifndef GL_REAPER_H
#define GL_REAPER_H

#include <stdint.h>

#include "daemon/timer.h"

struct gl_clock;

struct reaper {
	struct timer_base timers;	/* every deadline of the broker */
};

/* reaper_init - an empty queue on @clock (the lease clock). 0 or -errno. */
int reaper_init(struct reaper *r, const struct gl_clock *clock);

/* reaper_start - start the thread. 0 or -errno. */
int reaper_start(struct reaper *r);

/* reaper_stop - stop the thread; the queue stays usable. */
void reaper_stop(struct reaper *r);

/* reaper_destroy - unqueue every timer still queued, calling its cancel
 * (whatever object it belongs to), and free the queue. After
 * reaper_stop. */
void reaper_destroy(struct reaper *r);

/* reaper_run_due - run, in the calling thread, every timer due, leases'
 * expiries included: clock_offset's expiries are done when its write
 * returns. Sleeps (waits for running launches of expiring leases). */
void reaper_run_due(struct reaper *r);

#endif
