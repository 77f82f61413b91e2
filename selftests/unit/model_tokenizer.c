// SPDX-License-Identifier: MIT
/*
 * model_tokenizer.c - the tokenizer interface the model service calls:
 * decoding over tokenizer.bin with llama2.c's rules (the leading space
 * dropped after BOS only, "<0xHH>" as one byte, ids outside the
 * vocabulary refused), decimal ids without a tokenizer, encode through
 * the score-merge coder, and encode's EOPNOTSUPP without a tokenizer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "daemon/model/tokenizer.h"
#include "selftests/harness.h"

struct buf {
	unsigned char p[256];
	size_t len;
};

static void put32(struct buf *b, uint32_t v)
{
	memcpy(b->p + b->len, &v, 4);
	b->len += 4;
}

static void put_tok(struct buf *b, const char *s)
{
	put32(b, 0);		/* score 0.0f */
	put32(b, (uint32_t)strlen(s));
	memcpy(b->p + b->len, s, strlen(s));
	b->len += strlen(s);
}

/* <unk> <s> </s> " hello" <0x0A> <0xZZ> */
static void vocab(struct buf *b)
{
	b->len = 0;
	put32(b, 8);
	put_tok(b, "<unk>");
	put_tok(b, "<s>");
	put_tok(b, "</s>");
	put_tok(b, " hello");
	put_tok(b, "<0x0A>");
	put_tok(b, "<0xZZ>");
}

TEST(decode_follows_llama2c)
{
	struct tokenizer tk;
	char why[128], out[16];
	struct buf b;

	vocab(&b);
	ASSERT_EQ(tokenizer_load_bin(&tk, b.p, b.len, 6, why, sizeof(why)),
		  0);
	memset(b.p, 0, sizeof(b.p));	/* it kept its own copy */
	EXPECT_EQ(tokenizer_decode(&tk, 1, 3, out, sizeof(out)), 5);
	EXPECT_EQ(memcmp(out, "hello", 5), 0);
	EXPECT_EQ(tokenizer_decode(&tk, 3, 3, out, sizeof(out)), 6);
	EXPECT_EQ(memcmp(out, " hello", 6), 0);
	EXPECT_EQ(tokenizer_decode(&tk, 3, 4, out, sizeof(out)), 1);
	EXPECT_EQ(out[0], '\n');
	EXPECT_EQ(tokenizer_decode(&tk, 3, 5, out, sizeof(out)), 6);
	EXPECT_EQ(memcmp(out, "<0xZZ>", 6), 0);
	EXPECT_EQ(tokenizer_decode(&tk, 3, 6, out, sizeof(out)), -EINVAL);
	EXPECT_EQ(tokenizer_decode(&tk, 3, 3, out, 4), -EINVAL);
	EXPECT_EQ(tokenizer_max_piece(&tk), 16u);
	tokenizer_free(&tk);
	tokenizer_free(&tk);	/* idempotent */
}

static void put_scored(struct buf *b, const char *s, float score)
{
	uint32_t v;

	memcpy(&v, &score, 4);
	put32(b, v);
	put32(b, (uint32_t)strlen(s));
	memcpy(b->p + b->len, s, strlen(s));
	b->len += strlen(s);
}

/* BOS, then llama2.c's dummy " " prefix and merges by score: " hello"
 * is one token; a character with neither a token nor its <0xHH> byte
 * token is EINVAL; a prompt over @max ids EFBIG. */
TEST(encode_merges_by_score)
{
	static const char *const tok[] = {
		"<unk>", "<s>", "</s>", " ", "h", "e", "l", "o", "he", "ll",
		"hell", "hello", " hello",
	};
	struct tokenizer tk;
	char why[128];
	uint32_t ids[8], n, i;
	struct buf b;

	b.len = 0;
	put32(&b, 8);
	for (i = 0; i < sizeof(tok) / sizeof(tok[0]); i++)
		put_scored(&b, tok[i], (float)i);
	ASSERT_EQ(tokenizer_load_bin(&tk, b.p, b.len, 13, why, sizeof(why)),
		  0) TH_LOG("%s", why);
	ASSERT_EQ(tokenizer_encode(&tk, "hello", 5, ids, 8, &n), 0);
	ASSERT_EQ(n, 2u);
	EXPECT_EQ(ids[0], 1u);
	EXPECT_EQ(ids[1], 12u);
	ASSERT_EQ(tokenizer_encode(&tk, "hello he", 8, ids, 8, &n), 0);
	ASSERT_EQ(n, 4u);
	EXPECT_EQ(ids[2], 3u);
	EXPECT_EQ(ids[3], 8u);
	EXPECT_EQ(tokenizer_encode(&tk, "hex", 3, ids, 8, &n), -EINVAL);
	EXPECT_EQ(tokenizer_encode(&tk, "hello he", 8, ids, 3, &n), -EFBIG);
	tokenizer_free(&tk);
}

TEST(without_a_tokenizer_ids_are_decimal)
{
	char out[16];
	uint32_t ids[4], n = 9;

	EXPECT_EQ(tokenizer_decode(NULL, 1, 4242, out, sizeof(out)), 5);
	EXPECT_EQ(memcmp(out, " 4242", 5), 0);
	EXPECT_EQ(tokenizer_decode(NULL, 1, 4242, out, 5), -EINVAL);
	EXPECT_EQ(tokenizer_encode(NULL, "hi", 2, ids, 4, &n), -EOPNOTSUPP);
	EXPECT_EQ(n, 0u);
}

TEST(bad_file_is_einval)
{
	struct tokenizer tk;
	char why[128];
	struct buf b;

	vocab(&b);
	EXPECT_EQ(tokenizer_load_bin(&tk, b.p, b.len - 1, 6, why,
				     sizeof(why)), -EINVAL);
	EXPECT_EQ(tokenizer_load_bin(&tk, b.p, b.len, 7, why, sizeof(why)),
		  -EINVAL);
	tokenizer_free(&tk);
}

TEST_HARNESS_MAIN
