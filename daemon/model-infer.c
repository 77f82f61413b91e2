// SPDX-License-Identifier: MIT
/*
 * Requests on a model: a language model's request (either form, parsed
 * by model-ask.c) or an mlp's tensor, queued for the model's batch
 * (model-batch.c, which runs them as one step launch at a time over
 * every request admitted), and their answers, which a reader takes as
 * they grow.
 * Invariant: a started request is held by the batch (queued, or
 * admitted to it) until it ends, exactly once, through req_end(): by
 * the step that made its last token or failed it, or here when it
 * could not be queued. A request that ended with an error never reads
 * as a whole answer.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "uapi/model.h"

#define MODEL_REQ_MAX	65536	/* bytes of one request */

void model_req_get(struct model_req *rq)
{
	atomic_fetch_add(&rq->refs, 1);
}

void model_req_unref(struct model_req *rq)
{
	if (atomic_fetch_sub(&rq->refs, 1) != 1)
		return;
	model_put(rq->m);
	pthread_cond_destroy(&rq->grown);
	pthread_mutex_destroy(&rq->lock);
	free(rq->ids);
	free(rq->in);
	free(rq->out);
	free(rq->stops);
	tokenizer_dec_free(&rq->dec);
	free(rq);
}

void model_req_put(struct model_req *rq)
{
	atomic_store(&rq->abandoned, true);
	model_req_unref(rq);
}

/* Fold @rq's run into its model's estimate (model-admit.c): the prompt
 * rows up to the first token, the other tokens after it. */
static void req_learn(struct model_req *rq)
{
	int64_t now = clock_mono();
	int64_t first = rq->m->mlp || !rq->first_ns ? now : rq->first_ns;

	model_admit_learn(rq->m, rq->m->mlp ? rq->rows : rq->n_prompt,
			  first - rq->start_ns, rq->made ? rq->made - 1 : 0,
			  now - first);
}

/* The end of @rq: its slot back, its readers woken. */
static void req_end(struct model_req *rq, int err)
{
	struct model *m = rq->m;

	if (rq->has_slot) {
		pthread_mutex_lock(&m->lock);
		m->slots &= ~(UINT64_C(1) << rq->slot);
		pthread_mutex_unlock(&m->lock);
	}
	model_req_ended(m);	/* model-cold.c: its idle clock */
	atomic_fetch_sub(&m->running, 1);
	if (rq->start_ns) {	/* a refused one is model_req_start's */
		hist_observe(&m->latency, (uint64_t)(clock_mono() -
						rq->start_ns) / 1000);
		if (err)
			model_count_failure(m, err);
	}
	if (!err && rq->start_ns)	/* it ran whole: the estimate learns */
		req_learn(rq);
	if (err)
		model_fail(m, err, "request failed after %u tokens",
			   rq->made);
	pthread_mutex_lock(&rq->lock);
	rq->ended = true;
	rq->end_err = err;
	pthread_cond_broadcast(&rq->grown);
	if (rq->watch)
		rq->watch(rq->watch_ctx, rq->out, rq->out_len, true, err);
	pthread_mutex_unlock(&rq->lock);
}

/* Append the @n pieces of @iov to @rq's answer at once: a reader sees
 * all of them or none. 0 or -ENOMEM. */
static int req_appendv(struct model_req *rq, const struct iovec *iov, int n)
{
	size_t len = 0, cap;
	int err = 0, i;
	char *o;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	pthread_mutex_lock(&rq->lock);
	if (rq->out_len + len > rq->out_cap) {
		cap = rq->out_cap ? rq->out_cap * 2 : 256;
		while (cap < rq->out_len + len)
			cap *= 2;
		o = realloc(rq->out, cap);
		if (o) {
			rq->out = o;
			rq->out_cap = cap;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err) {
		for (i = 0; i < n; i++) {
			if (!iov[i].iov_len)
				continue;	/* its base may be NULL */
			memcpy(rq->out + rq->out_len, iov[i].iov_base,
			       iov[i].iov_len);
			rq->out_len += iov[i].iov_len;
		}
		pthread_cond_broadcast(&rq->grown);
		if (rq->watch)
			rq->watch(rq->watch_ctx, rq->out, rq->out_len, false,
				  0);
	}
	pthread_mutex_unlock(&rq->lock);
	return err;
}

static int req_append(struct model_req *rq, const char *p, size_t n)
{
	struct iovec iov = { (void *)p, n };

	return req_appendv(rq, &iov, 1);
}

/* Append @n bytes of generated text: with stop strings, up to and
 * including the first of them to end in it, which makes @rq complete
 * (rq->stopped); the rest is never sent. 0 or -ENOMEM. */
static int req_text(struct model_req *rq, const char *p, size_t n)
{
	size_t upto;

	if (!rq->stops || rq->stopped)
		return rq->stopped ? 0 : req_append(rq, p, n);
	upto = stopstr_find(rq->stops, rq->tail, rq->tail_len, p, n);
	if (upto) {
		n = upto;
		rq->stopped = rq->complete = true;
	}
	stopstr_tail(rq->tail, &rq->tail_len, p, n);
	return req_append(rq, p, n);
}

/* Pick the next token from the last row's logits and append it; the
 * answer's last also appends the text its decoder held back, unless a
 * stop string ended it (the text after one is not sent). */
static int step_sample(struct model_req *rq, void *base, uint32_t row)
{
	struct model *m = rq->m;
	const struct llama_plan *p = &m->plan;
	struct tokenizer_view v;	/* its tables in the lease at @base */
	const struct tokenizer *tk = &v.tk;
	const char *piece;
	uint32_t tok, le;
	char trailer[32];
	ssize_t n;
	bool stop;
	int err;

	err = sample_token(llama_logits(p, base, row), p->cfg.vocab_size,
			   &rq->sp, &rq->rng, (char *)base + m->scratch, &tok);
	if (err)
		return err;
	if (!rq->made++)
		rq->first_ns = clock_mono();
	atomic_fetch_add(&m->tokens, 1);
	stop = rq->stop && (tok == TOKENIZER_BOS || tok == TOKENIZER_EOS);
	rq->complete = stop || rq->made == rq->max_tokens ||
		       rq->pos >= p->max_ctx;
	if (rq->emit == MODEL_OUT_U32) {
		if (stop)
			return 0;	/* the end, not sent */
		rq->last = tok;
		le = htole32(tok);
		return req_append(rq, (const char *)&le, sizeof(le));
	}
	tokenizer_view(rq->emit == MODEL_OUT_TEXT ? &m->tok : NULL, base, &v);
	if (!stop) {	/* as run.c: the end, not printed */
		n = tokenizer_decode(tk, &rq->dec, rq->last, tok, &piece);
		if (n < 0)
			return (int)n;
		rq->last = tok;
		err = req_text(rq, piece, (size_t)n);
		if (err || !rq->complete)
			return err;
	}
	n = tokenizer_decode(tk, &rq->dec, rq->last, TOKENIZER_END, &piece);
	if (n < 0)
		return (int)n;
	err = req_text(rq, piece, (size_t)n);
	if (err || !rq->usage)
		return err;
	/* usage=1: the prompt's ids and the tokens made (a stop token not) */
	n = snprintf(trailer, sizeof(trailer), "\x1eusage %u %u\n",
		     rq->n_prompt, rq->made - stop);
	return req_append(rq, trailer, (size_t)n);
}

void model_req_end(struct model_req *rq, int err)
{
	req_end(rq, err);
}

int model_req_sample(struct model_req *rq, void *base, uint32_t row)
{
	return step_sample(rq, base, row);
}

/* An mlp request's answer: the header, then its @rows output rows. */
int model_req_mlp_answer(struct model_req *rq, const float *rows)
{
	const struct mlp_plan *p = &rq->m->mplan;
	uint32_t out = p->cfg.layer[p->cfg.n_layers - 1].out;
	struct gl_infer_tensor h = {
		.magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		.rows = rq->rows, .cols = out, .served_by = rq->served_by,
	};
	struct iovec iov[2] = {
		{ &h, sizeof(h) },
		{ (void *)rows, (size_t)rq->rows * out * sizeof(float) },
	};

	rq->complete = true;
	return req_appendv(rq, iov, 2);	/* whole: one read takes it */
}

static struct model_req *req_new(struct model *m)
{
	struct model_req *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return NULL;
	atomic_init(&rq->refs, 1);
	pthread_mutex_init(&rq->lock, NULL);
	pthread_cond_init(&rq->grown, NULL);
	model_get(m);
	rq->m = m;
	return rq;
}

/* req_fallback's: the model whose request this thread starts on its
 * fallback=, or NULL. */
static __thread struct model *req_fallback_for;

/* A fallback's text answer opens with the line "served_by NAME"; its
 * binary form says so in its header (mlp_exec), a language model's
 * when asked (GL_INFER_SERVED_BY: whoever served it). 0 or -ENOMEM. */
static int req_fallback_note(struct model_req *rq)
{
	struct gl_infer_served h = { .magic = htole32(GL_INFER_SERVED_MAGIC) };
	char line[GL_NAME_MAX + 16];
	int n;

	if (req_fallback_for)
		rq->served_by = rq->m->id;
	if (rq->served_hdr) {
		h.served_by = htole64(rq->served_by);
		return req_append(rq, (const char *)&h, sizeof(h));
	}
	if (!req_fallback_for || rq->m->mlp || rq->emit == MODEL_OUT_U32)
		return 0;
	n = snprintf(line, sizeof(line), "served_by %s\n", rq->m->name);
	return req_append(rq, line, (size_t)n);
}

/* Queue a new @rq for its model's batch: 0 with *@out, or -errno. */
static int req_go(struct model_req *rq, struct model_req **out)
{
	struct model *m = rq->m;
	int err;

	atomic_fetch_add(&m->running, 1);
	rq->start_ns = clock_mono();
	err = req_fallback_note(rq);
	if (!err)
		err = model_batch_add(rq);
	if (err) {
		rq->start_ns = 0;	/* not queued: counted as refused */
		req_end(rq, err);
		model_req_unref(rq);
		return err;
	}
	*out = rq;
	return 0;
}

/* The binary form (uapi/model.h) on an mlp: header, rows * inputs f32. */
static int mlp_req_start(struct model *m, const char *buf, size_t len,
			 struct model_req **out)
{
	const struct mlp_plan *p = &m->mplan;
	uint32_t in = p->cfg.layer[0].in;
	struct gl_infer_tensor h;
	struct model_req *rq;
	int64_t deadline;
	size_t bytes;
	int err;

	if (len < sizeof(h))
		return model_fail(m, -EINVAL, "a request is a "
				  "gl_infer_tensor header and its rows");
	memcpy(&h, buf, sizeof(h));
	if (h.magic != GL_INFER_MAGIC || h.dtype != GL_INFER_F32 ||
	    h.served_by || h.reserved || h.cols != in || !h.rows)
		return model_fail(m, -EINVAL, "bad header: magic, dtype f32, "
				  "cols %u, rows >= 1, served_by and "
				  "reserved 0", in);
	if (h.rows > p->max_batch)
		return model_fail(m, -EFBIG, "%u rows, max_batch %u", h.rows,
				  p->max_batch);
	bytes = (size_t)h.rows * in * sizeof(float);
	if (len - sizeof(h) != bytes)
		return model_fail(m, -EINVAL, "%zu bytes of rows, %zu "
				  "expected", len - sizeof(h), bytes);
	if (h.deadline_ms > MODEL_DEADLINE_MAX_MS)
		return model_fail(m, -EINVAL, "deadline_ms over a day");
	err = model_admit(m, h.deadline_ms, h.rows, 0, &deadline);
	if (err)
		return err;
	rq = req_new(m);
	if (!rq || !(rq->in = malloc(bytes))) {
		if (rq)
			model_req_unref(rq);
		return model_fail(m, -ENOMEM, "no memory for a request");
	}
	memcpy(rq->in, buf + sizeof(h), bytes);
	rq->rows = h.rows;
	rq->deadline_ns = deadline;
	return req_go(rq, out);
}

/* model_req_start's: 0 with *@out, or -errno for a request refused. */
static int req_start(struct model *m, const char *buf, size_t len,
		     struct model_req **out)
{
	struct model_req *rq;
	struct model_ask a;
	const char *why;
	int64_t deadline;
	int err;

	err = model_check(m);
	if (err && atomic_load(&m->set->stopping))	/* as one in flight */
		return model_fail(m, -ECANCELED, "request cancelled: the "
				  "daemon is stopping");
	if (err)
		return model_fail(m, err, "request refused: the model is "
				  "not warm");
	if (len > MODEL_REQ_MAX)
		return model_fail(m, -EFBIG, "request of %zu bytes (at most "
				  "%d)", len, MODEL_REQ_MAX);
	if (m->mlp && len >= 4 &&
	    !memcmp(buf, &(uint32_t){ GL_INFER_IDS_MAGIC }, 4))
		return model_fail(m, -EOPNOTSUPP, "token ids are a language "
				  "model's; an mlp takes gl_infer_tensor");
	if (m->mlp)
		return mlp_req_start(m, buf, len, out);
	err = model_ask_parse(m, buf, len, &a, &why);
	if (err)
		return model_fail(m, err, "request refused: %s", why);
	err = model_admit(m, a.deadline_ms, a.n_ids, a.max_tokens, &deadline);
	if (err) {
		free(a.ids);
		return err;
	}
	rq = req_new(m);
	if (!rq) {
		free(a.ids);
		return model_fail(m, -ENOMEM, "no memory for a request");
	}
	rq->ids = a.ids;
	rq->n_prompt = a.n_ids;
	rq->max_tokens = a.max_tokens;
	rq->sp = a.sp;
	sample_seed(&rq->rng, a.seed);
	rq->emit = a.out;
	rq->stop = a.stop;
	rq->deadline_ns = deadline;
	rq->usage = a.usage;
	rq->served_hdr = a.served_hdr;
	if (a.stops.n) {
		rq->stops = malloc(sizeof(*rq->stops));
		if (!rq->stops) {
			model_req_unref(rq);
			return model_fail(m, -ENOMEM, "no memory for a "
					  "request");
		}
		*rq->stops = a.stops;
	}
	return req_go(rq, out);
}

/* @m had no room: its fallback @fb serves the request instead. */
static int req_fallback(struct model *m, struct model *fb, const char *buf,
			size_t len, struct model_req **out)
{
	int err;

	err = model_warm_enter(fb, model_wait_deadline(fb,
				model_admit_asked_ms(buf, len)));
	if (!err) {
		req_fallback_for = m;
		err = req_start(fb, buf, len, out);
		req_fallback_for = NULL;
		model_warm_leave(fb);
	}
	if (err == -ENOSPC)	/* no fallback's fallback */
		err = -EBUSY;
	if (err)
		return model_fail(m, err, "its fallback %s refused the "
				  "request", fb->name);
	atomic_fetch_add(&m->fallbacks, 1);
	return 0;
}

int model_req_start(struct model *m, const char *buf, size_t len,
		    struct model_req **out)
{
	struct model *fb;
	int err;

	atomic_fetch_add(&m->requests, 1);
	atomic_fetch_add(&m->bytes_in, len);
	atomic_fetch_add(&m->set->bytes_in, len);
	/* model-cold.c: warm it (a cold start) and keep it so, waiting
	 * for room until wait_ms or the request's deadline */
	err = model_warm_enter(m, model_wait_deadline(m,
				model_admit_asked_ms(buf, len)));
	if (!err) {
		err = req_start(m, buf, len, out);
		model_warm_leave(m);
	} else if (err == -ENOSPC) {
		fb = model_fallback(m);
		err = fb ? req_fallback(m, fb, buf, len, out) :
			   model_fail(m, -EBUSY, "no room, and its fallback "
				      "%s is not a model of its owner's",
				      m->fallback);
		model_put(fb);
	}
	if (err) {
		model_count_failure(m, err);
		model_admit_refused(m, err);
	}
	return err;
}

void model_req_sent(struct model_req *rq, size_t n)
{
	atomic_fetch_add(&rq->m->bytes_out, (uint64_t)n);
	atomic_fetch_add(&rq->m->set->bytes_out, (uint64_t)n);
}

void model_req_watch(struct model_req *rq, model_req_watch_fn *fn,
		     void *ctx)
{
	pthread_mutex_lock(&rq->lock);
	rq->watch = fn;
	rq->watch_ctx = ctx;
	/* what happened before it was watched */
	if (fn && (rq->out_len || rq->ended))
		fn(ctx, rq->out, rq->out_len, rq->ended, rq->end_err);
	pthread_mutex_unlock(&rq->lock);
}

ssize_t model_req_read(struct model_req *rq, char *buf, size_t size,
		       bool nonblock)
{
	ssize_t n;

	if (!size)
		return 0;
	pthread_mutex_lock(&rq->lock);
	while (rq->rd == rq->out_len && !rq->ended && !nonblock)
		pthread_cond_wait(&rq->grown, &rq->lock);
	n = (ssize_t)(rq->out_len - rq->rd);
	if ((size_t)n > size)
		n = (ssize_t)size;
	if (n) {
		memcpy(buf, rq->out + rq->rd, (size_t)n);
		rq->rd += (size_t)n;
		model_req_sent(rq, (size_t)n);
	} else if (rq->ended) {
		n = rq->end_err;
	} else {
		n = -EAGAIN;
	}
	pthread_mutex_unlock(&rq->lock);
	return n;
}
