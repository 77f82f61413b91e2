/* SPDX-License-Identifier: MIT */
/*
 * Launch chains (chain.h). A chain is built once: every step's kernel is
 * looked up, its grid and timeout resolved, its arguments checked against
 * the lease and turned into pointers, and the kernel's own check run. A
 * run is one struct launch in the lease's queue, so the queue limit,
 * ordering, the watchdog, cancellation and expiry treat it as one launch;
 * launch.c runs it through its launch_body_ops in place of one kernel. Where the device
 * records graphs (CUDA) and no step takes a run parameter, the first run
 * records the resolved steps into one graph that every run launches
 * whole; otherwise each run replays the steps one by one.
 *
 * Invariant: the resolved arguments of a chain are touched only at build
 * (before any run can exist) and by the run in progress, and a lease runs
 * one launch at a time, so they need no lock of their own. They stay
 * valid while the lease's memory does not move: a run re-resolves them
 * (with mem_lock's read side held, as every run holds it) whenever the
 * vram base or size or the io region it resolved against changed. A
 * step's values taken from run parameters are written before it runs
 * and checked again by its kernel's check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/chain.h"
#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/dev/pool.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/registry.h"

struct chain_step {
	const struct kernel_entry *ke;
	struct launch_desc desc;	/* as parsed, for re-resolving */
	struct gl_grid grid;		/* block defaulted */
	uint32_t timeout_ms;		/* resolved: never 0 */
	bool has_refs;			/* an argument is a param's */
	struct gl_kargs args;		/* resolved; see the invariant */
};

/* What the arguments were resolved against: equal keys, equal pointers. */
struct chain_key {
	void *base;			/* vram offset 0, as the device
					 * sees it */
	uint64_t vram;
	const char *io;			/* io data area, or NULL */
	uint64_t io_size;
};

struct chain {
	atomic_int count;		/* references */
	struct lease *lease;		/* not referenced: the builder keeps
					 * the lease while it keeps the chain */
	uint32_t nsteps;
	uint32_t nparams;
	uint32_t nrefs;
	bool touches_vram;		/* a step names vram (a buf arg) */
	bool small;			/* every step under POOL_SPLIT_ELEMS
					 * elements: a run may go inline */
	struct gl_chain_ref refs[GL_CHAIN_REFS_MAX];
	struct chain_key key;		/* runs; see the invariant */
	bool bound;			/* runs: every step resolved against
					 * key (a failed re-resolve leaves
					 * some stale: never run them) */
	struct dev *dev;		/* the lease's, for graph_free */
	void *graph;			/* runs: the device graph of the
					 * steps as resolved, or NULL */
	bool no_graph;			/* runs: the device cannot record
					 * them: replay */
	uint32_t graph_ms;		/* the steps' timeouts summed */
	struct chain_step steps[];
};

uint32_t chain_steps(const struct chain *c)
{
	return c->nsteps;
}

uint32_t chain_nparams(const struct chain *c)
{
	return c->nparams;
}

/* The memory @m the arguments resolve against (lease_mem_get held). */
static int chain_key_get(const struct lease_mem *m, struct chain_key *k)
{
	memset(k, 0, sizeof(*k));
	k->vram = m->vram;
	if (m->io) {
		k->io = m->io->data;
		k->io_size = m->io->data_size;
	}
	/* also fails on a region a device reset killed */
	return m->region ? m->dev->ops->resolve(m->region, 0, 0, &k->base) :
			   0;
}

/* Resolve every step's arguments, from its parsed descriptor; with
 * @check, run each kernel's check too. mem_lock held. */
static int chain_bind(struct chain *c, const struct lease_mem *m, bool check,
		      uint32_t *bad)
{
	uint32_t i;
	int err;

	c->bound = false;
	err = chain_key_get(m, &c->key);
	if (err)
		return err;
	for (i = 0; i < c->nsteps; i++) {
		struct chain_step *st = &c->steps[i];

		*bad = i;
		err = launch_bind(&st->desc, st->ke, m, &st->args);
		if (!err && check)
			err = st->ke->k->check(&st->args, &st->grid);
		if (err)
			return err;
	}
	c->bound = true;
	return 0;
}

static void chain_grid(const struct launch_desc *d,
		       const struct kernel_entry *ke, struct gl_grid *g)
{
	memcpy(&g->grid, d->grid, sizeof(g->grid));
	if (!d->block[0]) {
		g->block.x = ke->k->block;
		g->block.y = g->block.z = 1;
		return;
	}
	memcpy(&g->block, d->block, sizeof(g->block));
}

int chain_build(struct launcher *lr, struct lease *l,
		const struct chain_spec *s, struct chain **out,
		uint32_t *bad_step)
{
	struct lease_mem m;
	struct chain *c;
	uint32_t i;
	int err;

	*bad_step = 0;
	c = calloc(1, sizeof(*c) + s->nsteps * sizeof(c->steps[0]));
	if (!c)
		return gl_fail(l, -ENOMEM, "no memory for a chain");
	atomic_init(&c->count, 1);
	c->lease = l;
	c->nsteps = s->nsteps;
	c->nparams = s->nparams;
	c->nrefs = s->nrefs;
	memcpy(c->refs, s->refs, sizeof(c->refs));
	c->small = true;
	c->dev = lease_dev(l);
	/* a run's values change its graph: one with refs is replayed */
	c->no_graph = !c->dev->ops->graph_build || c->nrefs;
	for (i = 0; i < s->nsteps; i++) {
		struct chain_step *st = &c->steps[i];
		const struct launch_desc *d = &s->steps[i];
		uint32_t a;

		*bad_step = i;
		st->desc = *d;
		st->ke = registry_find(lr->reg, d->kernel);
		if (!st->ke) {
			err = gl_fail(l, -EINVAL, "chain step %u: no kernel "
				      "'%.32s'", i, d->kernel);
			goto err;
		}
		if (!st->ke->k->cpu && !c->dev->ops->load_kernel) {
			err = gl_fail(l, -EINVAL, "chain step %u: kernel %s "
				      "has no code for a %s device", i,
				      st->ke->k->name, c->dev->ops->kind);
			goto err;
		}
		chain_grid(d, st->ke, &st->grid);
		if (gl_grid_elems(&st->grid) >= POOL_SPLIT_ELEMS)
			c->small = false;
		st->timeout_ms = d->timeout_ms ? d->timeout_ms :
			atomic_load(&lr->pol->launch_timeout_ms);
		c->graph_ms = c->graph_ms > UINT32_MAX - st->timeout_ms ?
			UINT32_MAX : c->graph_ms + st->timeout_ms;
		for (a = 0; a < d->nargs; a++)
			if (d->args[a].type == GL_ARG_BUF)
				c->touches_vram = true;
	}
	for (i = 0; i < c->nrefs; i++)
		c->steps[c->refs[i].step].has_refs = true;
	*bad_step = 0;
	err = lease_mem_get(l, &m);
	if (!err)
		err = chain_bind(c, &m, true, bad_step);
	lease_mem_put(l);
	if (err) {
		gl_fail(l, err, "chain step %u (%s): %s", *bad_step,
			c->steps[*bad_step].ke->k->name,
			err == -EFAULT ? "argument outside the lease" :
			err == -EINVAL ? "arguments do not match the "
					 "signature, or the kernel's check" :
			"the lease is going away");
		goto err;
	}
	*bad_step = c->nsteps;
	*out = c;
	return 0;
err:
	free(c);
	return err;
}

static void chain_graph_drop(struct chain *c)
{
	if (c->graph)
		c->dev->ops->graph_free(c->dev, c->graph);
	c->graph = NULL;
}

void chain_put(struct chain *c)
{
	if (c && atomic_fetch_sub(&c->count, 1) == 1) {
		chain_graph_drop(c);
		free(c);
	}
}

/*
 * Run the steps as one device graph, recorded at the first run (and
 * again after the memory moved). -EOPNOTSUPP when the device cannot
 * record them: the caller replays them, now and from then on. A graph
 * fails whole, so a failure names step 0. mem_lock held (read).
 */
static int chain_graph_run(struct launch *la, struct chain *c)
{
	struct dev_step *ds;
	uint64_t ns;
	int64_t t0;
	uint32_t i;
	int err;

	if (!c->graph) {
		ds = calloc(c->nsteps, sizeof(*ds));
		if (!ds)
			return -ENOMEM;
		for (i = 0; i < c->nsteps; i++) {
			ds[i].k = c->steps[i].ke->k;
			ds[i].args = &c->steps[i].args;
			ds[i].grid = &c->steps[i].grid;
		}
		err = c->dev->ops->graph_build(c->dev, ds, c->nsteps,
					       &c->graph);
		free(ds);
		if (err == -EOPNOTSUPP)
			c->no_graph = true;
		if (err)
			return err;
	}
	launch_rearm(la, clock_mono(), c->graph_ms);
	t0 = clock_mono();
	err = c->dev->ops->graph_launch(c->dev, c->graph, &la->cancel);
	ns = (uint64_t)(clock_mono() - t0) / c->nsteps;
	for (i = 0; i < c->nsteps; i++)
		registry_account(c->steps[i].ke, err, ns);
	if (!err)
		la->chain->step = c->nsteps;
	return err;
}

/* The run's parameters into the steps that take them. */
static void chain_apply(struct chain *c, const uint64_t *params)
{
	uint32_t i;

	for (i = 0; i < c->nrefs; i++) {
		const struct gl_chain_ref *r = &c->refs[i];
		struct gl_karg *k = &c->steps[r->step].args.v[r->arg];
		uint64_t v = params[r->param];
		uint32_t lo = (uint32_t)v;

		switch (k->type) {
		case GL_KT_U32:
			k->u32 = lo;
			break;
		case GL_KT_I32:
			k->i32 = (int32_t)lo;
			break;
		case GL_KT_U64:
			k->u64 = v;
			break;
		case GL_KT_F32:
			memcpy(&k->f32, &lo, sizeof(lo));
			break;
		case GL_KT_F64:
			memcpy(&k->f64, &v, sizeof(v));
			break;
		default:	/* chain_parse admits scalars only */
			break;
		}
	}
}

/*
 * Run every step of @la's chain run over @m (its body's exec, on the
 * executor, lease_mem_get held, the lease active): re-resolve if the
 * memory moved since the last run, each step's parameters and check,
 * the step, then the cancel flag before the next. Returns 0 or the
 * first -errno; la->chain->step says which step.
 */
static int chain_exec(struct launch *la, const struct lease_mem *m)
{
	struct chain_run *run = la->chain;
	struct chain *c = run->c;
	const struct kernel_entry *acct = NULL;	/* kernel of the run */
	uint64_t acct_n = 0, acct_ns = 0;	/* of steps not counted yet */
	bool failed = false;
	struct chain_key now;
	int64_t t0, t1;
	uint32_t i;
	int err, stop;

	run->step = 0;
	err = chain_key_get(m, &now);
	if (err)
		return err;
	if (!c->bound || memcmp(&now, &c->key, sizeof(now))) {
		chain_graph_drop(c);	/* it holds the old pointers */
		err = chain_bind(c, m, false, &run->step);
		if (err)
			return err;
	}
	if (!c->no_graph) {
		err = chain_graph_run(la, c);
		if (err != -EOPNOTSUPP)
			return err;
	}
	chain_apply(c, run->params);
	t0 = clock_mono();
	for (i = 0, err = 0; i < c->nsteps && !err; i++) {
		struct chain_step *st = &c->steps[i];
		bool ran = false;

		run->step = i;
		stop = atomic_load(&la->cancel);
		if (stop) {
			err = -stop;	/* before the next step */
			break;
		}
		if (st->has_refs)
			err = st->ke->k->check(&st->args, &st->grid);
		if (!err) {
			if (i)	/* each step its own timeout, from its start */
				launch_rearm(la, t0, st->timeout_ms);
			err = m->dev->ops->launch(m->dev, st->ke->k, &st->args,
						  &st->grid, &la->cancel);
			ran = true;
		}
		/* a stop while step i ran is step i's, even if it ended */
		stop = atomic_load(&la->cancel);
		if (!err && stop)
			err = -stop;
		if (!ran)
			break;
		failed = err != 0;
		t1 = clock_mono();
		/* consecutive steps of one kernel are counted together */
		if (st->ke != acct && acct_n) {
			registry_account_n(acct, acct_n, 0, acct_ns);
			acct_n = acct_ns = 0;
		}
		acct = st->ke;
		acct_n++;
		acct_ns += (uint64_t)(t1 - t0);
		t0 = t1;
	}
	if (acct_n)	/* the last step counted failed if it ended the run */
		registry_account_n(acct, acct_n, failed, acct_ns);
	if (!err)
		run->step = c->nsteps;
	return err;
}

static bool chain_run_touches_vram(const struct launch *la)
{
	return la->chain->c->touches_vram;
}

/* The run is over: its chain reference, then its one allocation. */
static void chain_run_release(struct launch *la)
{
	chain_put(la->chain->c);
	free(la);
}

/* Small as one launch is (launch.c), step by step. */
static bool chain_run_small(const struct launch *la)
{
	return la->chain->c->small;
}

/* How launch.c runs a chain: one queued launch, steps accounted here. */
static const struct launch_body_ops chain_body_ops = {
	.name = "chain",
	.exec = chain_exec,
	.touches_vram = chain_run_touches_vram,
	.release = chain_run_release,
	.small = chain_run_small,
	.self_accounting = true,
};

/* A run and its launch in one allocation, freed by chain_run_release. */
struct chain_launch {
	struct launch la;	/* first: free(la) frees the whole */
	struct chain_run run;
};

int chain_submit(struct chain *c, const uint64_t *params, uint64_t user_data,
		 launch_done_fn done, void *ctx, _Atomic uint64_t *seq,
		 bool inl)
{
	struct chain_launch *cl;
	int err;

	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return gl_fail(c->lease, -ENOMEM, "no memory for a chain run");
	atomic_fetch_add(&c->count, 1);
	cl->run.c = c;
	if (c->nparams)
		memcpy(cl->run.params, params, c->nparams * sizeof(*params));
	cl->la.chain = &cl->run;
	cl->la.body = &chain_body_ops;
	cl->la.lease = c->lease;
	cl->la.ke = c->steps[0].ke;
	cl->la.grid = c->steps[0].grid;
	cl->la.timeout_ms = c->steps[0].timeout_ms;
	cl->la.desc.user_data = user_data;
	cl->la.done = done;
	cl->la.ctx = ctx;
	err = launch_enqueue(&cl->la, seq, inl);
	if (err) {
		chain_put(c);
		free(cl);
	}
	return err;
}
