/* SPDX-License-Identifier: MIT */
/*
 * Lease expiry on the broker's timer queue. A lease's timer is queued at
 * acquire and moved by renew; its callback marks the lease expired and
 * defers giving the memory back to the end of the round, so that leases
 * due together all turn expired before the first of their pages is
 * freed. From the thread it never waits for a launch, so one lease's
 * work never delays another's deadline.
 *
 * Invariant: a queued lease timer stands for one reference on the lease;
 * whoever unqueues it (the firing or reaper_remove) owns that reference.
 */
#include <errno.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "daemon/reaper.h"

int reaper_init(struct reaper *r, struct broker *b)
{
	return timer_base_init(&r->timers, &b->clock);
}

int reaper_start(struct reaper *r)
{
	return timer_start(&r->timers);
}

void reaper_stop(struct reaper *r)
{
	timer_stop(&r->timers);
}

/* Pages go back last: freeing them is the slow part of an expiry. */
static void reaper_release(void *arg)
{
	struct lease *l = arg;

	lease_release_detached(&l->spoils);
	lease_put(l);
}

static void reaper_expire(struct timer *t, struct timer_round *rd)
{
	struct lease *l = caa_container_of(t, struct lease, expiry);

	lease_expire(l, rd->sync, &l->spoils);
	timer_defer(rd, reaper_release, l);
}

void reaper_lease_init(struct lease *l)
{
	timer_init(&l->expiry, reaper_expire);
}

int reaper_add(struct reaper *r, struct lease *l, int64_t deadline)
{
	int err;

	lease_get(l);
	err = timer_add(&r->timers, &l->expiry, deadline);
	if (err)
		lease_put(l);
	return err;
}

int reaper_update(struct reaper *r, struct lease *l, int64_t deadline)
{
	return timer_mod(&r->timers, &l->expiry, deadline) ? -EKEYEXPIRED : 0;
}

void reaper_remove(struct reaper *r, struct lease *l)
{
	if (timer_del(&r->timers, &l->expiry))
		lease_put(l);
}

void reaper_run_due(struct reaper *r)
{
	timer_run_due(&r->timers);
}

void reaper_destroy(struct reaper *r)
{
	struct timer *t;

	/* only lease timers are queued on the broker's queue so far */
	while ((t = timer_take_first(&r->timers)))
		lease_put(caa_container_of(t, struct lease, expiry));
	timer_base_destroy(&r->timers);
}
