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
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/ring.h"

static void ring_break(struct ring *r, const char *why)
{
	atomic_store(&r->broken, true);
	__atomic_or_fetch(&r->hdr->flags, GL_RING_BROKEN, __ATOMIC_SEQ_CST);
	gl_fail(r->lease, -EINVAL, "ring broken: %s", why);
}

/* A ring launch finished: its CQE goes where its slot was reserved. */
static void ring_launch_done(struct launch *la)
{
	ring_complete(la->ctx, la->desc.user_data, la->status,
		      la->duration_ns);
}

static int ring_launch(struct ring *r, const struct gl_sqe *sqe)
{
	struct launch_desc d;
	char buf[sizeof(struct gl_launch_desc)];
	uint64_t seq;
	int err;

	if (sqe->len > sizeof(buf))
		return -EFBIG;
	if (sqe->addr > r->data_size || sqe->len > r->data_size - sqe->addr)
		return -EFAULT;
	/* copy first: the client may change the bytes while we parse */
	memcpy(buf, r->data + sqe->addr, sqe->len);
	err = launch_parse_binary(buf, sqe->len, &d);
	if (err)
		return err;
	d.user_data = sqe->user_data;
	return launch_submit(r->lease->b, r->lease, &d, ring_launch_done, r,
			     &seq);
}

/* Copies between the data area and vram; bounds are the lease's. */
static int ring_copy(struct ring *r, const struct gl_sqe *sqe)
{
	ssize_t n;

	if (sqe->addr > r->data_size || sqe->len > r->data_size - sqe->addr)
		return -EFAULT;
	if (sqe->opcode == GL_OP_COPY_IN)
		n = lease_pwrite(r->lease, r->data + sqe->addr, sqe->len,
				 sqe->off);
	else
		n = lease_pread(r->lease, r->data + sqe->addr, sqe->len,
				sqe->off);
	if (n == -EFBIG || (n >= 0 && (size_t)n != sqe->len))
		return -EFAULT;	/* outside the lease */
	return n < 0 ? (int)n : 0;
}

/* Run one SQE whose CQ slot is reserved; completes it unless queued. */
static void ring_exec(struct ring *r, const struct gl_sqe *sqe)
{
	int64_t t0 = clock_mono();
	int err;

	if (sqe->flags || sqe->reserved0 || sqe->reserved[0] ||
	    sqe->reserved[1] || sqe->reserved[2] || sqe->reserved[3]) {
		err = -EINVAL;
		goto done;
	}
	switch (sqe->opcode) {
	case GL_OP_NOP:
		err = 0;
		break;
	case GL_OP_LAUNCH:
		err = ring_launch(r, sqe);
		if (!err)
			return;	/* ring_launch_done completes it */
		break;
	case GL_OP_COPY_IN:
	case GL_OP_COPY_OUT:
		err = ring_copy(r, sqe);
		break;
	default:
		err = -EINVAL;
		break;
	}
done:
	ring_complete(r, sqe->user_data, err, (uint64_t)(clock_mono() - t0));
}

/* Consume what the client queued, as far as CQ room allows. Returns the
 * number of SQEs run, or -1 when the CQ is full. */
static int ring_reap(struct ring *r)
{
	struct gl_ring_hdr *h = r->hdr;
	uint32_t tail, head, room;
	struct gl_sqe sqe;
	int n = 0;

	tail = __atomic_load_n(&h->sq_tail, __ATOMIC_ACQUIRE);
	if (tail - r->sq_head > h->sq_entries) {
		ring_break(r, "sq_tail runs ahead of the queue");
		return 0;
	}
	while (r->sq_head != tail) {
		head = __atomic_load_n(&h->cq_head, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&r->cq_lock);
		if (r->cq_tail - head > h->cq_entries) {
			pthread_mutex_unlock(&r->cq_lock);
			ring_break(r, "cq_head runs ahead of the queue");
			return n;
		}
		room = h->cq_entries - (r->cq_tail - head) - r->reserved;
		if (!room) {
			pthread_mutex_unlock(&r->cq_lock);
			return n ? n : -1;
		}
		r->reserved++;
		pthread_mutex_unlock(&r->cq_lock);
		/* one copy of the entry: later client writes cannot race */
		memcpy(&sqe, &r->sq[r->sq_head & r->sq_mask], sizeof(sqe));
		r->sq_head++;
		__atomic_store_n(&h->sq_head, r->sq_head, __ATOMIC_RELEASE);
		atomic_fetch_add(&r->polls, 1);
		ring_exec(r, &sqe);
		n++;
	}
	return n;
}

static void ring_sleep(struct ring *r)
{
	struct gl_ring_hdr *h = r->hdr;
	struct timespec ts = { .tv_sec = 1 };
	uint32_t v = __atomic_load_n(&h->sq_futex, __ATOMIC_SEQ_CST);

	__atomic_or_fetch(&h->flags, GL_RING_NEED_WAKEUP, __ATOMIC_SEQ_CST);
	/* a tail stored before the flag was visible must not be missed */
	if (__atomic_load_n(&h->sq_tail, __ATOMIC_SEQ_CST) == r->sq_head &&
	    !atomic_load(&r->stop))
		syscall(SYS_futex, &h->sq_futex, FUTEX_WAIT, v, &ts, NULL, 0);
	__atomic_and_fetch(&h->flags, ~GL_RING_NEED_WAKEUP, __ATOMIC_SEQ_CST);
}

void *ring_poll_main(void *arg)
{
	struct ring *r = arg;
	struct broker *b = r->lease->b;
	int64_t idle_since = clock_mono();
	int n;

	while (!atomic_load(&r->stop)) {
		if (atomic_load(&r->broken)) {
			ring_sleep(r);
			continue;
		}
		n = ring_reap(r);
		if (n > 0) {
			idle_since = clock_mono();
			continue;
		}
		if (n < 0) {	/* CQ full: the client has to read first */
			struct timespec ts = { 0, 50000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (clock_mono() - idle_since <
		    (int64_t)atomic_load(&b->pol.ring_idle_us) * 1000) {
			sched_yield();
			continue;
		}
		ring_sleep(r);
		idle_since = clock_mono();
	}
	return NULL;
}
