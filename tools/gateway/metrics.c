// SPDX-License-Identifier: MIT
/*
 * The gateway's own Prometheus metrics (GET /metrics, text format 0.0.4):
 * requests by route and status, a latency histogram by route, requests
 * in flight. Names follow Documentation/metrics.md's rules (base units:
 * seconds; _total counters).
 * Invariant: every counter is an atomic; a status outside the table
 * counts under "other"; rendering reads them without a lock, so a
 * scrape is consistent per series, not across series.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gateway/gateway.h"

const char *const gw_route_names[GW_R_COUNT] = {
	[GW_R_MODELS] = "/v1/models",
	[GW_R_COMPLETIONS] = "/v1/completions",
	[GW_R_V2_HEALTH] = "/v2/health",
	[GW_R_V2_MODEL] = "/v2/models/{name}",
	[GW_R_V2_INFER] = "/v2/models/{name}/infer",
	[GW_R_METRICS] = "/metrics",
	[GW_R_OTHER] = "other",
};

static const int statuses[] = { 200, 400, 401, 403, 404, 405, 413, 429,
				500, 503, 504, 0 /* other */ };
#define N_STATUS	(sizeof(statuses) / sizeof(statuses[0]))

/* bucket upper bounds in microseconds; the last is +Inf */
static const uint64_t bounds_us[] = { 100, 250, 500, 1000, 2500, 5000,
				      10000, 25000, 50000, 100000, 250000,
				      500000, 1000000, 2500000, 5000000,
				      10000000 };
#define N_BUCKET	(sizeof(bounds_us) / sizeof(bounds_us[0]))

static struct {
	atomic_ullong requests[GW_R_COUNT][N_STATUS];
	atomic_ullong buckets[GW_R_COUNT][N_BUCKET + 1];
	atomic_ullong sum_us[GW_R_COUNT];
	atomic_llong inflight;
} mx;

/* gw_metrics_observe - one request on @route answered @status in @us. */
void gw_metrics_observe(enum gw_route route, int status, uint64_t us)
{
	size_t s, b;

	for (s = 0; s < N_STATUS - 1 && statuses[s] != status; s++)
		;
	for (b = 0; b < N_BUCKET && us > bounds_us[b]; b++)
		;
	atomic_fetch_add(&mx.requests[route][s], 1);
	atomic_fetch_add(&mx.buckets[route][b], 1);
	atomic_fetch_add(&mx.sum_us[route], us);
}

/* gw_metrics_inflight - @delta requests began (1) or ended (-1): the
 * gauge, and the count --max-inflight bounds. The count before. */
long long gw_metrics_inflight(int delta)
{
	return atomic_fetch_add(&mx.inflight, delta);
}

/*
 * gw_metrics_render - the exposition text, malloc'ed (the caller frees
 * it), its length in *@len; NULL without memory.
 */
char *gw_metrics_render(size_t *len)
{
	unsigned long long cum, n;
	char *buf = NULL;
	size_t r, s, b;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	fputs("# HELP gpulease_gateway_requests_total HTTP requests answered,"
	      " by route and status.\n"
	      "# TYPE gpulease_gateway_requests_total counter\n", f);
	for (r = 0; r < GW_R_COUNT; r++)
		for (s = 0; s < N_STATUS; s++) {
			n = atomic_load(&mx.requests[r][s]);
			if (!n)
				continue;
			if (statuses[s])
				fprintf(f, "gpulease_gateway_requests_total{"
					"route=\"%s\",status=\"%d\"} %llu\n",
					gw_route_names[r], statuses[s], n);
			else
				fprintf(f, "gpulease_gateway_requests_total{"
					"route=\"%s\",status=\"other\"} "
					"%llu\n", gw_route_names[r], n);
		}
	fputs("# HELP gpulease_gateway_request_duration_seconds Time from a "
	      "request's first byte to its reply's last.\n"
	      "# TYPE gpulease_gateway_request_duration_seconds histogram\n",
	      f);
	for (r = 0; r < GW_R_COUNT; r++) {
		cum = 0;
		for (b = 0; b <= N_BUCKET; b++) {
			cum += atomic_load(&mx.buckets[r][b]);
			if (b < N_BUCKET)
				fprintf(f, "gpulease_gateway_request_duration"
					"_seconds_bucket{route=\"%s\",le=\"%g"
					"\"} %llu\n", gw_route_names[r],
					(double)bounds_us[b] / 1e6, cum);
			else
				fprintf(f, "gpulease_gateway_request_duration"
					"_seconds_bucket{route=\"%s\",le=\""
					"+Inf\"} %llu\n", gw_route_names[r],
					cum);
		}
		fprintf(f, "gpulease_gateway_request_duration_seconds_sum{"
			"route=\"%s\"} %.6f\n", gw_route_names[r],
			(double)atomic_load(&mx.sum_us[r]) / 1e6);
		fprintf(f, "gpulease_gateway_request_duration_seconds_count{"
			"route=\"%s\"} %llu\n", gw_route_names[r], cum);
	}
	fprintf(f, "# HELP gpulease_gateway_requests_in_flight Completion and "
		"infer requests being answered.\n"
		"# TYPE gpulease_gateway_requests_in_flight gauge\n"
		"gpulease_gateway_requests_in_flight %lld\n",
		(long long)atomic_load(&mx.inflight));
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* gw_metrics_reply - GET /metrics. 0 or -errno. */
int gw_metrics_reply(struct gw_req *r)
{
	size_t len;
	char *s = gw_metrics_render(&len);
	int err;

	if (!s)
		return -ENOMEM;
	err = gw_reply_text(r, 200, s, len,
			    "text/plain; version=0.0.4; charset=utf-8");
	free(s);
	return err;
}
