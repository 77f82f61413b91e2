/* SPDX-License-Identifier: MIT */
/*
 * USDT probes (provider "gpulease") for perf and bpftrace: one line per
 * event of the lease and launch lifecycles. Arguments are documented in
 * Documentation/tracing.md; they never change order once shipped.
 */
#ifndef GL_PROBES_H
#define GL_PROBES_H

#include <sys/sdt.h>

/* lease_acquire(name, vram bytes, ttl seconds, uid) */
#define PROBE_LEASE_ACQUIRE(l) \
	DTRACE_PROBE4(gpulease, lease_acquire, (l)->name, \
		      atomic_load(&(l)->vram), atomic_load(&(l)->ttl), \
		      (l)->owner)
/* lease_drop(name, vram bytes freed, age ns) */
#define PROBE_LEASE_DROP(l, bytes, age_ns) \
	DTRACE_PROBE3(gpulease, lease_drop, (l)->name, bytes, age_ns)
/* lease_expire(name, vram bytes freed) */
#define PROBE_LEASE_EXPIRE(l, bytes) \
	DTRACE_PROBE2(gpulease, lease_expire, (l)->name, bytes)
/* launch_start(lease name, kernel name, seq) */
#define PROBE_LAUNCH_START(la) \
	DTRACE_PROBE3(gpulease, launch_start, (la)->lease->name, \
		      (la)->ke->k->name, (la)->seq)
/* launch_end(lease name, kernel name, seq, status, duration ns) */
#define PROBE_LAUNCH_END(la) \
	DTRACE_PROBE5(gpulease, launch_end, (la)->lease->name, \
		      (la)->ke->k->name, (la)->seq, (la)->status, \
		      (la)->duration_ns)

#endif
