/* SPDX-License-Identifier: MIT */
/*
 * live_map.c - a live mmap(MAP_SHARED) of vram sees each launch's result:
 * the pages it holds are dropped before the launch completes, whether it
 * came through submit (the write returns) or through the ring (its CQE is
 * posted). The mapping is only read, so its pages stay clean and cached;
 * pread would go to the daemon and could not tell. Ring launches use
 * libgpulease's ring API (gl_ring(3)).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "tools/lib/gpulease.h"

#define N	(1 << 18)		/* floats: 1 MiB of vram */
#define SIZE	(N * 4)
#define ROUNDS	20

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(live) {
	struct gl_daemon d;
	struct gl *g;
	int fd;
	volatile float *map;
};

FIXTURE_SETUP(live)
{
	void *m;

	self->g = NULL;
	self->fd = -1;
	self->map = NULL;
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	ASSERT_EQ(gl_lease_acquire(self->g, "lm", SIZE, 0, -1, 0), 0);
	self->fd = lease_open(&self->d, "lm", "vram", O_RDWR);
	ASSERT_GE(self->fd, 0);
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(m, MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	self->map = m;
}

FIXTURE_TEARDOWN(live)
{
	if (self->map)
		munmap((void *)self->map, SIZE);
	if (self->fd >= 0)
		close(self->fd);
	gl_close(self->g);
	GL_DAEMON_TEARDOWN(&self->d);
}

/* Fault the mapping's pages in, and check they hold @v; 1 when stale. */
static int stale(volatile float *map, float v)
{
	long i, bad = 0;

	for (i = 0; i < N; i += 1024)	/* every page */
		bad += map[i] != v;
	return bad || map[N - 1] != v;
}

TEST_F(live, submit_result_seen)
{
	int i, nstale = 0;

	for (i = 1; i <= ROUNDS; i++) {
		stale(self->map, (float)(i - 1));	/* pages cached */
		ASSERT_EQ(lease_write(&self->d, "lm", "submit",
				      "fill grid=1024 u32:%d f32:%d buf:0:1M",
				      N, i), 0);
		nstale += stale(self->map, (float)i);
	}
	EXPECT_EQ(nstale, 0) TH_LOG("%d of %d rounds read stale pages",
				    nstale, ROUNDS);
}

TEST_F(live, ring_result_seen)
{
	struct gl_launch_desc d;
	struct gl_ring *r = NULL;
	struct gl_cqe *cqe;
	int i, nstale = 0;
	void *data;

	ASSERT_EQ(gl_ring_setup(self->g, "lm", 1 << 20), 0);
	ASSERT_EQ(gl_ring_open(self->g, "lm", &r), 0);
	data = gl_ring_data(r, NULL);
	ASSERT_NE(data, NULL);
	for (i = 1; i <= ROUNDS; i++) {
		stale(self->map, (float)(i - 1));	/* pages cached */
		ASSERT_EQ(gl_launch_init(&d, "fill", 1024, 256), 0);
		ASSERT_EQ(gl_launch_arg(&d, GL_ARG_U32, N, 0), 0);
		ASSERT_EQ(gl_launch_arg_f32(&d, (float)i), 0);
		ASSERT_EQ(gl_launch_arg(&d, GL_ARG_BUF, 0, SIZE), 0);
		memcpy(data, &d, GL_LAUNCH_DESC_SIZE(d.nargs));
		gl_ring_prep_launch(gl_ring_get_sqe(r), 0,
				    (uint32_t)GL_LAUNCH_DESC_SIZE(d.nargs), i);
		ASSERT_EQ(gl_ring_submit(r), 1);
		ASSERT_EQ(gl_ring_wait_cqe(r, &cqe, 10000), 0);
		EXPECT_EQ(cqe->status, 0);
		EXPECT_EQ(cqe->user_data, (uint64_t)i);
		gl_ring_cqe_seen(r, cqe);
		nstale += stale(self->map, (float)i);
	}
	EXPECT_EQ(nstale, 0) TH_LOG("%d of %d rounds read stale pages",
				    nstale, ROUNDS);
	gl_ring_close(r);
}

TEST_HARNESS_MAIN
