/* SPDX-License-Identifier: MIT */
/*
 * softmax: row-wise, numerically stable (the row maximum is subtracted
 * before exp). CPU twin of kernels/softmax.cu.
 *
 * Invariant: one block per row; thread t of the block owns columns t,
 * t + block.x, ...; its partial max and sum are combined in the order
 * gl_block_max()/gl_block_sum() use, so both backends round alike.
 */
#include <math.h>

#include "kernels/cpu.h"

struct softmax {
	uint64_t cols;
	const float *x;
	float *y;
};

static void softmax_row(const void *arg, uint64_t r, uint32_t bx)
{
	const struct softmax *s = arg;
	const float *x = s->x + r * s->cols;
	float *y = s->y + r * s->cols;
	float part[GL_BLOCK_THREADS_MAX];
	float m, sum;
	uint64_t c;
	uint32_t t;

	for (t = 0; t < bx; t++) {
		part[t] = -INFINITY;
		for (c = t; c < s->cols; c += bx)
			part[t] = fmaxf(part[t], x[c]);
	}
	m = gl_cpu_tree_max(part, bx);
	for (t = 0; t < bx; t++) {
		part[t] = 0.0f;
		for (c = t; c < s->cols; c += bx)
			part[t] += expf(x[c] - m);
	}
	sum = gl_cpu_tree_sum(part, bx);
	for (c = 0; c < s->cols; c++)
		y[c] = m == -INFINITY ? 0.0f : expf(x[c] - m) / sum;
}

/* softmax(u32 rows, u32 cols, buf x, buf y); y may be x. */
int gl_softmax_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	uint64_t rows = GL_ARG_U32(args, 0), cols = GL_ARG_U32(args, 1);
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, 2, rows, cols, 1);
	if (err)
		return err;
	return gl_cpu_need_f32_3(args, 3, rows, cols, 1);
}

int gl_softmax_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		   struct gl_kctx *ctx)
{
	struct softmax s = {
		.cols = GL_ARG_U32(args, 1),
		.x = GL_ARG_PTR(args, 2),
		.y = GL_ARG_PTR(args, 3),
	};
	int err = gl_softmax_check(args, grid);

	if (err)
		return err;
	return gl_cpu_rows(grid, ctx, GL_ARG_U32(args, 0), softmax_row, &s);
}
