/* SPDX-License-Identifier: MIT */
/*
 * GL_OP_NOP: completes at once with status 0. The latency floor of the
 * ring: its table line (ring-poll.c) says untimed, so the poller reads no
 * clock for it. Invariant: touches nothing but the CQE the poller posts.
 */
#include "daemon/ring.h"

int ring_op_nop(struct ring *r, const struct gl_sqe *sqe)
{
	return 0;
}
