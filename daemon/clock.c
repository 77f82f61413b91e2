/* SPDX-License-Identifier: MIT */
/*
 * Lease clock. Invariant: clock_now() never goes backwards, because the
 * offset only grows.
 */
#include <errno.h>
#include <time.h>

#include "daemon/clock.h"

int64_t clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t clock_now(const struct gl_clock *c)
{
	return clock_mono() + atomic_load(&c->offset_ns);
}

int clock_advance_to(struct gl_clock *c, uint64_t secs)
{
	int64_t old = atomic_load(&c->offset_ns);
	int64_t want;

	if (secs > (uint64_t)(INT64_MAX / 4 / NSEC_PER_SEC))
		return -EINVAL;
	want = (int64_t)secs * NSEC_PER_SEC;
	do {
		if (want < old)
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(&c->offset_ns, &old, want));
	return 0;
}
