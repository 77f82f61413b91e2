/* SPDX-License-Identifier: MIT */
/*
 * model_batch.c - batch invariance of the model computations (issue 11,
 * Documentation/models.md "Computation"): on seeded random models built
 * here (no fixtures), every Llama logit of a row is the same bits
 * whether the row is decoded alone or in steps of 1 to 16 rows of other
 * sequences at other positions in other slots, in any order, on 1, 2 or
 * 3 threads; every mlp output row is the same bits alone and in passes
 * of 2 to 16 rows. The shapes run the matmul twin's 32-, 8- and 1-float
 * stretches and its groups of rows with every remainder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/llama.h"
#include "daemon/model/mlp.h"
#include "daemon/model/team.h"
#include "selftests/harness.h"

#define SEQS	16		/* sequences, one slot each */
#define CTX	24		/* positions per slot */

/* fill - @n small seeded values (xorshift32) at @w */
static void fill(float *w, uint64_t n, uint32_t *s)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 17;
		*s ^= *s << 5;
		w[i] = ((float)(*s >> 8) / 16777216.0f - 0.5f) * 0.5f;
	}
}

/*
 * A GQA Llama whose products have k = 76 (2 x 32 + 8 + 4) and k = 100
 * (3 x 32 + 4), untied, with random weights.
 */
static void *llama_random(struct llama_plan *p)
{
	struct llama_config c = {
		.dim = 76, .hidden_dim = 100, .n_layers = 2, .n_heads = 2,
		.n_kv_heads = 1, .vocab_size = 301, .seq_len = CTX,
		.head_dim = 38, .rms_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope = LLAMA_ROPE_PAIRS, .shared_classifier = false,
	};
	uint32_t seed = 7;
	void *base;

	if (llama_plan(&c, SEQS, CTX, p))
		return NULL;
	base = aligned_alloc(LLAMA_ALIGN, p->total_bytes);
	if (base) {
		fill(base, p->weight_bytes / 4, &seed);
		memset((char *)base + p->weight_bytes, 0,
		       p->total_bytes - p->weight_bytes);
	}
	return base;
}

/* sequence @i: its length, the step it starts at, its token at @pos */
static uint32_t seq_len(uint32_t i)
{
	return 5 + i % 7;
}

static uint32_t seq_start(uint32_t i)
{
	return i % 4 ? i % 5 : 0;
}

static uint32_t seq_tok(uint32_t i, uint32_t pos, uint32_t vocab)
{
	return (i * 37 + pos * 11 + 1) % vocab;
}

/*
 * batched - decode every sequence in its own slot, a step per tick with
 * every sequence live at that tick (1 to 16 rows, at their own
 * positions; in reverse order on odd ticks), on @team; each row's
 * logits compared with @alone ([seq][pos][vocab]). Returns the count of
 * rows that differ, -1 for a failed step; the largest step in *@most.
 */
static int batched(const struct llama_plan *p, void *base,
		   struct team *team, const float *alone, uint32_t *most)
{
	uint32_t vocab = p->cfg.vocab_size, tok[SEQS], slot[SEQS], pos[SEQS];
	uint32_t tick, i, n, r;
	int bad = 0;

	*most = 0;
	for (tick = 0; tick < CTX; tick++) {
		for (n = 0, i = 0; i < SEQS; i++) {
			uint32_t s = tick % 2 ? SEQS - 1 - i : i;

			if (tick < seq_start(s) ||
			    tick >= seq_start(s) + seq_len(s))
				continue;
			slot[n] = s;
			pos[n] = tick - seq_start(s);
			tok[n] = seq_tok(s, pos[n], vocab);
			n++;
		}
		if (!n)
			continue;
		*most = n > *most ? n : *most;
		if (llama_step_team(p, base, team, n, tok, slot, pos, NULL))
			return -1;
		for (r = 0; r < n; r++)
			if (memcmp(llama_logits(p, base, r),
				   alone + ((uint64_t)slot[r] * CTX + pos[r]) *
				   vocab, vocab * 4)) {
				TH_LOG("seq %u at %u, a step of %u rows",
				       slot[r], pos[r], n);
				bad++;
			}
	}
	return bad;
}

TEST(llama_rows_alone_and_batched_are_the_same_bits)
{
	static const unsigned int threads[] = { 1, 2, 3 };
	struct llama_plan p;
	uint32_t vocab, i, t, most;
	struct team *team;
	float *alone;
	void *base;

	base = llama_random(&p);
	ASSERT_NE(base, NULL);
	vocab = p.cfg.vocab_size;
	alone = calloc((uint64_t)SEQS * CTX * vocab, sizeof(float));
	ASSERT_NE(alone, NULL);
	for (i = 0; i < SEQS; i++)
		for (t = 0; t < seq_len(i); t++) {
			uint32_t tok = seq_tok(i, t, vocab);

			ASSERT_EQ(llama_step(&p, base, 1, &tok, &i, &t, NULL),
				  0);
			memcpy(alone + ((uint64_t)i * CTX + t) * vocab,
			       llama_logits(&p, base, 0), vocab * 4);
		}
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		team = NULL;
		if (threads[i] > 1)
			ASSERT_EQ(team_new(threads[i], &team), 0);
		EXPECT_EQ(batched(&p, base, team, alone, &most), 0)
			TH_LOG("%u threads", threads[i]);
		EXPECT_EQ(most, (uint32_t)SEQS);
		team_free(team);
	}
	free(alone);
	free(base);
}

/* Steps of exactly 8 and 16 rows at one position, in both orders. */
TEST(llama_steps_of_8_and_16_rows_are_the_same_bits_as_1)
{
	static const uint32_t sizes[] = { 8, 16 };
	uint32_t tok[SEQS], slot[SEQS], pos[SEQS], vocab, i, r, t;
	struct llama_plan p;
	float *alone;
	void *base;

	base = llama_random(&p);
	ASSERT_NE(base, NULL);
	vocab = p.cfg.vocab_size;
	alone = malloc((uint64_t)SEQS * vocab * 4);
	ASSERT_NE(alone, NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (t = 0; t < 3; t++) {
			for (r = 0; r < sizes[i]; r++) {
				slot[r] = (t % 2 ? sizes[i] - 1 - r : r) * 5 %
					  SEQS;
				pos[r] = t;
				tok[r] = seq_tok(slot[r], t, vocab);
				ASSERT_EQ(llama_step(&p, base, 1, &tok[r],
						     &slot[r], &pos[r], NULL),
					  0);
				memcpy(alone + (uint64_t)r * vocab,
				       llama_logits(&p, base, 0), vocab * 4);
			}
			ASSERT_EQ(llama_step(&p, base, sizes[i], tok, slot,
					     pos, NULL), 0);
			for (r = 0; r < sizes[i]; r++)
				EXPECT_EQ(memcmp(alone + (uint64_t)r * vocab,
						 llama_logits(&p, base, r),
						 vocab * 4), 0)
					TH_LOG("%u rows, row %u at %u",
					       sizes[i], r, t);
		}
	}
	free(alone);
	free(base);
}

TEST(mlp_rows_alone_and_batched_are_the_same_bits)
{
	struct hf_mlp_config c = {
		.n_layers = 3,
		.layer = {
			{ .in = 13, .out = 77, .act = HF_ACT_RELU },
			{ .in = 77, .out = 301, .act = HF_ACT_GELU },
			{ .in = 301, .out = 5, .act = HF_ACT_NONE },
		},
	};
	static const uint32_t sizes[] = { 2, 3, 4, 5, 7, 8, 16 };
	uint32_t seed = 11, i, r, in = 13, out = 5;
	float rows[16 * 13], one[16 * 5];
	struct mlp_plan p;
	void *base;

	ASSERT_EQ(mlp_plan(&c, 16, &p), 0);
	base = aligned_alloc(64, p.total_bytes);
	ASSERT_NE(base, NULL);
	fill(base, p.weight_bytes / 4, &seed);
	fill(rows, 16 * in, &seed);
	for (r = 0; r < 16; r++) {
		memcpy(mlp_input(&p, base), rows + r * in, in * 4);
		ASSERT_EQ(mlp_forward(&p, base, 1, NULL, NULL), 0);
		memcpy(one + r * out, mlp_output(&p, base), out * 4);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memcpy(mlp_input(&p, base), rows, sizes[i] * in * 4);
		ASSERT_EQ(mlp_forward(&p, base, sizes[i], NULL, NULL), 0);
		EXPECT_EQ(memcmp(one, mlp_output(&p, base),
				 sizes[i] * out * 4), 0)
			TH_LOG("a pass of %u rows", sizes[i]);
	}
	free(base);
}

TEST_HARNESS_MAIN
