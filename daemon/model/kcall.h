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

#include "daemon/dev/dev.h"
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

/*
 * kc_dev_run - kernel @id with @a: its CPU twin over grid 1 x @block when
 * @d is NULL (the model's memory is the host's), else a launch on device
 * @d (its memory: @a's buffers are @d's addresses) over enough blocks of
 * @block for @work blocks' worth, at most 65535, with
 * GL_KARGS_ROWS_ALONE set, so a row's bits never depend on its batch,
 * and GL_KARGS_NO_WAIT: it is only queued, behind the launches before
 * it, and kc_dev_wait() waits for them all. Returns 0, -EINVAL, -EFAULT,
 * -EIO or the cancel errno.
 */
static inline int kc_dev_run(struct dev *d, enum gl_kernel_id id,
			     struct gl_kargs *a, uint32_t block,
			     uint64_t work, atomic_int *cancel)
{
	const struct gl_kernel *k = gl_kernel_get(id);
	struct gl_grid g = { { 1, 1, 1 }, { block, 1, 1 } };

	if (!d)
		return kc_run(k->cpu, a, block, cancel);
	g.grid.x = work < 1 ? 1 : work > 65535 ? 65535 : (uint32_t)work;
	a->flags |= GL_KARGS_ROWS_ALONE | GL_KARGS_NO_WAIT;
	return d->ops->launch(d, k, a, &g, cancel);
}

/*
 * kc_dev_wait - the end of every launch kc_dev_run() queued on @r of
 * device @d (none when @d is NULL): one wait for a step's launches
 * instead of one each. 0, -EIO or the cancel errno.
 */
static inline int kc_dev_wait(struct dev *d, struct dev_region *r,
			      atomic_int *cancel)
{
	return d && d->ops->wait ? d->ops->wait(r, cancel) : 0;
}

/*
 * kc_gemm_nt_ldc - C[m][n] = A[m][k] . B[n][k]^T (row-major activations
 * times a PyTorch [out, in] weight), A and B packed, C rows @ldc floats
 * apart (a block of columns of a wider C), beta 0: one matmul launch.
 * The kernel computes each element of such a product in an order fixed
 * by k alone and reads each row of B once for all m rows
 * (kernels/matmul.c), so a row's bits do not depend on m, on its place
 * in the batch, or on which columns a launch covers (issue 11).
 */
static inline void kc_gemm_nt_args(struct gl_kargs *x, uint32_t m,
				   uint32_t n, uint32_t k, const float *a,
				   const float *b, float *c, uint32_t ldc)
{
	kc_u32(x, m);
	kc_u32(x, n);
	kc_u32(x, k);
	kc_u32(x, 0);		/* trans_a */
	kc_u32(x, 1);		/* trans_b: B is [n][k] */
	kc_u32(x, 1);		/* batch */
	kc_u32(x, 0);		/* packed lda, ldb */
	kc_u32(x, 0);
	kc_u32(x, ldc);
	kc_u64(x, 0);
	kc_u64(x, 0);
	kc_u64(x, 0);
	kc_f32(x, 1.0f);
	kc_f32(x, 0.0f);
	kc_buf(x, (void *)a, (uint64_t)m * k * 4);
	kc_buf(x, (void *)b, (uint64_t)n * k * 4);
	kc_buf(x, c, m ? ((uint64_t)(m - 1) * ldc + n) * 4 : 0);
}

/*
 * kc_dev_gemm_nt - kc_gemm_nt_ldc's product through kc_dev_run(): the
 * matmul twin on the host (@d NULL), else one launch on @d over a block
 * per GL_MATMUL_TILE square tile of C.
 */
static inline int kc_dev_gemm_nt(struct dev *d, uint32_t m, uint32_t n,
				 uint32_t k, const float *a, const float *b,
				 float *c, uint32_t ldc, atomic_int *cancel)
{
	uint64_t t = GL_MATMUL_TILE;
	struct gl_kargs x = { 0 };

	kc_gemm_nt_args(&x, m, n, k, a, b, c, ldc);
	return kc_dev_run(d, GL_K_matmul, &x, (uint32_t)(t * t),
			  (m + t - 1) / t * ((n + t - 1) / t), cancel);
}

static inline int kc_gemm_nt_ldc(uint32_t m, uint32_t n, uint32_t k,
				 const float *a, const float *b, float *c,
				 uint32_t ldc, atomic_int *cancel)
{
	return kc_dev_gemm_nt(NULL, m, n, k, a, b, c, ldc, cancel);
}

/* kc_gemm_nt - kc_gemm_nt_ldc with C packed */
static inline int kc_gemm_nt(uint32_t m, uint32_t n, uint32_t k,
			     const float *a, const float *b, float *c,
			     atomic_int *cancel)
{
	return kc_gemm_nt_ldc(m, n, k, a, b, c, n, cancel);
}

/* kc_gemm_row - c[n] = B[n][k] . a[k]: kc_gemm_nt with m = 1 */
static inline int kc_gemm_row(uint32_t n, uint32_t k, const float *a,
			      const float *b, float *c, atomic_int *cancel)
{
	return kc_gemm_nt(1, n, k, a, b, c, cancel);
}

#endif
