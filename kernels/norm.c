/* SPDX-License-Identifier: MIT */
/*
 * Row normalisations, CPU twins of kernels/norm.cu: layernorm (mean and
 * variance, two passes, then gamma and beta) and rmsnorm (root mean
 * square, then a weight), with eps inside the square root.
 *
 * Invariant: one block per row; per-thread partials over columns t,
 * t + block.x, ... are combined in gl_block_sum()'s order, so both
 * backends round alike. In place (y == x) is safe.
 */
#include <math.h>

#include "kernels/cpu.h"

struct norm {
	uint64_t cols;
	float eps;
	const float *x;
	const float *w;		/* gamma, or rmsnorm's weight */
	const float *b;		/* beta; NULL for rmsnorm */
	float *y;
};

/* norm_sum - sum of (x[c] - shift)^(sq ? 2 : 1) over a row, per thread. */
static float norm_sum(const struct norm *s, const float *x, uint32_t bx,
		      float shift, bool sq)
{
	float part[GL_BLOCK_THREADS_MAX];
	uint64_t c;
	uint32_t t;
	float d;

	for (t = 0; t < bx; t++) {
		part[t] = 0.0f;
		for (c = t; c < s->cols; c += bx) {
			d = x[c] - shift;
			part[t] += sq ? d * d : d;
		}
	}
	return gl_cpu_tree_sum(part, bx);
}

static void layernorm_row(const void *arg, uint64_t r, uint32_t bx)
{
	const struct norm *s = arg;
	const float *x = s->x + r * s->cols;
	float *y = s->y + r * s->cols;
	float mean, var, inv;
	uint64_t c;

	mean = norm_sum(s, x, bx, 0.0f, false) / (float)s->cols;
	var = norm_sum(s, x, bx, mean, true) / (float)s->cols;
	inv = 1.0f / sqrtf(var + s->eps);
	for (c = 0; c < s->cols; c++)
		y[c] = (x[c] - mean) * inv * s->w[c] + s->b[c];
}

static void rmsnorm_row(const void *arg, uint64_t r, uint32_t bx)
{
	const struct norm *s = arg;
	const float *x = s->x + r * s->cols;
	float *y = s->y + r * s->cols;
	float ms, inv;
	uint64_t c;

	ms = norm_sum(s, x, bx, 0.0f, true) / (float)s->cols;
	inv = 1.0f / sqrtf(ms + s->eps);
	for (c = 0; c < s->cols; c++)
		y[c] = x[c] * inv * s->w[c];
}

/*
 * norm_check - x and y hold rows * cols floats, arguments @first_w to
 * @last_w (gamma, beta or w) cols each.
 */
static int norm_check(const struct gl_kargs *args, const struct gl_grid *grid,
		      unsigned int first_w, unsigned int last_w)
{
	uint64_t rows = GL_ARG_U32(args, 0), cols = GL_ARG_U32(args, 1);
	unsigned int i;
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, 3, rows, cols, 1);
	if (err)
		return err;
	for (i = first_w; i <= last_w; i++) {
		err = gl_cpu_need_f32(args, i, cols);
		if (err)
			return err;
	}
	return gl_cpu_need_f32_3(args, last_w + 1, rows, cols, 1);
}

/* layernorm(u32 rows, u32 cols, f32 eps, buf x, buf gamma, buf beta, buf y) */
int gl_layernorm_check(const struct gl_kargs *args,
		       const struct gl_grid *grid)
{
	return norm_check(args, grid, 4, 5);
}

int gl_layernorm_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		     struct gl_kctx *ctx)
{
	struct norm s = {
		.cols = GL_ARG_U32(args, 1),
		.eps = GL_ARG_F32(args, 2),
		.x = GL_ARG_PTR(args, 3),
		.w = GL_ARG_PTR(args, 4),
		.b = GL_ARG_PTR(args, 5),
		.y = GL_ARG_PTR(args, 6),
	};
	int err = gl_layernorm_check(args, grid);

	if (err)
		return err;
	return gl_cpu_rows(grid, ctx, GL_ARG_U32(args, 0), layernorm_row, &s);
}

/* rmsnorm(u32 rows, u32 cols, f32 eps, buf x, buf w, buf y) */
int gl_rmsnorm_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return norm_check(args, grid, 4, 4);
}

int gl_rmsnorm_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		   struct gl_kctx *ctx)
{
	struct norm s = {
		.cols = GL_ARG_U32(args, 1),
		.eps = GL_ARG_F32(args, 2),
		.x = GL_ARG_PTR(args, 3),
		.w = GL_ARG_PTR(args, 4),
		.y = GL_ARG_PTR(args, 5),
	};
	int err = gl_rmsnorm_check(args, grid);

	if (err)
		return err;
	return gl_cpu_rows(grid, ctx, GL_ARG_U32(args, 0), rmsnorm_row, &s);
}
