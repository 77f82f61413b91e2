/* SPDX-License-Identifier: MIT */
/*
 * ring_hostile.c - a client that attacks its own io region cannot hurt
 * the daemon or anyone else: a ring truncated under the daemon turns
 * BROKEN and the daemon serves on; corrupt geometry and indices leave
 * expiry, rmdir and SIGTERM working; a broken ring's poller and one
 * behind a full CQ sleep (CPU and wake-ups read from /proc); `io SIZE`
 * replaces a live region; `io 0` racing a completion that is still being
 * posted (held there by the ring_complete_hold debug knob) is safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "selftests/fs/tring.h"
#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/launch.h"
#include "uapi/ring.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

#define POLLER		"gl-ring"	/* the daemon's poller threads */

FIXTURE(hostile) {
	struct gl_daemon d;
	struct tring r;
};

FIXTURE_SETUP(hostile)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "h"), 0);
	ASSERT_EQ(lease_write(&self->d, "h", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_write(&self->d, "h", "ctl", "io 64K\n"), 0);
	ASSERT_EQ(tring_open(&self->d, "h", &self->r), 0);
}

FIXTURE_TEARDOWN(hostile)
{
	tring_close(&self->r);
	/* exit 0 on SIGTERM: no poller is stuck */
	GL_DAEMON_TEARDOWN(&self->d);
}

/* A second lease gets a ring that round-trips a NOP: 0 or -errno. */
static int serve_another(const struct gl_daemon *d, const char *name)
{
	struct tring r = { 0 };
	struct gl_cqe c;
	int err;

	err = lease_create(d, name);
	if (!err)
		err = lease_write(d, name, "ctl", "io 64K\n");
	if (!err)
		err = tring_open(d, name, &r);
	if (!err)
		err = tring_push(&r, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						       .user_data = 42 });
	if (!err)
		err = tring_pop(&r, &c, gl_scale_ms(d, 5000));
	if (!err && (c.user_data != 42 || c.status))
		err = -EIO;
	tring_close(&r);
	return err;
}

struct last_error {
	const struct gl_daemon *d;
	const char *name, *what;
};

static int last_error_says(void *arg)
{
	struct last_error *le = arg;
	char buf[512];

	return !lease_read_key_str(le->d, le->name, "last_error", buf,
				   sizeof(buf)) && strstr(buf, le->what);
}

static int flag_set(void *arg)
{
	struct tring *r = arg;

	return !!(__atomic_load_n(&r->h->flags, __ATOMIC_SEQ_CST) &
		  (GL_RING_BROKEN | GL_RING_CQ_WAIT));
}

static int queues_full(void *arg)
{
	struct gl_ring_hdr *h = ((struct tring *)arg)->h;

	return h->cq_tail - h->cq_head == h->cq_entries &&
	       h->sq_tail - h->sq_head == h->sq_entries;
}

/* How often @flag read clear in @ms of reading the flags word. */
static long flag_clear_reads(const struct gl_ring_hdr *h, uint32_t flag,
			     int ms)
{
	long long end = gl_now_ms() + ms;
	long clear = 0;

	while (gl_now_ms() < end)
		for (int i = 0; i < 1000; i++)
			clear += !(__atomic_load_n(&h->flags,
						   __ATOMIC_SEQ_CST) & flag);
	return clear;
}

/* CPU ticks and context switches of the pollers over one second. */
static int poller_second(const struct gl_daemon *d, long long *ticks,
			 long long *wakes)
{
	long long t0, w0, t1, w1;
	int err;

	err = thread_usage(d->pid, POLLER, &t0, &w0);
	if (err)
		return err;
	sleep(1);
	err = thread_usage(d->pid, POLLER, &t1, &w1);
	*ticks = t1 - t0;
	*wakes = w1 - w0;
	return err;
}

/* ftruncate of a live ring: the daemon's next access (a kernel reading
 * an io: argument, the poller) gets anonymous pages, the ring turns
 * BROKEN, its poller sleeps, and everything else carries on. */
TEST_F(hostile, truncated_ring_breaks_alone)
{
	struct last_error le = { &self->d, "h", "truncated" };
	long long hz = sysconf(_SC_CLK_TCK), ticks, wakes;
	int fd;

	fd = lease_open(&self->d, "h", "io", O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, 0), 0);
	close(fd);
	/* (our own mapping of it would fault now: not touched again) */
	EXPECT_EQ(lease_write(&self->d, "h", "submit",
			      "scale grid=1 u32:256 f32:2 io:0:1024 "
			      "buf:0:1024"), 0);
	ASSERT_EQ(gl_wait_until(last_error_says, &le,
				gl_scale_ms(&self->d, 10000)), 0)
		TH_LOG("the daemon never saw the truncation");
	/* the only poller is the broken one's */
	ASSERT_EQ(poller_second(&self->d, &ticks, &wakes), 0);
	EXPECT_LT(ticks, hz / 10) TH_LOG("%lld ticks in 1 s", ticks);
	EXPECT_LT(wakes, 20) TH_LOG("%lld switches in 1 s", wakes);
	EXPECT_EQ(serve_another(&self->d, "other"), 0);
	EXPECT_EQ(lease_write(&self->d, "h", "ctl", "io 64K\n"), 0);
	EXPECT_EQ(lease_remove(&self->d, "h"), 0);
	EXPECT_EQ(dev_read_u64(&self->d, 0, "vram.used"), 64 << 10);
}

/* Geometry and indices rewritten by the client: the ring turns BROKEN at
 * once, its poller sleeps, and the lease still expires and goes. */
TEST_F(hostile, corrupt_geometry_does_not_hang)
{
	struct gl_ring_hdr *h = self->r.h;
	long long hz = sysconf(_SC_CLK_TCK), ticks, wakes;
	long long v;

	ASSERT_EQ(lease_write(&self->d, "h", "ctl", "ttl 2\n"), 0);
	h->sq_entries = h->cq_entries = 0xffffffffu;
	__atomic_store_n(&h->sq_tail, h->sq_head + 0x7fffffffu,
			 __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h->sq_futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	ASSERT_EQ(gl_wait_until(flag_set, &self->r,
				gl_scale_ms(&self->d, 10000)), 0);
	EXPECT_NE(h->flags & GL_RING_BROKEN, 0u);
	ASSERT_EQ(poller_second(&self->d, &ticks, &wakes), 0);
	EXPECT_LT(ticks, hz / 10) TH_LOG("%lld ticks in 1 s", ticks);
	EXPECT_LT(wakes, 20) TH_LOG("%lld switches in 1 s", wakes);
	/* expiry stops the poller: the write returns once it is done */
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "clock_offset 3\n"), 0);
	EXPECT_EQ(lease_read_key(&self->d, "h", "vram", &v), -EKEYEXPIRED);
	EXPECT_NE(h->flags & GL_RING_DEAD, 0u);
	EXPECT_EQ(lease_remove(&self->d, "h"), 0);
	EXPECT_EQ(serve_another(&self->d, "other"), 0);
}

/* A client that stops reading: the CQ fills, the poller waits on the
 * futex (CQ_WAIT) without waking, and resumes when the client reads. */
TEST_F(hostile, full_cq_poller_sleeps)
{
	struct tring *r = &self->r;
	struct gl_ring_hdr *h = r->h;
	unsigned n = h->cq_entries + h->sq_entries, i, pushed = 0;
	long long hz = sysconf(_SC_CLK_TCK), ticks, wakes;
	struct gl_cqe c;

	while (pushed < n) {
		struct gl_sqe s = sqe_of(GL_OP_NOP, 0, 0, 0, pushed);

		if (!tring_push(r, &s))
			pushed++;
		else
			usleep(1000);	/* the poller takes them */
	}
	/* the SQ is full behind a full CQ: nothing more can happen */
	ASSERT_EQ(gl_wait_until(queues_full, r, gl_scale_ms(&self->d, 10000)),
		  0);
	ASSERT_EQ(poller_second(&self->d, &ticks, &wakes), 0);
	EXPECT_LT(ticks, hz / 10) TH_LOG("%lld ticks in 1 s", ticks);
	EXPECT_LT(wakes, 20) TH_LOG("%lld switches in 1 s", wakes);
	/* and the flag stays up across the poller's timed wake-ups (one a
	 * second): a client reading it between two sleeps must wake it */
	EXPECT_EQ(flag_clear_reads(h, GL_RING_CQ_WAIT, 1500), 0);
	for (i = 0; i < pushed; i++) {
		ASSERT_EQ(tring_pop(r, &c, gl_scale_ms(&self->d, 5000)), 0)
			TH_LOG("entry %u", i);
		EXPECT_EQ(c.user_data, i);
	}
	EXPECT_EQ(h->flags & (GL_RING_BROKEN | GL_RING_CQ_WAIT), 0u);
}

/* `io SIZE` on a lease with a region replaces it: a new file, the old
 * one DEAD to its mappers and gone, the accounting moved. */
TEST_F(hostile, io_size_replaces_the_region)
{
	char old[256], now[256];
	struct tring r2 = { 0 };
	long long used;
	struct gl_cqe c;
	ssize_t n;

	n = readlink(gl_path(&self->d, "leases/h/io"), old, sizeof(old) - 1);
	ASSERT_GT(n, 0);
	old[n] = '\0';
	ASSERT_EQ(lease_write(&self->d, "h", "ctl", "io 128K\n"), 0);
	EXPECT_NE(self->r.h->flags & GL_RING_DEAD, 0u);
	EXPECT_EQ(access(old, F_OK), -1);
	n = readlink(gl_path(&self->d, "leases/h/io"), now, sizeof(now) - 1);
	ASSERT_GT(n, 0);
	now[n] = '\0';
	EXPECT_STRNE(old, now);
	ASSERT_EQ(lease_read_key(&self->d, "h", "used", &used), 0);
	EXPECT_EQ(used, 128 << 10);
	EXPECT_EQ(dev_read_u64(&self->d, 0, "vram.used"), (1 << 20) + (128 << 10));
	ASSERT_EQ(tring_open(&self->d, "h", &r2), 0);
	EXPECT_EQ(r2.h->size, 128u << 10);
	ASSERT_EQ(tring_push(&r2, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						     .user_data = 5 }), 0);
	ASSERT_EQ(tring_pop(&r2, &c, gl_scale_ms(&self->d, 5000)), 0);
	EXPECT_EQ(c.user_data, 5u);
	tring_close(&r2);
}

/* A launch's completion is posted by the launcher thread; the client
 * sees it and removes the region while that thread is still inside
 * ring_complete() (held there by the debug knob). The daemon must not
 * touch the unmapped header once it goes on. */
TEST_F(hostile, io_0_while_a_completion_is_posted)
{
	struct tring *r = &self->r;
	struct gl_launch_desc *b = (void *)r->data;
	struct gl_cqe c;

	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	strcpy(b->kernel, "noop");
	b->grid[0] = b->grid[1] = b->grid[2] = 1;
	b->block[0] = b->block[1] = b->block[2] = 1;
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl",
			       "ring_complete_hold 1\n"), 0);
	struct gl_sqe la = sqe_of(GL_OP_LAUNCH, 0, 0, GL_LAUNCH_DESC_SIZE(0),
				  1);
	ASSERT_EQ(tring_push(r, &la), 0);
	ASSERT_EQ(tring_pop(r, &c, gl_scale_ms(&self->d, 5000)), 0);
	EXPECT_EQ(c.status, 0);
	/* the launcher is held inside ring_complete(): unmap under it */
	EXPECT_EQ(lease_write(&self->d, "h", "ctl", "io 0\n"), 0);
	EXPECT_EQ(gl_ctl_write(&self->d, "ctl", "ring_complete_hold 0\n"), 0);
	/* the lease's next launch starts only once that thread went on */
	EXPECT_EQ(lease_write(&self->d, "h", "submit", "noop grid=1"), 0);
}

TEST_HARNESS_MAIN
