/* SPDX-License-Identifier: MIT */
/*
 * attention.c - the transformer kernels on the CPU against scalar
 * references in double: embedding (exact, ids past vocab give zeros),
 * rope (1e-4 + 1e-4 |want| up to position 1030: the f32 angle is off
 * by about pos * 2^-24 rad), attn_scores and attn_values (1e-4 + 1e-5
 * |want|: f32 dot products of up to 64 terms), with grouped-query heads,
 * causal and full masks, prefill and decode shapes, and a whole
 * attention (scores, softmax, values) against a naive one; a worker that
 * owns the whole grid gets the same bits as workers that split it.
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

TEST(embedding)
{
	static const uint32_t dims[] = { 1, 7, 1023 };
	static float table[13 * 1023], out[9 * 1023];
	static double want[9 * 1023];
	uint32_t ids[9], vocab = 13, t, d;
	struct krand r = { 21 };
	struct gl_kargs a;
	unsigned int di;

	for (di = 0; di < 3; di++) {
		uint32_t dim = dims[di];
		struct gl_grid g = kgrid(4, 128);

		krand_fill(&r, table, vocab * dim, -2.0f, 2.0f);
		for (t = 0; t < 9; t++)
			ids[t] = (uint32_t)(krand_u64(&r) % vocab);
		ids[3] = vocab;		/* out of range: zeros */
		ids[5] = UINT32_MAX;
		for (t = 0; t < 9; t++)
			for (d = 0; d < dim; d++)
				want[t * dim + d] = ids[t] < vocab ?
					table[ids[t] * dim + d] : 0.0;
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, 9);
		kargs_u32(&a, dim);
		kargs_u32(&a, vocab);
		kargs_buf(&a, ids, sizeof(ids));
		kargs_buf(&a, table, (uint64_t)vocab * dim * 4);
		kargs_buf(&a, out, 9ull * dim * 4);
		EXPECT_EQ(krun("embedding", &a, &g), 0);
		EXPECT_EQ(kcompare("embedding", out, want, 9 * dim, 0, 0), 0u);
	}
}

TEST(rope)
{
	static const uint32_t shapes[][4] = {	/* seq, heads, hd, pos0 */
		{ 1, 1, 2, 0 }, { 7, 3, 8, 0 }, { 5, 4, 64, 17 },
		{ 1, 8, 128, 1023 }, { 7, 2, 6, 1 },
	};
	static float x[7 * 8 * 128];
	static double want[7 * 8 * 128];
	struct krand r = { 22 };
	const double theta = 10000.0;
	struct gl_kargs a;
	unsigned int si;
	char what[64];

	for (si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		uint32_t seq = shapes[si][0], nh = shapes[si][1];
		uint32_t hd = shapes[si][2], pos0 = shapes[si][3];
		uint64_t n = (uint64_t)seq * nh * hd, i;
		struct gl_grid g = kgrid(3, 64);

		krand_fill(&r, x, n, -2.0f, 2.0f);
		for (i = 0; i < n; i += 2) {
			uint64_t p = (i % hd) / 2, s = i / hd / nh;
			double ang = (pos0 + s) * pow(theta, -2.0 * p / hd);

			want[i] = x[i] * cos(ang) - x[i + 1] * sin(ang);
			want[i + 1] = x[i] * sin(ang) + x[i + 1] * cos(ang);
		}
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, seq);
		kargs_u32(&a, nh);
		kargs_u32(&a, hd);
		kargs_u32(&a, pos0);
		kargs_f32(&a, (float)theta);
		kargs_buf(&a, x, n * 4);
		EXPECT_EQ(krun("rope", &a, &g), 0);
		snprintf(what, sizeof(what), "rope #%u", si);
		EXPECT_EQ(kcompare(what, x, want, n, 1e-4, 1e-4), 0u);
	}
}

/*
 * rope_half: Hugging Face's rotate-half, element p of a head paired with
 * p + hd/2 (q * cos + rotate_half(q) * sin), same angles as rope.
 */
TEST(rope_half)
{
	static const uint32_t shapes[][4] = {	/* seq, heads, hd, pos0 */
		{ 1, 1, 2, 0 }, { 7, 3, 8, 0 }, { 5, 4, 64, 17 },
		{ 1, 8, 128, 1023 }, { 7, 2, 6, 1 },
	};
	static float x[7 * 8 * 128];
	static double want[7 * 8 * 128];
	struct krand r = { 23 };
	const double theta = 500000.0;
	struct gl_kargs a;
	unsigned int si;
	char what[64];

	for (si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		uint32_t seq = shapes[si][0], nh = shapes[si][1];
		uint32_t hd = shapes[si][2], pos0 = shapes[si][3];
		uint64_t n = (uint64_t)seq * nh * hd, i;
		struct gl_grid g = kgrid(3, 64);

		krand_fill(&r, x, n, -2.0f, 2.0f);
		for (i = 0; i < n; i++) {
			uint64_t j = i % hd, p = j % (hd / 2), s = i / hd / nh;
			double ang = (pos0 + s) * pow(theta, -2.0 * p / hd);
			double rot = j < hd / 2 ? -x[i + hd / 2] :
				     x[i - hd / 2];

			want[i] = x[i] * cos(ang) + rot * sin(ang);
		}
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, seq);
		kargs_u32(&a, nh);
		kargs_u32(&a, hd);
		kargs_u32(&a, pos0);
		kargs_f32(&a, (float)theta);
		kargs_buf(&a, x, n * 4);
		EXPECT_EQ(krun("rope_half", &a, &g), 0);
		snprintf(what, sizeof(what), "rope_half #%u", si);
		EXPECT_EQ(kcompare(what, x, want, n, 1e-4, 1e-4), 0u);
	}
}

/*
 * A worker that owns the whole grid (a model's step) computes a token's
 * angles once for all its heads: the same bits as workers that split
 * the grid, in both conventions, for every shape of the tests above and
 * a head of 1026 (past the table the whole-grid path keeps).
 */
TEST(rope_whole_grid_is_the_same_bits_as_split)
{
	static const uint32_t shapes[][4] = {	/* seq, heads, hd, pos0 */
		{ 1, 1, 2, 0 }, { 7, 3, 8, 0 }, { 5, 4, 64, 17 },
		{ 1, 8, 128, 1023 }, { 7, 2, 6, 1 }, { 1, 6, 48, 200 },
		{ 2, 1, 1026, 5 },
	};
	static const char *const names[] = { "rope", "rope_half" };
	static float x[7 * 8 * 128], one_x[7 * 8 * 128], all_x[7 * 8 * 128];
	struct krand r = { 26 };
	struct gl_kargs a;
	unsigned int si, nm, b;

	for (nm = 0; nm < 2; nm++)
	for (si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		uint32_t seq = shapes[si][0], nh = shapes[si][1];
		uint32_t hd = shapes[si][2], pos0 = shapes[si][3];
		uint64_t n = (uint64_t)seq * nh * hd;
		struct gl_grid g = kgrid(3, 32);
		struct gl_kctx all = { NULL, 0, 3 }, one = { NULL, 0, 0 };
		int (*run)(const struct gl_kargs *, const struct gl_grid *,
			   struct gl_kctx *) = nm ? gl_rope_half_cpu :
						    gl_rope_cpu;

		ASSERT_LE(n, sizeof(x) / sizeof(x[0]));
		krand_fill(&r, x, n, -2.0f, 2.0f);
		memcpy(all_x, x, n * 4);
		memcpy(one_x, x, n * 4);
		memset(&a, 0, sizeof(a));
		kargs_u32(&a, seq);
		kargs_u32(&a, nh);
		kargs_u32(&a, hd);
		kargs_u32(&a, pos0);
		kargs_f32(&a, nm ? 500000.0f : 10000.0f);
		kargs_buf(&a, all_x, n * 4);
		ASSERT_EQ(run(&a, &g, &all), 0);
		a.v[5].buf.ptr = one_x;
		for (b = 0; b < 3; b++) {
			one.block_begin = b;
			one.block_end = b + 1;
			ASSERT_EQ(run(&a, &g, &one), 0);
		}
		EXPECT_EQ(memcmp(all_x, one_x, n * 4), 0)
			TH_LOG("%s shape #%u", names[nm], si);
		if (pos0 + seq > 1)	/* else every angle is 0 */
			EXPECT_NE(memcmp(all_x, x, n * 4), 0)
				TH_LOG("%s shape #%u turned nothing",
				       names[nm], si);
	}
}

TEST(rope_odd_head_dim_is_einval)
{
	struct gl_grid g = kgrid(1, 32);
	struct gl_kargs a = { 0 };
	float x[3] = { 1, 2, 3 };

	kargs_u32(&a, 1);
	kargs_u32(&a, 1);
	kargs_u32(&a, 3);
	kargs_u32(&a, 0);
	kargs_f32(&a, 10000.0f);
	kargs_buf(&a, x, sizeof(x));
	EXPECT_EQ(krun("rope", &a, &g), -EINVAL);
}

/* One attention problem: shape and the buffers of every stage. */
struct attn_case {
	uint32_t seq_q, seq_k, nh, nkv, hd, pos0, causal;
	float *q, *k, *v, *s, *out;
	double *want;
};

static void attn_args_scores(struct gl_kargs *a, const struct attn_case *c,
			     float scale)
{
	memset(a, 0, sizeof(*a));
	kargs_u32(a, c->seq_q);
	kargs_u32(a, c->seq_k);
	kargs_u32(a, c->nh);
	kargs_u32(a, c->nkv);
	kargs_u32(a, c->hd);
	kargs_u32(a, c->pos0);
	kargs_u32(a, c->causal);
	kargs_f32(a, scale);
	kargs_buf(a, c->q, 4ull * c->seq_q * c->nh * c->hd);
	kargs_buf(a, c->k, 4ull * c->seq_k * c->nkv * c->hd);
	kargs_buf(a, c->s, 4ull * c->nh * c->seq_q * c->seq_k);
}

static void attn_args_values(struct gl_kargs *a, const struct attn_case *c)
{
	memset(a, 0, sizeof(*a));
	kargs_u32(a, c->seq_q);
	kargs_u32(a, c->seq_k);
	kargs_u32(a, c->nh);
	kargs_u32(a, c->nkv);
	kargs_u32(a, c->hd);
	kargs_buf(a, c->s, 4ull * c->nh * c->seq_q * c->seq_k);
	kargs_buf(a, c->v, 4ull * c->seq_k * c->nkv * c->hd);
	kargs_buf(a, c->out, 4ull * c->seq_q * c->nh * c->hd);
}

static void softmax_args(struct gl_kargs *a, const struct attn_case *c)
{
	uint64_t len = 4ull * c->nh * c->seq_q * c->seq_k;

	memset(a, 0, sizeof(*a));
	kargs_u32(a, c->nh * c->seq_q);
	kargs_u32(a, c->seq_k);
	kargs_buf(a, c->s, len);
	kargs_buf(a, c->s, len);
}

#define MAXE (7 * 8 * 64)	/* seq * heads * head_dim, the largest */
#define MAXS (8 * 7 * 33)	/* heads * seq_q * seq_k */

static const uint32_t attn_shapes[][7] = {
	/* seq_q, seq_k, heads, kv heads, head_dim, pos0, causal */
	{ 1, 1, 1, 1, 1, 0, 1 },	/* smallest */
	{ 7, 7, 4, 4, 8, 0, 1 },	/* prefill, multi-head */
	{ 7, 7, 8, 2, 64, 0, 0 },	/* GQA, no mask */
	{ 1, 33, 8, 1, 64, 32, 1 },	/* decode, MQA */
	{ 3, 33, 4, 2, 7, 30, 1 },	/* chunk after a cache */
};

/* Naive attention of @c in double, into c->want [seq_q][nh][hd]. */
static void ref_attention(const struct attn_case *c, double scale,
			  double *sc)
{
	uint32_t h, i, j, d, g = c->nh / c->nkv;
	double m, sum;

	for (i = 0; i < c->seq_q; i++) {
		for (h = 0; h < c->nh; h++) {
			m = -INFINITY;
			for (j = 0; j < c->seq_k; j++) {
				const float *q = c->q + (i * c->nh + h) * c->hd;
				const float *k = c->k +
					(j * c->nkv + h / g) * c->hd;
				double dot = 0;

				for (d = 0; d < c->hd; d++)
					dot += (double)q[d] * k[d];
				sc[j] = c->causal && j > c->pos0 + i ?
					-INFINITY : scale * dot;
				m = fmax(m, sc[j]);
			}
			for (sum = 0, j = 0; j < c->seq_k; j++)
				sum += sc[j] = exp(sc[j] - m);
			for (d = 0; d < c->hd; d++) {
				double o = 0;

				for (j = 0; j < c->seq_k; j++)
					o += sc[j] / sum *
					     c->v[(j * c->nkv + h / g) * c->hd +
						  d];
				c->want[(i * c->nh + h) * c->hd + d] = o;
			}
		}
	}
}

TEST(scores_softmax_values)
{
	static float q[MAXE], k[MAXE], v[MAXE], s[MAXS], out[MAXE];
	static double want[MAXE], sc[64];
	struct krand r = { 23 };
	struct gl_kargs a;
	unsigned int si;
	char what[64];

	for (si = 0; si < sizeof(attn_shapes) / sizeof(attn_shapes[0]);
	     si++) {
		const uint32_t *sh = attn_shapes[si];
		struct attn_case c = {
			sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6],
			q, k, v, s, out, want,
		};
		float scale = 1.0f / sqrtf((float)c.hd);
		struct gl_grid g = kgrid(5, 64);

		krand_fill(&r, q, c.seq_q * c.nh * c.hd, -2.0f, 2.0f);
		krand_fill(&r, k, c.seq_k * c.nkv * c.hd, -2.0f, 2.0f);
		krand_fill(&r, v, c.seq_k * c.nkv * c.hd, -2.0f, 2.0f);
		ref_attention(&c, scale, sc);
		attn_args_scores(&a, &c, scale);
		EXPECT_EQ(krun("attn_scores", &a, &g), 0);
		softmax_args(&a, &c);
		EXPECT_EQ(krun("softmax", &a, &g), 0);
		attn_args_values(&a, &c);
		EXPECT_EQ(krun("attn_values", &a, &g), 0);
		snprintf(what, sizeof(what), "attention #%u", si);
		EXPECT_EQ(kcompare(what, out, want, c.seq_q * c.nh * c.hd,
				   1e-4, 1e-4), 0u);
	}
}

/* attn_scores alone: masked entries are exactly -inf, the rest scaled. */
TEST(scores_alone)
{
	static float q[MAXE], k[MAXE], s[MAXS];
	static double want[MAXS];
	struct krand r = { 24 };
	struct gl_kargs a;
	unsigned int si;
	char what[64];

	for (si = 0; si < sizeof(attn_shapes) / sizeof(attn_shapes[0]);
	     si++) {
		const uint32_t *sh = attn_shapes[si];
		struct attn_case c = {
			sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6],
			q, k, NULL, s, NULL, NULL,
		};
		uint32_t h, i, j, d, grp = c.nh / c.nkv;
		struct gl_grid g = kgrid_for(c.nh * c.seq_q * c.seq_k, 256);

		krand_fill(&r, q, c.seq_q * c.nh * c.hd, -2.0f, 2.0f);
		krand_fill(&r, k, c.seq_k * c.nkv * c.hd, -2.0f, 2.0f);
		for (h = 0; h < c.nh; h++)
			for (i = 0; i < c.seq_q; i++)
				for (j = 0; j < c.seq_k; j++) {
					double dot = 0;
					uint64_t o = ((uint64_t)h * c.seq_q +
						      i) * c.seq_k + j;
					const float *qr, *kr;

					qr = q + (i * c.nh + h) * c.hd;
					kr = k + (j * c.nkv + h / grp) * c.hd;
					for (d = 0; d < c.hd; d++)
						dot += (double)qr[d] * kr[d];
					want[o] = c.causal && j > c.pos0 + i ?
						-INFINITY : 0.5 * dot;
				}
		attn_args_scores(&a, &c, 0.5f);
		EXPECT_EQ(krun("attn_scores", &a, &g), 0);
		snprintf(what, sizeof(what), "attn_scores #%u", si);
		EXPECT_EQ(kcompare(what, s, want, c.nh * c.seq_q * c.seq_k,
				   1e-4, 1e-5), 0u);
	}
}

/*
 * A worker that owns the whole grid (a model's step) computes several
 * scores or outputs side by side: each must be the same bits as when
 * workers split the grid (one element at a time), for every shape, and
 * for head_dim 48 and seq_k 37 (the side-by-side run and its rest).
 */
TEST(whole_grid_is_the_same_bits_as_split)
{
	static const uint32_t more[][7] = {
		{ 1, 37, 6, 6, 48, 36, 1 },	/* decode, stories15M heads */
		{ 5, 37, 6, 3, 48, 20, 1 },	/* chunk, GQA */
	};
	enum { E = 37 * 6 * 48, S = 6 * 5 * 37 };	/* the largest */
	static float q[E], k[E], v[E], s[S], s2[S], out[E], out2[E];
	struct gl_kargs a;
	struct krand r = { 25 };
	unsigned int si, b, nsh = sizeof(attn_shapes) / sizeof(attn_shapes[0]);

	for (si = 0; si < nsh + 2; si++) {
		const uint32_t *sh = si < nsh ? attn_shapes[si] :
				     more[si - nsh];
		struct attn_case c = {
			sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6],
			q, k, v, s, out, NULL,
		};
		struct gl_grid g = kgrid(3, 32);
		struct gl_kctx all = { NULL, 0, 3 }, one = { NULL, 0, 0 };

		uint64_t ns = 4ull * c.nh * c.seq_q * c.seq_k;
		uint64_t no = 4ull * c.seq_q * c.nh * c.hd;

		ASSERT_LE(c.seq_k * c.nkv * c.hd, (uint32_t)E);
		ASSERT_LE(c.seq_q * c.nh * c.hd, (uint32_t)E);
		ASSERT_LE(c.nh * c.seq_q * c.seq_k, (uint32_t)S);
		krand_fill(&r, q, c.seq_q * c.nh * c.hd, -2.0f, 2.0f);
		krand_fill(&r, k, c.seq_k * c.nkv * c.hd, -2.0f, 2.0f);
		krand_fill(&r, v, c.seq_k * c.nkv * c.hd, -2.0f, 2.0f);
		attn_args_scores(&a, &c, 0.3f);
		ASSERT_EQ(gl_attn_scores_cpu(&a, &g, &all), 0);
		memcpy(s2, s, ns);
		memset(s, 0, ns);
		for (b = 0; b < 3; b++) {
			one.block_begin = b;
			one.block_end = b + 1;
			ASSERT_EQ(gl_attn_scores_cpu(&a, &g, &one), 0);
		}
		EXPECT_EQ(memcmp(s, s2, ns), 0)
			TH_LOG("attn_scores shape #%u", si);
		krand_fill(&r, s, c.nh * c.seq_q * c.seq_k, 0.0f, 1.0f);
		attn_args_values(&a, &c);
		ASSERT_EQ(gl_attn_values_cpu(&a, &g, &all), 0);
		memcpy(out2, out, no);
		memset(out, 0, no);
		for (b = 0; b < 3; b++) {
			one.block_begin = b;
			one.block_end = b + 1;
			ASSERT_EQ(gl_attn_values_cpu(&a, &g, &one), 0);
		}
		EXPECT_EQ(memcmp(out, out2, no), 0)
			TH_LOG("attn_values shape #%u", si);
	}
}

TEST(heads_must_group)
{
	static float buf[64];
	struct attn_case c = { 1, 1, 3, 2, 4, 0, 1, buf, buf, buf, buf,
			       buf, NULL };
	struct gl_grid g = kgrid(1, 32);
	struct gl_kargs a;

	attn_args_scores(&a, &c, 1.0f);
	EXPECT_EQ(krun("attn_scores", &a, &g), -EINVAL);
	attn_args_values(&a, &c);
	EXPECT_EQ(krun("attn_values", &a, &g), -EINVAL);
	c.nkv = 0;
	attn_args_values(&a, &c);
	EXPECT_EQ(krun("attn_values", &a, &g), -EINVAL);
}

TEST_HARNESS_MAIN
