/* SPDX-License-Identifier: MIT */
/*
 * matmul.c - matmul on the CPU (OpenBLAS) against a naive triple loop in
 * double: every transpose pair, batches with strides (including a
 * broadcast A of stride 0), padded leading dimensions, odd sizes (1, 7,
 * 33, 65), k == 0, beta == 0 never reading C (NaN there stays out), the
 * block split: disjoint worker ranges compute the same C as one run, and
 * x W^T's rows the same bits batched as alone.
 * Tolerance 1e-4 + 1e-5 |want| (f32 dot products of up to 65 terms).
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

struct mm {
	uint32_t m, n, k, ta, tb, batch, lda, ldb, ldc;
	uint64_t sa, sb, sc;
	float alpha, beta;
	float *a, *b, *c;
	uint64_t alen, blen, clen;	/* elements */
};

static void mm_args(struct gl_kargs *a, const struct mm *p)
{
	memset(a, 0, sizeof(*a));
	kargs_u32(a, p->m);
	kargs_u32(a, p->n);
	kargs_u32(a, p->k);
	kargs_u32(a, p->ta);
	kargs_u32(a, p->tb);
	kargs_u32(a, p->batch);
	kargs_u32(a, p->lda);
	kargs_u32(a, p->ldb);
	kargs_u32(a, p->ldc);
	kargs_u64(a, p->sa);
	kargs_u64(a, p->sb);
	kargs_u64(a, p->sc);
	kargs_f32(a, p->alpha);
	kargs_f32(a, p->beta);
	kargs_buf(a, p->a, p->alen * 4);
	kargs_buf(a, p->b, p->blen * 4);
	kargs_buf(a, p->c, p->clen * 4);
}

/*
 * mm_setup - fill in leading dimensions (packed + @pad), strides and
 * buffer sizes for @p's shape, allocate and fill the buffers.
 */
static void mm_setup(struct mm *p, uint32_t pad, bool bcast_a,
		     struct krand *r)
{
	uint32_t ra = p->ta ? p->k : p->m, ca = p->ta ? p->m : p->k;
	uint32_t rb = p->tb ? p->n : p->k, cb = p->tb ? p->k : p->n;

	p->lda = ca + pad;
	p->ldb = cb + pad;
	p->ldc = p->n + pad;
	p->sa = bcast_a ? 0 : (uint64_t)ra * p->lda + pad;
	p->sb = (uint64_t)rb * p->ldb;
	p->sc = (uint64_t)p->m * p->ldc + pad;
	p->alen = p->sa * (p->batch - 1) + (uint64_t)ra * p->lda;
	p->blen = p->sb * (p->batch - 1) + (uint64_t)rb * p->ldb;
	p->clen = p->sc * (p->batch - 1) + (uint64_t)p->m * p->ldc;
	p->a = malloc(p->alen * 4 + 4);
	p->b = malloc(p->blen * 4 + 4);
	p->c = malloc(p->clen * 4 + 4);
	if (!p->a || !p->b || !p->c)
		abort();
	krand_fill(r, p->a, p->alen, -1.0f, 1.0f);
	krand_fill(r, p->b, p->blen, -1.0f, 1.0f);
	krand_fill(r, p->c, p->clen, -1.0f, 1.0f);
}

/* Naive reference; elements of C outside the matrices keep their value. */
static void mm_ref(const struct mm *p, double *want)
{
	uint32_t bi, i, j, l;

	for (i = 0; i < p->clen; i++)
		want[i] = p->c[i];
	for (bi = 0; bi < p->batch; bi++) {
		const float *a = p->a + bi * p->sa, *b = p->b + bi * p->sb;

		for (i = 0; i < p->m; i++)
			for (j = 0; j < p->n; j++) {
				double acc = 0, *w;

				for (l = 0; l < p->k; l++)
					acc += (double)(p->ta ?
						a[l * p->lda + i] :
						a[i * p->lda + l]) *
					       (p->tb ? b[j * p->ldb + l] :
							b[l * p->ldb + j]);
				w = &want[bi * p->sc + i * p->ldc + j];
				*w = p->alpha * acc +
				     (p->beta == 0.0f ? 0 : p->beta * *w);
			}
	}
}

static void mm_free(struct mm *p)
{
	free(p->a);
	free(p->b);
	free(p->c);
}

TEST(against_triple_loop)
{
	static const uint32_t dims[] = { 1, 7, 33, 65 };
	struct krand r = { 31 };
	unsigned int mi, ni, ki, t, pad;
	struct gl_kargs a;
	char what[96];

	for (mi = 0; mi < 4; mi++)
	for (ni = 0; ni < 4; ni++)
	for (ki = 0; ki < 4; ki++)
	for (t = 0; t < 4; t++) {
		struct mm p = {
			.m = dims[mi], .n = dims[(ni + mi) % 4], .k = dims[ki],
			.ta = t & 1, .tb = t >> 1, .batch = 1 + (ki + t) % 3,
			.alpha = 1.25f, .beta = (t % 2) ? 0.5f : 0.0f,
		};
		struct gl_grid g = kgrid(1 + mi + ni, 256);
		double *want;

		pad = (mi + ki) % 2 ? 3 : 0;
		mm_setup(&p, pad, t == 3, &r);
		want = malloc(p.clen * sizeof(double));
		if (!want)
			abort();
		mm_ref(&p, want);
		mm_args(&a, &p);
		EXPECT_EQ(krun("matmul", &a, &g), 0);
		snprintf(what, sizeof(what),
			 "matmul m=%u n=%u k=%u ta=%u tb=%u batch=%u pad=%u",
			 p.m, p.n, p.k, p.ta, p.tb, p.batch, pad);
		EXPECT_EQ(kcompare(what, p.c, want, p.clen, 1e-4, 1e-5), 0u);
		free(want);
		mm_free(&p);
	}
}

/* beta == 0: C is written, never read, so NaN garbage does not leak. */
TEST(beta_zero_ignores_c_and_k_zero)
{
	struct mm p = { .m = 7, .n = 5, .k = 3, .batch = 2, .alpha = 1.0f };
	struct gl_grid g = kgrid(2, 256);
	struct krand r = { 32 };
	struct gl_kargs a;
	double *want;
	uint64_t i;

	mm_setup(&p, 0, false, &r);
	want = malloc(p.clen * sizeof(double));
	if (!want)
		abort();
	mm_ref(&p, want);
	for (i = 0; i < p.clen; i++)
		p.c[i] = NAN;
	mm_args(&a, &p);
	EXPECT_EQ(krun("matmul", &a, &g), 0);
	EXPECT_EQ(kcompare("beta=0 over NaN", p.c, want, p.clen, 1e-5, 1e-5),
		  0u);

	/* k == 0: C = beta * C, and A and B may be empty. */
	for (i = 0; i < p.clen; i++) {
		p.c[i] = 2.0f;
		want[i] = 1.0;
	}
	p.k = 0;
	p.beta = 0.5f;
	p.alen = p.blen = 0;
	p.lda = p.ldb = 0;
	p.sa = p.sb = 0;
	mm_args(&a, &p);
	EXPECT_EQ(krun("matmul", &a, &g), 0);
	EXPECT_EQ(kcompare("k=0", p.c, want, p.clen, 0, 0), 0u);
	free(want);
	mm_free(&p);
}

/* Disjoint block ranges, as a worker pool would run them, cover C. */
TEST(block_split)
{
	struct mm p = { .m = 65, .n = 33, .k = 7, .tb = 1, .batch = 3,
			.alpha = 1.0f, .beta = 1.0f };
	struct gl_grid g = kgrid(10, 256);
	struct krand r = { 33 };
	struct gl_kargs a;
	struct gl_kctx ctx = { 0 };
	static const uint64_t cuts[] = { 0, 1, 4, 5, 9, 10 };
	unsigned int i;
	double *want;

	mm_setup(&p, 1, false, &r);
	want = malloc(p.clen * sizeof(double));
	if (!want)
		abort();
	mm_ref(&p, want);
	mm_args(&a, &p);
	for (i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
		ctx.block_begin = cuts[i];
		ctx.block_end = cuts[i + 1];
		EXPECT_EQ(gl_matmul_cpu(&a, &g, &ctx), 0);
	}
	EXPECT_EQ(kcompare("matmul split", p.c, want, p.clen, 1e-4, 1e-5),
		  0u);
	free(want);
	mm_free(&p);
}

/*
 * One row of C against a B stored n x k (the models' x W^T): every
 * element is the same bits whichever columns a launch covers, so a
 * product split by columns over threads equals the whole one (issue 10);
 * and each is within the tolerance of the reference. k runs over the
 * kernel's 32-, 8- and 1-float stretches; the cuts fall at odd columns.
 */
TEST(one_row_split_by_columns_is_the_same_bits)
{
	static const uint32_t ks[] = { 1, 7, 8, 31, 33, 64, 288, 301 };
	static const uint32_t cuts[] = { 0, 1, 13, 50, 51, 100 };
	struct gl_grid g = kgrid(1, 256);
	struct krand r = { 35 };
	struct gl_kargs a;
	unsigned int i, j;
	double *want;
	float *whole;

	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		struct mm p = { .m = 1, .n = 100, .k = ks[i], .tb = 1,
				.batch = 1, .alpha = 1.0f };
		struct mm q;

		mm_setup(&p, 0, false, &r);
		want = malloc(p.clen * sizeof(double));
		whole = malloc(p.clen * sizeof(float));
		if (!want || !whole)
			abort();
		mm_ref(&p, want);
		mm_args(&a, &p);
		ASSERT_EQ(krun("matmul", &a, &g), 0);
		EXPECT_EQ(kcompare("matmul row", p.c, want, p.clen, 1e-4,
				   1e-5), 0u);
		memcpy(whole, p.c, p.clen * sizeof(float));
		krand_fill(&r, p.c, p.clen, -1.0f, 1.0f);
		for (j = 0; j + 1 < sizeof(cuts) / sizeof(cuts[0]); j++) {
			q = p;
			q.n = cuts[j + 1] - cuts[j];
			q.ldb = q.k;
			q.ldc = q.n;
			q.b = p.b + (uint64_t)cuts[j] * p.k;
			q.c = p.c + cuts[j];
			q.blen = (uint64_t)q.n * q.k;
			q.clen = q.n;
			mm_args(&a, &q);
			ASSERT_EQ(krun("matmul", &a, &g), 0);
		}
		EXPECT_EQ(memcmp(whole, p.c, p.clen * sizeof(float)), 0)
			TH_LOG("k %u: a split product differs", p.k);
		free(whole);
		free(want);
		mm_free(&p);
	}
}

/*
 * Rows of A against a B stored n x k (the models' x W^T, batched): each
 * row of C is the same bits in a launch of m rows as alone (m = 1), for
 * every m up to 10 and 17 (groups of 4 rows with every remainder), k
 * below, at and over 8-float steps with every tail, short and long, n =
 * 37 (a panel of 24 and a rest, tiles of 3 and a rest), with alpha and
 * beta, padded leading dimensions (issue 11: batch invariance).
 */
TEST(rows_of_an_nt_product_are_the_same_bits_alone)
{
	/* 2061: 257 8-float steps and a tail of 5; 4104: 513 steps */
	static const uint32_t ks[] = { 1, 7, 8, 31, 33, 76, 100, 288, 301,
				       2061, 4104 };
	static const uint32_t ms[] = { 2, 3, 4, 5, 6, 7, 8, 9, 10, 17 };
	struct gl_grid g = kgrid(1, 256);
	struct krand r = { 36 };
	struct gl_kargs a;
	unsigned int i, j, row;
	float *c0;

	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
	for (j = 0; j < sizeof(ms) / sizeof(ms[0]); j++) {
		struct mm p = { .m = ms[j], .n = 37, .k = ks[i], .tb = 1,
				.batch = 1, .alpha = j % 2 ? 0.75f : 1.0f,
				.beta = j % 3 ? 0.0f : 0.5f };
		struct mm q;

		mm_setup(&p, j % 2, false, &r);
		c0 = malloc(p.clen * sizeof(float));
		if (!c0)
			abort();
		memcpy(c0, p.c, p.clen * sizeof(float));
		mm_args(&a, &p);
		ASSERT_EQ(krun("matmul", &a, &g), 0);
		for (row = 0; row < p.m; row++) {
			q = p;
			q.m = 1;
			q.a = p.a + (uint64_t)row * p.lda;
			q.c = c0 + (uint64_t)row * p.ldc;
			q.alen = q.k;
			q.clen = q.n;
			mm_args(&a, &q);
			ASSERT_EQ(krun("matmul", &a, &g), 0);
			EXPECT_EQ(memcmp(q.c, p.c + (uint64_t)row * p.ldc,
					 q.n * sizeof(float)), 0)
				TH_LOG("m %u k %u: row %u differs alone",
				       p.m, p.k, row);
		}
		free(c0);
		mm_free(&p);
	}
}

TEST(invalid_launches)
{
	struct mm p = { .m = 4, .n = 4, .k = 4, .batch = 2, .alpha = 1.0f };
	struct gl_grid g = kgrid(1, 256), g128 = kgrid(1, 128);
	struct krand r = { 34 };
	struct gl_kargs a;

	mm_setup(&p, 0, false, &r);
	mm_args(&a, &p);
	EXPECT_EQ(krun("matmul", &a, &g), 0);
	EXPECT_EQ(krun("matmul", &a, &g128), -EINVAL);	/* not 16x16 */
	a.v[3].u32 = 2;					/* trans_a */
	EXPECT_EQ(krun("matmul", &a, &g), -EINVAL);
	mm_args(&a, &p);
	a.v[6].u32 = 3;					/* lda < k */
	EXPECT_EQ(krun("matmul", &a, &g), -EINVAL);
	mm_args(&a, &p);
	a.v[11].u64 = 4;				/* C batches overlap */
	EXPECT_EQ(krun("matmul", &a, &g), -EINVAL);
	mm_args(&a, &p);
	a.v[9].u64 = UINT64_MAX / 2;			/* span overflows */
	EXPECT_EQ(krun("matmul", &a, &g), -EFAULT);
	mm_free(&p);
}

TEST_HARNESS_MAIN
