/* SPDX-License-Identifier: MIT */
/*
 * Launch queues and executors, and the inline fast path.
 *
 * Invariants: a lease is on launcher->ready at most once (lq.ready), and
 * only while no launch of it runs, so its launches run one at a time in
 * submission order. A launch runs as q->running, on an executor or, when
 * it is small and its lease had nothing queued, running or finishing, on
 * the thread that submitted it (launch_submit_inline); either way the
 * same launch_run()/launch_end() pair runs it, so cancel, close, the
 * watchdog (launch-watchdog.c) and completion order do not tell them
 * apart. A running launch holds the read side of its lease's mem_lock
 * for its whole run, so resize, expiry and drop (write side) wait for it
 * and memory never moves under a kernel. Lock order: lq.lock, then
 * launcher->lock or the read side of mem_lock (the state check of
 * launch_enqueue); launcher->lock and mem_lock are never held together.
 * A lease has at most GL_LAUNCH_QUEUE_MAX launches queued or running.
 * Nothing that frees a lease's memory waits for a launch to run out its
 * time: drop and expiry cancel it, and the reaper never waits at all (an
 * executor finishes an expiry through lq.idle_fn).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/dev/dev.h"
#include "daemon/dev/pool.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/probes.h"
#include "daemon/registry.h"

/* The lease's state (lease_mem_get's answer, @state) then the binding
 * of @la's arguments to its memory @m; lease_mem_get held. */
static int launch_resolve(struct launch *la, int state,
			  const struct lease_mem *m, struct gl_kargs *args)
{
	if (state)
		return state;
	return launch_bind(&la->desc, la->ke, m, args);
}

const char *launch_name(const struct launch *la)
{
	return la->body ? la->body->name : la->ke->k->name;
}

bool launch_touches_vram(const struct launch *la)
{
	uint32_t i;

	if (!la->ran)
		return false;
	if (la->body)
		return la->body->touches_vram(la);
	for (i = 0; i < la->desc.nargs; i++)
		if (la->desc.args[i].type == GL_ARG_BUF)
			return true;
	return false;
}

static void launch_grid(const struct launch_desc *d,
			const struct kernel_entry *ke, struct gl_grid *g)
{
	g->grid.x = d->grid[0];
	g->grid.y = d->grid[1];
	g->grid.z = d->grid[2];
	if (!d->block[0]) {
		g->block.x = ke->k->block;
		g->block.y = g->block.z = 1;
		return;
	}
	g->block.x = d->block[0];
	g->block.y = d->block[1];
	g->block.z = d->block[2];
}

/*
 * Whether @la may run inline: fewer elements (grid x block threads) than
 * the pool splits (POOL_SPLIT_ELEMS, pool.h), so an executor and the pool
 * would add only their hand-offs to it.
 */
static bool launch_small(const struct launch *la)
{
	if (la->body)
		return la->body->small(la);
	return gl_grid_elems(&la->grid) < POOL_SPLIT_ELEMS;
}

/* Put @q on the executors' ready list. q->lock held. */
static void launch_ready(struct launcher *lr, struct launch_queue *q,
			 struct lease *l)
{
	assert(!q->ready);
	q->ready = true;
	lease_get(l);	/* the ready list's */
	pthread_mutex_lock(&lr->lock);
	cds_list_add_tail(&q->ready_link, &lr->ready);
	pthread_cond_signal(&lr->work);
	pthread_mutex_unlock(&lr->lock);
}

static void launch_run(struct launcher *lr, struct launch *la);
static void launch_end(struct launcher *lr, struct launch_queue *q,
		       struct launch *la, bool executor);

/* Validate @d against @l and the registry and make its launch. */
static int launch_make(struct launcher *lr, struct lease *l,
		       const struct launch_desc *d, launch_done_fn done,
		       void *ctx, struct launch **out)
{
	const struct kernel_entry *ke;
	struct lease_mem m;
	struct gl_kargs args;
	struct launch *la;
	int err;

	ke = registry_find(lr->reg, d->kernel);
	if (!ke)
		return gl_fail(l, -EINVAL, "no kernel '%.32s'", d->kernel);
	if (!ke->k->cpu && !lease_dev(l)->ops->load_kernel)
		return gl_fail(l, -EINVAL, "kernel %s has no code for a %s "
			       "device", ke->k->name, lease_dev(l)->ops->kind);
	la = calloc(1, sizeof(*la));
	if (!la)
		return gl_fail(l, -ENOMEM, "no memory for a launch");
	la->ke = ke;
	la->desc = *d;
	la->lease = l;
	launch_grid(d, ke, &la->grid);
	/* validate now, so a bad launch fails its write, not later */
	err = lease_mem_get(l, &m);
	err = launch_resolve(la, err, &m, &args);
	if (err) {
		lease_mem_put(l);
		free(la);
		return gl_fail(l, err, "%s: %s", ke->k->name,
			       err == -EFAULT ? "argument outside the lease" :
			       err == -EINVAL ? "arguments do not match the "
						"signature" :
						"the lease is going away");
	}
	err = ke->k->check(&args, &la->grid);
	lease_mem_put(l);
	if (err) {
		free(la);
		return gl_fail(l, err, "%s: launch refused by the kernel's "
				       "check (grid, block or sizes)",
			       ke->k->name);
	}
	la->timeout_ms = d->timeout_ms ? d->timeout_ms :
		atomic_load(&lr->pol->launch_timeout_ms);
	la->done = done;
	la->ctx = ctx;
	*out = la;
	return 0;
}

int launch_enqueue(struct launch *la, _Atomic uint64_t *seq, bool inl)
{
	struct lease *l = la->lease;
	struct launch_queue *q = l->lq;
	struct launcher *lr = q->lr;
	int err;

	lease_get(l);
	pthread_mutex_lock(&q->lock);
	err = q->closed;
	if (!err)
		err = lease_check(l);
	if (!err && atomic_load(&q->nr_queued) + !!q->running >=
		    GL_LAUNCH_QUEUE_MAX)
		err = -EAGAIN;
	if (err) {
		pthread_mutex_unlock(&q->lock);
		lease_put(l);
		return gl_fail(l, err, "%s: %s", launch_name(la),
			       err == -EAGAIN ? "launch queue full" :
						"the lease is going away");
	}
	la->seq = q->next_seq++;
	atomic_store(seq, la->seq);
	if (inl && !q->running && !q->finishing && !q->ready &&
	    cds_list_empty(&q->queue) && launch_small(la)) {
		/* as if an executor took it: later launches queue behind
		 * it, cancel, close and the watchdog see it as running */
		q->running = la;
		atomic_store(&q->nr_running, 1);
		pthread_mutex_unlock(&q->lock);
		atomic_fetch_add(&lr->inline_runs, 1);
		launch_run(lr, la);
		launch_end(lr, q, la, false);
		return 0;
	}
	cds_list_add_tail(&la->link, &q->queue);
	atomic_fetch_add(&q->nr_queued, 1);
	if (!q->running && !q->finishing && !q->ready)
		launch_ready(lr, q, l);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int launch_submit(struct launcher *lr, struct lease *l,
		  const struct launch_desc *d, launch_done_fn done,
		  void *ctx, uint64_t *seq)
{
	_Atomic uint64_t s;
	struct launch *la;
	int err;

	err = launch_make(lr, l, d, done, ctx, &la);
	if (err)
		return err;
	err = launch_enqueue(la, &s, false);
	if (err)
		free(la);
	else
		*seq = atomic_load(&s);
	return err;
}

int launch_submit_inline(struct launcher *lr, struct lease *l,
			 const struct launch_desc *d, launch_done_fn done,
			 void *ctx, _Atomic uint64_t *seq)
{
	struct launch *la;
	int err;

	err = launch_make(lr, l, d, done, ctx, &la);
	if (err)
		return err;
	err = launch_enqueue(la, seq, true);
	if (err)
		free(la);
	return err;
}

/* Account @la, tell its submitter and free it, or hand it back to its
 * body (release(), which owns a body's launch). With @quiet, a failure
 * is not logged: the caller logs one line for many. */
static void launch_finish(struct launch *la, bool quiet)
{
	struct lease *l = la->lease;

	atomic_fetch_add(&l->lq->launches, 1);
	if (la->status)
		atomic_fetch_add(&l->lq->failures, 1);
	atomic_fetch_add(&l->lq->ns, la->duration_ns);
	if (!la->body || !la->body->self_accounting)
		registry_account(la->ke, la->status, la->duration_ns);
	if (la->status && !quiet)
		gl_fail(l, la->status, "%s launch %llu failed",
			launch_name(la), (unsigned long long)la->seq);
	la->done(la);
	if (la->body)
		la->body->release(la);	/* may free or reuse @la */
	else
		free(la);
	lease_put(l);
}

/* Run @la on its lease's device. Holds mem_lock (read) from the state
 * check until the kernel has returned, launcher->lock only around the
 * running list and never together with it. */
static void launch_run(struct launcher *lr, struct launch *la)
{
	struct lease *l = la->lease;
	struct lease_mem m;
	struct gl_kargs args;
	int64_t t0, t1;
	int err, c;

	t0 = clock_mono();
	launch_watch(lr, la, t0);

	PROBE_LAUNCH_START(la);
	la->ran = true;
	err = lease_mem_get(l, &m);
	if (la->body) {		/* a chain: every step, one mem_lock */
		if (!err)
			err = la->body->exec(la, &m);
	} else {
		err = launch_resolve(la, err, &m, &args);
		if (!err)
			err = m.dev->ops->launch(m.dev, la->ke->k, &args,
						 &la->grid, &la->cancel);
	}
	/* a kernel writes the memory behind any page cache of vram */
	if (launch_touches_vram(la))
		lease_touch_data(l);
	lease_mem_put(l);
	t1 = clock_mono();

	launch_unwatch(lr, la);
	c = atomic_load(&la->cancel);
	la->status = c ? -c : err;
	la->duration_ns = (uint64_t)(t1 - t0);
	PROBE_LAUNCH_END(la);
}

/* Run a pending idle_fn (a deferred expiry) with q->lock dropped; still
 * finishing, so launch_close() waits for it. Called with q->lock held. */
static void launch_run_idle(struct launch_queue *q, struct lease *l)
{
	void (*fn)(struct lease *) = q->idle_fn;

	if (!fn)
		return;
	q->idle_fn = NULL;
	pthread_mutex_unlock(&q->lock);
	fn(l);
	pthread_mutex_lock(&q->lock);
}

/* The tail of a launch's end, q->lock held: run a pending idle_fn, wake
 * launch_close() and queue the next launch of @l, if any. */
static void launch_settle(struct launcher *lr, struct launch_queue *q,
			  struct lease *l)
{
	launch_run_idle(q, l);
	q->finishing = false;
	pthread_cond_broadcast(&q->idle);
	if (!cds_list_empty(&q->queue) && !q->closed)
		launch_ready(lr, q, l);
}

/*
 * The end of @la, which ran (or was cancelled) as q->running, before the
 * next launch of its lease may start: deliver its completion, so they
 * arrive in submission order, then settle the queue. A pending idle_fn
 * (a deferred expiry, which stops the ring's poller) runs on an executor
 * only: after an inline launch the queue, still finishing, goes on the
 * ready list for one. The caller holds a reference to the lease.
 */
static void launch_end(struct launcher *lr, struct launch_queue *q,
		       struct launch *la, bool executor)
{
	struct lease *l = la->lease;

	pthread_mutex_lock(&q->lock);
	q->running = NULL;
	atomic_store(&q->nr_running, 0);
	q->finishing = true;
	pthread_mutex_unlock(&q->lock);
	launch_finish(la, false);
	pthread_mutex_lock(&q->lock);
	if (q->idle_fn && !executor)
		launch_ready(lr, q, l);
	else
		launch_settle(lr, q, l);
	pthread_mutex_unlock(&q->lock);
}

static void *launcher_main(void *arg)
{
	struct launcher *lr = arg;
	struct launch_queue *q;
	struct launch *la;
	struct lease *l;

	pool_thread_batch();	/* it runs kernels too */
	for (;;) {
		pthread_mutex_lock(&lr->lock);
		while (!lr->stop && cds_list_empty(&lr->ready))
			pthread_cond_wait(&lr->work, &lr->lock);
		if (lr->stop) {
			pthread_mutex_unlock(&lr->lock);
			return NULL;
		}
		q = cds_list_first_entry(&lr->ready, struct launch_queue,
					 ready_link);
		cds_list_del_init(&q->ready_link);
		pthread_mutex_unlock(&lr->lock);
		l = q->lease;

		pthread_mutex_lock(&q->lock);
		/* on the ready list only while none of it runs */
		assert(q->ready && !q->running);
		q->ready = false;
		la = NULL;
		if (q->finishing) {
			/* an inline launch left its idle_fn to us */
			launch_settle(lr, q, l);
		} else if (!cds_list_empty(&q->queue)) {
			la = cds_list_first_entry(&q->queue, struct launch,
						  link);
			cds_list_del(&la->link);
			atomic_fetch_sub(&q->nr_queued, 1);
			q->running = la;
			atomic_store(&q->nr_running, 1);
		}
		pthread_mutex_unlock(&q->lock);

		if (la) {
			launch_run(lr, la);
			launch_end(lr, q, la, true);
		}
		lease_put(l);	/* the ready list's */
	}
}

int launcher_start(struct launcher *lr, struct registry *reg,
		   const struct policy *pol, unsigned nthreads)
{
	unsigned i;
	int err;

	memset(lr, 0, sizeof(*lr));
	lr->reg = reg;
	lr->pol = pol;
	CDS_INIT_LIST_HEAD(&lr->ready);
	CDS_INIT_LIST_HEAD(&lr->running);
	pthread_mutex_init(&lr->lock, NULL);
	pthread_cond_init(&lr->work, NULL);
	lr->threads = calloc(nthreads, sizeof(*lr->threads));
	if (!lr->threads)
		return -ENOMEM;
	err = launch_watchdog_start(lr);
	if (err) {
		free(lr->threads);
		return err;
	}
	lr->started = true;
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&lr->threads[i], NULL, launcher_main, lr);
		if (err)
			break;
		lr->nthreads++;
	}
	if (err) {
		launcher_stop(lr);
		return -err;
	}
	return 0;
}

void launcher_stop(struct launcher *lr)
{
	struct launch_queue *q, *tmp;
	unsigned i;

	if (!lr->started)
		return;
	pthread_mutex_lock(&lr->lock);
	lr->stop = true;
	pthread_cond_broadcast(&lr->work);
	pthread_cond_broadcast(&lr->wd);
	pthread_mutex_unlock(&lr->lock);
	for (i = 0; i < lr->nthreads; i++)
		pthread_join(lr->threads[i], NULL);
	pthread_join(lr->watchdog, NULL);
	/* closed queues may still sit on the ready list: drop their refs */
	cds_list_for_each_entry_safe(q, tmp, &lr->ready, ready_link) {
		cds_list_del_init(&q->ready_link);
		q->ready = false;
		lease_put(q->lease);
	}
	free(lr->threads);
	pthread_cond_destroy(&lr->work);
	pthread_cond_destroy(&lr->wd);
	pthread_mutex_destroy(&lr->lock);
	lr->started = false;
}

unsigned launch_running(struct lease *l)
{
	return atomic_load(&l->lq->nr_running);
}

bool launch_closed(struct lease *l)
{
	bool closed;

	pthread_mutex_lock(&l->lq->lock);
	closed = l->lq->closed != 0;
	pthread_mutex_unlock(&l->lq->lock);
	return closed;
}

/* Ask @la to stop with @err (a negative errno) unless it already was. */
static void launch_stop(struct launch *la, int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&la->cancel, &zero, -err);
}

/* Refuse new launches of @q with @err and move the queued ones to
 * @stolen; with @cancel, ask the running one to stop. q->lock held. */
static void launch_close_locked(struct launch_queue *q, int err,
				bool cancel, struct cds_list_head *stolen)
{
	if (!q->closed)
		q->closed = err;
	cds_list_splice(&q->queue, stolen);
	CDS_INIT_LIST_HEAD(&q->queue);
	atomic_store(&q->nr_queued, 0);
	if (cancel && q->running)
		launch_stop(q->running, err);
}

/* Complete every launch on @stolen with @err and log one line for all. */
static void launch_fail_stolen(struct lease *l, struct cds_list_head *stolen,
			       int err)
{
	struct launch *la, *tmp;
	unsigned long n = 0;

	cds_list_for_each_entry_safe(la, tmp, stolen, link) {
		cds_list_del(&la->link);
		la->status = err;
		launch_finish(la, true);
		n++;
	}
	if (n)
		gl_fail(l, err, "%lu queued launch%s failed", n,
			n == 1 ? "" : "es");
}

void launch_close(struct lease *l, int err, bool cancel)
{
	struct launch_queue *q = l->lq;
	struct cds_list_head stolen;

	CDS_INIT_LIST_HEAD(&stolen);
	pthread_mutex_lock(&q->lock);
	launch_close_locked(q, err, cancel, &stolen);
	while (q->running || q->finishing)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
	launch_fail_stolen(l, &stolen, err);
}

bool launch_close_async(struct lease *l, int err,
			void (*idle)(struct lease *l))
{
	struct launch_queue *q = l->lq;
	struct cds_list_head stolen;
	bool now;

	CDS_INIT_LIST_HEAD(&stolen);
	pthread_mutex_lock(&q->lock);
	launch_close_locked(q, err, true, &stolen);
	now = !q->running && !q->finishing;
	if (!now) {
		assert(!q->idle_fn);
		q->idle_fn = idle;
	}
	pthread_mutex_unlock(&q->lock);
	launch_fail_stolen(l, &stolen, err);
	return now;
}

int launch_cancel(struct lease *l, uint64_t seq, int err)
{
	struct launch_queue *q = l->lq;
	struct launch *la, *found = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->running && q->running->seq == seq) {
		launch_stop(q->running, err);
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	cds_list_for_each_entry(la, &q->queue, link) {
		if (la->seq == seq) {
			found = la;
			break;
		}
	}
	if (found) {
		cds_list_del(&found->link);
		atomic_fetch_sub(&q->nr_queued, 1);
	}
	pthread_mutex_unlock(&q->lock);
	if (!found)
		return -ENOENT;
	found->status = err;
	launch_finish(found, false);
	return 0;
}
