/* SPDX-License-Identifier: MIT */
/*
 * background.c - gpuleased in its default mode (no -f): the command
 * returns once the tree serves, and the daemon left behind has every
 * thread: a lease expires by the reaper, a submit write runs, SIGTERM
 * and an unmount (fusermount3 -u) both stop it with status 0 and no
 * mount left; a start that fails in the daemon fails the command with
 * a message; its log lines reach syslog. Each test runs in a mount
 * namespace of its own with a private /dev/shm.
 *
 * run_tests: no-background (each test starts its own daemons, both ways)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(bg) {
	struct gl_daemon d;
};

FIXTURE_SETUP(bg)
{
	const char *why = gl_daemon_unavailable();

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(gl_private_shm(), 0);
	ASSERT_EQ(gl_daemon_start_bg(&self->d, args), 0);
}

FIXTURE_TEARDOWN(bg)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

/* Is @path a mount point in this process's namespace? */
static int is_mounted(const char *path)
{
	char line[1024], a[512], mnt[512];
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%511s %*s %*s %*s %511s", a, mnt) == 2)
			found = !strcmp(mnt, path);
	fclose(f);
	return found;
}

/* Wait (bounded) for the daemon, our child, to exit: its wait status or
 * -ETIMEDOUT. */
static int wait_exit(struct gl_daemon *d, int ms)
{
	long long deadline = gl_now_ms() + gl_scale_ms(d, ms);
	int status;
	pid_t r;

	while ((r = waitpid(d->pid, &status, WNOHANG)) == 0) {
		if (gl_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	if (r < 0)
		return -errno;
	d->pid = 0;	/* reaped: nothing left for the teardown */
	return status;
}

struct lease_ref {
	const struct gl_daemon *d;
	const char *name;
};

static int is_expired(void *arg)
{
	struct lease_ref *r = arg;
	char s[64];

	return lease_read_key_str(r->d, r->name, "state", s,
				  sizeof(s)) == -EKEYEXPIRED;
}

/* The reaper thread, not the ctl write, expires it: it was not due yet. */
TEST_F(bg, reaper_expires_lease)
{
	struct gl_daemon *d = &self->d;
	struct lease_ref r = { d, "e" };

	ASSERT_EQ(lease_create(d, "e"), 0);
	ASSERT_EQ(lease_write(d, "e", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_write(d, "e", "ctl", "ttl 3600\n"), 0);
	ASSERT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 3599\n"), 0);
	ASSERT_EQ(gl_wait_until(is_expired, &r, gl_scale_ms(d, 15000)), 0)
		TH_LOG("the lease never expired: no reaper in the daemon?");
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(lease_remove(d, "e"), 0);
}

/* A blocking submit write returns: the executors run in the daemon. The
 * write is made by a child, killed if it hangs, so the test ends. */
TEST_F(bg, submit_runs_launch)
{
	static const char desc[] = "fill grid=1 u32:256 f32:1.5 buf:0:1024";
	struct gl_daemon *d = &self->d;
	long long deadline;
	float got[256];
	int fd, status, i;
	pid_t pid, r;

	ASSERT_EQ(lease_create(d, "l"), 0);
	ASSERT_EQ(lease_write(d, "l", "ctl", "vram 4096\n"), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(lease_write(d, "l", "submit", "%s", desc) ? 1 : 0);
	deadline = gl_now_ms() + gl_scale_ms(d, 20000);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	       gl_now_ms() < deadline)
		usleep(10000);
	if (r == 0)	/* stuck in the kernel until the daemon goes */
		kill(pid, SIGKILL);
	ASSERT_EQ(r, pid) TH_LOG("the submit write hung: no executors?");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = lease_open(d, "l", "vram", O_RDONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pread(fd, got, sizeof(got), 0), (ssize_t)sizeof(got));
	close(fd);
	for (i = 0; i < 256; i++)
		if (got[i] != 1.5f)
			break;
	EXPECT_EQ(i, 256) TH_LOG("got[%d] = %g", i, (double)got[i]);
	EXPECT_EQ(lease_remove(d, "l"), 0);
}

TEST_F(bg, sigterm_stops)
{
	struct gl_daemon *d = &self->d;
	pid_t pid = d->pid;
	int status;

	ASSERT_EQ(lease_create(d, "t"), 0);
	ASSERT_EQ(lease_write(d, "t", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(is_mounted(d->mnt), 1);
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	status = wait_exit(d, 10000);
	ASSERT_GE(status, 0) TH_LOG("gpuleased ignored SIGTERM");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("wait status 0x%x", status);
	EXPECT_EQ(is_mounted(d->mnt), 0);
	EXPECT_EQ(kill(pid, 0), -1);
	EXPECT_EQ(errno, ESRCH);
}

TEST_F(bg, unmount_stops)
{
	struct gl_daemon *d = &self->d;
	char cmd[256];
	pid_t pid = d->pid;
	int status;

	ASSERT_EQ(lease_create(d, "u"), 0);
	snprintf(cmd, sizeof(cmd), "fusermount3 -u %s", d->mnt);
	ASSERT_EQ(system(cmd), 0);
	status = wait_exit(d, 10000);
	ASSERT_GE(status, 0) TH_LOG("gpuleased still runs after unmount");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("wait status 0x%x", status);
	EXPECT_EQ(is_mounted(d->mnt), 0);
	EXPECT_EQ(kill(pid, 0), -1);
	EXPECT_EQ(errno, ESRCH);
}

/* Run "$GPULEASED --cpu [@extra] @mnt" in the background mode: its exit
 * status (-1 if it did not exit) and its output in @out. */
static int run_daemon(const char *extra, const char *mnt, char *out,
		      size_t size)
{
	const char *bin = getenv("GPULEASED");
	char cmd[1024];
	size_t n = 0;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' --cpu %s '%s' 2>&1 </dev/null",
		 bin ? bin : "gpuleased", extra, mnt);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (n + 1 < size && fgets(out + n, size - n, f))
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * A start that fails in the daemon (the io directory on a read-only
 * /dev/shm) fails the command, with the reason, and leaves no mount; so
 * does a mount that is refused.
 */
TEST(start_failure_fails_command)
{
	char dir[] = "/tmp/gltest-bgfail.XXXXXX", mnt[64], out[2048];
	const char *why = gl_daemon_unavailable();
	int st;

	if (why)
		SKIP(return, "%s", why);
	if (!getenv("GPULEASED"))
		SKIP(return, "GPULEASED not set");
	ASSERT_EQ(gl_private_shm(), 0);
	ASSERT_EQ(mount(NULL, "/dev/shm", NULL, MS_REMOUNT | MS_RDONLY, NULL),
		  0);
	ASSERT_NE(mkdtemp(dir), NULL);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	ASSERT_EQ(mkdir(mnt, 0755), 0);
	st = run_daemon("", mnt, out, sizeof(out));
	EXPECT_NE(st, 0) TH_LOG("output: %s", out);
	EXPECT_NE(strstr(out, "cannot start the broker: Read-only file "
			      "system"), NULL) TH_LOG("output: %s", out);
	EXPECT_EQ(is_mounted(mnt), 0);
	/* a mount point that does not exist: refused */
	ASSERT_EQ(rmdir(mnt), 0);
	st = run_daemon("", mnt, out, sizeof(out));
	EXPECT_NE(st, 0) TH_LOG("output: %s", out);
	EXPECT_NE(strstr(out, "cannot mount"), NULL) TH_LOG("output: %s",
							    out);
	rmdir(dir);
}

/*
 * A syslog socket of our own at /dev/log: a private /dev (a tmpfs with
 * the nodes the daemon needs) in a private mount namespace.
 */
FIXTURE(bglog) {
	struct gl_daemon d;
	int sock;
};

static int make_node(const char *path, mode_t mode, unsigned maj,
		     unsigned min)
{
	if (mknod(path, S_IFCHR | mode, makedev(maj, min)))
		return -errno;
	return chmod(path, mode) ? -errno : 0;
}

FIXTURE_SETUP(bglog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *why = gl_daemon_unavailable();
	struct timeval tv = { 1, 0 };

	self->sock = -1;
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(gl_private_shm(), 0);
	ASSERT_EQ(mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755"), 0);
	ASSERT_EQ(make_node("/dev/null", 0666, 1, 3), 0);
	ASSERT_EQ(make_node("/dev/zero", 0666, 1, 5), 0);
	ASSERT_EQ(make_node("/dev/urandom", 0666, 1, 9), 0);
	ASSERT_EQ(make_node("/dev/fuse", 0666, 10, 229), 0);
	ASSERT_EQ(mkdir("/dev/shm", 01777), 0);
	ASSERT_EQ(mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
			"mode=1777,size=64m"), 0);
	self->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(self->sock, 0);
	strcpy(sa.sun_path, "/dev/log");
	ASSERT_EQ(bind(self->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(chmod("/dev/log", 0666), 0);
	ASSERT_EQ(setsockopt(self->sock, SOL_SOCKET, SO_RCVTIMEO, &tv,
			     sizeof(tv)), 0);
}

FIXTURE_TEARDOWN(bglog)
{
	GL_DAEMON_TEARDOWN(&self->d);
	if (self->sock >= 0)
		close(self->sock);
}

/* Read datagrams (bounded) until one starts with @prefix and contains
 * @want: 1 if one came, else 0. */
static int syslog_expect(int sock, const struct gl_daemon *d,
			 const char *prefix, const char *want)
{
	long long deadline = gl_now_ms() + gl_scale_ms(d, 10000);
	char buf[1024];
	ssize_t n;

	while (gl_now_ms() < deadline) {
		n = recv(sock, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		TH_LOG("syslog: %s", buf);
		if (!strncmp(buf, prefix, strlen(prefix)) && strstr(buf, want))
			return 1;
	}
	return 0;
}

TEST_F(bglog, lines_reach_syslog)
{
	static const char *const log_args[] = { "--log", "syslog", NULL };
	struct gl_daemon *d = &self->d;
	char want[64];

	ASSERT_EQ(gl_daemon_start_bg(d, log_args), 0);
	/* facility daemon (3), priority info (6): <30>; ident[pid] */
	snprintf(want, sizeof(want), "gpuleased[%d]: serving ", (int)d->pid);
	EXPECT_TRUE(syslog_expect(self->sock, d, "<30>", want))
		TH_LOG("no '<30>...%s' line at /dev/log", want);
	/* a client's error goes there too (warning: <28>), with its lease */
	ASSERT_EQ(lease_create(d, "s"), 0);
	EXPECT_EQ(lease_write(d, "s", "ctl", "bogus\n"), -EINVAL);
	EXPECT_TRUE(syslog_expect(self->sock, d, "<28>", "lease s: EINVAL"))
		TH_LOG("no 'lease s: EINVAL' line at /dev/log");
	EXPECT_EQ(lease_remove(d, "s"), 0);
}

TEST_HARNESS_MAIN
