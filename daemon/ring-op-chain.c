/* SPDX-License-Identifier: MIT */
/*
 * GL_OP_CHAIN_BUILD, GL_OP_CHAIN_RUN, GL_OP_CHAIN_FREE: launch chains
 * through the ring (chain.h, Documentation/ring.md "Chains"). A chain is
 * named by an id the client picks, < GL_CHAIN_IDS, in the SQE's off.
 * Invariant: r->chains is touched by the poller only (and ring_destroy
 * once the poller is gone); a binary chain and a run's parameters are
 * copied out of the shared memory before they are parsed; a failed
 * build or run posts the index of the step at fault in the CQE's step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/chain.h"
#include "daemon/clock.h"
#include "daemon/lease.h"
#include "daemon/ring.h"

/* The data-area range of @sqe, checked against the private geometry. */
static int ring_chain_range(struct ring *r, const struct gl_sqe *sqe)
{
	if (sqe->addr > r->data_size || sqe->len > r->data_size - sqe->addr)
		return -EFAULT;
	return 0;
}

/* Parse and build; 0 or -errno, *step the step at fault. */
static int ring_chain_make(struct ring *r, const struct gl_sqe *sqe,
			   struct chain **out, uint32_t *step)
{
	struct chain_spec spec;
	void *copy;
	int err;

	*step = 0;
	if (sqe->off >= GL_CHAIN_IDS)
		return -EINVAL;
	if (r->chains[sqe->off])
		return -EBUSY;	/* free it first */
	if (sqe->len > GL_CHAIN_DESC_MAX)
		return -EFBIG;
	err = ring_chain_range(r, sqe);
	if (err)
		return err;
	copy = malloc(sqe->len ? sqe->len : 1);
	if (!copy)
		return -ENOMEM;
	/* copy first: the client may change the bytes while we parse */
	memcpy(copy, r->data + sqe->addr, sqe->len);
	err = chain_parse(copy, sqe->len, &spec);
	free(copy);
	if (err) {
		*step = spec.bad_step;
		return err;
	}
	err = chain_build(r->set->launcher, r->lease, &spec, out, step);
	chain_spec_release(&spec);
	return err;
}

int ring_op_chain_build(struct ring *r, const struct gl_sqe *sqe)
{
	int64_t t0 = clock_mono();
	struct chain *c = NULL;
	uint32_t step;
	int err;

	err = ring_chain_make(r, sqe, &c, &step);
	if (!err)
		r->chains[sqe->off] = c;
	ring_complete_step(r, sqe->user_data, err,
			   (uint64_t)(clock_mono() - t0),
			   err ? step : chain_steps(c));
	return RING_OP_QUEUED;	/* posted here, with its step */
}

int ring_op_chain_run(struct ring *r, const struct gl_sqe *sqe)
{
	uint64_t params[GL_CHAIN_PARAMS_MAX];
	_Atomic uint64_t seq;
	struct chain *c;
	int err;

	if (sqe->off >= GL_CHAIN_IDS || !(c = r->chains[sqe->off]))
		return -EINVAL;
	if (sqe->len != chain_nparams(c) * sizeof(params[0]))
		return -EINVAL;
	err = ring_chain_range(r, sqe);
	if (err)
		return err;
	memcpy(params, r->data + sqe->addr, sqe->len);
	atomic_fetch_add(&r->launches, 1);
	/* a small chain of an idle lease runs right here, as a launch */
	err = chain_submit(c, params, sqe->user_data, ring_launch_done, r,
			   &seq, true);
	if (err) {
		atomic_fetch_sub(&r->launches, 1);
		return err;
	}
	return RING_OP_QUEUED;	/* ring_launch_done completes it */
}

int ring_op_chain_free(struct ring *r, const struct gl_sqe *sqe)
{
	if (sqe->len || sqe->addr || sqe->off >= GL_CHAIN_IDS ||
	    !r->chains[sqe->off])
		return -EINVAL;
	/* runs in flight hold their own reference */
	chain_put(r->chains[sqe->off]);
	r->chains[sqe->off] = NULL;
	return 0;
}
