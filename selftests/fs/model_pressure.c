// SPDX-License-Identifier: MIT
/*
 * model_pressure.c - memory pressure on a model (Documentation/models.md,
 * "Burst, renewal and pressure"): a cold start without room waits until
 * wait_ms or the request's own deadline ends, whichever is first (the
 * text form's deadline_ms=, gl_infer_ids's and gl_infer_tensor's
 * deadline_ms, the model's deadline_ms; a fallback's wait too), then
 * fails EBUSY; the lease clock is moved by clock_offset, never slept
 * on. A language model's binary
 * answer opens with a gl_infer_served header when the request sets
 * GL_INFER_SERVED_BY (served_by 0 when the model asked served it, its
 * fallback's id when that did), through infer and through the model's
 * ring, and is today's bare ids without the flag; an unknown flag bit
 * stays EINVAL.
 */
#include <pthread.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "tools/lib/gpulease.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

#define REQ	"max_tokens=6 output=ids ids 1 2 3\n"
#define NTOK	6
#define ANS_OFF	65536	/* the ring's answer buffer */

FIXTURE(model_pressure) {
	struct gl_daemon d;
	struct gl *g;
	struct gl_ring *r;
	char dir[64];
};

FIXTURE_SETUP(model_pressure)
{
	int r;

	self->dir[0] = '\0';
	self->g = NULL;
	self->r = NULL;
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
}

FIXTURE_TEARDOWN(model_pressure)
{
	gl_ring_close(self->r);
	gl_close(self->g);
	model_fixture_rm(self->dir);
	GL_DAEMON_TEARDOWN(&self->d);
}

static long long key(const struct gl_daemon *d, const char *name,
		     const char *k)
{
	char rel[128];
	long long v = -1;

	snprintf(rel, sizeof(rel), "models/%s/ctl", name);
	if (gl_read_key(d, rel, k, &v))
		return -1;
	return v;
}

/* Take every free byte of device 0 into lease hog. */
static int hog(const struct gl_daemon *d)
{
	return lease_sized(d, "hog", dev_read_u64(d, 0, "vram.free"));
}

/* A greedy gl_infer_ids request for NTOK ids after 1 2 3; REQ_LEN
 * bytes (the struct's tail padding is no part of it). */
struct ids_req {
	struct gl_infer_ids h;
	uint32_t id[3];
};

#define REQ_LEN	(sizeof(struct gl_infer_ids) + 3 * sizeof(uint32_t))

static void ids_req(struct ids_req *r, uint32_t flags, uint32_t deadline_ms)
{
	memset(r, 0, sizeof(*r));
	r->h.magic = GL_INFER_IDS_MAGIC;
	r->h.n_ids = 3;
	r->h.max_tokens = NTOK;
	r->h.top_p = 1.0f;
	r->h.flags = flags;
	r->h.deadline_ms = deadline_ms;
	r->id[0] = 1;
	r->id[1] = 17;
	r->id[2] = 42;
}

/* The answer with GL_INFER_SERVED_BY: the header, then the ids. */
struct served_ans {
	struct gl_infer_served h;
	uint32_t id[NTOK];
};

#define SERVED_LEN	(int)sizeof(struct served_ans)
#define BARE_LEN	(int)(NTOK * sizeof(uint32_t))

/* @r on model @name through infer: the answer's length (up to 256
 * bytes read: one longer than expected shows), its start in @a; or
 * -errno. */
static int ask(const struct gl_daemon *d, const char *name,
	       const struct ids_req *r, struct served_ans *a)
{
	char buf[256];
	int n = model_infer_raw(d, name, r, REQ_LEN, buf, sizeof(buf));

	memset(a, 0xff, sizeof(*a));
	if (n > 0)
		memcpy(a, buf, n < (int)sizeof(*a) ? (size_t)n : sizeof(*a));
	return n;
}

/* A request in a thread of its own, and the model whose wait it is. */
struct bg_req {
	const struct gl_daemon *d;
	const char *name;	/* asked */
	const char *waiter;	/* whose "waiting" counts it */
	const void *req;
	size_t len;
	int ret;
	int done;		/* the thread's answer is in (atomic) */
	char out[256];
};

static void *bg_infer(void *arg)
{
	struct bg_req *b = arg;

	b->ret = model_infer_raw(b->d, b->name, b->req, b->len, b->out,
				 sizeof(b->out) - 1);
	__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int waits(void *arg)
{
	struct bg_req *b = arg;

	return key(b->d, b->waiter, "waiting") == 1;
}

static int done(void *arg)
{
	struct bg_req *b = arg;

	return __atomic_load_n(&b->done, __ATOMIC_ACQUIRE);
}

/*
 * Ask @b with no room (model @b->waiter made cold, hog taken): once it
 * waits, move the lease clock on by 61 s and give it time to end. One
 * whose wait did not end then (its deadline not heeded) is served when
 * hog goes, so it fails the caller's check instead of hanging (the
 * tests' timeout leaves room for the waits). Returns its answer's
 * length or -errno; -EPROTO when the setup failed.
 */
static int ask_past_61s(struct bg_req *b)
{
	const struct gl_daemon *d = b->d;
	char rel[128];
	pthread_t t;
	int err = 0;

	b->done = 0;
	snprintf(rel, sizeof(rel), "models/%s/ctl", b->waiter);
	if (gl_ctl_write(d, rel, "cold\n") || hog(d))
		return -EPROTO;
	if (pthread_create(&t, NULL, bg_infer, b)) {
		lease_remove(d, "hog");
		return -EPROTO;
	}
	if (gl_wait_until(waits, b, 30000))
		err = -EPROTO;
	if (gl_ctl_write(d, "ctl", "clock_offset 61\n"))
		err = -EPROTO;
	gl_wait_until(done, b, 30000);
	lease_remove(d, "hog");
	pthread_join(t, NULL);
	return err ? err : b->ret;
}

/* Load model m with @opts and make one request: its answer in @warm. */
static int load_m(const struct gl_daemon *d, const char *dir,
		  const char *opts, char *warm, size_t size)
{
	int err = gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600 %s\n", dir, opts);

	if (err)
		return err;
	err = model_infer(d, "m", REQ, warm, size);
	return err > 0 ? 0 : -EPROTO;
}

#define PRESSURE_TIMEOUT	150	/* s: two 30 s waits when it fails */

/* wait_ms an hour, the text form's deadline_ms a minute */
TEST_F_TIMEOUT(model_pressure, wait_ends_at_the_text_deadline_ms,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "m", .waiter = "m" };
	char warm[256], st[32];

	ASSERT_EQ(load_m(d, self->dir, "wait_ms=3600000", warm,
			 sizeof(warm)), 0);
	b.req = "deadline_ms=60000 " REQ;
	b.len = strlen(b.req);
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", st,
				  sizeof(st)), 0);
	EXPECT_STREQ(st, "cold");
	EXPECT_EQ(key(d, "m", "waiting"), 0);
	/* memory back in time: served, the answer a warm model gives */
	EXPECT_EQ(model_infer_raw(d, "m", b.req, b.len, b.out,
				  sizeof(b.out) - 1), (int)strlen(warm));
	EXPECT_EQ(memcmp(b.out, warm, strlen(warm)), 0);
}

/* gl_infer_ids's deadline_ms */
TEST_F_TIMEOUT(model_pressure, wait_ends_at_the_ids_deadline_ms,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "m", .waiter = "m" };
	struct ids_req r;
	char warm[256];

	ASSERT_EQ(load_m(d, self->dir, "wait_ms=3600000", warm,
			 sizeof(warm)), 0);
	ids_req(&r, 0, 60000);
	b.req = &r;
	b.len = REQ_LEN;
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
}

/* none in the request: the model's deadline_ms */
TEST_F_TIMEOUT(model_pressure, wait_ends_at_the_model_deadline_ms,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "m", .waiter = "m" };
	char warm[256];

	ASSERT_EQ(load_m(d, self->dir, "wait_ms=3600000 deadline_ms=60000",
			 warm, sizeof(warm)), 0);
	b.req = REQ;
	b.len = strlen(REQ);
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
}

/* the request's deadline later than wait_ms: wait_ms ends it */
TEST_F_TIMEOUT(model_pressure, wait_ms_ends_a_later_deadline,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "m", .waiter = "m" };
	char warm[256];

	ASSERT_EQ(load_m(d, self->dir, "wait_ms=60000", warm,
			 sizeof(warm)), 0);
	b.req = "deadline_ms=3600000 " REQ;
	b.len = strlen(b.req);
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
}

/* gl_infer_tensor's deadline_ms, on an mlp */
TEST_F_TIMEOUT(model_pressure, wait_ends_at_the_tensor_deadline_ms,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "n", .waiter = "n" };
	struct {
		struct gl_infer_tensor h;
		float x[13];
	} r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, 1, 13, 60000, 0, 0 } };
	char mdir[64];
	int ret;

	ret = model_fixture_by(mdir, sizeof(mdir), "write_mlp.py", "");
	if (ret == 1)
		SKIP(return, "no numpy");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s "
			       "wait_ms=3600000\n", mdir), 0);
	/* a request the model serves when warm */
	EXPECT_EQ(model_infer_raw(d, "n", &r, sizeof(r.h) + sizeof(r.x),
				  b.out, sizeof(b.out)), 44);
	b.req = &r;
	b.len = sizeof(r.h) + sizeof(r.x);	/* not the tail padding */
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
	model_fixture_rm(mdir);
}

/* big falls back at once; small, cold, waits for room a minute */
TEST_F_TIMEOUT(model_pressure, fallback_wait_ends_at_the_request_deadline,
	       PRESSURE_TIMEOUT)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "big", .waiter = "small" };

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load small %s/legacy.bin "
			       "ttl=3600 wait_ms=3600000\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load big %s/legacy.bin "
			       "ttl=3600 fallback=small\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/big/ctl", "cold\n"), 0);
	b.req = "deadline_ms=60000 " REQ;
	b.len = strlen(b.req);
	EXPECT_EQ(ask_past_61s(&b), -EBUSY);
	EXPECT_EQ(key(d, "big", "fallbacks"), 0);
}

TEST_F(model_pressure, served_by_flag_over_infer)
{
	const struct gl_daemon *d = &self->d;
	uint32_t want[NTOK];
	struct served_ans a;
	struct ids_req r;
	long long id;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load small %s/legacy.bin "
			       "ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load big %s/legacy.bin "
			       "ttl=3600 fallback=small\n", self->dir), 0);
	id = key(d, "small", "id");
	ASSERT_GT(id, 0);
	/* big serves: bare ids without the flag, served_by 0 with it */
	ids_req(&r, 0, 0);
	ASSERT_EQ(ask(d, "big", &r, &a), BARE_LEN);
	memcpy(want, &a, sizeof(want));
	ids_req(&r, GL_INFER_SERVED_BY, 0);
	ASSERT_EQ(ask(d, "big", &r, &a), SERVED_LEN);
	EXPECT_EQ(a.h.magic, GL_INFER_SERVED_MAGIC);
	EXPECT_EQ(a.h.reserved, 0);
	EXPECT_EQ(a.h.served_by, 0);
	EXPECT_EQ(memcmp(a.id, want, sizeof(want)), 0);
	/* no room for big: small serves, and the header says so */
	ASSERT_EQ(gl_ctl_write(d, "models/big/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_EQ(ask(d, "big", &r, &a), SERVED_LEN);
	EXPECT_EQ(a.h.magic, GL_INFER_SERVED_MAGIC);
	EXPECT_EQ(a.h.reserved, 0);
	EXPECT_EQ(a.h.served_by, (unsigned long long)id);
	EXPECT_EQ(memcmp(a.id, want, sizeof(want)), 0);
	/* without the flag: today's answer, the bare ids */
	ids_req(&r, 0, 0);
	EXPECT_EQ(ask(d, "big", &r, &a), BARE_LEN);
	EXPECT_EQ(memcmp(&a, want, sizeof(want)), 0);
	EXPECT_EQ(key(d, "big", "fallbacks"), 2);
	/* other bits stay unknown, with the flag or without */
	ids_req(&r, 0x4, 0);
	EXPECT_EQ(ask(d, "small", &r, &a), -EINVAL);
	ids_req(&r, GL_INFER_SERVED_BY | 0x80000000u, 0);
	EXPECT_EQ(ask(d, "big", &r, &a), -EINVAL);
}

/* One request through the ring at 0, its answer at ANS_OFF: the last
 * CQE's status, the answer's bytes in *@total. */
static int ring_ask(struct gl_ring *r, const struct ids_req *req,
		    uint64_t ud, size_t *total)
{
	struct gl_sqe *sqe = gl_ring_get_sqe(r);
	struct gl_cqe *cqe;
	int err, status;

	if (!sqe)
		return -EPROTO;
	memcpy(gl_ring_data(r, NULL), req, REQ_LEN);
	gl_ring_prep_infer(sqe, 0, REQ_LEN, ANS_OFF, 4096, ud);
	if (gl_ring_submit(r) != 1)
		return -EPROTO;
	for (;;) {
		err = gl_ring_wait_cqe(r, &cqe, 30000);
		if (err)
			return err;
		if (cqe->user_data != ud) {
			gl_ring_cqe_seen(r, cqe);
			continue;
		}
		*total = (size_t)cqe->ans.off + cqe->ans.len;
		status = cqe->status;
		err = cqe->flags & GL_CQE_F_MORE;
		gl_ring_cqe_seen(r, cqe);
		if (!err)
			return status;
	}
}

/*
 * The ring: the flag's header as through infer. A model's ring is part
 * of its lease, gone while it is cold, so a request on it is always
 * served by the model asked (served_by 0): a fallback never serves one.
 */
TEST_F(model_pressure, served_by_flag_over_the_ring)
{
	const struct gl_daemon *d = &self->d;
	uint32_t want[NTOK];
	struct served_ans a;
	struct ids_req r;
	size_t total = 0;
	char *ans;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "io 1M\n"), 0);
	ASSERT_EQ(gl_ring_open(self->g, "model.m", &self->r), 0);
	ans = (char *)gl_ring_data(self->r, NULL) + ANS_OFF;
	ids_req(&r, 0, 0);
	ASSERT_EQ(ask(d, "m", &r, &a), BARE_LEN);
	memcpy(want, &a, sizeof(want));
	/* without the flag: the bare ids */
	EXPECT_EQ(ring_ask(self->r, &r, 1, &total), 0);
	EXPECT_EQ(total, (size_t)BARE_LEN);
	EXPECT_EQ(memcmp(ans, want, sizeof(want)), 0);
	/* with it: the header first */
	ids_req(&r, GL_INFER_SERVED_BY, 0);
	EXPECT_EQ(ring_ask(self->r, &r, 2, &total), 0);
	ASSERT_EQ(total, (size_t)SERVED_LEN);
	memcpy(&a, ans, sizeof(a));
	EXPECT_EQ(a.h.magic, GL_INFER_SERVED_MAGIC);
	EXPECT_EQ(a.h.reserved, 0);
	EXPECT_EQ(a.h.served_by, 0);
	EXPECT_EQ(memcmp(a.id, want, sizeof(want)), 0);
	/* an unknown bit: EINVAL */
	ids_req(&r, GL_INFER_SERVED_BY | 0x4, 0);
	EXPECT_EQ(ring_ask(self->r, &r, 3, &total), -EINVAL);
}

TEST_HARNESS_MAIN
