/* SPDX-License-Identifier: MIT */
/*
 * model_ask.c - a language model's text-form request (daemon/model-ask.c)
 * and its stop strings (daemon/stopstr.c): stop= values decode (%XX any
 * byte, space, newline and '%' included) and bad ones are EINVAL; a text
 * prompt runs over several lines to the end of the request, less one
 * final newline, and is tokenized as those bytes are (the ids form of
 * the same tokens); newlines anywhere else are EINVAL; the search for
 * the first stop string to end in an answer as it grows, across pieces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model.h"
#include "daemon/stopstr.h"
#include "selftests/harness.h"

#define VOCAB	96
#define NL	95	/* the test's tokenizer: '\n' in the place of '|' */

/* <unk> <s> </s>, one token per byte 0x20 .. 0x7b (id 3 + byte - 0x20),
 * then "\n": the fs fixtures' tokenizer.bin with its last token a
 * newline. */
static int load(struct model *m)
{
	unsigned char buf[4 + VOCAB * (8 + 5)], *p = buf;
	static const char *const special[] = { "<unk>", "<s>", "</s>" };
	int32_t max = 5, len;
	char why[128], c;
	float score;
	unsigned i;

	memset(m, 0, sizeof(*m));
	memcpy(p, &max, 4);
	p += 4;
	for (i = 0; i < VOCAB; i++) {
		c = i == NL ? '\n' : (char)(0x1d + i);
		len = i < 3 ? (int32_t)strlen(special[i]) : 1;
		score = -(float)i;
		memcpy(p, &score, 4);
		memcpy(p + 4, &len, 4);
		memcpy(p + 8, i < 3 ? special[i] : &c, (size_t)len);
		p += 8 + len;
	}
	m->plan.max_ctx = 32;
	m->plan.cfg.vocab_size = VOCAB;
	return tokenizer_load_bin(&m->tok, buf, (size_t)(p - buf), VOCAB, why,
				  sizeof(why));
}

/* Parse @req; its ids into @ids (at most 32). The errno, or the count. */
static int ask(const struct model *m, const char *req, uint32_t *ids,
	       struct model_ask *a)
{
	const char *why = NULL;
	int err;

	err = model_ask_parse(m, req, strlen(req), a, &why);
	if (err) {
		if (!why || a->ids)
			return -1000;	/* no reason, or ids kept */
		return err;
	}
	memcpy(ids, a->ids, a->n_ids * sizeof(*ids));
	free(a->ids);
	return (int)a->n_ids;
}

#define EXPECT_IDS(m, req, ...) do {					\
	static const uint32_t want_[] = { __VA_ARGS__ };		\
	uint32_t got_[32];						\
	struct model_ask a_;						\
	int n_ = ask(m, req, got_, &a_);				\
									\
	EXPECT_EQ(n_, (int)(sizeof(want_) / sizeof(want_[0])))		\
		TH_LOG("%s", req);					\
	if (n_ == (int)(sizeof(want_) / sizeof(want_[0])))		\
		EXPECT_EQ(memcmp(got_, want_, sizeof(want_)), 0)	\
			TH_LOG("%s", req);				\
} while (0)

TEST(text_over_several_lines)
{
	struct model m;
	struct model_ask a;
	uint32_t ids[32];
	static const char *const bad[] = {
		"max_tokens=3\nA\n", "ids 1 2\n3\n", "ids 1\nids 2\n",
		"max_tokens=3 ids 1\n\n", "\n", "", "stop=x\n-- A\n",
	};
	unsigned i;

	ASSERT_EQ(load(&m), 0);
	/* 'A' 36, 'B' 37, ' ' 3 (the dummy prefix), BOS 1 */
	EXPECT_IDS(&m, "-- A\n", 1, 3, 36);
	EXPECT_IDS(&m, "max_tokens=3 -- A\nB\n", 1, 3, 36, NL, 37);
	EXPECT_IDS(&m, "max_tokens=3 -- A\nB", 1, 3, 36, NL, 37);
	EXPECT_IDS(&m, "A\nB\n", 1, 3, 36, NL, 37);
	/* one final newline is the request's, the others the text's */
	EXPECT_IDS(&m, "-- A\n\n", 1, 3, 36, NL);
	EXPECT_IDS(&m, "-- \nA\n", 1, 3, NL, 36);
	EXPECT_IDS(&m, "--\nA\n", 1, 3, 36);
	EXPECT_IDS(&m, "-- A B\n", 1, 3, 36, 3, 37);
	EXPECT_IDS(&m, "max_tokens=2 A  B\n", 1, 3, 36, 3, 3, 37);
	/* the same tokens as ids */
	EXPECT_IDS(&m, "ids 1 3 36 95 37\n", 1, 3, 36, NL, 37);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(ask(&m, bad[i], ids, &a), -EINVAL)
			TH_LOG("%s", bad[i]);
	EXPECT_EQ(ask(&m, "-- A\0B\n", ids, &a), 3);	/* strlen: "-- A" */
	EXPECT_EQ(model_ask_parse(&m, "-- A\0B\n", 7, &a, &(const char *){
				  NULL }), -EINVAL);
	tokenizer_free(&m.tok);
}

TEST(stop_values)
{
	char big[3 * 65 + 16], *p;
	struct model m;
	struct model_ask a;
	uint32_t ids[32];
	const char *why;
	unsigned i;
	static const char *const bad[] = {
		"stop= -- A", "stop=% -- A", "stop=%4 -- A", "stop=%zz -- A",
		"stop=%4g -- A", "stop=%g4 -- A", "stop=ab% -- A",
		"stop=a stop=b stop=c stop=d stop=e -- A",
	};
	static const char ok[] = "stop=ab stop=%20%0a%25 stop=%41 stop=%00 "
				 "-- x\n";

	ASSERT_EQ(load(&m), 0);
	why = NULL;
	ASSERT_EQ(model_ask_parse(&m, ok, strlen(ok), &a, &why), 0);
	free(a.ids);
	ASSERT_EQ(a.stops.n, 4u);
	EXPECT_EQ(a.stops.one[0].len, 2);
	EXPECT_EQ(memcmp(a.stops.one[0].s, "ab", 2), 0);
	EXPECT_EQ(a.stops.one[1].len, 3);
	EXPECT_EQ(memcmp(a.stops.one[1].s, " \n%", 3), 0);
	EXPECT_EQ(a.stops.one[2].len, 1);
	EXPECT_EQ(a.stops.one[2].s[0], 'A');
	EXPECT_EQ(a.stops.one[3].len, 1);
	EXPECT_EQ(a.stops.one[3].s[0], '\0');
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(ask(&m, bad[i], ids, &a), -EINVAL)
			TH_LOG("%s", bad[i]);
	/* 64 bytes decoded, not 65 */
	p = big + sprintf(big, "stop=");
	for (i = 0; i < 64; i++)
		p += sprintf(p, "%%%02X", i);
	strcpy(p, " -- A");
	EXPECT_EQ(ask(&m, big, ids, &a), 3);
	p[0] = 'z';
	strcpy(p + 1, " -- A");
	EXPECT_EQ(ask(&m, big, ids, &a), -EINVAL);
	tokenizer_free(&m.tok);
}

TEST(encode_decodes_back)
{
	struct stopstr_set set = { 0 };
	char all[256], enc[3 * 64 + 1];
	const char *why;
	unsigned i, k;

	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	for (k = 0; k < 4; k++) {
		ASSERT_GT(stopstr_encode(all + 64 * k, 64, enc, sizeof(enc)),
			  0);
		EXPECT_EQ(strpbrk(enc, " \n"), NULL);
		ASSERT_EQ(stopstr_add(&set, enc, &why), 0) TH_LOG("%s", enc);
		EXPECT_EQ(set.one[k].len, 64);
		EXPECT_EQ(memcmp(set.one[k].s, all + 64 * k, 64), 0);
	}
	EXPECT_EQ(stopstr_add(&set, "a", &why), -EINVAL);
	EXPECT_EQ(stopstr_encode("a b", 3, enc, 5), -EFBIG);
	EXPECT_EQ(stopstr_encode("a b", 3, enc, 6), 5);
	EXPECT_STREQ(enc, "a%20b");
}

/* Feed @text in pieces of @step bytes: where the answer ends (its
 * length through the stop string), or -1. */
static long feed(const struct stopstr_set *set, const char *text,
		 size_t step)
{
	char tail[STOPSTR_LEN - 1];
	size_t tn = 0, at = 0, n, e;

	while (at < strlen(text)) {
		n = strlen(text) - at < step ? strlen(text) - at : step;
		e = stopstr_find(set, tail, tn, text + at, n);
		if (e)
			return (long)(at + e);
		stopstr_tail(tail, &tn, text + at, n);
		at += n;
	}
	return -1;
}

TEST(first_stop_in_pieces)
{
	struct stopstr_set set = { 0 };
	const char *why;
	char longs[200];
	size_t step;

	ASSERT_EQ(stopstr_add(&set, "cde", &why), 0);
	ASSERT_EQ(stopstr_add(&set, "d", &why), 0);
	ASSERT_EQ(stopstr_add(&set, "xyz", &why), 0);
	for (step = 1; step <= 12; step++) {
		/* "d" ends first (at 4), whatever the pieces */
		EXPECT_EQ(feed(&set, "abcdefg", step), 4) TH_LOG("%zu", step);
		EXPECT_EQ(feed(&set, "abxyzd", step), 5) TH_LOG("%zu", step);
		EXPECT_EQ(feed(&set, "abc", step), -1);
	}
	/* a 64-byte stop string found across many pieces after 100 bytes */
	memset(&set, 0, sizeof(set));
	memset(longs, 'a', sizeof(longs));
	longs[100 + 63] = 'b';
	longs[100 + 64] = '\0';
	ASSERT_EQ(stopstr_add(&set, longs + 100, &why), 0);
	for (step = 1; step <= 70; step += 3)
		EXPECT_EQ(feed(&set, longs, step), 164) TH_LOG("%zu", step);
}

TEST_HARNESS_MAIN
