/* SPDX-License-Identifier: MIT */
/*
 * model_sample.c - token sampling (daemon/model/sample.c): the PRNG's
 * first outputs equal an independent Python rendering of its definition
 * (splitmix64 seeding, xorshift64*), greedy is the argmax kernel's choice
 * and draws no coin, the same seed replays the same tokens, temperature
 * and top-p frequencies over 20000 seeded draws sit within 0.02 of the
 * distribution they sample (deterministic: the seed is fixed), and bad
 * parameters are EINVAL.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/sample.h"
#include "selftests/harness.h"

#define DRAWS 20000

/* Written by: python3 -c 'splitmix64(seed) then xorshift64*' (see
 * Documentation/models.md, "Sampling"). */
TEST(prng_known_values)
{
	static const uint32_t s42[] = {
		0x31b0ece7, 0x9008a3b1, 0x7c7173ab, 0x45672c8c,
	};
	static const uint32_t s0[] = { 0x7bbcb40d, 0xde7fe413 };
	struct sample_rng r;
	unsigned int i;

	sample_seed(&r, 42);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(sample_u32(&r), s42[i]);
	sample_seed(&r, 0);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(sample_u32(&r), s0[i]);
	for (i = 0; i < 1000; i++) {
		float f = sample_f32(&r);

		EXPECT_TRUE(f >= 0.0f && f < 1.0f);
	}
}

TEST(greedy_is_argmax_and_draws_nothing)
{
	float lg[6] = { 1, 3, NAN, 3, -INFINITY, 2 };
	struct sample_params sp = { 0.0f, 1.0f };
	float scratch[6 * 3];
	struct sample_rng r;
	uint64_t before;
	uint32_t tok = 99;

	sample_seed(&r, 5);
	before = r.state;
	EXPECT_EQ(sample_token(lg, 6, &sp, &r, scratch, &tok), 0);
	EXPECT_EQ(tok, 1u);		/* tie to the lower id, NaN loses */
	EXPECT_EQ(r.state, before);
}

/* freq - frequencies of DRAWS draws over @vocab ids into @f (the
 * harness's EXPECT_LT compares integers: doubles go in EXPECT_TRUE) */
static int freq(const float *lg, uint32_t vocab, struct sample_params sp,
		uint64_t seed, double *f)
{
	float scratch[64 * 3];
	struct sample_rng r;
	uint32_t tok, i;
	int err;

	memset(f, 0, sizeof(double) * vocab);
	sample_seed(&r, seed);
	for (i = 0; i < DRAWS; i++) {
		err = sample_token(lg, vocab, &sp, &r, scratch, &tok);
		if (err)
			return err;
		if (tok >= vocab)
			return -ERANGE;
		f[tok] += 1.0 / DRAWS;
	}
	return 0;
}

TEST(temperature_samples_the_softmax)
{
	float lg[3] = { logf(0.5f), logf(0.3f), logf(0.2f) };
	struct sample_params sp = { 1.0f, 1.0f };
	double f[3], t2[3], z = 0;
	unsigned int i;

	ASSERT_EQ(freq(lg, 3, sp, 11, f), 0);
	EXPECT_TRUE(fabs(f[0] - 0.5) < 0.02);
	EXPECT_TRUE(fabs(f[1] - 0.3) < 0.02);
	EXPECT_TRUE(fabs(f[2] - 0.2) < 0.02);
	/* T = 2: p ~ sqrt(p) */
	for (i = 0; i < 3; i++)
		z += sqrt(expf(lg[i]));
	sp.temperature = 2.0f;
	ASSERT_EQ(freq(lg, 3, sp, 12, t2), 0);
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(fabs(t2[i] - sqrt(expf(lg[i])) / z) < 0.02);
	/* a cold temperature is nearly greedy */
	sp.temperature = 0.05f;
	ASSERT_EQ(freq(lg, 3, sp, 13, f), 0);
	EXPECT_TRUE(f[0] > 0.99);
}

TEST(top_p_keeps_the_nucleus)
{
	float lg[4] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f) };
	float flat[5] = { 1, 1, 1, 1, 1 };
	struct sample_params sp = { 1.0f, 0.7f };
	double f[5];

	/* 0.5 + 0.3 > 0.7: {0, 1}, renormalised to 0.625 / 0.375 */
	ASSERT_EQ(freq(lg, 4, sp, 21, f), 0);
	EXPECT_TRUE(fabs(f[0] - 0.625) < 0.02);
	EXPECT_TRUE(fabs(f[1] - 0.375) < 0.02);
	EXPECT_TRUE(f[2] + f[3] == 0.0);
	/* 0.5 > 0.45: {0} alone */
	sp.top_p = 0.45f;
	ASSERT_EQ(freq(lg, 4, sp, 22, f), 0);
	EXPECT_TRUE(f[0] > 0.9999);
	/* a flat row and a tiny top_p: the first token alone */
	sp.top_p = 1e-6f;
	ASSERT_EQ(freq(flat, 5, sp, 23, f), 0);
	EXPECT_TRUE(f[0] > 0.9999);
}

TEST(same_seed_same_tokens)
{
	float lg[40];
	struct sample_params sp = { 0.9f, 0.95f };
	float scratch[40 * 3];
	struct sample_rng a, b, c;
	uint32_t ta, tb, tc, i, differ = 0;

	for (i = 0; i < 40; i++)
		lg[i] = sinf((float)i * 1.7f);
	sample_seed(&a, 77);
	sample_seed(&b, 77);
	sample_seed(&c, 78);
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(sample_token(lg, 40, &sp, &a, scratch, &ta), 0);
		ASSERT_EQ(sample_token(lg, 40, &sp, &b, scratch, &tb), 0);
		ASSERT_EQ(sample_token(lg, 40, &sp, &c, scratch, &tc), 0);
		EXPECT_EQ(ta, tb);
		differ += ta != tc;
	}
	EXPECT_GT(differ, 100u);
}

TEST(bad_parameters_are_einval)
{
	float lg[3] = { 0, 1, 2 }, nan3[3] = { 0, NAN, 1 }, scratch[9];
	struct sample_params sp[] = {
		{ -1.0f, 1.0f }, { NAN, 1.0f }, { 1.0f, 0.0f },
		{ 1.0f, 1.5f }, { 1.0f, NAN },
	};
	struct sample_params ok = { 1.0f, 1.0f };
	struct sample_rng r;
	uint32_t tok;
	size_t i;

	sample_seed(&r, 1);
	for (i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		EXPECT_EQ(sample_token(lg, 3, &sp[i], &r, scratch, &tok),
			  -EINVAL) TH_LOG("case %zu", i);
	EXPECT_EQ(sample_token(lg, 0, &ok, &r, scratch, &tok), -EINVAL);
	EXPECT_EQ(sample_token(nan3, 3, &ok, &r, scratch, &tok), -EINVAL);
	EXPECT_EQ(sample_scratch_bytes(32000), 32000u * 12);
}

TEST_HARNESS_MAIN
