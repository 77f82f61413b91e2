/* SPDX-License-Identifier: MIT */
/*
 * Metrics: the latency histogram type and the Prometheus text exposition
 * of /gpu/metrics. The counters it shows belong to their modules (the
 * lease table's totals, the rings' copy waits, devices, kernels, each
 * model's meter); metrics only reads them. Rendering walks the RCU lease
 * table and reads atomics: it takes no lock a lease operation needs (the
 * model set's list lock only, which no request path takes).
 */
#ifndef GL_METRICS_H
#define GL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/hist.h"

struct dev_set;
struct lease_table;
struct model_set;
struct registry;
struct ring_set;
struct strbuf;

/* Counters only ever grow. The sources are the broker's, fixed after
 * metrics_init. */
struct metrics {
	struct lease_table *leases;
	struct dev_set *devs;
	struct registry *reg;
	struct ring_set *rings;
	struct model_set *models;
};

/*
 * metrics_show - the whole exposition as @uid sees it: per-lease and
 * per-model series only for the leases lease_visible_to(@uid) and the
 * models @uid owns (root: all), every total daemon-wide. Takes the model
 * set's list lock, nothing a lease operation or a request takes; any
 * thread.
 */
void metrics_show(struct metrics *m, uid_t uid, struct strbuf *sb);

/* metrics_init - render from these sources (borrowed; @models is read
 * only once model_set_init has run on it). */
void metrics_init(struct metrics *m, struct lease_table *leases,
		  struct dev_set *devs, struct registry *reg,
		  struct ring_set *rings, struct model_set *models);

/* metrics_escape - append @s as a Prometheus label value (\\, \", \n). */
void metrics_escape(struct strbuf *sb, const char *s);

#endif
