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
#include "daemon/model.h"
#include "daemon/registry.h"
#include "daemon/ring.h"
#include "daemon/strbuf.h"

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
	const char *model;
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
		strbuf_add(sb, "\",model=\"", 9);
		model = model_lease_model(l);
		if (model)
			metrics_escape(sb, model);
		strbuf_printf(sb, "\"} %.3f\n",
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

/* One family of per-model series, filled by one walk of the models. */
struct model_walk {
	struct strbuf *sb;
	const char *name;	/* the family */
	int what;		/* MW_* */
};

enum { MW_LATENCY, MW_REQUESTS, MW_FAILURES, MW_REFUSED, MW_TOKENS, MW_IN,
       MW_OUT, MW_QUEUE, MW_BATCH, MW_COLD, MW_COLD_SECONDS, MW_FALLBACK,
       MW_LEASE_SECONDS };

/* A label set's start: NAME{model="M" (the caller closes it). */
static void model_label(struct strbuf *sb, const char *name,
			const char *suffix, struct model *m)
{
	strbuf_printf(sb, "%s%s{model=\"", name, suffix);
	metrics_escape(sb, model_name(m));
	strbuf_add(sb, "\"", 1);
}

/* One histogram's series: @n cumulative buckets of bounds @le(i), +Inf,
 * _sum (@sum, already in the unit) and _count. */
static void model_hist(struct strbuf *sb, const char *name, struct model *m,
		       const _Atomic uint64_t *bucket, int n,
		       double (*le)(int), uint64_t count, double sum)
{
	uint64_t cum = 0;
	int i;

	/* count first: a bucket read later may only be larger, and +Inf
	 * is the count, so the buckets never pass it */
	for (i = 0; i < n; i++) {
		cum += atomic_load(&bucket[i]);
		if (cum > count)
			cum = count;
		model_label(sb, name, "_bucket", m);
		strbuf_printf(sb, ",le=\"%g\"} %llu\n", le(i),
			      (unsigned long long)cum);
	}
	model_label(sb, name, "_bucket", m);
	strbuf_printf(sb, ",le=\"+Inf\"} %llu\n", (unsigned long long)count);
	model_label(sb, name, "_sum", m);
	strbuf_printf(sb, "} %.6f\n", sum);
	model_label(sb, name, "_count", m);
	strbuf_printf(sb, "} %llu\n", (unsigned long long)count);
}

static void model_latency(struct strbuf *sb, const char *name,
			  struct model *m, const struct hist *h)
{
	uint64_t count = atomic_load(&h->count);

	model_hist(sb, name, m, h->bucket, HIST_BUCKETS, hist_le, count,
		   (double)atomic_load(&h->sum_us) / 1e6);
}

static void model_sizes(struct strbuf *sb, const char *name,
			struct model *m, const struct hist_size *h)
{
	uint64_t count = atomic_load(&h->count);

	model_hist(sb, name, m, h->bucket, HIST_SIZE_BUCKETS, hist_size_le,
		   count, (double)atomic_load(&h->sum));
}

static int model_series(void *arg, struct model *m)
{
	struct model_walk *w = arg;
	struct model_meter mm;
	uint64_t v;
	int i;

	model_meter_read(m, &mm);
	switch (w->what) {
	case MW_LATENCY:
		model_latency(w->sb, w->name, m, mm.latency);
		return 0;
	case MW_QUEUE:
		model_latency(w->sb, w->name, m, mm.queue_time);
		return 0;
	case MW_BATCH:
		model_sizes(w->sb, w->name, m, mm.batch_size);
		return 0;
	case MW_COLD_SECONDS:
		model_latency(w->sb, w->name, m, mm.cold_start);
		return 0;
	case MW_FALLBACK:
		/* appears once it has a fallback= */
		if (!mm.fallback)
			return 0;
		model_label(w->sb, w->name, "", m);
		strbuf_add(w->sb, ",served_by=\"", 12);
		metrics_escape(w->sb, mm.fallback);
		strbuf_printf(w->sb, "\"} %llu\n",
			      (unsigned long long)mm.fallbacks);
		return 0;
	case MW_LEASE_SECONDS:
		model_label(w->sb, w->name, "", m);
		strbuf_printf(w->sb, "} %.3f\n",
			      (double)mm.lease_ns / NSEC_PER_SEC);
		return 0;
	case MW_COLD:
		v = mm.cold_starts;
		break;
	case MW_FAILURES:
		/* a reason appears with its first failure */
		for (i = 0; i < MODEL_FAIL_REASONS; i++) {
			if (!mm.fail[i])
				continue;
			model_label(w->sb, w->name, "", m);
			strbuf_printf(w->sb, ",reason=\"%s\"} %llu\n",
				      model_fail_reason(i),
				      (unsigned long long)mm.fail[i]);
		}
		return 0;
	case MW_REFUSED:
		/* every reason, 0 included: the admission's */
		for (i = 0; i < MODEL_REFUSE_REASONS; i++) {
			model_label(w->sb, w->name, "", m);
			strbuf_printf(w->sb, ",reason=\"%s\"} %llu\n",
				      model_refuse_reason(i),
				      (unsigned long long)mm.refused[i]);
		}
		return 0;
	case MW_REQUESTS:
		v = mm.requests;
		break;
	case MW_TOKENS:
		v = mm.tokens;
		break;
	case MW_IN:
		v = mm.bytes_in;
		break;
	default:
		v = mm.bytes_out;
		break;
	}
	model_label(w->sb, w->name, "", m);
	strbuf_printf(w->sb, "} %llu\n", (unsigned long long)v);
	return 0;
}

/* The per-model families: only the models @uid may see (owner, root). */
static void show_models(struct metrics *m, uid_t uid, struct strbuf *sb)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		/* DESIGN.md says _ms; Prometheus wants base units */
		[MW_LATENCY] = { "gpulease_inference_latency_seconds",
				 "histogram", "Inference request latency, "
				 "from start to end." },
		[MW_REQUESTS] = { "gpulease_inference_requests_total",
				  "counter", "Inference requests received." },
		[MW_FAILURES] = { "gpulease_inference_failures_total",
				  "counter", "Inference requests refused or "
				  "failed, by errno." },
		[MW_REFUSED] = { "gpulease_inference_refused_total",
				 "counter", "Inference requests refused "
				 "before they started: etime, ebusy, "
				 "expired." },
		[MW_TOKENS] = { "gpulease_tokens_generated_total", "counter",
				"Tokens generated." },
		[MW_IN] = { "gpulease_inference_bytes_in_total", "counter",
			    "Request bytes written to infer." },
		[MW_OUT] = { "gpulease_inference_bytes_out_total", "counter",
			     "Answer bytes read from infer." },
		[MW_QUEUE] = { "gpulease_inference_queue_seconds",
			       "histogram", "Inference request queue time, "
			       "from start to its first step." },
		[MW_BATCH] = { "gpulease_inference_batch_size", "histogram",
			       "Rows per forward step of a model." },
		[MW_COLD] = { "gpulease_model_cold_starts_total", "counter",
			      "Reloads of a cold or expired model." },
		[MW_COLD_SECONDS] = { "gpulease_model_cold_start_seconds",
				      "histogram", "Cold start time: lease "
				      "acquired and weights copied." },
		[MW_FALLBACK] = { "gpulease_model_fallback_total", "counter",
				  "Requests served by the model's fallback "
				  "for want of room." },
		[MW_LEASE_SECONDS] = { "gpulease_model_lease_seconds_total",
				       "counter", "Seconds the model has held "
				       "a lease, over every reload." },
	};
	struct model_walk w = { .sb = sb };
	size_t i;

	for (i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		head(sb, fam[i].name, fam[i].type, fam[i].help);
		w.name = fam[i].name;
		w.what = (int)i;
		model_for_each(m->models, uid, model_series, &w);
	}
}

void metrics_init(struct metrics *m, struct lease_table *leases,
		  struct dev_set *devs, struct registry *reg,
		  struct ring_set *rings, struct model_set *models)
{
	m->leases = leases;
	m->devs = devs;
	m->reg = reg;
	m->rings = rings;
	m->models = models;
}

void metrics_show(struct metrics *m, uid_t uid, struct strbuf *sb)
{
	struct lease_totals *t = &m->leases->totals;
	uint64_t in, out;

	show_leases(m, uid, sb);
	counter(sb, "gpulease_leases_acquired_total", "Leases acquired.",
		atomic_load(&t->acquired));
	counter(sb, "gpulease_leases_dropped_total", "Leases dropped.",
		atomic_load(&t->dropped));
	counter(sb, "gpulease_leases_expired_total",
		"Leases that reached their TTL.", atomic_load(&t->expired));
	show_devices(m, sb);
	model_set_bytes(m->models, &in, &out);
	counter(sb, "gpulease_bytes_in_total",
		"Bytes into the service: vram writes and inference requests.",
		atomic_load(&t->bytes_in) + in);
	counter(sb, "gpulease_bytes_out_total",
		"Bytes out of the service: vram reads and inference answers.",
		atomic_load(&t->bytes_out) + out);
	counter(sb, "gpulease_ring_copy_waits_total",
		"Ring copies that waited for the ring's earlier launches.",
		atomic_load(&m->rings->copy_waits));
	counter(sb, "gpulease_launch_inline_total",
		"Launches run by the thread that received them.",
		atomic_load(&m->rings->launcher->inline_runs));
	show_kernels(m, sb);
	show_models(m, uid, sb);
}
