/* SPDX-License-Identifier: MIT */
/*
 * The client side of a model's request ring (models/NAME/io, the io
 * region of its lease model.NAME; GL_OP_INFER in Documentation/ring.md):
 * open a model by name, send one request at a time and take its answer
 * whole or chunk by chunk as the completions stream in. Built on the
 * ring API of ring.c, whose waits report a dead daemon as -ENOTCONN.
 *
 * The daemon gone (ENOTCONN, the seed's Disconnected) is transient when
 * the caller set a retry limit (gl_model_set_retry()): the handle waits
 * with exponential backoff for a daemon on the same mount point to serve
 * the model again, reopens its ring (a new mount, a new ring) and sends
 * the request again, and reports ENOTCONN once the limit passed.
 *
 * Invariant: one request in flight per handle: the request is written at
 * the start of the data area and the answer buffer is the rest of it, and
 * a call returns only after its request's last completion (or once the
 * ring is dead or the daemon gone), so a later request never sees an
 * earlier one's completions. Completions with another user_data (left by
 * an earlier user of the ring) are handed back unread. A request is sent
 * again only while none of its answer reached the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/lib/internal.h"

#define MODEL_LEASE_PREFIX	"model."
#define MODEL_ALIGN		64	/* the answer buffer's alignment */

struct gl_model {
	struct gl_ring *ring;	/* NULL after a reopen that failed */
	char *data;		/* the ring's data area */
	size_t data_size;
	uint64_t seq;		/* user_data of the last request */
	unsigned int retry_ms;	/* how long ENOTCONN is retried; 0: not */
	char lease[GL_NAME_MAX + 1];	/* model.NAME */
	char mnt[];		/* the mount point, to reopen the tree by */
};

/* Map the request ring of @m's lease on tree @g into @m, replacing the
 * one it had. 0 or gl_ring_open()'s -errno, @m unchanged then. */
static int model_map(struct gl_model *m, struct gl *g)
{
	struct gl_ring *ring;
	int err;

	err = gl_ring_open(g, m->lease, &ring);
	if (err)
		return err;
	gl_ring_close(m->ring);
	m->ring = ring;
	m->data = gl_ring_data(ring, &m->data_size);
	return 0;
}

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
	const char *mnt = gl_mount_path(g);
	struct gl_model *m;
	int n, err;

	*out = NULL;
	if (!name)
		return -EINVAL;
	n = snprintf(lease, sizeof(lease), MODEL_LEASE_PREFIX "%s", name);
	if (n < 0 || (size_t)n > GL_NAME_MAX || gl_name_valid(lease))
		return -EINVAL;
	m = calloc(1, sizeof(*m) + strlen(mnt) + 1);
	if (!m)
		return -ENOMEM;
	memcpy(m->lease, lease, (size_t)n + 1);
	strcpy(m->mnt, mnt);
	err = model_map(m, g);
	if (err) {
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

/*
 * gl_model_set_retry - retry requests of @m for up to @max_ms
 * milliseconds when the daemon is gone (0, the default: report
 * -ENOTCONN at once). Returns 0, or -EINVAL when @m is NULL.
 */
GL_EXPORT int gl_model_set_retry(struct gl_model *m, unsigned int max_ms)
{
	if (!m)
		return -EINVAL;
	m->retry_ms = max_ms;
	return 0;
}

static int64_t model_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void model_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A request's -errno as the caller sees it: a ring that died because
 * its daemon is gone (a clean stop cancels the requests and kills the
 * rings after it unmounted) says -ENOTCONN. */
static int model_err(struct gl_model *m, int err)
{
	if ((err == -ECANCELED || err == -EKEYEXPIRED || err == -EPROTO) &&
	    __gl_ring_gone(m->ring))
		return -ENOTCONN;
	return err;
}

/* Reopen the tree and the model's ring once. 0 or -errno: -ENOTCONN
 * (no daemon serves the mount point) and -ENOENT (the model, or its
 * ring, is not back yet) may pass. */
static int model_reopen(struct gl_model *m)
{
	struct gl *g;
	int err;

	err = gl_open(m->mnt, &g);
	if (err)
		return err;
	err = model_map(m, g);
	gl_close(g);
	return err;
}

/*
 * After -ENOTCONN: reopen with exponential backoff (GL_MODEL_RETRY_FIRST_MS
 * doubling up to GL_MODEL_RETRY_STEP_MS) until *@deadline (set from
 * retry_ms on the call's first failure, < 0 before). 0 once reopened;
 * -ENOTCONN when no retry is set or the deadline passed; a reopen's
 * other -errno (-EACCES, -EKEYEXPIRED, -ENOMEM, -EINVAL) at once.
 */
static int model_reconnect(struct gl_model *m, int64_t *deadline)
{
	int64_t now = model_now_ms(), step = GL_MODEL_RETRY_FIRST_MS;
	int err;

	if (!m->retry_ms)
		return -ENOTCONN;
	if (*deadline < 0)
		*deadline = now + m->retry_ms;
	for (;;) {
		err = model_reopen(m);
		if (!err)
			return 0;
		if (err != -ENOTCONN && err != -ENOENT)
			return err;
		now = model_now_ms();
		if (now >= *deadline)
			return -ENOTCONN;
		model_sleep_ms(step < *deadline - now ? step :
			       *deadline - now);
		step = step * 2 < GL_MODEL_RETRY_STEP_MS ? step * 2 :
			GL_MODEL_RETRY_STEP_MS;
	}
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

/* One try of gl_model_stream(); *@sent once @fn has been called. */
static ssize_t model_stream_once(struct gl_model *m, const void *req,
				 size_t len,
				 int (*fn)(void *arg, const void *buf,
					   size_t n),
				 void *arg, int *sent)
{
	int64_t ans = model_submit(m, req, len, SIZE_MAX);
	uint64_t ans_max, total = 0;
	uint32_t off, n;
	int more = 1, err = 0, stop = 0;

	if (ans < 0)
		return model_err(m, (int)ans);
	ans_max = m->data_size - (uint64_t)ans;
	while (more) {
		err = model_next(m, ans_max, &off, &n, &more);
		if (err)
			break;
		total = (uint64_t)off + n;
		if (n && fn && !stop) {
			*sent = 1;
			stop = fn(arg, m->data + ans + off, n);
			if (stop > 0)
				stop = 0;
		}
	}
	if (err)
		model_drain(m, ans_max, more);
	if (err)
		return model_err(m, err);
	return stop ? stop : (ssize_t)total;
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
 * is gone, and it did not come back within gl_model_set_retry()'s
 * limit, or @fn had been called already; -EKEYEXPIRED: the ring died,
 * its lease dropped or expired).
 */
GL_EXPORT ssize_t gl_model_stream(struct gl_model *m, const void *req,
				  size_t len,
				  int (*fn)(void *arg, const void *buf,
					    size_t n),
				  void *arg)
{
	int64_t deadline = -1;
	ssize_t ret;
	int sent = 0, err;

	for (;;) {
		ret = m->ring ? model_stream_once(m, req, len, fn, arg, &sent)
			      : -ENOTCONN;
		/* half an answer cannot be taken back: no second try */
		if (ret != -ENOTCONN || sent)
			return ret;
		err = model_reconnect(m, &deadline);
		if (err)
			return err;
	}
}

/* One try of gl_model_infer(). */
static ssize_t model_infer_once(struct gl_model *m, const void *req,
				size_t len, void *ans, size_t size)
{
	int64_t at = model_submit(m, req, len, size);
	uint64_t ans_max;
	uint32_t off, n;
	int more = 1, err = 0;
	uint64_t total = 0;

	if (at < 0)
		return model_err(m, (int)at);
	ans_max = m->data_size - (uint64_t)at;
	if (ans_max > size)
		ans_max = size;
	while (more) {
		err = model_next(m, ans_max, &off, &n, &more);
		if (err) {
			model_drain(m, ans_max, more);
			return model_err(m, err);
		}
		total = (uint64_t)off + n;
	}
	memcpy(ans, m->data + at, total);
	return (ssize_t)total;
}

/*
 * gl_model_infer - gl_model_stream() with the whole answer copied into
 * @ans (@size bytes): returns its length, or -EFBIG when it does not fit
 * (the daemon stops the request), or gl_model_stream()'s -errno. With a
 * retry limit set, a request cut by the daemon's death is sent again
 * once the model is back.
 */
GL_EXPORT ssize_t gl_model_infer(struct gl_model *m, const void *req,
				 size_t len, void *ans, size_t size)
{
	int64_t deadline = -1;
	ssize_t ret;
	int err;

	for (;;) {
		ret = m->ring ? model_infer_once(m, req, len, ans, size)
			      : -ENOTCONN;
		if (ret != -ENOTCONN)
			return ret;
		err = model_reconnect(m, &deadline);
		if (err)
			return err;
	}
}
