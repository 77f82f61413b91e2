/* SPDX-License-Identifier: MIT */
/*
 * rope: rotary position embedding, in place, on x[seq][n_heads][head_dim]
 * with interleaved pairs (x[2p], x[2p+1]) as in Meta's Llama and
 * llama2.c. CPU twin of kernels/rope.cu.
 *
 * Invariant: one thread per pair; the pair at token s, column pair p
 * turns by (pos0 + s) * theta^(-2p / head_dim) radians, computed in f32
 * by the same expression on both backends.
 */
#include <math.h>

#include "kernels/cpu.h"

struct rope {
	uint64_t n_heads, half;
	uint32_t pos0;
	float theta;
	float *x;
};

static void rope_thread(const void *arg, uint64_t i)
{
	const struct rope *r = arg;
	uint64_t p = i % r->half, s = i / r->half / r->n_heads;
	float freq = powf(r->theta, -(float)(2 * p) / (float)(2 * r->half));
	float angle = (float)(r->pos0 + s) * freq;
	float c = cosf(angle), sn = sinf(angle);
	float *v = r->x + 2 * i;
	float x0 = v[0], x1 = v[1];

	v[0] = x0 * c - x1 * sn;
	v[1] = x0 * sn + x1 * c;
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

int gl_rope_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	struct rope r = {
		.n_heads = GL_ARG_U32(args, 1),
		.half = GL_ARG_U32(args, 2) / 2,
		.pos0 = GL_ARG_U32(args, 3),
		.theta = GL_ARG_F32(args, 4),
		.x = GL_ARG_PTR(args, 5),
	};
	uint64_t n = (uint64_t)GL_ARG_U32(args, 0) * r.n_heads * r.half;
	int err = gl_rope_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, n, rope_thread, &r);
}
