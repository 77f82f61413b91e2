// SPDX-License-Identifier: MIT
/*
 * The lease module without the filesystem: a broker on the CPU device in
 * this process. Covers the one answer for "may this lease be used"
 * (lease_state_err: EKEYEXPIRED expired, ENOENT dropped, for every
 * operation, launches included), the owner operations a lease's creator
 * sets (struct lease_ops: who hears what), and a timer queue torn down
 * with a timer on it that is not a lease's.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon/broker.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "selftests/harness.h"

#define MIB (1ull << 20)

struct heard {
	atomic_int resize, data, expire, drop;
};

static void on_resize(void *ctx, struct lease *l)
{
	atomic_fetch_add(&((struct heard *)ctx)->resize, 1);
}

static void on_data(void *ctx, struct lease *l)
{
	atomic_fetch_add(&((struct heard *)ctx)->data, 1);
}

static void on_expire(void *ctx, struct lease *l)
{
	atomic_fetch_add(&((struct heard *)ctx)->expire, 1);
}

static void on_drop(void *ctx, struct lease *l)
{
	atomic_fetch_add(&((struct heard *)ctx)->drop, 1);
}

static const struct lease_ops heard_ops = {
	.on_resize = on_resize,
	.on_data = on_data,
	.on_expire = on_expire,
	.on_drop = on_drop,
};

FIXTURE(lt) {
	struct broker b;
	struct heard heard;
	bool up;
};

FIXTURE_SETUP(lt)
{
	struct broker_config cfg = {
		.cpu_vram = 64 * MIB,
		.default_ttl = 600,
		.max_ttl = 3600,
		.launch_timeout_ms = 10000,
		.executors = 1,
		.cpu_only = true,
	};

	memset(&self->heard, 0, sizeof(self->heard));
	ASSERT_EQ(broker_init(&self->b, &cfg), 0);
	self->up = true;
}

FIXTURE_TEARDOWN(lt)
{
	if (self->up)
		broker_destroy(&self->b);
}

static int acquire(FIXTURE_DATA(lt) *self, const char *name, uint32_t ttl,
		   const void *bind, struct lease **l)
{
	struct lease_req req = {
		.name = name, .vram = 4096, .ttl = ttl, .bind = bind,
		.ops = &heard_ops, .ops_ctx = &self->heard,
	};

	return lease_acquire(&self->b.leases, &req, l);
}

static void never_done(struct launch *la)
{
}

/* launch_submit's answer for @l: a noop that would be valid. */
static int submit_noop(FIXTURE_DATA(lt) *self, struct lease *l)
{
	struct launch_desc d;
	uint64_t seq;

	if (launch_parse_text("noop grid=1", 11, &d))
		return 1;
	return launch_submit(&self->b.launcher, l, &d, never_done, NULL,
			     &seq);
}

/* A dropped lease is gone: ENOENT for a copy, a renew and a launch alike
 * (launch.c used to answer ECANCELED, lease.c ENOENT). */
TEST_F(lt, dropped_lease_is_enoent_for_every_operation)
{
	struct lease *l;
	char c = 0;

	ASSERT_EQ(acquire(self, "gone", 600, NULL, &l), 0);
	ASSERT_EQ(lease_check(l), 0);
	ASSERT_EQ(lease_drop(l, 0, false), 0);
	EXPECT_EQ(lease_state_err(l), -ENOENT);
	EXPECT_EQ(lease_check(l), -ENOENT);
	EXPECT_EQ(lease_pwrite(l, &c, 1, 0), -ENOENT);
	EXPECT_EQ(lease_renew(l, 0, false), -ENOENT);
	EXPECT_EQ(submit_noop(self, l), -ENOENT);
	EXPECT_EQ(lease_drop(l, 0, false), -ENOENT);
	/* the creator asked for it itself: nothing to hear */
	EXPECT_EQ(atomic_load(&self->heard.drop), 0);
	lease_put(l);
}

/* An expired lease: EKEYEXPIRED for the same operations, and its creator
 * hears on_expire once. */
TEST_F(lt, expired_lease_is_ekeyexpired_and_its_creator_hears)
{
	struct lease *l;
	char c = 0;

	ASSERT_EQ(acquire(self, "old", 1, NULL, &l), 0);
	ASSERT_EQ(clock_advance_to(&self->b.clock, 2), 0);
	reaper_run_due(&self->b.reaper);
	EXPECT_EQ(lease_state_err(l), -EKEYEXPIRED);
	EXPECT_EQ(lease_pwrite(l, &c, 1, 0), -EKEYEXPIRED);
	EXPECT_EQ(lease_renew(l, 0, false), -EKEYEXPIRED);
	EXPECT_EQ(submit_noop(self, l), -EKEYEXPIRED);
	EXPECT_EQ(atomic_load(&self->heard.expire), 1);
	EXPECT_EQ(atomic_load(&self->heard.drop), 0);
	lease_put(l);
}

/* A drop its creator did not ask for (the bound file closed) reaches the
 * creator through on_drop; a resize through on_resize. */
TEST_F(lt, creator_hears_drop_from_elsewhere_and_resize)
{
	static const char token;
	struct lease *l;

	ASSERT_EQ(acquire(self, "bound", 600, &token, &l), 0);
	EXPECT_EQ(lease_resize(l, 8192), 0);
	EXPECT_EQ(atomic_load(&self->heard.resize), 1);
	lease_release_token(&self->b.leases, &token);
	EXPECT_EQ(atomic_load(&self->heard.drop), 1);
	EXPECT_EQ(lease_check(l), -ENOENT);
	EXPECT_EQ(atomic_load(&self->heard.data), 0);
	lease_put(l);
}

/* A lease made with no owner operations is fine everywhere. */
TEST_F(lt, lease_without_ops)
{
	static const char token;
	struct lease_req req = {
		.name = "quiet", .vram = 4096, .ttl = 600, .bind = &token,
	};
	struct lease *l;

	ASSERT_EQ(lease_acquire(&self->b.leases, &req, &l), 0);
	EXPECT_EQ(lease_resize(l, 0), 0);
	lease_notify_data(l);
	lease_release_token(&self->b.leases, &token);
	EXPECT_EQ(lease_check(l), -ENOENT);
	lease_put(l);
}

struct plain {
	struct timer t;
	int cancelled;
};

static void plain_fire(struct timer *t, struct timer_round *rd)
{
}

static void plain_cancel(struct timer *t)
{
	caa_container_of(t, struct plain, t)->cancelled++;
}

/* The timer queue is generic: tearing the broker down with a timer
 * queued that belongs to no lease cancels it through its own cancel
 * (the reaper used to take every queued timer for a lease's). */
TEST_F(lt, teardown_with_a_timer_that_is_not_a_lease)
{
	struct plain p = { 0 };
	struct lease *l;

	ASSERT_EQ(acquire(self, "beside", 600, NULL, &l), 0);
	lease_put(l);
	timer_init(&p.t, plain_fire);
	timer_set_cancel(&p.t, plain_cancel);
	ASSERT_EQ(timer_add(&self->b.reaper.timers, &p.t,
			    clock_now(&self->b.clock) + 3600 * NSEC_PER_SEC),
		  0);
	broker_destroy(&self->b);
	self->up = false;
	EXPECT_EQ(p.cancelled, 1);
}

TEST_HARNESS_MAIN
