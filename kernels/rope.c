/* SPDX-License-Identifier: MIT */
/*
 * Rotary position embedding, in place, on x[seq][n_heads][head_dim], in
 * the two conventions Llama checkpoints use: rope turns interleaved pairs
 * (x[2p], x[2p+1]) as Meta's Llama and llama2.c; rope_half turns the
 * halves (x[p], x[p + head_dim/2]) as Hugging Face's rotate_half. CPU
 * twins of kernels/rope.cu.
 *
 * Invariant: one thread per pair; pair p of token s turns by
 * (pos0 + s) * theta^(-2p / head_dim) radians in both conventions,
 * computed in f32 by the same expression on both backends. A worker
 * that owns the whole grid computes a token's angles once for all its
 * heads, by that expression: the same bits.
 */
#include <math.h>

#include "kernels/cpu.h"

struct rope {
	uint64_t n_heads, half;
	uint32_t pos0;
	float theta;
	float *x;
};

/* rope_angle - the cosine and sine of pair @p of token @s's angle */
static void rope_angle(const struct rope *r, uint64_t p, uint64_t s,
		       float *c, float *sn)
{
	float freq = powf(r->theta, -(float)(2 * p) / (float)(2 * r->half));
	float angle = (float)(r->pos0 + s) * freq;

	*c = cosf(angle);
	*sn = sinf(angle);
}

static void rope_apply(float *x0, float *x1, float c, float sn)
{
	float a = *x0, b = *x1;

	*x0 = a * c - b * sn;
	*x1 = a * sn + b * c;
}

/* rope_turn - turn (*x0, *x1), pair @i of @r's grid, by its angle */
static void rope_turn(const struct rope *r, uint64_t i, float *x0, float *x1)
{
	float c, sn;

	rope_angle(r, i % r->half, i / r->half / r->n_heads, &c, &sn);
	rope_apply(x0, x1, c, sn);
}

static void rope_thread(const void *arg, uint64_t i)
{
	const struct rope *r = arg;
	float *v = r->x + 2 * i;

	rope_turn(r, i, &v[0], &v[1]);
}

static void rope_half_thread(const void *arg, uint64_t i)
{
	const struct rope *r = arg;
	float *v = r->x + (i / r->half) * 2 * r->half + i % r->half;

	rope_turn(r, i, &v[0], &v[r->half]);
}

/* Pairs of a head the whole-grid path keeps the angles of. */
#define ROPE_TABLE	512

/*
 * rope_whole - every pair of @seq tokens, for a worker that owns the whole
 * grid (a model's step): a token's angles are the same for all its heads,
 * so each is computed once per token instead of once per head, by the
 * same expression (the same bits as rope_turn). 0 or the cancel errno,
 * looked at before each token.
 */
static int rope_whole(const struct rope *r, uint64_t seq, bool halves,
		      struct gl_kctx *ctx)
{
	float c[ROPE_TABLE], sn[ROPE_TABLE], *x;
	uint64_t s, h, p;
	int err;

	for (s = 0; s < seq; s++) {
		err = gl_cpu_cancelled(ctx);
		if (err)
			return err;
		for (p = 0; p < r->half; p++)
			rope_angle(r, p, s, &c[p], &sn[p]);
		for (h = 0; h < r->n_heads; h++) {
			x = r->x + (s * r->n_heads + h) * 2 * r->half;
			for (p = 0; p < r->half; p++) {
				if (halves)
					rope_apply(&x[p], &x[p + r->half],
						   c[p], sn[p]);
				else
					rope_apply(&x[2 * p], &x[2 * p + 1],
						   c[p], sn[p]);
			}
		}
	}
	return 0;
}

/* rope(u32 seq, u32 n_heads, u32 head_dim, u32 pos0, f32 theta, buf x) */
int gl_rope_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	uint64_t seq = GL_ARG_U32(args, 0), n_heads = GL_ARG_U32(args, 1);
	uint64_t head_dim = GL_ARG_U32(args, 2);
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	if (head_dim % 2)
		return -EINVAL;
	return gl_cpu_need_f32_3(args, 5, seq, n_heads, head_dim);
}

static int rope_run(const struct gl_kargs *args, const struct gl_grid *grid,
		    struct gl_kctx *ctx, void (*thread)(const void *, uint64_t))
{
	struct rope r = {
		.n_heads = GL_ARG_U32(args, 1),
		.half = GL_ARG_U32(args, 2) / 2,
		.pos0 = GL_ARG_U32(args, 3),
		.theta = GL_ARG_F32(args, 4),
		.x = GL_ARG_PTR(args, 5),
	};
	uint64_t seq = GL_ARG_U32(args, 0), n = seq * r.n_heads * r.half;
	int err = gl_rope_check(args, grid);

	if (err)
		return err;
	if (gl_cpu_whole(grid, ctx) && r.half <= ROPE_TABLE)
		return rope_whole(&r, seq, thread == rope_half_thread, ctx);
	return gl_cpu_1d(grid, ctx, n, thread, &r);
}

int gl_rope_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	return rope_run(args, grid, ctx, rope_thread);
}

/* rope_half: as rope, the same arguments and checks. */
int gl_rope_half_check(const struct gl_kargs *args,
		       const struct gl_grid *grid)
{
	return gl_rope_check(args, grid);
}

int gl_rope_half_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		     struct gl_kctx *ctx)
{
	return rope_run(args, grid, ctx, rope_half_thread);
}
