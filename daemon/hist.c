// SPDX-License-Identifier: MIT
/*
 * Histograms (hist.h): bucket bounds in integer microseconds or sizes,
 * compared exactly, no floating point on the request path.
 */
#include "daemon/hist.h"

/* Upper bounds of the buckets, microseconds; +Inf is implied. */
static const uint64_t hist_le_us[HIST_BUCKETS] = {
	500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
	1000000, 5000000,
};

void hist_observe(struct hist *h, uint64_t us)
{
	int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		if (us <= hist_le_us[i])
			break;
	if (i < HIST_BUCKETS)
		atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->sum_us, us);
	atomic_fetch_add(&h->count, 1);
}

double hist_le(int i)
{
	return (double)hist_le_us[i] / 1e6;
}

void hist_size_observe(struct hist_size *h, uint64_t n)
{
	int i;

	for (i = 0; i < HIST_SIZE_BUCKETS; i++)
		if (n <= UINT64_C(1) << i)
			break;
	if (i < HIST_SIZE_BUCKETS)
		atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->sum, n);
	atomic_fetch_add(&h->count, 1);
}

double hist_size_le(int i)
{
	return (double)(UINT64_C(1) << i);
}
