/* SPDX-License-Identifier: MIT */
/*
 * plain: the generate bench's baseline, a plain C f32 Llama forward pass
 * over a legacy llama2.c checkpoint in memory, written in the style of
 * llama2.c's run.c (loops, an OpenMP parallel-for over the rows of each
 * matrix-vector product, built -Ofast -march=native -fopenmp) but not
 * run.c: written here from the equations in Documentation/models.md.
 */
#ifndef GL_BENCH_PLAIN_H
#define GL_BENCH_PLAIN_H

#include <stddef.h>

struct plain {
	int dim, hidden, layers, heads, kv_heads, vocab, seq, head_dim;
	const float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn;
	const float *w1, *w2, *w3, *rms_final, *wcls;
	float *x, *xb, *xb2, *hb, *hb2, *q, *att, *logits;
	float *k_cache, *v_cache;	/* [layers][seq][kv_dim] */
};

/*
 * plain_init - point @p at the legacy llama2.c checkpoint of @len bytes
 * at @file (kept by the caller) and allocate its activations and cache.
 * Returns 0, -EINVAL for a header or size it cannot use, -ENOMEM.
 */
int plain_init(struct plain *p, const void *file, size_t len);

/* plain_forward - token @tok at position @pos; the vocab logits. */
float *plain_forward(struct plain *p, int tok, int pos);

/*
 * plain_sweep - read every float of the @len bytes at @buf once, split
 * over the forward pass's OpenMP threads as its products are: what a
 * step that only read its weights from memory would cost. The sum, so
 * the reads stay.
 */
float plain_sweep(const void *buf, size_t len);

/* plain_threads - the OpenMP threads the forward pass uses. */
int plain_threads(void);

void plain_free(struct plain *p);

#endif
