// SPDX-License-Identifier: MIT
/*
 * streams: the generate bench's continuous-batching part. On a model of
 * max_batch=S in a running daemon, greedy generations one at a time
 * (one stream) against S client threads each running a request at once
 * (S streams: their prompts join the running batch as it goes), in
 * the same run, in alternating rounds: aggregate tokens per second of
 * wall time as a ratio of the medians, and the time to first token of
 * every request while the batch runs (p50, p99) against alone.
 *
 * Invariant: the model it loads is unloaded before it returns, on
 * errors too; every thread it starts is joined.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/infer.h"
#include "tools/bench/stats.h"
#include "tools/bench/streams.h"
#include "tools/bench/verbs.h"

#define STREAM_REQS_MAX	64	/* requests per stream */

struct stream {
	const struct streams_cfg *c;
	pthread_t th;
	long id;
	long reqs;
	long tokens;			/* made in all */
	uint64_t ttft_ns[STREAM_REQS_MAX];
	uint64_t total_ns[STREAM_REQS_MAX];
	int err;
};

/* One greedy request: prompt "1 ID", time to first byte and to EOF, the
 * tokens it made. */
static int one_request(const struct streams_cfg *c, long id, uint64_t *ttft,
		       uint64_t *total, long *tokens)
{
	char path[PATH_MAX + 32], req[96], out[16 * 512];
	char *p, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/models/streams/infer", c->mnt);
	snprintf(req, sizeof(req), "max_tokens=%ld output=ids ids 1 %ld",
		 c->tokens, 3 + id * 37 % 1000);
	n = infer_request(path, req, strlen(req), out, sizeof(out), ttft,
			  total);
	if (n < 0)
		return (int)n;
	for (p = out; strtoul(p, &end, 10), end != p; p = end)
		(*tokens)++;
	return 0;
}

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	long r;

	for (r = 0; !s->err && r < s->reqs; r++)
		s->err = one_request(s->c, s->id * STREAM_REQS_MAX + r,
				     &s->ttft_ns[r], &s->total_ns[r],
				     &s->tokens);
	return NULL;
}

static int model_ctl(const struct streams_cfg *c, const char *line)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/models/ctl", c->mnt);
	return verb_write_file(path, line);
}

/* @n streams of @reqs requests each at once: their tokens, the wall
 * time, every request's ttft into @ttft (n * reqs). */
static int run_streams(const struct streams_cfg *c, long n, long reqs,
		       long *tokens, uint64_t *wall, uint64_t *ttft)
{
	struct stream *s = calloc((size_t)n, sizeof(*s));
	uint64_t t0;
	long i, r, started = 0;
	int err = 0;

	if (!s)
		return -ENOMEM;
	t0 = stats_now_ns();
	for (i = 0; i < n; i++) {
		s[i].c = c;
		s[i].id = i;
		s[i].reqs = reqs;
		if (pthread_create(&s[i].th, NULL, stream_main, &s[i])) {
			err = -EAGAIN;
			break;
		}
		started++;
	}
	*tokens = 0;
	for (i = 0; i < started; i++) {
		pthread_join(s[i].th, NULL);
		err = err ? err : s[i].err;
		*tokens += s[i].tokens;
		for (r = 0; r < reqs; r++)
			ttft[i * reqs + r] = s[i].ttft_ns[r];
	}
	*wall = stats_now_ns() - t0;
	free(s);
	return err;
}

int streams_bench(const struct streams_cfg *c)
{
	long n = c->streams, rounds = c->rounds, t, r;
	uint64_t w, *ttft1, *ttftn, *rate1, *raten;
	char line[2 * PATH_MAX];
	double r1, rn;
	int err;

	if (rounds > STREAM_REQS_MAX)
		rounds = STREAM_REQS_MAX;
	ttft1 = calloc((size_t)rounds + 1, sizeof(*ttft1));
	ttftn = calloc((size_t)(n * rounds) + 1, sizeof(*ttftn));
	rate1 = calloc((size_t)rounds + 1, sizeof(*rate1));
	raten = calloc((size_t)rounds + 1, sizeof(*raten));
	err = ttft1 && ttftn && rate1 && raten ? 0 : -ENOMEM;
	snprintf(line, sizeof(line), "load streams %s max_batch=%ld "
		 "threads=%ld\n", c->file, n, c->threads);
	if (!err)
		err = model_ctl(c, line);
	if (err)
		goto out;
	/* a warm-up request, then in alternating rounds one stream and n
	 * (one request each), so a change of the machine's load meets
	 * both: tokens per second (x1000) of each round */
	err = run_streams(c, 1, 1, &t, &w, ttft1);
	for (r = 0; !err && r < rounds; r++) {
		err = run_streams(c, 1, 1, &t, &w, ttft1 + r);
		rate1[r] = (uint64_t)(t * 1e12 / (double)w);
		if (!err)
			err = run_streams(c, n, 1, &t, &w, ttftn + r * n);
		raten[r] = (uint64_t)(t * 1e12 / (double)w);
	}
	if (model_ctl(c, "unload streams\n") && !err)
		err = -EIO;
	if (err)
		goto out;
	stats_sort(rate1, (size_t)rounds);
	stats_sort(raten, (size_t)rounds);
	r1 = rate1[rounds / 2] / 1e3;
	rn = raten[rounds / 2] / 1e3;
	stats_sort(ttft1, (size_t)rounds);
	stats_sort(ttftn, (size_t)(n * rounds));
	printf("streams: max_batch=%ld threads=%ld, %ld greedy tokens per "
	       "request, %ld alternating rounds (median)\n", n, c->threads,
	       c->tokens, rounds);
	printf("streams: 1 stream %.1f tokens/s; %ld streams %.1f tokens/s "
	       "aggregate: %.2fx\n", r1, n, rn, rn / r1);
	printf("streams: time to first token, alone p50 %.2f ms; while %ld "
	       "streams run p50 %.2f ms p99 %.2f ms (%ld requests)\n",
	       stats_percentile(ttft1, (size_t)rounds, 50) / 1e6, n,
	       stats_percentile(ttftn, (size_t)(n * rounds), 50) / 1e6,
	       stats_percentile(ttftn, (size_t)(n * rounds), 99) / 1e6,
	       n * rounds);
out:
	free(ttft1);
	free(ttftn);
	free(rate1);
	free(raten);
	return err;
}
