/* SPDX-License-Identifier: MIT */
/*
 * The reaper: one thread that expires leases at their deadline, fed by a
 * min-heap of deadlines. The reaper lock is where expiry is decided: a
 * lease popped from the heap is expiring, and a renew can no longer
 * save it.
 */
#ifndef GL_REAPER_H
#define GL_REAPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct lease;

struct reaper {
	pthread_mutex_t lock;		/* guards everything below and every
					 * lease's deadline_ns and heap_idx */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	struct lease **heap;		/* min-heap on deadline_ns; refs */
	size_t nr;			/* lock */
	size_t cap;			/* lock */
	bool stop;			/* lock */
	bool running;			/* thread started */
	pthread_t thread;
	struct broker *b;
};

#define REAPER_NOT_QUEUED ((size_t)-1)

int reaper_init(struct reaper *r, struct broker *b);

/* reaper_start - start the thread. 0 or -errno. */
int reaper_start(struct reaper *r);

/* reaper_stop - stop the thread; the heap stays usable. */
void reaper_stop(struct reaper *r);

/* reaper_destroy - drop the heap's references and free it. After
 * reaper_stop. */
void reaper_destroy(struct reaper *r);

/* reaper_add - queue @l with @deadline (lease clock, ns); takes a
 * reference. 0 or -ENOMEM. */
int reaper_add(struct reaper *r, struct lease *l, int64_t deadline);

/* reaper_update - move @l's deadline. 0, or -EKEYEXPIRED when @l is no
 * longer queued (it is expiring or gone). */
int reaper_update(struct reaper *r, struct lease *l, int64_t deadline);

/* reaper_remove - unqueue @l if queued and drop the heap's reference. */
void reaper_remove(struct reaper *r, struct lease *l);

/* reaper_run_due - expire, in the calling thread, every lease whose
 * deadline has passed: clock_offset's expiries are done when its write
 * returns. Sleeps (waits for running launches of expiring leases). */
void reaper_run_due(struct reaper *r);

#endif
