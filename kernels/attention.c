/* SPDX-License-Identifier: MIT */
/*
 * Attention, CPU twins of kernels/attention.cu: attn_scores (scaled
 * Q.K^T with an optional causal mask) and attn_values (the probability-
 * weighted sum of V), with grouped-query heads (n_heads a multiple of
 * n_kv_heads; head h reads kv head h / (n_heads / n_kv_heads)).
 *
 * Layouts: q and out [seq_q][n_heads][head_dim], k and v
 * [seq_k][n_kv_heads][head_dim], s and p [n_heads][seq_q][seq_k].
 * Invariant: one thread per output element, summing over its own
 * reduction axis in index order; a masked score is -INFINITY, so a
 * following softmax gives it exactly 0. A worker that owns the whole
 * grid (a model's step) computes ATTN_LANES elements side by side, each
 * still its own sum in index order: the same bits, without waiting on
 * one sum's chain of additions at a time.
 */
#include <math.h>

#include "kernels/cpu.h"

struct attn {
	uint64_t seq_q, seq_k, n_heads, n_kv_heads, head_dim, group;
	uint64_t pos0;
	bool causal;
	float scale;
	const float *q;		/* q, or p for attn_values */
	const float *k;		/* k, or v */
	float *out;		/* s, or out */
};

static void attn_scores_thread(const void *arg, uint64_t i)
{
	const struct attn *a = arg;
	uint64_t j = i % a->seq_k, r = i / a->seq_k;
	uint64_t qi = r % a->seq_q, h = r / a->seq_q;
	const float *q, *k;
	float dot = 0.0f;
	uint64_t d;

	if (a->causal && j > a->pos0 + qi) {
		a->out[i] = -INFINITY;
		return;
	}
	q = a->q + (qi * a->n_heads + h) * a->head_dim;
	k = a->k + (j * a->n_kv_heads + h / a->group) * a->head_dim;
	for (d = 0; d < a->head_dim; d++)
		dot += q[d] * k[d];
	a->out[i] = a->scale * dot;
}

static void attn_values_thread(const void *arg, uint64_t i)
{
	const struct attn *a = arg;
	uint64_t d = i % a->head_dim, r = i / a->head_dim;
	uint64_t h = r % a->n_heads, qi = r / a->n_heads;
	const float *p = a->q + (h * a->seq_q + qi) * a->seq_k;
	const float *v = a->k + (h / a->group) * a->head_dim + d;
	uint64_t vstride = a->n_kv_heads * a->head_dim;
	float sum = 0.0f;
	uint64_t j;

	for (j = 0; j < a->seq_k; j++)
		sum += p[j] * v[j * vstride];
	a->out[i] = sum;
}

/* Elements computed side by side by the whole-grid paths: one lane of a
 * vector each (lane-wise multiply and add round as the scalar ones, and
 * no path is built with FMA, so the bits are attn_*_thread's). */
#define ATTN_LANES	8
#define ATTN_VECS	8	/* vectors of a head's outputs summed at once */
typedef float attn_v8 __attribute__((vector_size(32), aligned(4),
				     may_alias));

/*
 * attn_fetch - ask for the @rows rows of keys or values at @k (@kvs floats
 * each) in the second-level cache before a whole-grid path reads them:
 * a model's KV cache was last touched a step ago (its weights have gone
 * through the caches since), and the paths read it a head at a time, a
 * head's stretch of every row, which the hardware does not fetch ahead
 * of them. Prefetches never fault: a buffer's length is checked before.
 */
static void attn_fetch(const float *k, uint64_t rows, uint64_t kvs)
{
	const char *p = (const char *)k, *end = p + rows * kvs * 4;

	for (; p < end; p += 64)
		__builtin_prefetch(p, 0, 2);
}

/*
 * ATTN_GATHER - kv[l] = element @d of key row @l of the 8 at @kj, rows
 * @kvs floats apart: one element of 8 keys in lanes.
 */
#define ATTN_GATHER(kv, kj, kvs, d)					\
	do {								\
		_Pragma("GCC unroll 8")					\
		for (int l_ = 0; l_ < ATTN_LANES; l_++)			\
			(kv)[l_] = (kj)[l_ * (kvs) + (d)];		\
	} while (0)

/*
 * ATTN_SCORES_ALL - define a whole-grid scores path @name built with @attr:
 * every score of @a, ATTN_LANES keys of a row at a time (two such blocks
 * side by side where there are two), each the sum attn_scores_thread
 * makes; 0 or the cancel errno, looked at before each row. Eight keys'
 * elements are turned into lanes eight dimensions at a time (@tile, the
 * transpose of an 8 x 8 tile), the rest one at a time.
 */
#define ATTN_SCORES_ALL(name, attr, tile)				\
attr static int name(const struct attn *a, const struct gl_kctx *ctx)	\
{									\
	uint64_t kvs = a->n_kv_heads * a->head_dim, h, qi, j, d, lim;	\
	attn_v8 acc[2], kv = { 0 }, t[ATTN_LANES];				\
	int b, nb, e, err;						\
									\
	for (h = 0; h < a->n_heads; h++)				\
	for (qi = 0; qi < a->seq_q; qi++) {				\
		const float *q = a->q + (qi * a->n_heads + h) *		\
				 a->head_dim;				\
		const float *k = a->k + (h / a->group) * a->head_dim;	\
		float *out = a->out + (h * a->seq_q + qi) * a->seq_k;	\
									\
		err = gl_cpu_cancelled(ctx);				\
		if (err)						\
			return err;					\
		lim = a->seq_k;						\
		if (a->causal && a->pos0 + qi + 1 < lim)		\
			lim = a->pos0 + qi + 1;				\
		for (j = 0; j + ATTN_LANES <= lim; j += nb * ATTN_LANES) { \
			const float *kj = k + j * kvs;			\
									\
			nb = j + 2 * ATTN_LANES <= lim ? 2 : 1;		\
			acc[0] = acc[1] = (attn_v8){ 0 };		\
			for (d = 0; d + ATTN_LANES <= a->head_dim;	\
			     d += ATTN_LANES) {				\
				for (b = 0; b < nb; b++) {		\
					tile(t, kj + b * ATTN_LANES *	\
					     kvs, kvs, d);		\
					_Pragma("GCC unroll 8")	\
					for (e = 0; e < ATTN_LANES; e++) \
						acc[b] += q[d + e] *	\
							  t[e];		\
				}					\
			}						\
			for (; d < a->head_dim; d++)			\
				for (b = 0; b < nb; b++) {		\
					ATTN_GATHER(kv, kj + b *	\
						    ATTN_LANES * kvs,	\
						    kvs, d);		\
					acc[b] += q[d] * kv;		\
				}					\
			for (b = 0; b < nb; b++)			\
				*(attn_v8 *)(out + j + b * ATTN_LANES) = \
					acc[b] * a->scale;		\
		}							\
		for (; j < a->seq_k; j++)				\
			attn_scores_thread(a, (h * a->seq_q + qi) *	\
					   a->seq_k + j);		\
	}								\
	return 0;							\
}

/*
 * ATTN_VALUES_ALL - define a whole-grid values path @name built with @attr:
 * every output of @a, ATTN_LANES dimensions of a head at a time
 * (ATTN_VECS vectors of them side by side), each the sum
 * attn_values_thread makes; 0 or the cancel errno, looked at before
 * each head.
 */
#define ATTN_VALUES_ALL(name, attr)					\
attr static int name(const struct attn *a, const struct gl_kctx *ctx)	\
{									\
	uint64_t vs = a->n_kv_heads * a->head_dim, h, qi, j, d;		\
	attn_v8 acc[ATTN_VECS];						\
	int e, n, err;							\
									\
	for (qi = 0; qi < a->seq_q; qi++)				\
	for (h = 0; h < a->n_heads; h++) {				\
		const float *p = a->q + (h * a->seq_q + qi) * a->seq_k;	\
		const float *v = a->k + (h / a->group) * a->head_dim;	\
		float *out = a->out + (qi * a->n_heads + h) *		\
			     a->head_dim;				\
									\
		err = gl_cpu_cancelled(ctx);				\
		if (err)						\
			return err;					\
		for (d = 0; d + ATTN_LANES <= a->head_dim;		\
		     d += (uint64_t)n * ATTN_LANES) {			\
			n = (int)((a->head_dim - d) / ATTN_LANES);	\
			n = n < ATTN_VECS ? n : ATTN_VECS;		\
			for (e = 0; e < n; e++)				\
				acc[e] = (attn_v8){ 0 };		\
			for (j = 0; j < a->seq_k; j++) {		\
				const float *vj = v + j * vs + d;	\
									\
				for (e = 0; e < n; e++)			\
					acc[e] += p[j] *		\
						  *(const attn_v8 *)	\
						  (vj + e * ATTN_LANES); \
			}						\
			for (e = 0; e < n; e++)				\
				*(attn_v8 *)(out + d + e * ATTN_LANES) = \
					acc[e];				\
		}							\
		for (; d < a->head_dim; d++)				\
			attn_values_thread(a, (qi * a->n_heads + h) *	\
					   a->head_dim + d);		\
	}								\
	return 0;							\
}

/* attn_tile_plain - t[e][l] = kj[l * kvs + d + e], one at a time */
static inline void attn_tile_plain(attn_v8 *t, const float *kj, uint64_t kvs,
				   uint64_t d)
{
	for (int e = 0; e < ATTN_LANES; e++)
		ATTN_GATHER(t[e], kj, kvs, d + e);
}

ATTN_SCORES_ALL(attn_scores_plain, , attn_tile_plain)
ATTN_VALUES_ALL(attn_values_plain, )

#if defined(__x86_64__)
#include <immintrin.h>

#define ATTN_AVX __attribute__((target("avx")))

/* attn_tile_avx - attn_tile_plain by eight loads and a transpose */
ATTN_AVX static inline void attn_tile_avx(attn_v8 *t, const float *kj,
					  uint64_t kvs, uint64_t d)
{
	__m256 r[8], u[8], v[8];
	int l;

	_Pragma("GCC unroll 8")
	for (l = 0; l < 8; l++)
		r[l] = _mm256_loadu_ps(kj + l * kvs + d);
	_Pragma("GCC unroll 4")
	for (l = 0; l < 8; l += 2) {
		u[l] = _mm256_unpacklo_ps(r[l], r[l + 1]);
		u[l + 1] = _mm256_unpackhi_ps(r[l], r[l + 1]);
	}
	_Pragma("GCC unroll 2")
	for (l = 0; l < 8; l += 4) {
		v[l] = _mm256_shuffle_ps(u[l], u[l + 2], 0x44);
		v[l + 1] = _mm256_shuffle_ps(u[l], u[l + 2], 0xee);
		v[l + 2] = _mm256_shuffle_ps(u[l + 1], u[l + 3], 0x44);
		v[l + 3] = _mm256_shuffle_ps(u[l + 1], u[l + 3], 0xee);
	}
	_Pragma("GCC unroll 4")
	for (l = 0; l < 4; l++) {
		t[l] = (attn_v8)_mm256_permute2f128_ps(v[l], v[l + 4], 0x20);
		t[l + 4] = (attn_v8)_mm256_permute2f128_ps(v[l], v[l + 4],
							    0x31);
	}
}

ATTN_SCORES_ALL(attn_scores_avx, ATTN_AVX, attn_tile_avx)
ATTN_VALUES_ALL(attn_values_avx, ATTN_AVX)
#endif

/* ATTN_ALL - the whole-grid path @name's AVX copy where the CPU has AVX
 * (no FMA in either copy: the same bits), else its plain one */
#if defined(__x86_64__)
#define ATTN_ALL(name, a, ctx)						\
	(__builtin_cpu_supports("avx") ? name##_avx(a, ctx) :		\
					 name##_plain(a, ctx))
#else
#define ATTN_ALL(name, a, ctx) name##_plain(a, ctx)
#endif

/*
 * attn_load - the five leading u32 of both kernels into @a. Returns 0,
 * or -EINVAL when the kv heads do not divide the heads.
 */
static int attn_load(const struct gl_kargs *args, struct attn *a)
{
	a->seq_q = GL_ARG_U32(args, 0);
	a->seq_k = GL_ARG_U32(args, 1);
	a->n_heads = GL_ARG_U32(args, 2);
	a->n_kv_heads = GL_ARG_U32(args, 3);
	a->head_dim = GL_ARG_U32(args, 4);
	if (!a->n_kv_heads)
		return a->n_heads ? -EINVAL : 0;
	if (a->n_heads % a->n_kv_heads)
		return -EINVAL;
	a->group = a->n_heads / a->n_kv_heads;
	return 0;
}

/*
 * attn_check - grid, heads, and buffers @bq (seq_q rows of n_heads
 * heads), @bkv (seq_k rows of kv heads) and @bs (n_heads * seq_q * seq_k)
 * for scores; attn_values passes p as @bs and out as @bq.
 */
static int attn_check(const struct gl_kargs *args, const struct gl_grid *grid,
		      unsigned int bq, unsigned int bkv, unsigned int bs)
{
	struct attn a;
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = attn_load(args, &a);
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, bq, a.seq_q, a.n_heads, a.head_dim);
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, bkv, a.seq_k, a.n_kv_heads,
				a.head_dim);
	if (err)
		return err;
	return gl_cpu_need_f32_3(args, bs, a.n_heads, a.seq_q, a.seq_k);
}

/*
 * attn_scores(u32 seq_q, u32 seq_k, u32 n_heads, u32 n_kv_heads,
 *	       u32 head_dim, u32 pos0, u32 causal, f32 scale,
 *	       buf q, buf k, buf s)
 */
int gl_attn_scores_check(const struct gl_kargs *args,
			 const struct gl_grid *grid)
{
	return attn_check(args, grid, 8, 9, 10);
}

int gl_attn_scores_cpu(const struct gl_kargs *args,
		       const struct gl_grid *grid, struct gl_kctx *ctx)
{
	struct attn a = { 0 };
	int err;

	err = gl_attn_scores_check(args, grid);
	if (err)
		return err;
	attn_load(args, &a);
	a.pos0 = GL_ARG_U32(args, 5);
	a.causal = GL_ARG_U32(args, 6) != 0;
	a.scale = GL_ARG_F32(args, 7);
	a.q = GL_ARG_PTR(args, 8);
	a.k = GL_ARG_PTR(args, 9);
	a.out = GL_ARG_PTR(args, 10);
	if (gl_cpu_whole(grid, ctx)) {
		attn_fetch(a.k, a.seq_k, a.n_kv_heads * a.head_dim);
		return ATTN_ALL(attn_scores, &a, ctx);
	}
	return gl_cpu_1d(grid, ctx, a.n_heads * a.seq_q * a.seq_k,
			 attn_scores_thread, &a);
}

/*
 * attn_values(u32 seq_q, u32 seq_k, u32 n_heads, u32 n_kv_heads,
 *	       u32 head_dim, buf p, buf v, buf out)
 */
int gl_attn_values_check(const struct gl_kargs *args,
			 const struct gl_grid *grid)
{
	return attn_check(args, grid, 7, 6, 5);
}

int gl_attn_values_cpu(const struct gl_kargs *args,
		       const struct gl_grid *grid, struct gl_kctx *ctx)
{
	struct attn a = { 0 };
	int err;

	err = gl_attn_values_check(args, grid);
	if (err)
		return err;
	attn_load(args, &a);
	a.q = GL_ARG_PTR(args, 5);
	a.k = GL_ARG_PTR(args, 6);
	a.out = GL_ARG_PTR(args, 7);
	if (gl_cpu_whole(grid, ctx)) {
		attn_fetch(a.k, a.seq_k, a.n_kv_heads * a.head_dim);
		return ATTN_ALL(attn_values, &a, ctx);
	}
	return gl_cpu_1d(grid, ctx, a.seq_q * a.n_heads * a.head_dim,
			 attn_values_thread, &a);
}
