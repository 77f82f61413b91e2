// SPDX-License-Identifier: MIT
/*
 * model_tokenizer.c - the tokenizer interface the model service calls:
 * decoding over tokenizer.bin with llama2.c's rules (the leading space
 * dropped after BOS only, "<0xHH>" as one byte, ids outside the
 * vocabulary refused), decimal ids without a tokenizer, encode through
 * the score-merge coder, and encode's EOPNOTSUPP without a tokenizer;
 * tokenizer_load() telling tokenizer.bin and tokenizer.json apart by
 * content and refusing a tokenizer.json of another vocabulary size.
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

/* decode @id after @prev into @out (NUL-terminated); its length */
static ssize_t dec(const struct tokenizer *tk, uint32_t prev, uint32_t id,
		   char *out, size_t size)
{
	struct tokenizer_dec d = { 0 };
	const char *p;
	ssize_t n;

	n = tokenizer_decode(tk, &d, prev, id, &p);
	if (n >= 0 && (size_t)n < size) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	tokenizer_dec_free(&d);
	return n;
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
	EXPECT_EQ(dec(&tk, 1, 3, out, sizeof(out)), 5);
	EXPECT_EQ(memcmp(out, "hello", 5), 0);
	EXPECT_EQ(dec(&tk, 3, 3, out, sizeof(out)), 6);
	EXPECT_EQ(memcmp(out, " hello", 6), 0);
	EXPECT_EQ(dec(&tk, 3, 4, out, sizeof(out)), 1);
	EXPECT_EQ(out[0], '\n');
	EXPECT_EQ(dec(&tk, 3, 5, out, sizeof(out)), 6);
	EXPECT_EQ(memcmp(out, "<0xZZ>", 6), 0);
	EXPECT_EQ(dec(&tk, 3, 6, out, sizeof(out)), -EINVAL);
	EXPECT_EQ(dec(&tk, 3, TOKENIZER_END, out, sizeof(out)), 0);
	EXPECT_TRUE(tokenizer_loaded(&tk));
	tokenizer_free(&tk);
	tokenizer_free(&tk);	/* idempotent */
	EXPECT_FALSE(tokenizer_loaded(&tk));
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

	EXPECT_EQ(dec(NULL, 1, 4242, out, sizeof(out)), 5);
	EXPECT_EQ(memcmp(out, " 4242", 5), 0);
	EXPECT_FALSE(tokenizer_loaded(NULL));
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

/* tokenizer_load() by content: the fourth byte of tokenizer.bin is 0 */
TEST(load_tells_the_kinds_apart)
{
	static const char json[] = "{\"model\": {\"type\": \"BPE\", "
		"\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, "
		"\"merges\": [\"a b\"]}}";
	struct tokenizer_dec d = { 0 };
	struct tokenizer tk;
	char why[128];
	uint32_t ids[4], n;
	const char *p;
	struct buf b;

	vocab(&b);
	ASSERT_EQ(tokenizer_load(&tk, b.p, b.len, 6, why, sizeof(why)), 0);
	EXPECT_TRUE(tk.t.n == 6 && !tk.json);
	tokenizer_free(&tk);
	ASSERT_EQ(tokenizer_load(&tk, json, strlen(json), 3, why,
				 sizeof(why)), 0) TH_LOG("%s", why);
	EXPECT_TRUE(tk.json && !tk.t.n && tokenizer_loaded(&tk));
	ASSERT_EQ(tokenizer_encode(&tk, "abab", 4, ids, 4, &n), 0);
	ASSERT_EQ(n, 2u);
	EXPECT_TRUE(ids[0] == 2 && ids[1] == 2);
	/* no decoder: tokens joined by spaces, streamed */
	EXPECT_EQ(tokenizer_decode(&tk, &d, 1, 2, &p), 2);
	EXPECT_EQ(memcmp(p, "ab", 2), 0);
	EXPECT_EQ(tokenizer_decode(&tk, &d, 2, 0, &p), 2);
	EXPECT_EQ(memcmp(p, " a", 2), 0);
	EXPECT_EQ(tokenizer_decode(&tk, &d, 0, 3, &p), -EINVAL);
	EXPECT_EQ(tokenizer_decode(&tk, &d, 0, TOKENIZER_END, &p), 0);
	tokenizer_dec_free(&d);
	tokenizer_free(&tk);
	EXPECT_EQ(tokenizer_load(&tk, json, strlen(json), 4, why,
				 sizeof(why)), -EINVAL);
	EXPECT_TRUE(strstr(why, "has 3 ids, the model's vocab_size is 4") !=
		    NULL) TH_LOG("%s", why);
	EXPECT_FALSE(tokenizer_loaded(&tk));
	EXPECT_EQ(tokenizer_load(&tk, "{}", 2, 3, why, sizeof(why)), -EINVAL);
	EXPECT_EQ(tokenizer_load(&tk, "{\"model\"", 9, 3, why, sizeof(why)),
		  -EINVAL);
	EXPECT_FALSE(tokenizer_loaded(&tk));
}

TEST_HARNESS_MAIN
