/* SPDX-License-Identifier: MIT */
/*
 * model_proof.c - the Llama proof at the stories15M shape (dim 288,
 * hidden 768, 6 layers, 6 heads, vocab 32000, seq 256): the models of
 * selftests/fixtures/write_proof.py (seeded random weights; tied with 6
 * kv heads as llama2.c legacy and HF F32, untied grouped-query with 2 kv
 * heads as llama2.c ak42 and HF BF16) generate greedily, in
 * process through llama_step(), what its numpy Llama in f64 generates:
 * from the same prompt, every one of 64 steps' 32000 logits within 1e-4
 * of the reference's and every token the same. The llama2.c and HF files
 * of the same weights generate the same tokens. The reference's tokens
 * vary (at least 48 distinct of 64) and its best logit leads the second
 * by more than twice the tolerance at every step, so a wrong logit can
 * show as a wrong token. Skipped without /usr/bin/python3 and numpy.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/unit/model_fixture.h"
#include "selftests/unit/model_llama_load.h"

#define TOL		1e-4	/* absolute, on every logit */
#define MIN_DISTINCT	48	/* of the reference's 64 tokens */
#define FIXTURE_SECS	300	/* the fixture: ~7 s of CPU, a shared machine */

/*
 * The fixtures are written once per run of this program, by its first
 * test, into a directory named after the runner (each test is its
 * child); the runner removes it when it exits (a test child leaves
 * through _exit and does not).
 */
static void proof_dir(char *dir, size_t size, pid_t runner)
{
	snprintf(dir, size, "/tmp/gl-proof-%d", (int)runner);
}

static void proof_rm(void)
{
	char dir[64], cmd[128];

	proof_dir(dir, sizeof(dir), getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (access(dir, F_OK) == 0 && system(cmd))
		fprintf(stderr, "# %s failed\n", cmd);
}

__attribute__((constructor)) static void proof_rm_at_exit(void)
{
	atexit(proof_rm);
}

FIXTURE(fx) {
	char dir[64];
};

FIXTURE_SETUP(fx)
{
	char done[128];
	int r;

	proof_dir(self->dir, sizeof(self->dir), getppid());
	snprintf(done, sizeof(done), "%s/done", self->dir);
	if (access(done, F_OK) == 0)
		return;
	ASSERT_TRUE(mkdir(self->dir, 0700) == 0 || errno == EEXIST);
	r = run_fixture("write_proof.py", self->dir, "");
	if (r > 0)
		SKIP(return, "no /usr/bin/python3 with numpy");
	ASSERT_EQ(r, 0);
	ASSERT_EQ(mkdir(done, 0700), 0);
}

FIXTURE_TEARDOWN(fx)
{
}

/* A reference of write_proof.py: the prompt, the tokens, their logits. */
struct ref {
	struct blob b;
	uint32_t vocab, n_prompt, steps;
	const uint32_t *prompt, *tokens;	/* tokens follow the prompt */
	const float *logits;			/* [steps][vocab] */
};

static int ref_read(const char *dir, const char *name, struct ref *r)
{
	uint32_t h[3];

	if (slurp(dir, name, &r->b))
		return -1;
	if (r->b.len < sizeof(h))
		return -1;
	memcpy(h, r->b.p, sizeof(h));
	r->vocab = h[0];
	r->n_prompt = h[1];
	r->steps = h[2];
	if (r->b.len != sizeof(h) + 4ull * (r->n_prompt + r->steps) +
			4ull * r->steps * r->vocab)
		return -1;
	r->prompt = (const uint32_t *)(r->b.p + sizeof(h));
	r->tokens = r->prompt + r->n_prompt;
	r->logits = (const float *)(r->tokens + r->steps);
	return 0;
}

/* The best and second logits of @lg apart; the best (lowest id) in *@id. */
static double lead(const float *lg, uint32_t n, uint32_t *id)
{
	uint32_t i, best = 0, second = 1;

	if (lg[1] > lg[0])
		best = 1, second = 0;
	for (i = 2; i < n; i++) {
		if (lg[i] > lg[best])
			second = best, best = i;
		else if (lg[i] > lg[second])
			second = i;
	}
	*id = best;
	return (double)lg[best] - lg[second];
}

/*
 * generate - @m (batch 1) fed @r's prompt token by token in slot 0, then
 * greedy for @r->steps steps, each fed the token it chose; every step's
 * logits within TOL of the reference's and its token the reference's.
 * The C's tokens in @got. Fails the calling test otherwise.
 */
static void generate(struct model *m, const struct ref *r, uint32_t *got)
{
	uint32_t vocab = m->p.cfg.vocab_size, slot = 0, pos, s, i, tok;
	double worst = 0;
	const float *lg;

	ASSERT_EQ(vocab, r->vocab);
	for (pos = 0; pos + 1 < r->n_prompt; pos++)
		ASSERT_EQ(llama_step(&m->p, m->base, 1, &r->prompt[pos], &slot,
				     &pos, NULL), 0);
	tok = r->prompt[r->n_prompt - 1];
	for (s = 0; s < r->steps; s++, pos++) {
		const float *want = r->logits + (uint64_t)s * vocab;
		unsigned int bad = 0;

		ASSERT_EQ(llama_step(&m->p, m->base, 1, &tok, &slot, &pos,
				     NULL), 0);
		lg = llama_logits(&m->p, m->base, 0);
		for (i = 0; i < vocab; i++) {
			double d = fabs((double)lg[i] - want[i]);

			if (!(d <= TOL))
				bad++;
			if (!(d <= worst))
				worst = d;
		}
		EXPECT_EQ(bad, 0u)
			TH_LOG("step %u: %u logits off, worst %g", s, bad,
			       worst);
		lead(lg, vocab, &tok);
		got[s] = tok;
		ASSERT_EQ(tok, r->tokens[s]) TH_LOG("step %u", s);
	}
	TH_LOG("%u steps, worst logit difference %.2e", r->steps, worst);
}

/* The reference can tell: varied tokens, each a clear winner. */
static void ref_checks(const struct ref *r)
{
	uint32_t s, t, id, distinct = 0;
	double gap = INFINITY;

	for (s = 0; s < r->steps; s++) {
		gap = fmin(gap, lead(r->logits + (uint64_t)s * r->vocab,
				     r->vocab, &id));
		EXPECT_EQ(id, r->tokens[s]);
		for (t = 0; t < s && r->tokens[t] != r->tokens[s]; t++)
			;
		distinct += t == s;
	}
	EXPECT_EQ(r->steps, 64u);
	EXPECT_GE(distinct, MIN_DISTINCT);
	EXPECT_TRUE(gap > 2 * TOL) TH_LOG("smallest lead %g", gap);
}

/* @file (llama2.c when @l2c, else in @sub/hf) against @sub/@refname */
static void prove(const char *dir, const char *sub, bool l2c,
		  const char *file, const char *refname, uint32_t *got)
{
	char path[128];
	struct model m = { 0 };
	struct ref r = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	ASSERT_EQ(ref_read(path, refname, &r), 0);
	ref_checks(&r);
	if (l2c)
		ASSERT_EQ(load_l2c(path, file, &m, 1, 0), 0);
	else
		ASSERT_EQ(load_hf(path, file, &m, 1), 0);
	EXPECT_EQ(m.p.cfg.dim, 288u);
	EXPECT_EQ(m.p.cfg.n_layers, 6u);
	EXPECT_EQ(m.p.cfg.seq_len, 256u);
	generate(&m, &r, got);
	model_free(&m);
	free(r.b.p);
}

TEST_F_TIMEOUT(fx, legacy_tied_matches_numpy, FIXTURE_SECS)
{
	uint32_t got[64];

	prove(self->dir, "tied", true, "legacy.bin", "ref-l2c.bin", got);
}

/* The HF file also generates the legacy file's tokens: the same weights
 * as llama2.c (interleaved RoPE) and as HF (q and k rows permuted,
 * rotate-half RoPE) are the same model. */
TEST_F_TIMEOUT(fx, hf_f32_tied_matches_numpy, FIXTURE_SECS)
{
	char tied[128];
	uint32_t got[64];
	struct ref l2c = { 0 };

	prove(self->dir, "tied", false, "model.safetensors",
	      "ref-hf.bin", got);
	snprintf(tied, sizeof(tied), "%s/tied", self->dir);
	ASSERT_EQ(ref_read(tied, "ref-l2c.bin", &l2c), 0);
	ASSERT_EQ(l2c.steps, 64u);
	EXPECT_EQ(memcmp(got, l2c.tokens, sizeof(got)), 0);
	free(l2c.b.p);
}

TEST_F_TIMEOUT(fx, ak42_untied_gqa_matches_numpy, FIXTURE_SECS)
{
	uint32_t got[64];

	prove(self->dir, "gqa", true, "ak42.bin", "ref-l2c.bin", got);
}

TEST_F_TIMEOUT(fx, hf_bf16_untied_gqa_matches_numpy, FIXTURE_SECS)
{
	uint32_t got[64];

	prove(self->dir, "gqa", false, "model.safetensors",
	      "ref-bf16.bin", got);
}

TEST_HARNESS_MAIN
