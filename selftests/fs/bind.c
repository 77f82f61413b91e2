/* SPDX-License-Identifier: MIT */
/*
 * bind.c - "bind" ties a lease to the open ctl file description it was
 * written through: closing it (or the death of its process, even by
 * SIGKILL) drops the lease and frees its memory; "unbind" unties it;
 * "acquire ... bind" on leases/ctl ties new leases to that open file.
 * Drops arrive with the FUSE release, so they are polled for, bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)
#define DROP_MS 10000	/* bound for a drop on close to show */
#define SETTLE_MS 300	/* time given to a drop that must not happen */

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(bind) {
	struct gl_daemon d;
};

FIXTURE_SETUP(bind)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(bind)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

static void settle(void)
{
	usleep(SETTLE_MS * 1000);
}

static int mem_free(void *arg)
{
	return dev_read_u64(arg, 0, "vram.used") == 0;
}

static int exists(const struct gl_daemon *d, const char *name)
{
	struct stat st;

	return !stat(gl_path(d, "leases/%s", name), &st);
}

static int bind_fd(const struct gl_daemon *d, const char *name)
{
	int fd = lease_open(d, name, "ctl", O_RDWR);

	if (fd < 0)
		return fd;
	if (write(fd, "bind\n", 5) != 5) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

TEST_F(bind, close_drops)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;
	int fd;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	ASSERT_EQ(lease_write(d, "b1", "ctl", "vram 4M\n"), 0);
	fd = bind_fd(d, "b1");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(lease_read_key(d, "b1", "bound", &v), 0);
	EXPECT_EQ(v, 1);
	ASSERT_EQ(close(fd), 0);
	ASSERT_EQ(gl_wait_gone(d, "b1", DROP_MS), 0)
		TH_LOG("lease b1 still there after its bound fd closed");
	EXPECT_EQ(gl_wait_until(mem_free, d, DROP_MS), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
	/* The name is free again. */
	EXPECT_EQ(lease_create(d, "b1"), 0);
}

TEST_F(bind, other_fd_close_keeps)
{
	struct gl_daemon *d = &self->d;
	char buf[512];
	int fd, other;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	fd = bind_fd(d, "b1");
	ASSERT_GE(fd, 0);
	other = lease_open(d, "b1", "ctl", O_RDWR);
	ASSERT_GE(other, 0);
	EXPECT_GT(read(other, buf, sizeof(buf)), 0);
	close(other);
	EXPECT_GT(lease_read(d, "b1", "ctl", buf, sizeof(buf)), 0);
	settle();
	EXPECT_TRUE(exists(d, "b1"));
	close(fd);
	EXPECT_EQ(gl_wait_gone(d, "b1", DROP_MS), 0);
}

TEST_F(bind, unbind_keeps)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;
	int fd;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	ASSERT_EQ(lease_write(d, "b1", "ctl", "vram 1M\n"), 0);
	fd = bind_fd(d, "b1");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "unbind\n", 7), 7);
	ASSERT_EQ(lease_read_key(d, "b1", "bound", &v), 0);
	EXPECT_EQ(v, 0);
	close(fd);
	settle();
	EXPECT_TRUE(exists(d, "b1"));
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
	ASSERT_EQ(lease_read_key(d, "b1", "bound", &v), 0);
	EXPECT_EQ(v, 0);
	EXPECT_EQ(lease_remove(d, "b1"), 0);
}

/* A forked child shares the open file: its exit does not drop. */
TEST_F(bind, shared_description_held)
{
	struct gl_daemon *d = &self->d;
	int fd, status;
	pid_t pid;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	fd = bind_fd(d, "b1");
	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	settle();
	EXPECT_TRUE(exists(d, "b1"));
	close(fd);
	EXPECT_EQ(gl_wait_gone(d, "b1", DROP_MS), 0);
}

/* Bind in a child, then SIGKILL it: the kernel closes, the lease drops. */
static pid_t bound_child(const struct gl_daemon *d, const char *ctl_rel,
			 const char *line)
{
	int pfd[2], fd;
	char ok = 0;
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(pfd[0]);
		fd = open(gl_path(d, "%s", ctl_rel), O_RDWR);
		if (fd >= 0 && write(fd, line, strlen(line)) ==
			       (ssize_t)strlen(line))
			ok = 1;
		if (write(pfd[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) != 1)
		ok = 0;
	close(pfd[0]);
	if (!ok) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -EIO;
	}
	return pid;
}

TEST_F(bind, sigkill_drops)
{
	struct gl_daemon *d = &self->d;
	int status;
	pid_t pid;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	ASSERT_EQ(lease_write(d, "b1", "ctl", "vram 8M\n"), 0);
	pid = bound_child(d, "leases/b1/ctl", "bind\n");
	ASSERT_GT(pid, 0);
	settle();
	EXPECT_TRUE(exists(d, "b1"));
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(gl_wait_gone(d, "b1", DROP_MS), 0)
		TH_LOG("lease b1 survived its bound holder's SIGKILL");
	EXPECT_EQ(gl_wait_until(mem_free, d, DROP_MS), 0);
}

TEST_F(bind, acquire_bind_close_drops_all)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;
	int fd;

	fd = open(gl_path(d, "leases/ctl"), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "acquire a1 vram=1M bind\n", 24), 24);
	ASSERT_EQ(write(fd, "acquire a2 vram=2M ttl=60 bind\n", 31), 31);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire keep vram=1M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 4 * MiB);
	ASSERT_EQ(lease_read_key(d, "a1", "bound", &v), 0);
	EXPECT_EQ(v, 1);
	ASSERT_EQ(lease_read_key(d, "keep", "bound", &v), 0);
	EXPECT_EQ(v, 0);
	settle();
	EXPECT_TRUE(exists(d, "a1"));
	close(fd);
	EXPECT_EQ(gl_wait_gone(d, "a1", DROP_MS), 0);
	EXPECT_EQ(gl_wait_gone(d, "a2", DROP_MS), 0);
	EXPECT_TRUE(exists(d, "keep"));
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
}

TEST_F(bind, acquire_bind_sigkill_drops)
{
	struct gl_daemon *d = &self->d;
	pid_t pid;

	pid = bound_child(d, "leases/ctl", "acquire k1 vram=2M bind\n");
	ASSERT_GT(pid, 0);
	EXPECT_TRUE(exists(d, "k1"));
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 2 * MiB);
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	EXPECT_EQ(gl_wait_gone(d, "k1", DROP_MS), 0);
	EXPECT_EQ(gl_wait_until(mem_free, d, DROP_MS), 0);
}

/* rmdir of a bound lease works; the later close is harmless. */
TEST_F(bind, rmdir_bound_then_close)
{
	struct gl_daemon *d = &self->d;
	int fd;

	ASSERT_EQ(lease_create(d, "b1"), 0);
	ASSERT_EQ(lease_write(d, "b1", "ctl", "vram 1M\n"), 0);
	fd = bind_fd(d, "b1");
	ASSERT_GE(fd, 0);
	EXPECT_EQ(lease_remove(d, "b1"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	/* A new lease of the same name must not die with the old fd. */
	ASSERT_EQ(lease_create(d, "b1"), 0);
	close(fd);
	settle();
	EXPECT_TRUE(exists(d, "b1"));
}

TEST_HARNESS_MAIN
