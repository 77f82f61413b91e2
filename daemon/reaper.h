/* SPDX-License-Identifier: MIT */
/*
 * The reaper: the broker's timer queue (daemon/timer.h) and its first
 * user, lease expiry. Each lease embeds a timer; its firing is where
 * expiry is decided: a lease whose timer has fired is expiring, and a
 * renew can no longer save it.
 */
#ifndef GL_REAPER_H
#define GL_REAPER_H

#include <stdint.h>

#include "daemon/timer.h"

struct broker;
struct lease;

struct reaper {
	struct timer_base timers;	/* every deadline of the broker */
};

/* reaper_init - an empty queue on @b's lease clock. 0 or -errno. */
int reaper_init(struct reaper *r, struct broker *b);

/* reaper_start - start the thread. 0 or -errno. */
int reaper_start(struct reaper *r);

/* reaper_stop - stop the thread; the queue stays usable. */
void reaper_stop(struct reaper *r);

/* reaper_destroy - drop the references of leases still queued and free
 * the queue. After reaper_stop. */
void reaper_destroy(struct reaper *r);

/* reaper_lease_init - make @l's expiry timer, idle. At allocation. */
void reaper_lease_init(struct lease *l);

/* reaper_add - queue @l's expiry at @deadline (lease clock, ns); takes a
 * reference, which the expiry or reaper_remove drops. 0 or -ENOMEM. */
int reaper_add(struct reaper *r, struct lease *l, int64_t deadline);

/* reaper_update - move @l's deadline. 0, or -EKEYEXPIRED when @l is no
 * longer queued (it is expiring or gone). */
int reaper_update(struct reaper *r, struct lease *l, int64_t deadline);

/* reaper_remove - unqueue @l if queued and drop the queue's reference. */
void reaper_remove(struct reaper *r, struct lease *l);

/* reaper_run_due - run, in the calling thread, every timer due, leases'
 * expiries included: clock_offset's expiries are done when its write
 * returns. Sleeps (waits for running launches of expiring leases). */
void reaper_run_due(struct reaper *r);

#endif
