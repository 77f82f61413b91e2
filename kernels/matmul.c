/* SPDX-License-Identifier: MIT */
/*
 * matmul: strided-batched single-precision GEMM, row-major, with
 * transpose flags and leading dimensions, as cuBLAS's
 * gemmStridedBatched. The CPU side: rows of A (not trans_a) against a
 * B stored n x k (trans_b: the models' x W^T) are matmul_nt's
 * fixed-order dot products, any number of rows; other products
 * OpenBLAS's cblas_sgemm, or cblas_sgemv for a single row (opened by
 * kernels/blas.c). The CUDA
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
 * computed on its own in an order fixed by k (MATMUL_DOTS): the same
 * bits whatever m, the row's place among them, n, and whichever columns
 * of C one call covers (models split such a product by columns over
 * threads and batch rows of many requests in it: batch invariance,
 * Documentation/models.md). Other products are OpenBLAS's, whose order
 * may change with the shape.
 */
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/cpu.h"

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

/* Eight floats loaded from any float's address; four and two of them. */
typedef float matmul_v8 __attribute__((vector_size(32), aligned(4),
				       may_alias));
typedef float matmul_v4 __attribute__((vector_size(16)));
typedef float matmul_v2 __attribute__((vector_size(8)));

/* Rows of A one pass over a row of B serves: their 4 x 8-lane sums stay
 * in registers (12 of the 16 AVX2 ones). Blocks of 6 rows on AVX-512VL's
 * 32 registers, or of 2 rows of B by 3 of A, were no faster. */
#define MATMUL_GROUP	3

/*
 * MATMUL_DOTS - the body of a matmul_dotsR: the dot products of the row
 * of B at @w with @R rows of A at @a (@lda apart) into out[0..R). Per
 * element, four 8-lane partial sums over 32-float stretches, one more
 * over the 8-float rest, a fixed pairwise reduction of the lanes
 * ((0+4)+(2+6)) + ((1+5)+(3+7)), then the last k % 8 terms in order: the
 * order depends on k alone, never on R, so a row's bits are the same in
 * any group. Each stretch of B is loaded once for the R rows.
 */
#define MATMUL_DOTS(name, attr, R)					\
static inline attr void name(const float *w, const float *a,		\
			     uint64_t lda, uint64_t k, float *out)	\
{									\
	matmul_v8 s[R][4] = { { { 0 } } }, wv, v;			\
	uint64_t j = 0, t;						\
	matmul_v4 h;							\
	matmul_v2 q;							\
	float tail;							\
	int r, l;							\
									\
	for (; j + 32 <= k; j += 32) {					\
		_Pragma("GCC unroll 4")					\
		for (l = 0; l < 4; l++) {				\
			wv = *(const matmul_v8 *)(w + j + 8 * l);	\
			_Pragma("GCC unroll 4")				\
			for (r = 0; r < R; r++)				\
				s[r][l] += wv * *(const matmul_v8 *)	\
					   (a + r * lda + j + 8 * l);	\
		}							\
	}								\
	for (; j + 8 <= k; j += 8) {					\
		wv = *(const matmul_v8 *)(w + j);			\
		_Pragma("GCC unroll 4")					\
		for (r = 0; r < R; r++)					\
			s[r][0] += wv *					\
				   *(const matmul_v8 *)(a + r * lda + j);\
	}								\
	_Pragma("GCC unroll 4")						\
	for (r = 0; r < R; r++) {					\
		const float *x = a + r * lda;				\
									\
		v = (s[r][0] + s[r][1]) + (s[r][2] + s[r][3]);		\
		h = __builtin_shufflevector(v, v, 0, 1, 2, 3) +		\
		    __builtin_shufflevector(v, v, 4, 5, 6, 7);		\
		q = __builtin_shufflevector(h, h, 0, 1) +		\
		    __builtin_shufflevector(h, h, 2, 3);		\
		tail = 0.0f;						\
		for (t = j; t < k; t++)					\
			tail += w[t] * x[t];				\
		out[r] = (q[0] + q[1]) + tail;				\
	}								\
}

/* matmul_put - C's element at @y from its dot product @d: alpha d, plus
 * beta times what @y held unless beta is 0 (then @y is never read).
 * Inlined, so it rounds as its caller's copy does (FMA or not). */
static inline __attribute__((always_inline)) void
matmul_put(const struct matmul *mm, float *y, float d)
{
	d *= mm->alpha;
	*y = mm->beta == 0.0f ? d : d + mm->beta * *y;
}

/*
 * MATMUL_NT - the body of a matmul_nt copy: C[r][i] = alpha (A_r . B_i)
 * (+ beta C[r][i]) for @rows rows of A and the n rows of B, row i of B
 * against groups of MATMUL_GROUP rows of A, then the rest (1 or 2):
 * a row of B comes from memory once for all rows. name##_col is one row
 * of B, at @w, against rows [@r, @rows) of A into C's column at @c.
 */
#define MATMUL_NT(name, attr, dots1, dots2, dotsg)			\
static inline attr void name##_col(const struct matmul *mm,		\
				   const float *a, const float *w,	\
				   float *c, uint64_t r, uint64_t rows)	\
{									\
	uint64_t g, e, lda = mm->lda;					\
	float d[MATMUL_GROUP];						\
									\
	for (; r < rows; r += g) {					\
		g = rows - r < MATMUL_GROUP ? rows - r : MATMUL_GROUP;	\
		if (g == MATMUL_GROUP)					\
			dotsg(w, a + r * lda, lda, mm->k, d);		\
		else if (g == 2)					\
			dots2(w, a + r * lda, lda, mm->k, d);		\
		else							\
			dots1(w, a + r * lda, lda, mm->k, d);		\
		for (e = 0; e < g; e++)					\
			matmul_put(mm, c + (r + e) * mm->ldc, d[e]);	\
	}								\
}									\
									\
static attr void name(const struct matmul *mm, const float *a,		\
		      const float *b, float *c, uint64_t rows)		\
{									\
	uint64_t i;							\
									\
	for (i = 0; i < mm->n; i++)					\
		name##_col(mm, a, b + i * mm->ldb, c + i, 0, rows);	\
}

MATMUL_DOTS(matmul_dots1_plain, , 1)
MATMUL_DOTS(matmul_dots2_plain, , 2)
MATMUL_DOTS(matmul_dotsg_plain, , MATMUL_GROUP)
MATMUL_NT(matmul_nt_plain, , matmul_dots1_plain, matmul_dots2_plain,
	  matmul_dotsg_plain)
#if defined(__x86_64__)
#define MATMUL_AVX2 __attribute__((target("avx2,fma")))
MATMUL_DOTS(matmul_dots1_avx2, MATMUL_AVX2, 1)
MATMUL_DOTS(matmul_dots2_avx2, MATMUL_AVX2, 2)
MATMUL_DOTS(matmul_dotsg_avx2, MATMUL_AVX2, MATMUL_GROUP)
MATMUL_NT(matmul_nt_avx2, MATMUL_AVX2, matmul_dots1_avx2,
	  matmul_dots2_avx2, matmul_dotsg_avx2)
#endif

#if defined(__x86_64__)
#include <immintrin.h>

#define MATMUL_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define MATMUL_BN	3	/* rows of B a block reads at once */
#define MATMUL_BA	4	/* rows of A */
/* Where the blocks run (measured, Documentation/kernels.md): a k of at
 * least MATMUL_BLOCK_K, or MATMUL_BLOCK_ROWS rows or more. With a short
 * k and few rows, a B that streams from memory (a model's weights,
 * read once a step) reads faster one row at a time than three. */
#define MATMUL_BLOCK_K		2048
#define MATMUL_BLOCK_ROWS	16

/*
 * matmul_block_avx512 - the MATMUL_BA x MATMUL_BN dot products of the
 * rows of A at @a (@lda apart) with the rows of B at @w (@ldb apart) into
 * out[row of A][row of B], each element exactly the sum MATMUL_DOTS
 * makes: its four 8-lane partial sums are the lanes of two 16-lane ones
 * (the same fused multiply-adds, lane by lane, in the same order), the
 * 8-float rest goes to the first 8 lanes alone, then the same
 * reduction and tail. So the bits are matmul_dots1_avx2's; what changes
 * is that a stretch of A, loaded once, serves three rows of B (24 of the
 * 32 registers hold the sums), so A is read from the caches a third as
 * often as by MATMUL_NT.
 */
static MATMUL_AVX512 void matmul_block_avx512(const float *w, uint64_t ldb,
					      const float *a, uint64_t lda,
					      uint64_t k,
					      float out[MATMUL_BA][MATMUL_BN])
{
	__m512 s[MATMUL_BA][MATMUL_BN][2], bv[MATMUL_BN], av;
	uint64_t j = 0, t;
	int r, i, h;

	_Pragma("GCC unroll 4")
	for (r = 0; r < MATMUL_BA; r++)
		_Pragma("GCC unroll 3")
		for (i = 0; i < MATMUL_BN; i++)
			s[r][i][0] = s[r][i][1] = _mm512_setzero_ps();
	for (; j + 32 <= k; j += 32) {
		_Pragma("GCC unroll 2")
		for (h = 0; h < 2; h++) {
			_Pragma("GCC unroll 3")
			for (i = 0; i < MATMUL_BN; i++)
				bv[i] = _mm512_loadu_ps(w + i * ldb + j +
							16 * h);
			_Pragma("GCC unroll 4")
			for (r = 0; r < MATMUL_BA; r++) {
				av = _mm512_loadu_ps(a + r * lda + j + 16 * h);
				_Pragma("GCC unroll 3")
				for (i = 0; i < MATMUL_BN; i++)
					s[r][i][h] = _mm512_fmadd_ps(bv[i], av,
								     s[r][i][h]);
			}
		}
	}
	for (; j + 8 <= k; j += 8) {
		_Pragma("GCC unroll 3")
		for (i = 0; i < MATMUL_BN; i++)
			bv[i] = _mm512_maskz_loadu_ps(0xff, w + i * ldb + j);
		_Pragma("GCC unroll 4")
		for (r = 0; r < MATMUL_BA; r++) {
			av = _mm512_maskz_loadu_ps(0xff, a + r * lda + j);
			_Pragma("GCC unroll 3")
			for (i = 0; i < MATMUL_BN; i++)
				s[r][i][0] = _mm512_mask3_fmadd_ps(bv[i], av,
								   s[r][i][0],
								   0xff);
		}
	}
	_Pragma("GCC unroll 4")
	for (r = 0; r < MATMUL_BA; r++)
		_Pragma("GCC unroll 3")
		for (i = 0; i < MATMUL_BN; i++) {
			const float *x = a + r * lda, *wi = w + i * ldb;
			matmul_v8 l0, l1, l2, l3, v;
			matmul_v4 hv;
			matmul_v2 q;
			float tail = 0.0f;

			l0 = (matmul_v8)_mm512_castps512_ps256(s[r][i][0]);
			l1 = (matmul_v8)_mm256_castpd_ps(_mm512_extractf64x4_pd(
				_mm512_castps_pd(s[r][i][0]), 1));
			l2 = (matmul_v8)_mm512_castps512_ps256(s[r][i][1]);
			l3 = (matmul_v8)_mm256_castpd_ps(_mm512_extractf64x4_pd(
				_mm512_castps_pd(s[r][i][1]), 1));
			v = (l0 + l1) + (l2 + l3);
			hv = __builtin_shufflevector(v, v, 0, 1, 2, 3) +
			     __builtin_shufflevector(v, v, 4, 5, 6, 7);
			q = __builtin_shufflevector(hv, hv, 0, 1) +
			    __builtin_shufflevector(hv, hv, 2, 3);
			for (t = j; t < k; t++)
				tail += wi[t] * x[t];
			out[r][i] = (q[0] + q[1]) + tail;
		}
}

/*
 * matmul_nt_avx512 - matmul_nt_avx2 for @rows >= MATMUL_BA: blocks of
 * MATMUL_BN rows of B by MATMUL_BA rows of A through
 * matmul_block_avx512, the rest of each by matmul_nt_avx2's dot
 * products: every element the same bits as in matmul_nt_avx2.
 */
static MATMUL_AVX512 void matmul_nt_avx512(const struct matmul *mm,
					   const float *a, const float *b,
					   float *c, uint64_t rows)
{
	uint64_t i, r, e, f, lda = mm->lda, ldb = mm->ldb;
	float d[MATMUL_BA][MATMUL_BN];

	for (i = 0; i < mm->n; i += f) {
		f = mm->n - i < MATMUL_BN ? mm->n - i : MATMUL_BN;
		r = 0;
		for (; f == MATMUL_BN && r + MATMUL_BA <= rows;
		     r += MATMUL_BA) {
			matmul_block_avx512(b + i * ldb, ldb, a + r * lda, lda,
					    mm->k, d);
			for (e = 0; e < MATMUL_BA * MATMUL_BN; e++)
				matmul_put(mm, c + (r + e / MATMUL_BN) *
					   mm->ldc + i + e % MATMUL_BN,
					   d[e / MATMUL_BN][e % MATMUL_BN]);
		}
		/* the rows of A left, against each row of B left */
		for (e = i; e < i + f; e++)
			matmul_nt_avx2_col(mm, a, b + e * ldb, c + e, r, rows);
	}
}
#endif

/*
 * matmul_nt - @rows rows of C at @c (ldc apart) from as many rows of A
 * at @a (lda apart, each contiguous) against a B stored n x k at @b, by
 * MATMUL_DOTS: each element's bits depend on its row of A and its row
 * of B alone, not on @rows, n or which columns a call covers. Any
 * thread; a process uses one copy (AVX2/FMA or plain) throughout, and
 * the two copies' bits may differ (FMA). With AVX-512F, products of at
 * least MATMUL_BA rows go through matmul_nt_avx512 where its blocks are
 * faster (MATMUL_BLOCK_*); its elements are the AVX2 copy's bits.
 */
static void matmul_nt(const struct matmul *mm, const float *a,
		      const float *b, float *c, uint64_t rows)
{
#if defined(__x86_64__)
	static atomic_int avx2 = -1;	/* then 0, 1 or 2 (AVX-512F too),
					 * whoever stores */
	int v = atomic_load_explicit(&avx2, memory_order_relaxed);

	if (v < 0) {
		v = __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("fma");
		if (v && __builtin_cpu_supports("avx512f"))
			v = 2;
		atomic_store_explicit(&avx2, v, memory_order_relaxed);
	}
	if (v == 2 && rows >= MATMUL_BA &&
	    (mm->k >= MATMUL_BLOCK_K || rows >= MATMUL_BLOCK_ROWS)) {
		matmul_nt_avx512(mm, a, b, c, rows);
		return;
	}
	if (v) {
		matmul_nt_avx2(mm, a, b, c, rows);
		return;
	}
#endif
	matmul_nt_plain(mm, a, b, c, rows);
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
