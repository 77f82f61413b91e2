/* SPDX-License-Identifier: MIT */
/*
 * bounds.c - bounds safety of every kernel: a buffer one byte shorter
 * than the element counts need fails the launch with -EFAULT before
 * anything is written; at exactly the length the check accepts, the
 * twin runs inside it (the buffers are malloc'ed at that size, so an
 * address-sanitizer build catches any access past them); and for a few
 * kernels that length is the one Documentation/kernels.md states.
 */
#include <errno.h>

#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

TEST(short_buffer_is_efault_and_untouched)
{
	struct krand r = { 51 };
	struct klaunch l;
	unsigned int id, i;

	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);
		struct gl_grid g = kgrid(2, k->block);

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0)
			TH_LOG("kernel %s", k->name);
		for (i = 0; i < l.sig.count; i++) {
			struct gl_kbuf *b = &l.args.v[i].buf;
			unsigned char *copy[GL_KPARAMS_MAX] = { 0 };
			unsigned int j;

			if (l.sig.param[i].type != GL_KT_BUF || !b->len)
				continue;
			for (j = 0; j < l.sig.count; j++) {
				if (!l.buf[j])
					continue;
				copy[j] = malloc(l.args.v[j].buf.len + 1);
				ASSERT_TRUE(copy[j] != NULL);
				memcpy(copy[j], l.buf[j],
				       l.args.v[j].buf.len);
			}
			b->len--;
			EXPECT_EQ(gl_kernel_run_cpu(k, &l.args, &g, NULL),
				  -EFAULT)
				TH_LOG("kernel %s, %s one byte short", k->name,
				       l.sig.param[i].name);
			b->len++;
			for (j = 0; j < l.sig.count; j++) {
				if (!copy[j])
					continue;
				EXPECT_EQ(memcmp(copy[j], l.buf[j],
						 l.args.v[j].buf.len), 0)
					TH_LOG("kernel %s wrote %s on -EFAULT",
					       k->name, l.sig.param[j].name);
				free(copy[j]);
			}
		}
		/* At the exact lengths it runs, within them. */
		EXPECT_EQ(gl_kernel_run_cpu(k, &l.args, &g, NULL), 0)
			TH_LOG("kernel %s", k->name);
		klaunch_free(&l);
	}
}

/*
 * A buffer not aligned to its element size is -EINVAL for every kernel
 * and buffer (on a GPU the load would be a sticky misaligned-address
 * fault): the check looks at the address only, so a shifted pointer over
 * the same length is enough.
 */
TEST(misaligned_buffer_is_einval)
{
	struct krand r = { 53 };
	struct klaunch l;
	unsigned int id, i, shift;

	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);
		struct gl_grid g = kgrid(2, k->block);

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
		for (i = 0; i < l.sig.count; i++) {
			struct gl_kbuf *b = &l.args.v[i].buf;
			void *keep = b->ptr;

			if (l.sig.param[i].type != GL_KT_BUF || !b->len)
				continue;
			for (shift = 1; shift < 4; shift++) {
				b->ptr = (char *)keep + shift;
				EXPECT_EQ(k->check(&l.args, &g), -EINVAL)
					TH_LOG("kernel %s, %s at +%u", k->name,
					       l.sig.param[i].name, shift);
			}
			b->ptr = keep;
		}
		EXPECT_EQ(k->check(&l.args, &g), 0) TH_LOG("%s", k->name);
		klaunch_free(&l);
	}
}

/* The least lengths the checks accept are the documented ones. */
TEST(documented_lengths)
{
	static const struct {
		const char *kernel, *param;
		uint64_t bytes;
	} want[] = {
		{ "saxpy", "x", 1029 * 4 },
		{ "saxpy", "y", 1029 * 4 },
		{ "bias_add", "bias", 37 * 4 },
		{ "bias_add", "x", 5 * 37 * 4 },
		{ "argmax", "out", 5 * 4 },
		{ "embedding", "ids", 5 * 4 },
		{ "embedding", "table", 11 * 6 * 4 },
		{ "layernorm", "beta", 37 * 4 },
		{ "rope", "x", 3 * 4 * 8 * 4 },
		{ "attn_scores", "k", 6 * 2 * 8 * 4 },
		{ "attn_scores", "s", 4 * 3 * 6 * 4 },
		/* (batch - 1) * stride + rows * ld, trans_a: A is k x m */
		{ "matmul", "a", (2 * 35 + 7 * 5) * 4 },
		{ "matmul", "b", (2 * 42 + 7 * 6) * 4 },
		{ "matmul", "c", (2 * 30 + 5 * 6) * 4 },
	};
	struct krand r = { 52 };
	struct klaunch l;
	unsigned int w, i;

	for (w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		const struct gl_kernel *k = gl_kernel_find(want[w].kernel);
		struct gl_grid g = kgrid(1, k->block);

		ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
		for (i = 0; i < l.sig.count; i++)
			if (!strcmp(l.sig.param[i].name, want[w].param))
				break;
		ASSERT_LT(i, l.sig.count);
		EXPECT_EQ(l.args.v[i].buf.len, want[w].bytes)
			TH_LOG("%s.%s", want[w].kernel, want[w].param);
		klaunch_free(&l);
	}
}

/* A NULL pointer with a non-zero need is a fault too. */
TEST(null_buffer_is_efault)
{
	struct gl_grid g = kgrid(1, 32);
	struct gl_kargs a = { 0 };
	float x[4] = { 0 };

	kargs_u32(&a, 4);
	kargs_buf(&a, NULL, sizeof(x));
	kargs_buf(&a, x, sizeof(x));
	EXPECT_EQ(krun("copy", &a, &g), -EFAULT);
}

/*
 * The three-factor products wrap at 2^64: seq 2^22 x heads 2^21 x
 * head_dim 2^21 is 0 floats when it wraps, and 2^22 x 2^21 x (2^21 + 2)
 * is 2^44. Either must be refused, with an empty buffer and with one
 * that claims 2^64 - 1 bytes (the check never reads behind it); the
 * largest product that does not wrap is still judged by length alone.
 */
static int wrap_rope(uint32_t seq, uint32_t heads, uint32_t dim,
		     uint64_t len)
{
	static float x[4];
	struct gl_grid g = kgrid(1, 256);
	struct gl_kargs a = { 0 };

	kargs_u32(&a, seq);
	kargs_u32(&a, heads);
	kargs_u32(&a, dim);
	kargs_u32(&a, 0);
	kargs_f32(&a, 10000.0f);
	kargs_buf(&a, x, len);
	return gl_rope_check(&a, &g);
}

TEST(rope_product_wrap_is_efault)
{
	EXPECT_EQ(wrap_rope(1u << 22, 1u << 21, 1u << 21, 0), -EFAULT);
	EXPECT_EQ(wrap_rope(1u << 22, 1u << 21, 1u << 21, UINT64_MAX),
		  -EFAULT);
	EXPECT_EQ(wrap_rope(1u << 22, 1u << 21, (1u << 21) + 2, 1ull << 46),
		  -EFAULT);
	EXPECT_EQ(wrap_rope(UINT32_MAX, UINT32_MAX, UINT32_MAX - 1,
			    UINT64_MAX), -EFAULT);
	/* 2^60 floats: no wrap, and 2^62 bytes are enough */
	EXPECT_EQ(wrap_rope(1u << 20, 1u << 20, 1u << 20, 1ull << 62), 0);
	EXPECT_EQ(wrap_rope(1u << 20, 1u << 20, 1u << 20, (1ull << 62) - 1),
		  -EFAULT);
}

/* attn_scores: q seq_q x heads x dim, k seq_k x kv x dim, s heads x
 * seq_q x seq_k; attn_values: p, v and out the same products. */
static int wrap_attn(const char *name, uint32_t seq_q, uint32_t seq_k,
		     uint32_t heads, uint32_t kv, uint32_t dim, uint64_t len)
{
	static float buf[4];
	const struct gl_kernel *k = gl_kernel_find(name);
	struct gl_grid g = kgrid(1, 256);
	struct gl_kargs a = { 0 };
	unsigned int i;

	kargs_u32(&a, seq_q);
	kargs_u32(&a, seq_k);
	kargs_u32(&a, heads);
	kargs_u32(&a, kv);
	kargs_u32(&a, dim);
	if (k->id == GL_K_attn_scores) {
		kargs_u32(&a, 0);
		kargs_u32(&a, 0);
		kargs_f32(&a, 1.0f);
	}
	for (i = 0; i < 3; i++)
		kargs_buf(&a, buf, len);
	return k->check(&a, &g);
}

TEST(attention_product_wrap_is_efault)
{
	static const char *const names[] = { "attn_scores", "attn_values" };
	const uint32_t w = 1u << 22, h = 1u << 21;
	unsigned int n;

	for (n = 0; n < 2; n++) {
		const char *k = names[n];

		/* q (or out) wraps to 0; every other product is 0 */
		EXPECT_EQ(wrap_attn(k, w, 0, h, h, h, 0), -EFAULT)
			TH_LOG("%s q", k);
		EXPECT_EQ(wrap_attn(k, w, 0, h, h, h, UINT64_MAX), -EFAULT)
			TH_LOG("%s q", k);
		/* k (or v) wraps to 0; seq_q 0 empties q and s */
		EXPECT_EQ(wrap_attn(k, 0, w, h, h, h, 0), -EFAULT)
			TH_LOG("%s k", k);
		/* s (or p) wraps to 2^44; head_dim 0 empties q and k */
		EXPECT_EQ(wrap_attn(k, w, h + 2, h, 1, 0, UINT64_MAX),
			  -EFAULT) TH_LOG("%s s", k);
		/* no wrap: judged by length */
		EXPECT_EQ(wrap_attn(k, 1u << 20, 1u << 20, 1u << 20, 1u << 20,
				    1u << 20, 1ull << 62), 0) TH_LOG("%s", k);
	}
}

TEST_HARNESS_MAIN
