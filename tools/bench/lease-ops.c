/* SPDX-License-Identifier: MIT */
/*
 * lease-ops: the cost of a lease's life cycle through the file system.
 * Times N cycles of mkdir NAME, write "vram 64K" to NAME/ctl, rmdir NAME on
 * gpuleased (CPU backend) and on nullfs, a FUSE file system that does no
 * work, and prints percentiles and the ratio of the two.
 *
 * Invariant: both file systems run at the same time, measured in
 * alternating rounds, so machine noise falls on both alike, and by default
 * on the CPU of the client, so cross-CPU wake-ups do not decide the ratio;
 * whatever was mounted or started is taken down on every exit path, errors
 * and SIGINT included.
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
#include "nullfs.h"
#include "bench.h"
#include "spawn.h"
#include "stats.h"

#define BENCH_CYCLES		2000
#define BENCH_ROUND		100
#define BENCH_WARMUP		100
#define BENCH_VRAM		"64K"
#define BENCH_CPU_VRAM		"1G"

enum bench_fs { FS_GPULEASE, FS_NULLFS, FS_COUNT };
enum bench_op { OP_CYCLE, OP_MKDIR, OP_CTL, OP_RMDIR, OP_COUNT };

static const char *const bench_fs_name[FS_COUNT] = { "gpulease", "nullfs" };
static const char *const bench_op_name[OP_COUNT] = {
	"cycle", "mkdir", "ctl", "rmdir",
};

struct bench {
	/* options */
	long cycles;			/* timed cycles per file system */
	long round;			/* cycles per round */
	long warmup;			/* untimed cycles per file system */
	char daemon[PATH_MAX];		/* gpuleased binary */
	char ctl_line[64];		/* what each cycle writes to ctl */
	struct nullfs_opts null_opts;
	bool aa;			/* nullfs on both sides: an A/A run */
	long cpu;			/* CPU of all three; -1: not pinned */

	/* run state */
	char base[32];			/* temp dir holding both mount points */
	char mnt[FS_COUNT][64];
	char dir[FS_COUNT][96];		/* where the cycles mkdir */
	struct spawn_daemon daemon_proc; /* gpuleased, unless A/A */
	struct nullfs nfs[FS_COUNT];	/* nfs[FS_GPULEASE] only in A/A */
	long seq;			/* names are unique per run */
	uint64_t *ns[FS_COUNT][OP_COUNT];
	long done[FS_COUNT];		/* timed cycles so far */
};

static const char *const bench_daemon_args[] = {
	"--cpu-vram", BENCH_CPU_VRAM, NULL,
};

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: lease-ops [options]\n"
"\n"
"Times the life cycle of a lease through the file system: mkdir NAME,\n"
"write \"vram " BENCH_VRAM "\" to NAME/ctl, rmdir NAME. It runs gpuleased\n"
"(-f --cpu-vram " BENCH_CPU_VRAM ") and nullfs, a FUSE file system that does\n"
"nothing, on temporary mounts, measures both in alternating rounds, and\n"
"prints p50, p99 and mean per operation and the ratio gpulease/nullfs.\n"
"Run it as root (both mounts use allow_other).\n"
"\n"
"  -n, --cycles N       timed cycles on each file system (default %d)\n"
"  -r, --round N        cycles per round before switching (default %d)\n"
"  -w, --warmup N       untimed cycles on each first (default %d)\n"
"      --daemon PATH    the gpuleased binary (default: ../../gpuleased\n"
"                       relative to this program's directory)\n"
"      --vram SIZE      the size written to ctl (default " BENCH_VRAM ")\n"
"      --null-timeout S nullfs entry/attr cache timeout of the directories\n"
"                       and ctl files (default 0, as gpuleased's leases)\n"
"      --null-single    serve nullfs with one thread, not libfuse's mt loop\n"
"      --cpu N          pin this program and both servers to CPU N\n"
"                       (default: the last CPU this program may use)\n"
"      --no-pin         do not pin: wake-ups cross CPUs, as for real\n"
"                       clients, but the ratios swing from run to run\n"
"      --aa             run nullfs in place of gpuleased too (an A/A run:\n"
"                       its ratios show the method's own noise)\n"
"  -h, --help           this text\n",
		BENCH_CYCLES, BENCH_ROUND, BENCH_WARMUP);
}

enum {
	OPT_VRAM = 256, OPT_NULL_TIMEOUT, OPT_NULL_SINGLE, OPT_AA,
};

static int bench_parse(void *arg, int argc, char **argv)
{
	struct bench *b = arg;
	const char *vram = BENCH_VRAM;
	const struct bench_opt opts[] = {
		{ "vram", 0, BENCH_OPT_STR, &vram, 0, 32, 0 },
		{ "null-timeout", 0, BENCH_OPT_REAL, &b->null_opts.timeout, 0,
		  0, 0 },
		{ "null-single", 0, BENCH_OPT_FLAG, &b->null_opts.single, 0,
		  0, 0 },
		{ "aa", 0, BENCH_OPT_FLAG, &b->aa, 0, 0, 0 },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "lease-ops", .usage = bench_usage,
		.count_name = "cycles", .pin = true, .opts = opts,
		.defaults = { BENCH_CYCLES, BENCH_ROUND, BENCH_WARMUP },
		.common = BENCH_COMMON(b, cycles, 0, round),
	};
	int err;

	b->null_opts.timeout = 0.0;
	err = bench_cli_parse(&cli, argc, argv);
	snprintf(b->ctl_line, sizeof(b->ctl_line), "vram %s", vram);
	return err;
}

/* Takes down whatever is up; safe at any point after bench_parse(). */
static int bench_cleanup(struct bench *b)
{
	int ret = 0, err, fs, op;

	err = spawn_daemon_stop(&b->daemon_proc);
	if (err)
		ret = err;
	for (fs = 0; fs < FS_COUNT; fs++) {
		err = nullfs_stop(&b->nfs[fs]);
		if (err) {
			fprintf(stderr,
				"lease-ops: nullfs on %s did not stop cleanly\n",
				b->mnt[fs]);
			ret = ret ? ret : err;
		}
	}
	for (fs = 0; fs < FS_COUNT; fs++) {
		if (b->mnt[fs][0])
			rmdir(b->mnt[fs]);
		for (op = 0; op < OP_COUNT; op++)
			free(b->ns[fs][op]);
	}
	if (b->base[0])
		rmdir(b->base);
	return ret;
}

static int bench_setup(struct bench *b)
{
	int fs, op, err;

	for (fs = 0; fs < FS_COUNT; fs++)
		for (op = 0; op < OP_COUNT; op++) {
			b->ns[fs][op] = calloc(b->cycles, sizeof(uint64_t));
			if (!b->ns[fs][op])
				return -ENOMEM;
		}
	err = spawn_tempdir(b->base);
	for (fs = 0; !err && fs < FS_COUNT; fs++)
		err = spawn_mountpoint(b->base, bench_fs_name[fs], b->mnt[fs],
				       sizeof(b->mnt[fs]));
	if (err)
		return err;
	snprintf(b->dir[FS_GPULEASE], sizeof(b->dir[0]), "%s%s%s",
		 b->mnt[FS_GPULEASE], b->aa ? "" : "/",
		 b->aa ? "" : GL_FILE_LEASES);
	snprintf(b->dir[FS_NULLFS], sizeof(b->dir[0]), "%s",
		 b->mnt[FS_NULLFS]);
	return 0;
}

static int bench_fail(const char *fs, const char *what, const char *path,
		      int err)
{
	fprintf(stderr, "lease-ops: %s: %s %s: %s\n", fs, what, path,
		strerror(-err));
	return err;
}

/*
 * One cycle on FS. Records its times when TIMED. Returns 0 or -errno; on
 * failure after mkdir the directory is removed before returning.
 */
static int bench_cycle(struct bench *b, int fs, bool timed)
{
	size_t len = strlen(b->ctl_line);
	char dir[PATH_MAX], ctl[PATH_MAX + 8];
	uint64_t t0, t1, t2, t3;
	ssize_t n;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s/b%d-%ld", b->dir[fs], (int)getpid(),
		 b->seq++);
	snprintf(ctl, sizeof(ctl), "%s/%s", dir, GL_FILE_CTL);

	t0 = stats_now_ns();
	if (mkdir(dir, 0700))
		return bench_fail(bench_fs_name[fs], "mkdir", dir, -errno);
	t1 = stats_now_ns();
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = bench_fail(bench_fs_name[fs], "open", ctl, -errno);
		goto out_rmdir;
	}
	n = write(fd, b->ctl_line, len);
	if (n != (ssize_t)len) {
		err = bench_fail(bench_fs_name[fs], "write to", ctl,
				 n < 0 ? -errno : -EIO);
		close(fd);
		goto out_rmdir;
	}
	if (close(fd)) {
		err = bench_fail(bench_fs_name[fs], "close", ctl, -errno);
		goto out_rmdir;
	}
	t2 = stats_now_ns();
	if (rmdir(dir))
		return bench_fail(bench_fs_name[fs], "rmdir", dir, -errno);
	t3 = stats_now_ns();

	if (timed) {
		long i = b->done[fs]++;

		b->ns[fs][OP_CYCLE][i] = t3 - t0;
		b->ns[fs][OP_MKDIR][i] = t1 - t0;
		b->ns[fs][OP_CTL][i] = t2 - t1;
		b->ns[fs][OP_RMDIR][i] = t3 - t2;
	}
	return 0;

out_rmdir:
	rmdir(dir);
	return err;
}

/*
 * COUNT cycles per file system in rounds of b->round, the order of the two
 * swapped every round.
 */
static int bench_rounds(struct bench *b, long count, bool timed)
{
	long left[FS_COUNT] = { count, count }, k, r;
	int i, fs, err;

	for (r = 0; left[FS_GPULEASE] || left[FS_NULLFS]; r++) {
		for (i = 0; i < FS_COUNT; i++) {
			fs = (r & 1) ? FS_COUNT - 1 - i : i;
			for (k = 0; k < b->round && left[fs]; k++, left[fs]--) {
				if (spawn_stop)
					return -EINTR;
				err = bench_cycle(b, fs, timed);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

static double bench_us(double ns)
{
	return ns / 1000.0;
}

static void bench_report(struct bench *b)
{
	struct stats_summary s[FS_COUNT];
	int fs, op;

	printf("lease-ops: %ld cycles on each file system, rounds of %ld, "
	       "%ld warm-up; cycle = mkdir + open/write \"%s\"/close ctl + rmdir\n",
	       b->cycles, b->round, b->warmup, b->ctl_line);
	if (b->aa)
		printf("A/A run: the gpulease columns are a second nullfs\n");
	printf("nullfs: %s loop, cache timeout %.1f s\n",
	       b->null_opts.single ? "single-threaded" : "multi-threaded",
	       b->null_opts.timeout);
	if (b->cpu >= 0)
		printf("all pinned to CPU %ld\n", b->cpu);
	else
		printf("not pinned\n");
	printf("times in microseconds\n\n");
	printf("%-6s | %9s %9s %9s | %9s %9s %9s | %7s %7s\n", "",
	       "gpulease", "", "", "nullfs", "", "", "ratio", "");
	printf("%-6s | %9s %9s %9s | %9s %9s %9s | %7s %7s\n", "op",
	       "p50", "p99", "mean", "p50", "p99", "mean", "p50", "p99");
	for (op = 0; op < OP_COUNT; op++) {
		for (fs = 0; fs < FS_COUNT; fs++)
			stats_summarize(b->ns[fs][op], b->done[fs], &s[fs]);
		printf("%-6s | %9.1f %9.1f %9.1f | %9.1f %9.1f %9.1f | %7.2f %7.2f\n",
		       bench_op_name[op],
		       bench_us(s[FS_GPULEASE].p50),
		       bench_us(s[FS_GPULEASE].p99),
		       bench_us(s[FS_GPULEASE].mean),
		       bench_us(s[FS_NULLFS].p50), bench_us(s[FS_NULLFS].p99),
		       bench_us(s[FS_NULLFS].mean),
		       (double)s[FS_GPULEASE].p50 / (double)s[FS_NULLFS].p50,
		       (double)s[FS_GPULEASE].p99 / (double)s[FS_NULLFS].p99);
	}
}

/* After the run no lease may hold memory: vram.used of device 0 is 0. */
static void bench_check_leak(struct bench *b)
{
	char path[PATH_MAX + 32], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/0/vram.used", b->mnt[FS_GPULEASE],
		 GL_FILE_DEVICES);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strtoull(buf, NULL, 10))
		fprintf(stderr, "lease-ops: warning: vram.used is %s after the run\n",
			buf);
}

static int bench_nullfs_start(struct bench *b, int fs)
{
	int err;

	err = nullfs_start(&b->nfs[fs], b->mnt[fs], &b->null_opts);
	if (err)
		fprintf(stderr, "lease-ops: nullfs on %s: %s\n", b->mnt[fs],
			strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "lease-ops", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	ret = 1;
	if (spawn_pin(b->cpu))
		goto out;
	err = bench_setup(b);
	if (err) {
		fprintf(stderr, "lease-ops: setup: %s\n", strerror(-err));
		goto out;
	}
	err = b->aa ? bench_nullfs_start(b, FS_GPULEASE) :
		      spawn_daemon_start(&b->daemon_proc, b->daemon,
					 b->mnt[FS_GPULEASE], bench_daemon_args);
	if (!err)
		err = bench_nullfs_start(b, FS_NULLFS);
	if (err)
		goto out;
	err = bench_rounds(b, b->warmup, false);
	if (!err)
		err = bench_rounds(b, b->cycles, true);
	if (err == -EINTR)
		fprintf(stderr, "lease-ops: interrupted by signal %d\n",
			(int)spawn_stop);
	if (err)
		goto out;
	bench_check_leak(b);
	bench_report(b);
	ret = 0;
out:
	return bench_done(b, bench_cleanup(b), ret);
}
