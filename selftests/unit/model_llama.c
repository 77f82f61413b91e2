/* SPDX-License-Identifier: MIT */
/*
 * model_llama.c - the Llama forward pass (daemon/model/llama.c) against
 * an independent numpy reference: selftests/fixtures/write_checkpoints.py
 * writes seeded random models in every layout (llama2.c legacy and ak42,
 * HF safetensors F32, F16, BF16; tied and untied; GQA and MHA) and the
 * logits its f64 numpy Llama gives after each token of three sequences.
 * Every layout's logits must agree at every position within
 * 1e-4 + 1e-4 |want| (f32 against f64: the seen error is about 1e-6),
 * fed token by token (decode) and as one prompt step (rows in reverse
 * order), and RoPE in the other convention must not. Also: rows are
 * batch invariant and the same bits on any number of threads, the two
 * formats generate the same tokens, bad steps
 * and plans are EINVAL, cancel stops a step. Skipped without
 * /usr/bin/python3 and numpy.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/llama.h"
#include "daemon/model/llama2c.h"
#include "daemon/model/safetensors.h"
#include "daemon/model/team.h"
#include "selftests/harness.h"
#include "selftests/unit/model_fixture.h"
#include "selftests/unit/model_llama_load.h"

#define TOL_ABS	1e-4
#define TOL_REL	1e-4
#define BATCH	32		/* the longest sequence fits one step */

FIXTURE(fx) {
	char dir[64];		/* the fixtures; removed by the teardown */
};

FIXTURE_SETUP(fx)
{
	strcpy(self->dir, "/tmp/gl-llama-XXXXXX");
	ASSERT_NE(mkdtemp(self->dir), NULL);
}

FIXTURE_TEARDOWN(fx)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (self->dir[0] && system(cmd))
		TH_LOG("%s failed", cmd);
}

/* One reference sequence: tokens and the expected logits per token. */
struct ref_seq {
	uint32_t len;
	const uint32_t *tok;
	const float *logits;	/* [len][vocab] */
};

/* ref_next - the sequence at *@off of @r, moving *@off past it; 0 at end */
static int ref_next(const struct blob *r, size_t *off, uint32_t vocab,
		    struct ref_seq *s)
{
	if (*off + 4 > r->len)
		return 0;
	memcpy(&s->len, r->p + *off, 4);
	s->tok = (const uint32_t *)(r->p + *off + 4);
	s->logits = (const float *)(r->p + *off + 4 + 4 * s->len);
	*off += 4 + 4 * (size_t)s->len + 4 * (size_t)s->len * vocab;
	return *off <= r->len;
}

/* far - elements of @got off @want beyond the tolerance; worst in *@worst */
static unsigned int far(const float *got, const float *want, uint32_t n,
			double *worst)
{
	unsigned int bad = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);

		if (!(d <= TOL_ABS + TOL_REL * fabs(want[i])))
			bad++;
		if (!(d <= *worst))
			*worst = d;
	}
	return bad;
}

/*
 * run_ref - every sequence of @ref (file @dir/@name) through @m, token
 * by token in slot 1, then as one prompt step in slot 0 with its rows
 * in reverse order (each row's K and V must be in the cache before any
 * row attends). Returns the count of logits out of tolerance (-1 on a
 * failed step); the largest difference in *@worst.
 */
static long run_ref(struct model *m, const char *dir, const char *name,
		    double *worst)
{
	uint32_t vocab = m->p.cfg.vocab_size, slots[BATCH], pos[BATCH];
	uint32_t tok[BATCH], one = 1, i;
	struct ref_seq s;
	struct blob r;
	size_t off = 4;
	long bad = 0;

	*worst = 0;
	if (slurp(dir, name, &r))
		return -1;
	while (bad >= 0 && ref_next(&r, &off, vocab, &s)) {
		for (i = 0; bad >= 0 && i < s.len; i++) {
			if (llama_step(&m->p, m->base, 1, &s.tok[i], &one, &i,
				       NULL)) {
				bad = -1;
				break;
			}
			bad += far(llama_logits(&m->p, m->base, 0),
				   s.logits + (uint64_t)i * vocab, vocab,
				   worst);
		}
		if (bad < 0 || s.len > BATCH) {
			bad = -1;
			break;
		}
		for (i = 0; i < s.len; i++) {
			slots[i] = 0;
			pos[i] = s.len - 1 - i;
			tok[i] = s.tok[pos[i]];
		}
		if (llama_step(&m->p, m->base, s.len, tok, slots, pos, NULL)) {
			bad = -1;
			break;
		}
		for (i = 0; i < s.len; i++)
			bad += far(llama_logits(&m->p, m->base, i),
				   s.logits + (uint64_t)pos[i] * vocab, vocab,
				   worst);
	}
	free(r.p);
	return bad;
}

static const char *const untied = "";
static const char *const tied = "--tied --kv-heads 4 --layers 3 --seed 7";

#define NEED_FIXTURES(args)						\
	do {								\
		int _r = run_fixture("write_checkpoints.py", self->dir,	\
				     args);				\
		if (_r > 0)						\
			SKIP(return, "no /usr/bin/python3 with numpy");	\
		ASSERT_EQ(_r, 0);					\
	} while (0)

/* every layout of the model written with @args matches its reference */
static void every_layout(const char *dir)
{
	static const struct {
		const char *file, *ref;
	} hf[] = {
		{ "model.safetensors", "hf/ref.bin" },
		{ "model-f16.safetensors", "hf/ref-f16.bin" },
		{ "model-bf16.safetensors", "hf/ref-bf16.bin" },
	};
	static const char *const l2c[] = { "legacy.bin", "ak42.bin" };
	struct model m;
	double worst;
	size_t i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(load_l2c(dir, l2c[i], &m, BATCH, 0), 0);
		EXPECT_EQ(run_ref(&m, dir, "ref-l2c.bin", &worst), 0)
			TH_LOG("%s: worst %g", l2c[i], worst);
		model_free(&m);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(load_hf(dir, hf[i].file, &m, BATCH), 0);
		EXPECT_EQ(run_ref(&m, dir, hf[i].ref, &worst), 0)
			TH_LOG("%s: worst %g", hf[i].file, worst);
		model_free(&m);
	}
}

TEST_F(fx, untied_gqa_matches_numpy_in_every_layout)
{
	NEED_FIXTURES(untied);
	every_layout(self->dir);
}

TEST_F(fx, tied_mha_matches_numpy_in_every_layout)
{
	NEED_FIXTURES(tied);
	every_layout(self->dir);
}

/* The conventions are not interchangeable: each file in the other one's
 * RoPE misses its reference (the test above would see a swap). */
TEST_F(fx, rope_in_the_other_convention_is_caught)
{
	struct model m;
	double worst;

	NEED_FIXTURES(untied);
	ASSERT_EQ(load_hf(self->dir, "model.safetensors", &m, BATCH), 0);
	m.p.cfg.rope = LLAMA_ROPE_PAIRS;
	EXPECT_GT(run_ref(&m, self->dir, "hf/ref.bin", &worst), 0);
	EXPECT_GT(worst, 1e-2);
	model_free(&m);
	ASSERT_EQ(load_l2c(self->dir, "legacy.bin", &m, BATCH, 0), 0);
	m.p.cfg.rope = LLAMA_ROPE_HALF;
	EXPECT_GT(run_ref(&m, self->dir, "ref-l2c.bin", &worst), 0);
	EXPECT_GT(worst, 1e-2);
	model_free(&m);
}

/* greedy - @n greedy tokens after @first from position 0 of slot 0 */
static int greedy(struct model *m, uint32_t first, uint32_t *out, int n)
{
	uint32_t tok = first, slot = 0, pos, c, best;
	const float *lg;
	int err;

	for (pos = 0; pos < (uint32_t)n; pos++) {
		err = llama_step(&m->p, m->base, 1, &tok, &slot, &pos, NULL);
		if (err)
			return err;
		lg = llama_logits(&m->p, m->base, 0);
		for (best = 0, c = 1; c < m->p.cfg.vocab_size; c++)
			if (lg[c] > lg[best])
				best = c;
		out[pos] = tok = best;
	}
	return 0;
}

TEST_F(fx, llama2c_and_hf_generate_the_same_tokens)
{
	uint32_t a[30], b[30];
	struct model m;

	NEED_FIXTURES(untied);
	ASSERT_EQ(load_l2c(self->dir, "legacy.bin", &m, 1, 0), 0);
	ASSERT_EQ(greedy(&m, 5, a, 30), 0);
	model_free(&m);
	ASSERT_EQ(load_hf(self->dir, "model.safetensors", &m, 1), 0);
	ASSERT_EQ(greedy(&m, 5, b, 30), 0);
	model_free(&m);
	EXPECT_EQ(memcmp(a, b, sizeof(a)), 0);
}

/*
 * A row's logits are the same bits whatever else is in its step: three
 * sequences decoded alone, then side by side in one batch (slots 0-2).
 */
TEST_F(fx, rows_are_batch_invariant)
{
	uint32_t tok[3] = { 7, 40, 90 }, slot[3] = { 0, 1, 2 }, pos[3];
	uint32_t vocab, i, t;
	float *alone;
	struct model m;

	NEED_FIXTURES(untied);
	ASSERT_EQ(load_l2c(self->dir, "legacy.bin", &m, 4, 0), 0);
	vocab = m.p.cfg.vocab_size;
	alone = malloc(sizeof(float) * 3 * 6 * vocab);
	ASSERT_NE(alone, NULL);
	for (i = 0; i < 3; i++) {
		for (t = 0; t < 6; t++) {
			uint32_t tk = (tok[i] + 11 * t) % vocab;

			ASSERT_EQ(llama_step(&m.p, m.base, 1, &tk, &slot[i],
					     &t, NULL), 0);
			memcpy(alone + (i * 6 + t) * vocab,
			       llama_logits(&m.p, m.base, 0), vocab * 4);
		}
	}
	for (t = 0; t < 6; t++) {
		uint32_t tk[3];

		for (i = 0; i < 3; i++) {
			tk[i] = (tok[i] + 11 * t) % vocab;
			pos[i] = t;
		}
		ASSERT_EQ(llama_step(&m.p, m.base, 3, tk, slot, pos, NULL), 0);
		for (i = 0; i < 3; i++)
			EXPECT_EQ(memcmp(alone + (i * 6 + t) * vocab,
					 llama_logits(&m.p, m.base, i),
					 vocab * 4), 0)
				TH_LOG("row %u at %u", i, t);
	}
	free(alone);
	model_free(&m);
}

/*
 * threads= splits every product by columns over a team: the logits are
 * the same bits on 1, 2, 3 and 5 threads, for decode steps and for a
 * prompt step of 5 rows (issue 10; Documentation/models.md, "Threads").
 */
TEST_F(fx, threads_give_the_same_bits)
{
	static const unsigned int threads[] = { 2, 3, 5 };
	uint32_t tok[5] = { 3, 17, 40, 90, 5 }, slot[5], pos[5], vocab, i, t;
	uint32_t zero = 0;
	struct team *team;
	struct model m;
	float *one;

	NEED_FIXTURES(untied);
	ASSERT_EQ(load_l2c(self->dir, "legacy.bin", &m, 5, 0), 0);
	vocab = m.p.cfg.vocab_size;
	one = malloc(sizeof(float) * 10 * vocab);
	ASSERT_NE(one, NULL);
	for (i = 0; i <= sizeof(threads) / sizeof(threads[0]); i++) {
		team = NULL;
		if (i)
			ASSERT_EQ(team_new(threads[i - 1], &team), 0);
		/* decode: slot 0, positions 0..4; prompt: slot 1, one step */
		for (t = 0; t < 5; t++) {
			slot[t] = 1;
			pos[t] = t;
			ASSERT_EQ(llama_step_team(&m.p, m.base, team, 1,
						  &tok[t], &zero, &t, NULL), 0);
			if (!i)
				memcpy(one + t * vocab,
				       llama_logits(&m.p, m.base, 0),
				       vocab * 4);
			else
				EXPECT_EQ(memcmp(one + t * vocab,
						 llama_logits(&m.p, m.base, 0),
						 vocab * 4), 0)
					TH_LOG("%u threads, decode at %u",
					       threads[i - 1], t);
		}
		ASSERT_EQ(llama_step_team(&m.p, m.base, team, 5, tok, slot,
					  pos, NULL), 0);
		for (t = 0; t < 5; t++) {
			if (!i)
				memcpy(one + (5 + t) * vocab,
				       llama_logits(&m.p, m.base, t),
				       vocab * 4);
			else
				EXPECT_EQ(memcmp(one + (5 + t) * vocab,
						 llama_logits(&m.p, m.base, t),
						 vocab * 4), 0)
					TH_LOG("%u threads, prompt row %u",
					       threads[i - 1], t);
		}
		if (team) {	/* a part's error is the step's */
			atomic_int stop = ECANCELED;

			EXPECT_EQ(llama_step_team(&m.p, m.base, team, 5, tok,
						  slot, pos, &stop),
				  -ECANCELED);
		}
		team_free(team);
	}
	free(one);
	model_free(&m);
}

TEST_F(fx, bad_steps_are_einval_and_cancel_stops)
{
	uint32_t tok[2] = { 1, 2 }, slot[2] = { 0, 0 }, pos[2] = { 0, 0 };
	atomic_int cancel = ECANCELED;
	struct model m;

	NEED_FIXTURES(untied);
	ASSERT_EQ(load_l2c(self->dir, "legacy.bin", &m, 2, 8), 0);
	EXPECT_EQ(llama_step(&m.p, m.base, 0, tok, slot, pos, NULL), -EINVAL);
	EXPECT_EQ(llama_step(&m.p, m.base, 3, tok, slot, pos, NULL), -EINVAL);
	/* one (slot, position) twice */
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, NULL), -EINVAL);
	pos[1] = 8;		/* past max_ctx */
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, NULL), -EINVAL);
	pos[1] = 1;
	slot[1] = 2;		/* past the slots */
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, NULL), -EINVAL);
	slot[1] = 0;
	tok[1] = m.p.cfg.vocab_size;
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, NULL), -EINVAL);
	tok[1] = 2;
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, NULL), 0);
	EXPECT_EQ(llama_step(&m.p, m.base, 2, tok, slot, pos, &cancel),
		  -ECANCELED);
	model_free(&m);
}

/* A load whose file is not the plan's shape is EINVAL, and writes nothing. */
TEST_F(fx, a_file_of_another_shape_does_not_load)
{
	struct llama_config c;
	struct llama_plan p;
	struct l2c_file f;
	struct blob b;
	char why[160];
	void *base;

	NEED_FIXTURES(untied);
	ASSERT_EQ(slurp(self->dir, "legacy.bin", &b), 0);
	ASSERT_EQ(l2c_parse(b.p, b.len, &f, why, sizeof(why)), 0);
	llama_config_l2c(&f.cfg, &c);
	c.hidden_dim++;
	ASSERT_EQ(llama_plan(&c, 1, 4, &p), 0);
	base = calloc(1, p.total_bytes);
	ASSERT_NE(base, NULL);
	EXPECT_EQ(llama_load_l2c(&p, &f, b.p, b.len, base), -EINVAL);
	EXPECT_EQ(llama_load_l2c(&p, &f, b.p, b.len - 1, base), -EINVAL);
	free(base);
	free(b.p);
}

/* The plan's figures, by hand, at the stories15M shape. */
TEST(plan_sizes_stories15m)
{
	struct llama_config c = {
		.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6,
		.n_kv_heads = 6, .vocab_size = 32000, .seq_len = 256,
		.head_dim = 48, .rms_eps = 1e-5f, .rope_theta = 10000,
		.shared_classifier = true,
	};
	uint64_t w = 4ull * (32000 * 288 + 6 * 288 * 2 + 288 +
			     6 * 4 * 288 * 288 + 6 * 3 * 768 * 288);
	struct llama_plan p;

	ASSERT_EQ(llama_plan(&c, 1, 256, &p), 0);
	EXPECT_EQ(p.kv_bytes, 2ull * 6 * 256 * 288 * 4);
	/* each tensor starts 64-byte aligned: at most 63 bytes each */
	EXPECT_GE(p.weight_bytes, w);
	EXPECT_LE(p.weight_bytes, w + 11 * 63);
	EXPECT_GE(p.act_bytes, 4ull * (4 * 288 + 2 * 288 + 2 * 768 +
				       6 * 256 + 32000 + 1));
	EXPECT_LE(p.act_bytes, 4ull * (4 * 288 + 2 * 288 + 2 * 768 +
				       6 * 256 + 32000 + 1) + 11 * 63);
	EXPECT_EQ(p.total_bytes, p.weight_bytes + p.act_bytes + p.kv_bytes);
	EXPECT_EQ(p.w[L2C_WCLS], p.w[L2C_TOKEN_EMBEDDING]);
	EXPECT_EQ(p.w_len[L2C_WCLS], 0u);
	/* the cache grows with batch and context, the weights do not */
	ASSERT_EQ(llama_plan(&c, 4, 128, &p), 0);
	EXPECT_EQ(p.kv_bytes, 2ull * 6 * 4 * 128 * 288 * 4);
	EXPECT_LE(p.weight_bytes, w + 11 * 63);
}

TEST(bad_plans)
{
	struct llama_config c = {
		.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2,
		.n_kv_heads = 1, .vocab_size = 10, .seq_len = 16,
		.head_dim = 4,
	};
	struct llama_plan p;

	EXPECT_EQ(llama_plan(&c, 1, 16, &p), 0);
	EXPECT_EQ(llama_plan(&c, 0, 16, &p), -EINVAL);
	EXPECT_EQ(llama_plan(&c, 1, 0, &p), -EINVAL);
	EXPECT_EQ(llama_plan(&c, 1, 17, &p), -EINVAL);
	c.n_kv_heads = 3;
	EXPECT_EQ(llama_plan(&c, 1, 16, &p), -EINVAL);
	c.n_kv_heads = 1;
	c.vocab_size = 1u << 24;
	c.seq_len = 1u << 24;
	EXPECT_EQ(llama_plan(&c, 1024, 1, &p), -E2BIG);
	c.vocab_size = 10;
	EXPECT_EQ(llama_plan(&c, UINT32_MAX, 1u << 24, &p), -E2BIG);
}

TEST_HARNESS_MAIN
