/* SPDX-License-Identifier: MIT */
/*
 * plain: the baseline forward pass (tools/bench/plain.h). Straight loops
 * the compiler vectorises (-Ofast), one OpenMP parallel-for over the
 * output rows of each matrix-vector product, nothing else clever: the
 * method of llama2.c's run.c, so a same-run figure stands in for it.
 * Invariant: reads only the checkpoint and its own buffers.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "tools/bench/plain.h"

int plain_threads(void)
{
	return omp_get_max_threads();
}

/* Eight floats from any float's address. */
typedef float sweep_v8 __attribute__((vector_size(32), aligned(4)));

float plain_sweep(const void *buf, size_t len)
{
	const float *f = buf;
	long n = (long)(len / 4) / 32 * 32, i;
	float s = 0.0f;

	/* four sums a thread, so the adds' latency hides none of the
	 * memory's time: a lower bound, not plain C's own loop */
#pragma omp parallel for reduction(+:s)
	for (i = 0; i < n; i += 32) {
		sweep_v8 a = *(const sweep_v8 *)(f + i);
		sweep_v8 b = *(const sweep_v8 *)(f + i + 8);
		sweep_v8 c = *(const sweep_v8 *)(f + i + 16);
		sweep_v8 d = *(const sweep_v8 *)(f + i + 24);
		sweep_v8 t = (a + b) + (c + d);

		s += t[0] + t[4];
	}
	return s;
}

/* y[n] = W[n][k] . x[k] */
static void matvec(float *y, const float *x, const float *w, int n, int k)
{
	int i;

#pragma omp parallel for
	for (i = 0; i < n; i++) {
		const float *row = w + (size_t)i * k;
		float s = 0.0f;
		int j;

		for (j = 0; j < k; j++)
			s += row[j] * x[j];
		y[i] = s;
	}
}

static void rmsnorm(float *y, const float *x, const float *w, int n)
{
	float ss = 0.0f;
	int i;

	for (i = 0; i < n; i++)
		ss += x[i] * x[i];
	ss = 1.0f / sqrtf(ss / n + 1e-5f);
	for (i = 0; i < n; i++)
		y[i] = w[i] * (ss * x[i]);
}

static void softmax(float *x, int n)
{
	float max = x[0], sum = 0.0f;
	int i;

	for (i = 1; i < n; i++)
		if (x[i] > max)
			max = x[i];
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	for (i = 0; i < n; i++)
		x[i] /= sum;
}

/* turn pairs (2i, 2i + 1) of every head of @x (@heads heads) by @pos */
static void rope(float *x, int heads, int head_dim, int pos)
{
	int h, i;

	for (h = 0; h < heads; h++) {
		for (i = 0; i < head_dim; i += 2) {
			float f = powf(10000.0f, -(float)i / head_dim);
			float a = pos * f, c = cosf(a), s = sinf(a);
			float *v = x + h * head_dim + i, v0 = v[0], v1 = v[1];

			v[0] = v0 * c - v1 * s;
			v[1] = v0 * s + v1 * c;
		}
	}
}

int plain_init(struct plain *p, const void *file, size_t len)
{
	const int32_t *h = file;
	const float *w;
	size_t need, kv, per;
	int shared;

	memset(p, 0, sizeof(*p));
	if (len < 28)
		return -EINVAL;
	p->dim = h[0];
	p->hidden = h[1];
	p->layers = h[2];
	p->heads = h[3];
	p->kv_heads = h[4];
	shared = h[5] > 0;
	p->vocab = abs(h[5]);
	p->seq = h[6];
	if (p->dim <= 0 || p->hidden <= 0 || p->layers <= 0 ||
	    p->heads <= 0 || p->kv_heads <= 0 || p->seq <= 0 ||
	    p->dim % p->heads || p->heads % p->kv_heads)
		return -EINVAL;
	p->head_dim = p->dim / p->heads;
	kv = (size_t)p->kv_heads * p->head_dim;
	per = (size_t)p->dim * 2 + (size_t)p->dim * p->dim * 2 +
	      kv * p->dim * 2 + (size_t)p->hidden * p->dim * 3;
	need = 28 + 4 * ((size_t)p->vocab * p->dim * (shared ? 1 : 2) +
			 per * p->layers + p->dim +
			 (size_t)p->seq * p->head_dim);
	if (len != need)
		return -EINVAL;
	w = (const float *)((const char *)file + 28);
#define TAKE(t, n) (p->t = w, w += (n))
	TAKE(emb, (size_t)p->vocab * p->dim);
	TAKE(rms_att, (size_t)p->layers * p->dim);
	TAKE(wq, (size_t)p->layers * p->dim * p->dim);
	TAKE(wk, (size_t)p->layers * kv * p->dim);
	TAKE(wv, (size_t)p->layers * kv * p->dim);
	TAKE(wo, (size_t)p->layers * p->dim * p->dim);
	TAKE(rms_ffn, (size_t)p->layers * p->dim);
	TAKE(w1, (size_t)p->layers * p->hidden * p->dim);
	TAKE(w2, (size_t)p->layers * p->dim * p->hidden);
	TAKE(w3, (size_t)p->layers * p->hidden * p->dim);
	TAKE(rms_final, (size_t)p->dim);
#undef TAKE
	w += (size_t)p->seq * p->head_dim;	/* legacy freq_cis, unused */
	p->wcls = shared ? p->emb : w;
	p->x = calloc(p->dim, 4);
	p->xb = calloc(p->dim, 4);
	p->xb2 = calloc(p->dim, 4);
	p->q = calloc(p->dim, 4);
	p->hb = calloc(p->hidden, 4);
	p->hb2 = calloc(p->hidden, 4);
	p->att = calloc((size_t)p->heads * p->seq, 4);
	p->logits = calloc(p->vocab, 4);
	p->k_cache = calloc((size_t)p->layers * p->seq * kv, 4);
	p->v_cache = calloc((size_t)p->layers * p->seq * kv, 4);
	if (!p->x || !p->xb || !p->xb2 || !p->q || !p->hb || !p->hb2 ||
	    !p->att || !p->logits || !p->k_cache || !p->v_cache) {
		plain_free(p);
		return -ENOMEM;
	}
	return 0;
}

void plain_free(struct plain *p)
{
	free(p->x);
	free(p->xb);
	free(p->xb2);
	free(p->q);
	free(p->hb);
	free(p->hb2);
	free(p->att);
	free(p->logits);
	free(p->k_cache);
	free(p->v_cache);
	memset(p, 0, sizeof(*p));
}

/* attention of head @h at @pos over layer cache @kc, @vc into xb2 */
static void attend(struct plain *p, int h, int pos, const float *kc,
		   const float *vc)
{
	int kv = p->kv_heads * p->head_dim, hd = p->head_dim;
	int g = h / (p->heads / p->kv_heads), t, i;
	const float *q = p->q + h * hd;
	float *att = p->att + h * p->seq, *out = p->xb2 + h * hd;

	for (t = 0; t <= pos; t++) {
		const float *k = kc + (size_t)t * kv + g * hd;
		float s = 0.0f;

		for (i = 0; i < hd; i++)
			s += q[i] * k[i];
		att[t] = s / sqrtf((float)hd);
	}
	softmax(att, pos + 1);
	memset(out, 0, hd * sizeof(float));
	for (t = 0; t <= pos; t++) {
		const float *v = vc + (size_t)t * kv + g * hd;

		for (i = 0; i < hd; i++)
			out[i] += att[t] * v[i];
	}
}

float *plain_forward(struct plain *p, int tok, int pos)
{
	int d = p->dim, hid = p->hidden, kv = p->kv_heads * p->head_dim;
	int l, i, h;

	memcpy(p->x, p->emb + (size_t)tok * d, d * sizeof(float));
	for (l = 0; l < p->layers; l++) {
		float *kc = p->k_cache + (size_t)l * p->seq * kv;
		float *vc = p->v_cache + (size_t)l * p->seq * kv;

		rmsnorm(p->xb, p->x, p->rms_att + (size_t)l * d, d);
		matvec(p->q, p->xb, p->wq + (size_t)l * d * d, d, d);
		matvec(kc + (size_t)pos * kv, p->xb,
		       p->wk + (size_t)l * kv * d, kv, d);
		matvec(vc + (size_t)pos * kv, p->xb,
		       p->wv + (size_t)l * kv * d, kv, d);
		rope(p->q, p->heads, p->head_dim, pos);
		rope(kc + (size_t)pos * kv, p->kv_heads, p->head_dim, pos);
#pragma omp parallel for
		for (h = 0; h < p->heads; h++)
			attend(p, h, pos, kc, vc);
		matvec(p->xb, p->xb2, p->wo + (size_t)l * d * d, d, d);
		for (i = 0; i < d; i++)
			p->x[i] += p->xb[i];
		rmsnorm(p->xb, p->x, p->rms_ffn + (size_t)l * d, d);
		matvec(p->hb, p->xb, p->w1 + (size_t)l * hid * d, hid, d);
		matvec(p->hb2, p->xb, p->w3 + (size_t)l * hid * d, hid, d);
		for (i = 0; i < hid; i++) {
			float v = p->hb[i];

			p->hb[i] = v / (1.0f + expf(-v)) * p->hb2[i];
		}
		matvec(p->xb, p->hb, p->w2 + (size_t)l * d * hid, d, hid);
		for (i = 0; i < d; i++)
			p->x[i] += p->xb[i];
	}
	rmsnorm(p->x, p->x, p->rms_final, d);
	matvec(p->logits, p->x, p->wcls, p->vocab, d);
	return p->logits;
}
