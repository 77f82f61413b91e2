/* SPDX-License-Identifier: MIT */
/*
 * spawn: what every benchmark does around its measurement. Starts
 * gpuleased in the foreground on a temporary mount point and waits for
 * the mount, stops it (SIGTERM must unmount and exit 0), pins CPUs and
 * turns SIGINT, SIGTERM and SIGHUP into a flag the measuring loops poll,
 * so each bench can unwind and clean up instead of dying mid-run.
 */
#ifndef GL_BENCH_SPAWN_H
#define GL_BENCH_SPAWN_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_daemon {
	pid_t pid;		/* 0 when not running */
	dev_t parent_dev;	/* st_dev of the mount point before the mount */
	char mnt[PATH_MAX];	/* where it is mounted */
};

/* The last of SIGINT, SIGTERM, SIGHUP received since spawn_signals(). */
extern volatile sig_atomic_t spawn_stop;

/* spawn_signals() - make SIGINT, SIGTERM and SIGHUP set spawn_stop. */
void spawn_signals(void);

/*
 * spawn_daemon_path() - the daemon a bench runs into BUF: OPT (its
 * --daemon) when not NULL, else $(dirname /proc/self/exe)/../../gpuleased,
 * i.e. $(O)/gpuleased for a bench in $(O)/tools/bench. Returns 0, or
 * -errno (-ENAMETOOLONG when SIZE is too small).
 */
int spawn_daemon_path(const char *opt, char *buf, size_t size);

/*
 * spawn_daemon_start() - fork and exec DAEMON -f ARGS... MNT, where MNT is
 * an existing empty directory and ARGS a NULL-terminated list (may be
 * NULL), and wait until MNT/leases exists on the new mount. The child
 * inherits this process's CPU mask and gets SIGTERM should we die first.
 *
 * Returns 0 with D->pid set, or -errno: -ENOENT (no executable DAEMON),
 * -ECHILD (it exited; its status is printed), -ETIMEDOUT (no mount after
 * 10 s; D->pid stays set so spawn_daemon_stop() reaps it). Not
 * thread-safe (it forks).
 */
int spawn_daemon_start(struct spawn_daemon *d, const char *daemon,
		       const char *mnt, const char *const *args);

/*
 * spawn_daemon_stop() - SIGTERM the daemon of D and wait for it to exit 0
 * and unmount. Past 5 s it is SIGKILLed; a mount left behind is detached.
 * Returns 0, -ETIMEDOUT, -EIO (a bad exit status, printed) or -EBUSY (it
 * left its mount). Safe on a D that never started, and twice.
 */
int spawn_daemon_stop(struct spawn_daemon *d);

/*
 * spawn_tempdir() - make a new directory /tmp/gl-bench.XXXXXX, its path
 * into @base ("" when it was not made), where a bench's mount points go.
 * Returns 0 or -errno.
 */
int spawn_tempdir(char base[32]);

/*
 * spawn_mountpoint() - make the directory BASE/NAME, its path into OUT
 * (SIZE bytes; "" when it was not made). Returns 0 or -errno.
 */
int spawn_mountpoint(const char *base, const char *name, char *out,
		     size_t size);

/* spawn_last_cpu() - the highest CPU this process may run on, or -1. */
long spawn_last_cpu(void);

/*
 * spawn_pin() - restrict this process to CPU, or do nothing for -1.
 * Children inherit the mask and execv keeps it, so pinning before a
 * server starts pins the server. Returns 0 or -errno (printed).
 */
int spawn_pin(long cpu);

/*
 * spawn_parse_long() - ARG as a decimal long >= MIN into OUT.
 * Returns 0 or -EINVAL.
 */
int spawn_parse_long(const char *arg, long min, long *out);

/* Option values of the options every bench takes (getopt_long vals). */
enum {
	SPAWN_OPT_DAEMON = 0x1000,	/* --daemon PATH */
	SPAWN_OPT_CPU,			/* --cpu N */
	SPAWN_OPT_NO_PIN,		/* --no-pin */
};

/* Where a bench keeps the values of the shared options. */
struct spawn_common {
	long *count;		/* -n: timed operations, >= 1 */
	long count_max;		/* upper bound of -n, 0: none */
	long *round;		/* -r: operations per round, >= 1 */
	long *warmup;		/* -w: untimed operations, >= 0 */
	long *cpu;		/* --cpu, --no-pin (-1) */
	char *daemon;		/* --daemon */
	size_t daemon_size;
};

/* spawn_common_defaults() - --cpu: the last CPU; --daemon: the default. */
void spawn_common_defaults(const struct spawn_common *o);

/*
 * spawn_common_opt() - take getopt_long's @c with @arg if it is one of
 * the shared options. Returns 1 when taken, 0 when not one of them,
 * -EINVAL for a bad value.
 */
int spawn_common_opt(const struct spawn_common *o, int c, const char *arg);

#endif /* GL_BENCH_SPAWN_H */
