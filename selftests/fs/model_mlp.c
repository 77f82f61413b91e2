// SPDX-License-Identifier: MIT
/*
 * model_mlp.c - a gpulease-mlp served through models/NAME/infer in the
 * binary form of uapi/model.h: every output within 1e-5 of the fixture's
 * numpy forward pass (selftests/fixtures/write_mlp.py), rows over
 * max_batch or a request over 64 KiB EFBIG, a bad header or length
 * EINVAL, text EINVAL, token ids EOPNOTSUPP; threads=2 and 3 the bits
 * of one thread's answer; a tensor to a language
 * model EOPNOTSUPP; an mlp and a language model served at once (each
 * right alone, while the other is held mid-request, under concurrent
 * requests on both, after the other's unload); unload gives the memory
 * back.
 */
#include <math.h>
#include <pthread.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_mlp, "write_mlp.py", "")

#define IN 13
#define OUT 3
#define ROWS 7

/* One request on models/n/infer: model_common.h's model_infer_raw. */
static int infer_raw(const struct gl_daemon *d, const void *req, size_t len,
		     void *ans, size_t size)
{
	return model_infer_raw(d, "n", req, len, ans, size);
}

struct req {
	struct gl_infer_tensor h;
	float x[ROWS + 1][IN];
};

TEST_F(model_mlp, outputs_match_reference)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free"), v;
	struct {
		struct gl_infer_tensor h;
		float y[ROWS][OUT];
	} ans;
	struct blob in, ref;
	struct req r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, ROWS, IN } };
	const float *want;
	int i, j;

	ASSERT_EQ(slurp(self->dir, "input.bin", &in), 0);
	ASSERT_EQ(slurp(self->dir, "ref.bin", &ref), 0);
	ASSERT_EQ(in.len, sizeof(float) * ROWS * IN);
	ASSERT_EQ(ref.len, sizeof(float) * ROWS * OUT);
	memcpy(r.x, in.p, in.len);
	want = (const float *)ref.p;
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=8\n",
			       self->dir), 0);
	EXPECT_EQ(gl_read_key(d, "models/n/ctl", "inputs", &v), 0);
	EXPECT_EQ(v, IN);
	EXPECT_EQ(gl_read_key(d, "models/n/ctl", "outputs", &v), 0);
	EXPECT_EQ(v, OUT);
	ASSERT_EQ(infer_raw(d, &r, sizeof(r.h) + in.len, &ans, sizeof(ans)),
		  (int)(sizeof(ans.h) + sizeof(ans.y)));
	EXPECT_EQ(ans.h.magic, GL_INFER_MAGIC);
	EXPECT_EQ(ans.h.rows, ROWS);
	EXPECT_EQ(ans.h.cols, OUT);
	for (i = 0; i < ROWS; i++)
		for (j = 0; j < OUT; j++)
			EXPECT_LE(fabsf(ans.y[i][j] - want[i * OUT + j]),
				  1e-5f + 1e-5f * fabsf(want[i * OUT + j]))
				TH_LOG("row %d col %d", i, j);
	/* row 3 alone gives the same answer as in the batch */
	r.h.rows = 1;
	memcpy(r.x[0], (float *)in.p + 3 * IN, sizeof(r.x[0]));
	ASSERT_EQ(infer_raw(d, &r, sizeof(r.h) + sizeof(r.x[0]), &ans,
			    sizeof(ans)), (int)(sizeof(ans.h) + OUT * 4));
	for (j = 0; j < OUT; j++)
		EXPECT_LE(fabsf(ans.y[0][j] - want[3 * OUT + j]),
			  1e-5f + 1e-5f * fabsf(want[3 * OUT + j]));
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_count_leases(d), 0);
	free(in.p);
	free(ref.p);
}

TEST_F(model_mlp, bad_requests)
{
	const struct gl_daemon *d = &self->d;
	struct req r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, 1, IN } };
	struct {
		struct gl_infer_ids h;
		uint32_t id[1];
	} q = { .h = { .magic = GL_INFER_IDS_MAGIC, .n_ids = 1,
		       .max_tokens = 1, .top_p = 1.0f }, .id = { 1 } };
	struct gl_infer_tensor *big = calloc(1, 65536 + 4 * IN);
	char ans[256];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=2\n",
			       self->dir), 0);
	EXPECT_GT(infer_raw(d, &r, sizeof(r.h) + IN * 4, ans, sizeof(ans)),
		  0);
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + IN * 4 - 1, ans,
			    sizeof(ans)), -EINVAL);
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + IN * 8, ans, sizeof(ans)),
		  -EINVAL);
	r.h.rows = 3;	/* max_batch 2 */
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + 3 * IN * 4, ans,
			    sizeof(ans)), -EFBIG);
	r.h.rows = 0;
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h), ans, sizeof(ans)), -EINVAL);
	r.h.rows = 1;
	r.h.cols = IN + 1;
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + (IN + 1) * 4, ans,
			    sizeof(ans)), -EINVAL);
	r.h.cols = IN;
	r.h.reserved = 1;
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + IN * 4, ans, sizeof(ans)),
		  -EINVAL);
	r.h.reserved = 0;
	r.h.served_by = 1;
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + IN * 4, ans, sizeof(ans)),
		  -EINVAL);
	r.h.served_by = 0;
	r.h.dtype = 2;
	EXPECT_EQ(infer_raw(d, &r, sizeof(r.h) + IN * 4, ans, sizeof(ans)),
		  -EINVAL);
	EXPECT_EQ(infer_raw(d, "ids 1 2\n", 8, ans, sizeof(ans)), -EINVAL);
	/* token ids are a language model's */
	EXPECT_EQ(infer_raw(d, &q, sizeof(q.h) + sizeof(q.id), ans,
			    sizeof(ans)), -EOPNOTSUPP);
	/* a request over 64 KiB */
	ASSERT_NE(big, NULL);
	*big = r.h;
	big->rows = (65536 + 4 * IN - sizeof(*big)) / (4 * IN);
	EXPECT_EQ(infer_raw(d, big, sizeof(*big) + big->rows * IN * 4, ans,
			    sizeof(ans)), -EFBIG);
	EXPECT_EQ(gl_read_key_str(d, "models/n/ctl", "last_error", ans,
				  sizeof(ans)), 0);
	EXPECT_NE(strstr(ans, "at most 65536"), NULL) TH_LOG("%s", ans);
	free(big);
	/* an mlp takes no tokenizer or context; threads 1 to 16 */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load o %s max_ctx=4\n",
			       self->dir), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load o %s threads=17\n",
			       self->dir), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load o %s threads=0\n",
			       self->dir), -EINVAL);
}

/* threads=2 and 3 split each layer's product by columns: the answer is
 * the bits of threads=1's, batched and alone */
TEST_F(model_mlp, threads_answer_the_same_bits)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_tensor h;
		float y[ROWS][OUT];
	} one, many;
	struct req r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, ROWS, IN } };
	struct blob in;
	size_t rlen = sizeof(r.h) + ROWS * IN * 4;
	int t, n = (int)(sizeof(one.h) + sizeof(one.y));
	long long v;

	ASSERT_EQ(slurp(self->dir, "input.bin", &in), 0);
	ASSERT_EQ(in.len, sizeof(float) * ROWS * IN);
	memcpy(r.x, in.p, in.len);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=%d\n",
			       self->dir, ROWS), 0);
	memset(&one, 0, sizeof(one));
	ASSERT_EQ(infer_raw(d, &r, rlen, &one, sizeof(one)), n);
	EXPECT_EQ(gl_read_key(d, "models/n/ctl", "threads", &v), 0);
	EXPECT_EQ(v, 1);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	for (t = 2; t <= 3; t++) {
		ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s "
				       "max_batch=%d threads=%d\n",
				       self->dir, ROWS, t), 0);
		EXPECT_EQ(gl_read_key(d, "models/n/ctl", "threads", &v), 0);
		EXPECT_EQ(v, t);
		memset(&many, 0, sizeof(many));
		ASSERT_EQ(infer_raw(d, &r, rlen, &many, sizeof(many)), n);
		/* the n bytes of the answer: the structs' tail padding is
		 * not part of it */
		EXPECT_EQ(memcmp(&one, &many, n), 0) TH_LOG("threads=%d", t);
		ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	}
	EXPECT_EQ(gl_count_leases(d), 0);
	free(in.p);
}

TEST_F(model_mlp, binary_on_a_language_model)
{
	const struct gl_daemon *d = &self->d;
	struct req r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, 1, IN } };
	char ldir[64] = "", ans[64];
	int fd;

	ASSERT_EQ(model_fixture(ldir, sizeof(ldir), "--no-ref"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load l %s/legacy.bin\n",
			       ldir), 0);
	fd = open(gl_path(d, "models/l/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(write(fd, &r, sizeof(r.h) + IN * 4), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	close(fd);
	(void)ans;
	model_fixture_rm(ldir);
}

struct pair_run {
	const struct gl_daemon *d;
	const char *name;
	const void *req, *want;
	size_t len, want_len;
	int bad;		/* answers failed or different */
};

/* Ask @p's model the same request 6 times; count the wrong answers. */
static void *pair_worker(void *arg)
{
	struct pair_run *p = arg;
	char ans[512];
	int i, n;

	for (i = 0; i < 6; i++) {
		n = model_infer_raw(p->d, p->name, p->req, p->len, ans,
				    sizeof(ans));
		if (n != (int)p->want_len || memcmp(ans, p->want, n))
			p->bad++;
	}
	return NULL;
}

/*
 * An mlp and a language model at once: each answers right alone, while
 * the other holds a request mid-way (model_step_hold), and under
 * concurrent requests on both; unloading one leaves the other serving;
 * the memory is back after both.
 */
TEST_F(model_mlp, two_models_at_once)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	struct req r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, ROWS, IN } };
	struct {
		struct gl_infer_ids h;
		uint32_t id[3];
	} q = { .h = { .magic = GL_INFER_IDS_MAGIC, .n_ids = 3,
		       .max_tokens = 12, .top_p = 1.0f }, .id = { 1, 17, 42 } };
	struct {
		struct gl_infer_tensor h;
		float y[ROWS][OUT];
	} mans, m2;
	uint32_t lans[12], l2[12];
	struct pair_run run[4];
	pthread_t th[4];
	char ldir[64] = "";
	struct blob in, ref;
	size_t rlen = sizeof(r.h) + ROWS * IN * 4;
	/* unpadded: the structs are padded to 8 bytes */
	const size_t alen = sizeof(mans.h) + sizeof(mans.y);
	const size_t qlen = sizeof(q.h) + sizeof(q.id);
	const float *want;
	int i, j, fd;

	ASSERT_EQ(slurp(self->dir, "input.bin", &in), 0);
	ASSERT_EQ(slurp(self->dir, "ref.bin", &ref), 0);
	ASSERT_EQ(in.len, sizeof(r.x[0]) * ROWS);
	memcpy(r.x, in.p, in.len);
	want = (const float *)ref.p;
	ASSERT_EQ(model_fixture(ldir, sizeof(ldir), "--no-ref"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=8\n",
			       self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load l %s/legacy.bin "
			       "max_batch=2\n", ldir), 0);
	/* each alone: the mlp as numpy, the language model's 12 ids */
	ASSERT_EQ(infer_raw(d, &r, rlen, &mans, sizeof(mans)),
		  (int)alen);
	for (i = 0; i < ROWS; i++)
		for (j = 0; j < OUT; j++)
			EXPECT_LE(fabsf(mans.y[i][j] - want[i * OUT + j]),
				  1e-5f + 1e-5f * fabsf(want[i * OUT + j]));
	ASSERT_EQ(model_infer_raw(d, "l", &q, qlen, lans, sizeof(lans)),
		  (int)sizeof(lans));

	/* the mlp answers while the language model's request is held */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 1\n"), 0);
	fd = open(gl_path(d, "models/l/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, &q, qlen), (ssize_t)qlen);
	ASSERT_EQ(read(fd, l2, sizeof(l2)), 4);	/* one id, then held */
	ASSERT_EQ(infer_raw(d, &r, rlen, &m2, sizeof(m2)), (int)alen);
	EXPECT_EQ(memcmp(&m2, &mans, alen), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 4; i < (int)sizeof(l2); i += j) {
		j = read(fd, (char *)l2 + i, sizeof(l2) - i);
		ASSERT_GT(j, 0);
	}
	EXPECT_EQ(read(fd, l2, sizeof(l2)), 0);	/* whole */
	close(fd);
	EXPECT_EQ(memcmp(l2, lans, sizeof(l2)), 0);

	/* two threads on each model at once */
	for (i = 0; i < 4; i++) {
		run[i] = (struct pair_run){ .d = d, .name = i % 2 ? "l" : "n" };
		run[i].req = i % 2 ? (const void *)&q : (const void *)&r;
		run[i].len = i % 2 ? qlen : rlen;
		run[i].want = i % 2 ? (const void *)lans : (const void *)&mans;
		run[i].want_len = i % 2 ? sizeof(lans) : alen;
		ASSERT_EQ(pthread_create(&th[i], NULL, pair_worker, &run[i]),
			  0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(run[i].bad, 0) TH_LOG("model %s", run[i].name);
	}

	/* one unloaded, the other serves on */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload l\n"), 0);
	EXPECT_EQ(model_infer_raw(d, "l", &q, qlen, l2, sizeof(l2)),
		  -ENOENT);
	ASSERT_EQ(infer_raw(d, &r, rlen, &m2, sizeof(m2)), (int)alen);
	EXPECT_EQ(memcmp(&m2, &mans, alen), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load l %s/legacy.bin\n",
			       ldir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	ASSERT_EQ(model_infer_raw(d, "l", &q, qlen, l2, sizeof(l2)),
		  (int)sizeof(l2));
	EXPECT_EQ(memcmp(l2, lans, sizeof(l2)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload l\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_count_leases(d), 0);
	model_fixture_rm(ldir);
	free(in.p);
	free(ref.p);
}

TEST_HARNESS_MAIN
