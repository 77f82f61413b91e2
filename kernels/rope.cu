/* SPDX-License-Identifier: MIT */
/*
 * rope and rope_half on CUDA: rotary position embedding, in place,
 * interleaved pairs (llama2.c) and halves (Hugging Face's rotate_half).
 * Twins: kernels/rope.c.
 *
 * Invariant: one thread per pair, same f32 angle expression as the twin.
 */
#include "kernels/cuda.cuh"

/* rope_turn - turn (*x0, *x1), pair p of token s, as kernels/rope.c */
static __device__ void rope_turn(unsigned long long p, unsigned long long s,
				 unsigned long long half, unsigned int pos0,
				 float theta, float *x0, float *x1)
{
	float freq = powf(theta, -(float)(2 * p) / (float)(2 * half));
	float angle = (float)(pos0 + s) * freq;
	float c = cosf(angle), sn = sinf(angle);
	float a = *x0, b = *x1;

	*x0 = a * c - b * sn;
	*x1 = a * sn + b * c;
}

GL_GLOBAL void rope(unsigned int seq, unsigned int n_heads,
		    unsigned int head_dim, unsigned int pos0, float theta,
		    float *x)
{
	unsigned long long half = head_dim / 2;

	GL_GRID_STRIDE(i, (unsigned long long)seq * n_heads * half) {
		unsigned long long p = i % half, s = i / half / n_heads;
		float freq = powf(theta, -(float)(2 * p) / (float)(2 * half));
		float angle = (float)(pos0 + s) * freq;
		float c = cosf(angle), sn = sinf(angle);
		float *v = x + 2 * i;
		float x0 = v[0], x1 = v[1];

		v[0] = x0 * c - x1 * sn;
		v[1] = x0 * sn + x1 * c;
	}
}

GL_GLOBAL void rope_half(unsigned int seq, unsigned int n_heads,
			 unsigned int head_dim, unsigned int pos0, float theta,
			 float *x)
{
	unsigned long long half = head_dim / 2;

	GL_GRID_STRIDE(i, (unsigned long long)seq * n_heads * half) {
		unsigned long long p = i % half, s = i / half / n_heads;
		float *v = x + (i / half) * 2 * half + p;

		rope_turn(p, s, half, pos0, theta, &v[0], &v[half]);
	}
}
