/* SPDX-License-Identifier: MIT */
/*
 * Histograms with fixed bucket layouts: latencies (struct hist) and
 * sizes (struct hist_size, powers of two). Lock-free (atomics only), so
 * any thread may observe into one; the metrics render them (metrics.c),
 * the model service observes its requests and steps (model-infer.c,
 * model-batch.c).
 * Depends on nothing of the daemon.
 */
#ifndef GL_HIST_H
#define GL_HIST_H

#include <stdatomic.h>
#include <stdint.h>

/* Finite buckets of every latency histogram; +Inf is implied. */
#define HIST_BUCKETS 12

struct hist {
	_Atomic uint64_t bucket[HIST_BUCKETS];	/* not cumulative */
	_Atomic uint64_t count;		/* observations, +Inf included */
	_Atomic uint64_t sum_us;	/* microseconds, summed */
};

/* hist_observe - count one observation of @us microseconds in @h.
 * Lock-free; any thread. */
void hist_observe(struct hist *h, uint64_t us);

/* hist_le - the upper bound of finite bucket @i, seconds. */
double hist_le(int i);

/* Finite buckets of every size histogram: 1, 2, 4, ... 64; +Inf is
 * implied. */
#define HIST_SIZE_BUCKETS 7

struct hist_size {
	_Atomic uint64_t bucket[HIST_SIZE_BUCKETS];	/* not cumulative */
	_Atomic uint64_t count;		/* observations, +Inf included */
	_Atomic uint64_t sum;		/* the sizes, summed */
};

/* hist_size_observe - count one observation of size @n in @h.
 * Lock-free; any thread. */
void hist_size_observe(struct hist_size *h, uint64_t n);

/* hist_size_le - the upper bound of finite bucket @i: 2^i. */
double hist_size_le(int i);

#endif
