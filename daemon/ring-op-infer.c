/* SPDX-License-Identifier: MIT */
/*
 * GL_OP_INFER: a request to the model whose lease the ring is on (the
 * model's request ring, models/NAME/io). The request's len bytes at addr
 * of the data area are copied out and started as one write to
 * models/NAME/infer would be (model_req_start); the answer is copied into
 * the answer buffer (ans_len bytes at off) as it grows, each growth told
 * by a CQE flagged GL_CQE_F_MORE when the client left a CQ slot free,
 * and the end by the CQE reserved with the SQE, which carries the status
 * and the last new bytes.
 *
 * Invariant: the model never waits for the client. Growth is handled by
 * model_req_watch()'s callback, on the step's thread under the request's
 * lock: it copies, and posts a MORE CQE only into a slot ring_cq_reserve()
 * finds free (a full CQ defers the news to the next CQE). The last CQE is
 * posted exactly once: by the callback when the request ends (or its
 * answer outgrows the buffer: EFBIG), or by ring_infer_stop() for a
 * request still running when the poller stops (ECANCELED). A request
 * leaves r->infer[] (and is let go) only after model_req_watch(NULL),
 * so no callback ever sees a freed ring_infer or ring.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/model.h"
#include "daemon/ring.h"

/* bytes of one request, as infer's (Documentation/models.md) */
#define RING_INFER_REQ_MAX	65536

struct ring_infer {
	struct ring *r;			/* fixed */
	struct model_req *rq;		/* the ring's reference */
	uint64_t user_data;		/* fixed */
	uint64_t ans;			/* data-area offset of the answer
					 * buffer, checked; fixed */
	uint64_t ans_len;		/* its bytes; fixed */
	int64_t t0;			/* CLOCK_MONOTONIC ns at the SQE */
	/* the callback's, under the request's lock */
	uint64_t done;			/* answer bytes copied */
	uint64_t told;			/* answer bytes covered by CQEs */
	atomic_bool finished;		/* its last CQE is posted */
};

/* The request's end is posted: the poller may reap it. */
static void ring_infer_finish(struct ring_infer *ri)
{
	struct ring *r = ri->r;

	atomic_store(&ri->finished, true);
	atomic_fetch_add(&r->infer_ended, 1);
	/* wherever the poller sleeps, it waits on park too */
	atomic_fetch_add(&r->park, 1);
	syscall(SYS_futex, &r->park, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* model_req_watch_fn: the answer grew to @len bytes, or ended. */
static void ring_infer_grew(void *ctx, const char *out, size_t len,
			    bool ended, int err)
{
	struct ring_infer *ri = ctx;
	struct ring *r = ri->r;
	struct gl_cqe c = { .user_data = ri->user_data };

	if (atomic_load(&ri->finished))
		return;	/* EFBIG told already; the request is let go */
	if (len > ri->ans_len) {
		ended = true;
		err = -EFBIG;
	} else if (len > ri->done) {
		memcpy(r->data + ri->ans + ri->done, out + ri->done,
		       len - ri->done);
		model_req_sent(ri->rq, len - ri->done);
		ri->done = len;
	}
	c.duration_ns = (uint64_t)(clock_mono() - ri->t0);
	c.ans.off = (uint32_t)ri->told;
	c.ans.len = (uint32_t)(ri->done - ri->told);
	if (!ended) {
		/* a full CQ: the next CQE covers these bytes too */
		if (!c.ans.len || !ring_cq_reserve(r))
			return;
		c.flags = GL_CQE_F_MORE;
		ri->told = ri->done;
		ring_complete_cqe(r, &c);
		return;
	}
	c.status = err;
	ri->told = ri->done;
	ring_infer_finish(ri);
	ring_complete_cqe(r, &c);	/* the slot reserved with the SQE */
}

/* Stop watching @ri's request, let it go, free @ri. */
static void ring_infer_free(struct ring_infer *ri)
{
	model_req_watch(ri->rq, NULL, NULL);
	model_req_put(ri->rq);
	free(ri);
}

void ring_infer_reap(struct ring *r)
{
	uint32_t ended = atomic_load(&r->infer_ended);
	struct ring_infer *ri;
	unsigned i;

	if (ended == r->infer_seen)
		return;
	/* one that ends during the walk bumps the count again */
	r->infer_seen = ended;
	for (i = 0; i < RING_INFER_MAX; i++) {
		ri = r->infer[i];
		if (ri && atomic_load(&ri->finished)) {
			r->infer[i] = NULL;
			ring_infer_free(ri);
		}
	}
}

void ring_infer_stop(struct ring *r)
{
	struct ring_infer *ri;
	unsigned i;

	for (i = 0; i < RING_INFER_MAX; i++) {
		ri = r->infer[i];
		if (!ri)
			continue;
		r->infer[i] = NULL;
		/* from here no callback runs: the end is ours to post */
		model_req_watch(ri->rq, NULL, NULL);
		if (!atomic_load(&ri->finished))
			ring_complete_cqe(r, &(struct gl_cqe){
				.user_data = ri->user_data,
				.status = -ECANCELED,
				.duration_ns = (uint64_t)(clock_mono() -
							  ri->t0),
				.ans = { (uint32_t)ri->told, 0 },
			});
		model_req_put(ri->rq);
		free(ri);
	}
}

/* A free place in r->infer[], reaping ended requests first: its index,
 * or -EBUSY. */
static int ring_infer_slot(struct ring *r)
{
	unsigned i;

	ring_infer_reap(r);
	for (i = 0; i < RING_INFER_MAX; i++)
		if (!r->infer[i])
			return (int)i;
	return -EBUSY;
}

int ring_op_infer(struct ring *r, const struct gl_sqe *sqe)
{
	int64_t t0 = clock_mono();
	struct ring_infer *ri;
	struct model_req *rq;
	struct model *m;
	char *req;
	int slot, err;

	/* both ranges inside the daemon's own idea of the data area */
	if (sqe->addr > r->data_size || sqe->len > r->data_size - sqe->addr ||
	    sqe->off > r->data_size || sqe->ans_len > r->data_size - sqe->off)
		return -EFAULT;
	if (sqe->len > RING_INFER_REQ_MAX)
		return -EFBIG;
	slot = ring_infer_slot(r);
	if (slot < 0)
		return slot;
	m = model_for_lease(r->lease);
	if (!m)		/* not a model's ring, or its model is leaving */
		return model_for_lease_err(r->lease);
	ri = calloc(1, sizeof(*ri));
	req = malloc(sqe->len ? sqe->len : 1);
	if (!ri || !req) {
		err = -ENOMEM;
		goto out;
	}
	/* copy first: the client may change the bytes while we parse */
	memcpy(req, r->data + sqe->addr, sqe->len);
	err = model_req_start(m, req, sqe->len, &rq);
	if (err)
		goto out;
	ri->r = r;
	ri->rq = rq;
	ri->user_data = sqe->user_data;
	ri->ans = sqe->off;
	ri->ans_len = sqe->ans_len;
	ri->t0 = t0;
	r->infer[slot] = ri;
	ri = NULL;
	/* it may have grown or ended already: then the callback runs now */
	model_req_watch(rq, ring_infer_grew, r->infer[slot]);
	err = RING_OP_QUEUED;
out:
	free(req);
	free(ri);
	model_put(m);
	return err;
}
