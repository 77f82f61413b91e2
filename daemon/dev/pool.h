/* SPDX-License-Identifier: MIT */
/*
 * A fork-join worker pool: pool_run() splits one job into n parts, runs
 * them on the workers and on the caller, and returns when all are done.
 * Several callers may run jobs at once; parts are served in FIFO order.
 */
#ifndef GL_POOL_H
#define GL_POOL_H

struct pool;

/* pool_create - @nthreads workers (>= 1). 0, -ENOMEM, -EAGAIN. */
int pool_create(struct pool **out, unsigned nthreads);

/* pool_destroy - join the workers; no job may be running. */
void pool_destroy(struct pool *p);

/* pool_threads - the number of workers. */
unsigned pool_threads(const struct pool *p);

/* pool_run - call fn(arg, i) once for each i in [0, n); returns when
 * every call returned. Any thread but a pool worker. */
void pool_run(struct pool *p, void (*fn)(void *arg, unsigned i), void *arg,
	      unsigned n);

/*
 * pool_thread_batch - make the calling thread SCHED_BATCH: kernels are
 * CPU-bound batch work, so a woken thread of the daemon's control path
 * (the timer, FUSE, a ring poller) preempts them instead of waiting for
 * their slice to end. Best effort; any thread context.
 */
void pool_thread_batch(void);

#endif
