/* SPDX-License-Identifier: MIT */
/*
 * model_tokbin.c - llama2.c tokenizer.bin: a good file read with and
 * without the vocabulary size, cuts at every byte, bytes left over, lying
 * lengths and counts, scores that are not finite.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokbin.h"
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

static void put_tok(struct buf *b, float score, const char *s, size_t n)
{
	uint32_t u;

	memcpy(&u, &score, 4);
	put32(b, u);
	put32(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* max_token_length 5; "<unk>", "", "a\0b" */
static void good(struct buf *b)
{
	b->len = 0;
	put32(b, 5);
	put_tok(b, 0.0f, "<unk>", 5);
	put_tok(b, -1.5f, "", 0);
	put_tok(b, -2.0f, "a\0b", 3);
}

TEST(good_file)
{
	struct tok_table t;
	struct buf b;
	char why[128] = "";

	good(&b);
	ASSERT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(t.max_token_length, 5u);
	ASSERT_EQ(t.n, 3u);
	EXPECT_EQ(t.tok[0].len, 5u);
	EXPECT_EQ(memcmp(b.p + t.tok[0].off, "<unk>", 5), 0);
	EXPECT_EQ(t.tok[1].len, 0u);
	EXPECT_TRUE(t.tok[1].score == -1.5f);
	EXPECT_EQ(t.tok[2].len, 3u);
	EXPECT_EQ(memcmp(b.p + t.tok[2].off, "a\0b", 3), 0);
	EXPECT_EQ(t.tok[2].off + 3, b.len);
	tok_free(&t);
	EXPECT_EQ(t.tok, NULL);
	/* vocab_size 0: as many as the file holds */
	ASSERT_EQ(tok_parse(b.p, b.len, 0, &t, why, sizeof(why)), 0);
	EXPECT_EQ(t.n, 3u);
	tok_free(&t);
}

TEST(cut_anywhere_or_count_lies)
{
	struct tok_table t;
	struct buf b;
	char why[128];
	size_t cut;
	int bad = 0;

	good(&b);
	for (cut = 0; cut < b.len; cut++) {
		unsigned char *c = malloc(cut ? cut : 1);

		memcpy(c, b.p, cut);
		/* with the count, every cut lies; without, all but the
		 * cuts between whole tokens do */
		if (tok_parse(c, cut, 3, &t, why, sizeof(why)) != -EINVAL)
			bad++;
		if (cut != 4 + 13 && cut != 4 + 13 + 8 &&
		    tok_parse(c, cut, 0, &t, why, sizeof(why)) != -EINVAL)
			bad++;
		EXPECT_EQ(t.tok, NULL);
		tok_free(&t);
		free(c);
	}
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(tok_parse(b.p, b.len, 4, &t, why, sizeof(why)), -EINVAL);
	EXPECT_EQ(tok_parse(b.p, b.len, 2, &t, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "left after 2 tokens"), NULL) TH_LOG("%s", why);
	EXPECT_EQ(tok_parse(b.p, b.len, TOK_MAX_VOCAB + 1, &t, why,
			    sizeof(why)), -EINVAL);
	/* a huge count over a tiny file allocates nothing, fails early */
	EXPECT_EQ(tok_parse(b.p, b.len, TOK_MAX_VOCAB, &t, why, sizeof(why)),
		  -EINVAL);
	EXPECT_EQ(tok_parse(b.p, 4, 0, &t, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "no tokens"), NULL) TH_LOG("%s", why);
}

TEST(lying_fields)
{
	struct tok_table t;
	struct buf b;
	char why[128];
	uint32_t v;

	good(&b);
	v = 4;			/* "<unk>" is longer than that */
	memcpy(b.p, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);
	v = 0;
	memcpy(b.p, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);
	v = (uint32_t)-5;
	memcpy(b.p, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);
	v = TOK_MAX_TOKEN_LENGTH + 1;
	memcpy(b.p, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);

	good(&b);
	v = (uint32_t)-1;	/* token 1's length, negative */
	memcpy(b.p + 4 + 13 + 4, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "token 1"), NULL) TH_LOG("%s", why);
	v = 1000;		/* allowed by max_token_length, past the end */
	memcpy(b.p, &v, 4);
	memcpy(b.p + 4 + 13 + 4, &v, 4);
	EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "ends inside"), NULL) TH_LOG("%s", why);
}

TEST(scores_must_be_finite)
{
	struct tok_table t;
	struct buf b;
	char why[128];
	float bad[] = { NAN, INFINITY, -INFINITY };
	size_t i;

	for (i = 0; i < 3; i++) {
		good(&b);
		memcpy(b.p + 4 + 13, &bad[i], 4);
		EXPECT_EQ(tok_parse(b.p, b.len, 3, &t, why, sizeof(why)),
			  -EINVAL);
		EXPECT_NE(strstr(why, "score"), NULL) TH_LOG("%s", why);
	}
}

TEST_HARNESS_MAIN
