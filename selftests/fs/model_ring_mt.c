// SPDX-License-Identifier: MIT
/*
 * model_ring_mt.c - one gl_model handle used by several threads at once
 * (gl_model(3), gl_model_set_slots()): eight language-model requests in
 * flight together on one handle each get, byte for byte, the answer
 * they get alone (greedy), also streamed; four mlp requests from four
 * threads on one handle end up in ONE pass (max_batch 4 and a long
 * max_delay_us: the pass waits for its four rows, so the count is
 * deterministic, and a handle that sent one request at a time would
 * make four passes) with the rows each gets alone; the slot count's
 * bounds (EINVAL) and EBUSY while a request is in flight. The debug knob
 * model_step_hold holds the first step until every request is queued,
 * so "concurrent" does not depend on timing. Linked with libgpulease.a.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "tools/lib/gpulease.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(model_ring_mt) {
	struct gl_daemon d;
	struct gl *g;
	char dir[64];
	char mlp[64];
};

FIXTURE_SETUP(model_ring_mt)
{
	int r;

	self->dir[0] = self->mlp[0] = '\0';
	self->g = NULL;
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref --seq 128");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
	ASSERT_EQ(model_fixture_by(self->mlp, sizeof(self->mlp),
				   "write_mlp.py", ""), 0);
}

FIXTURE_TEARDOWN(model_ring_mt)
{
	gl_close(self->g);
	model_fixture_rm(self->dir);
	model_fixture_rm(self->mlp);
	GL_DAEMON_TEARDOWN(&self->d);
}

#define NT	8	/* threads on one handle */
#define ANS	2048

struct worker {
	struct gl_model *m;
	char req[128];
	size_t len;
	bool stream;
	char ans[ANS];
	ssize_t n;		/* the call's return */
	size_t got;		/* streamed bytes */
	unsigned parts;
};

static int on_part(void *arg, const void *buf, size_t n)
{
	struct worker *w = arg;

	if (w->got + n >= ANS)
		return -EOVERFLOW;
	memcpy(w->ans + w->got, buf, n);
	w->got += n;
	w->parts++;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->stream) {
		w->n = gl_model_stream(w->m, w->req, w->len, on_part, w);
		w->ans[w->got] = '\0';
	} else {
		w->n = gl_model_infer(w->m, w->req, w->len, w->ans, ANS - 1);
		if (w->n >= 0)
			w->ans[w->n] = '\0';
	}
	return NULL;
}

struct count {
	const struct gl_daemon *d;
	const char *model;
	long long want;
};

/* models/NAME/stats' requests reached c->want: all are in the daemon */
static int all_started(void *arg)
{
	struct count *c = arg;
	char path[96];
	long long v = 0;

	snprintf(path, sizeof(path), "models/%s/stats", c->model);
	gl_read_key(c->d, path, "requests", &v);
	return v >= c->want;
}

/* models/@model/stats' @key now, less @then. */
static long long stat_since(const struct gl_daemon *d, const char *model,
			    const char *key, long long then)
{
	char path[96];
	long long v = -1;

	snprintf(path, sizeof(path), "models/%s/stats", model);
	if (gl_read_key(d, path, key, &v))
		return -1;
	return v - then;
}

/*
 * Eight greedy prompts of different lengths, half streamed, from eight
 * threads on one handle of eight slots: each answer is its own, byte
 * for byte as alone. The first step is held until the eight are in the
 * daemon, so they are in flight together and share steps.
 */
TEST_F(model_ring_mt, threads_on_one_handle_get_their_own_answers)
{
	const struct gl_daemon *d = &self->d;
	struct worker *w = calloc(NT, sizeof(*w));
	char want[NT][ANS];
	struct count c = { .d = d, .model = "m" };
	struct gl_model *m = NULL;
	pthread_t t[NT];
	long long steps = -1, tokens = -1;
	int i;

	ASSERT_NE(w, NULL);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=8\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "io 256K\n"), 0);
	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	for (i = 0; i < NT; i++) {
		w[i].m = m;
		w[i].stream = i & 1;
		w[i].len = (size_t)snprintf(w[i].req, sizeof(w[i].req),
			"max_tokens=%d output=ids ids 1 %d %d\n", 12 + 3 * i,
			5 + 7 * i, 30 + i);
		/* alone: through the file, the oracle */
		ASSERT_GT(model_infer(d, "m", w[i].req, want[i], ANS), 0);
	}
	ASSERT_EQ(gl_model_set_slots(m, NT), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/stats", "requests", &c.want), 0);
	c.want += NT;
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 1\n"), 0);
	for (i = 0; i < NT; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	EXPECT_EQ(gl_wait_until(all_started, &c, 60000), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/stats", "steps", &steps), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/stats", "tokens", &tokens), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < NT; i++) {
		EXPECT_EQ(w[i].n, (ssize_t)strlen(want[i]))
			TH_LOG("request %d: %zd", i, w[i].n);
		EXPECT_STREQ(w[i].ans, want[i]) TH_LOG("request %d", i);
		if (w[i].stream)
			EXPECT_GT(w[i].parts, 0u);
	}
	/* they shared steps: one at a time, a step makes one token (a
	 * prompt's last step its first one); together, several */
	EXPECT_LT(2 * stat_since(d, "m", "steps", steps),
		  stat_since(d, "m", "tokens", tokens));
	/* the handle goes on, one request at a time too */
	w[0].stream = false;
	worker_main(&w[0]);
	EXPECT_STREQ(w[0].ans, want[0]);
	gl_model_close(m);
	free(w);
}

#define IN	13
#define OUT	3
#define NM	4	/* mlp requests: one row each, max_batch NM */
#define MLP_LEN	(sizeof(struct gl_infer_tensor) + IN * sizeof(float))

struct mlp_req {
	struct gl_infer_tensor h;
	float x[IN];
};

struct mlp_worker {
	struct gl_model *m;
	struct mlp_req req;
	char ans[256];
	ssize_t n;
};

static void *mlp_main(void *arg)
{
	struct mlp_worker *w = arg;

	w->n = gl_model_infer(w->m, &w->req, MLP_LEN, w->ans,
			      sizeof(w->ans));
	return NULL;
}

/*
 * Four one-row mlp requests from four threads on one handle: ONE pass of
 * four rows (max_batch=4, max_delay_us=10 s: the pass starts when its
 * rows are there, at once; a handle that sent one request at a time
 * would wait 10 s and make four passes), each with the rows it gets
 * alone. While the first waits in the daemon, a new slot count is
 * EBUSY.
 */
TEST_F(model_ring_mt, mlp_threads_share_one_pass)
{
	const struct gl_daemon *d = &self->d;
	struct mlp_worker w[NM];
	struct count c = { .d = d, .model = "n", .want = 1 };
	char want[NM][256];
	struct gl_model *m = NULL;
	struct blob in;
	pthread_t t[NM];
	long long v = -1;
	int i, n = 0;

	ASSERT_EQ(slurp(self->mlp, "input.bin", &in), 0);
	ASSERT_GE(in.len, NM * sizeof(w[0].req.x));
	memset(w, 0, sizeof(w));
	for (i = 0; i < NM; i++) {
		w[i].req.h = (struct gl_infer_tensor){ .magic = GL_INFER_MAGIC,
			.dtype = GL_INFER_F32, .rows = 1, .cols = IN };
		memcpy(w[i].req.x, (char *)in.p + i * sizeof(w[i].req.x),
		       sizeof(w[i].req.x));
	}
	free(in.p);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load solo %s max_batch=8\n",
			       self->mlp), 0);
	for (i = 0; i < NM; i++) {
		n = model_infer_raw(d, "solo", &w[i].req, MLP_LEN,
				    want[i], sizeof(want[i]));
		ASSERT_EQ(n, (int)(sizeof(struct gl_infer_tensor) + OUT * 4));
	}
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=%d "
			       "max_delay_us=10000000\n", self->mlp, NM), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/n/ctl", "io 64K\n"), 0);
	ASSERT_EQ(gl_model_open(self->g, "n", &m), 0);
	EXPECT_EQ(gl_model_set_slots(m, 0), -EINVAL);
	EXPECT_EQ(gl_model_set_slots(m, GL_MODEL_SLOTS_MAX + 1), -EINVAL);
	EXPECT_EQ(gl_model_set_slots(NULL, 2), -EINVAL);
	ASSERT_EQ(gl_model_set_slots(m, NM), 0);
	for (i = 0; i < NM; i++)
		w[i].m = m;
	/* the first waits in the pass for company: the handle is busy */
	ASSERT_EQ(pthread_create(&t[0], NULL, mlp_main, &w[0]), 0);
	ASSERT_EQ(gl_wait_until(all_started, &c, 60000), 0);
	EXPECT_EQ(gl_model_set_slots(m, 2), -EBUSY);
	for (i = 1; i < NM; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, mlp_main, &w[i]), 0);
	for (i = 0; i < NM; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < NM; i++) {
		EXPECT_EQ(w[i].n, n) TH_LOG("request %d: %zd", i, w[i].n);
		EXPECT_EQ(memcmp(w[i].ans, want[i], (size_t)n), 0)
			TH_LOG("request %d", i);
	}
	EXPECT_EQ(gl_read_key(d, "models/n/stats", "steps", &v), 0);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(gl_read_key(d, "models/n/stats", "batch_rows", &v), 0);
	EXPECT_EQ(v, NM);
	gl_model_close(m);
}

TEST_HARNESS_MAIN
