/* SPDX-License-Identifier: MIT */
/*
 * rows.c - the row kernels on the CPU (softmax, layernorm, rmsnorm,
 * argmax) against scalar references in double: 3 rows of 1, 7, 1023 and
 * 4097 columns, block sizes 1, 32, 100, 256 and 1024, one block per row
 * and a grid-stride grid of 2 blocks. Tolerances: softmax 1e-6 + 1e-5
 * |want|; layernorm and rmsnorm 1e-5 + 1e-4 |want| (f32 sums of up to
 * 4097 terms); argmax exact, ties to the lowest column, NaN never wins.
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

TEST(softmax)
{
	struct rows_bufs *rb = rows_bufs();
	struct krand r = { 11 };
	struct gl_kargs a;
	unsigned int ci, bi, gi, i;
	char what[96];

	FOR_SHAPES(ci, bi) {
		uint32_t cols = col_sizes[ci], n = ROWS * cols;
		struct gl_grid grids[] = {
			kgrid(ROWS, blocks[bi]), kgrid(2, blocks[bi]),
		};

		for (gi = 0; gi < 2; gi++) {
			krand_fill(&r, rb->x, n, -20.0f, 20.0f);
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
			snprintf(what, sizeof(what), "softmax cols=%u block=%u"
				 " grid #%u", cols, blocks[bi], gi);
			EXPECT_EQ(kcompare(what, gi ? rb->x : rb->y, rb->want,
					   n, 1e-6, 1e-5), 0u);
		}
	}
	free(rb);
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

static void norm_case(const char *name, bool layer)
{
	struct rows_bufs *rb = rows_bufs();
	struct krand r = { layer ? 12u : 13u };
	const float eps = 1e-5f;
	struct gl_kargs a;
	unsigned int ci, bi, gi, i;
	char what[96];

	FOR_SHAPES(ci, bi) {
		uint32_t cols = col_sizes[ci], n = ROWS * cols;
		struct gl_grid grids[] = {
			kgrid(ROWS, blocks[bi]), kgrid(2, blocks[bi]),
		};

		for (gi = 0; gi < 2; gi++) {
			krand_fill(&r, rb->x, n, -4.0f, 4.0f);
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
			snprintf(what, sizeof(what), "%s cols=%u block=%u"
				 " grid #%u", name, cols, blocks[bi], gi);
			EXPECT_EQ(kcompare(what, gi ? rb->x : rb->y, rb->want,
					   n, 1e-5, 1e-4), 0u);
		}
	}
	free(rb);
}

TEST(layernorm)
{
	norm_case("layernorm", true);
}

TEST(rmsnorm)
{
	norm_case("rmsnorm", false);
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
