// SPDX-License-Identifier: MIT
/*
 * A launch body that owns its launches (launch_body_ops.release, launch.h)
 * as a model request owns its steps (daemon/model-infer.c): two launches
 * embedded in a request that is not on the heap, used in turn, step N+1
 * queued from step N's done(). launch.c must never free them (the old
 * free after release() aborts here), must have released step N before
 * step N+1 runs (so step N+2 may reuse step N's launch), and must hand
 * back every launch once, on the normal path, a cancelled running step
 * (the lease dropped) and a queued step cancelled while the step before
 * it still finishes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/registry.h"
#include "selftests/harness.h"

struct fake_req;

struct fake_step {
	struct launch la;		/* first */
	struct fake_req *rq;
	atomic_bool busy;		/* enqueued, not yet released */
};

struct fake_req {
	struct fake_step step[2];
	struct lease *l;
	const struct kernel_entry *ke;
	uint32_t nsteps;		/* queued so far */
	uint32_t want;			/* steps to run */
	int hold_at;			/* the step that waits for a cancel */
	int cancel_next_at;		/* the step whose done() cancels the
					 * step it queued */
	atomic_int ran, released, bad, holding, ended, err;
};

static int fake_submit(struct fake_req *rq);

static int fake_exec(struct launch *la, const struct lease_mem *m)
{
	struct fake_step *fs = (struct fake_step *)la;
	struct fake_req *rq = fs->rq;
	int n = atomic_fetch_add(&rq->ran, 1);

	(void)m;
	/* the step before this one was handed back before this one ran */
	if (atomic_load(&rq->step[fs == &rq->step[0]].busy))
		atomic_fetch_add(&rq->bad, 1);
	if (n == rq->hold_at) {
		atomic_store(&rq->holding, 1);
		while (!atomic_load(&la->cancel))
			usleep(1000);
	}
	return 0;
}

static bool fake_touches_vram(const struct launch *la)
{
	(void)la;
	return false;
}

static void fake_release(struct launch *la)
{
	struct fake_step *fs = (struct fake_step *)la;

	if (!atomic_exchange(&fs->busy, false))
		atomic_fetch_add(&fs->rq->bad, 1);
	atomic_fetch_add(&fs->rq->released, 1);
}

static bool fake_small(const struct launch *la)
{
	(void)la;
	return false;
}

static const struct launch_body_ops fake_ops = {
	.name = "fake",
	.exec = fake_exec,
	.touches_vram = fake_touches_vram,
	.release = fake_release,
	.small = fake_small,
	.self_accounting = true,
};

static void fake_done(struct launch *la)
{
	struct fake_req *rq = ((struct fake_step *)la)->rq;
	int err = la->status;
	uint32_t n = rq->nsteps;

	if (!err && n < rq->want) {
		err = fake_submit(rq);
		if (!err && (int)n == rq->cancel_next_at + 1 &&
		    launch_cancel(rq->l, rq->step[n % 2].la.seq,
				  -ECANCELED))
			atomic_fetch_add(&rq->bad, 1);
		if (!err)
			return;
	}
	atomic_store(&rq->err, err);
	atomic_fetch_add(&rq->ended, 1);
}

static int fake_submit(struct fake_req *rq)
{
	struct fake_step *fs = &rq->step[rq->nsteps++ % 2];
	_Atomic uint64_t seq;
	int err;

	if (atomic_load(&fs->busy)) {
		atomic_fetch_add(&rq->bad, 1);
		return -EBUSY;
	}
	memset(&fs->la, 0, sizeof(fs->la));
	atomic_store(&fs->busy, true);
	fs->rq = rq;
	fs->la.body = &fake_ops;
	fs->la.lease = rq->l;
	fs->la.ke = rq->ke;
	fs->la.timeout_ms = 60000;
	fs->la.done = fake_done;
	err = launch_enqueue(&fs->la, &seq, false);
	if (err)
		atomic_store(&fs->busy, false);
	return err;
}

FIXTURE(lb) {
	struct broker b;
	struct lease *l;
	struct fake_req rq;	/* not on the heap: launch.c must not free */
};

FIXTURE_SETUP(lb)
{
	struct broker_config cfg = {
		.cpu_vram = 1 << 20,
		.default_ttl = 600,
		.max_ttl = 3600,
		.launch_timeout_ms = 10000,
		.executors = 2,
		.cpu_only = true,
	};
	struct lease_req req = { .name = "body", .vram = 4096, .ttl = 600 };

	ASSERT_EQ(broker_init(&self->b, &cfg), 0);
	ASSERT_EQ(lease_acquire(&self->b.leases, &req, &self->l), 0);
	memset(&self->rq, 0, sizeof(self->rq));
	self->rq.l = self->l;
	self->rq.ke = registry_find(&self->b.reg, "noop");
	ASSERT_TRUE(self->rq.ke != NULL);
	self->rq.hold_at = -1;
	self->rq.cancel_next_at = -1;
}

FIXTURE_TEARDOWN(lb)
{
	lease_put(self->l);
	broker_destroy(&self->b);
}

static void wait_ended(struct fake_req *rq)
{
	while (!atomic_load(&rq->ended))
		usleep(1000);
}

/* 1000 steps through two launches: each handed back once, none freed,
 * step N released before step N+1 ran. */
TEST_F(lb, steps_reuse_two_launches)
{
	struct fake_req *rq = &self->rq;

	rq->want = 1000;
	ASSERT_EQ(fake_submit(rq), 0);
	wait_ended(rq);
	EXPECT_EQ(atomic_load(&rq->err), 0);
	EXPECT_EQ(atomic_load(&rq->ran), 1000);
	EXPECT_EQ(atomic_load(&rq->released), 1000);
	EXPECT_EQ(atomic_load(&rq->bad), 0);
	EXPECT_EQ(atomic_load(&rq->ended), 1);
}

/* The lease dropped under a running step (unload): it ends ECANCELED,
 * handed back, and every launch that was queued is back when the drop
 * returns. */
TEST_F(lb, drop_cancels_the_running_step)
{
	struct fake_req *rq = &self->rq;

	rq->want = 1000;
	rq->hold_at = 5;
	ASSERT_EQ(fake_submit(rq), 0);
	while (!atomic_load(&rq->holding))
		usleep(1000);
	ASSERT_EQ(lease_drop(self->l, 0, false), 0);
	EXPECT_EQ(atomic_load(&rq->ended), 1);
	EXPECT_EQ(atomic_load(&rq->err), -ECANCELED);
	EXPECT_EQ(atomic_load(&rq->ran), 6);
	EXPECT_EQ(atomic_load(&rq->released), 6);
	EXPECT_EQ(atomic_load(&rq->bad), 0);
	EXPECT_FALSE(atomic_load(&rq->step[0].busy));
	EXPECT_FALSE(atomic_load(&rq->step[1].busy));
}

/* A queued step failed (launch_cancel, as launch_close fails queued ones)
 * on the thread of the step before it, still finishing: the failed one is
 * handed back first, then the one before, and nothing is queued again. */
TEST_F(lb, queued_step_cancelled_while_the_one_before_finishes)
{
	struct fake_req *rq = &self->rq;

	rq->want = 1000;
	rq->cancel_next_at = 3;
	ASSERT_EQ(fake_submit(rq), 0);
	wait_ended(rq);
	/* the end is seen in the cancelled step's done(): wait for the
	 * queue to settle, then look */
	launch_close(self->l, -ECANCELED, false);
	EXPECT_EQ(atomic_load(&rq->err), -ECANCELED);
	EXPECT_EQ(atomic_load(&rq->ran), 4);
	EXPECT_EQ(atomic_load(&rq->released), 5);
	EXPECT_EQ(atomic_load(&rq->bad), 0);
	EXPECT_EQ(atomic_load(&rq->ended), 1);
	EXPECT_FALSE(atomic_load(&rq->step[0].busy));
	EXPECT_FALSE(atomic_load(&rq->step[1].busy));
}

TEST_HARNESS_MAIN
