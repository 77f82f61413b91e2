/* SPDX-License-Identifier: MIT */
/*
 * Latency histograms with one fixed bucket layout: lock-free (atomics
 * only), so any thread may observe into one; the metrics render them
 * (metrics.c), the model service observes its requests (model-infer.c).
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

#endif
