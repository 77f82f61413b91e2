/* SPDX-License-Identifier: MIT */
/*
 * ring: what a round trip through a lease's ring costs, against the other
 * ways to get the same work done. Three workloads: a no-op entry, and a
 * 4 KiB and a 1 MiB copy-in + scale (in place in vram) + copy-out. Five
 * contenders: the ring with the daemon's poller spinning (ring_idle_us
 * 1000000), the ring with a futex wake-up per submission (ring_idle_us
 * 0), the submit file with vram pwrite/pread, a loopback TCP echo of the
 * same bytes, and the floor: a two-process shared-memory ping-pong doing
 * the ring's handshake and work with no daemon (tools/bench/peer.c).
 * This file is the driver (options, set-up, rounds, report, teardown);
 * one op of each contender is in ring-contenders.c.
 *
 * Invariant: the contenders of a workload run in rounds, the order
 * rotated every round, so machine noise falls on all alike; a spinning
 * party (the daemon's poller, the ping-pong partner) spins only during
 * its own contender's rounds. Every result is checked. Whatever was
 * mounted, started or created is taken down on every exit path, errors
 * and SIGINT included.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "ring-contenders.h"
#include "stats.h"

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: ring [options]\n"
"\n"
"Times round trips through a lease's ring on gpuleased (CPU device,\n"
"temporary mount under /tmp) against the submit file, a TCP echo on\n"
"127.0.0.1 and a shared-memory ping-pong between two processes (the\n"
"floor). Workloads: a no-op; a 4 KiB and a 1 MiB copy-in + scale in vram\n"
"+ copy-out. The ring runs once with the daemon polling (ring_idle_us\n"
"%d) and once woken by a futex per submission (ring_idle_us 0). The\n"
"contenders alternate in rounds; prints p50, p99, ops/s and ratios. Run\n"
"it as root (allow_other). The client is pinned to one CPU, the daemon,\n"
"the ping-pong partner and the TCP server to the others. Last, a chain\n"
"of 64 noop steps (GL_OP_CHAIN_RUN) against one noop launch, both\n"
"through the polling ring (N/10 each, at least 50).\n"
"\n"
"  -n, --ops N        timed ops per contender for the no-op and 4 KiB\n"
"                     (default %d; 1 MiB runs N/20, at least 20)\n"
"  -r, --round N      ops per round before switching (default %d; 1 MiB:\n"
"                     N/5)\n"
"  -w, --warmup N     untimed ops per contender first (default %d)\n"
"  -b, --batch N      no-ops per gl_ring_submit() in the batched\n"
"                     throughput run (default %d)\n"
"      --daemon PATH  the gpuleased binary (default: ../../gpuleased\n"
"                     relative to this program's directory)\n"
"      --cpu N        the client's CPU (default: the last CPU)\n"
"      --no-pin       pin nothing\n"
"  -h, --help         this text\n"
"\n"
"Exit status: 0 done, 1 a step or a check failed, 2 bad options.\n",
		BENCH_POLL_IDLE_US, BENCH_OPS, BENCH_ROUND, BENCH_WARMUP,
		BENCH_BATCH);
}

static int bench_parse(void *arg, int argc, char **argv)
{
	struct bench *b = arg;
	const struct bench_opt opts[] = {
		{ "batch", 'b', BENCH_OPT_LONG, &b->batch, 1, 1024,
		  BENCH_BATCH },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "ring", .usage = bench_usage, .count_name = "ops",
		.pin = true, .opts = opts,
		.defaults = { BENCH_OPS, BENCH_ROUND, BENCH_WARMUP },
		.common = BENCH_COMMON(b, ops, 10000000, round),
	};

	return bench_cli_parse(&cli, argc, argv);
}

/* The daemon and the peers on every CPU but the client's, then pin. */
static int bench_start(struct bench *b)
{
	static const char *const args[] = { "--cpu-vram", "256M", NULL };
	int err;
	long i;

	err = spawn_tempdir(b->base) ?:
	      spawn_mountpoint(b->base, "gpulease", b->mnt, sizeof(b->mnt));
	if (err)
		return err;
	snprintf(b->ctl, sizeof(b->ctl), "%s/%s", b->mnt, GL_FILE_CTL);
	b->others = b->all_cpus;
	if (b->cpu >= 0) {
		if (!CPU_ISSET(b->cpu, &b->all_cpus)) {
			fprintf(stderr, "ring: CPU %ld is not ours\n", b->cpu);
			return -EINVAL;
		}
		CPU_CLR(b->cpu, &b->others);
		if (!CPU_COUNT(&b->others)) {
			fprintf(stderr, "ring: one CPU only: the spinning "
				"contenders share it with the client\n");
			b->others = b->all_cpus;
		}
		if (sched_setaffinity(0, sizeof(b->others), &b->others))
			return -errno;
	}
	err = spawn_daemon_start(&b->gl, b->daemon, b->mnt, args);
	if (!err)
		err = peer_pp_start(&b->pp, b->cpu >= 0 ? &b->others : NULL);
	if (!err)
		err = peer_tcp_start(&b->tcp, b->cpu >= 0 ? &b->others : NULL);
	if (!err)
		err = spawn_pin(b->cpu);
	if (err)
		return err;
	printf("ring: %d CPUs; client on CPU %ld, daemon and peers on",
	       CPU_COUNT(&b->all_cpus), b->cpu);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &b->others))
			printf(" %ld", i);
	printf("%s\n", b->cpu < 0 ? " (not pinned)" : "");
	return 0;
}

/* Both leases, the ring, the submit and vram files. */
static int bench_leases(struct bench *b)
{
	void *map;
	int err, fd;

	err = gl_open(b->mnt, &b->g);
	if (err)
		return contender_fail("gl_open", err);
	err = contender_idle_us(b, 0);
	if (err)
		return err;
	err = gl_lease_acquire(b->g, BENCH_RING_LEASE, BENCH_VRAM, 0, -1, 0);
	if (err)
		return contender_fail("acquire " BENCH_RING_LEASE, err);
	b->ring_lease = true;
	err = gl_lease_acquire(b->g, BENCH_SUB_LEASE, BENCH_VRAM, 0, -1, 0);
	if (err)
		return contender_fail("acquire " BENCH_SUB_LEASE, err);
	b->sub_lease = true;
	err = gl_ring_setup(b->g, BENCH_RING_LEASE, BENCH_IO);
	if (!err)
		err = gl_ring_open(b->g, BENCH_RING_LEASE, &b->ring);
	if (err)
		return contender_fail("the ring of " BENCH_RING_LEASE, err);
	b->data = gl_ring_data(b->ring, NULL);
	fd = gl_lease_openat(b->g, BENCH_RING_LEASE, "io", O_RDONLY);
	if (fd < 0)
		return contender_fail("open io", fd);
	map = mmap(NULL, sizeof(*b->hdr), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return contender_fail("mmap io", -errno);
	b->hdr = map;
	b->submit_fd = gl_lease_openat(b->g, BENCH_SUB_LEASE, "submit",
				       O_WRONLY);
	if (b->submit_fd < 0)
		return contender_fail("open submit", b->submit_fd);
	b->vram_fd = gl_lease_openat(b->g, BENCH_SUB_LEASE, GL_FILE_VRAM,
				     O_RDWR);
	if (b->vram_fd < 0)
		return contender_fail("open vram", b->vram_fd);
	return 0;
}

static int bench_cleanup(struct bench *b)
{
	int ret = 0, err, w, c;

	if (b->submit_fd >= 0)
		close(b->submit_fd);
	if (b->vram_fd >= 0)
		close(b->vram_fd);
	gl_ring_close(b->ring);
	if (b->hdr)
		munmap((void *)b->hdr, sizeof(*b->hdr));
	if (b->gl.pid && b->ring_lease &&
	    (err = gl_lease_drop(b->g, BENCH_RING_LEASE)))
		ret = contender_fail("drop " BENCH_RING_LEASE, err);
	if (b->gl.pid && b->sub_lease &&
	    (err = gl_lease_drop(b->g, BENCH_SUB_LEASE)))
		ret = contender_fail("drop " BENCH_SUB_LEASE, err);
	gl_close(b->g);
	if (peer_pp_stop(&b->pp))
		ret = contender_fail("ping-pong partner did not exit cleanly",
				 -EIO);
	if (peer_tcp_stop(&b->tcp))
		ret = contender_fail("TCP server did not exit cleanly", -EIO);
	err = spawn_daemon_stop(&b->gl);
	ret = ret ? ret : err;
	if (b->mnt[0])
		rmdir(b->mnt);
	if (b->base[0])
		rmdir(b->base);
	for (w = 0; w < W_COUNT; w++)
		for (c = 0; c < C_COUNT; c++)
			free(b->ns[w][c]);
	free(b->src);
	free(b->dst);
	return ret;
}

/* @count ops of each contender in rotated rounds of @round. */
static int bench_rounds(struct bench *b, int w, long count, long round,
			bool timed)
{
	long left[C_COUNT], k, r, total = count * C_COUNT;
	int i, who, err;

	for (i = 0; i < C_COUNT; i++)
		left[i] = count;
	for (r = 0; total; r++) {
		for (i = 0; i < C_COUNT; i++) {
			who = (int)((i + r) % C_COUNT);
			if (!left[who])
				continue;
			err = contender_round_edge(b, who, true);
			/* one untimed op: the poller or partner wakes up */
			if (!err)
				err = contender_once(b, w, who, NULL);
			for (k = 0; !err && k < round && left[who]; k++) {
				uint64_t *slot = timed ?
					&b->ns[w][who][b->done[w][who]++] :
					NULL;

				err = spawn_stop ? -EINTR :
				      contender_once(b, w, who, slot);
				left[who]--;
				total--;
			}
			if (contender_round_edge(b, who, false) && !err)
				err = -EIO;
			if (err)
				return err;
		}
	}
	return 0;
}

/* Batched no-ops: @b->batch per gl_ring_submit(), ops/s. */
static int bench_batched(struct bench *b, int who, double *ops_s)
{
	long n = b->ops - b->ops % b->batch, i, k;
	uint64_t t0;
	int err;

	if (!n)
		n = b->batch;
	err = contender_round_edge(b, who, true);
	if (!err)
		err = contender_ring_call(b, 0);
	t0 = stats_now_ns();
	for (i = 0; !err && i < n; i += b->batch) {
		for (k = 0; k < b->batch; k++)
			gl_ring_prep_nop(gl_ring_get_sqe(b->ring), 9);
		err = gl_ring_submit(b->ring);
		err = err < 0 ? err : contender_ring_reap(b, (int)b->batch);
	}
	*ops_s = (double)n * 1e9 / (double)(stats_now_ns() - t0);
	if (contender_round_edge(b, who, false) && !err)
		err = -EIO;
	return err;
}

static int bench_run(struct bench *b)
{
	long round;
	int w, c, err;

	for (w = 0; w < W_COUNT; w++) {
		b->count[w] = w == W_1M ? (b->ops / 20 > 20 ? b->ops / 20 : 20)
					: b->ops;
		round = w == W_1M ? (b->round / 5 ? b->round / 5 : 1)
				  : b->round;
		for (c = 0; c < C_COUNT; c++) {
			b->ns[w][c] = calloc((size_t)b->count[w],
					     sizeof(uint64_t));
			if (!b->ns[w][c])
				return -ENOMEM;
		}
		if (contender_work_len[w]) {
			err = contender_kernel(b, contender_work_len[w]);
			if (err)
				return err;
		}
		err = bench_rounds(b, w, w == W_1M ? b->warmup / 10 + 1 :
				   b->warmup, round, false);
		if (!err)
			err = bench_rounds(b, w, b->count[w], round, true);
		if (err)
			return err;
	}
	err = bench_batched(b, C_POLL, &b->batch_ops[0]);
	if (!err)
		err = bench_batched(b, C_FUTEX, &b->batch_ops[1]);
	if (!err)
		err = bench_chain(b, &b->chain_ns, &b->noop_ns);
	return err;
}

static void bench_report(struct bench *b)
{
	struct stats_summary s[W_COUNT][C_COUNT];
	int w, c;

	for (w = 0; w < W_COUNT; w++)
		for (c = 0; c < C_COUNT; c++)
			stats_summarize(b->ns[w][c], (size_t)b->count[w],
					&s[w][c]);
	printf("\nround trips, one at a time; times in microseconds; ops/s "
	       "= 1 / mean\n\n");
	printf("%-17s %-22s | %9s %9s %9s | %7s %7s | %9s\n", "workload",
	       "contender", "p50", "p99", "ops/s", "p50/flr", "p99/flr",
	       "submit/x");
	for (w = 0; w < W_COUNT; w++) {
		printf("%-17s (%ld each)\n", contender_work_name[w],
		       b->count[w]);
		for (c = 0; c < C_COUNT; c++) {
			struct stats_summary *x = &s[w][c];

			printf("%-17s %-22s | %9.2f %9.2f %9.0f | %7.2f "
			       "%7.2f | %9.1f\n", "", contender_name[c],
			       (double)x->p50 / 1e3, (double)x->p99 / 1e3,
			       1e9 / x->mean,
			       (double)x->p50 / (double)s[w][C_FLOOR].p50,
			       (double)x->p99 / (double)s[w][C_FLOOR].p99,
			       (double)s[w][C_SUBMIT].p50 / (double)x->p50);
		}
	}
	printf("\nbatched no-ops, %ld per gl_ring_submit(): polling %.0f "
	       "ops/s, futex wake %.0f ops/s\n", b->batch, b->batch_ops[0],
	       b->batch_ops[1]);
	printf("targets (reported, not asserted): polling ring no-op p50 "
	       "within 2x the floor: %.2fx; at least 50x faster than "
	       "submit: %.1fx\n",
	       (double)s[W_NOP][C_POLL].p50 / (double)s[W_NOP][C_FLOOR].p50,
	       (double)s[W_NOP][C_SUBMIT].p50 / (double)s[W_NOP][C_POLL].p50);
	printf("chain of %d noop steps through the polling ring: p50 %.2f "
	       "us, one noop launch %.2f us: %.2fx (target <= 2x)\n",
	       BENCH_CHAIN_STEPS, b->chain_ns / 1e3, b->noop_ns / 1e3,
	       b->chain_ns / b->noop_ns);
}

int main(int argc, char **argv)
{
	struct bench *b;
	size_t i;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "ring", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	ret = 1;
	b->submit_fd = b->vram_fd = b->tcp.fd = -1;
	b->src = malloc(PEER_DATA_MAX);
	b->dst = malloc(PEER_DATA_MAX);
	if (!b->src || !b->dst ||
	    sched_getaffinity(0, sizeof(b->all_cpus), &b->all_cpus)) {
		perror("ring");
		goto out;
	}
	for (i = 0; i < PEER_DATA_MAX / 4; i++)
		b->src[i] = (float)(i % 1000) + 0.5f;
	err = bench_start(b);
	if (!err)
		err = bench_leases(b);
	if (!err)
		err = bench_run(b);
	bench_failed("ring", err);
	if (!err) {
		bench_report(b);
		ret = 0;
	}
out:
	return bench_done(b, bench_cleanup(b), ret);
}
