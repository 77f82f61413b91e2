/* SPDX-License-Identifier: MIT */
/*
 * matmul: strided-batched single-precision GEMM, row-major, with
 * transpose flags and leading dimensions, as cuBLAS's
 * gemmStridedBatched. The CPU side: rows of A (not trans_a) against a
 * B stored n x k (trans_b: the models' x W^T) are gl_matmul_nt()'s
 * fixed-order dot products (kernels/matmul-nt.c), any number of rows;
 * other products OpenBLAS's cblas_sgemm, or cblas_sgemv for a single
 * row (opened by kernels/blas.c). The CUDA
 * side is cuBLAS, or the tiled fallback in kernels/matmul.cu.
 *
 * For each b < batch, with A_b = a + b * stride_a (elements), likewise
 * B_b and C_b:   C_b = alpha * op(A_b) . op(B_b) + beta * C_b
 * op(A) is m x k: A stored m x k (lda >= k), or k x m when trans_a
 * (lda >= m); op(B) is k x n: B stored k x n (ldb >= n), or n x k when
 * trans_b (ldb >= k); C is m x n (ldc >= n). A leading dimension of 0
 * means packed (the minimum). beta == 0 means C is not read.
 *
 * Invariant: a worker computes only the rows of C (across all batches,
 * R = batch * m rows in total) that its block range maps to: blocks
 * [b0, b1) of G own rows [b0 * R / G, b1 * R / G), so disjoint block
 * ranges write disjoint rows and together write all of them. In a
 * product of rows of A against a trans_b B, each element of C is
 * computed on its own in an order fixed by k (matmul-nt.c): the same
 * bits whatever m, the row's place among them, n, and whichever columns
 * of C one call covers (models split such a product by columns over
 * threads and batch rows of many requests in it: batch invariance,
 * Documentation/models.md). Other products are OpenBLAS's, whose order
 * may change with the shape.
 */
#include <limits.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/cpu.h"
#include "kernels/matmul-nt.h"

/* Rows of C one sgemm call computes between two cancel checks. */
#define MATMUL_CPU_ROWS 256

struct matmul {
	uint64_t m, n, k;
	bool trans_a, trans_b;
	uint64_t batch, lda, ldb, ldc;
	uint64_t stride_a, stride_b, stride_c;
	float alpha, beta;
	const float *a, *b;
	float *c;
	const struct gl_blas *blas;	/* gl_matmul_cpu()'s: OpenBLAS */
};

/* matmul_ld - a leading dimension, 0 standing for the packed one. */
static uint64_t matmul_ld(uint64_t ld, uint64_t cols)
{
	if (ld)
		return ld;
	return cols ? cols : 1;
}

/*
 * matmul_span - elements a batch of @rows x @cols matrices spaced @stride
 * apart with leading dimension @ld reaches; false on overflow.
 */
static bool matmul_span(const struct matmul *mm, uint64_t rows,
			uint64_t cols, uint64_t ld, uint64_t stride,
			uint64_t *span)
{
	uint64_t last, tail;

	if (!mm->batch || !rows || !cols) {
		*span = 0;
		return true;
	}
	if (__builtin_mul_overflow(mm->batch - 1, stride, &last) ||
	    __builtin_mul_overflow(rows - 1, ld, &tail) ||
	    __builtin_add_overflow(last, tail, &last) ||
	    __builtin_add_overflow(last, cols, span))
		return false;
	return true;
}

/* matmul_load - arguments into @mm; -EINVAL for a bad flag or dimension. */
static int matmul_load(const struct gl_kargs *args, struct matmul *mm)
{
	uint32_t ta = GL_ARG_U32(args, 3), tb = GL_ARG_U32(args, 4);
	unsigned int i;

	for (i = 0; i < 9; i++)
		if (GL_ARG_U32(args, i) > INT_MAX)
			return -EINVAL;
	if (ta > 1 || tb > 1)
		return -EINVAL;
	mm->m = GL_ARG_U32(args, 0);
	mm->n = GL_ARG_U32(args, 1);
	mm->k = GL_ARG_U32(args, 2);
	mm->trans_a = ta;
	mm->trans_b = tb;
	mm->batch = GL_ARG_U32(args, 5);
	mm->lda = matmul_ld(GL_ARG_U32(args, 6), ta ? mm->m : mm->k);
	mm->ldb = matmul_ld(GL_ARG_U32(args, 7), tb ? mm->k : mm->n);
	mm->ldc = matmul_ld(GL_ARG_U32(args, 8), mm->n);
	mm->stride_a = GL_ARG_U64(args, 9);
	mm->stride_b = GL_ARG_U64(args, 10);
	mm->stride_c = GL_ARG_U64(args, 11);
	mm->alpha = GL_ARG_F32(args, 12);
	mm->beta = GL_ARG_F32(args, 13);
	mm->a = GL_ARG_PTR(args, 14);
	mm->b = GL_ARG_PTR(args, 15);
	mm->c = GL_ARG_PTR(args, 16);
	if (mm->lda < (ta ? mm->m : mm->k) || mm->ldb < (tb ? mm->k : mm->n) ||
	    mm->ldc < mm->n)
		return -EINVAL;
	if (mm->lda > INT_MAX || mm->ldb > INT_MAX || mm->ldc > INT_MAX)
		return -EINVAL;
	return 0;
}

/*
 * matmul(u32 m, u32 n, u32 k, u32 trans_a, u32 trans_b, u32 batch,
 *	  u32 lda, u32 ldb, u32 ldc, u64 stride_a, u64 stride_b,
 *	  u64 stride_c, f32 alpha, f32 beta, buf a, buf b, buf c)
 * -EINVAL also for block.x != 256 (the CUDA fallback's tile) and for
 * batches of C that overlap.
 */
int gl_matmul_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	struct matmul mm;
	uint64_t span, one_c;
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	if (grid->block.x != GL_MATMUL_TILE * GL_MATMUL_TILE)
		return -EINVAL;
	err = matmul_load(args, &mm);
	if (err)
		return err;
	if (mm.batch > 1 && mm.m && mm.n) {
		one_c = (mm.m - 1) * mm.ldc + mm.n;
		if (mm.stride_c < one_c)
			return -EINVAL;
	}
	if (mm.k) {
		if (!matmul_span(&mm, mm.trans_a ? mm.k : mm.m,
				 mm.trans_a ? mm.m : mm.k, mm.lda, mm.stride_a,
				 &span))
			return -EFAULT;
		if (!mm.n)
			span = 0;
		err = gl_cpu_need_f32(args, 14, span);
		if (err)
			return err;
		if (!matmul_span(&mm, mm.trans_b ? mm.n : mm.k,
				 mm.trans_b ? mm.k : mm.n, mm.ldb, mm.stride_b,
				 &span))
			return -EFAULT;
		if (!mm.m)
			span = 0;
		err = gl_cpu_need_f32(args, 15, span);
		if (err)
			return err;
	}
	if (!matmul_span(&mm, mm.m, mm.n, mm.ldc, mm.stride_c, &span))
		return -EFAULT;
	return gl_cpu_need_f32(args, 16, span);
}

/*
 * matmul_nt - @rows rows of C at @c (ldc apart) from as many rows of A
 * at @a (lda apart, each contiguous) against a B stored n x k at @b:
 * gl_matmul_nt()'s fixed-order dot products (kernels/matmul-nt.c), each
 * element's bits depending on its row of A and its row of B alone, not
 * on @rows, n or which columns a call covers.
 */
static void matmul_nt(const struct matmul *mm, const float *a,
		      const float *b, float *c, uint64_t rows)
{
	struct gl_nt p = {
		.m = rows, .n = mm->n, .k = mm->k,
		.lda = mm->lda, .ldb = mm->ldb, .ldc = mm->ldc,
		.alpha = mm->alpha, .beta = mm->beta,
	};

	gl_matmul_nt(&p, a, b, c);
}

/*
 * matmul_row - one row of C at @c from A's column at @a (trans_a), or
 * from a row against a B stored k x n: cblas_sgemv (OpenBLAS's sgemm
 * with m = 1 took twice sgemv's time: 5.4 ms against 2.6 ms for
 * 32000 x 288, one thread). beta == 0 never reads C (a scal would keep
 * a NaN there).
 */
static void matmul_row(const struct matmul *mm, const float *a,
		       const float *b, float *c)
{
	int incx = mm->trans_a ? (int)mm->lda : 1;

	if (mm->beta == 0.0f)
		memset(c, 0, mm->n * sizeof(float));
	if (mm->trans_b)	/* B is n x k: c = alpha B a + beta c */
		mm->blas->sgemv(CblasRowMajor, CblasNoTrans, (int)mm->n,
			    (int)mm->k, mm->alpha, b, (int)mm->ldb, a, incx,
			    mm->beta, c, 1);
	else			/* B is k x n: c = alpha B^T a + beta c */
		mm->blas->sgemv(CblasRowMajor, CblasTrans, (int)mm->k,
			    (int)mm->n, mm->alpha, b, (int)mm->ldb, a, incx,
			    mm->beta, c, 1);
}

/*
 * matmul_rows - C rows [row, row + count) of batch @bi: matmul_nt for
 * contiguous rows of A against a B stored n x k, else one sgemm, or one
 * sgemv for a single row.
 */
static void matmul_rows(const struct matmul *mm, uint64_t bi, uint64_t row,
			uint64_t count)
{
	const float *a = mm->a, *b = mm->b;
	float *c = mm->c + bi * mm->stride_c + row * mm->ldc;

	/* With k == 0, A and B may be empty (even NULL): never offset them. */
	if (mm->k) {
		a += bi * mm->stride_a + (mm->trans_a ? row : row * mm->lda);
		b += bi * mm->stride_b;
		/* rows of A contiguous against a B stored n x k */
		if (mm->trans_b && (!mm->trans_a ||
				    (count == 1 && mm->lda == 1))) {
			matmul_nt(mm, a, b, c, count);
			return;
		}
		if (count == 1) {
			matmul_row(mm, a, b, c);
			return;
		}
	}
	mm->blas->sgemm(CblasRowMajor,
			mm->trans_a ? CblasTrans : CblasNoTrans,
			mm->trans_b ? CblasTrans : CblasNoTrans, (int)count,
			(int)mm->n, (int)mm->k, mm->alpha, a, (int)mm->lda, b,
			(int)mm->ldb, mm->beta, c, (int)mm->ldc);
}

/* matmul_row_of - first row of C (over all batches) block @blk owns. */
static uint64_t matmul_row_of(uint64_t blk, uint64_t rows, uint64_t blocks)
{
	return (uint64_t)((unsigned __int128)blk * rows / blocks);
}

int gl_matmul_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		  struct gl_kctx *ctx)
{
	uint64_t blocks = gl_cpu_blocks(grid), rows, r, end, bi, row, count;
	struct matmul mm;
	int err;

	err = gl_matmul_check(args, grid);
	if (err)
		return err;
	matmul_load(args, &mm);
	mm.blas = gl_blas();
	/* only matmul_nt's products (rows of A against B stored n x k)
	 * need no OpenBLAS; without it the CPU device is unusable */
	if (!mm.blas && !(mm.trans_b && !mm.trans_a && mm.k))
		return -EIO;
	if (!mm.n || ctx->block_begin >= gl_cpu_block_end(ctx, grid))
		return gl_cpu_cancelled(ctx);
	rows = mm.batch * mm.m;
	r = matmul_row_of(ctx->block_begin, rows, blocks);
	end = matmul_row_of(gl_cpu_block_end(ctx, grid), rows, blocks);
	for (; r < end; r += count) {
		err = gl_cpu_cancelled(ctx);
		if (err)
			return err;
		bi = r / mm.m;
		row = r % mm.m;
		count = mm.m - row;
		if (count > end - r)
			count = end - r;
		if (count > MATMUL_CPU_ROWS)
			count = MATMUL_CPU_ROWS;
		matmul_rows(&mm, bi, row, count);
	}
	return gl_cpu_cancelled(ctx);
}
