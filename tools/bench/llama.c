/* SPDX-License-Identifier: MIT */
/*
 * llama: single-stream generation speed of the Llama forward pass
 * (daemon/model/llama.c), in process, on a seeded random model of the
 * stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000,
 * seq 256, tied classifier): 256 greedy tokens from position 0, one
 * llama_step() each. Baseline, measured in the same run: the same
 * token's matrix-vector products alone (the q, k, v, o, w1, w2, w3
 * matmul launches of every layer and the classifier, nothing else),
 * the floor the rest of the step adds to. Also the 64-token prompt as
 * one step. One thread: the matvecs are the matmul twin's fixed-order
 * dot products (kernels/matmul.c), -t N only sets OpenBLAS's threads
 * for what still calls it. Times are the process's CPU time (the
 * machines this runs on are shared); with more threads they add up.
 *
 * Invariant: both sides run in alternating rounds; each figure is the
 * median of the rounds. Everything allocated is freed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/model/kcall.h"
#include "daemon/model/llama.h"
#include "kernels/kernels.h"

#define TOKENS	256
#define PROMPT	64
#define ROUNDS	3

/* now - CPU seconds of this process: on a shared, loaded machine the
 * wall clock measures the neighbours; with one BLAS thread this is the
 * time the computation itself took */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* fill the weights with small seeded values (xorshift32) */
static void fill(float *w, uint64_t n, uint32_t *s)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 17;
		*s ^= *s << 5;
		w[i] = ((float)(*s >> 8) / 16777216.0f - 0.5f) * 0.2f;
	}
}

/* generate - TOKENS greedy tokens; seconds */
static double generate(const struct llama_plan *p, void *base)
{
	uint32_t tok = 1, slot = 0, pos, best, c;
	double t0 = now();
	const float *lg;

	for (pos = 0; pos < TOKENS; pos++) {
		if (llama_step(p, base, 1, &tok, &slot, &pos, NULL))
			return -1;
		lg = llama_logits(p, base, 0);
		for (best = 0, c = 1; c < p->cfg.vocab_size; c++)
			if (lg[c] > lg[best])
				best = c;
		tok = best;
	}
	return now() - t0;
}

/* matvecs - TOKENS tokens' matmul launches alone; seconds */
static double matvecs(const struct llama_plan *p, void *base)
{
	const struct llama_config *c = &p->cfg;
	char *b = base;
	float *x = (float *)(b + p->xb), *y = (float *)(b + p->hb);
	uint64_t kv = (uint64_t)c->n_kv_heads * c->head_dim, d = c->dim;
	uint64_t h = c->hidden_dim;
	double t0 = now();
	uint32_t t, l;
	int err = 0;

	for (t = 0; t < TOKENS; t++) {
		for (l = 0; l < c->n_layers; l++) {
#define W(tt, per) ((const float *)(b + p->w[tt]) + l * (per))
			err |= kc_gemm_row(d, d, x, W(L2C_WQ, d * d), y, NULL);
			err |= kc_gemm_row(kv, d, x, W(L2C_WK, kv * d), y,
					   NULL);
			err |= kc_gemm_row(kv, d, x, W(L2C_WV, kv * d), y,
					   NULL);
			err |= kc_gemm_row(d, d, x, W(L2C_WO, d * d), y, NULL);
			err |= kc_gemm_row(h, d, x, W(L2C_W1, h * d), y, NULL);
			err |= kc_gemm_row(h, d, x, W(L2C_W3, h * d), y, NULL);
			err |= kc_gemm_row(d, h, y, W(L2C_W2, d * h), x, NULL);
#undef W
		}
		err |= kc_gemm_row(c->vocab_size, d, x,
				   (const float *)(b + p->w[L2C_WCLS]),
				   (float *)(b + p->logits), NULL);
	}
	return err ? -1 : now() - t0;
}

/* prompt - PROMPT tokens as one step; seconds */
static double prompt(const struct llama_plan *p, void *base)
{
	uint32_t tok[PROMPT], slot[PROMPT], pos[PROMPT], i;
	double t0 = now();

	for (i = 0; i < PROMPT; i++) {
		tok[i] = (i * 37 + 1) % p->cfg.vocab_size;
		slot[i] = 0;
		pos[i] = i;
	}
	if (llama_step(p, base, PROMPT, tok, slot, pos, NULL))
		return -1;
	return now() - t0;
}

int main(int argc, char **argv)
{
	struct llama_config c = {
		.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6,
		.n_kv_heads = 6, .vocab_size = 32000, .seq_len = 256,
		.head_dim = 48, .rms_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope = LLAMA_ROPE_PAIRS, .shared_classifier = true,
	};
	double gen[ROUNDS], mv[ROUNDS], pr[ROUNDS];
	unsigned int threads = 1, r;
	struct llama_plan p;
	uint32_t seed = 1;
	void *base;
	int opt, err;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't') {
			fprintf(stderr, "usage: %s [-t blas_threads]\n",
				argv[0]);
			return 2;
		}
		threads = (unsigned int)atoi(optarg);
	}
	gl_kernel_cpu_init(threads);
	err = llama_plan(&c, PROMPT, TOKENS, &p);
	if (err) {
		fprintf(stderr, "llama_plan: %s\n", strerror(-err));
		return 1;
	}
	base = aligned_alloc(LLAMA_ALIGN, p.total_bytes);
	if (!base)
		return 1;
	fill(base, p.weight_bytes / 4, &seed);
	for (r = 0; r < ROUNDS; r++) {
		gen[r] = generate(&p, base);
		mv[r] = matvecs(&p, base);
		pr[r] = prompt(&p, base);
		if (gen[r] < 0 || mv[r] < 0 || pr[r] < 0) {
			fprintf(stderr, "a step failed\n");
			free(base);
			return 1;
		}
	}
	qsort(gen, ROUNDS, sizeof(double), cmp_d);
	qsort(mv, ROUNDS, sizeof(double), cmp_d);
	qsort(pr, ROUNDS, sizeof(double), cmp_d);
	printf("# llama stories15M shape, %u BLAS thread(s), median of %d\n",
	       threads, ROUNDS);
	printf("plan: weights %llu B, activations %llu B, kv cache %llu B "
	       "(batch %u, ctx %u)\n", (unsigned long long)p.weight_bytes,
	       (unsigned long long)p.act_bytes,
	       (unsigned long long)p.kv_bytes, p.max_batch, p.max_ctx);
	printf("generate: %.1f tokens per CPU second (%d tokens)\n",
	       TOKENS / gen[ROUNDS / 2], TOKENS);
	printf("baseline, matvecs alone: %.1f tokens per CPU second\n",
	       TOKENS / mv[ROUNDS / 2]);
	printf("ratio generate/matvecs: %.3f\n", mv[ROUNDS / 2] /
	       gen[ROUNDS / 2]);
	printf("prompt step: %.1f tokens per CPU second (%d, one step)\n",
	       PROMPT / pr[ROUNDS / 2], PROMPT);
	free(base);
	return 0;
}
