// SPDX-License-Identifier: MIT
/*
 * A model's scheduler: continuous batching at step granularity. Requests
 * wait in the model's bounded queue (max_batch + max_queue held at
 * most: more is EBUSY at once); the model runs ONE step launch at a time
 * on its lease's queue, over every request admitted to its batch. A
 * step admits queued requests first (a language model's while it has a
 * free KV slot; an mlp's while their rows fit max_batch, waiting up to
 * max_delay_us for company), then runs one forward pass over the rows of
 * all of them (a language model: each decoding request one row, those
 * in their prompt the rows left, up to max_batch; an mlp: every request's
 * rows), then samples each request's token with its own rng. Its done()
 * ends the requests that finished, failed or were abandoned and queues
 * the next step while any request is held. So requests join and leave
 * between steps, and each row's result is its own: llama_step() and
 * mlp_forward() compute a row from that row alone.
 *
 * Invariant: while the model holds a request (queued or admitted), a
 * step of its is queued or running (batch.inflight), and exactly one:
 * a step is queued only by the last step's done() or, when none is in
 * flight, by model_batch_add(). So the queue's order, watchdog,
 * cancellation and expiry rules apply to every step, and an expiry or a
 * drop, which ends the queued or running step with its errno, ends
 * every request of the model with it. No allocation per step: the
 * model owns two step launches, used in turn, which launch.c hands back
 * through release(). Step N+1 is queued (in the other launch) from step
 * N's done() or later, and runs only once step N's launch_finish() has
 * returned, so step N's release() has run before step N+2 reuses its
 * launch (model_step.busy asserts it). A step that never ran was failed
 * by the queue's close: the batch is then closed (batch.closed) and no
 * step is queued again, so the launch step N-1 may still hold is never
 * reused.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/model/kcall.h"

void model_batch_init(struct model *m)
{
	struct model_batch *b = &m->batch;
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->company, &ca);
	pthread_condattr_destroy(&ca);
	CDS_INIT_LIST_HEAD(&b->pending);
	b->max_queue = MODEL_QUEUE_DEFAULT;
}

void model_batch_destroy(struct model *m)
{
	pthread_cond_destroy(&m->batch.company);
}

uint32_t model_batch_queued(struct model *m)
{
	uint32_t n;

	pthread_mutex_lock(&m->lock);
	n = m->batch.n_pending;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* Requests a step may hold: KV slots, or an mlp pass's rows. */
static uint32_t batch_room(const struct model *m)
{
	return m->mlp ? m->mplan.max_batch : m->plan.max_batch;
}

/* A free KV slot of @m, taken (m->lock held): there is one whenever
 * fewer than max_batch requests are admitted. */
static uint32_t slot_take(struct model *m)
{
	uint32_t i;

	for (i = 0; i < m->plan.max_batch; i++)
		if (!(m->slots & (UINT64_C(1) << i)))
			break;
	assert(i < m->plan.max_batch);
	m->slots |= UINT64_C(1) << i;
	return i;
}

/* Admit the first queued request into the batch, under m->lock, if it
 * fits (@rows: an mlp's rows admitted so far). */
static bool admit_one(struct model *m, uint32_t *rows)
{
	struct model_batch *b = &m->batch;
	struct model_req *rq;

	if (cds_list_empty(&b->pending) || b->n_active == batch_room(m))
		return false;
	rq = cds_list_first_entry(&b->pending, struct model_req, link);
	if (m->mlp && *rows + rq->rows > m->mplan.max_batch)
		return false;
	cds_list_del(&rq->link);
	b->n_pending--;
	if (m->mlp) {
		*rows += rq->rows;
	} else {
		rq->slot = slot_take(m);
		rq->has_slot = true;
	}
	b->active[b->n_active++] = rq;
	return true;
}

/*
 * Admit what fits. An mlp with max_delay_us waits, while its pass has
 * rows to spare and every queued request is in it, until the oldest
 * request in it has waited that long, waking every millisecond to see
 * @cancel (its lease's expiry or drop). Returns the rows admitted so far
 * (an mlp's) or 0.
 */
static uint32_t batch_admit(struct model *m, atomic_int *cancel)
{
	struct model_batch *b = &m->batch;
	uint32_t rows = 0;
	struct timespec ts;
	int64_t until, now;
	unsigned i;

	for (i = 0; m->mlp && i < b->n_active; i++)
		rows += b->active[i]->rows;
	pthread_mutex_lock(&m->lock);
	while (admit_one(m, &rows))
		;
	until = b->n_active && m->mlp ? b->active[0]->start_ns +
		(int64_t)b->max_delay_us * 1000 : 0;
	while (m->mlp && b->max_delay_us && rows < m->mplan.max_batch &&
	       cds_list_empty(&b->pending) && !atomic_load(cancel)) {
		now = clock_mono();
		if (now >= until)
			break;
		if (until - now > 1000000)
			now += 1000000;
		else
			now = until;
		ts.tv_sec = now / 1000000000;
		ts.tv_nsec = now % 1000000000;
		pthread_cond_timedwait(&b->company, &m->lock, &ts);
		while (admit_one(m, &rows))
			;
	}
	pthread_mutex_unlock(&m->lock);
	return rows;
}

/* A language model's rows: one per decoding request, then the prompt
 * rows left, in admission order, up to max_batch in all. */
static uint32_t lm_rows(struct model *m)
{
	struct model_batch *b = &m->batch;
	uint32_t n = 0, i, j, k, left;
	struct model_req *rq;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < b->n_active; i++) {
			rq = b->active[i];
			if (pass == 0)
				rq->nrows = 0;
			if (atomic_load(&rq->abandoned) || rq->err ||
			    (rq->fed < rq->n_prompt) != (pass == 1))
				continue;
			left = pass ? rq->n_prompt - rq->fed : 1;
			k = m->plan.max_batch - n;
			if (left < k)
				k = left;
			rq->row0 = n;
			rq->nrows = k;
			for (j = 0; j < k; j++, n++) {
				b->tok[n] = pass ? rq->ids[rq->fed + j] :
						   rq->last;
				b->slot[n] = rq->slot;
				b->pos[n] = rq->pos + j;
			}
		}
	}
	return n;
}

/* After a language model's step: each request's progress, and its next
 * token from its last row once its prompt is in. */
static void lm_after(struct model *m, void *base)
{
	struct model_batch *b = &m->batch;
	struct model_req *rq;
	uint32_t i;

	for (i = 0; i < b->n_active; i++) {
		rq = b->active[i];
		if (!rq->nrows)
			continue;
		rq->pos += rq->nrows;
		if (rq->fed < rq->n_prompt) {
			rq->fed += rq->nrows;
			rq->last = rq->ids[rq->fed - 1];
			if (rq->fed < rq->n_prompt)
				continue;
		}
		rq->err = model_req_sample(rq, base, rq->row0 + rq->nrows - 1);
	}
}

/*
 * A language model's step over the batch's @rows rows: on the CPU over
 * its team in place; on another device (m->host set) as launches queued
 * there and waited for once, even after a failed one (a step ends with
 * none of its launches running), the logits then copied out into the
 * host mapping, where lm_after() samples them.
 */
static int lm_step(struct model *m, const struct lease_mem *mem, void *base,
		   uint32_t rows, atomic_int *cancel)
{
	const struct llama_plan *p = &m->plan;
	struct model_batch *b = &m->batch;
	int err, werr;

	if (!m->host)
		return llama_step_team(p, base, m->team, rows, b->tok, b->slot,
				       b->pos, cancel);
	err = llama_step_dev(p, base, NULL, mem->dev, mem->region, rows,
			     b->tok, b->slot, b->pos, cancel);
	werr = kc_dev_wait(mem->dev, mem->region, cancel);
	if (!err)
		err = werr;
	if (err)
		return err;
	return mem->dev->ops->copy_out(mem->region, p->logits,
				       m->host + p->logits, (size_t)rows *
				       p->cfg.vocab_size * sizeof(float));
}

/*
 * An mlp's pass over every admitted request's rows, packed in order. On
 * the CPU @base is the host's and the rows are copied in and answered
 * in place; on another device (m->stage set) they go through its copy
 * ops, the outputs into m->stage.
 */
static int mlp_pass(struct model *m, const struct lease_mem *mem,
		    void *base, uint32_t rows, atomic_int *cancel)
{
	const struct mlp_plan *p = &m->mplan;
	struct model_batch *b = &m->batch;
	uint32_t in = p->cfg.layer[0].in;
	uint32_t out = p->cfg.layer[p->cfg.n_layers - 1].out;
	struct dev *d = m->stage ? mem->dev : NULL;
	const float *answer;
	struct model_req *rq;
	uint32_t i, r = 0;
	size_t bytes;
	int err = 0;

	for (i = 0; !err && i < b->n_active; i++) {
		rq = b->active[i];
		rq->row0 = r;
		bytes = (size_t)rq->rows * in * sizeof(float);
		if (d)
			err = d->ops->copy_in(mem->region, p->buf[0] +
					      (uint64_t)r * in * 4, rq->in,
					      bytes);
		else
			memcpy(mlp_input(p, base) + (size_t)r * in, rq->in,
			       bytes);
		r += rq->rows;
	}
	if (err)
		return err;
	hist_size_observe(&b->batch_size, rows);
	err = mlp_forward_team(p, base, m->team, rows, d, cancel);
	if (d) {	/* its launches were queued: wait, as lm_step() */
		int werr = kc_dev_wait(d, mem->region, cancel);

		if (!err)
			err = werr;
	}
	if (!err && d)
		err = d->ops->copy_out(mem->region, mlp_output_off(p),
				       m->stage, (size_t)rows * out * 4);
	if (err)
		return err;
	answer = d ? m->stage : mlp_output(p, base);
	atomic_fetch_add(&b->steps, 1);	/* before a reader sees its answer */
	for (i = 0; i < b->n_active; i++) {
		rq = b->active[i];
		rq->err = model_req_mlp_answer(rq, answer +
					       (size_t)rq->row0 * out);
	}
	return 0;
}

/* The debug knob model_step_hold: hold the step while it is at least
 * @level and a request in the step has made a token (level 1, before a
 * step) or has its whole answer (level 2, after an mlp pass), stoppable,
 * so tests can expire, unload, queue or close under a running request. */
static void step_hold(struct model *m, atomic_int *cancel, uint32_t level)
{
	struct model_batch *b = &m->batch;
	bool held = false;
	uint32_t i;

	for (i = 0; i < b->n_active; i++)
		held = held || (level == 1 ? b->active[i]->made != 0 :
				b->active[i]->complete);
	while (held && atomic_load(&m->set->pol->model_step_hold) >= level &&
	       !atomic_load(cancel))
		usleep(1000);
}

/* One step over the batch: the body's exec, on the executor with the
 * lease's mem_lock read side held. */
static int batch_exec(struct launch *la, const struct lease_mem *mem)
{
	struct model *m = ((struct model_step *)la)->m;
	struct model_batch *b = &m->batch;
	uint32_t rows, i;
	void *base;
	int err, stop;

	if (mem->vram < m->need)
		return -EFAULT;	/* its owner shrank the lease */
	err = mem->dev->ops->resolve(mem->region, 0, m->need, &base);
	if (err)
		return err;
	step_hold(m, &la->cancel, 1);
	rows = batch_admit(m, &la->cancel);
	/* the wait for company counts against the step's watchdog; the
	 * pass gets a whole launch_timeout_ms of its own */
	if (m->mlp && b->max_delay_us)
		launch_rearm(la, clock_mono(), la->timeout_ms);
	stop = atomic_load(&la->cancel);
	if (stop)
		return -stop;
	for (i = 0; i < b->n_active; i++) {
		if (b->active[i]->admit_ns)
			continue;
		b->active[i]->admit_ns = clock_mono();
		hist_observe(&b->queue_time, (uint64_t)(b->active[i]->admit_ns
				- b->active[i]->start_ns) / 1000);
	}
	if (m->mlp) {
		err = rows ? mlp_pass(m, mem, base, rows, &la->cancel) : 0;
		if (!err)
			step_hold(m, &la->cancel, 2);	/* answers out */
	} else {
		rows = lm_rows(m);
		if (!rows)
			return 0;	/* every one abandoned */
		hist_size_observe(&b->batch_size, rows);
		err = lm_step(m, mem, base, rows, &la->cancel);
		if (err)
			return err;
		atomic_fetch_add(&b->steps, 1);	/* before lm_after streams */
		lm_after(m, model_host_base(m, base));
	}
	return err;
}

static bool batch_touches_vram(const struct launch *la)
{
	(void)la;
	return true;	/* activations and the KV cache */
}

/* launch.c is done with step @la: it is free for the step after next,
 * and its reference to the model goes (which may free both). */
static void batch_release(struct launch *la)
{
	struct model_step *st = (struct model_step *)la;
	struct model *m = st->m;

	atomic_store(&st->busy, false);
	model_put(m);
}

static bool batch_small(const struct launch *la)
{
	(void)la;
	return false;	/* a forward step: always the executors' */
}

static const struct launch_body_ops batch_body_ops = {
	.name = "model",
	.exec = batch_exec,
	.touches_vram = batch_touches_vram,
	.release = batch_release,
	.small = batch_small,
	.self_accounting = true,
};

/* End @rq, which the batch held, with @err, and let it go. */
static void batch_end(struct model *m, struct model_req *rq, int err)
{
	pthread_mutex_lock(&m->lock);
	m->batch.held--;
	pthread_mutex_unlock(&m->lock);
	model_req_end(rq, err);
	model_req_unref(rq);
}

/* End the admitted requests that are done with @err (the step's, else
 * their own, else ECANCELED for one abandoned before its answer was
 * whole), keeping the others in order. A reader that took a whole
 * answer and closed before this step's completion ran is a success. */
static void batch_retire(struct model *m, int err)
{
	struct model_batch *b = &m->batch;
	struct model_req *rq;
	uint32_t i, n = 0;
	int e;

	for (i = 0; i < b->n_active; i++) {
		rq = b->active[i];
		e = err ? err : rq->err;
		if (!e && !rq->complete && atomic_load(&rq->abandoned))
			e = -ECANCELED;
		if (e || rq->complete)
			batch_end(m, rq, e);
		else
			b->active[n++] = rq;
	}
	b->n_active = n;
}

static void batch_done(struct launch *la);

/* Queue the next step in the launch the step before last used (free:
 * see the invariant at the top). m->lock held, inflight set by the
 * caller. 0 or -errno (nothing queued). */
static int step_submit(struct model *m)
{
	struct model_batch *b = &m->batch;
	struct model_step *st = &b->step[b->nsteps % 2];
	_Atomic uint64_t seq;
	int err;

	assert(!atomic_load(&st->busy));
	memset(&st->la, 0, sizeof(st->la));
	atomic_store(&st->busy, true);
	model_get(m);
	st->m = m;
	st->la.body = &batch_body_ops;
	st->la.lease = m->lease;
	st->la.ke = m->ke;
	st->la.timeout_ms = atomic_load(&m->set->pol->launch_timeout_ms);
	st->la.done = batch_done;
	st->la.ctx = m;
	err = launch_enqueue(&st->la, &seq, false);
	if (err) {
		atomic_store(&st->busy, false);
		model_put(m);	/* not the last: the caller holds one */
		return err;
	}
	b->nsteps++;
	return 0;
}

/*
 * A step's completion (any thread, no lock held): end the requests it
 * finished or failed, then queue the next step while any request is
 * held. When the step failed (expiry, drop, watchdog, a shrunk lease)
 * or no step can be queued (the queue closed, or launch_enqueue
 * refused), every request still held ends with that errno.
 */
static void batch_done(struct launch *la)
{
	struct model *m = la->ctx;
	struct model_batch *b = &m->batch;
	struct model_req *left[MODEL_MAX_BATCH];
	struct cds_list_head queued;
	uint32_t n = 0, i;
	int err;

	batch_retire(m, la->status);
	CDS_INIT_LIST_HEAD(&queued);
	pthread_mutex_lock(&m->lock);
	if (la->status && !la->ran)
		b->closed = la->status;	/* failed by the queue's close */
	/* a failed step fails every request held, queued ones too */
	err = b->closed ? b->closed : la->status;
	if (!err && !b->n_active && !b->n_pending) {
		b->inflight = false;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	if (!err)
		err = step_submit(m);
	if (err) {
		/* no step will run: whatever is held is ours to end */
		n = b->n_active;
		memcpy(left, b->active, n * sizeof(left[0]));
		b->n_active = 0;
		cds_list_splice(&b->pending, &queued);
		CDS_INIT_LIST_HEAD(&b->pending);
		b->n_pending = 0;
		b->inflight = false;
	}
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n; i++)
		batch_end(m, left[i], err);
	while (!cds_list_empty(&queued)) {
		struct model_req *rq = cds_list_first_entry(&queued,
							    struct model_req,
							    link);

		cds_list_del(&rq->link);
		batch_end(m, rq, err);
	}
}

int model_batch_add(struct model_req *rq)
{
	struct model *m = rq->m;
	struct model_batch *b = &m->batch;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (b->closed) {
		err = b->closed;
	} else if (b->held >= batch_room(m) + b->max_queue) {
		err = model_fail(m, -EBUSY, "the queue is full: %u requests "
				 "held (max_batch %u, max_queue %u)", b->held,
				 batch_room(m), b->max_queue);
	} else {
		model_req_get(rq);
		cds_list_add_tail(&rq->link, &b->pending);
		b->n_pending++;
		b->held++;
		pthread_cond_signal(&b->company);
		if (!b->inflight) {
			err = step_submit(m);
			b->inflight = !err;
		}
		if (err) {
			cds_list_del(&rq->link);
			b->n_pending--;
			b->held--;
			model_req_unref(rq);	/* the caller holds one */
		}
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}
