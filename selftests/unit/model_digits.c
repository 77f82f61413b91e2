/* SPDX-License-Identifier: MIT */
/*
 * model_digits.c - a gpulease-mlp trained on real data, end to end:
 * selftests/fixtures/train_digits.py trains 64 -> 64 relu -> 10 on
 * scikit-learn's digits and writes it (config.json, F32 and BF16
 * safetensors) with 450 held-out rows, their labels and the f64 logits a
 * plain numpy forward pass computes over each file's weights. The model
 * goes through the real parsers (hf_config_parse, st_parse, hf_mlp_map)
 * and mlp.c, the rows in batches of 64 (the last one short): held-out
 * accuracy at least 0.95 and every logit within 1e-5 absolute of the
 * reference (f32 against f64, logits up to |21|; measured max 2.4e-6).
 * Skipped without numpy or scikit-learn in /usr/bin/python3.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/mlp.h"
#include "selftests/harness.h"
#define MODEL_FIXTURE_MLP
#include "selftests/unit/model_fixture.h"

#define IN	64
#define OUT	10
#define BATCH	64u
#define MIN_ROWS 400u	/* the fixture holds out 450 */

MLP_FIXTURE("gl-digits")

#define NEED_FIXTURES()							\
	do {								\
		int _r;							\
		if (system("/usr/bin/python3 -c 'import sklearn' "	\
			   ">/dev/null 2>&1"))				\
			SKIP(return, "no python3-sklearn");		\
		_r = run_fixture("train_digits.py", self->dir, "");	\
		if (_r > 0)						\
			SKIP(return, "no /usr/bin/python3 with numpy");	\
		ASSERT_EQ(_r, 0);					\
	} while (0)

/* argmax - the first largest of @n floats */
static unsigned int argmax(const float *z, unsigned int n)
{
	unsigned int i, best = 0;

	for (i = 1; i < n; i++)
		if (z[i] > z[best])
			best = i;
	return best;
}

/*
 * check - every held-out row of @dir through @file, batched: the
 * logits against @ref (f64) and the accuracy against test-y.bin
 */
static void check(const char *dir, const char *file, const char *ref)
{
	struct blob x, y, want;
	unsigned int n, r, i, rows, right = 0, far = 0;
	double worst = 0, worst_want = 0;
	struct mlp_model m;

	ASSERT_EQ(slurp(dir, "test-x.bin", &x), 0);
	ASSERT_EQ(slurp(dir, "test-y.bin", &y), 0);
	ASSERT_EQ(slurp(dir, ref, &want), 0);
	n = y.len;
	ASSERT_GE(n, MIN_ROWS);
	ASSERT_EQ(x.len, (size_t)n * IN * sizeof(float));
	ASSERT_EQ(want.len, (size_t)n * OUT * sizeof(double));
	ASSERT_EQ(mlp_model_load(dir, file, &m, BATCH, false), 0);
	ASSERT_EQ(m.p.cfg.layer[0].in, (uint32_t)IN);
	ASSERT_EQ(m.p.cfg.layer[m.p.cfg.n_layers - 1].out, (uint32_t)OUT);
	for (r = 0; r < n; r += rows) {
		const float *out;

		rows = n - r < BATCH ? n - r : BATCH;
		memcpy(mlp_input(&m.p, m.base), x.p + (size_t)r * IN * 4,
		       (size_t)rows * IN * 4);
		ASSERT_EQ(mlp_forward(&m.p, m.base, rows, NULL, NULL), 0);
		out = mlp_output(&m.p, m.base);
		for (i = 0; i < rows * OUT; i++) {
			double w, d;

			memcpy(&w, want.p + ((size_t)r * OUT + i) * 8, 8);
			d = fabs((double)out[i] - w);
			if (!(d <= 1e-5))
				far++;
			if (!(d <= worst)) {
				worst = d;
				worst_want = w;
			}
		}
		for (i = 0; i < rows; i++)
			right += argmax(out + i * OUT, OUT) == y.p[r + i];
	}
	TH_LOG("%s: %u/%u right, max |err| %.3g at logit %.3g", file, right,
	       n, worst, worst_want);
	EXPECT_EQ(far, 0u)
		TH_LOG("%s: %u logits beyond 1e-5", file, far);
	EXPECT_GE(right * 100ull, n * 95ull)
		TH_LOG("%s: held-out accuracy %u/%u under 0.95", file, right,
		       n);
	free(m.base);
	free(x.p);
	free(y.p);
	free(want.p);
}

TEST_F(fx, f32_accuracy_and_logits)
{
	NEED_FIXTURES();
	check(self->dir, "model.safetensors", "ref.bin");
}

TEST_F(fx, bf16_accuracy_and_logits)
{
	NEED_FIXTURES();
	check(self->dir, "model-bf16.safetensors", "ref-bf16.bin");
}

TEST_HARNESS_MAIN
