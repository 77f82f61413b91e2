/* SPDX-License-Identifier: MIT */
/*
 * ring.c - a lease's io region (uapi/ring.h) driven by a minimal client
 * written here from the ABI alone: every entry type round trips and
 * matches the same work done through submit and vram; many outstanding
 * entries, a full queue, index wrap-around, corrupt indices and entries,
 * a lease dropped with entries in flight, two rings at once, and another
 * uid cannot open the io file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/dev/pool.h"
#include "selftests/fs/tring.h"
#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/launch.h"
#include "uapi/ring.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

FIXTURE(ring) {
	struct gl_daemon d;
	struct tring r;
};

FIXTURE_SETUP(ring)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "r"), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "io 1M\n"), 0);
	ASSERT_EQ(tring_open(&self->d, "r", &self->r), 0);
}

FIXTURE_TEARDOWN(ring)
{
	tring_close(&self->r);
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(ring, layout_and_accounting)
{
	struct gl_ring_hdr *h = self->r.h;
	long long used;

	EXPECT_EQ(h->size, 1u << 20);
	EXPECT_EQ(h->sqe_size, sizeof(struct gl_sqe));
	EXPECT_EQ(h->cqe_size, sizeof(struct gl_cqe));
	EXPECT_GE(h->cq_entries, h->sq_entries);
	EXPECT_EQ(h->sq_entries & (h->sq_entries - 1), 0u);
	EXPECT_EQ(h->data_off + h->data_size, h->size);
	ASSERT_EQ(lease_read_key(&self->d, "r", "used", &used), 0);
	EXPECT_EQ(used, 1 << 20);
	EXPECT_EQ(dev_read_u64(&self->d, 0, "vram.used"), 2 << 20);
	EXPECT_EQ(lease_write(&self->d, "r", "ctl", "io 1000\n"), -EINVAL);
	EXPECT_EQ(lease_write(&self->d, "r", "ctl", "io 1G\n"), -ENOSPC);
}

/* Every entry type, and results identical to submit + vram. */
TEST_F(ring, every_entry_type_round_trips)
{
	struct tring *r = &self->r;
	struct gl_launch_desc *b = (void *)(r->data + 65536);
	struct gl_cqe c;
	float *x = (float *)r->data, got[256], want[256];
	uint32_t bits;
	float two = 2.0f;
	int i;

	ASSERT_EQ(tring_push(r, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						   .user_data = 1 }), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 1u);
	EXPECT_EQ(c.status, 0);

	for (i = 0; i < 256; i++)
		x[i] = (float)i;
	struct gl_sqe in = sqe_of(GL_OP_COPY_IN, 4096, 0, 1024, 2);
	ASSERT_EQ(tring_push(r, &in), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 2u);
	EXPECT_EQ(c.status, 0);

	/* scale y = 2 * x in place, x read from io (zero copy) */
	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	b->nargs = 4;
	strcpy(b->kernel, "scale");
	b->grid[0] = b->grid[1] = b->grid[2] = 1;
	b->block[0] = 256;
	b->block[1] = b->block[2] = 1;
	b->args[0].type = GL_ARG_U32;
	b->args[0].value = 256;
	b->args[1].type = GL_ARG_F32;
	memcpy(&bits, &two, 4);
	b->args[1].value = bits;
	b->args[2].type = GL_ARG_IO;
	b->args[2].value = 0;
	b->args[2].len = 1024;
	b->args[3].type = GL_ARG_BUF;
	b->args[3].value = 8192;
	b->args[3].len = 1024;
	struct gl_sqe la = sqe_of(GL_OP_LAUNCH, 0, 65536,
				  GL_LAUNCH_DESC_SIZE(4), 3);
	ASSERT_EQ(tring_push(r, &la), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 3u);
	EXPECT_EQ(c.status, 0);

	struct gl_sqe out = sqe_of(GL_OP_COPY_OUT, 8192, 2048, 1024, 4);
	ASSERT_EQ(tring_push(r, &out), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, 0);
	memcpy(got, r->data + 2048, sizeof(got));

	/* the same through vram and submit */
	ASSERT_EQ(lease_write(&self->d, "r", "submit",
			      "scale grid=1 u32:256 f32:2 buf:4096:1024 "
			      "buf:12288:1024"), 0);
	i = lease_open(&self->d, "r", "vram", O_RDONLY);
	ASSERT_GE(i, 0);
	ASSERT_EQ(pread(i, want, sizeof(want), 12288), (ssize_t)sizeof(want));
	close(i);
	EXPECT_EQ(memcmp(got, want, sizeof(got)), 0);
	EXPECT_EQ(got[255], 510.0f);
}

struct copy_waits {
	const struct gl_daemon *d;
	struct tring *r;
	long long waits;	/* the counter before the batch */
	struct gl_cqe c;	/* a completion taken meanwhile */
	int got;
};

/* The copy out is waiting for the launch, or (a bug) it completed. */
static int copy_waits_or_completes(void *arg)
{
	struct copy_waits *w = arg;
	long long v;

	if (!w->got && !tring_pop(w->r, &w->c, 0))
		w->got = 1;
	if (w->got && w->c.user_data == 4)
		return 1;
	return !gl_read_key(w->d, "metrics", "gpulease_ring_copy_waits_total",
			    &v) && v > w->waits;
}

/* One batch: copy in, launch, launch, copy out. The copy out waits for
 * the launches before it, so it reads the kernel's result. Timing plays
 * no part: the first launch, big enough for the executors (POOL_SPLIT_ELEMS
 * elements, never inline), has its completion held (ring_complete_hold),
 * so the fill behind it on the lease's queue cannot run until the test
 * sees the copy out waiting for it, or sees it completed too early. The
 * fill is small: run inline on the poller, it would overtake the held
 * launch and the copy out would not wait. */
TEST_F(ring, batch_runs_in_order)
{
	struct tring *r = &self->r;
	struct gl_launch_desc *b = (void *)(r->data + 65536);
	struct gl_launch_desc *nop = (void *)(r->data + 65536 + 4096);
	float *x = (float *)r->data, *out = (float *)(r->data + 8192);
	struct copy_waits w = { .d = &self->d, .r = r };
	int i;

	for (i = 0; i < 1024; i++)
		x[i] = 1.0f;
	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	b->nargs = 3;
	strcpy(b->kernel, "fill");
	b->grid[0] = 4;
	b->grid[1] = b->grid[2] = 1;
	b->block[0] = 256;
	b->block[1] = b->block[2] = 1;
	b->args[0].type = GL_ARG_U32;
	b->args[0].value = 1024;
	b->args[1].type = GL_ARG_F32;
	b->args[1].value = 0x40e00000;	/* 7.0f */
	b->args[2].type = GL_ARG_BUF;
	b->args[2].value = 0;
	b->args[2].len = 4096;
	memset(nop, 0, sizeof(*nop));
	nop->magic = GL_LAUNCH_MAGIC;
	nop->version = GL_LAUNCH_VERSION;
	strcpy(nop->kernel, "noop");
	nop->grid[0] = POOL_SPLIT_ELEMS / 256;
	nop->grid[1] = nop->grid[2] = 1;
	nop->block[0] = 256;
	nop->block[1] = nop->block[2] = 1;
	struct gl_sqe in = sqe_of(GL_OP_COPY_IN, 0, 0, 4096, 1);
	struct gl_sqe hold = sqe_of(GL_OP_LAUNCH, 0, 65536 + 4096,
				    GL_LAUNCH_DESC_SIZE(0), 2);
	struct gl_sqe la = sqe_of(GL_OP_LAUNCH, 0, 65536,
				  GL_LAUNCH_DESC_SIZE(3), 3);
	struct gl_sqe co = sqe_of(GL_OP_COPY_OUT, 0, 8192, 4096, 4);
	uint32_t tail = r->h->sq_tail, mask = r->h->sq_entries - 1;

	ASSERT_EQ(gl_read_key(&self->d, "metrics",
			      "gpulease_ring_copy_waits_total", &w.waits), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "ring_complete_hold 1\n"), 0);
	/* publish the four at once: one tail store, one wake-up */
	r->sq[tail & mask] = in;
	r->sq[(tail + 1) & mask] = hold;
	r->sq[(tail + 2) & mask] = la;
	r->sq[(tail + 3) & mask] = co;
	__atomic_store_n(&r->h->sq_tail, tail + 4, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->h->sq_futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &r->h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	for (;;) {
		w.got = 0;
		i = gl_wait_until(copy_waits_or_completes, &w, 10000);
		if (i || !w.got || w.c.user_data == 4)
			break;		/* !w.got: the copy waits, all is well */
		EXPECT_EQ(w.c.status, 0) TH_LOG("entry %llu",
					(unsigned long long)w.c.user_data);
	}
	/* let go before any assertion: a held launch holds up exit too */
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "ring_complete_hold 0\n"), 0);
	ASSERT_EQ(i, 0);
	ASSERT_FALSE(w.got) TH_LOG("the copy out did not wait for the fill");
	for (;;) {
		ASSERT_EQ(tring_pop(r, &w.c, 5000), 0);
		EXPECT_EQ(w.c.status, 0) TH_LOG("entry %llu",
					(unsigned long long)w.c.user_data);
		if (w.c.user_data == 4)
			break;
	}
	EXPECT_EQ(out[0], 7.0f);
	EXPECT_EQ(out[1023], 7.0f);
}

TEST_F(ring, bad_entries_fail_alone)
{
	struct tring *r = &self->r;
	struct gl_sqe s;
	struct gl_cqe c;

	s = sqe_of(GL_OP_COPY_IN, (1 << 20) - 10, 0, 11, 1);	/* vram end */
	ASSERT_EQ(tring_push(r, &s), 0);
	s = sqe_of(GL_OP_COPY_OUT, 0, r->h->data_size - 10, 11, 2);
	ASSERT_EQ(tring_push(r, &s), 0);
	s = sqe_of(99, 0, 0, 0, 3);
	ASSERT_EQ(tring_push(r, &s), 0);
	s = sqe_of(GL_OP_NOP, 0, 0, 0, 4);
	s.reserved[2] = 1;
	ASSERT_EQ(tring_push(r, &s), 0);
	s = sqe_of(GL_OP_LAUNCH, 0, 0, 7, 5);	/* garbage descriptor */
	ASSERT_EQ(tring_push(r, &s), 0);
	s = sqe_of(GL_OP_NOP, 0, 0, 0, 6);
	ASSERT_EQ(tring_push(r, &s), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, -EFAULT);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, -EFAULT);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, -EINVAL);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, -EINVAL);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, -EINVAL);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.status, 0);
	EXPECT_EQ(c.user_data, 6u);
	EXPECT_EQ(r->h->flags & GL_RING_BROKEN, 0u);
}

/* Far more entries than the queues hold: the client waits when full,
 * nothing is lost or duplicated, indices wrap many times over. */
TEST_F(ring, many_outstanding_and_wraparound)
{
	struct tring *r = &self->r;
	unsigned total = 20 * r->h->cq_entries, sent = 0, got = 0;
	unsigned char *seen = calloc(total, 1);
	struct gl_cqe c;

	ASSERT_NE(seen, NULL);
	while (got < total) {
		while (sent < total) {
			struct gl_sqe s = sqe_of(GL_OP_NOP, 0, 0, 0, sent);

			if (tring_push(r, &s))
				break;	/* SQ full: the client sees it */
			sent++;
		}
		ASSERT_EQ(tring_pop(r, &c, 5000), 0) TH_LOG("got %u", got);
		ASSERT_LT(c.user_data, total);
		EXPECT_EQ(seen[c.user_data], 0) TH_LOG("twice %llu",
				(unsigned long long)c.user_data);
		seen[c.user_data] = 1;
		EXPECT_EQ(c.user_data, got);	/* in order */
		got++;
	}
	EXPECT_GT(r->h->sq_head, r->h->sq_entries * 10);
	free(seen);
}

/* A client that never reads: the daemon fills the CQ and waits, never
 * overwriting an unread completion. */
TEST_F(ring, full_cq_is_never_overrun)
{
	struct tring *r = &self->r;
	unsigned n = r->h->cq_entries + r->h->sq_entries, i, pushed = 0;
	unsigned waits = 0;
	struct gl_cqe c;

	/* fill the CQ, then the SQ behind it */
	while (pushed < n && waits < 500) {
		struct gl_sqe s = sqe_of(GL_OP_NOP, 0, 0, 0, pushed);

		if (!tring_push(r, &s)) {
			pushed++;
		} else {
			usleep(1000);
			waits++;
		}
	}
	EXPECT_EQ(pushed, n);
	usleep(20000);
	EXPECT_EQ(r->h->cq_tail - r->h->cq_head, r->h->cq_entries);
	for (i = 0; i < pushed; i++) {
		ASSERT_EQ(tring_pop(r, &c, 5000), 0);
		EXPECT_EQ(c.user_data, i);
	}
}

TEST_F(ring, corrupt_index_breaks_only_this_ring)
{
	struct tring *r = &self->r;
	struct gl_cqe c;

	r->h->sq_tail += 3 * r->h->sq_entries;	/* nonsense */
	__atomic_add_fetch(&r->h->sq_futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &r->h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	for (int i = 0; i < 200 && !(r->h->flags & GL_RING_BROKEN); i++)
		usleep(5000);
	EXPECT_NE(r->h->flags & GL_RING_BROKEN, 0u);
	/* the daemon serves everything else */
	EXPECT_EQ(lease_write(&self->d, "r", "submit", "noop grid=1"), 0);
	ASSERT_EQ(lease_create(&self->d, "s"), 0);
	ASSERT_EQ(lease_write(&self->d, "s", "ctl", "io 64K\n"), 0);
	struct tring r2 = { 0 };
	ASSERT_EQ(tring_open(&self->d, "s", &r2), 0);
	ASSERT_EQ(tring_push(&r2, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						     .user_data = 9 }), 0);
	EXPECT_EQ(tring_pop(&r2, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 9u);
	tring_close(&r2);
}

#define SLOW_MATMUL "matmul grid=64 block=256 u32:512 u32:512 u32:512 " \
	"u32:0 u32:0 u32:1 u32:0 u32:0 u32:0 u64:0 u64:0 u64:0 f32:1 f32:0 " \
	"buf:0:1M buf:0:1M buf:0:1M"

/* Dropping the lease with entries in flight: ECANCELED completions or a
 * DEAD header, never a hang, and the file is gone. */
TEST_F(ring, drop_with_entries_in_flight)
{
	struct tring *r = &self->r;
	struct gl_cqe c;
	char path[256];
	ssize_t n;
	int i, fd;

	n = readlink(gl_path(&self->d, "leases/r/io"), path, sizeof(path) - 1);
	ASSERT_GT(n, 0);
	path[n] = '\0';
	fd = lease_open(&self->d, "r", "submit", O_WRONLY | O_NONBLOCK);
	ASSERT_GE(fd, 0);
	ASSERT_GT(write(fd, SLOW_MATMUL, strlen(SLOW_MATMUL)), 0);
	close(fd);
	for (i = 0; i < 8; i++) {
		struct gl_sqe s = sqe_of(GL_OP_COPY_IN, 0, 0, 4096, i);

		ASSERT_EQ(tring_push(r, &s), 0);
	}
	EXPECT_EQ(lease_remove(&self->d, "r"), 0);
	EXPECT_NE(r->h->flags & GL_RING_DEAD, 0u);
	EXPECT_EQ(access(path, F_OK), -1);
	/* whatever completed is in the CQ; then nothing more */
	while (!tring_pop(r, &c, 10))
		EXPECT_TRUE(c.status == 0 || c.status == -ECANCELED);
	EXPECT_EQ(dev_read_u64(&self->d, 0, "vram.used"), 0);
}

static int open_io_as_nobody(void *arg)
{
	int fd = open(arg, O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

TEST_F(ring, other_uid_cannot_open)
{
	char path[256];
	struct stat st;
	ssize_t n;

	n = readlink(gl_path(&self->d, "leases/r/io"), path, sizeof(path) - 1);
	ASSERT_GT(n, 0);
	path[n] = '\0';
	ASSERT_EQ(stat(path, &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	EXPECT_EQ(gl_run_as_nobody(open_io_as_nobody, path), -EACCES);
	EXPECT_EQ(open_io_as_nobody(path), 0);	/* the owner can */
}

/* A client killed while it submits leaves the ring usable for the next
 * one and the daemon serving: an SQE only counts once its tail is out. */
TEST_F(ring, client_killed_mid_submission)
{
	struct tring *r = &self->r;
	struct gl_cqe c;
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct tring mine = { 0 };
		uint64_t k = 0;

		if (tring_open(&self->d, "r", &mine))
			_exit(2);
		for (;;) {	/* push and never read: killed mid-stream */
			struct gl_sqe s = sqe_of(GL_OP_COPY_IN, 0, 0, 64,
						 k);

			/* half an entry in a free slot, tail not moved */
			if (mine.h->sq_tail - __atomic_load_n(&mine.h->sq_head,
					__ATOMIC_ACQUIRE) < mine.h->sq_entries)
				memset(&mine.sq[mine.h->sq_tail &
						(mine.h->sq_entries - 1)],
				       0xff, 32);
			if (!tring_push(&mine, &s))
				k++;
		}
	}
	usleep(50000);
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	/* drain what the dead client queued: all well formed */
	while (!tring_pop(r, &c, 200))
		ASSERT_EQ(c.status, 0) TH_LOG("user_data %llu",
					      (unsigned long long)c.user_data);
	EXPECT_EQ(r->h->flags & GL_RING_BROKEN, 0u);
	ASSERT_EQ(tring_push(r, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						   .user_data = 77 }), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 77u);
	EXPECT_EQ(lease_write(&self->d, "r", "submit", "noop grid=1"), 0);
}

/* Two processes drive two leases' rings at once. */
TEST_F(ring, two_rings_two_processes)
{
	pid_t pid[2];
	int i, st;

	ASSERT_EQ(lease_create(&self->d, "s"), 0);
	ASSERT_EQ(lease_write(&self->d, "s", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_write(&self->d, "s", "ctl", "io 256K\n"), 0);
	tring_close(&self->r);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			struct tring r;
			struct gl_cqe c;
			unsigned k;

			if (tring_open(&self->d, i ? "s" : "r", &r))
				_exit(2);
			for (k = 0; k < 5000; k++) {
				struct gl_sqe s = sqe_of(GL_OP_COPY_IN, k % 256,
							 0, 64, k);

				if (tring_push(&r, &s) ||
				    tring_pop(&r, &c, 5000) ||
				    c.user_data != k || c.status)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(waitpid(pid[i], &st, 0), pid[i]);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("client %d: status %d", i, st);
	}
}

/* A daemon killed with SIGKILL leaves its io directory (and ring files)
 * on the tmpfs; the next daemon to start removes them. */
TEST(crashed_daemon_leftovers_swept)
{
	struct gl_daemon d1, d2;
	char path[256], dir[256];
	ssize_t n;

	GL_DAEMON_SETUP(&d1, args);
	ASSERT_EQ(lease_create(&d1, "k"), 0);
	ASSERT_EQ(lease_write(&d1, "k", "ctl", "io 64K\n"), 0);
	n = readlink(gl_path(&d1, "leases/k/io"), path, sizeof(path) - 1);
	ASSERT_GT(n, 0);
	path[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	kill(d1.pid, SIGKILL);
	EXPECT_EQ(gl_daemon_stop(&d1, 0), 128 + SIGKILL);
	EXPECT_EQ(access(path, F_OK), 0) TH_LOG("nothing was left to sweep");
	ASSERT_EQ(gl_daemon_start(&d2, args), 0);
	EXPECT_EQ(access(path, F_OK), -1);
	EXPECT_EQ(access(dir, F_OK), -1) TH_LOG("%s still there", dir);
	EXPECT_EQ(gl_daemon_stop(&d2, 0), 0);
}

/* After its idle period a poller sleeps: an idle ring costs no CPU. */
TEST_F(ring, idle_ring_sleeps)
{
	struct tring *r = &self->r;
	long long t0, t1, hz = sysconf(_SC_CLK_TCK);
	struct gl_cqe c;

	ASSERT_EQ(tring_push(r, &(struct gl_sqe){ .opcode = GL_OP_NOP }), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	usleep(100000);		/* well past ring_idle_us (1 ms) */
	EXPECT_NE(r->h->flags & GL_RING_NEED_WAKEUP, 0u);
	t0 = cpu_ticks(self->d.pid);
	sleep(1);
	t1 = cpu_ticks(self->d.pid);
	ASSERT_GE(t0, 0);
	/* a spinning poller would burn a whole second of CPU here */
	EXPECT_LT(t1 - t0, hz / 10) TH_LOG("%lld ticks in 1 s", t1 - t0);
	/* and wakes up when asked */
	ASSERT_EQ(tring_push(r, &(struct gl_sqe){ .opcode = GL_OP_NOP,
						   .user_data = 5 }), 0);
	ASSERT_EQ(tring_pop(r, &c, 5000), 0);
	EXPECT_EQ(c.user_data, 5u);
}

TEST_HARNESS_MAIN
