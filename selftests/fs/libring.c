/* SPDX-License-Identifier: MIT */
/*
 * libring.c - libgpulease's ring API (tools/lib/ring.c, gl_ring(3))
 * against a live daemon: setup and open (a missing region, a bad header),
 * every entry type through the prep helpers with results equal to the
 * same work through vram, a full SQ submitted with one gl_ring_submit(),
 * wait with a timeout, a failing entry, a ring whose lease is dropped
 * reported DEAD to a waiter that sleeps, and a daemon killed under a
 * sleeping waiter reported as -ENOTCONN.
 * Linked with libgpulease.a (tools/tools.mk).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "tools/lib/gpulease.h"
#include "selftests/fs/fuse_steal.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

FIXTURE(libring) {
	struct gl_daemon d;
	struct gl *g;
	struct gl_ring *r;
};

FIXTURE_SETUP(libring)
{
	self->g = NULL;
	self->r = NULL;
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	ASSERT_EQ(gl_lease_acquire(self->g, "lr", 1 << 20, 0, -1, 0), 0);
	ASSERT_EQ(gl_ring_setup(self->g, "lr", 1 << 20), 0);
	ASSERT_EQ(gl_ring_open(self->g, "lr", &self->r), 0);
}

FIXTURE_TEARDOWN(libring)
{
	gl_ring_close(self->r);
	gl_close(self->g);
	GL_DAEMON_TEARDOWN(&self->d);
}

/* Take one completion; its status, or the wait's -errno. */
static int take(struct gl_ring *r, uint64_t *ud)
{
	struct gl_cqe *cqe;
	int err, st;

	err = gl_ring_wait_cqe(r, &cqe, 5000);
	if (err)
		return err;
	st = cqe->status;
	if (ud)
		*ud = cqe->user_data;
	gl_ring_cqe_seen(r, cqe);
	return st;
}

TEST_F(libring, setup_open_and_bad_header)
{
	struct gl_ring *r2 = NULL;
	size_t size = 0;
	uint32_t *magic;
	int fd;

	EXPECT_NE(gl_ring_data(self->r, &size), NULL);
	EXPECT_GT(size, 512u * 1024);
	EXPECT_LT(size, 1u << 20);
	/* a lease without a region */
	ASSERT_EQ(gl_lease_acquire(self->g, "bare", 0, 0, -1, 0), 0);
	EXPECT_EQ(gl_ring_open(self->g, "bare", &r2), -ENOENT);
	EXPECT_EQ(r2, NULL);
	EXPECT_EQ(gl_ring_open(self->g, "nosuch", &r2), -ENOENT);
	EXPECT_EQ(gl_ring_setup(self->g, "bare", 1000), -EINVAL);
	/* a header that is not a ring: -EINVAL, and no mapping leaks */
	fd = gl_lease_openat(self->g, "lr", "io", O_RDWR);
	ASSERT_GE(fd, 0);
	magic = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(magic, MAP_FAILED);
	*magic ^= 1;
	EXPECT_EQ(gl_ring_open(self->g, "lr", &r2), -EINVAL);
	*magic ^= 1;
	EXPECT_EQ(gl_ring_open(self->g, "lr", &r2), 0);
	gl_ring_close(r2);
	munmap(magic, 4096);
}

/* Copy in, scale in vram, copy out: equal to the same through vram. */
TEST_F(libring, every_entry_type_round_trips)
{
	struct gl_ring *r = self->r;
	struct gl_launch_desc d;
	float *x = gl_ring_data(r, NULL), want[256];
	uint64_t ud = 0;
	int i;

	gl_ring_prep_nop(gl_ring_get_sqe(r), 7);
	ASSERT_EQ(gl_ring_submit(r), 1);
	EXPECT_EQ(take(r, &ud), 0);
	EXPECT_EQ(ud, 7u);

	for (i = 0; i < 256; i++)
		x[i] = (float)i - 100.0f;
	ASSERT_EQ(gl_launch_init(&d, "scale", 1, 256), 0);
	ASSERT_EQ(gl_launch_arg(&d, GL_ARG_U32, 256, 0), 0);
	ASSERT_EQ(gl_launch_arg_f32(&d, 3.0f), 0);
	ASSERT_EQ(gl_launch_arg(&d, GL_ARG_BUF, 4096, 1024), 0);
	ASSERT_EQ(gl_launch_arg(&d, GL_ARG_BUF, 4096, 1024), 0);
	memcpy((char *)x + 65536, &d, GL_LAUNCH_DESC_SIZE(d.nargs));
	gl_ring_prep_copy_in(gl_ring_get_sqe(r), 4096, 0, 1024, 1);
	gl_ring_prep_launch(gl_ring_get_sqe(r), 65536,
			    (uint32_t)GL_LAUNCH_DESC_SIZE(d.nargs), 2);
	ASSERT_EQ(gl_ring_submit(r), 2);
	EXPECT_EQ(take(r, &ud), 0);
	EXPECT_EQ(ud, 1u);
	EXPECT_EQ(take(r, &ud), 0);
	EXPECT_EQ(ud, 2u);
	/* after the launch's completion: a copy does not wait for it */
	gl_ring_prep_copy_out(gl_ring_get_sqe(r), 8192, 4096, 1024, 3);
	ASSERT_EQ(gl_ring_submit(r), 1);
	EXPECT_EQ(take(r, &ud), 0);
	EXPECT_EQ(ud, 3u);
	ASSERT_EQ(gl_vram_pread(self->g, "lr", want, sizeof(want), 4096),
		  (ssize_t)sizeof(want));
	EXPECT_EQ(memcmp((char *)x + 8192, want, sizeof(want)), 0);
	for (i = 0; i < 256; i++)
		EXPECT_EQ(want[i], 3.0f * ((float)i - 100.0f))
			TH_LOG("i %d", i);
}

/* Fill the whole SQ, publish it with one call, every entry completes. */
TEST_F(libring, full_sq_in_one_submit)
{
	struct gl_ring *r = self->r;
	struct gl_sqe *sqe;
	uint64_t ud = 0;
	int n = 0, i;

	while ((sqe = gl_ring_get_sqe(r)))
		gl_ring_prep_nop(sqe, (uint64_t)n++);
	ASSERT_GE(n, 16);
	EXPECT_EQ(n & (n - 1), 0) TH_LOG("%d entries: not the SQ size", n);
	EXPECT_EQ(gl_ring_submit(r), n);
	EXPECT_EQ(gl_ring_submit(r), 0);	/* nothing new */
	for (i = 0; i < n; i++) {
		ASSERT_EQ(take(r, &ud), 0) TH_LOG("entry %d", i);
		EXPECT_EQ(ud, (uint64_t)i);
	}
	/* room again; several rounds wrap the indices */
	for (i = 0; i < 3 * n; i++) {
		gl_ring_prep_nop(gl_ring_get_sqe(r), 1);
		ASSERT_EQ(gl_ring_submit(r), 1);
		ASSERT_EQ(take(r, NULL), 0);
	}
}

TEST_F(libring, wait_times_out_and_bad_entries_fail_alone)
{
	struct gl_ring *r = self->r;
	struct gl_cqe *cqe;
	size_t size;

	EXPECT_EQ(gl_ring_peek_cqe(r, &cqe), -EAGAIN);
	EXPECT_EQ(gl_ring_wait_cqe(r, &cqe, 0), -ETIMEDOUT);
	EXPECT_EQ(gl_ring_wait_cqe(r, &cqe, 100), -ETIMEDOUT);
	gl_ring_data(r, &size);
	gl_ring_prep_copy_in(gl_ring_get_sqe(r), (1 << 20) - 8, 0, 16, 1);
	gl_ring_prep_copy_out(gl_ring_get_sqe(r), size - 8, 0, 16, 2);
	gl_ring_prep_launch(gl_ring_get_sqe(r), 0, 7, 3);
	gl_ring_prep_nop(gl_ring_get_sqe(r), 4);
	ASSERT_EQ(gl_ring_submit(r), 4);
	EXPECT_EQ(take(r, NULL), -EFAULT);
	EXPECT_EQ(take(r, NULL), -EFAULT);
	EXPECT_EQ(take(r, NULL), -EINVAL);
	EXPECT_EQ(take(r, NULL), 0);
	EXPECT_EQ(gl_ring_peek_cqe(r, &cqe), -EAGAIN);
}

struct waiter {
	struct gl_ring *r;
	int err;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;
	struct gl_cqe *cqe;

	/* far past the drop below: only a wake-up ends it in time */
	w->err = gl_ring_wait_cqe(w->r, &cqe, 60000);
	return NULL;
}

static void *wait_forever_main(void *arg)
{
	struct waiter *w = arg;
	struct gl_cqe *cqe;

	w->err = gl_ring_wait_cqe(w->r, &cqe, -1);
	return NULL;
}

/* A waiter asleep on the CQ learns from the header that the lease went. */
TEST_F(libring, dead_after_rmdir_wakes_the_waiter)
{
	struct waiter w = { .r = self->r, .err = 1 };
	struct gl_cqe *cqe;
	long long t0;
	pthread_t t;

	ASSERT_EQ(pthread_create(&t, NULL, wait_main, &w), 0);
	usleep(100 * 1000);	/* let it reach FUTEX_WAIT (either way ok) */
	t0 = gl_now_ms();
	EXPECT_EQ(gl_lease_drop(self->g, "lr"), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(w.err, -EKEYEXPIRED);
	EXPECT_LT(gl_now_ms() - t0, 30000);
	EXPECT_EQ(gl_ring_peek_cqe(self->r, &cqe), -EKEYEXPIRED);
	gl_ring_prep_nop(gl_ring_get_sqe(self->r), 1);
	EXPECT_EQ(gl_ring_submit(self->r), -EKEYEXPIRED);
	EXPECT_EQ(gl_ring_open(self->g, "lr", &w.r), -ENOENT);
}

/*
 * kill -9 of the daemon sets no flag, and while someone else holds the
 * FUSE device (a supervisor) its file system does not answer ENOTCONN
 * either, it just never answers. A waiter blocked without a limit still
 * wakes up, with -ENOTCONN, and so does everything after it.
 */
TEST_F(libring, daemon_killed_under_a_waiter)
{
	struct waiter w = { .r = self->r, .err = 1 };
	struct gl_cqe *cqe;
	pthread_t t;
	int fuse;

	fuse = steal_fuse_fd(self->d.pid);
	if (fuse < 0)
		SKIP(return, "no copy of the daemon's /dev/fuse: %s",
		     strerror(-fuse));
	ASSERT_EQ(pthread_create(&t, NULL, wait_forever_main, &w), 0);
	usleep(100 * 1000);	/* let it sleep (either way ok) */
	ASSERT_EQ(kill(self->d.pid, SIGKILL), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(w.err, -ENOTCONN);
	EXPECT_EQ(gl_ring_peek_cqe(self->r, &cqe), -ENOTCONN);
	gl_ring_prep_nop(gl_ring_get_sqe(self->r), 1);
	EXPECT_EQ(gl_ring_submit(self->r), -ENOTCONN);
	close(fuse);	/* the connection goes: the mount can go */
	EXPECT_EQ(gl_daemon_stop(&self->d, 0), 128 + SIGKILL);
}

TEST_HARNESS_MAIN
