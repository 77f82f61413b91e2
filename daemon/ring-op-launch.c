/* SPDX-License-Identifier: MIT */
/*
 * GL_OP_LAUNCH: the gl_launch_desc of len bytes at addr of the data area
 * is copied out of the shared memory, parsed like a write to submit, and
 * run on the poller when it is small and the lease idle, else queued; its
 * completion is posted by whichever thread ran it. Invariant: the
 * descriptor is parsed from the daemon's private copy, never in place,
 * and r->launches counts the ring's launches in flight (copies wait for
 * them, ring-op-copy.c).
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/chain.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/ring.h"

/* A ring launch finished: its CQE goes where its slot was reserved. */
void ring_launch_done(struct launch *la)
{
	struct ring *r = la->ctx;

	if (launch_touches_vram(la))
		lease_notify_data(la->lease);
	/* a copy waiting behind it may go (its slot is still promised, so
	 * the ring outlives the ring_complete below) */
	if (atomic_fetch_sub(&r->launches, 1) == 1)
		syscall(SYS_futex, &r->launches, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
	ring_complete_step(r, la->desc.user_data, la->status,
			   la->duration_ns, la->chain ? la->chain->step : 0);
}

int ring_op_launch(struct ring *r, const struct gl_sqe *sqe)
{
	struct launch_desc d;
	char buf[sizeof(struct gl_launch_desc)];
	_Atomic uint64_t seq;
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
	atomic_fetch_add(&r->launches, 1);
	err = launch_submit_inline(r->set->launcher, r->lease, &d,
				   ring_launch_done, r, &seq);
	if (err) {
		atomic_fetch_sub(&r->launches, 1);
		return err;
	}
	return RING_OP_QUEUED;	/* ring_launch_done completes it */
}
