/* SPDX-License-Identifier: MIT */
/*
 * launch_cancel.c - runaway work never holds a lease's memory or a
 * writer: rmdir, a bound file's close and a signal to a blocked writer
 * cancel the running launch (ECANCELED, memory back when rmdir returns),
 * and the launch queue of a lease is bounded (EAGAIN at exactly
 * queue_max + 1).
 *
 * The running launch is SPIN: one attention block doing 2^34 multiply-
 * adds on one thread, tens of seconds of work that no test waits out.
 * Old code let it run to its natural end (status 0) or its timeout
 * (ETIMEDOUT); only a cancellation gives ECANCELED, so the status tells,
 * with no clock in any assertion.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/launch.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

FIXTURE(cancel) {
	struct gl_daemon d;
};

FIXTURE_SETUP(cancel)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(cancel)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

struct lease_ref {
	const struct gl_daemon *d;
	const char *name;
};

static int is_running(void *arg)
{
	struct lease_ref *r = arg;
	long long v;

	return !lease_read_key(r->d, r->name, "running", &v) && v == 1;
}

/* Wait until a launch of @name runs (no deadline that a slow machine
 * could miss: the harness's timeout ends a test that never gets there). */
static int wait_running(const struct gl_daemon *d, const char *name)
{
	struct lease_ref r = { d, name };

	return gl_wait_until(is_running, &r, gl_scale_ms(d, 30000));
}

/* Submit SPIN with @timeout_ms through a new O_NONBLOCK submit file. */
static int spin_nonblock(const struct gl_daemon *d, const char *name,
			 unsigned timeout_ms)
{
	char line[512];
	int fd, n;

	fd = lease_open(d, name, "submit", O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return fd;
	n = snprintf(line, sizeof(line), SPIN " timeout_ms=%u", timeout_ms);
	if (write(fd, line, n) != n) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

/* The status of the first completion line readable from @fd now. */
static int first_status(int fd, int *status)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return n < 0 ? -errno : -ENODATA;
	buf[n] = '\0';
	return sscanf(buf, "seq=%*u status=%d", status) == 1 ? 0 : -EINVAL;
}

struct dev_ref {
	const struct gl_daemon *d;
};

static int vram_unused(void *arg)
{
	return dev_read_u64(((struct dev_ref *)arg)->d, 0, "vram.used") == 0;
}

/* Count the completion lines readable from @fd now, and how many have
 * @status. */
static int count_lines(int fd, int status, int *with)
{
	static char buf[GL_LAUNCH_QUEUE_MAX * 128];
	char *p = buf, *nl;
	int n = 0;
	ssize_t r;

	while ((r = read(fd, p, buf + sizeof(buf) - 1 - p)) > 0)
		p += r;
	*p = '\0';
	*with = 0;
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		int s;

		if (sscanf(p, "seq=%*u status=%d", &s) != 1)
			break;
		n++;
		*with += s == status;
	}
	return n;
}

/*
 * rmdir of a lease whose launch has timeout_ms=30000 cancels the launch:
 * when rmdir returns the memory is free and the launch has completed
 * with ECANCELED (it would have run for tens of seconds).
 */
TEST_F(cancel, rmdir_cancels_running)
{
	struct gl_daemon *d = &self->d;
	int fd, status = 0;

	ASSERT_EQ(lease_sized(d, "r", SPIN_VRAM), 0);
	fd = spin_nonblock(d, "r", 30000);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_running(d, "r"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), SPIN_VRAM);
	EXPECT_EQ(lease_remove(d, "r"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	/* complete before rmdir returned: a non-blocking read has it */
	ASSERT_EQ(first_status(fd, &status), 0);
	EXPECT_EQ(status, -ECANCELED) TH_LOG("the running launch was not "
					     "cancelled by rmdir");
	close(fd);
}

/* Closing the file a lease is bound to drops it the same way: the
 * running launch is cancelled and the memory comes back. */
TEST_F(cancel, bind_release_cancels_running)
{
	struct gl_daemon *d = &self->d;
	int ctl, fd, status = 0;
	long long fails = -1;

	ASSERT_EQ(lease_sized(d, "b", SPIN_VRAM), 0);
	ctl = lease_open(d, "b", "ctl", O_RDWR);
	ASSERT_GE(ctl, 0);
	ASSERT_EQ(write(ctl, "bind\n", 5), 5);
	fd = spin_nonblock(d, "b", 600000);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_running(d, "b"), 0);
	close(ctl);
	/* the release is asynchronous: wait for its end, then look */
	ASSERT_EQ(gl_wait_gone(d, "b", 30000), 0);
	ASSERT_EQ(gl_wait_until(vram_unused, &(struct dev_ref){ d },
				gl_scale_ms(d, 30000)), 0);
	ASSERT_EQ(first_status(fd, &status), 0);
	EXPECT_EQ(status, -ECANCELED);
	ASSERT_EQ(gl_read_key(d, "kernels/attn_scores", "failures", &fails),
		  0);
	EXPECT_EQ(fails, 1);
	close(fd);
}

/*
 * The bound counts launches queued or running: with SPIN running,
 * queue_max - 1 more are accepted and the next is EAGAIN, through the
 * same file and through another; ctl shows the bound. rmdir then fails
 * every one with ECANCELED.
 */
TEST_F(cancel, queue_bound_eagain)
{
	struct gl_daemon *d = &self->d;
	long long max = 0, queued = 0;
	char buf[256];
	int fd, fd2, i, cancelled = 0;

	ASSERT_EQ(lease_sized(d, "q", SPIN_VRAM), 0);
	ASSERT_EQ(lease_read_key(d, "q", "queue_max", &max), 0);
	EXPECT_EQ(max, GL_LAUNCH_QUEUE_MAX);
	fd = spin_nonblock(d, "q", 600000);
	ASSERT_GE(fd, 0);
	for (i = 1; i < max; i++)
		ASSERT_EQ(write(fd, "noop grid=1", 11), 11) TH_LOG("launch %d: "
			"%s", i + 1, strerror(errno));
	EXPECT_EQ(write(fd, "noop grid=1", 11), -1);
	EXPECT_EQ(errno, EAGAIN);
	fd2 = lease_open(d, "q", "submit", O_RDWR | O_NONBLOCK);
	ASSERT_GE(fd2, 0);
	EXPECT_EQ(write(fd2, "noop grid=1", 11), -1);
	EXPECT_EQ(errno, EAGAIN);
	close(fd2);
	EXPECT_EQ(lease_write(d, "q", "submit", "noop grid=1"), -EAGAIN);
	ASSERT_EQ(lease_read_key(d, "q", "queued", &queued), 0);
	EXPECT_EQ(queued + 1, max);
	ASSERT_EQ(lease_read_key_str(d, "q", "last_error", buf, sizeof(buf)),
		  0);
	EXPECT_EQ(strncmp(buf, "EAGAIN", 6), 0) TH_LOG("%s", buf);
	EXPECT_EQ(lease_remove(d, "q"), 0);
	/* every accepted launch completed, all cancelled */
	EXPECT_EQ(count_lines(fd, -ECANCELED, &cancelled), max);
	EXPECT_EQ(cancelled, max);
	close(fd);
}

static void on_sigint(int sig)
{
	(void)sig;
}

/*
 * SIGINT to a writer blocked in submit (Ctrl-C): FUSE's INTERRUPT
 * reaches the daemon, the launch is cancelled and the write fails with
 * EINTR. The lease goes on serving.
 */
TEST_F(cancel, sigint_interrupts_blocking_write)
{
	struct gl_daemon *d = &self->d;
	char buf[256];
	long long fails = -1, launches = -1;
	pid_t pid;
	int st;

	ASSERT_EQ(lease_sized(d, "i", SPIN_VRAM), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct sigaction sa = { .sa_handler = on_sigint };
		int err;

		sigemptyset(&sa.sa_mask);	/* no SA_RESTART */
		sigaction(SIGINT, &sa, NULL);
		err = lease_write(d, "i", "submit", SPIN " timeout_ms=600000");
		_exit(err == -EINTR ? 0 : err ? 1 : 2);
	}
	ASSERT_EQ(wait_running(d, "i"), 0);
	ASSERT_EQ(kill(pid, SIGINT), 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0) TH_LOG("the write did not end with "
		"EINTR (2: it ran to its end)");
	ASSERT_EQ(lease_read_key(d, "i", "launches", &launches), 0);
	EXPECT_EQ(launches, 1);
	ASSERT_EQ(lease_read_key(d, "i", "running", &fails), 0);
	EXPECT_EQ(fails, 0);
	ASSERT_EQ(lease_read_key_str(d, "i", "last_error", buf, sizeof(buf)),
		  0);
	EXPECT_EQ(strncmp(buf, "ECANCELED", 9), 0) TH_LOG("%s", buf);
	ASSERT_EQ(gl_read_key(d, "kernels/attn_scores", "failures", &fails),
		  0);
	EXPECT_EQ(fails, 1);
	EXPECT_EQ(lease_write(d, "i", "submit", "noop grid=1"), 0);
}

TEST_HARNESS_MAIN
