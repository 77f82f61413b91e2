/* SPDX-License-Identifier: MIT */
/*
 * The lease clock: CLOCK_MONOTONIC plus a forward-only debug offset
 * (/gpu/ctl clock_offset), so expiry is testable without sleeping.
 */
#ifndef GL_CLOCK_H
#define GL_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#define NSEC_PER_SEC 1000000000LL

struct gl_clock {
	_Atomic int64_t offset_ns;	/* ns added to CLOCK_MONOTONIC, >= 0 */
};

/* clock_now - the lease clock in ns. Lock-free. */
int64_t clock_now(const struct gl_clock *c);

/* clock_mono - raw CLOCK_MONOTONIC in ns. */
int64_t clock_mono(void);

/* clock_advance_to - set the offset to @secs seconds. Returns 0, or
 * -EINVAL when that would move the clock back or overflow. */
int clock_advance_to(struct gl_clock *c, uint64_t secs);

#endif
