/* SPDX-License-Identifier: MIT */
/*
 * llama: generation speed of the Llama forward pass
 * (daemon/model/llama.c), in process, on a seeded random model of the
 * stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000,
 * seq 256, tied classifier): 256 greedy tokens from position 0, one
 * llama_step() each (one stream), and the same with B streams decoding
 * side by side in B slots, one B-row llama_step() per position
 * (continuous batching's steady state, -b, default 8). Baselines,
 * measured in the same run: the single stream's matrix-vector products
 * alone (the q, k, v, o, w1, w2, w3 matmul launches of every layer and
 * the classifier, nothing else), the floor the rest of the step adds
 * to; and the roofline, cblas_sgemm's GFLOP/s at 1024 x 1024 x 1024
 * over 2 x parameters FLOPs per token. Also the 64-token prompt as one
 * step, and what batch invariance costs: the classifier's product for B
 * rows through the matmul twin against cblas_sgemm on the same data;
 * one decoding row's attention over 128 keys through the twins'
 * whole-grid path against their per-element path (same bits required).
 * Stream 0 of the batch must produce the single stream's tokens (batch
 * invariance). One thread: the matvecs are the matmul twin's
 * fixed-order dot products (kernels/matmul-nt.c), -t N only sets
 * OpenBLAS's threads for sgemm and what still calls it. Times are the
 * process's CPU time (the machines this runs on are shared); with more
 * threads they add up.
 *
 * Invariant: the parts run in alternating rounds; each figure is the
 * median of the rounds. Everything allocated is freed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "daemon/model/kcall.h"
#include "daemon/model/llama.h"
#include "kernels/blas.h"
#include "kernels/kernels.h"

#define TOKENS	256
#define PROMPT	64
#define ROUNDS	3
#define BATCH	64		/* the plan's rows: the prompt, the streams */
#define SGEMM_N	1024
#define ATTN_POS	128	/* keys of the attention line */
#define ATTN_CALLS	2000

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

/* argmax - the row's greedy token */
static uint32_t argmax(const float *lg, uint32_t n)
{
	uint32_t best = 0, c;

	for (c = 1; c < n; c++)
		if (lg[c] > lg[best])
			best = c;
	return best;
}

/*
 * streams - @n streams side by side in slots 0..n-1, stream r greedy
 * from token 1 + r, one n-row step per position, TOKENS positions;
 * stream 0's tokens into @ids; seconds
 */
static double streams(const struct llama_plan *p, void *base, uint32_t n,
		      uint32_t *ids)
{
	uint32_t tok[BATCH], slot[BATCH], pos[BATCH], r, t;
	double t0 = now();

	for (r = 0; r < n; r++) {
		tok[r] = 1 + r;
		slot[r] = r;
	}
	for (t = 0; t < TOKENS; t++) {
		for (r = 0; r < n; r++)
			pos[r] = t;
		if (llama_step(p, base, n, tok, slot, pos, NULL))
			return -1;
		for (r = 0; r < n; r++)
			tok[r] = argmax(llama_logits(p, base, r),
					p->cfg.vocab_size);
		ids[t] = tok[0];
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

/*
 * attention - ATTN_CALLS of one decoding row's attention at position
 * ATTN_POS - 1 of layer 0's cache in slot 0 (scores, then values, the
 * twins' launches as a step makes them) through the whole-grid path a
 * step takes, or (@split) through the per-element path of workers that
 * share a grid; the scores and values of the last call into @s and @o
 * (the two paths must give the same bits); microseconds a call
 */
static double attention(const struct llama_plan *p, void *base, bool split,
			float *s, float *o)
{
	const struct llama_config *c = &p->cfg;
	uint64_t kv = (uint64_t)c->n_kv_heads * c->head_dim;
	uint64_t ns = (uint64_t)c->n_heads * ATTN_POS * 4, no = c->dim * 4;
	char *b = base;
	struct gl_kargs sa = { 0 }, va = { 0 };
	struct gl_grid g = { { 2, 1, 1 }, { 256, 1, 1 } };	/* llama.c's block */
	struct gl_kctx whole = { NULL, 0, 2 }, half[2] = {
		{ NULL, 0, 1 }, { NULL, 1, 2 },
	};
	double t0 = now();
	int i, h, err = 0;

	kc_u32(&sa, 1);
	kc_u32(&sa, ATTN_POS);
	kc_u32(&sa, c->n_heads);
	kc_u32(&sa, c->n_kv_heads);
	kc_u32(&sa, c->head_dim);
	kc_u32(&sa, ATTN_POS - 1);
	kc_u32(&sa, 0);
	kc_f32(&sa, 0.125f);
	kc_buf(&sa, b + p->q, no);
	kc_buf(&sa, b + p->k_cache, ATTN_POS * kv * 4);
	kc_buf(&sa, s, ns);
	kc_u32(&va, 1);
	kc_u32(&va, ATTN_POS);
	kc_u32(&va, c->n_heads);
	kc_u32(&va, c->n_kv_heads);
	kc_u32(&va, c->head_dim);
	kc_buf(&va, s, ns);
	kc_buf(&va, b + p->v_cache, ATTN_POS * kv * 4);
	kc_buf(&va, o, no);
	for (i = 0; i < ATTN_CALLS; i++)
		for (h = 0; h < (split ? 2 : 1); h++) {
			struct gl_kctx *x = split ? &half[h] : &whole;

			err |= gl_attn_scores_cpu(&sa, &g, x);
			err |= gl_attn_values_cpu(&va, &g, x);
		}
	return err ? -1 : (now() - t0) / ATTN_CALLS * 1e6;
}

/* sgemm_gflops - one SGEMM_N cube through cblas_sgemm; GFLOP per CPU s */
static double sgemm_gflops(float *a, float *b, float *c)
{
	double t0 = now(), t;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, SGEMM_N, SGEMM_N,
		    SGEMM_N, 1.0f, a, SGEMM_N, b, SGEMM_N, 0.0f, c, SGEMM_N);
	t = now() - t0;
	return 2.0 * SGEMM_N * SGEMM_N * SGEMM_N / t * 1e-9;
}

/*
 * cls_gflops - the classifier's product for @rows rows (x wcls^T, 32000
 * x 288) as the model computes it (the matmul twin, batch invariant) or
 * as cblas_sgemm would (@blas); GFLOP per CPU second over 8 calls
 */
static double cls_gflops(const struct llama_plan *p, void *base,
			 uint32_t rows, bool blas)
{
	const float *w = (const float *)((char *)base + p->w[L2C_WCLS]);
	const float *x = (const float *)((char *)base + p->x);
	float *y = (float *)((char *)base + p->logits);
	uint32_t n = p->cfg.vocab_size, k = p->cfg.dim, i;
	double t0 = now();

	for (i = 0; i < 8; i++) {
		if (blas)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)rows, (int)n, (int)k, 1.0f, x, (int)k,
				    w, (int)k, 0.0f, y, (int)n);
		else if (kc_gemm_nt(rows, n, k, x, w, y, NULL))
			return -1;
	}
	return 8 * 2.0 * rows * n * k / (now() - t0) * 1e-9;
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(double), cmp_d);
	return v[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	struct llama_config c = {
		.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6,
		.n_kv_heads = 6, .vocab_size = 32000, .seq_len = 256,
		.head_dim = 48, .rms_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope = LLAMA_ROPE_PAIRS, .shared_classifier = true,
	};
	double gen[ROUNDS], bat[ROUNDS], mv[ROUNDS], pr[ROUNDS], gf[ROUNDS];
	double ct[ROUNDS], cb[ROUNDS], aw[ROUNDS], as[ROUNDS];
	float *att[4] = { NULL };
	uint32_t one[TOKENS], many[TOKENS], same = 0, asame = 0;
	unsigned int threads = 1, rows = 8, r, i;
	double params = 0, roof, g1, gb;
	float *sa = NULL, *sb = NULL, *sc = NULL;
	struct llama_plan p;
	uint32_t seed = 1;
	void *base;
	int opt, err;

	while ((opt = getopt(argc, argv, "t:b:")) != -1) {
		if (opt == 't') {
			threads = (unsigned int)atoi(optarg);
		} else if (opt == 'b' && atoi(optarg) >= 1 &&
			   atoi(optarg) <= BATCH) {
			rows = (unsigned int)atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-t blas_threads] "
				"[-b streams (1-%d)]\n", argv[0], BATCH);
			return 2;
		}
	}
	if (gl_kernel_cpu_init(threads)) {
		fprintf(stderr, "llama: OpenBLAS: %s\n", gl_blas_why());
		return 2;
	}
	err = llama_plan(&c, BATCH, TOKENS, &p);
	if (err) {
		fprintf(stderr, "llama_plan: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < L2C_NTENSORS; i++)
		params += p.w_len[i] / 4.0;
	base = aligned_alloc(LLAMA_ALIGN, p.total_bytes);
	sa = malloc(sizeof(float) * SGEMM_N * SGEMM_N);
	sb = malloc(sizeof(float) * SGEMM_N * SGEMM_N);
	sc = malloc(sizeof(float) * SGEMM_N * SGEMM_N);
	for (i = 0; i < 4; i++)
		att[i] = malloc(sizeof(float) * c.n_heads * ATTN_POS);
	err = !base || !sa || !sb || !sc || !att[0] || !att[1] || !att[2] ||
	      !att[3];
	if (!err) {
		fill(base, p.weight_bytes / 4, &seed);
		fill(sa, SGEMM_N * SGEMM_N, &seed);
		fill(sb, SGEMM_N * SGEMM_N, &seed);
		sgemm_gflops(sa, sb, sc);	/* warm: OpenBLAS's buffers */
	}
	for (r = 0; !err && r < ROUNDS; r++) {
		gen[r] = streams(&p, base, 1, one);
		bat[r] = streams(&p, base, rows, many);
		mv[r] = matvecs(&p, base);
		pr[r] = prompt(&p, base);
		gf[r] = sgemm_gflops(sa, sb, sc);
		ct[r] = cls_gflops(&p, base, rows, false);
		cb[r] = cls_gflops(&p, base, rows, true);
		aw[r] = attention(&p, base, false, att[0], att[1]);
		as[r] = attention(&p, base, true, att[2], att[3]);
		err = gen[r] < 0 || bat[r] < 0 || mv[r] < 0 || pr[r] < 0 ||
		      ct[r] < 0 || aw[r] < 0 || as[r] < 0;
		if (!err && !r)
			same = !memcmp(one, many, sizeof(one));
		if (!err && !r)
			asame = !memcmp(att[0], att[2], sizeof(float) *
					c.n_heads * ATTN_POS) &&
				!memcmp(att[1], att[3], sizeof(float) * c.dim);
	}
	for (i = 0; i < 4; i++)
		free(att[i]);
	free(sa);
	free(sb);
	free(sc);
	if (err) {
		fprintf(stderr, "a step failed\n");
		free(base);
		return 1;
	}
	g1 = TOKENS / median(gen);
	gb = (double)rows * TOKENS / median(bat);
	roof = median(gf) * 1e9 / (2 * params);
	printf("# llama stories15M shape, %u BLAS thread(s), median of %d\n",
	       threads, ROUNDS);
	printf("plan: weights %llu B, activations %llu B, kv cache %llu B "
	       "(batch %u, ctx %u), %.0f parameters\n",
	       (unsigned long long)p.weight_bytes,
	       (unsigned long long)p.act_bytes,
	       (unsigned long long)p.kv_bytes, p.max_batch, p.max_ctx,
	       params);
	printf("generate, 1 stream: %.1f tokens per CPU second (%d tokens)\n",
	       g1, TOKENS);
	printf("generate, %u streams: %.1f tokens per CPU second "
	       "(%u x %d tokens)\n", rows, gb, rows, TOKENS);
	printf("ratio %u streams / 1 stream: %.2f\n", rows, gb / g1);
	printf("stream 0 of %u = the single stream's tokens: %s\n", rows,
	       same ? "yes" : "NO");
	printf("roofline: sgemm %dx%dx%d %.1f GFLOP per CPU second, "
	       "%.1f MFLOP per token: %.1f tokens per CPU second\n",
	       SGEMM_N, SGEMM_N, SGEMM_N, median(gf), 2 * params * 1e-6,
	       roof);
	printf("fraction of roofline: 1 stream %.3f, %u streams %.3f\n",
	       g1 / roof, rows, gb / roof);
	printf("classifier x W^T, %u rows: matmul twin %.1f, cblas_sgemm "
	       "%.1f GFLOP per CPU second (twin/sgemm %.2f)\n", rows,
	       median(ct), median(cb), median(ct) / median(cb));
	printf("baseline, matvecs alone: %.1f tokens per CPU second\n",
	       TOKENS / median(mv));
	printf("ratio generate/matvecs: %.3f\n", median(mv) / median(gen));
	printf("prompt step: %.1f tokens per CPU second (%d, one step)\n",
	       PROMPT / median(pr), PROMPT);
	printf("attention of one row over %d keys (scores + values): "
	       "whole-grid path %.2f us, per-element path %.2f us (%.2fx), "
	       "same bits: %s\n", ATTN_POS, median(aw), median(as),
	       median(as) / median(aw), asame ? "yes" : "NO");
	free(base);
	return same && asame ? 0 : 1;
}
