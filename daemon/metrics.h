/* SPDX-License-Identifier: MIT */
/*
 * Metrics: the inference latency histogram and the Prometheus text
 * exposition of /gpu/metrics. The counters it shows belong to their
 * modules (the lease table's totals, the rings' copy waits, devices,
 * kernels); metrics only reads them. Rendering walks the RCU lease table
 * and reads atomics: it takes no lock a lease operation needs.
 */
#ifndef GL_METRICS_H
#define GL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct dev_set;
struct lease_table;
struct registry;
struct ring_set;
struct strbuf;

#define METRICS_LAT_BUCKETS 12

/* Counters only ever grow. The sources are the broker's, fixed after
 * metrics_init. */
struct metrics {
	struct lease_table *leases;
	struct dev_set *devs;
	struct registry *reg;
	struct ring_set *rings;
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
void metrics_show(struct metrics *m, uid_t uid, struct strbuf *sb);

/* metrics_init - render from these sources (borrowed). */
void metrics_init(struct metrics *m, struct lease_table *leases,
		  struct dev_set *devs, struct registry *reg,
		  struct ring_set *rings);

/* metrics_escape - append @s as a Prometheus label value (\\, \", \n). */
void metrics_escape(struct strbuf *sb, const char *s);

#endif
