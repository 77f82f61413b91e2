/* SPDX-License-Identifier: MIT */
/*
 * The fake cuBLAS: the entry points record their arguments and compute
 * the column-major GEMM on the host. See fakecuda.c.
 *
 * The workspace, as NVIDIA documents it: cublasSetStream resets a
 * handle's workspace to cuBLAS's default pool; a GEMM that runs on the
 * default pool takes device memory for the pool of its stream the first
 * time (FAKECUDA_BLAS_POOL bytes, counted in st.blas_ws_allocs and
 * st.blas_ws_bytes, and missing from cuMemGetInfo and cuMemCreate from
 * then on) until cublasDestroy: memory taken behind the daemon's
 * accounting. cublasSetWorkspace (256-byte aligned, or NULL with 0
 * bytes) makes the GEMMs after it use only that buffer; one smaller
 * than st.blas_ws_min fails them with CUBLAS_STATUS_ALLOC_FAILED, as a
 * real cuBLAS may for a shape that needs a workspace.
 *
 * Invariant: st.blas_handles counts live handles; st.gemm is the last
 * call's arguments; st.blas_ws_bytes is FAKECUDA_BLAS_POOL times the
 * streams with a default pool while a handle lives, 0 after.
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
/* the handles' workspace state (one, as the tests use one handle at a
 * time); under lock */
static bool ws_user;		/* cublasSetWorkspace since SetStream */
static const void *pool_of[64];	/* streams given a default pool */
static unsigned int nr_pools;

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
	pthread_mutex_lock(&lock);
	nr_pools = 0;			/* the default pools go with it */
	st.blas_ws_bytes = 0;
	ws_user = false;
	pthread_mutex_unlock(&lock);
	st.blas_handles--;
	return 0;
}

/* Binds @s and, as the real one does, resets the workspace to the
 * default pool. */
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s)
{
	pthread_mutex_lock(&lock);
	st.gemm.stream = s;
	ws_user = false;
	pthread_mutex_unlock(&lock);
	return 0;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws,
				     size_t bytes)
{
	if ((uintptr_t)ws % 256 || (!ws && bytes))
		return 7;	/* CUBLAS_STATUS_INVALID_VALUE */
	pthread_mutex_lock(&lock);
	st.gemm.workspace = ws;
	st.gemm.workspace_bytes = bytes;
	ws_user = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The workspace a GEMM on the bound stream runs with: the user's, or the
 * stream's default pool, allocated behind the accounting on first use.
 * 0, or CUBLAS_STATUS_ALLOC_FAILED (3). */
static cublasStatus_t gemm_workspace(void)
{
	cublasStatus_t rc = 0;
	unsigned int i;

	pthread_mutex_lock(&lock);
	if (ws_user) {
		if (st.gemm.workspace_bytes < st.blas_ws_min)
			rc = 3;
		goto out;
	}
	for (i = 0; i < nr_pools; i++)
		if (pool_of[i] == st.gemm.stream)
			goto out;
	if (st.handle_bytes + st.blas_ws_bytes + FAKECUDA_BLAS_POOL >
	    st.total) {
		rc = 3;
		goto out;
	}
	if (nr_pools < sizeof(pool_of) / sizeof(pool_of[0]))
		pool_of[nr_pools++] = st.gemm.stream;
	st.blas_ws_allocs++;
	st.blas_ws_bytes += FAKECUDA_BLAS_POOL;
out:
	pthread_mutex_unlock(&lock);
	return rc;
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
	cublasStatus_t rc;

	if (need_ctx())
		return 1;
	rc = gemm_workspace();
	if (rc)
		return rc;
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
