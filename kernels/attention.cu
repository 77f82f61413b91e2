/* SPDX-License-Identifier: MIT */
/*
 * Attention on CUDA: attn_scores and attn_values, grouped-query heads.
 * Twins and layouts: kernels/attention.c.
 *
 * Invariant: one thread per output element, its reduction in index
 * order, as the twin; masked scores are -INFINITY.
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void attn_scores(unsigned int seq_q, unsigned int seq_k,
			   unsigned int n_heads, unsigned int n_kv_heads,
			   unsigned int head_dim, unsigned int pos0,
			   unsigned int causal, float scale, const float *q,
			   const float *k, float *s)
{
	unsigned int group = n_kv_heads ? n_heads / n_kv_heads : 1;

	GL_GRID_STRIDE(i, (unsigned long long)n_heads * seq_q * seq_k) {
		unsigned long long j = i % seq_k, r = i / seq_k;
		unsigned long long qi = r % seq_q, h = r / seq_q;
		const float *qr, *kr;
		float dot = 0.0f;
		unsigned int d;

		if (causal && j > pos0 + qi) {
			s[i] = -INFINITY;
			continue;
		}
		qr = q + (qi * n_heads + h) * head_dim;
		kr = k + (j * n_kv_heads + h / group) * head_dim;
		for (d = 0; d < head_dim; d++)
			dot += qr[d] * kr[d];
		s[i] = scale * dot;
	}
}

GL_GLOBAL void attn_values(unsigned int seq_q, unsigned int seq_k,
			   unsigned int n_heads, unsigned int n_kv_heads,
			   unsigned int head_dim, const float *p,
			   const float *v, float *out)
{
	unsigned int group = n_kv_heads ? n_heads / n_kv_heads : 1;
	unsigned long long vstride = (unsigned long long)n_kv_heads * head_dim;

	GL_GRID_STRIDE(i, (unsigned long long)seq_q * n_heads * head_dim) {
		unsigned long long d = i % head_dim, r = i / head_dim;
		unsigned long long h = r % n_heads, qi = r / n_heads;
		const float *pr = p + (h * seq_q + qi) * seq_k;
		const float *vr = v + (h / group) * head_dim + d;
		float sum = 0.0f;
		unsigned int j;

		for (j = 0; j < seq_k; j++)
			sum += pr[j] * vr[j * vstride];
		out[i] = sum;
	}
}
