/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - the test fixture's private gpuleased: start it on a fresh temp
 * mount, wait for its tree, stop it and report how it exited.
 *
 * Invariant: a foreground daemon runs in its own session with
 * PR_SET_PDEATHSIG, so a test killed by the harness timeout takes its
 * daemon (and mount) with it; a background daemon is reparented to the
 * test process (a child subreaper), so it can be waited for like a child.
 * gl_daemon_stop() never leaves a mount or a temp dir behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftests/lib/gltest.h"

#define GL_MAX_ARGS	64
#define GL_WRAP_MAX	512
#define GL_START_MS	20000	/* until MNT/ctl appears */
#define GL_STOP_MS	10000	/* from SIGTERM to exit */
#define GL_SLOW		10	/* timeout factor under a wrapper */

long long gl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int gl_scale_ms(const struct gl_daemon *d, int ms)
{
	return d && d->wrapped ? ms * GL_SLOW : ms;
}

static void gl_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

const char *gl_daemon_unavailable(void)
{
	if (geteuid() != 0)
		return "needs root";
	if (access("/dev/fuse", R_OK | W_OK))
		return "no /dev/fuse";
	return NULL;
}

/* $GPULEASED, else ../../gpuleased relative to this test binary. */
static int gl_daemon_binary(char *buf, size_t size)
{
	char exe[PATH_MAX];
	const char *env = getenv("GPULEASED");
	ssize_t n;

	if (env && *env) {
		snprintf(buf, size, "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -errno;
		exe[n] = '\0';
		snprintf(buf, size, "%s/../../gpuleased", dirname(exe));
	}
	if (access(buf, X_OK)) {
		printf("# gltest: no daemon binary at %s (set GPULEASED)\n",
		       buf);
		return -ENOENT;
	}
	return 0;
}

void gl_daemon_dump_log(const struct gl_daemon *d)
{
	char line[1024];
	FILE *f;

	if (!d->log[0])
		return;
	f = fopen(d->log, "r");
	if (!f)
		return;
	printf("# --- gpuleased log (%s) ---\n", d->log);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		printf("# | %s\n", line);
	}
	printf("# --- end of log ---\n");
	fflush(stdout);
	fclose(f);
}

/* Child side of the fork: never returns. */
static void gl_daemon_exec(const struct gl_daemon *d, char *const *argv,
			   pid_t parent, int trunc)
{
	int fd;

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(126);
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND |
		  (trunc ? O_TRUNC : 0), 0644);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "gltest: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Build wrapper + binary + -f (or --log stderr) + extra + mnt into argv;
 * returns argc. */
static int gl_daemon_argv(struct gl_daemon *d, char *bin, char *wrap,
			  const char *const *extra, char **argv)
{
	const char *env = getenv("GL_DAEMON_WRAPPER");
	char *tok, *save = NULL;
	int argc = 0;

	if (env && *env) {
		snprintf(wrap, GL_WRAP_MAX, "%s", env);
		for (tok = strtok_r(wrap, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save))
			if (argc < GL_MAX_ARGS / 2)
				argv[argc++] = tok;
		d->wrapped = argc > 0;
	}
	argv[argc++] = bin;
	if (d->background) {
		/* the log file, not syslog, unless a test asks for it */
		argv[argc++] = "--log";
		argv[argc++] = "stderr";
	} else {
		argv[argc++] = "-f";
	}
	/* the tests are written against the CPU device, GPU or not */
	argv[argc++] = "--cpu";
	for (; extra && *extra && argc < GL_MAX_ARGS - 2; extra++)
		argv[argc++] = (char *)*extra;
	argv[argc++] = d->mnt;
	argv[argc] = NULL;
	return argc;
}

/* Is MNT a different file system from its parent, with ctl in it? */
static int gl_daemon_mounted(const struct gl_daemon *d)
{
	char ctl[160];
	struct stat top, st;

	if (stat(d->dir, &top) || stat(d->mnt, &st))
		return 0;
	if (st.st_dev == top.st_dev)
		return 0;
	snprintf(ctl, sizeof(ctl), "%s/ctl", d->mnt);
	return stat(ctl, &st) == 0;
}

static void gl_daemon_cleanup_dir(struct gl_daemon *d)
{
	if (!d->dir[0])
		return;
	umount2(d->mnt, MNT_DETACH);	/* only matters after a crash */
	rmdir(d->mnt);
	unlink(d->log);
	if (rmdir(d->dir))
		printf("# gltest: cannot remove %s: %s\n", d->dir,
		       strerror(errno));
	d->dir[0] = '\0';
}

pid_t gl_find_child(pid_t parent, const char *needle)
{
	char path[300], buf[4096], *p;
	struct dirent *de;
	pid_t found = -ESRCH;
	ssize_t n, i;
	DIR *dir;
	int fd, ppid;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while (found < 0 && (de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) S ppid": comm may hold anything, even ")" */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 ||
		    ppid != parent)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, needle))
			found = (pid_t)atoi(de->d_name);
	}
	closedir(dir);
	return found;
}

int gl_private_shm(void)
{
	if (unshare(CLONE_NEWNS))
		return -errno;
	/* nothing mounted here may reach the other namespaces */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777,size=64m"))
		return -errno;
	return 0;
}

/*
 * Background start: wait for the first process (@pid) to exit; on 0 the
 * daemon is our child (we are its subreaper): put its pid in d->pid.
 */
static int gl_daemon_wait_bg(struct gl_daemon *d, pid_t pid)
{
	long long deadline = gl_now_ms() + gl_scale_ms(d, GL_START_MS);
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (gl_now_ms() > deadline) {
			printf("# gltest: gpuleased did not return in %d ms\n",
			       gl_scale_ms(d, GL_START_MS));
			return -ETIMEDOUT;	/* d->pid: gl_daemon_stop */
		}
		gl_sleep_ms(10);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("# gltest: gpuleased exited (status 0x%x) before "
		       "serving\n", status);
		d->pid = 0;
		return -ECHILD;
	}
	d->pid = gl_find_child(getpid(), d->mnt);
	if (d->pid < 0) {
		printf("# gltest: gpuleased returned 0 but no daemon serves "
		       "%s\n", d->mnt);
		d->pid = 0;
		return -ESRCH;
	}
	return 0;
}

/* Start the daemon on d->mnt (made already); @restart: after another
 * that died there, the log appended to. */
static int gl_daemon_spawn(struct gl_daemon *d, const char *const *extra_args,
			   int restart);

static int gl_daemon_start_as(struct gl_daemon *d,
			      const char *const *extra_args, int background)
{
	char bin[PATH_MAX];
	int ret;

	memset(d, 0, sizeof(*d));
	d->background = background;
	ret = gl_daemon_binary(bin, sizeof(bin));
	if (ret)
		return ret;
	snprintf(d->dir, sizeof(d->dir), "/tmp/gltest.XXXXXX");
	if (!mkdtemp(d->dir)) {
		ret = -errno;
		d->dir[0] = '\0';
		return ret;
	}
	/* Other users (nobody) must reach the mount. */
	chmod(d->dir, 0755);
	snprintf(d->mnt, sizeof(d->mnt), "%s/mnt", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	if (mkdir(d->mnt, 0755)) {
		ret = -errno;
		gl_daemon_cleanup_dir(d);
		return ret;
	}
	return gl_daemon_spawn(d, extra_args, 0);
}

int gl_daemon_reap(struct gl_daemon *d)
{
	int status, ret = 0;

	if (d->pid <= 0)
		return 0;
	while (waitpid(d->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);
	d->pid = 0;
	/* what a supervisor's ExecStopPost does after a crash */
	umount2(d->mnt, MNT_DETACH);
	return ret;
}

int gl_daemon_restart(struct gl_daemon *d, const char *const *extra_args)
{
	if (d->pid || !d->dir[0])
		return -EBUSY;
	return gl_daemon_spawn(d, extra_args, 1);
}

static int gl_daemon_spawn(struct gl_daemon *d, const char *const *extra_args,
			   int restart)
{
	char bin[PATH_MAX], wrap[GL_WRAP_MAX], *argv[GL_MAX_ARGS + 1];
	long long deadline;
	int ret, status, i, argc;
	pid_t pid, parent = getpid();

	ret = gl_daemon_binary(bin, sizeof(bin));
	if (ret)
		return ret;
	argc = gl_daemon_argv(d, bin, wrap, extra_args, argv);

	/* orphans (the background daemon) are reparented to us */
	if (d->background && prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		ret = -errno;
		gl_daemon_cleanup_dir(d);
		return ret;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		gl_daemon_cleanup_dir(d);
		return ret;
	}
	if (pid == 0)
		gl_daemon_exec(d, argv, parent, !restart);
	d->pid = pid;
	if (d->background) {
		ret = gl_daemon_wait_bg(d, pid);
		if (ret)
			goto fail;
	}

	deadline = gl_now_ms() + gl_scale_ms(d, GL_START_MS);
	while (!gl_daemon_mounted(d)) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			printf("# gltest: gpuleased exited (status 0x%x) "
			       "before mounting\n", status);
			ret = -ECHILD;
			goto fail;
		}
		if (gl_now_ms() > deadline) {
			printf("# gltest: gpuleased did not mount %s in %d "
			       "ms\n", d->mnt, gl_scale_ms(d, GL_START_MS));
			ret = -ETIMEDOUT;
			goto fail;
		}
		gl_sleep_ms(10);
	}
	return 0;

fail:
	printf("# gltest: command:");
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	gl_daemon_stop(d, 1);
	return ret;
}

int gl_daemon_start(struct gl_daemon *d, const char *const *extra_args)
{
	const char *env = getenv("GL_BACKGROUND");

	return gl_daemon_start_as(d, extra_args, env && !strcmp(env, "1"));
}

int gl_daemon_start_bg(struct gl_daemon *d, const char *const *extra_args)
{
	return gl_daemon_start_as(d, extra_args, 1);
}

/* Where each daemon thread sleeps: for a daemon that will not stop. */
static void gl_daemon_dump_threads(const struct gl_daemon *d)
{
	char path[320], comm[64], line[256];
	struct dirent *de;
	FILE *f;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		comm[0] = '\0';
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm",
			 (int)d->pid, de->d_name);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		printf("# gltest: thread %s (%s):\n", de->d_name, comm);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack",
			 (int)d->pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			printf("#   %s", line);
		fclose(f);
	}
	closedir(dir);
	/* User-space stacks too, where gdb is installed. */
	if (!access("/usr/bin/gdb", X_OK)) {
		snprintf(path, sizeof(path), "/usr/bin/gdb -p %d -batch -nx "
			 "-ex 'thread apply all bt' 2>&1", (int)d->pid);
		f = popen(path, "r");
		if (f) {
			while (fgets(line, sizeof(line), f))
				printf("#   %s", line);
			pclose(f);
		}
	}
	fflush(stdout);
}

int gl_daemon_stop(struct gl_daemon *d, int dump_log)
{
	long long deadline;
	int status = 0, ret = 0;
	pid_t r;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		deadline = gl_now_ms() + gl_scale_ms(d, GL_STOP_MS);
		for (;;) {
			r = waitpid(d->pid, &status, WNOHANG);
			if (r == d->pid)
				break;
			if (r < 0 && errno != EINTR) {
				ret = -errno;
				break;
			}
			if (gl_now_ms() > deadline) {
				printf("# gltest: gpuleased ignored SIGTERM "
				       "for %d ms, killing it\n",
				       gl_scale_ms(d, GL_STOP_MS));
				gl_daemon_dump_threads(d);
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &status, 0);
				ret = -ETIMEDOUT;
				break;
			}
			gl_sleep_ms(10);
		}
		if (!ret && WIFEXITED(status))
			ret = WEXITSTATUS(status);
		else if (!ret && WIFSIGNALED(status))
			ret = 128 + WTERMSIG(status);
		if (ret)
			printf("# gltest: gpuleased exit: %d\n", ret);
		d->pid = 0;
	}
	if (ret || dump_log)
		gl_daemon_dump_log(d);
	gl_daemon_cleanup_dir(d);
	return ret;
}

long gl_daemon_rss_kb(const struct gl_daemon *d)
{
	char path[64], line[256];
	long kb = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
