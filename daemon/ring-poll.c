/* SPDX-License-Identifier: MIT */
/*
 * The ring poller: one thread per io region. It spins on the SQ while work
 * comes, then sets NEED_WAKEUP and sleeps on the header's sq_futex until a
 * client bumps it (io_uring's SQPOLL idea). Each SQE is copied out of the
 * shared memory and validated like a write to submit before it is used.
 *
 * Invariant: an SQE is consumed only when a CQ slot is reserved for it, so
 * completions never overwrite an unread CQE; a corrupt index marks the
 * ring BROKEN and the poller stops reading it, the daemon carries on.
 * Geometry is the daemon's own copy, one pass takes at most sq_entries
 * entries, and every wait checks for stop: whatever the client writes,
 * ring_stop() returns. A poller that has nothing it may do (idle, CQ
 * full, broken, a copy behind launches) sleeps on a futex.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/ring.h"

/* A spin-wait hint: lets the sibling hyperthread run, saves power. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void ring_break(struct ring *r, const char *why)
{
	atomic_store(&r->broken, true);
	gl_atomic_or(&r->hdr->flags, GL_RING_BROKEN);
	gl_fail(r->lease, -EINVAL, "ring broken: %s", why);
}

/*
 * The opcode table: a handler (ring.h, one ring-op-*.c each) and whether
 * the poller times it. An opcode with no line, or past the end, completes
 * with -EINVAL. A new opcode is one new file and one line here.
 */
struct ring_op {
	ring_op_fn *run;
	bool timed;		/* false: the hot path, no clock read */
	bool ans_len;		/* reserved[0] is its ans_len */
};

static const struct ring_op ring_ops[] = {
	[GL_OP_NOP]		= { ring_op_nop,	 false, false },
	[GL_OP_LAUNCH]		= { ring_op_launch,	 true,	false },
	[GL_OP_COPY_IN]		= { ring_op_copy_in,	 true,	false },
	[GL_OP_COPY_OUT]	= { ring_op_copy_out,	 true,	false },
	[GL_OP_CHAIN_BUILD]	= { ring_op_chain_build, true,	false },
	[GL_OP_CHAIN_RUN]	= { ring_op_chain_run,	 true,	false },
	[GL_OP_CHAIN_FREE]	= { ring_op_chain_free,	 true,	false },
	[GL_OP_INFER]		= { ring_op_infer,	 true,	true },
};

static bool ring_sqe_reserved(const struct gl_sqe *sqe, bool ans_len)
{
	return sqe->reserved0 || (!ans_len && sqe->reserved[0]) ||
	       sqe->reserved[1] || sqe->reserved[2] || sqe->reserved[3];
}

/* Run one SQE whose CQ slot is reserved; completes it unless queued. */
static void ring_exec(struct ring *r, const struct gl_sqe *sqe)
{
	const struct ring_op *op = NULL;
	int64_t t0;
	int err;

	if (sqe->opcode < sizeof(ring_ops) / sizeof(ring_ops[0]) &&
	    ring_ops[sqe->opcode].run)
		op = &ring_ops[sqe->opcode];
	if (op && !op->timed && !sqe->flags) {
		/* the latency floor: no clock, no lock */
		err = ring_sqe_reserved(sqe, false) ? -EINVAL :
		      op->run(r, sqe);
		ring_complete(r, sqe->user_data, err, 0);
		return;
	}
	t0 = clock_mono();
	if (!op || sqe->flags || ring_sqe_reserved(sqe, op->ans_len)) {
		err = -EINVAL;
	} else {
		err = op->run(r, sqe);
		if (err == RING_OP_QUEUED)
			return;
	}
	ring_complete(r, sqe->user_data, err, (uint64_t)(clock_mono() - t0));
}

/* Consume what the client queued, as far as CQ room allows, at most one
 * SQ's worth. Returns the number of SQEs run, or -1 when the CQ is full
 * and nothing ran. */
static int ring_reap(struct ring *r)
{
	struct gl_ring_hdr *h = r->hdr;
	uint32_t tail, head, room;
	struct gl_sqe sqe;
	int n = 0;

	tail = gl_smp_load_acquire(&h->sq_tail);
	if (tail - r->sq_head > r->sq_entries) {
		ring_break(r, "sq_tail runs ahead of the queue");
		return 0;
	}
	while (r->sq_head != tail && !atomic_load(&r->stop) &&
	       !atomic_load(&r->broken)) {
		uint32_t committed = atomic_load(&r->committed);

		/* promised slots vs what the client released: no lock,
		 * promises are a compare-and-swap */
		head = gl_smp_load_acquire(&h->cq_head);
		if (committed - head > r->cq_entries) {
			ring_break(r, "cq_head runs ahead of the queue");
			return n;
		}
		room = r->cq_entries - (committed - head);
		if (!room)
			return n ? n : -1;
		/* a GL_OP_INFER stream (ring_cq_reserve) may promise one
		 * meanwhile: then look again */
		if (!atomic_compare_exchange_strong(&r->committed, &committed,
						    committed + 1))
			continue;
		/* one copy of the entry: later client writes cannot race */
		memcpy(&sqe, &r->sq[r->sq_head & r->sq_mask], sizeof(sqe));
		r->sq_head++;
		gl_smp_store_release(&h->sq_head, r->sq_head);
		atomic_fetch_add(&r->polls, 1);
		ring_exec(r, &sqe);
		n++;
	}
	return n;
}

/*
 * FUTEX_WAIT on the header's sq_futex holding @v and on the private park
 * word holding @park at once (futex_waitv, Linux 5.16), RING_SLEEP_MS at
 * most: a truncation (the handler bumps park) or ring_stop() wakes the
 * poller even when the header page it sleeps on is gone.
 */
static void ring_wait_header(struct ring *r, uint32_t v, uint32_t park)
{
	struct futex_waitv w[2] = {
		{ .val = v, .uaddr = (uintptr_t)&r->hdr->sq_futex,
		  .flags = FUTEX_32 },
		{ .val = park, .uaddr = (uintptr_t)&r->park,
		  .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG },
	};
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += RING_SLEEP_MS / 1000;
	if (syscall(SYS_futex_waitv, w, 2, 0, &ts, CLOCK_MONOTONIC) < 0 &&
	    errno == ENOSYS)
		ring_futex_wait((_Atomic uint32_t *)&r->hdr->sq_futex, v,
				RING_SLEEP_MS, false);
}

/* Every CQ slot is taken or reserved: the client has to read first. */
static bool ring_cq_full(struct ring *r)
{
	return atomic_load(&r->committed) - gl_atomic_load(&r->hdr->cq_head) ==
	       r->cq_entries;
}

/*
 * Sleep until the client submits (NEED_WAKEUP) or, with @cq_full, until
 * it frees a CQ slot (CQ_WAIT); RING_SLEEP_MS at most. CQ_WAIT stays set
 * across a sleep that ends with the CQ still full (the poller only looks
 * again), so that a client never sees it clear while the poller waits
 * for room: returns true then, and the caller clears it once it has room.
 */
static bool ring_sleep(struct ring *r, bool cq_full)
{
	struct gl_ring_hdr *h = r->hdr;
	uint32_t flag = cq_full ? GL_RING_CQ_WAIT : GL_RING_NEED_WAKEUP;
	uint32_t park = atomic_load(&r->park);
	uint32_t v = gl_atomic_load(&h->sq_futex);
	bool wait;

	gl_atomic_or(&h->flags, flag);
	/* an index stored before the flag was visible must not be missed */
	if (cq_full)
		wait = ring_cq_full(r);
	else
		wait = gl_atomic_load(&h->sq_tail) == r->sq_head;
	if (wait && !atomic_load(&r->stop) && !atomic_load(&r->broken))
		ring_wait_header(r, v, park);
	if (cq_full && ring_cq_full(r) && !atomic_load(&r->stop) &&
	    !atomic_load(&r->broken))
		return true;
	gl_atomic_and(&h->flags, ~flag);
	return false;
}

/* A broken ring is never read again: sleep on the private park word
 * (the client cannot wake it) until ring_stop(). */
static void ring_park(struct ring *r)
{
	uint32_t v = atomic_load(&r->park);

	if (atomic_exchange(&r->guard.hit, false))
		ring_break(r, "the io file was truncated under the daemon");
	if (!atomic_load(&r->stop))
		ring_futex_wait(&r->park, v, -1, true);
}

void *ring_poll_main(void *arg)
{
	struct ring *r = arg;
	const struct policy *pol = r->set->pol;
	int64_t idle_since = clock_mono();
	unsigned spins = 0;
	bool cq_wait = false;
	int n;

	while (!atomic_load(&r->stop)) {
		ring_infer_reap(r);
		if (atomic_load(&r->broken)) {
			ring_park(r);
			continue;
		}
		n = ring_reap(r);
		if (n >= 0 && cq_wait) {	/* room again */
			gl_atomic_and(&r->hdr->flags, ~GL_RING_CQ_WAIT);
			cq_wait = false;
		}
		if (n > 0) {
			idle_since = 0;	/* read the clock when idle again */
			continue;
		}
		if (n < 0) {	/* CQ full: the client has to read first */
			cq_wait = ring_sleep(r, true);
			continue;
		}
		/* spin cheaply: a pause per turn, the clock and a yield to
		 * whoever shares the core only every so often */
		if (++spins & 63) {
			cpu_relax();
			continue;
		}
		if (!(spins & 1023))
			sched_yield();
		if (!idle_since)
			idle_since = clock_mono();
		if (clock_mono() - idle_since <
		    (int64_t)atomic_load(&pol->ring_idle_us) * 1000)
			continue;
		ring_sleep(r, false);
		idle_since = clock_mono();
	}
	return NULL;
}
