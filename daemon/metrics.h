/* SPDX-License-Identifier: MIT */
/*
 * Metrics: daemon-wide counters that outlive leases, the inference
 * latency histogram, and the Prometheus text exposition of /gpu/metrics.
 * Rendering walks the RCU lease table and reads atomics: it takes no lock
 * a lease operation needs.
 */
#ifndef GL_METRICS_H
#define GL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct broker;
struct strbuf;

#define METRICS_LAT_BUCKETS 12

/* Counters only ever grow; a dropped lease's figures stay in them. */
struct metrics {
	_Atomic uint64_t acquired;	/* leases acquired */
	_Atomic uint64_t dropped;	/* leases dropped (rmdir, bind, exit) */
	_Atomic uint64_t expired;	/* leases that reached their TTL */
	_Atomic uint64_t bytes_in;	/* bytes written into leases */
	_Atomic uint64_t bytes_out;	/* bytes read out of leases */
	_Atomic uint64_t dropped_ns;	/* lifetimes of dropped leases */
	_Atomic uint64_t ring_copy_waits; /* ring copies that waited for
					 * the ring's earlier launches */
	_Atomic uint64_t launch_inline;	/* launches run by the thread that
					 * received them (launch.c) */
	/* gpulease_inference_latency_seconds: per bucket, summed at render */
	_Atomic uint64_t lat_bucket[METRICS_LAT_BUCKETS];
	_Atomic uint64_t lat_count;
	_Atomic uint64_t lat_sum_us;
};

/* metrics_observe_latency - count one inference of @us microseconds. */
void metrics_observe_latency(struct metrics *m, uint64_t us);

/*
 * metrics_show - the whole exposition as @uid sees it: per-lease series
 * only for the leases lease_visible_to(@uid) (root: all), every total
 * daemon-wide. Lock-free; any thread.
 */
void metrics_show(struct broker *b, uid_t uid, struct strbuf *sb);

/* metrics_escape - append @s as a Prometheus label value (\\, \", \n). */
void metrics_escape(struct strbuf *sb, const char *s);

#endif
