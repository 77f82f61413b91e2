/* SPDX-License-Identifier: MIT */
/*
 * stats: order statistics over latency samples in nanoseconds, for the
 * benchmarks. Percentiles are nearest-rank: p50 of 1..100 is 50.
 */
#ifndef GL_BENCH_STATS_H
#define GL_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

struct stats_summary {
	size_t n;		/* samples */
	uint64_t min;		/* ns */
	uint64_t p50;		/* ns */
	uint64_t p99;		/* ns */
	uint64_t max;		/* ns */
	double mean;		/* ns */
};

/* stats_now_ns() - CLOCK_MONOTONIC in ns, what every sample is taken with. */
uint64_t stats_now_ns(void);

/* stats_sort() - sort N samples in place, ascending. */
void stats_sort(uint64_t *v, size_t n);

/*
 * stats_percentile() - the nearest-rank P-th percentile (0 < P <= 100) of
 * N sorted samples. Returns 0 when N is 0.
 */
uint64_t stats_percentile(const uint64_t *sorted, size_t n, double p);

/* stats_mean() - the arithmetic mean of N samples; 0 when N is 0. */
double stats_mean(const uint64_t *v, size_t n);

/*
 * stats_summarize() - sort V in place and fill OUT. Returns 0, or -EINVAL
 * when N is 0.
 */
int stats_summarize(uint64_t *v, size_t n, struct stats_summary *out);

#endif /* GL_BENCH_STATS_H */
