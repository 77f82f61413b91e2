/* SPDX-License-Identifier: MIT */
/*
 * Elementwise kernels, CPU twins of kernels/elementwise.cu: fill, copy,
 * add, mul, scale, saxpy, bias_add, relu, gelu, silu, activate.
 *
 * Invariant: element i is computed by the thread gl_cpu_1d() assigns it,
 * from element i of the inputs only, so y may be the very buffer x (or
 * a, or b) is: in place is allowed; a partial overlap is not.
 */
#include <math.h>

#include "kernels/cpu.h"

/* The resolved operands of one elementwise launch. */
struct ew {
	uint64_t n;
	float a;		/* fill's value, scale's and saxpy's a */
	uint64_t cols;		/* bias_add */
	uint32_t act;		/* activate: GL_ACT_* */
	const float *x;		/* first input */
	const float *b;		/* second input (add, mul) */
	float *y;
};

/*
 * ew_check - the shape every kernel here shares: a 1-D grid and @nbufs
 * buffers from argument @first on, each holding @n floats.
 */
static int ew_check(const struct gl_kargs *a, const struct gl_grid *g,
		    uint64_t n, unsigned int first, unsigned int nbufs)
{
	unsigned int i;
	int err;

	err = gl_kernel_grid_check_1d(g);
	if (err)
		return err;
	for (i = first; i < first + nbufs; i++) {
		err = gl_cpu_need_f32(a, i, n);
		if (err)
			return err;
	}
	return 0;
}

static void fill_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->a;
}

int gl_fill_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return ew_check(args, grid, GL_ARG_U32(args, 0), 2, 1);
}

int gl_fill_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	struct ew e = {
		.n = GL_ARG_U32(args, 0),
		.a = GL_ARG_F32(args, 1),
		.y = GL_ARG_PTR(args, 2),
	};
	int err = gl_fill_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, fill_thread, &e);
}

static void copy_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->x[i];
}

/* Kernels of the shape "u32 n, buf x, buf y". */
static int unary_check(const struct gl_kargs *args,
		       const struct gl_grid *grid)
{
	return ew_check(args, grid, GL_ARG_U32(args, 0), 1, 2);
}

static int unary_run(const struct gl_kargs *args, const struct gl_grid *grid,
		     struct gl_kctx *ctx,
		     void (*thread)(const void *, uint64_t))
{
	struct ew e = {
		.n = GL_ARG_U32(args, 0),
		.x = GL_ARG_PTR(args, 1),
		.y = GL_ARG_PTR(args, 2),
	};
	int err = unary_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, thread, &e);
}

int gl_copy_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return unary_check(args, grid);
}

int gl_copy_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	return unary_run(args, grid, ctx, copy_thread);
}

static void relu_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;
	float v = e->x[i];

	e->y[i] = v > 0.0f ? v : 0.0f;
}

int gl_relu_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return unary_check(args, grid);
}

int gl_relu_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	return unary_run(args, grid, ctx, relu_thread);
}

/* gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static void gelu_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;
	float v = e->x[i];
	float u = 0.7978845608f * (v + 0.044715f * v * v * v);

	e->y[i] = 0.5f * v * (1.0f + tanhf(u));
}

int gl_gelu_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return unary_check(args, grid);
}

int gl_gelu_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	return unary_run(args, grid, ctx, gelu_thread);
}

/* silu: x * sigmoid(x) = x / (1 + exp(-x)). */
static void silu_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;
	float v = e->x[i];

	e->y[i] = v / (1.0f + expf(-v));
}

int gl_silu_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return unary_check(args, grid);
}

int gl_silu_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	return unary_run(args, grid, ctx, silu_thread);
}

static void add_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->x[i] + e->b[i];
}

static void mul_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->x[i] * e->b[i];
}

/* Kernels of the shape "u32 n, buf a, buf b, buf y". */
static int binary_check(const struct gl_kargs *args,
			const struct gl_grid *grid)
{
	return ew_check(args, grid, GL_ARG_U32(args, 0), 1, 3);
}

static int binary_run(const struct gl_kargs *args, const struct gl_grid *grid,
		      struct gl_kctx *ctx,
		      void (*thread)(const void *, uint64_t))
{
	struct ew e = {
		.n = GL_ARG_U32(args, 0),
		.x = GL_ARG_PTR(args, 1),
		.b = GL_ARG_PTR(args, 2),
		.y = GL_ARG_PTR(args, 3),
	};
	int err = binary_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, thread, &e);
}

int gl_add_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return binary_check(args, grid);
}

int gl_add_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
	       struct gl_kctx *ctx)
{
	return binary_run(args, grid, ctx, add_thread);
}

int gl_mul_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return binary_check(args, grid);
}

int gl_mul_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
	       struct gl_kctx *ctx)
{
	return binary_run(args, grid, ctx, mul_thread);
}

static void scale_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->a * e->x[i];
}

static void saxpy_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] = e->a * e->x[i] + e->y[i];
}

/* Kernels of the shape "u32 n, f32 a, buf x, buf y". */
static int axy_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return ew_check(args, grid, GL_ARG_U32(args, 0), 2, 2);
}

/* Inlined into each kernel, so @thread is a known call the compiler can
 * fold into gl_cpu_1d()'s loop: no indirect call per element. */
static inline __attribute__((always_inline))
int axy_run(const struct gl_kargs *args, const struct gl_grid *grid,
	    struct gl_kctx *ctx, void (*thread)(const void *, uint64_t))
{
	struct ew e = {
		.n = GL_ARG_U32(args, 0),
		.a = GL_ARG_F32(args, 1),
		.x = GL_ARG_PTR(args, 2),
		.y = GL_ARG_PTR(args, 3),
	};
	int err = axy_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, thread, &e);
}

int gl_scale_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return axy_check(args, grid);
}

int gl_scale_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		 struct gl_kctx *ctx)
{
	return axy_run(args, grid, ctx, scale_thread);
}

int gl_saxpy_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	return axy_check(args, grid);
}

int gl_saxpy_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		 struct gl_kctx *ctx)
{
	return axy_run(args, grid, ctx, saxpy_thread);
}

static void bias_add_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;

	e->y[i] += e->x[i % e->cols];
}

/* bias_add(u32 rows, u32 cols, buf bias, buf x): x[r][c] += bias[c]. */
int gl_bias_add_check(const struct gl_kargs *args,
		      const struct gl_grid *grid)
{
	uint64_t rows = GL_ARG_U32(args, 0), cols = GL_ARG_U32(args, 1);
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = gl_cpu_need_f32(args, 2, cols);
	if (err)
		return err;
	return gl_cpu_need_f32_3(args, 3, rows, cols, 1);
}

int gl_bias_add_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		    struct gl_kctx *ctx)
{
	struct ew e = {
		.n = (uint64_t)GL_ARG_U32(args, 0) * GL_ARG_U32(args, 1),
		.cols = GL_ARG_U32(args, 1),
		.x = GL_ARG_PTR(args, 2),
		.y = GL_ARG_PTR(args, 3),
	};
	int err = gl_bias_add_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, bias_add_thread, &e);
}

/* activate: the body of kernels/elementwise.cu's, expression for expression */
static void activate_thread(const void *arg, uint64_t i)
{
	const struct ew *e = arg;
	float v = e->x[i];

	if (e->act == GL_ACT_RELU)
		v = v > 0.0f ? v : 0.0f;
	else if (e->act == GL_ACT_GELU_ERF)
		v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
	else if (e->act == GL_ACT_TANH)
		v = tanhf(v);
	else if (e->act == GL_ACT_SIGMOID)
		v = 1.0f / (1.0f + expf(-v));
	e->y[i] = v;
}

/* activate(u32 n, u32 act, buf x, buf y): -EINVAL for act >= GL_ACT_COUNT */
int gl_activate_check(const struct gl_kargs *args,
		      const struct gl_grid *grid)
{
	if (GL_ARG_U32(args, 1) >= GL_ACT_COUNT)
		return -EINVAL;
	return ew_check(args, grid, GL_ARG_U32(args, 0), 2, 2);
}

int gl_activate_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		    struct gl_kctx *ctx)
{
	struct ew e = {
		.n = GL_ARG_U32(args, 0),
		.act = GL_ARG_U32(args, 1),
		.x = GL_ARG_PTR(args, 2),
		.y = GL_ARG_PTR(args, 3),
	};
	int err = gl_activate_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, e.n, activate_thread, &e);
}
