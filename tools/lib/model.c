/* SPDX-License-Identifier: MIT */
/*
 * The client side of a model's request ring (models/NAME/io, the io
 * region of its lease model.NAME; GL_OP_INFER in Documentation/ring.md):
 * open a model by name, send one request at a time and take its answer
 * whole or chunk by chunk as the completions stream in. Built on the
 * ring API of ring.c, whose waits report a dead daemon as -ENOTCONN.
 *
 * Invariant: one request in flight per handle: the request is written at
 * the start of the data area and the answer buffer is the rest of it, and
 * a call returns only after its request's last completion (or once the
 * ring is dead or the daemon gone), so a later request never sees an
 * earlier one's completions. Completions with another user_data (left by
 * an earlier user of the ring) are handed back unread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/lib/internal.h"

#define MODEL_LEASE_PREFIX	"model."
#define MODEL_ALIGN		64	/* the answer buffer's alignment */

struct gl_model {
	struct gl_ring *ring;
	char *data;		/* the ring's data area */
	size_t data_size;
	uint64_t seq;		/* user_data of the last request */
};

/*
 * gl_model_open - map the request ring of model @name (models/NAME/io:
 * the io region of lease model.NAME, made by writing "io SIZE" to
 * models/NAME/ctl). Returns 0 with *@out (free it with gl_model_close()),
 * or -EINVAL (a bad name), -ENOENT (no such model, or it has no ring),
 * -ENOMEM, -EKEYEXPIRED, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_model_open(struct gl *g, const char *name,
			    struct gl_model **out)
{
	char lease[GL_NAME_MAX + 2];
	struct gl_model *m;
	int n, err;

	*out = NULL;
	if (!name)
		return -EINVAL;
	n = snprintf(lease, sizeof(lease), MODEL_LEASE_PREFIX "%s", name);
	if (n < 0 || (size_t)n > GL_NAME_MAX || gl_name_valid(lease))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	err = gl_ring_open(g, lease, &m->ring);
	if (err) {
		free(m);
		return err;
	}
	m->data = gl_ring_data(m->ring, &m->data_size);
	*out = m;
	return 0;
}

/* gl_model_close - unmap and free @m; NULL is ignored. */
GL_EXPORT void gl_model_close(struct gl_model *m)
{
	if (!m)
		return;
	gl_ring_close(m->ring);
	free(m);
}

/* Queue @req as one GL_OP_INFER with the rest of the data area as its
 * answer buffer (at most @ans_max bytes). The answer buffer's offset, or
 * -EFBIG, -EBUSY (the SQ is full), or gl_ring_submit()'s -errno. */
static int64_t model_submit(struct gl_model *m, const void *req, size_t len,
			    size_t ans_max)
{
	size_t ans = (len + MODEL_ALIGN - 1) & ~(size_t)(MODEL_ALIGN - 1);
	struct gl_sqe *sqe;
	int err;

	if (len > UINT32_MAX || ans > m->data_size)
		return -EFBIG;
	sqe = gl_ring_get_sqe(m->ring);
	if (!sqe)
		return -EBUSY;
	memcpy(m->data, req, len);
	gl_ring_prep_infer(sqe, 0, (uint32_t)len, ans,
			   m->data_size - ans < ans_max ? m->data_size - ans :
							  ans_max, ++m->seq);
	err = gl_ring_submit(m->ring);
	return err < 0 ? err : (int64_t)ans;
}

/*
 * Wait for the next completion of the request in flight: 0 with the new
 * bytes' range (*@off from the answer buffer, *@len) and *@more, the
 * request's -errno when its last completion says so, or the ring's
 * -errno (-ENOTCONN, -EKEYEXPIRED, -EPROTO).
 */
static int model_next(struct gl_model *m, uint64_t ans_max, uint32_t *off,
		      uint32_t *len, int *more)
{
	struct gl_cqe *cqe, c;
	int err;

	for (;;) {
		err = gl_ring_wait_cqe(m->ring, &cqe, -1);
		if (err)
			return err;
		memcpy(&c, cqe, sizeof(c));
		gl_ring_cqe_seen(m->ring, cqe);
		if (c.user_data == m->seq)
			break;
	}
	*more = !!(c.flags & GL_CQE_F_MORE);
	if (c.status)
		return c.status > 0 ? -EPROTO : c.status;
	/* the daemon's word, checked all the same */
	if ((uint64_t)c.ans.off + c.ans.len > ans_max)
		return -EPROTO;
	*off = c.ans.off;
	*len = c.ans.len;
	return 0;
}

/* Drain the request in flight after an error of ours: until its last
 * completion or the ring's end. */
static void model_drain(struct gl_model *m, uint64_t ans_max, int more)
{
	uint32_t off, len;

	while (more && model_next(m, ans_max, &off, &len, &more) >= 0)
		;
}

/*
 * gl_model_stream - send one request (@len bytes, the text or binary
 * form a write to models/NAME/infer takes) and call @fn(@arg, bytes, n)
 * for each part of the answer as it comes, in order, pointing into the
 * ring's data area (valid during the call). A negative return of @fn
 * stops the calls; the request still runs to its end, and that value is
 * returned. Returns the answer's length, or -errno: the request's
 * (-EINVAL, -EFBIG: the answer outgrew the data area, -EBUSY,
 * -EKEYEXPIRED, -ECANCELED, ...) or the ring's (-ENOTCONN: the daemon
 * is gone; -EKEYEXPIRED: the ring died, its lease dropped or expired).
 */
GL_EXPORT ssize_t gl_model_stream(struct gl_model *m, const void *req,
				  size_t len,
				  int (*fn)(void *arg, const void *buf,
					    size_t n),
				  void *arg)
{
	int64_t ans = model_submit(m, req, len, SIZE_MAX);
	uint64_t ans_max, total = 0;
	uint32_t off, n;
	int more = 1, err = 0, stop = 0;

	if (ans < 0)
		return ans;
	ans_max = m->data_size - (uint64_t)ans;
	while (more) {
		err = model_next(m, ans_max, &off, &n, &more);
		if (err)
			break;
		total = (uint64_t)off + n;
		if (n && fn && !stop) {
			stop = fn(arg, m->data + ans + off, n);
			if (stop > 0)
				stop = 0;
		}
	}
	if (err)
		model_drain(m, ans_max, more);
	if (err)
		return err;
	return stop ? stop : (ssize_t)total;
}

/*
 * gl_model_infer - gl_model_stream() with the whole answer copied into
 * @ans (@size bytes): returns its length, or -EFBIG when it does not fit
 * (the daemon stops the request), or gl_model_stream()'s -errno.
 */
GL_EXPORT ssize_t gl_model_infer(struct gl_model *m, const void *req,
				 size_t len, void *ans, size_t size)
{
	int64_t at = model_submit(m, req, len, size);
	uint64_t ans_max;
	uint32_t off, n;
	int more = 1, err = 0;
	uint64_t total = 0;

	if (at < 0)
		return at;
	ans_max = m->data_size - (uint64_t)at;
	if (ans_max > size)
		ans_max = size;
	while (more) {
		err = model_next(m, ans_max, &off, &n, &more);
		if (err) {
			model_drain(m, ans_max, more);
			return err;
		}
		total = (uint64_t)off + n;
	}
	memcpy(ans, m->data + at, total);
	return (ssize_t)total;
}
