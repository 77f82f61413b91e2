/* SPDX-License-Identifier: MIT */
/*
 * argmax: the column of each row's largest value, as a u32. CPU twin of
 * kernels/argmax.cu.
 *
 * Invariant: NaN never wins; ties go to the lowest column; a row with
 * no candidate (all NaN, or cols == 0) gives 0. The combine rule is a
 * total order, so any reduction order gives the same index.
 */
#include <math.h>

#include "kernels/cpu.h"

#define ARGMAX_NONE UINT32_MAX

struct argmax {
	uint64_t cols;
	const float *x;
	uint32_t *out;
};

/* Whether (v, i) beats the best so far (bv, bi). */
static bool argmax_beats(float v, uint32_t i, float bv, uint32_t bi)
{
	if (isnan(v) || i == ARGMAX_NONE)
		return false;
	return v > bv || (v == bv && i < bi);
}

static void argmax_row(const void *arg, uint64_t r, uint32_t bx)
{
	const struct argmax *s = arg;
	const float *x = s->x + r * s->cols;
	float val[GL_BLOCK_THREADS_MAX];
	uint32_t idx[GL_BLOCK_THREADS_MAX];
	uint32_t t, n, half;
	uint64_t c;

	for (t = 0; t < bx; t++) {
		val[t] = -INFINITY;
		idx[t] = ARGMAX_NONE;
		for (c = t; c < s->cols; c += bx) {
			if (argmax_beats(x[c], c, val[t], idx[t])) {
				val[t] = x[c];
				idx[t] = c;
			}
		}
	}
	for (n = bx; n > 1; n = half) {
		half = (n + 1) / 2;
		for (t = 0; t < n - half; t++) {
			if (argmax_beats(val[t + half], idx[t + half], val[t],
					 idx[t])) {
				val[t] = val[t + half];
				idx[t] = idx[t + half];
			}
		}
	}
	s->out[r] = idx[0] == ARGMAX_NONE ? 0 : idx[0];
}

/* argmax(u32 rows, u32 cols, buf x, buf out): out is u32[rows]. */
int gl_argmax_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	uint64_t rows = GL_ARG_U32(args, 0), cols = GL_ARG_U32(args, 1);
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, 2, rows, cols, 1);
	if (err)
		return err;
	return gl_cpu_need(args, 3, rows, sizeof(uint32_t));
}

int gl_argmax_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		  struct gl_kctx *ctx)
{
	struct argmax s = {
		.cols = GL_ARG_U32(args, 1),
		.x = GL_ARG_PTR(args, 2),
		.out = GL_ARG_PTR(args, 3),
	};
	int err = gl_argmax_check(args, grid);

	if (err)
		return err;
	return gl_cpu_rows(grid, ctx, GL_ARG_U32(args, 0), argmax_row, &s);
}
