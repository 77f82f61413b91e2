/* SPDX-License-Identifier: MIT */
/*
 * launch_inline.c - a small launch of an idle lease runs on the thread
 * that received it (the ring poller, the FUSE thread of a blocking write
 * to submit), and keeps every rule of a queued one: rmdir, expiry, the
 * watchdog and a signal stop it; it never overtakes a launch of its lease
 * that is queued or running on an executor.
 *
 * SPIN is one attention block of 2^34 multiply-adds on one thread (a
 * single element: inline whenever the lease is idle), tens of seconds of
 * work no test waits out. Its status says who ended it (ECANCELED,
 * EKEYEXPIRED, ETIMEDOUT), but a launch that ignored the cancel flag
 * and ran to its end gets the same status: the last score it would
 * write keeps a sentinel only when it really stopped early (q and k are
 * zero, so every score it writes is 0). gpulease_launch_inline_total
 * tells that a launch ran inline. No clock in any assertion: waits are
 * bounded only against a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftests/fs/tring.h"
#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/launch.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

#define MiB (1024ULL * 1024)
#define DESC_AT	(512 * 1024)	/* descriptors in the ring's data area */
#define OUT_AT	(1024 * 1024)	/* a ring SPIN's scores, io:OUT_AT:16M */
#define OUT_LEN	(16 * 1024 * 1024)
#define SENTINEL 0x7fc0dead	/* a NaN no kernel computes */

FIXTURE(inl) {
	struct gl_daemon d;
	struct tring r;
};

FIXTURE_SETUP(inl)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "x"), 0);
	ASSERT_EQ(lease_write(&self->d, "x", "ctl", "vram %lld\n", SPIN_VRAM),
		  0);
	ASSERT_EQ(lease_write(&self->d, "x", "ctl", "io 20M\n"), 0);
	ASSERT_EQ(tring_open(&self->d, "x", &self->r), 0);
}

FIXTURE_TEARDOWN(inl)
{
	tring_close(&self->r);
	GL_DAEMON_TEARDOWN(&self->d);
}

static long long inline_total(const struct gl_daemon *d)
{
	long long v = -1;

	gl_read_key(d, "metrics", "gpulease_launch_inline_total", &v);
	return v;
}

struct lease_key {
	const struct gl_daemon *d;
	const char *key;
	long long want;
	pid_t child;		/* > 0: give up once it exited */
};

static int key_is(void *arg)
{
	struct lease_key *k = arg;
	siginfo_t si = { 0 };
	long long v;

	if (k->child > 0 &&
	    !waitid(P_PID, (id_t)k->child, &si, WEXITED | WNOHANG | WNOWAIT) &&
	    si.si_pid == k->child)
		return 1;
	return !lease_read_key(k->d, "x", k->key, &v) && v == k->want;
}

/* Wait until ctl of lease x shows @key @want, or @child exits. */
static int wait_key(const struct gl_daemon *d, const char *key,
		    long long want, pid_t child)
{
	struct lease_key k = { d, key, want, child };
	long long v;

	if (gl_wait_until(key_is, &k, gl_scale_ms(d, 30000)))
		return -ETIMEDOUT;
	return !lease_read_key(d, "x", key, &v) && v == want ? 0 : -ECHILD;
}

static void put_u32(struct gl_launch_arg *a, uint32_t v)
{
	a->type = GL_ARG_U32;
	a->value = v;
}

static void put_buf(struct gl_launch_arg *a, uint64_t off, uint64_t len)
{
	a->type = GL_ARG_BUF;
	a->value = off;
	a->len = len;
}

/* SPIN as a binary descriptor at DESC_AT; returns its SQE. */
static struct gl_sqe spin_sqe(struct tring *r, uint32_t timeout_ms,
			      uint64_t ud)
{
	struct gl_launch_desc *b = (void *)(r->data + DESC_AT);
	static const uint32_t u[7] = { 2048, 2048, 1, 1, 4096, 0, 0 };
	int i;

	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	b->nargs = 11;
	strcpy(b->kernel, "attn_scores");
	b->grid[0] = b->grid[1] = b->grid[2] = 1;
	b->block[0] = b->block[1] = b->block[2] = 1;
	b->timeout_ms = timeout_ms;
	for (i = 0; i < 7; i++)
		put_u32(&b->args[i], u[i]);
	b->args[7].type = GL_ARG_F32;
	b->args[7].value = 0x3f800000;	/* 1.0f */
	put_buf(&b->args[8], 0, 32 * MiB);
	put_buf(&b->args[9], 32 * MiB, 32 * MiB);
	b->args[10].type = GL_ARG_IO;	/* readable after rmdir */
	b->args[10].value = OUT_AT;
	b->args[10].len = OUT_LEN;
	return sqe_of(GL_OP_LAUNCH, 0, DESC_AT, GL_LAUNCH_DESC_SIZE(11), ud);
}

/* noop grid=1 as a binary descriptor after SPIN's; returns its SQE. */
static struct gl_sqe noop_sqe(struct tring *r, uint64_t ud)
{
	struct gl_launch_desc *b = (void *)(r->data + DESC_AT + 4096);

	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	strcpy(b->kernel, "noop");
	b->grid[0] = b->grid[1] = b->grid[2] = 1;
	b->block[0] = b->block[1] = b->block[2] = 1;
	return sqe_of(GL_OP_LAUNCH, 0, DESC_AT + 4096, GL_LAUNCH_DESC_SIZE(0),
		      ud);
}

/* The last score of a ring SPIN: where it stops writing. */
static uint32_t *last_score(struct tring *r)
{
	return (uint32_t *)(r->data + OUT_AT + OUT_LEN) - 1;
}

/* Start SPIN on the ring's poller and wait until it runs there. */
static int spin_on_poller(struct gl_daemon *d, struct tring *r,
			  uint32_t timeout_ms)
{
	long long before = inline_total(d);
	struct gl_sqe s = spin_sqe(r, timeout_ms, 7);
	int err;

	*last_score(r) = SENTINEL;
	err = tring_push(r, &s);
	if (!err)
		err = wait_key(d, "running", 1, 0);
	if (!err && inline_total(d) != before + 1)
		err = -ENOEXEC;	/* it went to an executor */
	return err;
}

static int vram_unused(void *arg)
{
	return dev_read_u64(arg, 0, "vram.used") == 0;
}

/* rmdir cancels a launch running on the poller: ECANCELED, memory free
 * when rmdir returns. */
TEST_F(inl, ring_inline_rmdir_cancels)
{
	struct gl_cqe c;

	ASSERT_EQ(spin_on_poller(&self->d, &self->r, 600000), 0);
	EXPECT_EQ(lease_remove(&self->d, "x"), 0);
	EXPECT_EQ(dev_read_u64(&self->d, 0, "vram.used"), 0);
	ASSERT_EQ(tring_pop(&self->r, &c, 0), 0);
	EXPECT_EQ(c.user_data, 7u);
	EXPECT_EQ(c.status, -ECANCELED) TH_LOG("rmdir did not cancel the "
					       "inline launch");
	EXPECT_EQ(*last_score(&self->r), SENTINEL) TH_LOG("it ran to its end");
}

/* Expiry cancels it as well, and the poller that ran it is stopped by
 * an executor, not by itself: EKEYEXPIRED, memory freed, lease expired. */
TEST_F(inl, ring_inline_expiry_cancels)
{
	struct gl_cqe c;

	ASSERT_EQ(spin_on_poller(&self->d, &self->r, 600000), 0);
	ASSERT_EQ(lease_write(&self->d, "x", "ctl", "ttl 1\n"), 0);
	ASSERT_EQ(tring_pop(&self->r, &c, gl_scale_ms(&self->d, 30000)), 0)
		TH_LOG("the inline launch never completed after expiry");
	EXPECT_EQ(c.status, -EKEYEXPIRED);
	EXPECT_EQ(*last_score(&self->r), SENTINEL) TH_LOG("it ran to its end");
	ASSERT_EQ(gl_wait_until(vram_unused, &self->d,
				gl_scale_ms(&self->d, 30000)), 0);
	EXPECT_EQ(lease_read_key_str(&self->d, "x", "state", (char[64]){ 0 },
				     64), -EKEYEXPIRED);
}

/* The watchdog stops an inline launch past its timeout_ms. */
TEST_F(inl, ring_inline_watchdog)
{
	long long before = inline_total(&self->d);
	struct gl_sqe s = spin_sqe(&self->r, 100, 8);
	struct gl_cqe c;

	*last_score(&self->r) = SENTINEL;
	ASSERT_EQ(tring_push(&self->r, &s), 0);
	ASSERT_EQ(tring_pop(&self->r, &c, gl_scale_ms(&self->d, 30000)), 0);
	EXPECT_EQ(c.status, -ETIMEDOUT);
	EXPECT_EQ(*last_score(&self->r), SENTINEL) TH_LOG("it ran to its end");
	EXPECT_EQ(inline_total(&self->d), before + 1);
}

/* Submit SPIN through a new O_NONBLOCK submit file: it is queued, and
 * an executor runs it. */
static int spin_nonblock(const struct gl_daemon *d)
{
	int fd = lease_open(d, "x", "submit", O_RDWR | O_NONBLOCK);
	int n = (int)strlen(SPIN " timeout_ms=600000");

	if (fd < 0)
		return fd;
	if (write(fd, SPIN " timeout_ms=600000", n) != n) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

/* A ring launch behind one running on an executor queues behind it (an
 * inline run would overtake it and complete with 0 at once), and rmdir
 * fails it with ECANCELED. */
TEST_F(inl, ring_launch_waits_for_executor)
{
	struct gl_sqe s = noop_sqe(&self->r, 9);
	long long before = inline_total(&self->d);
	struct gl_cqe c;
	int fd;

	fd = spin_nonblock(&self->d);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_key(&self->d, "running", 1, 0), 0);
	ASSERT_EQ(tring_push(&self->r, &s), 0);
	ASSERT_EQ(wait_key(&self->d, "queued", 1, 0), 0) TH_LOG("the ring "
		"launch did not queue behind the running one");
	EXPECT_EQ(tring_pop(&self->r, &c, 0), -ETIMEDOUT);
	EXPECT_EQ(lease_remove(&self->d, "x"), 0);
	ASSERT_EQ(tring_pop(&self->r, &c, 0), 0);
	EXPECT_EQ(c.user_data, 9u);
	EXPECT_EQ(c.status, -ECANCELED);
	EXPECT_EQ(inline_total(&self->d), before);
	close(fd);
}

/* The same through a blocking write to submit: the writer's launch
 * queues, its write fails with ECANCELED when rmdir cancels the queue. */
TEST_F(inl, submit_waits_for_executor)
{
	struct gl_daemon *d = &self->d;
	long long before = inline_total(d);
	pid_t pid;
	int fd, st;

	fd = spin_nonblock(d);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_key(d, "running", 1, 0), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int err = lease_write(d, "x", "submit", "noop grid=1");

		_exit(err == -ECANCELED ? 0 : err ? 1 : 2);
	}
	EXPECT_EQ(wait_key(d, "queued", 1, pid), 0) TH_LOG("the blocking "
		"write did not queue behind the running launch");
	EXPECT_EQ(lease_remove(d, "x"), 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0) TH_LOG("the write did not end with "
		"ECANCELED (2: it ran at once, overtaking the running one)");
	EXPECT_EQ(inline_total(d), before);
	close(fd);
}

static void on_sigint(int sig)
{
	(void)sig;
}

/* Read or write the last score of SPIN through submit (buf:64M:16M),
 * past any page cache of vram. */
static int vram_last(const struct gl_daemon *d, uint32_t *v, bool write)
{
	int fd = lease_open(d, "x", "vram", O_RDWR);
	off_t off = SPIN_VRAM - (off_t)sizeof(*v);
	ssize_t n;

	if (fd < 0)
		return fd;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	n = write ? pwrite(fd, v, sizeof(*v), off) :
		    pread(fd, v, sizeof(*v), off);
	if (write)
		fsync(fd);
	close(fd);
	return n == sizeof(*v) ? 0 : -EIO;
}

/* A blocking write whose launch runs inline on the FUSE thread: SIGINT
 * cancels it and the write fails with EINTR; the lease serves on. */
TEST_F(inl, submit_inline_sigint)
{
	struct gl_daemon *d = &self->d;
	long long before = inline_total(d);
	uint32_t last = SENTINEL;
	pid_t pid;
	int st;

	ASSERT_EQ(vram_last(d, &last, true), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct sigaction sa = { .sa_handler = on_sigint };
		int err;

		sigemptyset(&sa.sa_mask);	/* no SA_RESTART */
		sigaction(SIGINT, &sa, NULL);
		err = lease_write(d, "x", "submit", SPIN " timeout_ms=600000");
		_exit(err == -EINTR ? 0 : err ? 1 : 2);
	}
	ASSERT_EQ(wait_key(d, "running", 1, pid), 0);
	EXPECT_EQ(inline_total(d), before + 1);
	ASSERT_EQ(kill(pid, SIGINT), 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0) TH_LOG("the write did not end with "
		"EINTR (2: it ran to its end)");
	last = 0;
	ASSERT_EQ(vram_last(d, &last, false), 0);
	EXPECT_EQ(last, SENTINEL) TH_LOG("it ran to its end");
	EXPECT_EQ(lease_write(d, "x", "submit", "noop grid=1"), 0);
}

TEST_HARNESS_MAIN
