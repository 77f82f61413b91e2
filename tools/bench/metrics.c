/* SPDX-License-Identifier: MIT */
/*
 * metrics: what a scrape of /gpu/metrics costs with many leases. Times
 * open, read to end of file and close of metrics on gpuleased with no
 * leases and with 10,000, against the same of a tmpfs file holding the
 * same bytes (the floor of moving them through read()) and of the
 * daemon's ctl file (one small FUSE text file).
 *
 * Invariant: the three reads alternate in rounds, so machine noise falls
 * on all alike, and everything is pinned to one CPU by default; the
 * daemon, its mount, the tmpfs copy and the temp dirs are removed on
 * every exit path, errors and SIGINT included.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uapi/gpulease.h"
#include "bench.h"
#include "spawn.h"
#include "stats.h"
#include "verbs.h"

#define BENCH_READS		50
#define BENCH_ROUND		5
#define BENCH_WARMUP		5
#define BENCH_LEASES		10000
#define BENCH_GOAL_NS		10000000ull	/* p50 of metrics: 10 ms */
#define BENCH_BUF		(256 * 1024)

enum bench_src { SRC_METRICS, SRC_TMPFS, SRC_CTL, SRC_COUNT };

static const char *const bench_src_name[SRC_COUNT] = {
	"/gpu/metrics", "tmpfs, same bytes", "/gpu/ctl",
};

struct bench {
	/* options */
	long reads;			/* timed reads per source */
	long round;			/* reads per round */
	long warmup;			/* untimed reads per source */
	long leases;			/* leases of the second pass */
	long cpu;			/* -1: not pinned */
	char daemon[PATH_MAX];

	/* run state */
	char base[32];			/* temp dir of the mount point */
	char mnt[64];
	char path[SRC_COUNT][PATH_MAX];	/* what each source reads */
	struct spawn_daemon gl;
	uint64_t *ns[SRC_COUNT];
	long done[SRC_COUNT];
	size_t bytes[SRC_COUNT];	/* size of the last read */
	char *buf;			/* BENCH_BUF bytes */
	char *text;			/* a copy of metrics for tmpfs */
	size_t text_len;
};

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: metrics [options]\n"
"\n"
"Times a scrape of gpuleased's metrics file (open, read to EOF, close)\n"
"with no leases and with --leases leases, against reading a tmpfs file\n"
"of the same bytes and the daemon's ctl file, in alternating rounds, all\n"
"pinned to one CPU. It runs gpuleased on a temporary mount, prints p50,\n"
"p99, mean and the ratios, and whether the p50 of metrics is under 10 ms.\n"
"Run it as root (the mount uses allow_other).\n"
"\n"
"  -n, --reads N        timed reads of each file per pass (default %d)\n"
"  -r, --round N        reads per round before switching (default %d)\n"
"  -w, --warmup N       untimed reads of each first (default %d)\n"
"  -l, --leases N       leases of the second pass (default %d)\n"
"      --daemon PATH    the gpuleased binary (default: ../../gpuleased\n"
"                       relative to this program's directory)\n"
"      --cpu N          pin to CPU N (default: the last CPU)\n"
"      --no-pin         do not pin\n"
"  -h, --help           this text\n",
		BENCH_READS, BENCH_ROUND, BENCH_WARMUP, BENCH_LEASES);
}


static int bench_parse(void *arg, int argc, char **argv)
{
	struct bench *b = arg;
	const struct bench_opt opts[] = {
		{ "leases", 'l', BENCH_OPT_LONG, &b->leases, 0, 10000000,
		  BENCH_LEASES },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "metrics", .usage = bench_usage, .count_name = "reads",
		.pin = true, .opts = opts,
		.defaults = { BENCH_READS, BENCH_ROUND, BENCH_WARMUP },
		.common = BENCH_COMMON(b, reads, 0, round),
	};

	return bench_cli_parse(&cli, argc, argv);
}

static int bench_setup(struct bench *b)
{
	int fd, i, err;

	for (i = 0; i < SRC_COUNT; i++) {
		b->ns[i] = calloc(b->reads, sizeof(uint64_t));
		if (!b->ns[i])
			return -ENOMEM;
	}
	b->buf = malloc(BENCH_BUF);
	if (!b->buf)
		return -ENOMEM;
	err = spawn_tempdir(b->base) ?:
	      spawn_mountpoint(b->base, "gpulease", b->mnt, sizeof(b->mnt));
	if (err)
		return err;
	strcpy(b->path[SRC_TMPFS], "/dev/shm/gl-bench-metrics.XXXXXX");
	fd = mkostemp(b->path[SRC_TMPFS], O_CLOEXEC);
	if (fd < 0) {
		b->path[SRC_TMPFS][0] = '\0';
		return verb_fail("mkstemp", "/dev/shm", -errno);
	}
	close(fd);
	snprintf(b->path[SRC_METRICS], PATH_MAX, "%s/metrics", b->mnt);
	snprintf(b->path[SRC_CTL], PATH_MAX, "%s/%s", b->mnt, GL_FILE_CTL);
	return 0;
}

static int bench_cleanup(struct bench *b)
{
	int ret, i;

	ret = spawn_daemon_stop(&b->gl);
	if (b->path[SRC_TMPFS][0])
		unlink(b->path[SRC_TMPFS]);
	if (b->mnt[0])
		rmdir(b->mnt);
	if (b->base[0])
		rmdir(b->base);
	for (i = 0; i < SRC_COUNT; i++)
		free(b->ns[i]);
	free(b->buf);
	free(b->text);
	return ret;
}

/*
 * Opens PATH, reads it to EOF, closes it; the byte count in *BYTES. With
 * KEEP the text is kept in b->text. Returns 0 or -errno (printed).
 */
static int bench_read_file(struct bench *b, const char *path, size_t *bytes,
			   bool keep)
{
	size_t total = 0;
	ssize_t n;
	char *p;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", path, -errno);
	for (;;) {
		n = read(fd, b->buf, BENCH_BUF);
		if (n <= 0)
			break;
		if (keep) {
			p = realloc(b->text, total + (size_t)n + 1);
			if (!p) {
				n = -1;
				errno = ENOMEM;
				break;
			}
			b->text = p;
			memcpy(b->text + total, b->buf, (size_t)n);
			b->text[total + (size_t)n] = '\0';
		}
		total += (size_t)n;
	}
	if (n < 0)
		err = verb_fail("read", path, -errno);
	if (close(fd) && !err)
		err = verb_fail("close", path, -errno);
	*bytes = total;
	return err;
}

/* Reads metrics, checks its lease count, copies its bytes to tmpfs. */
static int bench_prepare(struct bench *b, long leases)
{
	char want[80];
	size_t len;
	ssize_t n;
	int fd, err;

	free(b->text);
	b->text = NULL;
	err = bench_read_file(b, b->path[SRC_METRICS], &len, true);
	if (err)
		return err;
	snprintf(want, sizeof(want), "gpulease_leases{state=\"active\"} %ld\n",
		 leases);
	if (!b->text || !strstr(b->text, want)) {
		fprintf(stderr, "metrics: metrics does not say %s", want);
		return -EIO;
	}
	b->text_len = len;
	fd = open(b->path[SRC_TMPFS], O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", b->path[SRC_TMPFS], -errno);
	n = write(fd, b->text, len);
	err = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	if (err)
		return verb_fail("write", b->path[SRC_TMPFS], err);
	return 0;
}

/* Acquires leases bm-FROM .. bm-(TO - 1) through leases/ctl. */
static int bench_acquire(struct bench *b, long from, long to)
{
	char path[PATH_MAX + 16], line[64];
	uint64_t t0 = stats_now_ns();
	int fd, err = 0;
	ssize_t n;
	long i;

	snprintf(path, sizeof(path), "%s/%s/%s", b->mnt, GL_FILE_LEASES,
		 GL_FILE_CTL);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", path, -errno);
	for (i = from; i < to && !err; i++) {
		if (spawn_stop) {
			err = -EINTR;
			break;
		}
		snprintf(line, sizeof(line), "acquire bm-%ld vram=0", i);
		n = write(fd, line, strlen(line));
		if (n != (ssize_t)strlen(line))
			err = verb_fail("write to", path,
					 n < 0 ? -errno : -EIO);
	}
	close(fd);
	if (!err && to > from)
		printf("acquired %ld leases through leases/ctl in %.2f s\n\n",
		       to - from, (double)(stats_now_ns() - t0) / 1e9);
	return err;
}

/* COUNT reads of each source in rounds of b->round, order rotated. */
static int bench_rounds(struct bench *b, long count, bool timed)
{
	long left[SRC_COUNT], k, r;
	uint64_t t0, t1;
	size_t bytes;
	int i, src, err;

	for (i = 0; i < SRC_COUNT; i++) {
		left[i] = count;
		b->done[i] = 0;
	}
	for (r = 0; left[0] || left[1] || left[2]; r++) {
		for (i = 0; i < SRC_COUNT; i++) {
			src = (int)((i + r) % SRC_COUNT);
			for (k = 0; k < b->round && left[src];
			     k++, left[src]--) {
				if (spawn_stop)
					return -EINTR;
				t0 = stats_now_ns();
				err = bench_read_file(b, b->path[src], &bytes,
						      false);
				t1 = stats_now_ns();
				if (err)
					return err;
				b->bytes[src] = bytes;
				if (timed)
					b->ns[src][b->done[src]++] = t1 - t0;
			}
		}
	}
	return 0;
}

static void bench_report(struct bench *b, long leases)
{
	struct stats_summary s[SRC_COUNT];
	int i;

	for (i = 0; i < SRC_COUNT; i++)
		stats_summarize(b->ns[i], b->done[i], &s[i]);
	printf("%ld leases: %ld reads of each, rounds of %ld, %ld warm-up; "
	       "read = open, read to EOF (%d KiB reads), close\n", leases,
	       b->reads, b->round, b->warmup, BENCH_BUF / 1024);
	printf("%-18s | %9s | %9s %9s %9s | %10s %9s\n", "", "bytes", "p50 us",
	       "p99 us", "mean us", "metrics/x", "p99");
	for (i = 0; i < SRC_COUNT; i++)
		printf("%-18s | %9zu | %9.1f %9.1f %9.1f | %10.2f %9.2f\n",
		       bench_src_name[i], b->bytes[i], s[i].p50 / 1e3,
		       s[i].p99 / 1e3, s[i].mean / 1e3,
		       (double)s[SRC_METRICS].p50 / s[i].p50,
		       (double)s[SRC_METRICS].p99 / s[i].p99);
	printf("metrics p50 %.2f ms: %s 10 ms\n\n", s[SRC_METRICS].p50 / 1e6,
	       s[SRC_METRICS].p50 < BENCH_GOAL_NS ? "under" : "NOT under");
}

static int bench_pass(struct bench *b, long leases)
{
	int err;

	err = bench_prepare(b, leases);
	if (!err)
		err = bench_rounds(b, b->warmup, false);
	if (!err)
		err = bench_rounds(b, b->reads, true);
	if (!err)
		bench_report(b, leases);
	return err;
}

int main(int argc, char **argv)
{
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "metrics", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	ret = 1;
	if (b->cpu >= 0)
		printf("all pinned to CPU %ld\n", b->cpu);
	err = spawn_pin(b->cpu);
	if (!err)
		err = bench_setup(b);
	if (!err)
		err = spawn_daemon_start(&b->gl, b->daemon, b->mnt, NULL);
	if (!err)
		err = bench_pass(b, 0);
	if (!err)
		err = bench_acquire(b, 0, b->leases);
	if (!err)
		err = bench_pass(b, b->leases);
	ret = bench_failed("metrics", err);
	return bench_done(b, bench_cleanup(b), ret);
}
