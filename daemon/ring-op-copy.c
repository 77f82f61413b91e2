/* SPDX-License-Identifier: MIT */
/*
 * GL_OP_COPY_IN and GL_OP_COPY_OUT: len bytes between addr of the data
 * area and off of the lease's vram. Invariant: bounds are checked against
 * the daemon's private data_size and by the lease's own accessors, and
 * entries run in order: a copy first waits for the ring's earlier
 * launches, on a private futex word that ring_stop() also wakes.
 */
#include <errno.h>

#include "daemon/lease.h"
#include "daemon/ring.h"

static int ring_copy(struct ring *r, const struct gl_sqe *sqe, bool in)
{
	uint32_t busy;
	ssize_t n;

	if (atomic_load(&r->launches))
		atomic_fetch_add(&r->set->copy_waits, 1);
	while ((busy = atomic_load(&r->launches)) && !atomic_load(&r->stop))
		ring_futex_wait(&r->launches, busy, RING_SLEEP_MS, true);
	if (sqe->addr > r->data_size || sqe->len > r->data_size - sqe->addr)
		return -EFAULT;
	if (in)
		n = lease_pwrite(r->lease, r->data + sqe->addr, sqe->len,
				 sqe->off);
	else
		n = lease_pread(r->lease, r->data + sqe->addr, sqe->len,
				sqe->off);
	if (n == -EFBIG || (n >= 0 && (size_t)n != sqe->len))
		return -EFAULT;	/* outside the lease */
	return n < 0 ? (int)n : 0;
}

int ring_op_copy_in(struct ring *r, const struct gl_sqe *sqe)
{
	return ring_copy(r, sqe, true);
}

int ring_op_copy_out(struct ring *r, const struct gl_sqe *sqe)
{
	return ring_copy(r, sqe, false);
}
