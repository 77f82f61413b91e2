/* SPDX-License-Identifier: MIT */
/*
 * The fake cuBLAS: the entry points record their arguments and compute
 * the column-major GEMM on the host. See fakecuda.c.
 *
 * Invariant: st.blas_handles counts live handles; st.gemm is the last
 * call's arguments.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "selftests/fakecuda/fakecuda-int.h"

static int blas_token;

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
	if (need_ctx())
		return 1;	/* CUBLAS_STATUS_NOT_INITIALIZED */
	*h = (cublasHandle_t)&blas_token;
	st.blas_handles++;
	return 0;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
	st.blas_handles--;
	return 0;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s)
{
	st.gemm.stream = s;
	return 0;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws,
				     size_t bytes)
{
	st.gemm.workspace = ws;
	st.gemm.workspace_bytes = bytes;
	return 0;
}

/* Column-major, as cuBLAS: C = alpha op(A) op(B) + beta C per batch. */
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, int transa,
		int transb, int m, int n, int k, const float *alpha,
		const float *a, int lda, long long stride_a, const float *b,
		int ldb, long long stride_b, const float *beta, float *c,
		int ldc, long long stride_c, int batch)
{
	struct fakecuda_gemm *g = &st.gemm;
	long long bi, i, j, l;

	if (need_ctx())
		return 1;
	g->transa = transa, g->transb = transb;
	g->m = m, g->n = n, g->k = k;
	g->lda = lda, g->ldb = ldb, g->ldc = ldc, g->batch = batch;
	g->stride_a = stride_a, g->stride_b = stride_b;
	g->stride_c = stride_c;
	g->alpha = *alpha, g->beta = *beta;
	g->a = a, g->b = b, g->c = c;
	st.sgemms++;
	for (bi = 0; bi < batch; bi++) {
		const float *ab = a + bi * stride_a, *bb = b + bi * stride_b;
		float *cb = c + bi * stride_c;

		for (j = 0; j < n; j++)
			for (i = 0; i < m; i++) {
				float acc = 0.0f;

				for (l = 0; l < k; l++)
					acc += (transa ? ab[l + i * lda] :
							 ab[i + l * lda]) *
					       (transb ? bb[j + l * ldb] :
							 bb[l + j * ldb]);
				cb[i + j * ldc] = *beta == 0.0f ?
					*alpha * acc :
					*alpha * acc + *beta * cb[i + j * ldc];
			}
	}
	return 0;
}
