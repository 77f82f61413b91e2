// SPDX-License-Identifier: MIT
/*
 * Requests on a model: a language model's request (either form, parsed
 * by model-ask.c) or an mlp's tensor, then generation as a series of
 * launch bodies on the model lease's queue, one forward step each (the
 * prompt in steps of up to max_batch rows, then one row per new token),
 * so the queue's order, watchdog, cancellation and expiry rules apply to
 * every step. A reader takes the answer as it grows.
 * Invariant: a request always has exactly one step queued or running
 * until it ends: a step's done() queues the next one or ends it. So an
 * expiry or a drop, which end every queued and running step of the
 * lease with their errno, end every request of the model, and a request
 * that ended with an error never reads as a whole answer.
 * No allocation per step: a request owns its two step launches
 * (model_req.step), used in turn, and launch.c hands a finished one back
 * through model_release instead of freeing it. Step N+1 is queued (in the
 * other launch) from step N's done(), while launch.c still finishes step
 * N; step N+2 reuses step N's launch from step N+1's done(), and only a
 * step that ran calls done() with status 0 and queues another. Step N+1
 * runs only once step N's launch_finish() has returned (the queue is
 * finishing until then: launch_end), so step N's release() has run, and
 * its launch is free, before step N+2 is queued in it (model_launch.busy
 * asserts it). A step that never ran (failed by launch_close or
 * launch_cancel, maybe on another thread while step N still finishes)
 * has an errno and ends the request, so it queues nothing.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "uapi/model.h"

#define MODEL_REQ_MAX	65536	/* bytes of one request */

struct model_req;

/* One of a request's two step launches: launch.c's while it is queued,
 * running or finishing (busy), the request's again after release. */
struct model_launch {
	struct launch la;		/* first: launch.c's view of it */
	struct model_req *rq;		/* the request it is part of */
	atomic_bool busy;		/* enqueued, not yet released */
};

struct model_req {
	_Atomic long refs;
	struct model *m;		/* reference */
	uint32_t slot;			/* its KV slot, fixed */
	bool has_slot;			/* a language model's request */
	int64_t start_ns;		/* clock_mono() when queued; 0: never
					 * started (refused) */
	float *in;			/* mlp: rows * inputs f32 */
	uint32_t rows;			/* mlp: rows in */
	/* the steps' own: touched by one step at a time */
	uint32_t *ids;			/* the prompt, n_prompt ids */
	uint32_t n_prompt;
	uint32_t fed;			/* prompt ids fed so far */
	uint32_t pos;			/* next position */
	uint32_t last;			/* the latest token fed or made */
	uint32_t made;			/* tokens generated */
	uint32_t max_tokens;
	uint32_t nsteps;		/* steps queued: step[nsteps % 2] is
					 * the next one's */
	struct model_launch step[2];	/* each holds a reference while
					 * busy */
	enum model_out emit;		/* the answer's form */
	bool stop;			/* BOS or EOS ends it, unwritten */
	bool complete;			/* the last step made the last token */
	struct tokenizer_dec dec;	/* the answer's text held back */
	struct sample_params sp;
	struct sample_rng rng;
	atomic_bool abandoned;		/* its opener closed it */
	/* the answer */
	pthread_mutex_t lock;		/* guards what follows */
	pthread_cond_t grown;		/* out grew, or the end */
	char *out;
	size_t out_len, out_cap, rd;
	bool ended;
	int err;			/* 0 or the -errno it ended with */
	model_req_watch_fn *watch;	/* or NULL; called under lock */
	void *watch_ctx;
};

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
	tokenizer_dec_free(&rq->dec);
	free(rq);
}

void model_req_put(struct model_req *rq)
{
	atomic_store(&rq->abandoned, true);
	model_req_unref(rq);
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
	atomic_fetch_sub(&m->running, 1);
	if (rq->start_ns) {	/* a refused one is model_req_start's */
		hist_observe(&m->latency, (uint64_t)(clock_mono() -
						rq->start_ns) / 1000);
		if (err)
			model_count_failure(m, err);
	}
	if (err)
		model_fail(m, err, "request failed after %u tokens",
			   rq->made);
	pthread_mutex_lock(&rq->lock);
	rq->ended = true;
	rq->err = err;
	pthread_cond_broadcast(&rq->grown);
	if (rq->watch)
		rq->watch(rq->watch_ctx, rq->out, rq->out_len, true, err);
	pthread_mutex_unlock(&rq->lock);
}

static int req_append(struct model_req *rq, const char *p, size_t n)
{
	int err = 0;

	pthread_mutex_lock(&rq->lock);
	if (rq->out_len + n > rq->out_cap) {
		size_t cap = rq->out_cap ? rq->out_cap * 2 : 256;
		char *o;

		while (cap < rq->out_len + n)
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
		memcpy(rq->out + rq->out_len, p, n);
		rq->out_len += n;
		pthread_cond_broadcast(&rq->grown);
		if (rq->watch)
			rq->watch(rq->watch_ctx, rq->out, rq->out_len, false,
				  0);
	}
	pthread_mutex_unlock(&rq->lock);
	return err;
}

/* Pick the next token from the last row's logits and append it; the
 * answer's last also appends the text its decoder held back. */
static int step_sample(struct model_req *rq, void *base, uint32_t row)
{
	struct model *m = rq->m;
	const struct llama_plan *p = &m->plan;
	struct tokenizer_view v;	/* its tables in the lease at @base */
	const struct tokenizer *tk = &v.tk;
	const char *piece;
	uint32_t tok, le;
	ssize_t n;
	bool stop;
	int err;

	err = sample_token(llama_logits(p, base, row), p->cfg.vocab_size,
			   &rq->sp, &rq->rng, (char *)base + m->scratch, &tok);
	if (err)
		return err;
	rq->made++;
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
		err = req_append(rq, piece, (size_t)n);
		if (err || !rq->complete)
			return err;
	}
	n = tokenizer_decode(tk, &rq->dec, rq->last, TOKENIZER_END, &piece);
	if (n < 0)
		return (int)n;
	return req_append(rq, piece, (size_t)n);
}

/* An mlp request's one pass: its rows in, forward, the answer out. */
static int mlp_exec(struct model_req *rq, void *base, atomic_int *cancel)
{
	const struct mlp_plan *p = &rq->m->mplan;
	uint32_t out = p->cfg.layer[p->cfg.n_layers - 1].out;
	struct gl_infer_tensor h = {
		.magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		.rows = rq->rows, .cols = out,
	};
	int err;

	memcpy(mlp_input(p, base), rq->in,
	       (size_t)rq->rows * p->cfg.layer[0].in * sizeof(float));
	err = mlp_forward(p, base, rq->rows, cancel);
	if (err)
		return err;
	rq->complete = true;
	err = req_append(rq, (const char *)&h, sizeof(h));
	if (!err)
		err = req_append(rq, (const char *)mlp_output(p, base),
				 (size_t)rq->rows * out * sizeof(float));
	return err;
}

/*
 * One forward step of a request: the body's exec, on the executor with
 * the lease's mem_lock read side held. The debug knob model_step_hold
 * keeps a request that has made a token here, stoppable, so tests can
 * expire or unload under a running request.
 */
static int model_exec(struct launch *la, const struct lease_mem *mem)
{
	struct model_req *rq = ((struct model_launch *)la)->rq;
	struct model *m = rq->m;
	const struct llama_plan *p = &m->plan;
	uint32_t slots[MODEL_MAX_BATCH], pos[MODEL_MAX_BATCH];
	const uint32_t *toks;
	uint32_t n, i;
	void *base;
	int err, stop;

	if (mem->vram < m->need)
		return -EFAULT;	/* its owner shrank the lease */
	err = mem->dev->ops->resolve(mem->region, 0, m->need, &base);
	if (err)
		return err;
	while (rq->made && atomic_load(&m->set->pol->model_step_hold) &&
	       !atomic_load(&la->cancel))
		usleep(1000);
	stop = atomic_load(&la->cancel);
	if (stop)
		return -stop;
	if (m->mlp)
		return mlp_exec(rq, base, &la->cancel);
	if (rq->fed < rq->n_prompt) {
		n = rq->n_prompt - rq->fed;
		if (n > p->max_batch)
			n = p->max_batch;
		toks = rq->ids + rq->fed;
	} else {
		n = 1;
		toks = &rq->last;
	}
	for (i = 0; i < n; i++) {
		slots[i] = rq->slot;
		pos[i] = rq->pos + i;
	}
	err = llama_step_team(p, base, m->team, n, toks, slots, pos,
			      &la->cancel);
	if (err)
		return err;
	rq->pos += n;
	if (rq->fed < rq->n_prompt) {
		rq->fed += n;
		rq->last = rq->ids[rq->fed - 1];
		if (rq->fed < rq->n_prompt)
			return 0;
	}
	return step_sample(rq, base, n - 1);
}

static bool model_touches_vram(const struct launch *la)
{
	(void)la;
	return true;	/* activations and the KV cache */
}

/* launch.c is done with step @la: it is free for the step after next,
 * and its reference to the request goes (which may free both). */
static void model_release(struct launch *la)
{
	struct model_launch *ml = (struct model_launch *)la;
	struct model_req *rq = ml->rq;

	atomic_store(&ml->busy, false);
	model_req_unref(rq);
}

static bool model_small(const struct launch *la)
{
	(void)la;
	return false;	/* a forward step: always the executors' */
}

static const struct launch_body_ops model_body_ops = {
	.name = "model",
	.exec = model_exec,
	.touches_vram = model_touches_vram,
	.release = model_release,
	.small = model_small,
	.self_accounting = true,
};

static int step_submit(struct model_req *rq);

static void model_step_done(struct launch *la)
{
	struct model_req *rq = ((struct model_launch *)la)->rq;
	int err = la->status;

	if (!err && atomic_load(&rq->abandoned))
		err = -ECANCELED;
	if (!err && !rq->complete)
		err = step_submit(rq);
	if (err || rq->complete)
		req_end(rq, err);
}

/* Queue @rq's next step in the launch the step before last used (free:
 * see the invariant at the top), from req_go or the last step's done().
 * 0 or -errno (nothing queued). */
static int step_submit(struct model_req *rq)
{
	struct model *m = rq->m;
	struct model_launch *ml = &rq->step[rq->nsteps++ % 2];
	_Atomic uint64_t seq;
	int err;

	assert(!atomic_load(&ml->busy));
	memset(&ml->la, 0, sizeof(ml->la));
	atomic_store(&ml->busy, true);
	model_req_get(rq);
	ml->rq = rq;
	ml->la.body = &model_body_ops;
	ml->la.lease = m->lease;
	ml->la.ke = m->ke;
	ml->la.timeout_ms = atomic_load(&m->set->pol->launch_timeout_ms);
	ml->la.done = model_step_done;
	ml->la.ctx = rq;
	err = launch_enqueue(&ml->la, &seq, false);
	if (err) {
		atomic_store(&ml->busy, false);
		model_req_unref(rq);
	}
	return err;
}

/* A free KV slot, taken: its number or -EBUSY. */
static int slot_take(struct model *m)
{
	int i, got = -EBUSY;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < (int)m->plan.max_batch; i++) {
		if (!(m->slots & (UINT64_C(1) << i))) {
			m->slots |= UINT64_C(1) << i;
			got = i;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return got;
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

/* Queue the first step of a new @rq: 0 with *@out, or -errno. */
static int req_go(struct model_req *rq, struct model_req **out)
{
	struct model *m = rq->m;
	int err;

	atomic_fetch_add(&m->running, 1);
	rq->start_ns = clock_mono();
	err = step_submit(rq);
	if (err) {
		rq->start_ns = 0;	/* no step: counted as refused */
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
	size_t bytes;

	if (len < sizeof(h))
		return model_fail(m, -EINVAL, "a request is a "
				  "gl_infer_tensor header and its rows");
	memcpy(&h, buf, sizeof(h));
	if (h.magic != GL_INFER_MAGIC || h.dtype != GL_INFER_F32 ||
	    h.reserved[0] || h.reserved[1] || h.cols != in || !h.rows)
		return model_fail(m, -EINVAL, "bad header: magic, dtype f32, "
				  "cols %u, rows >= 1, reserved 0", in);
	if (h.rows > p->max_batch)
		return model_fail(m, -EFBIG, "%u rows, max_batch %u", h.rows,
				  p->max_batch);
	bytes = (size_t)h.rows * in * sizeof(float);
	if (len - sizeof(h) != bytes)
		return model_fail(m, -EINVAL, "%zu bytes of rows, %zu "
				  "expected", len - sizeof(h), bytes);
	rq = req_new(m);
	if (!rq || !(rq->in = malloc(bytes))) {
		if (rq)
			model_req_unref(rq);
		return model_fail(m, -ENOMEM, "no memory for a request");
	}
	memcpy(rq->in, buf + sizeof(h), bytes);
	rq->rows = h.rows;
	return req_go(rq, out);
}

/* model_req_start's: 0 with *@out, or -errno for a request refused. */
static int req_start(struct model *m, const char *buf, size_t len,
		     struct model_req **out)
{
	struct model_req *rq;
	struct model_ask a;
	const char *why;
	int err, slot;

	err = model_check(m);
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
	slot = slot_take(m);
	if (slot < 0) {
		model_req_unref(rq);
		return model_fail(m, slot, "every KV slot is taken");
	}
	rq->slot = (uint32_t)slot;
	rq->has_slot = true;
	return req_go(rq, out);
}

int model_req_start(struct model *m, const char *buf, size_t len,
		    struct model_req **out)
{
	int err;

	atomic_fetch_add(&m->requests, 1);
	atomic_fetch_add(&m->bytes_in, len);
	atomic_fetch_add(&m->set->bytes_in, len);
	err = req_start(m, buf, len, out);
	if (err)
		model_count_failure(m, err);
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
		fn(ctx, rq->out, rq->out_len, rq->ended, rq->err);
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
		n = rq->err;
	} else {
		n = -EAGAIN;
	}
	pthread_mutex_unlock(&rq->lock);
	return n;
}
