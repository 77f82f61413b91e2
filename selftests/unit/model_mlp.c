/* SPDX-License-Identifier: MIT */
/*
 * model_mlp.c - the gpulease-mlp forward pass (daemon/model/mlp.c)
 * against a numpy f64 reference: selftests/fixtures/write_mlp.py writes a
 * seeded five-layer model using every activation (relu, erf gelu, tanh,
 * sigmoid, none) in F32 and BF16, seven input rows and the outputs numpy
 * computes. Every output within 1e-5 + 1e-5 |want| (f32 against f64),
 * rows one at a time the same bits as rows batched, the plan's figures,
 * and EINVAL for bad rows, plans and files. Skipped without numpy.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/mlp.h"
#include "daemon/model/team.h"
#include "selftests/harness.h"
#define MODEL_FIXTURE_MLP
#include "selftests/unit/model_fixture.h"

#define ROWS	7
#define IN	13
#define OUT	3

MLP_FIXTURE("gl-mlp")

#define NEED_FIXTURES()							\
	do {								\
		int _r = run_fixture("write_mlp.py", self->dir, "");	\
		if (_r > 0)						\
			SKIP(return, "no /usr/bin/python3 with numpy");	\
		ASSERT_EQ(_r, 0);					\
	} while (0)

/* far - outputs beyond 1e-5 + 1e-5 |want| */
static unsigned int far(const float *got, const float *want, unsigned int n)
{
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++)
		if (!(fabs((double)got[i] - want[i]) <=
		      1e-5 + 1e-5 * fabs(want[i])))
			bad++;
	return bad;
}

static void check(const char *dir, const char *file, const char *ref)
{
	float one[ROWS * OUT];
	struct blob in, want;
	struct team *team;
	struct mlp_model m;
	unsigned int r, t;

	ASSERT_EQ(slurp(dir, "input.bin", &in), 0);
	ASSERT_EQ(slurp(dir, ref, &want), 0);
	ASSERT_EQ(in.len, sizeof(float) * ROWS * IN);
	ASSERT_EQ(want.len, sizeof(float) * ROWS * OUT);
	ASSERT_EQ(mlp_model_load(dir, file, &m, ROWS, false), 0);
	EXPECT_EQ(m.p.cfg.layer[0].in, (uint32_t)IN);
	/* one row at a time */
	for (r = 0; r < ROWS; r++) {
		memcpy(mlp_input(&m.p, m.base), in.p + r * IN * 4, IN * 4);
		ASSERT_EQ(mlp_forward(&m.p, m.base, 1, NULL, NULL), 0);
		memcpy(one + r * OUT, mlp_output(&m.p, m.base), OUT * 4);
	}
	EXPECT_EQ(far(one, (const float *)want.p, ROWS * OUT), 0u)
		TH_LOG("%s", file);
	/* batched: the same bits */
	memcpy(mlp_input(&m.p, m.base), in.p, in.len);
	ASSERT_EQ(mlp_forward(&m.p, m.base, ROWS, NULL, NULL), 0);
	EXPECT_EQ(memcmp(one, mlp_output(&m.p, m.base), sizeof(one)), 0)
		TH_LOG("%s: batched rows differ", file);
	/* split by columns over 2 and 3 threads: the same bits */
	for (t = 2; t <= 3; t++) {
		ASSERT_EQ(team_new(t, &team), 0);
		memset(mlp_output(&m.p, m.base), 0, sizeof(one));
		memcpy(mlp_input(&m.p, m.base), in.p, in.len);
		ASSERT_EQ(mlp_forward_team(&m.p, m.base, team, ROWS, NULL,
					   NULL), 0);
		team_free(team);
		EXPECT_EQ(memcmp(one, mlp_output(&m.p, m.base), sizeof(one)),
			  0) TH_LOG("%s: %u threads differ", file, t);
	}
	free(m.base);
	free(in.p);
	free(want.p);
}

TEST_F(fx, f32_matches_numpy)
{
	NEED_FIXTURES();
	check(self->dir, "model.safetensors", "ref.bin");
}

TEST_F(fx, bf16_matches_numpy)
{
	NEED_FIXTURES();
	check(self->dir, "model-bf16.safetensors", "ref-bf16.bin");
}

TEST_F(fx, bad_rows_and_files)
{
	atomic_int cancel = ETIMEDOUT;
	struct mlp_model m;

	NEED_FIXTURES();
	ASSERT_EQ(mlp_model_load(self->dir, "model.safetensors", &m, 2,
				 false), 0);
	EXPECT_EQ(mlp_forward(&m.p, m.base, 0, NULL, NULL), -EINVAL);
	EXPECT_EQ(mlp_forward(&m.p, m.base, 3, NULL, NULL), -EINVAL);
	EXPECT_EQ(mlp_forward(&m.p, m.base, 2, NULL, &cancel), -ETIMEDOUT);
	free(m.base);
	m.base = NULL;
	/* a plan whose layer is wider than the file's tensor */
	EXPECT_EQ(mlp_model_load(self->dir, "model.safetensors", &m, 2,
				 true), -EINVAL);
	free(m.base);
}

TEST(plan)
{
	struct hf_mlp_config c = {
		.n_layers = 2,
		.layer = { { 64, 32, HF_ACT_RELU }, { 32, 10, HF_ACT_NONE } },
	};
	struct mlp_plan p;

	ASSERT_EQ(mlp_plan(&c, 100, &p), 0);
	EXPECT_EQ(p.width, 64u);
	EXPECT_GE(p.weight_bytes, 4u * (64 * 32 + 32 + 32 * 10 + 10));
	EXPECT_LE(p.weight_bytes, 4u * (64 * 32 + 32 + 32 * 10 + 10) + 4 * 63);
	EXPECT_EQ(p.act_bytes, 2u * 100 * 64 * 4);
	EXPECT_EQ(p.total_bytes, p.weight_bytes + p.act_bytes);
	EXPECT_EQ(mlp_plan(&c, 0, &p), -EINVAL);
	c.layer[1].in = 31;
	EXPECT_EQ(mlp_plan(&c, 1, &p), -EINVAL);
	c.layer[1].in = 32;
	c.n_layers = 0;
	EXPECT_EQ(mlp_plan(&c, 1, &p), -EINVAL);
	c.n_layers = 1;
	c.layer[0].in = 1u << 20;
	EXPECT_EQ(mlp_plan(&c, 1u << 13, &p), -E2BIG);
}

TEST_HARNESS_MAIN
