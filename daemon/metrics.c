/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition (format 0.0.4) of the broker. Invariant:
 * every metric has one HELP and one TYPE line before its samples, label
 * values are escaped, and counters are read from monotonic sources only.
 */
#include <stddef.h>
#include <string.h>

#include "daemon/dev/dev.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/metrics.h"
#include "daemon/registry.h"
#include "daemon/ring.h"
#include "daemon/strbuf.h"

/* Upper bounds of the latency buckets, seconds; +Inf is implied. */
static const double lat_le_s[METRICS_LAT_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5,
};

void metrics_observe_latency(struct metrics *m, uint64_t us)
{
	int i;

	for (i = 0; i < METRICS_LAT_BUCKETS; i++)
		if ((double)us / 1e6 <= lat_le_s[i])
			break;
	if (i < METRICS_LAT_BUCKETS)
		atomic_fetch_add(&m->lat_bucket[i], 1);
	atomic_fetch_add(&m->lat_count, 1);
	atomic_fetch_add(&m->lat_sum_us, us);
}

void metrics_escape(struct strbuf *sb, const char *s)
{
	size_t run;

	for (;;) {
		/* copy the longest run that needs no escape in one go */
		run = strcspn(s, "\\\"\n");
		strbuf_add(sb, s, run);
		s += run;
		if (!*s)
			return;
		strbuf_add(sb, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" :
							   "\\\\", 2);
		s++;
	}
}

static void head(struct strbuf *sb, const char *name, const char *type,
		 const char *help)
{
	strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      type);
}

static void counter(struct strbuf *sb, const char *name, const char *help,
		    uint64_t v)
{
	head(sb, name, "counter", help);
	strbuf_printf(sb, "%s %llu\n", name, (unsigned long long)v);
}

#define LEASE_SECONDS "gpulease_lease_seconds_total{lease=\""

static void show_leases(struct metrics *m, uid_t uid, struct strbuf *sb)
{
	uint64_t active = 0, expired = 0;
	struct cds_lfht_iter iter;
	int64_t now = clock_mono();
	struct lease *l;

	head(sb, "gpulease_lease_seconds_total", "counter",
	     "Seconds each live lease has been held.");
	rcu_read_lock();
	lease_for_each(m->leases, &iter, l) {
		/* state is atomic: no lease lock is taken here */
		if (atomic_load(&l->state) == LEASE_EXPIRED)
			expired++;
		else
			active++;
		/* names are private to their owner and root; counts are not */
		if (!lease_visible_to(l, uid))
			continue;
		strbuf_add(sb, LEASE_SECONDS, sizeof(LEASE_SECONDS) - 1);
		metrics_escape(sb, l->name);
		strbuf_printf(sb, "\",model=\"\"} %.3f\n",
			      (double)(now - l->born_mono) / NSEC_PER_SEC);
	}
	rcu_read_unlock();
	counter(sb, "gpulease_dropped_lease_seconds_total",
		"Seconds held by leases that have been dropped.",
		atomic_load(&m->leases->totals.dropped_ns) / NSEC_PER_SEC);
	head(sb, "gpulease_leases", "gauge", "Leases by state.");
	strbuf_printf(sb, "gpulease_leases{state=\"active\"} %llu\n"
			  "gpulease_leases{state=\"expired\"} %llu\n",
		      (unsigned long long)active,
		      (unsigned long long)expired);
}

static void show_devices(struct metrics *m, struct strbuf *sb)
{
	int i;

	head(sb, "gpulease_vram_bytes", "gauge",
	     "Device memory by device and state.");
	for (i = 0; i < m->devs->count; i++) {
		struct dev *d = &m->devs->devs[i];
		uint64_t used = atomic_load(&d->used);

		strbuf_printf(sb,
			      "gpulease_vram_bytes{device=\"%d\",state=\"used\"}"
			      " %llu\n"
			      "gpulease_vram_bytes{device=\"%d\",state=\"free\"}"
			      " %llu\n"
			      "gpulease_vram_bytes{device=\"%d\","
			      "state=\"reserved\"} %llu\n",
			      i, (unsigned long long)used, i,
			      (unsigned long long)(d->capacity - used), i,
			      (unsigned long long)d->reserved);
	}
	head(sb, "gpulease_device_state", "gauge",
	     "1 for the state each device is in (ready, failed, unusable).");
	for (i = 0; i < m->devs->count; i++) {
		int st = atomic_load(&m->devs->devs[i].state), s;

		for (s = 0; s < DEV_NR_STATES; s++)
			strbuf_printf(sb, "gpulease_device_state{device=\"%d\","
				      "state=\"%s\"} %d\n", i,
				      dev_state_name(s), s == st);
	}
}

static void show_kernels(struct metrics *m, struct strbuf *sb)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} series[] = {
		{ "gpulease_kernel_launch_total", "Launches finished.",
		  offsetof(struct kernel_entry, launches) },
		{ "gpulease_kernel_fail_total",
		  "Launches finished with an error.",
		  offsetof(struct kernel_entry, failures) },
		{ "gpulease_kernel_seconds_total", "Time spent in launches.",
		  offsetof(struct kernel_entry, ns) },
	};
	const struct kernel_entry *e;
	size_t s;
	unsigned i;

	for (s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
		head(sb, series[s].name, "counter", series[s].help);
		for (i = 0; (e = registry_get(m->reg, i)); i++) {
			uint64_t v = atomic_load((_Atomic uint64_t *)
						 ((char *)e + series[s].off));

			strbuf_printf(sb, "%s{kernel=\"", series[s].name);
			metrics_escape(sb, e->k->name);
			if (series[s].off == offsetof(struct kernel_entry, ns))
				strbuf_printf(sb, "\"} %.9f\n",
					      (double)v / NSEC_PER_SEC);
			else
				strbuf_printf(sb, "\"} %llu\n",
					      (unsigned long long)v);
		}
	}
}

static void show_latency(struct metrics *m, struct strbuf *sb)
{
	uint64_t cum = 0;
	int i;

	/* DESIGN.md says _ms; Prometheus wants base units (promtool) */
	head(sb, "gpulease_inference_latency_seconds", "histogram",
	     "Inference request latency.");
	for (i = 0; i < METRICS_LAT_BUCKETS; i++) {
		cum += atomic_load(&m->lat_bucket[i]);
		strbuf_printf(sb,
			      "gpulease_inference_latency_seconds_bucket"
			      "{le=\"%g\"} %llu\n", lat_le_s[i],
			      (unsigned long long)cum);
	}
	strbuf_printf(sb,
		      "gpulease_inference_latency_seconds_bucket{le=\"+Inf\"}"
		      " %llu\n"
		      "gpulease_inference_latency_seconds_sum %.6f\n"
		      "gpulease_inference_latency_seconds_count %llu\n",
		      (unsigned long long)atomic_load(&m->lat_count),
		      (double)atomic_load(&m->lat_sum_us) / 1e6,
		      (unsigned long long)atomic_load(&m->lat_count));
}

void metrics_init(struct metrics *m, struct lease_table *leases,
		  struct dev_set *devs, struct registry *reg,
		  struct ring_set *rings)
{
	m->leases = leases;
	m->devs = devs;
	m->reg = reg;
	m->rings = rings;
}

void metrics_show(struct metrics *m, uid_t uid, struct strbuf *sb)
{
	struct lease_totals *t = &m->leases->totals;

	show_leases(m, uid, sb);
	counter(sb, "gpulease_leases_acquired_total", "Leases acquired.",
		atomic_load(&t->acquired));
	counter(sb, "gpulease_leases_dropped_total", "Leases dropped.",
		atomic_load(&t->dropped));
	counter(sb, "gpulease_leases_expired_total",
		"Leases that reached their TTL.", atomic_load(&t->expired));
	show_devices(m, sb);
	counter(sb, "gpulease_bytes_in_total",
		"Bytes copied into lease memory.", atomic_load(&t->bytes_in));
	counter(sb, "gpulease_bytes_out_total",
		"Bytes copied out of lease memory.",
		atomic_load(&t->bytes_out));
	counter(sb, "gpulease_ring_copy_waits_total",
		"Ring copies that waited for the ring's earlier launches.",
		atomic_load(&m->rings->copy_waits));
	counter(sb, "gpulease_launch_inline_total",
		"Launches run by the thread that received them.",
		atomic_load(&m->rings->launcher->inline_runs));
	show_kernels(m, sb);
	show_latency(m, sb);
}
