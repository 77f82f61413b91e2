/* SPDX-License-Identifier: MIT */
/*
 * Launches: validation of a descriptor against a lease and a kernel, the
 * per-lease FIFO (launches of one lease run in order, those of different
 * leases concurrently on the executor threads, a small one of an idle
 * lease inline on the thread that submitted it), the watchdog, and the
 * drain that rmdir and expiry run before freeing memory.
 */
#ifndef GL_LAUNCH_H
#define GL_LAUNCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/list.h>

#include "daemon/launch-parse.h"
#include "kernels/kernels.h"

struct lease;
struct lease_mem;
struct lease_work_ops;
struct kernel_entry;
struct launch;
struct launch_body_ops;
struct policy;
struct registry;
struct chain_run;

/* Called once per accepted launch, from any thread, with no lock held;
 * @la is freed when it returns (by launch.c, or by its body's release). */
typedef void (*launch_done_fn)(struct launch *la);

struct launch {
	struct cds_list_head link;	/* lq.queue or launcher->running */
	struct lease *lease;		/* reference */
	const struct kernel_entry *ke;
	struct launch_desc desc;
	struct gl_grid grid;		/* block defaulted */
	uint64_t seq;			/* per lease, from 1 */
	uint32_t timeout_ms;		/* resolved: never 0 */
	atomic_int cancel;		/* 0, or the positive errno to stop
					 * with (ETIMEDOUT, EKEYEXPIRED...) */
	_Atomic int64_t deadline_ns;	/* CLOCK_MONOTONIC; set under the
					 * launcher lock, or by its own
					 * thread (launch_rearm) */
	int status;			/* 0 or -errno, set before done() */
	uint64_t duration_ns;		/* run time, set before done() */
	bool ran;			/* the kernel was started */
	launch_done_fn done;
	void *ctx;			/* the front end's */
	struct chain_run *chain;	/* a run of a chain (daemon/chain.c),
					 * owned; NULL for one kernel. ke and
					 * desc are then its first step's */
	const struct launch_body_ops *body; /* what runs instead of one
					 * kernel (a chain), or NULL */
};

/*
 * What runs instead of one kernel, so that launch.c calls its users
 * without naming them (chain.c sets it on its runs).
 */
struct launch_body_ops {
	const char *name;		/* in logs and completions */
	/* run it over @m (lease_mem_get held, the lease active): 0 or
	 * -errno */
	int (*exec)(struct launch *la, const struct lease_mem *m);
	/* whether it may have written vram */
	bool (*touches_vram)(const struct launch *la);
	/* after done(): the body frees @la, or keeps it for reuse (its
	 * memory is the body's: launch.c frees only a launch without a
	 * body). launch.c touches @la no more once it is called; the
	 * launch still holds its lease reference until it returns. */
	void (*release)(struct launch *la);
	/* whether it may run inline (launch_enqueue's @inl) */
	bool (*small)(const struct launch *la);
	/* accounts itself in the registry (per step): launch.c does not */
	bool self_accounting;
};

/* launch_name - the kernel's name, or its body's ("chain", "model"). */
const char *launch_name(const struct launch *la);

/* Per-lease launch state, l->lq: made and freed through launch_lease_ops,
 * the lease's internal listener. */
struct launch_queue {
	struct lease *lease;		/* owner; fixed */
	struct launcher *lr;		/* its executors; fixed */
	pthread_mutex_t lock;
	pthread_cond_t idle;		/* nothing running or finishing */
	struct cds_list_head queue;	/* lock; waiting launches, FIFO */
	struct launch *running;		/* lock; on an executor or inline */
	void (*idle_fn)(struct lease *l);/* lock; run by an executor once
					 * the running launch has ended */
	bool finishing;			/* lock; a finished launch's
					 * completion is being delivered, or
					 * its idle_fn waits for an executor */
	bool ready;			/* lock; on launcher->ready */
	int closed;			/* lock; 0 or the -errno of refusal */
	uint64_t next_seq;		/* lock */
	_Atomic uint32_t nr_queued;	/* waiting launches; written under
					 * lock */
	_Atomic uint32_t nr_running;	/* 0 or 1, as running; written
					 * under lock */
	struct cds_list_head ready_link;/* launcher->ready; launcher lock */
	_Atomic uint64_t launches;	/* finished, any status */
	_Atomic uint64_t failures;	/* finished with status != 0 */
	_Atomic uint64_t ns;		/* run time summed */
};

struct launcher {
	struct registry *reg;		/* fixed after launcher_start */
	const struct policy *pol;	/* launch_timeout_ms */
	pthread_mutex_t lock;
	pthread_cond_t work;		/* ready gained a lease, or stop */
	pthread_cond_t wd;		/* running changed, or stop */
	struct cds_list_head ready;	/* lock; leases (referenced) */
	struct cds_list_head running;	/* lock; launches, for watchdog */
	bool stop;			/* lock */
	_Atomic uint64_t wd_scan;	/* odd while the watchdog reads the
					 * deadlines (launch_rearm) */
	_Atomic int64_t wd_next;	/* lock; CLOCK_MONOTONIC ns of the
					 * watchdog's next look, INT64_MAX
					 * when it waits for a launch */
	unsigned nthreads;
	pthread_t *threads;
	pthread_t watchdog;
	bool started;
	_Atomic uint64_t inline_runs;	/* launches run by the thread that
					 * received them */
};

/*
 * launch_lease_ops - the launch queue as a lease's internal listener
 * (lease_table_listen, with the launcher as context): makes l->lq at
 * allocation, frees it at the last put, and stops it when the lease is
 * dropped or expires (launch_close, launch_close_async).
 */
extern const struct lease_work_ops launch_lease_ops;

/* launcher_start - @nthreads executors and the watchdog, looking kernels
 * up in @reg and default timeouts in @pol. 0 or -errno. */
int launcher_start(struct launcher *lr, struct registry *reg,
		   const struct policy *pol, unsigned nthreads);

/* launcher_stop - join every thread; queues must be closed first. */
void launcher_stop(struct launcher *lr);

/*
 * launch_submit - validate @d against @l's memory and the registry, then
 * queue it. On 0 the launch is queued, *seq is its number, and @done will
 * be called exactly once. Errors (nothing queued, @done never called):
 * -EINVAL (unknown kernel, arity, types, grid, block), -EFAULT (a range
 * outside the lease), -EKEYEXPIRED, -ENOENT (lease dropped: as
 * lease_state_err), -ECANCELED (lease being dropped),
 * -EAGAIN (GL_LAUNCH_QUEUE_MAX launches of @l in flight), -ENOMEM.
 */
int launch_submit(struct launcher *lr, struct lease *l,
		  const struct launch_desc *d, launch_done_fn done,
		  void *ctx, uint64_t *seq);

/*
 * launch_enqueue - queue @la, filled in (lease, ke, desc, grid,
 * timeout_ms, done, ctx, body) and validated by its maker (launch_submit,
 * or chain_submit for a chain run), or with @inl run it on the calling
 * thread as launch_submit_inline() does when it is small (a body's
 * small()) and its lease idle. Takes a reference to its lease. On 0 it
 * is queued or has run (its body's release() called, or freed, by
 * whoever ran it), *seq its number,
 * stored before it can start; else the caller still owns @la:
 * -EKEYEXPIRED, -ENOENT, -ECANCELED (closed), -EAGAIN
 * (GL_LAUNCH_QUEUE_MAX in flight).
 */
int launch_enqueue(struct launch *la, _Atomic uint64_t *seq, bool inl);

/* launch_rearm - the running @la's watchdog deadline becomes @now
 * (CLOCK_MONOTONIC ns) plus @timeout_ms: a chain's next step. From the
 * thread running @la; lock-free unless the watchdog must hear of it
 * (then it takes launcher->lock, so never with that held). */
void launch_rearm(struct launch *la, int64_t now, uint32_t timeout_ms);

/*
 * launch_submit_inline - launch_submit(), but when @l has nothing queued,
 * running or finishing and the launch is small (fewer grid x block
 * elements than POOL_SPLIT_ELEMS, the least the CPU pool splits), it runs
 * on the calling thread and @done is called there before this returns.
 * Otherwise it is queued as launch_submit() does. *@seq is stored before
 * the launch can start, so launch_cancel(@l, *@seq) reaches it from any
 * thread from then on, also while it runs inline; the watchdog, drop and
 * expiry stop an inline launch as they stop an executor's. The caller
 * holds a reference to @l and no lock; the thread may block for the
 * launch's whole run. Same errors as launch_submit().
 */
int launch_submit_inline(struct launcher *lr, struct lease *l,
			 const struct launch_desc *d, launch_done_fn done,
			 void *ctx, _Atomic uint64_t *seq);

/* launch_touches_vram - whether @la was started and names any vram
 * range (a buf arg): only then can it have changed the lease's memory. */
bool launch_touches_vram(const struct launch *la);

/* launch_running - 1 while a launch of @l runs, else 0. A lock-free
 * snapshot. */
unsigned launch_running(struct lease *l);

struct launch_stats {
	uint64_t launches;		/* finished, any status */
	uint64_t failures;		/* finished with status != 0 */
	uint64_t ns;			/* run time summed */
	uint32_t queued;
	uint32_t running;
};

/* launch_stats - a lock-free snapshot of @l's launch counters. */
void launch_stats(struct lease *l, struct launch_stats *st);

/* launch_closed - whether launch_close() or launch_close_async() ran. */
bool launch_closed(struct lease *l);

/*
 * launch_close - refuse new launches of @l with @err, complete the queued
 * ones with @err, and wait for the running one; with @cancel, ask it to
 * stop with @err (kernels look at the flag inside their loops, so it ends
 * within milliseconds on the CPU device). Sleeps; no lock held.
 */
void launch_close(struct lease *l, int err, bool cancel);

/*
 * launch_close_async - launch_close() with cancel that never waits.
 * Returns true when nothing of @l runs: the caller goes on at once.
 * Returns false when a launch is still running or finishing: an
 * executor calls @idle(@l) once it has ended (holding a reference to @l,
 * no lock held, before any launch_close() waiting on @l returns). At
 * most one @idle may be pending per lease. Sleeps only on short locks.
 */
bool launch_close_async(struct lease *l, int err,
			void (*idle)(struct lease *l));

/*
 * launch_cancel - stop launch @seq of @l with @err: a queued one is taken
 * off the queue and completed now (its done() runs in the caller's
 * thread), the running one is asked to stop. Returns 0, or -ENOENT when
 * @seq is no longer queued or running (it finished). No lock held.
 */
int launch_cancel(struct lease *l, uint64_t seq, int err);

/* Internal to launch*.c, and chain.c's steps. */

/*
 * launch_bind - turn @d's arguments into kernel arguments, checking every
 * range: a buf against @l's vram bytes, resolved to a device pointer by
 * its device's resolve(); an io against @l's io region, a host pointer
 * into its data area (CPU device only). Called with @l's mem_lock held
 * (either side). Returns 0, -EINVAL (arity, types), -EFAULT (a range
 * outside the lease, or io without a region or off the CPU device), or
 * resolve()'s -errno. (launch-bind.c)
 */
int launch_bind(const struct launch_desc *d, const struct kernel_entry *ke,
		const struct lease_mem *m, struct gl_kargs *out);

/* launch_watchdog_start - start @lr's watchdog thread; @lr->lock and
 * stop are initialised. 0 or -errno. (launch-watchdog.c) */
int launch_watchdog_start(struct launcher *lr);

/* launch_watch - put @la, starting at @now (CLOCK_MONOTONIC ns), on the
 * running list with its deadline; launch_unwatch takes it off. Take
 * lr->lock; no queue lock or mem_lock held. (launch-watchdog.c) */
void launch_watch(struct launcher *lr, struct launch *la, int64_t now);
void launch_unwatch(struct launcher *lr, struct launch *la);

#endif
