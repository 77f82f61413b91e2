/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - the cancel flag: set before a launch, every kernel returns
 * the negated errno stored there (-ECANCELED, -ETIMEDOUT) and writes
 * nothing; set from another thread while a long matmul runs, the launch
 * stops at the next block with rows of C left unwritten; a launch of one
 * block (grid=1 block=1) stops inside it; and disjoint block ranges of
 * one launch compute the same result as a single run.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

TEST(flag_set_before_launch)
{
	static const int codes[] = { ECANCELED, ETIMEDOUT };
	struct krand r = { 61 };
	struct klaunch l;
	unsigned int id, c, j;
	atomic_int flag;

	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);
		struct gl_grid g = kgrid(3, k->block);

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
		for (c = 0; c < 2; c++) {
			unsigned char *copy[GL_KPARAMS_MAX] = { 0 };

			for (j = 0; j < l.sig.count; j++) {
				if (!l.buf[j])
					continue;
				copy[j] = malloc(l.args.v[j].buf.len + 1);
				ASSERT_TRUE(copy[j] != NULL);
				memcpy(copy[j], l.buf[j],
				       l.args.v[j].buf.len);
			}
			atomic_init(&flag, codes[c]);
			EXPECT_EQ(gl_kernel_run_cpu(k, &l.args, &g, &flag),
				  -codes[c])
				TH_LOG("kernel %s", k->name);
			for (j = 0; j < l.sig.count; j++) {
				if (!copy[j])
					continue;
				EXPECT_EQ(memcmp(copy[j], l.buf[j],
						 l.args.v[j].buf.len), 0)
					TH_LOG("cancelled %s wrote %s",
					       k->name, l.sig.param[j].name);
				free(copy[j]);
			}
		}
		klaunch_free(&l);
	}
}

struct canceller {
	atomic_int *flag;
	const volatile float *first;	/* C[0], NaN until written */
};

static void *cancel_when_started(void *arg)
{
	struct canceller *cn = arg;

	while (isnan(*cn->first))
		sched_yield();
	atomic_store(cn->flag, ECANCELED);
	return NULL;
}

/*
 * 4096 x 512 x 512 in chunks of 64 rows: the canceller fires once the
 * first chunk is in C, and the run must stop with the last row unwritten.
 */
TEST(flag_set_while_running)
{
	const uint32_t m = 4096, n = 512, k = 512;
	float *a = calloc((size_t)m * k, 4), *b = calloc((size_t)k * n, 4);
	float *c = malloc((size_t)m * n * 4);
	struct gl_grid g = kgrid(m / 16, 256);
	struct canceller cn;
	struct gl_kargs args = { 0 };
	atomic_int flag;
	pthread_t th;
	uint64_t i;

	ASSERT_TRUE(a && b && c);
	for (i = 0; i < (uint64_t)m * n; i++)
		c[i] = NAN;
	atomic_init(&flag, 0);
	cn.flag = &flag;
	cn.first = c;
	kargs_u32(&args, m);
	kargs_u32(&args, n);
	kargs_u32(&args, k);
	kargs_u32(&args, 0);
	kargs_u32(&args, 0);
	kargs_u32(&args, 1);
	kargs_u32(&args, 0);
	kargs_u32(&args, 0);
	kargs_u32(&args, 0);
	kargs_u64(&args, 0);
	kargs_u64(&args, 0);
	kargs_u64(&args, 0);
	kargs_f32(&args, 1.0f);
	kargs_f32(&args, 0.0f);
	kargs_buf(&args, a, (uint64_t)m * k * 4);
	kargs_buf(&args, b, (uint64_t)k * n * 4);
	kargs_buf(&args, c, (uint64_t)m * n * 4);
	ASSERT_EQ(pthread_create(&th, NULL, cancel_when_started, &cn), 0);
	EXPECT_EQ(gl_kernel_run_cpu(gl_kernel_find("matmul"), &args, &g,
				    &flag), -ECANCELED);
	pthread_join(th, NULL);
	EXPECT_EQ(c[0], 0.0f);
	EXPECT_TRUE(isnan(c[(uint64_t)m * n - 1]));
	free(a);
	free(b);
	free(c);
}

/*
 * grid=1 block=1 is one block doing all the work: attn_scores at
 * S=2048, head_dim=256 (2^30 multiply-adds) must still stop once the
 * flag is set, with the last score unwritten, not at the end of its
 * only block.
 */
TEST(one_block_stops_inside)
{
	const uint32_t s = 2048, hd = 256;
	float *q = calloc((size_t)s * hd, 4), *k = calloc((size_t)s * hd, 4);
	float *sc = malloc((size_t)s * s * 4);
	struct gl_grid g = kgrid(1, 1);
	struct gl_kargs args = { 0 };
	struct canceller cn;
	atomic_int flag;
	pthread_t th;
	uint64_t i;

	ASSERT_TRUE(q && k && sc);
	for (i = 0; i < (uint64_t)s * s; i++)
		sc[i] = NAN;
	atomic_init(&flag, 0);
	cn.flag = &flag;
	cn.first = sc;
	kargs_u32(&args, s);
	kargs_u32(&args, s);
	kargs_u32(&args, 1);
	kargs_u32(&args, 1);
	kargs_u32(&args, hd);
	kargs_u32(&args, 0);
	kargs_u32(&args, 0);
	kargs_f32(&args, 1.0f);
	kargs_buf(&args, q, (uint64_t)s * hd * 4);
	kargs_buf(&args, k, (uint64_t)s * hd * 4);
	kargs_buf(&args, sc, (uint64_t)s * s * 4);
	ASSERT_EQ(pthread_create(&th, NULL, cancel_when_started, &cn), 0);
	EXPECT_EQ(gl_kernel_run_cpu(gl_kernel_find("attn_scores"), &args, &g,
				    &flag), -ECANCELED);
	pthread_join(th, NULL);
	EXPECT_EQ(sc[0], 0.0f);
	EXPECT_TRUE(isnan(sc[(uint64_t)s * s - 1]));
	free(q);
	free(k);
	free(sc);
}

/* Worker-style ranges over a row kernel and an elementwise one. */
TEST(block_ranges_cover_the_grid)
{
	static const char *const names[] = { "softmax", "gelu", "attn_scores" };
	static const uint64_t cuts[] = { 0, 1, 2, 5, 6, 7 };
	struct krand r = { 62 };
	struct klaunch l;
	unsigned int ni, j, i;

	for (ni = 0; ni < 3; ni++) {
		const struct gl_kernel *k = gl_kernel_find(names[ni]);
		struct gl_grid g = kgrid(7, 32);
		struct gl_kctx ctx = { 0 };
		unsigned char *want[GL_KPARAMS_MAX] = { 0 };
		unsigned char *orig[GL_KPARAMS_MAX] = { 0 };

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
		for (j = 0; j < l.sig.count; j++) {
			if (!l.buf[j])
				continue;
			want[j] = malloc(l.args.v[j].buf.len + 1);
			orig[j] = malloc(l.args.v[j].buf.len + 1);
			ASSERT_TRUE(want[j] && orig[j]);
			memcpy(orig[j], l.buf[j], l.args.v[j].buf.len);
		}
		EXPECT_EQ(gl_kernel_run_cpu(k, &l.args, &g, NULL), 0);
		for (j = 0; j < l.sig.count; j++) {
			if (!l.buf[j])
				continue;
			memcpy(want[j], l.buf[j], l.args.v[j].buf.len);
			memcpy(l.buf[j], orig[j], l.args.v[j].buf.len);
		}
		for (i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
			ctx.block_begin = cuts[i];
			ctx.block_end = cuts[i + 1];
			EXPECT_EQ(k->cpu(&l.args, &g, &ctx), 0);
		}
		for (j = 0; j < l.sig.count; j++) {
			if (!l.buf[j])
				continue;
			EXPECT_EQ(memcmp(want[j], l.buf[j],
					 l.args.v[j].buf.len), 0)
				TH_LOG("%s: %s differs", k->name,
				       l.sig.param[j].name);
			free(want[j]);
			free(orig[j]);
		}
		klaunch_free(&l);
	}
}

TEST_HARNESS_MAIN
