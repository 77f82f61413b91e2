/* SPDX-License-Identifier: MIT */
/*
 * model_tokbin_encode.c - llama2.c tokenizer.bin encoding and decoding on
 * a small vocabulary: the dummy " " prefix, merges by highest score with
 * the leftmost winning a tie, byte fallback, BOS/EOS, the space dropped
 * after BOS, bounds (EFBIG) and bad input (EINVAL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokbin.h"
#include "selftests/harness.h"

/* <unk> <s> </s>, 256 byte tokens, then these with their scores */
static const struct { const char *s; float score; } words[] = {
	{ " ", -1 }, { "a", -2 }, { "b", -2 }, { "ab", -5 }, { "ba", -4 },
	{ " a", -3 }, { "aa", -6 }, { "\xc3\xa9", -2 }, { " ab", -1 },
};
#define W(i) (259 + (i))
#define NW (sizeof(words) / sizeof(*words))

struct file {
	unsigned char *p;
	size_t len;
};

static void put(struct file *f, const void *s, size_t n)
{
	memcpy(f->p + f->len, s, n);
	f->len += n;
}

static void tok(struct file *f, float score, const char *s)
{
	uint32_t n = strlen(s);

	put(f, &score, 4);
	put(f, &n, 4);
	put(f, s, n);
}

static void build(struct tok_coder *c)
{
	struct file f = { .p = malloc(1 << 16) };
	struct tok_table t;
	uint32_t max = 16;
	char name[8];
	size_t i;

	put(&f, &max, 4);
	tok(&f, 0, "<unk>");
	tok(&f, 0, "\n<s>\n");
	tok(&f, 0, "\n</s>\n");
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "<0x%02X>", (unsigned int)i);
		tok(&f, 0, name);
	}
	for (i = 0; i < NW; i++)
		tok(&f, words[i].score, words[i].s);
	if (tok_parse(f.p, f.len, 0, &t, NULL, 0) ||
	    tok_coder_init(c, &t, f.p))
		abort();
	tok_free(&t);
	free(f.p);
}

static int same(const struct tok_coder *c, const char *text, bool bos,
		bool eos, const uint32_t *want, ssize_t n)
{
	uint32_t ids[64];
	ssize_t got = tok_encode(c, text, strlen(text), bos, eos, ids, 64);

	if (n < 0 || got != n)
		return got == n;
	return !memcmp(ids, want, n * sizeof(*ids));
}

TEST(encode)
{
	struct tok_coder c;
	uint32_t ids[4];

	build(&c);
	/* the dummy " ": " a" (-3) before "ab" (-5), then " ab" (-1) */
	EXPECT_TRUE(same(&c, "ab", false, false, (uint32_t[]){ W(8) }, 1));
	EXPECT_TRUE(same(&c, "aba", true, true,
			 (uint32_t[]){ 1, W(8), W(1), 2 }, 4));
	/* "ba" (-4) before "aa" (-6) */
	EXPECT_TRUE(same(&c, "baaa", false, false,
			 (uint32_t[]){ W(0), W(4), W(6) }, 3));
	/* equal scores: the leftmost "aa" wins */
	EXPECT_TRUE(same(&c, "aaaa", false, false,
			 (uint32_t[]){ W(5), W(6), W(1) }, 3));
	/* é is a token; x and the emoji are their bytes */
	EXPECT_TRUE(same(&c, "\xc3\xa9x\xf0\x9f\xa6\x9c", false, false,
			 (uint32_t[]){ W(0), W(7), 3 + 'x', 3 + 0xf0,
				       3 + 0x9f, 3 + 0xa6, 3 + 0x9c }, 7));
	EXPECT_TRUE(same(&c, "", true, false, (uint32_t[]){ 1 }, 1));
	EXPECT_TRUE(same(&c, "\xc3", false, false, NULL, -EINVAL));
	EXPECT_EQ(tok_encode(&c, "xyz", 3, true, false, ids, 4), -EFBIG);
	tok_coder_free(&c);
}

TEST(decode)
{
	struct tok_coder c;
	char out[16];

	build(&c);
	EXPECT_EQ(tok_decode(&c, 1, W(5), out, sizeof(out)), 1);
	EXPECT_EQ(out[0], 'a');
	EXPECT_EQ(tok_decode(&c, W(1), W(5), out, sizeof(out)), 2);
	EXPECT_EQ(memcmp(out, " a", 2), 0);
	EXPECT_EQ(tok_decode(&c, W(1), 3 + 0x0a, out, sizeof(out)), 1);
	EXPECT_EQ(out[0], '\n');
	EXPECT_EQ(tok_decode(&c, 0, W(NW), out, sizeof(out)), -EINVAL);
	EXPECT_EQ(tok_decode(&c, 0, W(8), out, 2), -EFBIG);
	tok_coder_free(&c);
}

TEST_HARNESS_MAIN
