/* SPDX-License-Identifier: MIT */
/*
 * rope on CUDA: rotary position embedding, in place, interleaved pairs.
 * Twin: kernels/rope.c.
 *
 * Invariant: one thread per pair, same f32 angle expression as the twin.
 */
#include "kernels/cuda.cuh"

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
