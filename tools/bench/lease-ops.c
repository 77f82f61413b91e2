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
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uapi/gpulease.h"
#include "nullfs.h"
#include "stats.h"

#define BENCH_CYCLES		2000
#define BENCH_ROUND		100
#define BENCH_WARMUP		100
#define BENCH_VRAM		"64K"
#define BENCH_CPU_VRAM		"1G"
#define BENCH_MOUNT_MS		10000
#define BENCH_STOP_MS		5000

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
	pid_t daemon_pid;		/* 0 when not running */
	struct nullfs nfs[FS_COUNT];	/* nfs[FS_GPULEASE] only in A/A */
	long seq;			/* names are unique per run */
	uint64_t *ns[FS_COUNT][OP_COUNT];
	long done[FS_COUNT];		/* timed cycles so far */
};

static volatile sig_atomic_t bench_stop;

static void bench_on_signal(int sig)
{
	bench_stop = sig;
}

static uint64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench_sleep_ms(int ms)
{
	struct timespec ts = { .tv_nsec = ms * 1000 * 1000L };

	nanosleep(&ts, NULL);
}

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

static int bench_parse_long(const char *arg, long min, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The highest CPU we may run on (CPU 0 takes most interrupts), or -1. */
static long bench_last_cpu(void)
{
	cpu_set_t set;
	long cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}

/* Default daemon: $(dirname /proc/self/exe)/../../gpuleased. */
static int bench_default_daemon(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if ((size_t)snprintf(buf, size, "%s/../../gpuleased", dirname(exe)) >=
	    size)
		return -ENAMETOOLONG;
	return 0;
}

enum {
	OPT_DAEMON = 256, OPT_VRAM, OPT_NULL_TIMEOUT, OPT_NULL_SINGLE, OPT_AA,
	OPT_CPU, OPT_NO_PIN,
};

static int bench_parse(struct bench *b, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cycles", required_argument, NULL, 'n' },
		{ "round", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "daemon", required_argument, NULL, OPT_DAEMON },
		{ "vram", required_argument, NULL, OPT_VRAM },
		{ "null-timeout", required_argument, NULL, OPT_NULL_TIMEOUT },
		{ "null-single", no_argument, NULL, OPT_NULL_SINGLE },
		{ "aa", no_argument, NULL, OPT_AA },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "no-pin", no_argument, NULL, OPT_NO_PIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vram = BENCH_VRAM;
	char *end;
	int c;

	b->cycles = BENCH_CYCLES;
	b->round = BENCH_ROUND;
	b->warmup = BENCH_WARMUP;
	b->null_opts.timeout = 0.0;
	b->cpu = bench_last_cpu();
	if (bench_default_daemon(b->daemon, sizeof(b->daemon)))
		b->daemon[0] = '\0';

	while ((c = getopt_long(argc, argv, "n:r:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bench_parse_long(optarg, 1, &b->cycles))
				goto bad;
			break;
		case 'r':
			if (bench_parse_long(optarg, 1, &b->round))
				goto bad;
			break;
		case 'w':
			if (bench_parse_long(optarg, 0, &b->warmup))
				goto bad;
			break;
		case OPT_DAEMON:
			if (strlen(optarg) >= sizeof(b->daemon))
				goto bad;
			strcpy(b->daemon, optarg);
			break;
		case OPT_VRAM:
			if (strlen(optarg) > 32)
				goto bad;
			vram = optarg;
			break;
		case OPT_NULL_TIMEOUT:
			b->null_opts.timeout = strtod(optarg, &end);
			if (end == optarg || *end || b->null_opts.timeout < 0)
				goto bad;
			break;
		case OPT_NULL_SINGLE:
			b->null_opts.single = true;
			break;
		case OPT_AA:
			b->aa = true;
			break;
		case OPT_CPU:
			if (bench_parse_long(optarg, 0, &b->cpu) ||
			    b->cpu >= CPU_SETSIZE)
				goto bad;
			break;
		case OPT_NO_PIN:
			b->cpu = -1;
			break;
		case 'h':
			bench_usage(stdout);
			exit(0);
		default:
			bench_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lease-ops: unexpected argument '%s'\n",
			argv[optind]);
		bench_usage(stderr);
		return -EINVAL;
	}
	snprintf(b->ctl_line, sizeof(b->ctl_line), "vram %s", vram);
	return 0;
bad:
	fprintf(stderr, "lease-ops: bad value '%s' (see --help)\n", optarg);
	return -EINVAL;
}

/* True once something other than the parent's file system is at MNT. */
static bool bench_mounted(const struct bench *b, const char *mnt)
{
	struct stat base, sb;

	if (stat(b->base, &base) || stat(mnt, &sb))
		return false;
	return base.st_dev != sb.st_dev;
}

/* Waits up to MS ms for PID; returns its wait status or -ETIMEDOUT. */
static int bench_wait(pid_t pid, int ms)
{
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (ms <= 0)
			return -ETIMEDOUT;
		bench_sleep_ms(10);
		ms -= 10;
	}
}

static void bench_describe_status(const char *what, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "lease-ops: %s exited with status %d\n", what,
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "lease-ops: %s killed by signal %d\n", what,
			WTERMSIG(status));
}

static int bench_daemon_start(struct bench *b)
{
	const char *mnt = b->mnt[FS_GPULEASE];
	pid_t parent = getpid(), pid;
	char leases[PATH_MAX + 16];
	struct stat sb;
	int status, ms;

	if (access(b->daemon, X_OK)) {
		fprintf(stderr,
			"lease-ops: no gpuleased at %s (build it with make, or pass --daemon PATH)\n",
			b->daemon[0] ? b->daemon : "(unknown)");
		return -ENOENT;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *const argv[] = {
			b->daemon, (char *)"-f", (char *)"--cpu-vram",
			(char *)BENCH_CPU_VRAM, (char *)mnt, NULL,
		};

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		execv(b->daemon, argv);
		fprintf(stderr, "lease-ops: exec %s: %s\n", b->daemon,
			strerror(errno));
		_exit(127);
	}
	b->daemon_pid = pid;

	snprintf(leases, sizeof(leases), "%s/%s", mnt, GL_FILE_LEASES);
	for (ms = 0; ms < BENCH_MOUNT_MS; ms += 10) {
		if (bench_mounted(b, mnt) && !stat(leases, &sb))
			return 0;
		status = bench_wait(pid, 0);
		if (status >= 0) {
			b->daemon_pid = 0;
			bench_describe_status("gpuleased", status);
			return -ECHILD;
		}
		bench_sleep_ms(10);
	}
	fprintf(stderr, "lease-ops: gpuleased did not mount %s in %d ms\n",
		mnt, BENCH_MOUNT_MS);
	return -ETIMEDOUT;
}

/* SIGTERM must unmount and exit 0; anything else is reported. */
static int bench_daemon_stop(struct bench *b)
{
	const char *mnt = b->mnt[FS_GPULEASE];
	int status, ret = 0;

	if (!b->daemon_pid)
		return 0;
	kill(b->daemon_pid, SIGTERM);
	status = bench_wait(b->daemon_pid, BENCH_STOP_MS);
	if (status == -ETIMEDOUT) {
		fprintf(stderr,
			"lease-ops: gpuleased ignored SIGTERM for %d ms; killing it\n",
			BENCH_STOP_MS);
		kill(b->daemon_pid, SIGKILL);
		waitpid(b->daemon_pid, NULL, 0);
		ret = -ETIMEDOUT;
	} else if (status < 0) {
		ret = status;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		bench_describe_status("gpuleased (on SIGTERM)", status);
		ret = -EIO;
	}
	b->daemon_pid = 0;
	if (bench_mounted(b, mnt)) {
		fprintf(stderr, "lease-ops: %s still mounted; detaching it\n",
			mnt);
		umount2(mnt, MNT_DETACH);
		ret = ret ? ret : -EBUSY;
	}
	return ret;
}

/* Takes down whatever is up; safe at any point after bench_parse(). */
static int bench_cleanup(struct bench *b)
{
	int ret = 0, err, fs, op;

	err = bench_daemon_stop(b);
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
	int fs, op;

	for (fs = 0; fs < FS_COUNT; fs++)
		for (op = 0; op < OP_COUNT; op++) {
			b->ns[fs][op] = calloc(b->cycles, sizeof(uint64_t));
			if (!b->ns[fs][op])
				return -ENOMEM;
		}
	strcpy(b->base, "/tmp/gl-bench.XXXXXX");
	if (!mkdtemp(b->base)) {
		b->base[0] = '\0';
		return -errno;
	}
	for (fs = 0; fs < FS_COUNT; fs++) {
		snprintf(b->mnt[fs], sizeof(b->mnt[fs]), "%s/%s", b->base,
			 bench_fs_name[fs]);
		if (mkdir(b->mnt[fs], 0755)) {
			b->mnt[fs][0] = '\0';
			return -errno;
		}
	}
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

	t0 = bench_now();
	if (mkdir(dir, 0700))
		return bench_fail(bench_fs_name[fs], "mkdir", dir, -errno);
	t1 = bench_now();
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
	t2 = bench_now();
	if (rmdir(dir))
		return bench_fail(bench_fs_name[fs], "rmdir", dir, -errno);
	t3 = bench_now();

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
				if (bench_stop)
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

/*
 * Pins this program to CPU, or does nothing for -1. Children inherit the
 * mask and execv keeps it, so pinning before the servers start pins them.
 */
static int bench_pin(long cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		int err = -errno;

		fprintf(stderr, "lease-ops: cannot pin to CPU %ld: %s\n",
			cpu, strerror(-err));
		return err;
	}
	return 0;
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
	struct sigaction sa;
	struct bench *b;
	int err, ret = 1;

	b = calloc(1, sizeof(*b));
	if (!b) {
		perror("lease-ops");
		return 1;
	}
	if (bench_parse(b, argc, argv)) {
		free(b);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (bench_pin(b->cpu))
		goto out;
	err = bench_setup(b);
	if (err) {
		fprintf(stderr, "lease-ops: setup: %s\n", strerror(-err));
		goto out;
	}
	err = b->aa ? bench_nullfs_start(b, FS_GPULEASE) :
		      bench_daemon_start(b);
	if (!err)
		err = bench_nullfs_start(b, FS_NULLFS);
	if (err)
		goto out;
	err = bench_rounds(b, b->warmup, false);
	if (!err)
		err = bench_rounds(b, b->cycles, true);
	if (err == -EINTR)
		fprintf(stderr, "lease-ops: interrupted by signal %d\n",
			(int)bench_stop);
	if (err)
		goto out;
	bench_check_leak(b);
	bench_report(b);
	ret = 0;
out:
	if (bench_cleanup(b))
		ret = 1;
	free(b);
	return ret;
}
