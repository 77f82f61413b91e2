// SPDX-License-Identifier: MIT
/*
 * model_admit.c - admission control of a model's requests: a request
 * whose estimated run time outlasts its model lease's TTL left, or its
 * own deadline (deadline_ms per request, in the text and binary forms,
 * else the model's), is refused with ETIME before it starts; one within
 * both is served; the estimate is learnt from the requests that ran and
 * read back in the model's ctl; refusals are counted by reason (etime,
 * ebusy, expired) in stats and /gpu/metrics; bad values are EINVAL naming
 * the option. Deterministic: the estimate is seeded through the root-only
 * ctl keys est_row_ns and est_token_ns and the lease's TTL moved with the
 * clock knob, with margins of seconds, so no assertion depends on speed.
 */
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(model_admit) {
	struct gl_daemon d;
	char dir[64];
	char mlp[64];
};

FIXTURE_SETUP(model_admit)
{
	int r;

	self->dir[0] = self->mlp[0] = '\0';
	GL_DAEMON_SETUP(&self->d, args);
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
}

FIXTURE_TEARDOWN(model_admit)
{
	model_fixture_rm(self->mlp);
	model_fixture_rm(self->dir);
	GL_DAEMON_TEARDOWN(&self->d);
}

#define SEC	1000000000ll	/* ns */

/* A gl_infer_ids and its 3 ids (not the size of a struct of both: its
 * tail padding would read as a length error). */
#define IDS_LEN	(sizeof(struct gl_infer_ids) + 3 * sizeof(uint32_t))

/* Seed m's estimate: ns per prompt row and per token after the first. */
static int seed(const struct gl_daemon *d, long long row, long long token)
{
	return gl_ctl_write(d, "models/m/ctl", "est_row_ns %lld\n", row) ?:
	       gl_ctl_write(d, "models/m/ctl", "est_token_ns %lld\n", token);
}

/* A greedy request of 3 prompt ids and @max_tokens with @opts: the
 * answer's length or its -errno. */
static int ask(const struct gl_daemon *d, const char *opts, int max_tokens)
{
	char req[256], ans[1024];

	snprintf(req, sizeof(req), "%s max_tokens=%d output=ids ids 1 2 3\n",
		 opts, max_tokens);
	return model_infer(d, "m", req, ans, sizeof(ans));
}

static long long key(const struct gl_daemon *d, const char *rel,
		     const char *k)
{
	long long v = -1;

	if (gl_read_key(d, rel, k, &v))
		return -1;
	return v;
}

/* m's last_error holds @what. */
static int last_error_has(const struct gl_daemon *d, const char *what)
{
	char e[GL_TEXT_MAX] = "";

	if (gl_read_key_str(d, "models/m/ctl", "last_error", e, sizeof(e)))
		return 0;
	return strstr(e, what) != NULL;
}

/* /gpu/metrics has the line @want. */
static int metrics_has(const struct gl_daemon *d, const char *want)
{
	static char text[1 << 17];

	if (gl_read(d, "metrics", text, sizeof(text)) < 0)
		return 0;
	return strstr(text, want) != NULL;
}

TEST_F(model_admit, learns_its_estimate_and_reads_back)
{
	const struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "deadline_ms=250\n", self->dir), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "deadline_ms"), 250);
	EXPECT_EQ(key(d, "models/m/ctl", "est_row_ns"), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "est_token_ns"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "deadline_ms 0\n"), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "deadline_ms"), 0);
	/* a request that ran whole sets both (prompt, then tokens) */
	ASSERT_GT(ask(d, "", 4), 0);
	EXPECT_GT(key(d, "models/m/ctl", "est_row_ns"), 0);
	EXPECT_GT(key(d, "models/m/ctl", "est_token_ns"), 0);
	/* the seeds read back */
	ASSERT_EQ(seed(d, 7 * SEC, 3), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "est_row_ns"), 7 * SEC);
	EXPECT_EQ(key(d, "models/m/ctl", "est_token_ns"), 3);
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 0);
}

TEST_F(model_admit, etime_when_the_lease_has_too_little_ttl_left)
{
	const struct gl_daemon *d = &self->d;

	/* renew=manual: renew=auto would give each request its whole TTL
	 * again as it starts (below) */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=1000 renew=manual\n", self->dir), 0);
	/* 3 rows of 100 s: 300 s, within the 1000 s left: served */
	ASSERT_EQ(seed(d, 100 * SEC, 0), 0);
	EXPECT_GT(ask(d, "", 1), 0);
	/* 200 s left on the lease clock: refused before it starts */
	ASSERT_EQ(seed(d, 100 * SEC, 0), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 800\n"), 0);
	EXPECT_EQ(ask(d, "", 1), -ETIME);
	EXPECT_TRUE(last_error_has(d, "lease has"));
	/* a long deadline does not help; a shorter request fits */
	EXPECT_EQ(ask(d, "deadline_ms=86400000", 1), -ETIME);
	ASSERT_EQ(seed(d, 10 * SEC, 0), 0);
	EXPECT_GT(ask(d, "", 1), 0);
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 2);
	EXPECT_EQ(key(d, "models/m/stats", "requests"), 4);
	EXPECT_EQ(key(d, "models/m/ctl", "running"), 0);
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_refused_total"
				"{model=\"m\",reason=\"etime\"} 2\n"));
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_failures_total"
				"{model=\"m\",reason=\"ETIME\"} 2\n"));
}

/* renew=auto renews the lease as a request starts: what is left is the
 * whole TTL, and only a request longer than that is refused. */
TEST_F(model_admit, etime_under_auto_renewal_is_the_whole_ttl)
{
	const struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=1000\n", self->dir), 0);
	ASSERT_EQ(seed(d, 100 * SEC, 0), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 800\n"), 0);
	EXPECT_GT(ask(d, "", 1), 0);	/* renewed: 1000 s left */
	ASSERT_EQ(seed(d, 400 * SEC, 0), 0);
	EXPECT_EQ(ask(d, "", 1), -ETIME);	/* 1200 s */
	EXPECT_TRUE(last_error_has(d, "lease has"));
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 1);
}

TEST_F(model_admit, etime_past_its_deadline)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_ids h;
		uint32_t id[3];
	} r = { .h = { .magic = GL_INFER_IDS_MAGIC, .n_ids = 3,
		       .max_tokens = 1, .top_p = 1.0f }, .id = { 1, 2, 3 } };
	uint32_t out[4];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600\n", self->dir), 0);
	/* 3 rows of 1 s: 3 s */
	ASSERT_EQ(seed(d, SEC, 0), 0);
	EXPECT_EQ(ask(d, "deadline_ms=2000", 1), -ETIME);
	EXPECT_TRUE(last_error_has(d, "deadline_ms 2000"));
	r.h.deadline_ms = 2000;
	EXPECT_EQ(model_infer_raw(d, "m", &r, IDS_LEN, out, sizeof(out)),
		  -ETIME);
	/* the model's default, and a request's own overriding it */
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "deadline_ms 2000\n"), 0);
	EXPECT_EQ(ask(d, "", 1), -ETIME);
	r.h.deadline_ms = 0;
	EXPECT_EQ(model_infer_raw(d, "m", &r, IDS_LEN, out, sizeof(out)),
		  -ETIME);
	EXPECT_GT(ask(d, "deadline_ms=4000", 1), 0);
	ASSERT_EQ(seed(d, SEC, 0), 0);
	r.h.deadline_ms = 4000;
	EXPECT_EQ(model_infer_raw(d, "m", &r, IDS_LEN, out, sizeof(out)),
		  4);
	/* tokens after the first count: 5 of 1 s, 4 s over 2 s */
	ASSERT_EQ(seed(d, 0, SEC), 0);
	EXPECT_EQ(ask(d, "", 5), -ETIME);
	EXPECT_GT(ask(d, "", 2), 0);	/* 1 s */
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 5);
}

/* Load m as nobody and try what it may not: 0 when all as expected. */
static int nobody_sets_no_seed(void *arg)
{
	const FIXTURE_DATA(model_admit) *self = arg;
	const struct gl_daemon *d = &self->d;

	if (gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			 self->dir))
		return 1;
	if (gl_ctl_write(d, "models/m/ctl", "deadline_ms 10\n"))
		return 2;
	if (gl_ctl_write(d, "models/m/ctl", "est_row_ns 10\n") != -EACCES)
		return 3;
	return gl_ctl_write(d, "models/ctl", "unload m\n") ? 4 : 0;
}

TEST_F(model_admit, bad_values_are_einval_naming_the_option)
{
	const struct gl_daemon *d = &self->d;
	static const char *const bad[] = {
		"deadline_ms=x", "deadline_ms=-1", "deadline_ms=86400001",
		"deadline_ms=4294967296", "deadline_ms=",
	};
	struct {
		struct gl_infer_ids h;
		uint32_t id[3];
	} r = { .h = { .magic = GL_INFER_IDS_MAGIC, .n_ids = 3,
		       .max_tokens = 1, .top_p = 1.0f }, .id = { 1, 2, 3 } };
	char e[GL_TEXT_MAX];
	uint32_t out[4];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m "
				       "%s/legacy.bin %s\n", self->dir,
				       bad[i]), -EINVAL) TH_LOG("%s", bad[i]);
		EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", e,
					  sizeof(e)), 0);
		EXPECT_NE(strstr(e, bad[i]), NULL) TH_LOG("%s", e);
	}
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(ask(d, bad[i], 1), -EINVAL) TH_LOG("%s", bad[i]);
		EXPECT_TRUE(last_error_has(d, "deadline_ms"));
		EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "deadline_ms %s\n",
				       bad[i] + 12), -EINVAL);
		EXPECT_TRUE(last_error_has(d, "deadline_ms"));
	}
	r.h.deadline_ms = 86400001;
	EXPECT_EQ(model_infer_raw(d, "m", &r, IDS_LEN, out, sizeof(out)),
		  -EINVAL);
	EXPECT_TRUE(last_error_has(d, "deadline_ms"));
	r.h.deadline_ms = 86400000;	/* a day: the most */
	EXPECT_EQ(model_infer_raw(d, "m", &r, IDS_LEN, out, sizeof(out)),
		  4);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "est_row_ns x\n"),
		  -EINVAL);
	EXPECT_TRUE(last_error_has(d, "est_row_ns"));
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "deadline_ms 1 2\n"),
		  -EINVAL);
	EXPECT_EQ(key(d, "models/m/ctl", "deadline_ms"), 0);
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	/* the owner sets its deadline; only root seeds the estimate */
	EXPECT_EQ(gl_run_as_nobody(nobody_sets_no_seed, self), 0);
}

TEST_F(model_admit, refusals_by_reason)
{
	const struct gl_daemon *d = &self->d;
	char first[64];
	int fd, fd2;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=60 max_queue=0\n", self->dir), 0);
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_refused_total"
				"{model=\"m\",reason=\"ebusy\"} 0\n"));
	/* ebusy: its one KV slot held by a request made to wait, and no
	 * room in its queue */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 1\n"), 0);
	fd = open(gl_path(d, "models/m/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "max_tokens=20 output=ids ids 1 2 3\n", 35), 35);
	ASSERT_GT(read(fd, first, sizeof(first) - 1), 0);
	EXPECT_EQ(ask(d, "", 1), -EBUSY);
	/* expired: its lease's TTL ran out under a request that had its
	 * infer file open (a new open is refused by the file system) */
	fd2 = open(gl_path(d, "models/m/infer"), O_RDWR);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	close(fd);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 120\n"), 0);
	EXPECT_EQ(write(fd2, "ids 1\n", 6), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(fd2);
	EXPECT_EQ(ask(d, "", 1), -EKEYEXPIRED);	/* at open: not counted */
	EXPECT_EQ(key(d, "models/m/stats", "refused_ebusy"), 1);
	EXPECT_EQ(key(d, "models/m/stats", "refused_expired"), 1);
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 0);
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_refused_total"
				"{model=\"m\",reason=\"ebusy\"} 1\n"));
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_refused_total"
				"{model=\"m\",reason=\"expired\"} 1\n"));
	EXPECT_TRUE(metrics_has(d, "gpulease_inference_refused_total"
				"{model=\"m\",reason=\"etime\"} 0\n"));
}

TEST_F(model_admit, mlp_rows_and_its_deadline)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_tensor h;
		float x[2][13];
	} r = { .h = { .magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		       .rows = 2, .cols = 13 } };
	char ans[256];
	int n;

	n = model_fixture_by(self->mlp, sizeof(self->mlp), "write_mlp.py",
			     "");
	ASSERT_EQ(n, 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s max_batch=4 "
			       "deadline_ms=1500\n", self->mlp), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "est_token_ns"), -1);	/* none */
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "est_token_ns 1\n"),
		  -EINVAL);
	/* 2 rows of 1 s: 2 s, over the model's 1.5 s */
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "est_row_ns %lld\n", SEC),
		  0);
	EXPECT_EQ(model_infer_raw(d, "m", &r, sizeof(r), ans, sizeof(ans)),
		  -ETIME);
	r.h.deadline_ms = 2500;
	n = model_infer_raw(d, "m", &r, sizeof(r), ans, sizeof(ans));
	EXPECT_EQ(n, (int)(sizeof(r.h) + 2 * 3 * sizeof(float)));
	/* it ran: the average moved towards its real time, way under 1 s */
	EXPECT_LT(key(d, "models/m/ctl", "est_row_ns"), SEC);
	EXPECT_GT(key(d, "models/m/ctl", "est_row_ns"), 0);
	EXPECT_EQ(key(d, "models/m/stats", "refused_etime"), 1);
}

TEST_HARNESS_MAIN
