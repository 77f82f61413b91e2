/* SPDX-License-Identifier: MIT */
/*
 * matmul-nt: C = alpha A B^T (+ beta C) for rows of A against a B
 * stored n x k, the order of every element fixed by k alone:
 *
 *   s = 0 (8 lanes); for each whole 8-float step j of k, in order:
 *       s = s + B[i][j..j+8) * A[r][j..j+8)      (fused on AVX2/FMA)
 *   d = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
 *   then the last k % 8 terms in order into a scalar t from 0:
 *   C[r][i] = alpha (d + t) (+ beta C[r][i])
 *
 * Nothing in it depends on m, on the row's place among the rows, on n
 * or on which columns a call covers: the models batch the rows of many
 * requests in one product and split it by columns over threads, and a
 * row gets the same bits as alone (Documentation/models.md, "Batch
 * invariance").
 *
 * Speed comes from the order of the loops, not of the sums. B is taken
 * in panels of MATMUL_NT_PANEL rows, which stay in the L1 cache while
 * every group of rows of A passes over them, and the first group
 * prefetches the next panel: a model's weights come from memory, once a
 * step. Where k is long or the rows are many, the rows go in groups of
 * 4 against tiles of 3 rows of B, each of the 12 elements' sums in a
 * register of its own (12 of AVX2's 16), so a step of k costs 7 loads
 * for 12 fused multiply-adds; else in groups of up to 8 against one row
 * of B at a time, from start to end, so a B read from memory is one
 * stream while up to 8 sums hide the fused add's latency
 * (Documentation/kernels.md has the figures for each choice).
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "kernels/matmul-nt.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Rows of B one panel holds: a multiple of the wide tiles' 3 and 4,
 * 27 KiB at k = 288. */
#define MATMUL_NT_PANEL	24

/*
 * Wide tiles (4 x 3, and 3 x 3, 2 x 4, 1 x 4 for the rest of the rows)
 * where k is at least MATMUL_NT_LONG or there are at least MATMUL_NT_MANY
 * rows; else narrow ones (up to 8 rows of A against one row of B). A
 * short row of B is too short a stream to read several at once, and
 * with few rows the arithmetic hides nothing (1 x 32000 x 288, B from
 * memory: 2.2 ms narrow, 2.8 to 3.1 ms four rows of B at a time); a long
 * one read alone leaves one chain of dependent fused adds per sum (1 x
 * 4096 x 4096: 4.6 to 4.9 ms narrow against 3.4 to 3.8 wide), and many
 * rows need the wide tile's 12 multiply-adds per 7 loads.
 */
#define MATMUL_NT_LONG	512
#define MATMUL_NT_MANY	16

/* Eight floats loaded from any float's address; four and two of them. */
typedef float nt_v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef float nt_v4 __attribute__((vector_size(16)));
typedef float nt_v2 __attribute__((vector_size(8)));

/* The element from its lanes @s and the k % 8 terms from @j: the one
 * reduction every tile shares. */
#define NT_PUT(p, cp, s, w, x, j, fma1)					\
	do {								\
		nt_v4 h_ = __builtin_shufflevector(s, s, 0, 1, 2, 3) +	\
			   __builtin_shufflevector(s, s, 4, 5, 6, 7);	\
		nt_v2 q_ = __builtin_shufflevector(h_, h_, 0, 1) +	\
			   __builtin_shufflevector(h_, h_, 2, 3);	\
		float t_ = 0.0f, d_;					\
		uint64_t u_;						\
									\
		for (u_ = (j); u_ < (p)->k; u_++)			\
			t_ = fma1((w)[u_], (x)[u_], t_);		\
		d_ = ((q_[0] + q_[1]) + t_) * (p)->alpha;		\
		*(cp) = (p)->beta == 0.0f ? d_ : d_ + (p)->beta * *(cp); \
	} while (0)

/*
 * NT_TILE - name##_RAxRB: the RA x RB elements of C at @c for the RA
 * rows of A at @a and the RB rows of B at @w; with @pf set, the same RB
 * rows of the next panel are prefetched along the way.
 */
#define NT_TILE(name, attr, RA, RB, fma8, fma1)				\
static inline attr __attribute__((always_inline)) void		\
name##_##RA##x##RB(const struct gl_nt *p, const float *a,		\
		   const float *w, float *c, const float *pf)		\
{									\
	nt_v8 s[RA][RB], b[RB], x;					\
	uint64_t j;							\
	int r, i;							\
									\
	_Pragma("GCC unroll 8")						\
	for (r = 0; r < RA; r++)					\
		_Pragma("GCC unroll 8")					\
		for (i = 0; i < RB; i++)				\
			s[r][i] = (nt_v8){ 0 };				\
	for (j = 0; j + 8 <= p->k; j += 8) {				\
		if (pf)							\
			_Pragma("GCC unroll 8")				\
			for (i = 0; i < RB; i++)			\
				__builtin_prefetch(pf + i * p->ldb + j); \
		_Pragma("GCC unroll 8")					\
		for (i = 0; i < RB; i++)				\
			b[i] = *(const nt_v8 *)(w + i * p->ldb + j);	\
		_Pragma("GCC unroll 8")					\
		for (r = 0; r < RA; r++) {				\
			x = *(const nt_v8 *)(a + r * p->lda + j);	\
			_Pragma("GCC unroll 8")				\
			for (i = 0; i < RB; i++)			\
				s[r][i] = fma8(b[i], x, s[r][i]);	\
		}							\
	}								\
	_Pragma("GCC unroll 8")						\
	for (r = 0; r < RA; r++)					\
		_Pragma("GCC unroll 8")					\
		for (i = 0; i < RB; i++)				\
			NT_PUT(p, c + r * p->ldc + i, s[r][i],		\
			       w + i * p->ldb, a + r * p->lda, j, fma1); \
}

/* NT_SPAN - rows [*i, end) of B against RA rows of A: RB at a time,
 * then one at a time; the next panel is prefetched when @first. */
#define NT_SPAN(name, RA, RB)						\
	do {								\
		for (; i + RB <= end; i += RB)				\
			name##_##RA##x##RB(p, ar, b + i * p->ldb, cr + i, \
					   first && i + MATMUL_NT_PANEL + \
					   RB <= p->n ? b + (i +	\
					   MATMUL_NT_PANEL) * p->ldb :	\
					   NULL);			\
		for (; i < end; i++)					\
			name##_##RA##x1(p, ar, b + i * p->ldb, cr + i,	\
					NULL);				\
	} while (0)

/* NT_COPY - name(): the whole product, panel by panel, rows of A in
 * groups of 4 (wide) or 8 (narrow) and the rest in one smaller group. */
#define NT_COPY(name, attr, fma8, fma1)					\
NT_TILE(name, attr, 4, 3, fma8, fma1)					\
NT_TILE(name, attr, 3, 3, fma8, fma1)					\
NT_TILE(name, attr, 2, 4, fma8, fma1)					\
NT_TILE(name, attr, 1, 4, fma8, fma1)					\
NT_TILE(name, attr, 8, 1, fma8, fma1)					\
NT_TILE(name, attr, 7, 1, fma8, fma1)					\
NT_TILE(name, attr, 6, 1, fma8, fma1)					\
NT_TILE(name, attr, 5, 1, fma8, fma1)					\
NT_TILE(name, attr, 4, 1, fma8, fma1)					\
NT_TILE(name, attr, 3, 1, fma8, fma1)					\
NT_TILE(name, attr, 2, 1, fma8, fma1)					\
NT_TILE(name, attr, 1, 1, fma8, fma1)					\
static attr void name(const struct gl_nt *p, const float *a,		\
		      const float *b, float *c)				\
{									\
	bool wide = p->k >= MATMUL_NT_LONG || p->m >= MATMUL_NT_MANY;	\
	uint64_t i0, i, end, r, ra;					\
									\
	for (i0 = 0; i0 < p->n; i0 += MATMUL_NT_PANEL) {		\
		end = p->n - i0 < MATMUL_NT_PANEL ? p->n :		\
			i0 + MATMUL_NT_PANEL;				\
		for (r = 0; r < p->m; r += ra) {			\
			const float *ar = a + r * p->lda;		\
			float *cr = c + r * p->ldc;			\
			bool first = r == 0;				\
									\
			ra = p->m - r;					\
			ra = ra < (wide ? 4 : 8) ? ra : wide ? 4 : 8;	\
			i = i0;						\
			if (wide && ra == 4)				\
				NT_SPAN(name, 4, 3);			\
			else if (wide && ra == 3)			\
				NT_SPAN(name, 3, 3);			\
			else if (wide && ra == 2)			\
				NT_SPAN(name, 2, 4);			\
			else if (wide)					\
				NT_SPAN(name, 1, 4);			\
			else if (ra == 8)				\
				NT_SPAN(name, 8, 1);			\
			else if (ra == 7)				\
				NT_SPAN(name, 7, 1);			\
			else if (ra == 6)				\
				NT_SPAN(name, 6, 1);			\
			else if (ra == 5)				\
				NT_SPAN(name, 5, 1);			\
			else if (ra == 4)				\
				NT_SPAN(name, 4, 1);			\
			else if (ra == 3)				\
				NT_SPAN(name, 3, 1);			\
			else if (ra == 2)				\
				NT_SPAN(name, 2, 1);			\
			else						\
				NT_SPAN(name, 1, 1);			\
		}							\
	}								\
}

/* the portable copy: a multiply, then an add, lane by lane */
#define NT_PLAIN_FMA8(b, x, s)	((s) + (b) * (x))
#define NT_PLAIN_FMA1(w, x, t)	((t) + (w) * (x))
NT_COPY(nt_plain, , NT_PLAIN_FMA8, NT_PLAIN_FMA1)

#if defined(__x86_64__)
#define NT_AVX2 __attribute__((target("avx2,fma")))
#define NT_AVX2_FMA8(b, x, s)						\
	((nt_v8)_mm256_fmadd_ps((__m256)(b), (__m256)(x), (__m256)(s)))
#define NT_AVX2_FMA1(w, x, t)	__builtin_fmaf((w), (x), (t))
NT_COPY(nt_avx2, NT_AVX2, NT_AVX2_FMA8, NT_AVX2_FMA1)
#endif

void gl_matmul_nt(const struct gl_nt *p, const float *a, const float *b,
		  float *c)
{
#if defined(__x86_64__)
	static atomic_int avx2 = -1;	/* then 0 or 1, whoever stores */
	int v = atomic_load_explicit(&avx2, memory_order_relaxed);

	if (v < 0) {
		v = __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("fma");
		atomic_store_explicit(&avx2, v, memory_order_relaxed);
	}
	if (v) {
		nt_avx2(p, a, b, c);
		return;
	}
#endif
	nt_plain(p, a, b, c);
}
