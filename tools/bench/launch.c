/* SPDX-License-Identifier: MIT */
/*
 * launch: what a kernel launch through leases/<name>/submit costs. Part
 * one times blocking writes of "noop grid=1" against a direct call of the
 * noop CPU twin and against a write to nullfs's ctl file (a bare FUSE round
 * trip). Part two times matmul at several sizes through submit against
 * cblas_sgemm called in this process with as many threads as the daemon's
 * CPU device has workers, after checking the broker's C against it.
 *
 * Invariant: each part measures its contenders in alternating rounds, so
 * machine noise falls on all alike; part one runs pinned to one CPU, part
 * two on every CPU this program was given (the daemon needs them all to
 * split a launch). Whatever was mounted or started is taken down on every
 * exit path, errors and SIGINT included.
 */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "uapi/gpulease.h"
#include "nullfs.h"
#include "bench.h"
#include "spawn.h"
#include "stats.h"
#include "verbs.h"

#define BENCH_LAUNCHES		2000
#define BENCH_ROUND		100
#define BENCH_WARMUP		100
#define BENCH_SETTLE_MS		100
#define BENCH_NSIZES		3
#define BENCH_TIMEOUT_MS	600000	/* one matmul launch, generous */
#define BENCH_LEASE		"bench-launch"

enum bench_ov { OV_SUBMIT, OV_NULLFS, OV_DIRECT, OV_COUNT };
enum bench_mm { MM_BROKER, MM_DIRECT, MM_DIRECT1, MM_COUNT };

static const char *const bench_ov_name[OV_COUNT] = {
	"submit noop", "nullfs ctl write", "direct noop call",
};
static const long bench_sizes[BENCH_NSIZES] = { 512, 1024, 2048 };
static const long bench_reps[BENCH_NSIZES] = { 11, 7, 5 };

struct bench {
	/* options */
	long launches;			/* timed noop launches per contender */
	long round;			/* launches per round */
	long warmup;			/* untimed launches per contender */
	long cpu;			/* CPU of part one; -1: not pinned */
	long settle_ms;			/* pause before each timed matmul */
	bool skip_overhead, skip_matmul;
	char daemon[PATH_MAX];

	/* run state */
	cpu_set_t all_cpus;		/* the mask we were started with */
	long threads;			/* the daemon's workers: online CPUs */
	char base[32];			/* temp dir of both mount points */
	char mnt_gl[64], mnt_null[64];
	char lease[PATH_MAX];		/* MNT/leases/NAME, "" when none */
	struct spawn_daemon gl;
	struct nullfs nfs;
	int submit_fd, null_fd;		/* -1 when closed */
	uint64_t *ns[OV_COUNT];
	long done[OV_COUNT];
	float *a, *b, *c, *c_got;	/* host copies of one size */
	double mm_ns[BENCH_NSIZES][MM_COUNT]; /* median per size */
	double mm_err[BENCH_NSIZES];	/* max |broker - direct| */
};

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: launch [options]\n"
"\n"
"Times launches through a lease's submit file on gpuleased (CPU device,\n"
"temporary mount). Part one, pinned to one CPU: writes of \"noop grid=1\"\n"
"against a direct call of noop's CPU twin and a write to a ctl file of\n"
"nullfs (a FUSE file system that does nothing), in alternating rounds.\n"
"Part two, unpinned: C = A.B (f32) at N = 512, 1024, 2048 through submit\n"
"against cblas_sgemm here with as many OpenBLAS threads as the daemon has\n"
"workers, and with one; C is checked. Run it as root (allow_other).\n"
"\n"
"  -n, --launches N     timed noop launches on each contender (default %d)\n"
"  -r, --round N        launches per round before switching (default %d)\n"
"  -w, --warmup N       untimed launches on each first (default %d)\n"
"      --settle MS      pause before each timed matmul, so OpenBLAS's\n"
"                       spinning threads are asleep (default %d)\n"
"      --daemon PATH    the gpuleased binary (default: ../../gpuleased\n"
"                       relative to this program's directory)\n"
"      --cpu N          pin part one to CPU N (default: the last CPU)\n"
"      --no-pin         do not pin part one\n"
"      --no-overhead    skip part one\n"
"      --no-matmul      skip part two\n"
"  -h, --help           this text\n",
		BENCH_LAUNCHES, BENCH_ROUND, BENCH_WARMUP, BENCH_SETTLE_MS);
}

enum {
	OPT_SETTLE = 256, OPT_NO_OVERHEAD,
	OPT_NO_MATMUL,
};

static int bench_parse(void *arg, int argc, char **argv)
{
	struct bench *b = arg;
	const struct bench_opt opts[] = {
		{ "settle", 0, BENCH_OPT_LONG, &b->settle_ms, 0, 10000,
		  BENCH_SETTLE_MS },
		{ "no-overhead", 0, BENCH_OPT_FLAG, &b->skip_overhead, 0, 0,
		  0 },
		{ "no-matmul", 0, BENCH_OPT_FLAG, &b->skip_matmul, 0, 0, 0 },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "launch", .usage = bench_usage,
		.count_name = "launches", .pin = true, .opts = opts,
		.defaults = { BENCH_LAUNCHES, BENCH_ROUND, BENCH_WARMUP },
		.common = BENCH_COMMON(b, launches, 0, round),
	};

	return bench_cli_parse(&cli, argc, argv);
}

/* Acquires the lease with VRAM bytes into b->lease, opens its submit. */
static int bench_lease_open(struct bench *b, uint64_t vram)
{
	char path[PATH_MAX + 16];
	int err;

	err = verb_acquire(b->mnt_gl, BENCH_LEASE, vram, b->lease,
			   sizeof(b->lease));
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/submit", b->lease);
	b->submit_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (b->submit_fd < 0)
		return verb_fail("open", path, -errno);
	return 0;
}

static int bench_lease_close(struct bench *b)
{
	int err = 0;

	if (b->submit_fd >= 0)
		close(b->submit_fd);
	b->submit_fd = -1;
	if (b->lease[0] && b->gl.pid && rmdir(b->lease))
		err = verb_fail("rmdir", b->lease, -errno);
	b->lease[0] = '\0';
	return err;
}

/* Takes part one's or two's servers down; safe at any point. */
static int bench_servers_stop(struct bench *b)
{
	int ret, err;

	ret = bench_lease_close(b);
	if (b->null_fd >= 0)
		close(b->null_fd);
	b->null_fd = -1;
	err = spawn_daemon_stop(&b->gl);
	ret = ret ? ret : err;
	err = nullfs_stop(&b->nfs);
	if (err)
		fprintf(stderr, "launch: nullfs did not stop cleanly\n");
	return ret ? ret : err;
}

static int bench_cleanup(struct bench *b)
{
	int ret, i;

	ret = bench_servers_stop(b);
	if (b->mnt_gl[0])
		rmdir(b->mnt_gl);
	if (b->mnt_null[0])
		rmdir(b->mnt_null);
	if (b->base[0])
		rmdir(b->base);
	for (i = 0; i < OV_COUNT; i++)
		free(b->ns[i]);
	free(b->a);
	free(b->b);
	free(b->c);
	free(b->c_got);
	return ret;
}

static int bench_setup(struct bench *b)
{
	return spawn_tempdir(b->base) ?:
	       spawn_mountpoint(b->base, "gpulease", b->mnt_gl,
				sizeof(b->mnt_gl)) ?:
	       spawn_mountpoint(b->base, "nullfs", b->mnt_null,
				sizeof(b->mnt_null));
}

/* One timed or untimed operation of contender WHO. Returns 0 or -errno. */
static int bench_ov_once(struct bench *b, int who, bool timed)
{
	static const struct gl_grid grid = { { 1, 1, 1 }, { 1, 1, 1 } };
	static const struct gl_kargs args = { .count = 0 };
	const char *line = who == OV_SUBMIT ? "noop grid=1" : "x";
	int fd = who == OV_SUBMIT ? b->submit_fd : b->null_fd;
	ssize_t n, len = (ssize_t)strlen(line);
	uint64_t t0, t1;

	t0 = stats_now_ns();
	if (who == OV_DIRECT)
		n = gl_kernel_run_cpu(gl_kernel_get(GL_K_noop), &args, &grid,
				      NULL);
	else if ((n = write(fd, line, (size_t)len)) >= 0)
		n = n == len ? 0 : -EIO;
	else
		n = -errno;
	t1 = stats_now_ns();
	if (n < 0) {
		fprintf(stderr, "launch: %s: %s\n", bench_ov_name[who],
			strerror((int)-n));
		return (int)n;
	}
	if (timed)
		b->ns[who][b->done[who]++] = t1 - t0;
	return 0;
}

/* COUNT operations of each contender, rounds of b->round, order rotated. */
static int bench_ov_rounds(struct bench *b, long count, bool timed)
{
	long left[OV_COUNT], k, r;
	int i, who, err;

	for (i = 0; i < OV_COUNT; i++)
		left[i] = count;
	for (r = 0; left[0] || left[1] || left[2]; r++) {
		for (i = 0; i < OV_COUNT; i++) {
			who = (int)((i + r) % OV_COUNT);
			for (k = 0; k < b->round && left[who];
			     k++, left[who]--) {
				if (spawn_stop)
					return -EINTR;
				err = bench_ov_once(b, who, timed);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

static void bench_ov_report(struct bench *b)
{
	struct stats_summary s[OV_COUNT];
	int i;

	for (i = 0; i < OV_COUNT; i++)
		stats_summarize(b->ns[i], b->done[i], &s[i]);
	printf("launch overhead: %ld launches each, rounds of %ld, %ld warm-up; "
	       "pinned to CPU %ld (-1: not pinned); times in microseconds\n\n",
	       b->launches, b->round, b->warmup, b->cpu);
	printf("%-17s | %9s %9s %9s | %9s %9s\n", "", "p50", "p99", "mean",
	       "submit/x", "p99");
	for (i = 0; i < OV_COUNT; i++)
		printf("%-17s | %9.2f %9.2f %9.2f | %9.1f %9.1f\n",
		       bench_ov_name[i], s[i].p50 / 1e3, s[i].p99 / 1e3,
		       s[i].mean / 1e3, (double)s[OV_SUBMIT].p50 / s[i].p50,
		       (double)s[OV_SUBMIT].p99 / s[i].p99);
	printf("\nbroker share of a noop launch (p50): %.2f us of %.2f us "
	       "(the rest is the FUSE round trip)\n\n",
	       ((double)s[OV_SUBMIT].p50 - (double)s[OV_NULLFS].p50) / 1e3,
	       s[OV_SUBMIT].p50 / 1e3);
}

static int bench_overhead(struct bench *b)
{
	char path[PATH_MAX + 16];
	int i, err;

	for (i = 0; i < OV_COUNT; i++) {
		b->ns[i] = calloc(b->launches, sizeof(uint64_t));
		if (!b->ns[i])
			return -ENOMEM;
	}
	err = spawn_pin(b->cpu);
	if (!err)
		err = spawn_daemon_start(&b->gl, b->daemon, b->mnt_gl, NULL);
	if (!err)
		err = nullfs_start(&b->nfs, b->mnt_null,
				   &(struct nullfs_opts){ .timeout = 0 });
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/d", b->mnt_null);
	if (mkdir(path, 0700))
		return verb_fail("mkdir", path, -errno);
	snprintf(path, sizeof(path), "%s/d/ctl", b->mnt_null);
	b->null_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (b->null_fd < 0)
		return verb_fail("open", path, -errno);
	err = bench_lease_open(b, 0);
	if (!err)
		err = bench_ov_rounds(b, b->warmup, false);
	if (!err)
		err = bench_ov_rounds(b, b->launches, true);
	if (err)
		return err;
	bench_ov_report(b);
	return bench_servers_stop(b);
}

static uint64_t bench_rand_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-1, 1): xorshift64*, fixed seed, so runs repeat. */
static float bench_rand(void)
{
	uint64_t x = bench_rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	bench_rand_state = x;
	x *= 0x2545f4914f6cdd1dull;
	return (float)((double)(x >> 40) / (double)(1ull << 23) - 1.0);
}

/* One matmul of contender WHO at size N; its time in *NS. */
static int bench_mm_once(struct bench *b, int who, long n, const char *line,
			 uint64_t *ns)
{
	size_t len = strlen(line);
	uint64_t t0;
	ssize_t w;

	if (spawn_stop)
		return -EINTR;
	if (who != MM_BROKER)
		openblas_set_num_threads(who == MM_DIRECT ? (int)b->threads : 1);
	t0 = stats_now_ns();
	if (who == MM_BROKER) {
		w = write(b->submit_fd, line, len);
		if (w != (ssize_t)len) {
			fprintf(stderr, "launch: matmul %ld via submit: %s\n",
				n, strerror(w < 0 ? errno : EIO));
			return w < 0 ? -errno : -EIO;
		}
	} else {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
			    (int)n, (int)n, 1.0f, b->a, (int)n, b->b, (int)n,
			    0.0f, b->c, (int)n);
	}
	*ns = stats_now_ns() - t0;
	return 0;
}

/* The broker's C (read back from vram) against the direct one. */
static int bench_mm_check(struct bench *b, int si, long n)
{
	size_t elems = (size_t)n * (size_t)n, i;
	double tol = 1e-3 + 1e-5 * (double)n, d, worst = 0;
	int err;

	err = verb_vram_io(b->lease, b->c_got, elems * sizeof(float),
			    (off_t)(2 * elems * sizeof(float)), false);
	if (err)
		return err;
	for (i = 0; i < elems; i++) {
		d = fabs((double)b->c_got[i] - (double)b->c[i]);
		if (!(d <= tol)) {
			fprintf(stderr,
				"launch: matmul %ld: C[%zu] is %g via submit, %g direct\n",
				n, i, b->c_got[i], b->c[i]);
			return -EIO;
		}
		worst = d > worst ? d : worst;
	}
	b->mm_err[si] = worst;
	return 0;
}

static int bench_mm_size(struct bench *b, int si)
{
	struct timespec settle = { b->settle_ms / 1000,
				   b->settle_ms % 1000 * 1000000L };
	long n = bench_sizes[si], reps = bench_reps[si], r;
	size_t elems = (size_t)n * (size_t)n, bytes = elems * sizeof(float);
	uint64_t ns[MM_COUNT][16], t;
	char line[512];
	size_t i;
	int who, k, err;

	snprintf(line, sizeof(line),
		 "matmul grid=%ld block=256 timeout_ms=%d u32:%ld u32:%ld u32:%ld "
		 "u32:0 u32:0 u32:1 u32:0 u32:0 u32:0 u64:0 u64:0 u64:0 "
		 "f32:1 f32:0 buf:0:%zu buf:%zu:%zu buf:%zu:%zu",
		 ((n + 15) / 16) * ((n + 15) / 16), BENCH_TIMEOUT_MS, n, n, n,
		 bytes, bytes, bytes, 2 * bytes, bytes);
	for (i = 0; i < elems; i++) {
		b->a[i] = bench_rand();
		b->b[i] = bench_rand();
	}
	err = bench_lease_open(b, 3 * bytes);
	if (!err)
		err = verb_vram_io(b->lease, b->a, bytes, 0, true);
	if (!err)
		err = verb_vram_io(b->lease, b->b, bytes, (off_t)bytes, true);
	/* one untimed run of each warms up; then the broker's C is checked */
	for (who = MM_COUNT - 1; !err && who >= 0; who--)
		err = bench_mm_once(b, who, n, line, &t);
	if (!err)
		err = bench_mm_check(b, si, n);
	for (r = 0; !err && r < reps; r++) {
		for (k = 0; !err && k < MM_COUNT; k++) {
			who = (int)((k + r) % MM_COUNT);
			nanosleep(&settle, NULL);
			err = bench_mm_once(b, who, n, line, &ns[who][r]);
		}
	}
	if (err)
		return err;
	for (who = 0; who < MM_COUNT; who++) {
		stats_sort(ns[who], (size_t)reps);
		b->mm_ns[si][who] = (double)stats_percentile(ns[who],
							     (size_t)reps, 50);
	}
	return bench_lease_close(b);
}

static void bench_mm_report(struct bench *b)
{
	double flop, *ms;
	int si, who;

	printf("matmul: C = A.B, f32, square, row-major; median of %ld/%ld/%ld "
	       "reps after one warm-up; not pinned, %ld CPUs\n", bench_reps[0],
	       bench_reps[1], bench_reps[2], b->threads);
	printf("broker = blocking write to submit (pool of %ld workers, one "
	       "OpenBLAS thread each); direct = cblas_sgemm here with %ld "
	       "OpenBLAS threads; direct 1 thread for reference\n"
	       "times in ms, GFLOP/s = 2 N^3 / time\n\n",
	       b->threads, b->threads);
	printf("    N | broker            | direct            "
	       "| direct, 1 thread  | broker/  broker/ |\n"
	       "      |        ms GFLOP/s |        ms GFLOP/s "
	       "|        ms GFLOP/s |  direct  direct1 | max |err|\n");
	for (si = 0; si < BENCH_NSIZES; si++) {
		flop = 2.0 * pow((double)bench_sizes[si], 3);
		ms = b->mm_ns[si];
		printf("%5ld |", bench_sizes[si]);
		for (who = 0; who < MM_COUNT; who++)
			printf(" %9.2f %7.1f |", ms[who] / 1e6, flop / ms[who]);
		printf(" %8.2f %8.2f | %9.2g\n", ms[MM_BROKER] / ms[MM_DIRECT],
		       ms[MM_BROKER] / ms[MM_DIRECT1], b->mm_err[si]);
	}
}

static int bench_matmul(struct bench *b)
{
	long max = bench_sizes[BENCH_NSIZES - 1];
	size_t elems = (size_t)max * (size_t)max;
	char vram[32];
	const char *args[] = { "--cpu-vram", vram, NULL };
	int si, err;

	if (sched_setaffinity(0, sizeof(b->all_cpus), &b->all_cpus))
		return verb_fail("sched_setaffinity", "", -errno);
	b->threads = sysconf(_SC_NPROCESSORS_ONLN);
	if (b->threads < 1)
		b->threads = 1;
	b->a = malloc(elems * sizeof(float));
	b->b = malloc(elems * sizeof(float));
	b->c = malloc(elems * sizeof(float));
	b->c_got = malloc(elems * sizeof(float));
	if (!b->a || !b->b || !b->c || !b->c_got)
		return -ENOMEM;
	/* the largest lease and a little room */
	snprintf(vram, sizeof(vram), "%zu", 4 * elems * sizeof(float));
	err = spawn_daemon_start(&b->gl, b->daemon, b->mnt_gl, args);
	for (si = 0; !err && si < BENCH_NSIZES; si++)
		err = bench_mm_size(b, si);
	if (err)
		return err;
	bench_mm_report(b);
	return bench_servers_stop(b);
}

int main(int argc, char **argv)
{
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "launch", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	ret = 1;
	b->submit_fd = b->null_fd = -1;
	if (sched_getaffinity(0, sizeof(b->all_cpus), &b->all_cpus)) {
		perror("launch: sched_getaffinity");
		goto out;
	}
	err = bench_setup(b);
	if (!err && !b->skip_overhead)
		err = bench_overhead(b);
	if (!err && !b->skip_matmul)
		err = bench_matmul(b);
	ret = bench_failed("launch", err);
out:
	return bench_done(b, bench_cleanup(b), ret);
}
