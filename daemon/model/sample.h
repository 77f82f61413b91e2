/* SPDX-License-Identifier: MIT */
/*
 * Choosing the next token from a row of logits: greedy, temperature, and
 * top-p (nucleus), with a seeded, documented PRNG so that the same
 * request with the same seed gives the same tokens on every run.
 * Documentation/models.md, "Sampling".
 */
#ifndef GL_MODEL_SAMPLE_H
#define GL_MODEL_SAMPLE_H

#include <stdint.h>

/*
 * The PRNG: xorshift64* (Marsaglia's xorshift, shifts 12, 25, 27, output
 * times 0x2545F4914F6CDD1D, top 32 bits), as llama2.c's run.c; its state
 * starts as splitmix64(seed), or 1 where that is 0.
 */
struct sample_rng {
	uint64_t state;		/* never 0 */
};

struct sample_params {
	float temperature;	/* 0: greedy; else > 0 */
	float top_p;		/* (0, 1]; 1: the whole distribution */
};

/* sample_seed - start @r from @seed (any value, 0 included). */
void sample_seed(struct sample_rng *r, uint64_t seed);

/* sample_u32 - the next 32 random bits. */
uint32_t sample_u32(struct sample_rng *r);

/* sample_f32 - the next coin in [0, 1): (sample_u32() >> 8) / 2^24. */
float sample_f32(struct sample_rng *r);

/* sample_scratch_bytes - the scratch sample_token() needs for @vocab. */
uint64_t sample_scratch_bytes(uint32_t vocab);

/*
 * sample_token - the token to emit after @logits (@vocab floats, not
 * modified). Greedy (temperature 0): the argmax kernel's choice (ties to
 * the lowest id, NaN never wins), no coin drawn. Else one coin c from
 * @r; probabilities softmax(logits / temperature); with top_p < 1, only
 * the smallest set of most likely tokens (ties by lower id) whose mass
 * exceeds top_p, renormalised; the token is the first whose cumulative
 * probability passes c (in id order, or in that set's order). @scratch:
 * sample_scratch_bytes(vocab) (12 bytes per token), 4-aligned. Returns
 * 0 with *@token set, or -EINVAL for vocab 0, a temperature < 0 or NaN,
 * a top_p outside (0, 1], or logits whose softmax is not finite.
 * Allocates nothing; @r is the caller's (one per sequence).
 */
int sample_token(const float *logits, uint32_t vocab,
		 const struct sample_params *sp, struct sample_rng *r,
		 void *scratch, uint32_t *token);

#endif
