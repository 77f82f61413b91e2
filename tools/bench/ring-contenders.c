/* SPDX-License-Identifier: MIT */
/*
 * ring-contenders: one op of each of the ring benchmark's contenders (the
 * ring polling or woken by a futex, submit + vram, a TCP echo, the
 * shared-memory floor), its result checked and its time taken.
 *
 * Invariant: only the op itself is timed; the futex contender first waits,
 * untimed, until the poller sleeps, so that each of its ops pays a wake-up.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ring-contenders.h"
#include "stats.h"
#include "verbs.h"

const char *const contender_name[C_COUNT] = {
	"shm ping-pong (floor)", "ring, polling", "ring, futex wake",
	"submit + vram", "TCP loopback echo",
};
const char *const contender_work_name[W_COUNT] = {
	"no-op", "4 KiB copy+scale", "1 MiB copy+scale",
};
const uint32_t contender_work_len[W_COUNT] = { 0, 4096, 1u << 20 };

int contender_fail(const char *what, int err)
{
	fprintf(stderr, "ring: %s: %s\n", what, gl_strerror(err));
	return err;
}

int contender_idle_us(struct bench *b, unsigned int us)
{
	char line[48];

	snprintf(line, sizeof(line), "ring_idle_us %u\n", us);
	return verb_write_file(b->ctl, line);
}

/* Take @n completions; the first failing status is returned. */
int contender_ring_reap(struct bench *b, int n)
{
	struct gl_cqe *cqe;
	int err, st = 0;

	while (n--) {
		err = gl_ring_wait_cqe(b->ring, &cqe, BENCH_WAIT_MS);
		if (err)
			return contender_fail("gl_ring_wait_cqe", err);
		if (cqe->status && !st)
			st = contender_fail("a ring entry", cqe->status);
		gl_ring_cqe_seen(b->ring, cqe);
	}
	return st;
}

int contender_ring_call(struct bench *b, uint32_t len)
{
	struct gl_sqe *s;
	int err;

	if (!len) {
		gl_ring_prep_nop(gl_ring_get_sqe(b->ring), 1);
		err = gl_ring_submit(b->ring);
		return err < 0 ? err : contender_ring_reap(b, 1);
	}
	memcpy(b->data, b->src, len);
	gl_ring_prep_copy_in(gl_ring_get_sqe(b->ring), 0, 0, len, 1);
	s = gl_ring_get_sqe(b->ring);
	gl_ring_prep_launch(s, BENCH_DESC_OFF, b->desc_len, 2);
	err = gl_ring_submit(b->ring);
	if (err >= 0)
		err = contender_ring_reap(b, 2);
	if (err)
		return err;
	/* only now: a copy does not wait for a launch before it */
	gl_ring_prep_copy_out(gl_ring_get_sqe(b->ring), 0, 0, len, 3);
	err = gl_ring_submit(b->ring);
	if (err >= 0)
		err = contender_ring_reap(b, 1);
	if (!err)
		memcpy(b->dst, b->data, len);
	return err;
}

static int submit_call(struct bench *b, uint32_t len)
{
	const char *line = len ? b->scale_line : "noop grid=1";
	size_t n = strlen(line);

	if (len && pwrite(b->vram_fd, b->src, len, 0) != (ssize_t)len)
		return contender_fail("pwrite vram", -errno);
	if (write(b->submit_fd, line, n) != (ssize_t)n)
		return contender_fail("write submit", -errno);
	/* the daemon drops the pages the pwrite cached before the write to
	 * submit returns: the pread sees the kernel's result (checked) */
	if (len && pread(b->vram_fd, b->dst, len, 0) != (ssize_t)len)
		return contender_fail("pread vram", -errno);
	return 0;
}

/*
 * Untimed: wait until the poller sleeps (its flag is set, and 30 us more
 * for it to reach FUTEX_WAIT), so that the futex contender
 * measures a wake-up every time rather than catching the poller on its
 * way to sleep. 0, or -ETIMEDOUT after a second.
 */
static int bench_asleep(struct bench *b)
{
	uint64_t end = stats_now_ns() + 1000000000ull;

	while (!(gl_smp_load_acquire(&b->hdr->flags) &
		 GL_RING_NEED_WAKEUP)) {
		if (stats_now_ns() > end)
			return contender_fail("the poller never sleeps",
					  -ETIMEDOUT);
		sched_yield();
	}
	/* the flag is set just before FUTEX_WAIT: give it time to get there */
	end = stats_now_ns() + 30000;
	while (stats_now_ns() < end)
		;
	return 0;
}

/* One op of @who on workload @w; its time in *@ns when timed. */
int contender_once(struct bench *b, int w, int who, uint64_t *ns)
{
	uint32_t len = contender_work_len[w], last = len ? len / 4 - 1 : 0;
	float want0 = b->src[0] * (who == C_TCP ? 1 : BENCH_SCALE);
	float want1 = b->src[last] * (who == C_TCP ? 1 : BENCH_SCALE);
	uint64_t t0, t1;
	int err = 0;

	b->dst[0] = b->dst[last] = -1;
	if (who == C_FUTEX) {
		err = bench_asleep(b);
		if (err)
			return err;
	}
	t0 = stats_now_ns();
	switch (who) {
	case C_FLOOR:
		if (len)
			memcpy(b->pp.shm->data, b->src, len);
		err = peer_pp_call(&b->pp, len ? PEER_SCALE : PEER_NOP, len,
				   BENCH_SCALE);
		if (!err && len)
			memcpy(b->dst, b->pp.shm->data, len);
		break;
	case C_POLL:
	case C_FUTEX:
		err = contender_ring_call(b, len);
		break;
	case C_SUBMIT:
		err = submit_call(b, len);
		break;
	case C_TCP:	/* the no-op moves one SQE's worth */
		err = peer_tcp_call(&b->tcp, b->src, b->dst,
				    len ? len : sizeof(struct gl_sqe));
		if (err)
			contender_fail("TCP echo", err);
		break;
	}
	t1 = stats_now_ns();
	if (err)
		return err;
	if ((len || who == C_TCP) &&
	    (b->dst[0] != want0 || b->dst[last] != want1)) {
		fprintf(stderr, "ring: %s, %s: wrong result (%g %g, want "
			"%g %g)\n", contender_name[who],
			contender_work_name[w], b->dst[0],
			b->dst[last], want0, want1);
		return -EIO;
	}
	if (ns)
		*ns = t1 - t0;
	return 0;
}

/* A contender's round starts or ends: only it may spin meanwhile. */
int contender_round_edge(struct bench *b, int who, bool begin)
{
	if (who == C_FLOOR)
		peer_pp_active(&b->pp, begin);
	if (who == C_POLL)
		return contender_idle_us(b, begin ? BENCH_POLL_IDLE_US : 0);
	return 0;
}

/* The scale kernel over LEN bytes, in both forms. */
int contender_kernel(struct bench *b, uint32_t len)
{
	struct gl_launch_desc d;
	uint32_t n = len / 4, grid = (n + 255) / 256;

	snprintf(b->scale_line, sizeof(b->scale_line),
		 "scale grid=%u block=256 u32:%u f32:2 buf:0:%u buf:0:%u",
		 grid, n, len, len);
	if (gl_launch_init(&d, "scale", grid, 256) ||
	    gl_launch_arg(&d, GL_ARG_U32, n, 0) ||
	    gl_launch_arg_f32(&d, BENCH_SCALE) ||
	    gl_launch_arg(&d, GL_ARG_BUF, 0, len) ||
	    gl_launch_arg(&d, GL_ARG_BUF, 0, len))
		return -EINVAL;
	b->desc_len = (uint32_t)GL_LAUNCH_DESC_SIZE(d.nargs);
	memcpy(b->data + BENCH_DESC_OFF, &d, b->desc_len);
	return 0;
}

