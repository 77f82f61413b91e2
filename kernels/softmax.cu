/* SPDX-License-Identifier: MIT */
/*
 * softmax on CUDA: row-wise, numerically stable. Twin: kernels/softmax.c.
 *
 * Invariant: one block per row (grid-stride over rows); every thread of
 * the block runs the same rows, so the reductions' barriers never
 * diverge. In place (y == x) is safe: a thread rewrites only the
 * columns it alone reads.
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void softmax(unsigned int rows, unsigned int cols, const float *x,
		       float *y)
{
	GL_ROW_STRIDE(r, rows) {
		const float *xr = x + r * cols;
		float *yr = y + r * cols;
		float m = -INFINITY, sum = 0.0f;

		GL_COL_STRIDE(c, cols)
			m = fmaxf(m, xr[c]);
		m = gl_block_max(m);
		GL_COL_STRIDE(c, cols)
			sum += expf(xr[c] - m);
		sum = gl_block_sum(sum);
		GL_COL_STRIDE(c, cols)
			yr[c] = m == -INFINITY ? 0.0f : expf(xr[c] - m) / sum;
	}
}
