/* SPDX-License-Identifier: MIT */
/*
 * The launch watchdog: one thread that cancels every running launch past
 * its deadline with ETIMEDOUT, whichever thread runs it (an executor, or
 * the ring poller or FUSE thread of an inline launch).
 *
 * Invariant: a launch is on launcher->running, under launcher->lock, from
 * before its kernel starts until after it returned; lr->wd_next is never
 * later than the earliest deadline on it, so the watchdog is woken only
 * when a launch comes due sooner than the wake-up it already has.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "daemon/clock.h"
#include "daemon/launch.h"
#include "daemon/lease.h"

void launch_watch(struct launcher *lr, struct launch *la, int64_t now)
{
	pthread_mutex_lock(&lr->lock);
	la->deadline_ns = now + (int64_t)la->timeout_ms * 1000000;
	cds_list_add_tail(&la->link, &lr->running);
	/* a wake-up per launch would cost a context switch each: only
	 * when this one is due before the watchdog looks again */
	if (la->deadline_ns < lr->wd_next) {
		lr->wd_next = la->deadline_ns;
		pthread_cond_signal(&lr->wd);
	}
	pthread_mutex_unlock(&lr->lock);
}

/*
 * Without the lock: the watchdog reads @la's deadline in its next scan.
 * It must be woken only when that scan would come too late (the new
 * deadline is before wd_next) or one is under way (wd_scan odd: it may
 * have read the old deadline). All seq_cst: either the scan reads the new
 * deadline, or this reads the scan's wd_scan or its wd_next.
 */
void launch_rearm(struct launch *la, int64_t now, uint32_t timeout_ms)
{
	struct launcher *lr = la->lease->lq->lr;
	int64_t d = now + (int64_t)timeout_ms * 1000000;

	atomic_store(&la->deadline_ns, d);
	if (!(atomic_load(&lr->wd_scan) & 1) &&
	    d >= atomic_load(&lr->wd_next))
		return;
	pthread_mutex_lock(&lr->lock);
	if (d < atomic_load(&lr->wd_next))
		atomic_store(&lr->wd_next, d);
	pthread_cond_signal(&lr->wd);
	pthread_mutex_unlock(&lr->lock);
}

void launch_unwatch(struct launcher *lr, struct launch *la)
{
	pthread_mutex_lock(&lr->lock);
	cds_list_del(&la->link);
	pthread_mutex_unlock(&lr->lock);
}

/* Cancel every running launch past its deadline with ETIMEDOUT. */
static void *watchdog_main(void *arg)
{
	struct launcher *lr = arg;
	struct launch *la;

	pthread_mutex_lock(&lr->lock);
	while (!lr->stop) {
		int64_t now = clock_mono(), next = INT64_MAX, d;
		struct timespec ts;

		atomic_fetch_add(&lr->wd_scan, 1);	/* odd: reading */
		cds_list_for_each_entry(la, &lr->running, link) {
			d = atomic_load(&la->deadline_ns);
			if (d <= now) {
				int zero = 0;

				atomic_compare_exchange_strong(&la->cancel,
							       &zero,
							       ETIMEDOUT);
			} else if (d < next) {
				next = d;
			}
		}
		atomic_store(&lr->wd_next, next);
		atomic_fetch_add(&lr->wd_scan, 1);	/* even: done */
		if (next == INT64_MAX) {
			pthread_cond_wait(&lr->wd, &lr->lock);
			continue;
		}
		ts.tv_sec = next / NSEC_PER_SEC;
		ts.tv_nsec = next % NSEC_PER_SEC;
		pthread_cond_timedwait(&lr->wd, &lr->lock, &ts);
	}
	pthread_mutex_unlock(&lr->lock);
	return NULL;
}

int launch_watchdog_start(struct launcher *lr)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&lr->wd, &attr);
	pthread_condattr_destroy(&attr);
	/* its first look, whenever it comes, sees every launch so far */
	lr->wd_next = INT64_MAX;
	err = pthread_create(&lr->watchdog, NULL, watchdog_main, lr);
	if (err)
		pthread_cond_destroy(&lr->wd);
	return -err;
}
