/* SPDX-License-Identifier: MIT */
/*
 * Direct calls of the kernels' CPU twins from the model computations
 * (llama.c, mlp.c, sample.c): typed argument builders and one helper that
 * runs a twin over a one-block grid. The argument lists are exactly the
 * kernels' signatures in kernels/kernels.h, so each call is the launch a
 * chain on the lease will make later.
 *
 * Invariant: every buffer is passed with the byte length of the region it
 * lies in, so the twin's own checks (gl_cpu_need) keep a computation
 * inside its plan's regions.
 */
#ifndef GL_MODEL_KCALL_H
#define GL_MODEL_KCALL_H

#include <stdatomic.h>
#include <stdint.h>

#include "kernels/kernels.h"

static inline void kc_u32(struct gl_kargs *a, uint32_t v)
{
	a->v[a->count].type = GL_KT_U32;
	a->v[a->count++].u32 = v;
}

static inline void kc_u64(struct gl_kargs *a, uint64_t v)
{
	a->v[a->count].type = GL_KT_U64;
	a->v[a->count++].u64 = v;
}

static inline void kc_f32(struct gl_kargs *a, float v)
{
	a->v[a->count].type = GL_KT_F32;
	a->v[a->count++].f32 = v;
}

static inline void kc_buf(struct gl_kargs *a, void *p, uint64_t len)
{
	a->v[a->count].type = GL_KT_BUF;
	a->v[a->count].buf.ptr = p;
	a->v[a->count++].buf.len = len;
}

/*
 * kc_run - run twin @fn over grid 1 x @block (the block size fixes the
 * reduction order of row kernels; pass the kernel's default). Returns
 * what the twin returns: 0, -EINVAL, -EFAULT or the cancel errno.
 */
static inline int kc_run(gl_kcpu_fn fn, const struct gl_kargs *a,
			 uint32_t block, atomic_int *cancel)
{
	struct gl_grid g = { { 1, 1, 1 }, { block, 1, 1 } };
	struct gl_kctx ctx = { cancel, 0, 1 };

	return fn(a, &g, &ctx);
}

/* kc_gemm_row - c[n] = B[n][k] . a[k]: one matmul launch with m = 1. */
static inline int kc_gemm_row(uint32_t n, uint32_t k, const float *a,
			      const float *b, float *c, atomic_int *cancel)
{
	struct gl_kargs x = { 0 };

	kc_u32(&x, 1);
	kc_u32(&x, n);
	kc_u32(&x, k);
	kc_u32(&x, 0);		/* trans_a */
	kc_u32(&x, 1);		/* trans_b: B is [n][k] */
	kc_u32(&x, 1);		/* batch */
	kc_u32(&x, 0);		/* packed lda, ldb, ldc */
	kc_u32(&x, 0);
	kc_u32(&x, 0);
	kc_u64(&x, 0);
	kc_u64(&x, 0);
	kc_u64(&x, 0);
	kc_f32(&x, 1.0f);
	kc_f32(&x, 0.0f);
	kc_buf(&x, (void *)a, (uint64_t)k * 4);
	kc_buf(&x, (void *)b, (uint64_t)n * k * 4);
	kc_buf(&x, c, (uint64_t)n * 4);
	return kc_run(gl_matmul_cpu, &x, GL_MATMUL_TILE * GL_MATMUL_TILE,
		      cancel);
}

/*
 * kc_gemm_nt - C[m][n] = A[m][k] . B[n][k]^T (row-major activations
 * times a PyTorch [out, in] weight), packed, beta 0: the matmul kernel,
 * one launch per row of C. OpenBLAS picks its kernels by m, and a row
 * computed with m = 1 and with m = 7 differs in the last bits
 * (model_mlp saw it), so one row per launch is what makes a row's
 * result independent of its batch (issue 11), at the price of reading
 * the weights once per row on the CPU.
 */
static inline int kc_gemm_nt(uint32_t m, uint32_t n, uint32_t k,
			     const float *a, const float *b, float *c,
			     atomic_int *cancel)
{
	uint32_t r;
	int err;

	for (r = 0; r < m; r++) {
		err = kc_gemm_row(n, k, a + (uint64_t)r * k, b,
				  c + (uint64_t)r * n, cancel);
		if (err)
			return err;
	}
	return 0;
}

#endif
