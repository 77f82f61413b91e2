/* SPDX-License-Identifier: MIT */
/*
 * sig.c - the kernel table and signatures: every GL_KERNELS() row parses,
 * is found by name and id, and its generic launch passes its check;
 * malformed signatures, mismatched arguments and bad grids are -EINVAL,
 * unknown kernels -ENOENT.
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

TEST(every_row_parses_and_is_found)
{
	const struct gl_kernel *k;
	struct gl_ksig sig;
	unsigned int id;

	for (id = 0; id < GL_K_COUNT; id++) {
		k = gl_kernel_get(id);
		ASSERT_TRUE(k != NULL);
		EXPECT_EQ(k->id, id);
		EXPECT_EQ(gl_ksig_parse(k->sig, &sig), 0)
			TH_LOG("kernel %s: \"%s\"", k->name, k->sig);
		EXPECT_TRUE(gl_kernel_find(k->name) == k)
			TH_LOG("kernel %s", k->name);
		EXPECT_GE(k->block, 1u);
		EXPECT_LE(k->block, GL_BLOCK_THREADS_MAX);
	}
	EXPECT_TRUE(gl_kernel_get(GL_K_COUNT) == NULL);
	EXPECT_TRUE(gl_kernel_find("no_such_kernel") == NULL);
	EXPECT_TRUE(gl_kernel_find("") == NULL);
}

TEST(saxpy_signature)
{
	const struct gl_kernel *k = gl_kernel_find("saxpy");
	static const enum gl_ktype want[] = {
		GL_KT_U32, GL_KT_F32, GL_KT_BUF, GL_KT_BUF
	};
	static const char *const names[] = { "n", "a", "x", "y" };
	struct gl_ksig sig;
	unsigned int i;

	ASSERT_TRUE(k != NULL);
	ASSERT_EQ(gl_ksig_parse(k->sig, &sig), 0);
	ASSERT_EQ(sig.count, 4u);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(sig.param[i].type, want[i]);
		EXPECT_STREQ(sig.param[i].name, names[i]);
	}
	EXPECT_EQ(gl_ksig_parse("", &sig), 0);
	EXPECT_EQ(sig.count, 0u);
	EXPECT_EQ(gl_ksig_parse("  u64 x ,io  y,i32 z, f64 w", &sig), 0);
	EXPECT_EQ(sig.count, 4u);
	EXPECT_EQ(sig.param[1].type, GL_KT_IO);
	EXPECT_STREQ(sig.param[1].name, "y");
	EXPECT_STREQ(gl_ktype_name(GL_KT_F64), "f64");
	EXPECT_TRUE(gl_ktype_name(GL_KT_COUNT) == NULL);
}

TEST(malformed_signatures)
{
	static const char *const bad[] = {
		"u16 n", "u32", "u32 n,", ",", "u32 n buf x", "u32 1n",
		"u32 n, f32 n", "buf x y", "u32 n-1",
		"u32 a_name_that_is_far_too_long_for_it",
		"u32 a0, u32 a1, u32 a2, u32 a3, u32 a4, u32 a5, u32 a6, "
		"u32 a7, u32 a8, u32 a9, u32 b0, u32 b1, u32 b2, u32 b3, "
		"u32 b4, u32 b5, u32 b6, u32 b7, u32 b8, u32 b9, u32 c0, "
		"u32 c1, u32 c2, u32 c3, u32 c4",
	};
	struct gl_ksig sig;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(gl_ksig_parse(bad[i], &sig), -EINVAL)
			TH_LOG("accepted \"%s\"", bad[i]);
		EXPECT_EQ(sig.count, 0u);
	}
}

TEST(mismatched_args_are_einval)
{
	struct gl_grid g = kgrid(1, 32);
	struct gl_kargs a = { 0 };
	float x[4] = { 0 }, y[4] = { 0 };

	kargs_u32(&a, 4);
	kargs_f32(&a, 1.0f);
	kargs_buf(&a, x, sizeof(x));
	EXPECT_EQ(krun("saxpy", &a, &g), -EINVAL);	/* one short */
	kargs_buf(&a, y, sizeof(y));
	EXPECT_EQ(krun("saxpy", &a, &g), 0);
	a.v[1].type = GL_KT_F64;
	EXPECT_EQ(krun("saxpy", &a, &g), -EINVAL);	/* wrong type */
	a.v[1].type = GL_KT_F32;
	kargs_u32(&a, 0);
	EXPECT_EQ(krun("saxpy", &a, &g), -EINVAL);	/* one too many */
	EXPECT_EQ(krun("nope", &a, &g), -ENOENT);
}

TEST(grid_rules)
{
	static const struct gl_grid bad[] = {
		{ { 0, 1, 1 }, { 32, 1, 1 } },
		{ { 1, 1, 1 }, { 0, 1, 1 } },
		{ { 1, 2, 1 }, { 32, 1, 1 } },
		{ { 1, 1, 2 }, { 32, 1, 1 } },
		{ { 1, 1, 1 }, { 32, 2, 1 } },
		{ { 1, 1, 1 }, { 1025, 1, 1 } },
		{ { 2147483648u, 1, 1 }, { 1, 1, 1 } },
	};
	struct gl_grid ok = kgrid(1, 1024);
	struct gl_kargs a = { 0 };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(gl_kernel_grid_check_1d(&bad[i]), -EINVAL)
			TH_LOG("grid #%u accepted", i);
		EXPECT_EQ(krun("noop", &a, &bad[i]), -EINVAL);
	}
	EXPECT_EQ(gl_kernel_grid_check_1d(&ok), 0);
	EXPECT_EQ(krun("noop", &a, &ok), 0);
}

/* Every kernel's generic launch is valid and runs on its CPU twin. */
TEST(every_kernel_runs)
{
	struct krand r = { 42 };
	struct klaunch l;
	unsigned int id;

	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);
		struct gl_grid g = kgrid(3, k->block);

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0)
			TH_LOG("kernel %s", k->name);
		EXPECT_EQ(gl_kernel_run_cpu(k, &l.args, &g, NULL), 0)
			TH_LOG("kernel %s", k->name);
		klaunch_free(&l);
	}
}

TEST_HARNESS_MAIN
