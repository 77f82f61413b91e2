/* SPDX-License-Identifier: MIT */
/*
 * stats: sorting, nearest-rank percentiles and means of nanosecond
 * samples. Pure functions; the caller owns every array.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "stats.h"

uint64_t stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int stats_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void stats_sort(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), stats_cmp);
}

uint64_t stats_percentile(const uint64_t *sorted, size_t n, double p)
{
	double rank;
	size_t idx;

	if (!n)
		return 0;
	rank = ceil(p / 100.0 * (double)n);
	idx = rank < 1.0 ? 0 : (size_t)rank - 1;
	if (idx >= n)
		idx = n - 1;
	return sorted[idx];
}

double stats_mean(const uint64_t *v, size_t n)
{
	long double sum = 0;
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		sum += v[i];
	return (double)(sum / n);
}

int stats_summarize(uint64_t *v, size_t n, struct stats_summary *out)
{
	if (!n)
		return -EINVAL;
	stats_sort(v, n);
	out->n = n;
	out->min = v[0];
	out->p50 = stats_percentile(v, n, 50);
	out->p99 = stats_percentile(v, n, 99);
	out->max = v[n - 1];
	out->mean = stats_mean(v, n);
	return 0;
}
