/* SPDX-License-Identifier: MIT */
/*
 * matmul on CUDA: the tiled fallback for when cuBLAS cannot be loaded.
 * Semantics (row-major, strided batches, transposes, leading dims, 0 =
 * packed, beta == 0 does not read C): kernels/matmul.c.
 *
 * Invariant: block.x == GL_MATMUL_TILE^2 (checked on the host); block
 * i of the grid-stride walk computes one 16x16 tile of one batch's C,
 * tiles numbered batch-major then row-major; every thread of a block
 * walks the same tiles, so its barriers never diverge.
 */
#include "kernels/cuda.cuh"

#define T GL_MATMUL_TILE

static __device__ unsigned long long matmul_ld(unsigned int ld,
					       unsigned int cols)
{
	if (ld)
		return ld;
	return cols ? cols : 1;
}

GL_GLOBAL void matmul(unsigned int m, unsigned int n, unsigned int k,
		      unsigned int trans_a, unsigned int trans_b,
		      unsigned int batch, unsigned int lda, unsigned int ldb,
		      unsigned int ldc, unsigned long long stride_a,
		      unsigned long long stride_b,
		      unsigned long long stride_c, float alpha, float beta,
		      const float *a, const float *b, float *c)
{
	__shared__ float as[T][T + 1], bs[T][T + 1];
	unsigned int tx = threadIdx.x % T, ty = threadIdx.x / T;
	unsigned long long la = matmul_ld(lda, trans_a ? m : k);
	unsigned long long lb = matmul_ld(ldb, trans_b ? k : n);
	unsigned long long lc = matmul_ld(ldc, n);
	unsigned long long tiles_m = (m + T - 1) / T, tiles_n = (n + T - 1) / T;
	unsigned long long per_batch = tiles_m * tiles_n;

	GL_ROW_STRIDE(tile, per_batch * batch) {
		unsigned long long bi = tile / per_batch;
		unsigned long long rem = tile % per_batch;
		unsigned long long row = rem / tiles_n * T + ty;
		unsigned long long col = rem % tiles_n * T + tx;
		const float *ab = a + bi * stride_a, *bb = b + bi * stride_b;
		float *cb = c + bi * stride_c;
		float acc = 0.0f;

		for (unsigned long long kk = 0; kk < k; kk += T) {
			unsigned long long ak = kk + tx, bk = kk + ty;

			as[ty][tx] = row < m && ak < k ?
				(trans_a ? ab[ak * la + row] :
					   ab[row * la + ak]) : 0.0f;
			bs[ty][tx] = bk < k && col < n ?
				(trans_b ? bb[col * lb + bk] :
					   bb[bk * lb + col]) : 0.0f;
			__syncthreads();
			for (unsigned int t = 0; t < T; t++)
				acc += as[ty][t] * bs[t][tx];
			__syncthreads();
		}
		if (row < m && col < n) {
			float *cp = cb + row * lc + col;

			*cp = beta == 0.0f ? alpha * acc :
					     alpha * acc + beta * *cp;
		}
	}
}

#undef T
