/* SPDX-License-Identifier: MIT */
/*
 * A fork-join worker pool: pool_run() splits one job into n parts, runs
 * them on the workers and on the caller, and returns when all are done.
 * Several callers may run jobs at once; parts are served in FIFO order.
 */
#ifndef GL_POOL_H
#define GL_POOL_H

struct pool;

/*
 * POOL_SPLIT_ELEMS - the fewest elements (threads of a launch: grid x
 * block) worth splitting over the pool. A part costs a hand-off to a
 * worker and back (tens of µs when it has to be woken); an element of an
 * elementwise kernel costs about a ns, so below 2^16 elements (some 60 µs
 * of such work) one thread does it sooner. Smaller launches run on one
 * thread: on the CPU device without the pool, and (launch.c) on the
 * thread that received them when their lease is idle. Elements are not
 * work: a kernel whose elements loop (matmul, attention) runs a small
 * grid on one thread too. (2^20 was tried: a 1 MiB scale, 2^18 elements,
 * then ran inline at 11x to 17x the ring bench's floor, against 3.4x
 * split, on the 2-vCPU machine of Documentation/performance.md.)
 */
#define POOL_SPLIT_ELEMS	(1ull << 16)

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
