/* SPDX-License-Identifier: MIT */
/*
 * ktest.h - helpers of the kernel tests: argument builders, a seeded
 * random source, float comparison with tolerances, and the "generic
 * launch" every kernel can be given (scalar values by parameter name,
 * buffers sized by searching the kernel's own bounds check).
 *
 * Invariant: header-only, included once per test program after
 * selftests/harness.h; no state outside the structs passed in.
 */
#ifndef GL_SELFTEST_KTEST_H
#define GL_SELFTEST_KTEST_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

/* xorshift64*: deterministic per seed, so failures reproduce. */
struct krand {
	uint64_t s;
};

static inline uint64_t krand_u64(struct krand *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ull;
}

/* A float uniform in [lo, hi). */
static inline float krand_f32(struct krand *r, float lo, float hi)
{
	return lo + (hi - lo) * (float)(krand_u64(r) >> 40) / 16777216.0f;
}

static inline void krand_fill(struct krand *r, float *x, uint64_t n, float lo,
			      float hi)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		x[i] = krand_f32(r, lo, hi);
}

static inline void kargs_u32(struct gl_kargs *a, uint32_t v)
{
	a->v[a->count].type = GL_KT_U32;
	a->v[a->count++].u32 = v;
}

static inline void kargs_u64(struct gl_kargs *a, uint64_t v)
{
	a->v[a->count].type = GL_KT_U64;
	a->v[a->count++].u64 = v;
}

static inline void kargs_f32(struct gl_kargs *a, float v)
{
	a->v[a->count].type = GL_KT_F32;
	a->v[a->count++].f32 = v;
}

static inline void kargs_buf(struct gl_kargs *a, void *p, uint64_t len)
{
	a->v[a->count].type = GL_KT_BUF;
	a->v[a->count].buf.ptr = p;
	a->v[a->count++].buf.len = len;
}

/* grid=@blocks block=@threads, 1-D. */
static inline struct gl_grid kgrid(uint32_t blocks, uint32_t threads)
{
	struct gl_grid g = {
		.grid = { blocks, 1, 1 },
		.block = { threads, 1, 1 },
	};

	return g;
}

/* The grid a client would write: ceil(n / threads) blocks, at least 1. */
static inline struct gl_grid kgrid_for(uint64_t n, uint32_t threads)
{
	uint64_t b = (n + threads - 1) / threads;

	return kgrid(b ? (uint32_t)b : 1, threads);
}

static inline int krun(const char *name, const struct gl_kargs *a,
		       const struct gl_grid *g)
{
	return gl_kernel_run_cpu_name(name, a, g, NULL);
}

/*
 * kclose - whether @got is within @atol + @rtol * |@want| of @want; equal
 * infinities and two NaNs count as close.
 */
static inline int kclose(double got, double want, double atol, double rtol)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabs(got - want) <= atol + rtol * fabs(want);
}

/*
 * kcompare - count the elements of @got not close to @want; logs the
 * first and the worst. Returns the count.
 */
static inline uint64_t kcompare(const char *what, const float *got,
				const double *want, uint64_t n, double atol,
				double rtol)
{
	uint64_t i, bad = 0, worst = 0;
	double err, worst_err = -1.0;

	for (i = 0; i < n; i++) {
		if (kclose(got[i], want[i], atol, rtol))
			continue;
		err = fabs(got[i] - want[i]);
		if (!bad || err > worst_err || isnan(err)) {
			worst = i;
			worst_err = err;
		}
		bad++;
	}
	if (bad)
		printf("# %s: %llu of %llu off; worst [%llu] got %.9g want "
		       "%.9g\n", what, (unsigned long long)bad,
		       (unsigned long long)n, (unsigned long long)worst,
		       got[worst], want[worst]);
	return bad;
}

/*
 * kscalar - the value the generic launch gives scalar parameter @name of
 * kernel @k: small, odd, and valid (heads divide, head_dim even,
 * matmul batches disjoint), so every kernel runs with them.
 */
static inline double kscalar(const struct gl_kernel *k, const char *name)
{
	static const struct {
		const char *name;
		double v;
	} vals[] = {
		{ "n", 1029 }, { "rows", 5 }, { "cols", 37 },
		{ "value", 2.5 }, { "a", -0.75 }, { "eps", 1e-5 },
		{ "seq_q", 3 }, { "seq_k", 6 }, { "n_heads", 4 },
		{ "n_kv_heads", 2 }, { "head_dim", 8 }, { "pos0", 2 },
		{ "causal", 1 }, { "scale", 0.35 }, { "n_tokens", 5 },
		{ "dim", 6 }, { "vocab", 11 }, { "seq", 3 },
		{ "theta", 10000 }, { "m", 5 }, { "k", 7 },
		{ "trans_a", 1 }, { "trans_b", 0 }, { "batch", 3 },
		{ "lda", 0 }, { "ldb", 0 }, { "ldc", 0 },
		{ "stride_a", 35 }, { "stride_b", 42 }, { "stride_c", 30 },
		{ "alpha", 1.5 }, { "beta", 0.5 },
	};
	size_t i;

	/* matmul's n is its column count: 6 keeps stride_b = k * n. */
	if (k->id == GL_K_matmul && !strcmp(name, "n"))
		return 6;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (!strcmp(vals[i].name, name))
			return vals[i].v;
	return 3;
}

/* A generic launch of one kernel: its args, and the buffers behind them. */
struct klaunch {
	const struct gl_kernel *k;
	struct gl_ksig sig;
	struct gl_kargs args;
	void *buf[GL_KPARAMS_MAX];	/* malloc'ed, exactly len bytes */
	struct gl_grid grid;
};

#define KLAUNCH_BIG (1u << 20)

/*
 * klaunch_min_len - the least length of buffer parameter @i for which the
 * kernel's check passes, all other buffers being large; found by binary
 * search on the check itself. Returns -1 when even KLAUNCH_BIG fails.
 */
static inline long long klaunch_min_len(struct klaunch *l, unsigned int i)
{
	uint64_t lo = 0, hi = KLAUNCH_BIG, mid, keep = l->args.v[i].buf.len;

	l->args.v[i].buf.len = hi;
	if (l->k->check(&l->args, &l->grid)) {
		l->args.v[i].buf.len = keep;
		return -1;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		l->args.v[i].buf.len = mid;
		if (l->k->check(&l->args, &l->grid))
			lo = mid + 1;
		else
			hi = mid;
	}
	l->args.v[i].buf.len = keep;
	return (long long)lo;
}

static inline void klaunch_free(struct klaunch *l)
{
	unsigned int i;

	for (i = 0; i < GL_KPARAMS_MAX; i++) {
		free(l->buf[i]);
		l->buf[i] = NULL;
	}
}

/*
 * klaunch_init - the generic launch of @k on grid @g: scalars from
 * kscalar(), every buffer malloc'ed at exactly the least length its
 * check accepts (so a sanitizer sees any read past what the check
 * vouched for) and filled from @r: floats in [-2, 2), token ids in
 * [0, vocab + 2) so out-of-range ids are exercised too. Returns 0 or
 * -errno.
 */
static inline int klaunch_init(struct klaunch *l, const struct gl_kernel *k,
			       const struct gl_grid *g, struct krand *r)
{
	struct gl_kparam *p;
	long long len;
	uint64_t j;
	uint32_t i;
	int err;

	memset(l, 0, sizeof(*l));
	l->k = k;
	l->grid = *g;
	err = gl_ksig_parse(k->sig, &l->sig);
	if (err)
		return err;
	for (i = 0; i < l->sig.count; i++) {
		p = &l->sig.param[i];
		switch (p->type) {
		case GL_KT_U32:
			kargs_u32(&l->args, (uint32_t)kscalar(k, p->name));
			break;
		case GL_KT_U64:
			kargs_u64(&l->args, (uint64_t)kscalar(k, p->name));
			break;
		case GL_KT_F32:
			kargs_f32(&l->args, (float)kscalar(k, p->name));
			break;
		case GL_KT_BUF:
			/* Any non-NULL pointer: the check never reads it. */
			kargs_buf(&l->args, l, KLAUNCH_BIG);
			break;
		default:
			return -EINVAL;
		}
	}
	for (i = 0; i < l->sig.count; i++) {
		if (l->sig.param[i].type != GL_KT_BUF)
			continue;
		len = klaunch_min_len(l, i);
		if (len < 0)
			return -EFAULT;
		l->args.v[i].buf.len = (uint64_t)len;
	}
	for (i = 0; i < l->sig.count; i++) {
		if (l->sig.param[i].type != GL_KT_BUF)
			continue;
		len = (long long)l->args.v[i].buf.len;
		l->buf[i] = malloc(len ? (size_t)len : 1);
		if (!l->buf[i]) {
			klaunch_free(l);
			return -ENOMEM;
		}
		l->args.v[i].buf.ptr = l->buf[i];
		if (!strcmp(l->sig.param[i].name, "ids")) {
			uint32_t *ids = l->buf[i];
			uint32_t vocab = (uint32_t)kscalar(k, "vocab");

			for (j = 0; j < (uint64_t)len / 4; j++)
				ids[j] = (uint32_t)(krand_u64(r) %
						    (vocab + 2));
		} else {
			krand_fill(r, l->buf[i], (uint64_t)len / 4, -2.0f,
				   2.0f);
		}
	}
	return 0;
}

#endif /* GL_SELFTEST_KTEST_H */
