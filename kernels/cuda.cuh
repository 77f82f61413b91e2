/* SPDX-License-Identifier: MIT */
/*
 * CUDA kernel helpers: the grid-stride loops and the block reductions
 * the kernels (kernels/NAME.cu) share. Private to the fatbin.
 *
 * Invariant: every helper works for any block.x in 1..1024 (not only
 * powers of two or multiples of 32), and every thread of the block
 * calls a reduction, so __syncthreads() is never divergent.
 */
#ifndef GL_KERNELS_CUDA_CUH
#define GL_KERNELS_CUDA_CUH

#include "kernels/kernels.h"

#define GL_GLOBAL extern "C" __global__

/*
 * GL_GRID_STRIDE(i, n) - for every i < n this thread owns: i starts at
 * blockIdx.x * blockDim.x + threadIdx.x, steps by gridDim.x * blockDim.x.
 * 64-bit, so grids over 2^32 threads are exact. gl_cpu_1d() twins it.
 */
#define GL_GRID_STRIDE(i, n)						\
	for (unsigned long long i = (unsigned long long)blockIdx.x *	\
			blockDim.x + threadIdx.x;			\
	     i < (unsigned long long)(n);				\
	     i += (unsigned long long)gridDim.x * blockDim.x)

/* GL_ROW_STRIDE(r, rows) - rows of this block: blockIdx.x, + gridDim.x. */
#define GL_ROW_STRIDE(r, rows)						\
	for (unsigned long long r = blockIdx.x;				\
	     r < (unsigned long long)(rows); r += gridDim.x)

/*
 * GL_COL_STRIDE(c, cols) - this thread's columns of a row: threadIdx.x,
 * + blockDim.x. 64-bit: a 32-bit index wraps to a small value and loops
 * for ever when cols > 2^32 - blockDim.x. Every loop that steps by a
 * block or grid dimension goes through one of these macros
 * (selftests/sh/kernels-lint.sh checks).
 */
#define GL_COL_STRIDE(c, cols)						\
	for (unsigned long long c = threadIdx.x;			\
	     c < (unsigned long long)(cols); c += blockDim.x)

/*
 * gl_block_sum - the sum of @v over the block, returned to every thread.
 * Pairwise tree in shared memory over the thread index.
 */
static __device__ float gl_block_sum(float v)
{
	__shared__ float part[GL_BLOCK_THREADS_MAX];
	unsigned int t = threadIdx.x, n = blockDim.x, half;
	float r;

	part[t] = v;
	__syncthreads();
	while (n > 1) {
		half = (n + 1) / 2;
		if (t < n - half)
			part[t] += part[t + half];
		__syncthreads();
		n = half;
	}
	r = part[0];
	__syncthreads();
	return r;
}

/* gl_block_max - the maximum of @v over the block, to every thread. */
static __device__ float gl_block_max(float v)
{
	__shared__ float part[GL_BLOCK_THREADS_MAX];
	unsigned int t = threadIdx.x, n = blockDim.x, half;
	float r;

	part[t] = v;
	__syncthreads();
	while (n > 1) {
		half = (n + 1) / 2;
		if (t < n - half)
			part[t] = fmaxf(part[t], part[t + half]);
		__syncthreads();
		n = half;
	}
	r = part[0];
	__syncthreads();
	return r;
}

#endif /* GL_KERNELS_CUDA_CUH */
