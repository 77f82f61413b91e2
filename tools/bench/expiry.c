/* SPDX-License-Identifier: MIT */
/*
 * expiry: how late leases expire, and how long rmdir takes, while
 * launches run. Part one renews --leases leases to a 1 s TTL all at once
 * and watches devices/0/vram.used fall, once with the leases idle (the
 * baseline) and once with every lease holding --queue single-block
 * attention launches (some running, the rest queued); the k-th lease
 * freed is matched with the k-th deadline. Part two times rmdir of a
 * lease whose launch (timeout_ms=30000) is running, against rmdir of an
 * idle lease of the same size, in alternating rounds; memory must be
 * back in vram.used when rmdir returns.
 *
 * Invariant: every figure is measured from the client side with the
 * clock of this process: a deadline is taken as the instant before the
 * renew was written (the daemon's is later), so lateness is an upper
 * bound. The daemon, its mount and temp dirs are removed on every exit
 * path, errors and SIGINT included.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uapi/gpulease.h"
#include "uapi/launch.h"
#include "bench.h"
#include "spawn.h"
#include "stats.h"
#include "verbs.h"

#define BENCH_LEASES		50
#define BENCH_QUEUE		8
#define BENCH_RUNS		3
#define BENCH_DROPS		30
#define BENCH_WARMUP		3
#define BENCH_GOAL_NS		10000000ull	/* 10 ms */
#define BENCH_TTL_S		1
#define BENCH_VRAM		(4ull << 20)
#define BENCH_POLL_NS		100000	/* vram.used every 0.1 ms */
#define BENCH_MS		1000000ull
/* one block, 2^27 multiply-adds: a few hundred ms of work on one core */
#define BENCH_SPIN "attn_scores grid=1 block=1 u32:512 u32:512 u32:1 " \
	"u32:1 u32:512 u32:0 u32:0 f32:1 buf:0:1M buf:1M:1M buf:2M:1M"

struct bench {
	/* options */
	long leases, queue, runs, drops, warmup, cpu;
	char daemon[PATH_MAX];

	/* run state */
	char base[32];
	char mnt[64];
	struct spawn_daemon gl;
	int *ctl, *sub;			/* per lease fds, -1: closed */
	uint64_t *deadline;		/* per lease, ns of this clock */
	uint64_t *late[2];		/* idle, busy: runs * leases */
	size_t nlate[2];
	uint64_t *drop[2];		/* idle, busy */
	size_t ndrop[2];
};

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: expiry [options]\n"
"\n"
"Runs gpuleased on a temporary mount and reports (p50, p99, max) how late\n"
"leases due together expire, idle and with launches in flight, and how\n"
"long rmdir of a lease takes with its launch running, against an idle\n"
"one; both goals are 10 ms. Run it as root.\n"
"\n"
"  -l, --leases N     leases due together (default %d)\n"
"  -q, --queue N      launches queued on each busy lease (default %d)\n"
"  -r, --runs N       expiry runs of each kind (default %d)\n"
"  -n, --drops N      timed rmdirs of each kind (default %d)\n"
"  -w, --warmup N     untimed rmdirs of each kind first (default %d)\n"
"      --daemon PATH  the gpuleased binary (default: ../../gpuleased\n"
"                     relative to this program's directory)\n"
"      --cpu N        pin this program (not the daemon) to CPU N\n"
"  -h, --help         this text\n",
		BENCH_LEASES, BENCH_QUEUE, BENCH_RUNS, BENCH_DROPS,
		BENCH_WARMUP);
}

static int bench_parse(void *arg, int argc, char **argv)
{
	struct bench *b = arg;
	const struct bench_opt opts[] = {
		{ "leases", 'l', BENCH_OPT_LONG, &b->leases, 1, 1000,
		  BENCH_LEASES },
		{ "queue", 'q', BENCH_OPT_LONG, &b->queue, 1,
		  GL_LAUNCH_QUEUE_MAX, BENCH_QUEUE },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "expiry", .usage = bench_usage, .count_name = "drops",
		.round_name = "runs", .opts = opts,
		/* unpinned: the daemon needs every CPU; this program none */
		.unpinned = true,
		.defaults = { BENCH_DROPS, BENCH_RUNS, BENCH_WARMUP },
		.common = BENCH_COMMON(b, drops, 0, runs),
	};

	return bench_cli_parse(&cli, argc, argv);
}

static int bench_setup(struct bench *b)
{
	long i;
	int k;

	b->ctl = malloc(b->leases * sizeof(int));
	b->sub = malloc(b->leases * sizeof(int));
	b->deadline = calloc(b->leases, sizeof(uint64_t));
	for (k = 0; k < 2; k++) {
		b->late[k] = calloc(b->runs * b->leases, sizeof(uint64_t));
		b->drop[k] = calloc(b->drops, sizeof(uint64_t));
		if (!b->late[k] || !b->drop[k])
			return -ENOMEM;
	}
	if (!b->ctl || !b->sub || !b->deadline)
		return -ENOMEM;
	for (i = 0; i < b->leases; i++)
		b->ctl[i] = b->sub[i] = -1;
	return spawn_tempdir(b->base) ?:
	       spawn_mountpoint(b->base, "gpulease", b->mnt, sizeof(b->mnt));
}

static void bench_close_fds(struct bench *b)
{
	long i;

	for (i = 0; b->ctl && i < b->leases; i++) {
		if (b->ctl[i] >= 0)
			close(b->ctl[i]);
		if (b->sub[i] >= 0)
			close(b->sub[i]);
		b->ctl[i] = b->sub[i] = -1;
	}
}

static int bench_cleanup(struct bench *b)
{
	int ret, k;

	bench_close_fds(b);
	ret = spawn_daemon_stop(&b->gl);
	if (b->mnt[0])
		rmdir(b->mnt);
	if (b->base[0])
		rmdir(b->base);
	for (k = 0; k < 2; k++) {
		free(b->late[k]);
		free(b->drop[k]);
	}
	free(b->ctl);
	free(b->sub);
	free(b->deadline);
	return ret;
}

static void bench_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull),
			       (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/* The number in the text file at @path (opened anew: a snapshot), or
 * -errno. */
static long long bench_read_num(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static long long bench_used(struct bench *b)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/devices/0/vram.used", b->mnt);
	return bench_read_num(path);
}

/* The value of "@key N" in lease @name's ctl, or -errno. */
static long long bench_key(struct bench *b, const char *name,
			   const char *key)
{
	char path[PATH_MAX], buf[1024], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/leases/%s/ctl", b->mnt, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
	return -ENOKEY;
}

/* Acquire lease @name (ttl 60) and open its ctl and, with @launches,
 * its submit file with that many BENCH_SPIN queued through it. */
static int bench_lease(struct bench *b, const char *name, long launches,
		       unsigned timeout_ms, int *ctl, int *sub)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], line[256];
	int err, n;
	long i;

	err = verb_acquire(b->mnt, name, BENCH_VRAM, dir, sizeof(dir));
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/ctl", dir);
	*ctl = open(path, O_WRONLY | O_CLOEXEC);
	if (*ctl < 0)
		return verb_fail("open", path, -errno);
	n = snprintf(line, sizeof(line), BENCH_SPIN " timeout_ms=%u",
		     timeout_ms);
	if (!launches)
		return 0;
	snprintf(path, sizeof(path), "%s/submit", dir);
	*sub = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (*sub < 0)
		return verb_fail("open", path, -errno);
	for (i = 0; i < launches; i++)
		if (write(*sub, line, n) != n)
			return verb_fail("write to", path, -errno);
	return 0;
}

static int bench_remove(struct bench *b, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/leases/%s", b->mnt, name);
	return rmdir(path) ? verb_fail("rmdir", path, -errno) : 0;
}

/*
 * One expiry run: every lease renewed to BENCH_TTL_S in a burst, then
 * vram.used polled until all are freed; the k-th lease freed is late by
 * its time minus the k-th deadline. @busy: launches in flight.
 */
static int bench_expiry_run(struct bench *b, int busy)
{
	char name[32], line[32];
	uint64_t t, first;
	long long used, freed = 0;
	long i, k = 0;
	int err = 0;

	for (i = 0; i < b->leases && !err; i++) {
		snprintf(name, sizeof(name), "bx-%ld", i);
		err = bench_lease(b, name, busy ? b->queue : 0, 600000,
				  &b->ctl[i], &b->sub[i]);
	}
	if (err)
		return err;
	bench_sleep_ns(50 * BENCH_MS);	/* launches start */
	snprintf(line, sizeof(line), "renew %d", BENCH_TTL_S);
	for (i = 0; i < b->leases; i++) {
		b->deadline[i] = stats_now_ns() + BENCH_TTL_S * 1000000000ull;
		if (write(b->ctl[i], line, strlen(line)) < 0)
			return verb_fail("renew", "lease", -errno);
	}
	first = b->deadline[0];
	while (stats_now_ns() + 5 * BENCH_MS < first)
		bench_sleep_ns(BENCH_MS);
	while (k < b->leases) {
		if (spawn_stop)
			return -EINTR;
		used = bench_used(b);
		t = stats_now_ns();
		if (used < 0)
			return verb_fail("read", "vram.used", (int)used);
		freed = (long long)b->leases - used / (long long)BENCH_VRAM;
		for (; k < freed && k < b->leases; k++)
			b->late[busy][b->nlate[busy]++] =
				t > b->deadline[k] ? t - b->deadline[k] : 0;
		if (t > first + 60000 * BENCH_MS)
			return verb_fail("wait for", "expiry", -ETIMEDOUT);
		bench_sleep_ns(BENCH_POLL_NS);
	}
	bench_close_fds(b);
	for (i = 0; i < b->leases && !err; i++) {
		snprintf(name, sizeof(name), "bx-%ld", i);
		err = bench_remove(b, name);
	}
	return err;
}

/* One rmdir timed; @busy: with its launch running. */
static int bench_drop(struct bench *b, long n, int busy, bool timed)
{
	char name[32];
	int ctl = -1, sub = -1, err;
	uint64_t t0, t1;
	long long used;

	snprintf(name, sizeof(name), "bd-%ld-%d", n, busy);
	err = bench_lease(b, name, busy, 30000, &ctl, &sub);
	while (!err && busy && bench_key(b, name, "running") != 1) {
		if (spawn_stop)
			err = -EINTR;
		bench_sleep_ns(BENCH_MS);
	}
	if (!err) {
		t0 = stats_now_ns();
		err = bench_remove(b, name);
		t1 = stats_now_ns();
	}
	if (!err) {
		used = bench_used(b);
		if (used != 0)
			err = verb_fail("check", "vram.used after rmdir",
					used < 0 ? (int)used : -EBUSY);
	}
	if (!err && timed)
		b->drop[busy][b->ndrop[busy]++] = t1 - t0;
	if (ctl >= 0)
		close(ctl);
	if (sub >= 0)
		close(sub);
	return err;
}

static void bench_line(const char *what, uint64_t *v, size_t n,
		       struct stats_summary *s)
{
	stats_summarize(v, n, s);
	printf("%-34s | %5zu | %9.3f %9.3f %9.3f\n", what, n, s->p50 / 1e6,
	       s->p99 / 1e6, s->max / 1e6);
}

static void bench_report(struct bench *b)
{
	struct stats_summary s[4];

	printf("%ld leases due together (%d s TTL, %llu MiB each), %ld runs; "
	       "busy: %ld single-block launches queued per lease\n",
	       b->leases, BENCH_TTL_S,
	       (unsigned long long)(BENCH_VRAM >> 20), b->runs, b->queue);
	printf("%-34s | %5s | %9s %9s %9s\n", "", "n", "p50 ms", "p99 ms",
	       "max ms");
	bench_line("expiry lateness, idle leases", b->late[0], b->nlate[0],
		   &s[0]);
	bench_line("expiry lateness, launches running", b->late[1],
		   b->nlate[1], &s[1]);
	bench_line("rmdir to free, idle lease", b->drop[0], b->ndrop[0],
		   &s[2]);
	bench_line("rmdir to free, launch running", b->drop[1], b->ndrop[1],
		   &s[3]);
	printf("busy/idle p99: expiry %.2f, rmdir %.2f\n",
	       (double)s[1].p99 / (s[0].p99 ? s[0].p99 : 1),
	       (double)s[3].p99 / (s[2].p99 ? s[2].p99 : 1));
	printf("expiry max %.2f ms with launches: %s 10 ms; rmdir max %.2f ms "
	       "with a launch running: %s 10 ms\n", s[1].max / 1e6,
	       s[1].max < BENCH_GOAL_NS ? "under" : "NOT under",
	       s[3].max / 1e6, s[3].max < BENCH_GOAL_NS ? "under" :
	       "NOT under");
}

static int bench_all(struct bench *b)
{
	long i;
	int err = 0, k;

	for (i = 0; i < b->runs && !err; i++)
		for (k = 0; k < 2 && !err; k++)
			err = bench_expiry_run(b, (int)((i + k) % 2));
	for (i = 0; i < b->warmup + b->drops && !err; i++)
		for (k = 0; k < 2 && !err; k++)
			err = bench_drop(b, i, (int)((i + k) % 2),
					 i >= b->warmup);
	if (!err)
		bench_report(b);
	return err;
}

int main(int argc, char **argv)
{
	static const char *const args[] = { "--cpu-vram", "1G", NULL };
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "expiry", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	ret = 1;
	err = bench_setup(b);
	if (!err)
		err = spawn_daemon_start(&b->gl, b->daemon, b->mnt, args);
	/* pinned after the start: the daemon keeps every CPU */
	if (!err && b->cpu >= 0)
		err = spawn_pin(b->cpu);
	if (!err)
		err = bench_all(b);
	ret = bench_failed("expiry", err);
	return bench_done(b, bench_cleanup(b), ret);
}
