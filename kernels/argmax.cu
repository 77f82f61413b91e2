/* SPDX-License-Identifier: MIT */
/*
 * argmax on CUDA: the column of each row's largest value. Twin:
 * kernels/argmax.c.
 *
 * Invariant: NaN never wins, ties go to the lowest column, no candidate
 * gives 0; the combine is a total order, so the answer equals the
 * twin's exactly.
 */
#include "kernels/cuda.cuh"

#define ARGMAX_NONE 0xffffffffu

static __device__ bool argmax_beats(float v, unsigned int i, float bv,
				    unsigned int bi)
{
	if (isnan(v) || i == ARGMAX_NONE)
		return false;
	return v > bv || (v == bv && i < bi);
}

GL_GLOBAL void argmax(unsigned int rows, unsigned int cols, const float *x,
		      unsigned int *out)
{
	__shared__ float val[GL_BLOCK_THREADS_MAX];
	__shared__ unsigned int idx[GL_BLOCK_THREADS_MAX];
	unsigned int t = threadIdx.x;

	GL_ROW_STRIDE(r, rows) {
		const float *xr = x + r * cols;
		float bv = -INFINITY;
		unsigned int bi = ARGMAX_NONE, n, half;

		/* c < cols <= UINT32_MAX: it fits the u32 answer */
		GL_COL_STRIDE(c, cols) {
			if (argmax_beats(xr[c], (unsigned int)c, bv, bi)) {
				bv = xr[c];
				bi = (unsigned int)c;
			}
		}
		val[t] = bv;
		idx[t] = bi;
		__syncthreads();
		for (n = blockDim.x; n > 1; n = half) {
			half = (n + 1) / 2;
			if (t < n - half &&
			    argmax_beats(val[t + half], idx[t + half], val[t],
					 idx[t])) {
				val[t] = val[t + half];
				idx[t] = idx[t + half];
			}
			__syncthreads();
		}
		if (t == 0)
			out[r] = idx[0] == ARGMAX_NONE ? 0 : idx[0];
		__syncthreads();
	}
}
