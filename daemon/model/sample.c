/* SPDX-License-Identifier: MIT */
/*
 * Sampling the next token: greedy through the argmax kernel, temperature
 * through the scale and softmax kernels, and top-p as llama2.c's
 * sample_topp (candidates below (1 - top_p) / (vocab - 1) cannot be in
 * the nucleus and are dropped before the sort).
 *
 * Invariant: the result depends only on the logits, the parameters and
 * the PRNG state; one sample draws exactly one coin (none when greedy),
 * so a sequence of samples replays from its seed.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/kcall.h"
#include "daemon/model/sample.h"
#include "kernels/cpu.h"

#define SAMPLE_BLOCK	256u	/* the row kernels' default block */

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sample_seed(struct sample_rng *r, uint64_t seed)
{
	r->state = splitmix64(seed);
	if (!r->state)
		r->state = 1;
}

uint32_t sample_u32(struct sample_rng *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return (uint32_t)((r->state * 0x2545f4914f6cdd1dull) >> 32);
}

float sample_f32(struct sample_rng *r)
{
	return (float)(sample_u32(r) >> 8) / 16777216.0f;
}

/* A candidate of the nucleus: probability and id. */
struct cand {
	float p;
	uint32_t id;
};

/* the probabilities, then room for every id as a candidate */
uint64_t sample_scratch_bytes(uint32_t vocab)
{
	return (uint64_t)vocab * (sizeof(float) + sizeof(struct cand));
}

/* more likely first; ties to the lower id: a total order, so qsort's
 * result does not depend on its algorithm */
static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int greedy(const float *logits, uint32_t vocab, uint32_t *token)
{
	struct gl_kargs a = { 0 };

	kc_u32(&a, 1);
	kc_u32(&a, vocab);
	kc_buf(&a, (void *)logits, (uint64_t)vocab * 4);
	kc_buf(&a, token, 4);
	return kc_run(gl_argmax_cpu, &a, SAMPLE_BLOCK, NULL);
}

/* probs - softmax(logits / t) into @p; -EINVAL when it is not finite */
static int probs(const float *logits, uint32_t vocab, float t, float *p)
{
	struct gl_kargs a = { 0 };
	uint32_t i;
	int err;

	kc_u32(&a, vocab);
	kc_f32(&a, 1.0f / t);
	kc_buf(&a, (void *)logits, (uint64_t)vocab * 4);
	kc_buf(&a, p, (uint64_t)vocab * 4);
	err = kc_run(gl_scale_cpu, &a, SAMPLE_BLOCK, NULL);
	if (err)
		return err;
	memset(&a, 0, sizeof(a));
	kc_u32(&a, 1);
	kc_u32(&a, vocab);
	kc_buf(&a, p, (uint64_t)vocab * 4);
	kc_buf(&a, p, (uint64_t)vocab * 4);
	err = kc_run(gl_softmax_cpu, &a, SAMPLE_BLOCK, NULL);
	if (err)
		return err;
	for (i = 0; i < vocab; i++)
		if (!isfinite(p[i]))
			return -EINVAL;
	return 0;
}

/* top_p - llama2.c's sample_topp over @p with coin @coin */
static uint32_t top_p(const float *p, uint32_t vocab, float topp, float coin,
		      struct cand *c)
{
	float cutoff = vocab > 1 ? (1.0f - topp) / (float)(vocab - 1) : 0;
	float cum = 0.0f, r;
	uint32_t n = 0, i, last;

	for (i = 0; i < vocab; i++) {
		if (p[i] >= cutoff) {
			c[n].p = p[i];
			c[n++].id = i;
		}
	}
	if (!n) {
		/* a flat distribution and a tiny top_p: the cutoff passes
		 * every p, and the nucleus is the most likely token alone */
		for (i = 1, last = 0; i < vocab; i++)
			if (p[i] > p[last])
				last = i;
		return last;
	}
	qsort(c, n, sizeof(*c), cand_cmp);
	last = n - 1;
	for (i = 0; i < n; i++) {
		cum += c[i].p;
		if (cum > topp) {
			last = i;
			break;
		}
	}
	r = coin * cum;
	cum = 0.0f;
	for (i = 0; i <= last; i++) {
		cum += c[i].p;
		if (r < cum)
			return c[i].id;
	}
	return c[last].id;
}

int sample_token(const float *logits, uint32_t vocab,
		 const struct sample_params *sp, struct sample_rng *r,
		 void *scratch, uint32_t *token)
{
	float *p = scratch, coin, cum = 0.0f;
	uint32_t i;
	int err;

	if (!vocab || !(sp->temperature >= 0.0f) ||
	    !(sp->top_p > 0.0f && sp->top_p <= 1.0f))
		return -EINVAL;
	if (sp->temperature == 0.0f)
		return greedy(logits, vocab, token);
	coin = sample_f32(r);
	err = probs(logits, vocab, sp->temperature, p);
	if (err)
		return err;
	if (sp->top_p < 1.0f) {
		/* the candidates go after the probabilities: 8 bytes per id
		 * at most, in vocab * 8 bytes of scratch */
		*token = top_p(p, vocab, sp->top_p, coin,
			       (struct cand *)(p + vocab));
		return 0;
	}
	for (i = 0; i < vocab; i++) {
		cum += p[i];
		if (coin < cum) {
			*token = i;
			return 0;
		}
	}
	*token = vocab - 1;
	return 0;
}
