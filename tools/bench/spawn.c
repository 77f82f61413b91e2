/* SPDX-License-Identifier: MIT */
/*
 * spawn: gpuleased's start and stop for the benchmarks, CPU pinning and
 * the signal flag their loops poll.
 *
 * Invariant: a spawn_daemon with pid != 0 is a child of ours that has not
 * been reaped; spawn_daemon_stop() reaps it and leaves nothing mounted at
 * its mount point, whatever the child did.
 */
#include <errno.h>
#include <libgen.h>
#include <sched.h>
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
#include "spawn.h"

#define SPAWN_MOUNT_MS		10000
#define SPAWN_STOP_MS		5000
#define SPAWN_ARGS_MAX		16

volatile sig_atomic_t spawn_stop;

static void spawn_on_signal(int sig)
{
	spawn_stop = sig;
}

void spawn_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = spawn_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void spawn_sleep_ms(int ms)
{
	struct timespec ts = { .tv_nsec = ms * 1000 * 1000L };

	nanosleep(&ts, NULL);
}

int spawn_daemon_path(const char *opt, char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (opt)
		return (size_t)snprintf(buf, size, "%s", opt) >= size ?
		       -ENAMETOOLONG : 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if ((size_t)snprintf(buf, size, "%s/../../gpuleased", dirname(exe)) >=
	    size)
		return -ENAMETOOLONG;
	return 0;
}

/* True once a file system other than the one we started on is at D. */
static bool spawn_mounted(const struct spawn_daemon *d)
{
	struct stat sb;

	if (stat(d->mnt, &sb))
		return false;
	return sb.st_dev != d->parent_dev;
}

/* Waits up to MS ms for PID; returns its wait status or -ETIMEDOUT. */
static int spawn_wait(pid_t pid, int ms)
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
		spawn_sleep_ms(10);
		ms -= 10;
	}
}

static void spawn_describe(const char *what, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "%s: %s exited with status %d\n",
			program_invocation_short_name, what,
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "%s: %s killed by signal %d\n",
			program_invocation_short_name, what, WTERMSIG(status));
}

/* The child: never returns. */
static void spawn_exec(const char *daemon, const char *mnt,
		       const char *const *args, pid_t parent)
{
	char *argv[SPAWN_ARGS_MAX + 5];
	int n = 0;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	argv[n++] = (char *)daemon;
	argv[n++] = (char *)"-f";
	argv[n++] = (char *)"--cpu";	/* the benches measure the CPU device */
	while (args && *args && n < SPAWN_ARGS_MAX + 2)
		argv[n++] = (char *)*args++;
	argv[n++] = (char *)mnt;
	argv[n] = NULL;
	execv(daemon, argv);
	fprintf(stderr, "%s: exec %s: %s\n", program_invocation_short_name,
		daemon, strerror(errno));
	_exit(127);
}

int spawn_daemon_start(struct spawn_daemon *d, const char *daemon,
		       const char *mnt, const char *const *args)
{
	char leases[PATH_MAX + 16];
	pid_t parent = getpid(), pid;
	struct stat sb;
	int status, ms;

	if (!daemon[0] || access(daemon, X_OK)) {
		fprintf(stderr,
			"%s: no gpuleased at %s (build it with make, or pass --daemon PATH)\n",
			program_invocation_short_name,
			daemon[0] ? daemon : "(unknown)");
		return -ENOENT;
	}
	if (strlen(mnt) >= sizeof(d->mnt))
		return -ENAMETOOLONG;
	if (stat(mnt, &sb))
		return -errno;
	d->parent_dev = sb.st_dev;
	strcpy(d->mnt, mnt);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		spawn_exec(daemon, mnt, args, parent);
	d->pid = pid;

	snprintf(leases, sizeof(leases), "%s/%s", mnt, GL_FILE_LEASES);
	for (ms = 0; ms < SPAWN_MOUNT_MS; ms += 10) {
		if (spawn_mounted(d) && !stat(leases, &sb))
			return 0;
		status = spawn_wait(pid, 0);
		if (status >= 0) {
			d->pid = 0;
			spawn_describe("gpuleased", status);
			return -ECHILD;
		}
		spawn_sleep_ms(10);
	}
	fprintf(stderr, "%s: gpuleased did not mount %s in %d ms\n",
		program_invocation_short_name, mnt, SPAWN_MOUNT_MS);
	return -ETIMEDOUT;
}

int spawn_daemon_stop(struct spawn_daemon *d)
{
	int status, ret = 0;

	if (!d->pid)
		return 0;
	kill(d->pid, SIGTERM);
	status = spawn_wait(d->pid, SPAWN_STOP_MS);
	if (status == -ETIMEDOUT) {
		fprintf(stderr,
			"%s: gpuleased ignored SIGTERM for %d ms; killing it\n",
			program_invocation_short_name, SPAWN_STOP_MS);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		ret = -ETIMEDOUT;
	} else if (status < 0) {
		ret = status;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		spawn_describe("gpuleased (on SIGTERM)", status);
		ret = -EIO;
	}
	d->pid = 0;
	if (spawn_mounted(d)) {
		fprintf(stderr, "%s: %s still mounted; detaching it\n",
			program_invocation_short_name, d->mnt);
		umount2(d->mnt, MNT_DETACH);
		ret = ret ? ret : -EBUSY;
	}
	return ret;
}

int spawn_tempdir(char base[32])
{
	strcpy(base, "/tmp/gl-bench.XXXXXX");
	if (mkdtemp(base))
		return 0;
	base[0] = '\0';
	return -errno;
}

int spawn_mountpoint(const char *base, const char *name, char *out,
		     size_t size)
{
	int err = 0;

	if ((size_t)snprintf(out, size, "%s/%s", base, name) >= size)
		err = -ENAMETOOLONG;
	else if (mkdir(out, 0755))
		err = -errno;
	if (err)
		out[0] = '\0';
	return err;
}

/* The highest CPU we may run on (CPU 0 takes most interrupts), or -1. */
long spawn_last_cpu(void)
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

int spawn_pin(long cpu)
{
	cpu_set_t set;
	int err;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		err = -errno;
		fprintf(stderr, "%s: cannot pin to CPU %ld: %s\n",
			program_invocation_short_name, cpu, strerror(-err));
		return err;
	}
	return 0;
}

int spawn_parse_long(const char *arg, long min, long *out)
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

void spawn_common_defaults(const struct spawn_common *o)
{
	*o->cpu = spawn_last_cpu();
	if (spawn_daemon_path(NULL, o->daemon, o->daemon_size))
		o->daemon[0] = '\0';
}

int spawn_common_opt(const struct spawn_common *o, int c, const char *arg)
{
	switch (c) {
	case 'n':
		if (spawn_parse_long(arg, 1, o->count) ||
		    (o->count_max && *o->count > o->count_max))
			return -EINVAL;
		return 1;
	case 'r':
		return spawn_parse_long(arg, 1, o->round) ? -EINVAL : 1;
	case 'w':
		return spawn_parse_long(arg, 0, o->warmup) ? -EINVAL : 1;
	case SPAWN_OPT_DAEMON:
		if (strlen(arg) >= o->daemon_size)
			return -EINVAL;
		strcpy(o->daemon, arg);
		return 1;
	case SPAWN_OPT_CPU:
		if (spawn_parse_long(arg, 0, o->cpu) || *o->cpu >= CPU_SETSIZE)
			return -EINVAL;
		return 1;
	case SPAWN_OPT_NO_PIN:
		*o->cpu = -1;
		return 1;
	default:
		return 0;
	}
}
