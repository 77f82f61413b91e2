/* SPDX-License-Identifier: MIT */
/*
 * elementwise.c - fill, copy, add, mul, scale, saxpy, bias_add, relu,
 * gelu and silu on the CPU against scalar references in double, on
 * random inputs of 1, 7, 1023 and 4097 elements, under three grids: the
 * client's ceil(n / 256) x 256, a short grid-stride one (3 x 64) and a
 * single thread. Tolerance |got - want| <= 1e-6 + 1e-6 |want| (exact
 * arithmetic gives at most 1 ulp), 1e-6 + 1e-5 |want| where tanhf or
 * expf is in the body (gelu, silu). activate: every act (none, relu,
 * erf gelu, tanh, sigmoid) against double, 1e-6 + 1e-5 |want|; an act
 * past the last is EINVAL and writes nothing.
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

static const uint32_t sizes[] = { 1, 7, 1023, 4097 };

#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXN 4097

enum ew_op { EW_FILL, EW_COPY, EW_ADD, EW_MUL, EW_SCALE, EW_SAXPY, EW_RELU,
	     EW_GELU, EW_SILU };

struct ew_case {
	const char *name;
	enum ew_op op;
	double rtol;
};

static const struct ew_case cases[] = {
	{ "fill", EW_FILL, 1e-6 },   { "copy", EW_COPY, 1e-6 },
	{ "add", EW_ADD, 1e-6 },     { "mul", EW_MUL, 1e-6 },
	{ "scale", EW_SCALE, 1e-6 }, { "saxpy", EW_SAXPY, 1e-6 },
	{ "relu", EW_RELU, 1e-6 },   { "gelu", EW_GELU, 1e-5 },
	{ "silu", EW_SILU, 1e-5 },
};

static double ref(enum ew_op op, double a, double x, double b, double y)
{
	switch (op) {
	case EW_FILL:
		return a;
	case EW_COPY:
		return x;
	case EW_ADD:
		return x + b;
	case EW_MUL:
		return x * b;
	case EW_SCALE:
		return a * x;
	case EW_SAXPY:
		return a * x + y;
	case EW_RELU:
		return x > 0 ? x : 0;
	case EW_GELU:
		return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) *
					   (x + 0.044715 * x * x * x)));
	case EW_SILU:
		return x / (1 + exp(-x));
	}
	return NAN;
}

/* Argument list of @op over @n elements, per its signature. */
static void ew_args(struct gl_kargs *a, enum ew_op op, uint32_t n, float s,
		    float *x, float *b, float *y)
{
	uint64_t len = (uint64_t)n * sizeof(float);

	memset(a, 0, sizeof(*a));
	kargs_u32(a, n);
	switch (op) {
	case EW_FILL:
		kargs_f32(a, s);
		break;
	case EW_SCALE:
	case EW_SAXPY:
		kargs_f32(a, s);
		kargs_buf(a, x, len);
		break;
	case EW_ADD:
	case EW_MUL:
		kargs_buf(a, x, len);
		kargs_buf(a, b, len);
		break;
	default:
		kargs_buf(a, x, len);
		break;
	}
	kargs_buf(a, y, len);
}

TEST(against_reference)
{
	static float x[MAXN], b[MAXN], y[MAXN], y0[MAXN];
	static double want[MAXN];
	struct krand r = { 7 };
	struct gl_kargs a;
	unsigned int c, s, gi, i;
	char what[96];

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (s = 0; s < NSIZES; s++) {
			uint32_t n = sizes[s];
			struct gl_grid grids[] = {
				kgrid_for(n, 256), kgrid(3, 64), kgrid(1, 1),
			};
			float sc = krand_f32(&r, -3.0f, 3.0f);

			for (gi = 0; gi < 3; gi++) {
				krand_fill(&r, x, n, -6.0f, 6.0f);
				krand_fill(&r, b, n, -6.0f, 6.0f);
				krand_fill(&r, y0, n, -6.0f, 6.0f);
				memcpy(y, y0, n * sizeof(float));
				for (i = 0; i < n; i++)
					want[i] = ref(cases[c].op, sc, x[i],
						      b[i], y0[i]);
				ew_args(&a, cases[c].op, n, sc, x, b, y);
				EXPECT_EQ(krun(cases[c].name, &a, &grids[gi]),
					  0);
				snprintf(what, sizeof(what), "%s n=%u grid #%u",
					 cases[c].name, n, gi);
				EXPECT_EQ(kcompare(what, y, want, n, 1e-6,
						   cases[c].rtol), 0u);
			}
		}
	}
}

static double act_ref(uint32_t act, double x)
{
	switch (act) {
	case GL_ACT_RELU:
		return x > 0 ? x : 0;
	case GL_ACT_GELU_ERF:
		return 0.5 * x * (1 + erf(x / sqrt(2)));
	case GL_ACT_TANH:
		return tanh(x);
	case GL_ACT_SIGMOID:
		return 1 / (1 + exp(-x));
	}
	return x;
}

TEST(activate)
{
	static float x[MAXN], y[MAXN];
	static double want[MAXN];
	struct gl_grid g = kgrid(3, 64);
	struct krand r = { 9 };
	struct gl_kargs a;
	uint32_t act, i;
	char what[64];

	for (act = 0; act <= GL_ACT_COUNT; act++) {
		krand_fill(&r, x, MAXN, -6.0f, 6.0f);
		memset(y, 0, sizeof(y));
		for (i = 0; i < MAXN; i++)
			want[i] = act_ref(act, x[i]);
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, MAXN);
		kargs_u32(&a, act);
		kargs_buf(&a, x, sizeof(x));
		kargs_buf(&a, y, sizeof(y));
		if (act == GL_ACT_COUNT) {
			EXPECT_EQ(krun("activate", &a, &g), -EINVAL);
			EXPECT_EQ(y[0], 0.0f);
			continue;
		}
		EXPECT_EQ(krun("activate", &a, &g), 0);
		snprintf(what, sizeof(what), "activate %u", act);
		EXPECT_EQ(kcompare(what, y, want, MAXN, 1e-6, 1e-5), 0u);
	}
}

TEST(in_place)
{
	static float x[MAXN];
	static double want[MAXN];
	struct gl_grid g = kgrid_for(MAXN, 256);
	struct krand r = { 8 };
	struct gl_kargs a;
	unsigned int i;

	krand_fill(&r, x, MAXN, -6.0f, 6.0f);
	for (i = 0; i < MAXN; i++)
		want[i] = ref(EW_SILU, 0, x[i], 0, 0);
	ew_args(&a, EW_SILU, MAXN, 0, x, NULL, x);
	EXPECT_EQ(krun("silu", &a, &g), 0);
	EXPECT_EQ(kcompare("silu in place", x, want, MAXN, 1e-6, 1e-5), 0u);
}

TEST(bias_add)
{
	static const uint32_t shapes[][2] = {
		{ 1, 1 }, { 7, 1 }, { 1, 1023 }, { 3, 4097 }, { 33, 7 },
	};
	static float x[3 * 4097], bias[4097];
	static double want[3 * 4097];
	struct krand r = { 9 };
	struct gl_kargs a;
	unsigned int s, i;
	char what[64];

	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		uint32_t rows = shapes[s][0], cols = shapes[s][1];
		uint64_t n = (uint64_t)rows * cols;
		struct gl_grid g = kgrid(5, 32);

		krand_fill(&r, x, n, -6.0f, 6.0f);
		krand_fill(&r, bias, cols, -6.0f, 6.0f);
		for (i = 0; i < n; i++)
			want[i] = (double)x[i] + bias[i % cols];
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, rows);
		kargs_u32(&a, cols);
		kargs_buf(&a, bias, cols * sizeof(float));
		kargs_buf(&a, x, n * sizeof(float));
		EXPECT_EQ(krun("bias_add", &a, &g), 0);
		snprintf(what, sizeof(what), "bias_add %ux%u", rows, cols);
		EXPECT_EQ(kcompare(what, x, want, n, 1e-6, 1e-6), 0u);
	}
}

/* n = 0 writes nothing and succeeds, even with empty buffers. */
TEST(empty)
{
	struct gl_grid g = kgrid(1, 256);
	struct gl_kargs a;

	ew_args(&a, EW_ADD, 0, 0, NULL, NULL, NULL);
	EXPECT_EQ(krun("add", &a, &g), 0);
}

TEST_HARNESS_MAIN
