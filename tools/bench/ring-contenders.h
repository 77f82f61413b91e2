/* SPDX-License-Identifier: MIT */
/*
 * ring-contenders: the ring benchmark's shared state and its contenders,
 * the five ways it gets one op done (tools/bench/ring.c drives them).
 *
 * Invariant: struct bench belongs to the driver, ring.c, which sets it up
 * and tears it down; a contender only uses what is open and, for a timed
 * op, checks the result before reporting a time.
 */
#ifndef GL_BENCH_RING_CONTENDERS_H
#define GL_BENCH_RING_CONTENDERS_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "tools/lib/gpulease.h"
#include "peer.h"
#include "spawn.h"

#define BENCH_OPS		5000
#define BENCH_ROUND		100
#define BENCH_WARMUP		200
#define BENCH_BATCH		32
#define BENCH_RING_LEASE	"bench-ring"
#define BENCH_SUB_LEASE		"bench-submit"
#define BENCH_VRAM		(2u << 20)
#define BENCH_IO		(4u << 20)
#define BENCH_DESC_OFF		(2u << 20)	/* the descriptor's offset */
#define BENCH_WAIT_MS		10000
#define BENCH_POLL_IDLE_US	1000000
#define BENCH_SCALE		2.0f
#define BENCH_CHAIN_STEPS	64

enum bench_who { C_FLOOR, C_POLL, C_FUTEX, C_SUBMIT, C_TCP, C_COUNT };
enum bench_work { W_NOP, W_4K, W_1M, W_COUNT };

extern const char *const contender_name[C_COUNT];
extern const char *const contender_work_name[W_COUNT];
extern const uint32_t contender_work_len[W_COUNT];	/* bytes */

struct bench {
	/* options */
	long ops;			/* timed ops (no-op, 4K) */
	long round, warmup, batch;
	long cpu;			/* the client's CPU; -1: not pinned */
	char daemon[PATH_MAX];

	/* run state */
	cpu_set_t all_cpus, others;	/* others: the servers' CPUs */
	char base[32], mnt[64], ctl[128];
	struct spawn_daemon gl;
	struct gl *g;
	struct gl_ring *ring;
	char *data;			/* the ring's data area */
	const struct gl_ring_hdr *hdr;	/* its header, read only */
	bool ring_lease, sub_lease;
	int submit_fd, vram_fd;		/* -1 when closed */
	struct peer_pp pp;
	struct peer_tcp tcp;
	float *src, *dst;
	char scale_line[160];		/* the submit form of the kernel */
	uint32_t desc_len;		/* the ring form, at BENCH_DESC_OFF */
	uint64_t *ns[W_COUNT][C_COUNT];
	long count[W_COUNT], done[W_COUNT][C_COUNT];
	double batch_ops[2];		/* batched no-ops/s: poll, futex */
	double chain_ns, noop_ns;	/* p50s of bench_chain() */
};

/* Prints "ring: @what: reason" to stderr; returns @err. */
int contender_fail(const char *what, int err);

/* Writes "ring_idle_us @us" to the mount's ctl; 0 or -errno. */
int contender_idle_us(struct bench *b, unsigned int us);

/* Takes @n completions; 0, the first failing status, or -errno. */
int contender_ring_reap(struct bench *b, int n);

/*
 * One round trip through the ring: a no-op when @len is 0, else copy-in,
 * the scale launch and copy-out of @len bytes from b->src to b->dst.
 * 0, a failing status or -errno.
 */
int contender_ring_call(struct bench *b, uint32_t len);

/*
 * One op of contender @who on workload @w, its result checked; its time
 * in *@ns when @ns is not NULL. 0, -EIO on a wrong result, or -errno.
 */
int contender_once(struct bench *b, int w, int who, uint64_t *ns);

/*
 * @who's round begins (@begin) or ends: only it may spin meanwhile.
 * 0 or -errno.
 */
int contender_round_edge(struct bench *b, int who, bool begin);

/*
 * The scale kernel over @len bytes in both forms: b->scale_line for
 * submit, a descriptor at BENCH_DESC_OFF of the ring's data area.
 * 0 or -EINVAL.
 */
int contender_kernel(struct bench *b, uint32_t len);

/*
 * bench_chain - p50 of a GL_OP_CHAIN_RUN of BENCH_CHAIN_STEPS noop steps
 * and of one noop GL_OP_LAUNCH, alternated through the polling ring
 * (ring-chain.c). 0 or -errno.
 */
int bench_chain(struct bench *b, double *chain_p50, double *noop_p50);

#endif /* GL_BENCH_RING_CONTENDERS_H */
