/* SPDX-License-Identifier: MIT */
/*
 * ring-chain: the chain point of the ring benchmark. One round trip of a
 * chain of BENCH_CHAIN_STEPS noop steps (GL_OP_CHAIN_RUN of a chain built
 * once) against one noop launch (GL_OP_LAUNCH), both through the polling
 * ring, alternated so that noise falls on both alike; the ratio of their
 * medians is what issue 8 targets (<= 2x).
 *
 * Invariant: uses only what ring.c set up (the ring, its data area past
 * BENCH_CHAIN_OFF) and leaves no chain behind on any path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring-contenders.h"
#include "stats.h"

#define BENCH_CHAIN_OFF		(3u << 20)	/* chain and noop desc */
#define BENCH_CHAIN_ID		0

/* One entry, its completion checked; its time in *@ns. */
static int chain_once(struct bench *b, bool chain, uint64_t *ns)
{
	uint64_t t0 = stats_now_ns();
	struct gl_sqe *s = gl_ring_get_sqe(b->ring);
	int err;

	if (chain)
		gl_ring_prep_chain_run(s, BENCH_CHAIN_ID, 0, 0, 5);
	else
		gl_ring_prep_launch(s, BENCH_CHAIN_OFF,
				    GL_LAUNCH_DESC_SIZE(0), 6);
	err = gl_ring_submit(b->ring);
	err = err < 0 ? err : contender_ring_reap(b, 1);
	if (ns)
		*ns = stats_now_ns() - t0;
	return err;
}

/* The noop descriptor at BENCH_CHAIN_OFF and the chain after it. */
static uint32_t chain_lay_out(struct bench *b)
{
	char *p = b->data + BENCH_CHAIN_OFF;
	struct gl_chain_desc *h;
	uint32_t i, len;

	gl_launch_init((struct gl_launch_desc *)p, "noop", 1, 1);
	h = (struct gl_chain_desc *)(p + GL_LAUNCH_DESC_SIZE(0));
	memset(h, 0, sizeof(*h));
	h->magic = GL_CHAIN_MAGIC;
	h->version = GL_CHAIN_VERSION;
	h->nsteps = BENCH_CHAIN_STEPS;
	len = sizeof(*h);
	for (i = 0; i < BENCH_CHAIN_STEPS; i++, len += GL_LAUNCH_DESC_SIZE(0))
		memcpy((char *)h + len, p, GL_LAUNCH_DESC_SIZE(0));
	return len;
}

int bench_chain(struct bench *b, double *chain_p50, double *noop_p50)
{
	long n = b->ops / 10 > 50 ? b->ops / 10 : 50, i;
	uint64_t *ns[2];
	struct stats_summary s[2];
	struct gl_cqe *cqe;
	uint32_t len;
	int err, st;

	ns[0] = calloc((size_t)n, sizeof(uint64_t));
	ns[1] = calloc((size_t)n, sizeof(uint64_t));
	err = ns[0] && ns[1] ? 0 : -ENOMEM;
	if (!err)
		err = contender_round_edge(b, C_POLL, true);
	if (err)
		goto out;
	len = chain_lay_out(b);
	gl_ring_prep_chain_build(gl_ring_get_sqe(b->ring), BENCH_CHAIN_ID,
				 BENCH_CHAIN_OFF + GL_LAUNCH_DESC_SIZE(0), len,
				 4);
	err = gl_ring_submit(b->ring);
	err = err < 0 ? err : contender_ring_reap(b, 1);
	for (i = 0; !err && i < b->warmup / 10 + 1; i++)
		err = chain_once(b, i & 1, NULL);
	for (i = 0; !err && i < 2 * n; i++)
		err = chain_once(b, i & 1, &ns[i & 1][i / 2]);
	gl_ring_prep_chain_free(gl_ring_get_sqe(b->ring), BENCH_CHAIN_ID, 3);
	st = gl_ring_submit(b->ring);
	if (st >= 0 && !gl_ring_wait_cqe(b->ring, &cqe, BENCH_WAIT_MS))
		gl_ring_cqe_seen(b->ring, cqe);
	if (contender_round_edge(b, C_POLL, false) && !err)
		err = -EIO;
	if (!err) {
		stats_summarize(ns[0], (size_t)n, &s[0]);
		stats_summarize(ns[1], (size_t)n, &s[1]);
		*noop_p50 = (double)s[0].p50;
		*chain_p50 = (double)s[1].p50;
	}
out:
	free(ns[0]);
	free(ns[1]);
	return err;
}
