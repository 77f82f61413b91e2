/* SPDX-License-Identifier: MIT */
/*
 * Row normalisations on CUDA: layernorm and rmsnorm. Twins:
 * kernels/norm.c.
 *
 * Invariant: one block per row (grid-stride over rows), every thread
 * runs the same rows, so the reductions' barriers never diverge; a
 * thread rewrites only the columns it alone reads (in place is safe).
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void layernorm(unsigned int rows, unsigned int cols, float eps,
			 const float *x, const float *gamma, const float *beta,
			 float *y)
{
	GL_ROW_STRIDE(r, rows) {
		const float *xr = x + r * cols;
		float *yr = y + r * cols;
		float mean = 0.0f, var = 0.0f, d, inv;

		GL_COL_STRIDE(c, cols)
			mean += xr[c];
		mean = gl_block_sum(mean) / (float)cols;
		GL_COL_STRIDE(c, cols) {
			d = xr[c] - mean;
			var += d * d;
		}
		var = gl_block_sum(var) / (float)cols;
		inv = 1.0f / sqrtf(var + eps);
		GL_COL_STRIDE(c, cols)
			yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
	}
}

GL_GLOBAL void rmsnorm(unsigned int rows, unsigned int cols, float eps,
		       const float *x, const float *w, float *y)
{
	GL_ROW_STRIDE(r, rows) {
		const float *xr = x + r * cols;
		float *yr = y + r * cols;
		float ms = 0.0f, inv;

		GL_COL_STRIDE(c, cols)
			ms += xr[c] * xr[c];
		ms = gl_block_sum(ms) / (float)cols;
		inv = 1.0f / sqrtf(ms + eps);
		GL_COL_STRIDE(c, cols)
			yr[c] = xr[c] * inv * w[c];
	}
}
