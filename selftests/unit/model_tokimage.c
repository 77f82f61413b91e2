// SPDX-License-Identifier: MIT
/*
 * model_tokimage.c - a tokenizer placed in a block (as in a model's
 * lease) is position-independent: built at one address, moved whole (as
 * a lease's block moves when it is resized) and the old place wiped, a
 * view of it encodes and decodes exactly as the same file loaded on the
 * heap, for tokenizer.bin and tokenizer.json; tokenizer_load_at refuses
 * a place too small (EFBIG), and building allocates nothing.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokenizer.h"
#include "selftests/harness.h"

static const char *const toks[] = {
	"<unk>", "<s>", "</s>", " ", "h", "e", "l", "o", "he", "ll",
	"hell", "hello", " hello", "<0x0A>",
};
#define NTOK	(sizeof(toks) / sizeof(toks[0]))

static const char json[] = "{\"model\": {\"type\": \"BPE\", "
	"\"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, "
	"\"c\": 4, \"abc\": 5}, \"merges\": [\"a b\", \"ab c\"], "
	"\"unk_token\": \"<unk>\"}, \"decoder\": {\"type\": \"Fuse\"}}";

/* tokenizer.bin of toks[], scores by position, into @p; its length */
static size_t bin_file(unsigned char *p)
{
	size_t n = 4, i, l;
	float score;
	uint32_t v = 8;

	memcpy(p, &v, 4);
	for (i = 0; i < NTOK; i++) {
		score = (float)i;
		l = strlen(toks[i]);
		v = (uint32_t)l;
		memcpy(p + n, &score, 4);
		memcpy(p + n + 4, &v, 4);
		memcpy(p + n + 8, toks[i], l);
		n += 8 + l;
	}
	return n;
}

/* @text through @tk: ids, then their decoded text, into @out */
static void run(const struct tokenizer *tk, const char *text, uint32_t *ids,
		uint32_t *n, char *out, size_t size)
{
	struct tokenizer_dec d = { 0 };
	const char *p;
	size_t used = 0;
	ssize_t got;
	uint32_t i, prev = TOKENIZER_BOS;

	*n = 0;
	out[0] = '\0';
	if (tokenizer_encode(tk, text, strlen(text), ids, 32, n))
		return;
	for (i = 0; i <= *n; i++) {
		got = tokenizer_decode(tk, &d, prev, i < *n ? ids[i] :
				       TOKENIZER_END, &p);
		if (got < 0 || used + (size_t)got >= size)
			break;
		memcpy(out + used, p, (size_t)got);
		used += (size_t)got;
		prev = i < *n ? ids[i] : prev;
	}
	out[used] = '\0';
	tokenizer_dec_free(&d);
}

/* build @file at one place, move it, compare a view with the heap's */
static void moved_equals_heap(const void *file, size_t len, uint32_t vocab,
			      const char *const *texts, int ntexts)
{
	struct tokenizer heap, placed;
	struct tokenizer_prep p;
	struct tokenizer_view v;
	char why[160], a[128], b[128];
	uint32_t ia[32], ib[32], na, nb;
	unsigned char *one, *two;
	size_t before;
	int i;

	ASSERT_EQ(tokenizer_load(&heap, file, len, vocab, why, sizeof(why)),
		  0) TH_LOG("%s", why);
	ASSERT_EQ(tokenizer_prepare(&p, file, len, vocab, why, sizeof(why)),
		  0) TH_LOG("%s", why);
	ASSERT_GT(p.bytes, 0u);
	one = aligned_alloc(64, 64 + ((p.bytes + 63) & ~(uint64_t)63));
	two = aligned_alloc(64, 128 + ((p.bytes + 63) & ~(uint64_t)63));
	ASSERT_TRUE(one && two);
	memset(one, 0xa5, 64);
	before = mallinfo2().uordblks;
	ASSERT_EQ(tokenizer_build(&placed, &p, one + 64, 64, why,
				  sizeof(why)), 0) TH_LOG("%s", why);
	EXPECT_EQ(mallinfo2().uordblks, before);	/* nothing allocated */
	tokenizer_prep_free(&p);
	EXPECT_TRUE(tokenizer_loaded(&placed));
	EXPECT_EQ(placed.off, 64u);
	EXPECT_TRUE(placed.coder == NULL && placed.json == NULL);
	/* unplaced use is refused, never a wild read */
	EXPECT_EQ(tokenizer_encode(&placed, "a", 1, ia, 32, &na),
		  -EOPNOTSUPP);
	/* the block moves (a resize's mremap) and its old place is wiped
	 * (kept allocated until the end, so the wipe is not a dead store
	 * before a free that the compiler may drop) */
	memcpy(two + 64, one + 64, placed.bytes);
	memset(one, 0x5a, 64 + placed.bytes);
	ASSERT_EQ(tokenizer_view(&placed, two, &v), 0);
	for (i = 0; i < ntexts; i++) {
		run(&heap, texts[i], ia, &na, a, sizeof(a));
		run(&v.tk, texts[i], ib, &nb, b, sizeof(b));
		ASSERT_GT(na, 0u) TH_LOG("%s", texts[i]);
		ASSERT_EQ(na, nb) TH_LOG("%s", texts[i]);
		EXPECT_EQ(memcmp(ia, ib, na * sizeof(*ia)), 0)
			TH_LOG("%s", texts[i]);
		EXPECT_STREQ(a, b);
	}
	tokenizer_free(&placed);	/* a placed one owns nothing */
	free(one);
	free(two);
	tokenizer_free(&heap);
}

TEST(tokenizer_bin_moves_with_its_block)
{
	static const char *const texts[] = {
		"hello", "hello he", "hell\nlo", "oh", "e",
	};
	unsigned char file[512];

	moved_equals_heap(file, bin_file(file), NTOK, texts, 5);
}

TEST(tokenizer_json_moves_with_its_block)
{
	static const char *const texts[] = { "abc", "abab", "cba", "x" };

	moved_equals_heap(json, strlen(json), 6, texts, 4);
}

#define BIG	(1 << 20)	/* room for either image here */

TEST(load_at_refuses_too_small_a_place)
{
	struct tokenizer_prep p;
	struct tokenizer tk;
	unsigned char file[512], *block;
	size_t len = bin_file(file);
	char why[160];

	ASSERT_EQ(tokenizer_prepare(&p, file, len, NTOK, why, sizeof(why)),
		  0);
	ASSERT_LT(p.bytes, (uint64_t)BIG);
	block = aligned_alloc(64, BIG);
	ASSERT_TRUE(block != NULL);
	EXPECT_EQ(tokenizer_load_at(&tk, file, len, NTOK, block, 0,
				    p.bytes - 1, why, sizeof(why)), -EFBIG);
	EXPECT_FALSE(tokenizer_loaded(&tk));
	EXPECT_EQ(tokenizer_load_at(&tk, file, len, NTOK, block, 0, p.bytes,
				    why, sizeof(why)), 0) TH_LOG("%s", why);
	EXPECT_EQ(tk.bytes, p.bytes);
	/* a tokenizer.json of another size: refused as it is built */
	EXPECT_EQ(tokenizer_load_at(&tk, json, strlen(json), 7, block, 0,
				    BIG, why, sizeof(why)), -EINVAL);
	EXPECT_TRUE(strstr(why, "has 6 ids") != NULL) TH_LOG("%s", why);
	tokenizer_prep_free(&p);
	free(block);
}

TEST_HARNESS_MAIN
