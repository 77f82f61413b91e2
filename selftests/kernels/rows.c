/* SPDX-License-Identifier: MIT */
/*
 * rows.c - the row kernels on the CPU (softmax, layernorm, rmsnorm,
 * argmax) against scalar references in double: 3 rows of 1, 7, 1023 and
 * 4097 columns, block sizes 1, 32, 100, 256 and 1024, one block per row
 * and a grid-stride grid of 2 blocks. Tolerances: softmax 1e-6 + 1e-5
 * |want|; layernorm and rmsnorm 1e-5 + 1e-4 |want| (f32 sums of up to
 * 4097 terms); argmax exact, ties to the lowest column, NaN never wins.
 * Where the numerics matter: softmax of logits above 88 (exp overflows
 * f32 unless the row maximum is subtracted); norms of rows whose mean
 * square (variance) is near eps or far below it, and with eps = 1, where
 * an eps added twice or left out shows (inputs in [-4, 4] with eps 1e-5
 * hide it within tolerance).
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

#define ROWS 3
#define MAXC 4097

static const uint32_t col_sizes[] = { 1, 7, 1023, 4097 };
static const uint32_t blocks[] = { 1, 32, 100, 256, 1024 };

#define FOR_SHAPES(ci, bi)						\
	for (ci = 0; ci < sizeof(col_sizes) / sizeof(col_sizes[0]); ci++) \
		for (bi = 0; bi < sizeof(blocks) / sizeof(blocks[0]); bi++)

struct rows_bufs {
	float x[ROWS * MAXC], y[ROWS * MAXC], g[MAXC], b[MAXC];
	double want[ROWS * MAXC];
};

static void ref_softmax(const float *x, double *y, uint32_t cols)
{
	double m = -INFINITY, s = 0;
	uint32_t c;

	for (c = 0; c < cols; c++)
		m = fmax(m, x[c]);
	for (c = 0; c < cols; c++)
		s += exp(x[c] - m);
	for (c = 0; c < cols; c++)
		y[c] = exp(x[c] - m) / s;
}

static void ref_norm(const float *x, const float *g, const float *b,
		     double eps, double *y, uint32_t cols)
{
	double mean = 0, var = 0, ms = 0;
	uint32_t c;

	for (c = 0; c < cols; c++) {
		mean += x[c];
		ms += (double)x[c] * x[c];
	}
	mean /= cols;
	ms /= cols;
	for (c = 0; c < cols; c++)
		var += (x[c] - mean) * (x[c] - mean);
	var /= cols;
	for (c = 0; c < cols; c++)
		y[c] = b ? (x[c] - mean) / sqrt(var + eps) * g[c] + b[c]
			 : x[c] / sqrt(ms + eps) * g[c];
}

static struct rows_bufs *rows_bufs(void)
{
	struct rows_bufs *rb = calloc(1, sizeof(*rb));

	if (!rb)
		abort();
	return rb;
}

/* softmax over every shape, logits uniform in [@lo, @hi). */
static void softmax_case(float lo, float hi, unsigned int seed)
{
	struct rows_bufs *rb = rows_bufs();
	struct krand r = { seed };
	struct gl_kargs a;
	unsigned int ci, bi, gi, i;
	char what[96];

	FOR_SHAPES(ci, bi) {
		uint32_t cols = col_sizes[ci], n = ROWS * cols;
		struct gl_grid grids[] = {
			kgrid(ROWS, blocks[bi]), kgrid(2, blocks[bi]),
		};

		for (gi = 0; gi < 2; gi++) {
			krand_fill(&r, rb->x, n, lo, hi);
			for (i = 0; i < ROWS; i++)
				ref_softmax(rb->x + i * cols,
					    rb->want + i * cols, cols);
			memset(&a, 0, sizeof(a));
			kargs_u32(&a, ROWS);
			kargs_u32(&a, cols);
			kargs_buf(&a, rb->x, n * 4);
			/* odd grids run in place: y == x */
			kargs_buf(&a, gi ? rb->x : rb->y, n * 4);
			EXPECT_EQ(krun("softmax", &a, &grids[gi]), 0);
			snprintf(what, sizeof(what), "softmax [%g, %g) cols=%u "
				 "block=%u grid #%u", lo, hi, cols, blocks[bi],
				 gi);
			EXPECT_EQ(kcompare(what, gi ? rb->x : rb->y, rb->want,
					   n, 1e-6, 1e-5), 0u);
		}
	}
	free(rb);
}

TEST(softmax)
{
	softmax_case(-20.0f, 20.0f, 11);
}

/* exp(88.8) is past FLT_MAX: only a max-subtracting softmax survives. */
TEST(softmax_large_logits)
{
	softmax_case(88.5f, 89.5f, 15);
	softmax_case(80.0f, 200.0f, 16);
	softmax_case(-100.0f, 100.0f, 17);
}

/* -inf entries (a causal mask) get 0; an all -inf row is all 0. */
TEST(softmax_masked)
{
	float x[8] = { 1, -INFINITY, 2, -INFINITY, -INFINITY, -INFINITY,
		       -INFINITY, -INFINITY };
	double want[8] = { 0 };
	struct gl_grid g = kgrid(2, 3);
	struct gl_kargs a = { 0 };

	want[0] = 1 / (1 + exp(1.0));
	want[2] = 1 - want[0];
	kargs_u32(&a, 2);
	kargs_u32(&a, 4);
	kargs_buf(&a, x, sizeof(x));
	kargs_buf(&a, x, sizeof(x));
	EXPECT_EQ(krun("softmax", &a, &g), 0);
	EXPECT_EQ(kcompare("softmax masked", x, want, 8, 1e-7, 1e-6), 0u);
}

/* @name over every shape: eps @eps, x uniform in [-@span, @span). */
static void norm_case(const char *name, bool layer, float eps, float span,
		      unsigned int seed)
{
	struct rows_bufs *rb = rows_bufs();
	struct krand r = { seed };
	struct gl_kargs a;
	unsigned int ci, bi, gi, i;
	char what[96];

	FOR_SHAPES(ci, bi) {
		uint32_t cols = col_sizes[ci], n = ROWS * cols;
		struct gl_grid grids[] = {
			kgrid(ROWS, blocks[bi]), kgrid(2, blocks[bi]),
		};

		for (gi = 0; gi < 2; gi++) {
			krand_fill(&r, rb->x, n, -span, span);
			krand_fill(&r, rb->g, cols, 0.5f, 1.5f);
			krand_fill(&r, rb->b, cols, -1.0f, 1.0f);
			for (i = 0; i < ROWS; i++)
				ref_norm(rb->x + i * cols, rb->g,
					 layer ? rb->b : NULL, eps,
					 rb->want + i * cols, cols);
			memset(&a, 0, sizeof(a));
			kargs_u32(&a, ROWS);
			kargs_u32(&a, cols);
			kargs_f32(&a, eps);
			kargs_buf(&a, rb->x, n * 4);
			kargs_buf(&a, rb->g, cols * 4);
			if (layer)
				kargs_buf(&a, rb->b, cols * 4);
			kargs_buf(&a, gi ? rb->x : rb->y, n * 4);
			EXPECT_EQ(krun(name, &a, &grids[gi]), 0);
			snprintf(what, sizeof(what), "%s eps=%g span=%g cols=%u"
				 " block=%u grid #%u", name, eps, span, cols,
				 blocks[bi], gi);
			EXPECT_EQ(kcompare(what, gi ? rb->x : rb->y, rb->want,
					   n, 1e-5, 1e-4), 0u);
		}
	}
	free(rb);
}

/*
 * Uniform in [-s, s) has mean square s^2 / 3: span sqrt(3 eps) puts it at
 * eps, a tenth of that far below; eps = 1 makes eps as large as the data.
 */
static void norm_numerics(const char *name, bool layer)
{
	norm_case(name, layer, 1e-5f, 5.477e-3f, 21);	/* ms ~ eps */
	norm_case(name, layer, 1e-5f, 5.477e-4f, 22);	/* ms ~ eps/100 */
	norm_case(name, layer, 1.0f, 4.0f, 23);
	norm_case(name, layer, 1.0f, 1.0f, 24);
}

TEST(layernorm)
{
	norm_case("layernorm", true, 1e-5f, 4.0f, 12);
}

TEST(rmsnorm)
{
	norm_case("rmsnorm", false, 1e-5f, 4.0f, 13);
}

TEST(layernorm_eps_matters)
{
	norm_numerics("layernorm", true);
}

TEST(rmsnorm_eps_matters)
{
	norm_numerics("rmsnorm", false);
}

static uint32_t ref_argmax(const float *x, uint32_t cols)
{
	uint32_t c, best = UINT32_MAX;

	for (c = 0; c < cols; c++)
		if (!isnan(x[c]) && (best == UINT32_MAX || x[c] > x[best]))
			best = c;
	return best == UINT32_MAX ? 0 : best;
}

TEST(argmax)
{
	struct rows_bufs *rb = rows_bufs();
	uint32_t out[ROWS];
	struct krand r = { 14 };
	struct gl_kargs a;
	unsigned int ci, bi, gi, i;

	FOR_SHAPES(ci, bi) {
		uint32_t cols = col_sizes[ci], n = ROWS * cols;
		struct gl_grid grids[] = {
			kgrid(ROWS, blocks[bi]), kgrid(2, blocks[bi]),
		};

		for (gi = 0; gi < 2; gi++) {
			krand_fill(&r, rb->x, n, -5.0f, 5.0f);
			/* row 1: a tie at two columns; row 2: NaNs first */
			rb->x[cols + cols / 2] = 9.0f;
			rb->x[cols + cols - 1] = 9.0f;
			rb->x[2 * cols] = NAN;
			rb->x[2 * cols + cols / 3] = NAN;
			memset(&a, 0, sizeof(a));
			kargs_u32(&a, ROWS);
			kargs_u32(&a, cols);
			kargs_buf(&a, rb->x, n * 4);
			kargs_buf(&a, out, sizeof(out));
			EXPECT_EQ(krun("argmax", &a, &grids[gi]), 0);
			for (i = 0; i < ROWS; i++)
				EXPECT_EQ(out[i],
					  ref_argmax(rb->x + i * cols, cols))
					TH_LOG("argmax row %u cols=%u block=%u",
					       i, cols, blocks[bi]);
		}
	}
	free(rb);
}

TEST(argmax_edges)
{
	float x[6] = { NAN, NAN, -INFINITY, NAN, -INFINITY, -INFINITY };
	uint32_t out[3] = { 7, 7, 7 };
	struct gl_grid g = kgrid(3, 2);
	struct gl_kargs a = { 0 };

	kargs_u32(&a, 3);
	kargs_u32(&a, 2);
	kargs_buf(&a, x, sizeof(x));
	kargs_buf(&a, out, sizeof(out));
	EXPECT_EQ(krun("argmax", &a, &g), 0);
	EXPECT_EQ(out[0], 0u);	/* all NaN */
	EXPECT_EQ(out[1], 0u);	/* -inf beats NaN */
	EXPECT_EQ(out[2], 0u);	/* tie of -inf: lowest */
}

TEST_HARNESS_MAIN
