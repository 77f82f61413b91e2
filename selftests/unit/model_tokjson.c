/* SPDX-License-Identifier: MIT */
/*
 * model_tokjson.c - tokenizer.json on small hand-made tokenizers: merges
 * in both spellings, Metaspace's prepend schemes and split, unk fusing,
 * byte fallback both ways (invalid UTF-8 decodes to U+FFFD per byte),
 * the decoder steps, bounds (EFBIG, a decoder that would grow the text
 * without end too), bad text and ids (EINVAL), every
 * unsupported configuration refused with EINVAL, and a file cut anywhere.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"
#include "selftests/harness.h"

#define RAW(...) #__VA_ARGS__

/* vocab: <unk>=0 <s>=1 </s>=2, 256 bytes, then these, in order */
static const char *const words[] = { "\xe2\x96\x81", "a", "b", "ab", "c",
	"\xe2\x96\x81" "a", "H", "e", "y", "He", "Hey", "y\xe2\x96\x81",
	"\xe2\x96\x81" "H", "\xe2\x96\x81" "He", "\xe2\x96\x81" "Hey" };
#define W(i) (259 + (i))

static json_t *base(void)
{
	json_t *root, *vocab, *model;
	char name[8];
	size_t i;

	root = json_loads(RAW({
		"version": "1.0", "truncation": null, "padding": null,
		"added_tokens": [
		 {"id": 0, "content": "<unk>", "special": true},
		 {"id": 1, "content": "<s>", "special": true,
		  "lstrip": false, "rstrip": false, "normalized": false,
		  "single_word": false},
		 {"id": 2, "content": "</s>", "special": true}],
		"normalizer": {"type": "Sequence", "normalizers": [
		 {"type": "Prepend", "prepend": "\u2581"},
		 {"type": "Replace", "pattern": {"String": " "},
		  "content": "\u2581"}]},
		"pre_tokenizer": null,
		"post_processor": {"type": "TemplateProcessing",
		 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
			    {"Sequence": {"id": "A", "type_id": 0}}],
		 "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}},
		"decoder": {"type": "Sequence", "decoders": [
		 {"type": "Replace", "pattern": {"String": "\u2581"},
		  "content": " "},
		 {"type": "ByteFallback"}, {"type": "Fuse"},
		 {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
		"model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
		 "continuing_subword_prefix": null, "end_of_word_suffix": null,
		 "fuse_unk": true, "byte_fallback": true,
		 "merges": ["a b", ["\u2581", "a"], "H e", "He y", "y \u2581",
			    "\u2581 H", "\u2581H e", "\u2581He y"]}
	}), 0, NULL);
	model = json_object_get(root, "model");
	vocab = json_object();
	json_object_set_new(vocab, "<unk>", json_integer(0));
	json_object_set_new(vocab, "<s>", json_integer(1));
	json_object_set_new(vocab, "</s>", json_integer(2));
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "<0x%02X>", (unsigned int)i);
		json_object_set_new(vocab, name, json_integer(3 + i));
	}
	for (i = 0; i < sizeof(words) / sizeof(*words); i++)
		json_object_set_new(vocab, words[i], json_integer(W(i)));
	json_object_set_new(model, "vocab", vocab);
	return root;
}

static int parse(json_t *root, struct tokj *t, char *why)
{
	char *s = json_dumps(root, 0);
	int err;

	err = tokj_parse(s, strlen(s), t, why, 160);
	free(s);
	json_decref(root);
	return err;
}

/* encode @text and compare with @want (@n ids) */
static int same(const struct tokj *t, const char *text, unsigned int flags,
		const uint32_t *want, ssize_t n)
{
	uint32_t ids[64];
	ssize_t got = tokj_encode(t, text, strlen(text), flags, ids, 64);

	if (n < 0 || got != n)
		return got == n;
	return !memcmp(ids, want, n * sizeof(*ids));
}

TEST(llama_pipeline)
{
	uint32_t ids[64];
	char why[160], out[64];
	struct tokj t;
	ssize_t n;

	ASSERT_EQ(parse(base(), &t, why), 0) TH_LOG("%s", why);
	/* ▁a b: "▁ a" ranks 1, "a b" 0: ab first, then ▁ stays alone */
	EXPECT_TRUE(same(&t, "ab", 0, (uint32_t[]){ W(0), W(3) }, 2));
	EXPECT_TRUE(same(&t, "a", TOKJ_ADD_SPECIAL,
			 (uint32_t[]){ 1, W(5) }, 2));
	/* no pre-tokenizer: one word, so "y▁" merges across the space */
	EXPECT_TRUE(same(&t, "y b", 0, (uint32_t[]){ W(0), W(11), W(2) }, 3));
	/* "He" (rank 2) goes before "▁H" (rank 5) */
	EXPECT_TRUE(same(&t, "Hey a", 0,
			 (uint32_t[]){ W(0), W(10), W(5) }, 3));
	/* x is no token: its byte; é two bytes; special tokens split */
	EXPECT_TRUE(same(&t, "x\xc3\xa9", 0,
			 (uint32_t[]){ W(0), 3 + 'x', 3 + 0xc3, 3 + 0xa9 }, 4));
	EXPECT_TRUE(same(&t, "<s>a</s>", 0, (uint32_t[]){ 1, W(5), 2 }, 3));
	EXPECT_TRUE(same(&t, "<s>a", TOKJ_TEXT_SPECIAL,
			 (uint32_t[]){ W(0), 3 + '<', 3 + 's', 3 + '>',
				       W(1) }, 5));
	EXPECT_TRUE(same(&t, "", TOKJ_ADD_SPECIAL, (uint32_t[]){ 1 }, 1));
	EXPECT_EQ(tokj_encode(&t, "ab ab", 5, 0, ids, 3), -EFBIG);
	EXPECT_EQ(tokj_encode(&t, "a\xc3", 2, 0, ids, 64), -EINVAL);
	EXPECT_EQ(tokj_encode(&t, "\xed\xa0\x80", 3, 0, ids, 64), -EINVAL);
	/* decode: bytes reassembled, a bad sequence is U+FFFD per byte */
	n = tokj_decode(&t, (uint32_t[]){ W(0), 3 + 0xc3, 3 + 0xa9, W(3),
					 3 + 0xc3, 3 + 0x41 }, 6, 0, out,
			sizeof(out));
	ASSERT_EQ(n, 10);
	EXPECT_EQ(memcmp(out, "\xc3\xa9" "ab\xef\xbf\xbd\xef\xbf\xbd", 10),
		  0);
	n = tokj_decode(&t, (uint32_t[]){ 1, W(5), 2 }, 3, TOKJ_SKIP_SPECIAL,
			out, sizeof(out));
	EXPECT_EQ(n, 1);
	EXPECT_EQ(out[0], 'a');
	EXPECT_EQ(tokj_decode(&t, (uint32_t[]){ W(15) }, 1, 0, out, 64),
		  -EINVAL);
	EXPECT_EQ(tokj_decode(&t, (uint32_t[]){ W(5), W(5) }, 2, 0, out, 2),
		  -EFBIG);
	/* "▁" alone: " ", stripped to nothing */
	EXPECT_EQ(tokj_decode(&t, (uint32_t[]){ W(0) }, 1, 0, out, 64), 0);
	EXPECT_EQ(tokj_decode(&t, NULL, 0, 0, out, 64), 0);
	EXPECT_TRUE(tokj_is_special(&t, 2));
	EXPECT_FALSE(tokj_is_special(&t, W(0)));
	tokj_free(&t);
}

static json_t *with_metaspace(const char *scheme, bool split)
{
	json_t *root = base();

	json_object_set_new(root, "normalizer", json_null());
	json_object_set_new(root, "pre_tokenizer",
			    json_pack("{s:s, s:s, s:s, s:b}", "type",
				      "Metaspace", "replacement", "\u2581",
				      "prepend_scheme", scheme, "split",
				      split));
	json_object_set_new(root, "decoder",
			    json_pack("{s:s, s:s, s:s}", "type", "Metaspace",
				      "replacement", "\u2581",
				      "prepend_scheme", scheme));
	return root;
}

TEST(metaspace)
{
	char why[160], out[64];
	struct tokj t;
	ssize_t n;

	/* split: "y▁" cannot merge across words */
	ASSERT_EQ(parse(with_metaspace("always", true), &t, why), 0)
		TH_LOG("%s", why);
	EXPECT_TRUE(same(&t, "y b", 0,
			 (uint32_t[]){ W(0), W(8), W(0), W(2) }, 4));
	/* always: every segment gets its ▁, unless it has one */
	EXPECT_TRUE(same(&t, "a<s>a", 0,
			 (uint32_t[]){ W(5), 1, W(5) }, 3));
	/* the decoder drops every ▁ of the first token, as HF's does */
	n = tokj_decode(&t, (uint32_t[]){ W(0), W(0), W(5) }, 3, 0, out, 64);
	EXPECT_EQ(n, 3);
	EXPECT_EQ(memcmp(out, "  a", 3), 0);
	tokj_free(&t);
	ASSERT_EQ(parse(with_metaspace("first", false), &t, why), 0);
	EXPECT_TRUE(same(&t, "y b", 0, (uint32_t[]){ W(0), W(11), W(2) }, 3));
	EXPECT_TRUE(same(&t, "a<s>a", 0, (uint32_t[]){ W(5), 1, W(1) }, 3));
	EXPECT_TRUE(same(&t, "<s>a", 0, (uint32_t[]){ 1, W(1) }, 2));
	tokj_free(&t);
	ASSERT_EQ(parse(with_metaspace("never", true), &t, why), 0);
	EXPECT_TRUE(same(&t, "a b", 0, (uint32_t[]){ W(1), W(0), W(2) }, 3));
	n = tokj_decode(&t, (uint32_t[]){ W(0), W(5) }, 2, 0, out, 64);
	EXPECT_EQ(n, 3);
	EXPECT_EQ(memcmp(out, "  a", 3), 0);
	tokj_free(&t);
}

TEST(unk_without_byte_fallback)
{
	json_t *root = base(), *m = json_object_get(root, "model");
	char why[160];
	struct tokj t;

	json_object_set_new(m, "byte_fallback", json_false());
	ASSERT_EQ(parse(root, &t, why), 0) TH_LOG("%s", why);
	EXPECT_TRUE(same(&t, "xxa", 0, (uint32_t[]){ W(0), 0, W(1) }, 3));
	tokj_free(&t);
	root = base();
	m = json_object_get(root, "model");
	json_object_set_new(m, "byte_fallback", json_false());
	json_object_set_new(m, "fuse_unk", json_false());
	ASSERT_EQ(parse(root, &t, why), 0);
	EXPECT_TRUE(same(&t, "xx", 0, (uint32_t[]){ W(0), 0, 0 }, 3));
	tokj_free(&t);
	root = base();
	m = json_object_get(root, "model");
	json_object_set_new(m, "byte_fallback", json_false());
	json_object_set_new(m, "unk_token", json_null());
	ASSERT_EQ(parse(root, &t, why), 0);
	EXPECT_TRUE(same(&t, "x", 0, NULL, -EINVAL));
	tokj_free(&t);
}

/* each: a path into the base config and the JSON it is set to */
static const char *const refused[][3] = {
	{ "model", "type", "\"WordPiece\"" },
	{ "model", "dropout", "0.1" },
	{ "model", "ignore_merges", "true" },
	{ "model", "continuing_subword_prefix", "\"##\"" },
	{ "model", "merges", "[\"a x\"]" },
	{ "model", "merges", "[\"a b c\"]" },
	{ "model", "merges", "[\"a b\", [\"a\", \"b\"]]" },
	{ "model", "merges", "[[\"a\"]]" },
	{ "model", "unk_token", "\"<nope>\"" },
	{ "model", "vocab", "{\"a\": 0, \"b\": 5}" },
	{ "model", "vocab", "{\"a\": 0, \"b\": 0}" },
	{ "model", "vocab", "{\"a\": -1}" },
	{ "model", "byte_fallback", "1" },
	{ "", "truncation", "{\"max_length\": 5}" },
	{ "", "normalizer", "{\"type\": \"NFKC\"}" },
	{ "", "normalizer", "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" \"}, \"content\": \"x\"}" },
	{ "", "pre_tokenizer", "{\"type\": \"ByteLevel\"}" },
	{ "", "pre_tokenizer", "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"sometimes\"}" },
	{ "", "pre_tokenizer", "{\"type\": \"Metaspace\", \"replacement\": \"__________________________________________\"}" },
	{ "", "decoder", "{\"type\": \"Strip\", \"content\": \"ab\", \"start\": 1, \"stop\": 0}" },
	{ "", "post_processor", "{\"type\": \"RobertaProcessing\"}" },
	{ "", "post_processor", "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<x>\"}}]}" },
	{ "", "decoder", "{\"type\": \"ByteLevel\"}" },
	{ "", "decoder", "{\"type\": \"Strip\", \"content\": \" \", \"start\": -1, \"stop\": 0}" },
	{ "", "added_tokens", "[{\"id\": 1, \"content\": \"<s>\", \"lstrip\": true}]" },
	{ "", "added_tokens", "[{\"id\": 1, \"content\": \"<x>\"}]" },
	{ "", "added_tokens", "[{\"id\": 900, \"content\": \"<x>\"}]" },
	{ "", "added_tokens", "[{\"id\": 274, \"content\": \"a\"}, {\"id\": 274, \"content\": \"a\"}]" },
};

TEST(unsupported_is_refused)
{
	json_t *root, *at, *v;
	char why[160];
	struct tokj t;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		root = base();
		at = *refused[i][0] ? json_object_get(root, refused[i][0])
				    : root;
		v = json_loads(refused[i][2], JSON_DECODE_ANY, NULL);
		ASSERT_TRUE(v != NULL) TH_LOG("%zu", i);
		json_object_set_new(at, refused[i][1], v);
		why[0] = 0;
		EXPECT_EQ(parse(root, &t, why), -EINVAL)
			TH_LOG("%s.%s accepted", refused[i][0], refused[i][1]);
		EXPECT_NE(why[0], 0);
		EXPECT_EQ(t.vocab.bytes, NULL);
		printf("# %s.%s: %s\n", refused[i][0], refused[i][1], why);
	}
	/* byte_fallback without all 256 byte tokens */
	root = base();
	json_object_del(json_object_get(json_object_get(root, "model"),
					"vocab"), "<0x7F>");
	EXPECT_EQ(parse(root, &t, why), -EINVAL);
}

/* bytes that are not UTF-8: one U+FFFD piece per byte, each stripped */
TEST(byte_fallback_pieces)
{
	json_t *root = base();
	char why[160], out[64];
	struct tokj t;

	json_object_set_new(root, "decoder", json_loads(RAW({
		"type": "Sequence", "decoders": [{"type": "ByteFallback"},
		{"type": "Strip", "content": "\ufffd", "start": 1,
		 "stop": 0}]}), 0, NULL));
	ASSERT_EQ(parse(root, &t, why), 0) TH_LOG("%s", why);
	EXPECT_EQ(tokj_decode(&t, (uint32_t[]){ 3 + 0xc3, 3 + 0x41, W(1) }, 3,
			      0, out, sizeof(out)), 1);
	EXPECT_EQ(out[0], 'a');
	tokj_free(&t);
}

/* tokj_stream_feed of @ids one at a time into @out; its length or -errno */
static ssize_t streamed(const struct tokj *t, const uint32_t *ids, size_t n,
			char *out, size_t max)
{
	struct tokj_stream st = { 0 };
	size_t len = 0, got, i;
	const char *p;
	int err = 0;

	for (i = 0; i <= n && !err; i++) {
		err = tokj_stream_feed(t, &st, i < n ? ids[i] : TOKJ_END, &p,
				       &got);
		if (!err && got > max - len)
			err = -EFBIG;
		if (!err)
			memcpy(out + len, p, got);
		len += got;
	}
	tokj_stream_free(&st);
	return err ? err : (ssize_t)len;
}

/* eight Replace steps of "a" by 200 "a": bounded, not 200^8 bytes */
TEST(decoder_growth_is_bounded)
{
	json_t *root = base(), *steps = json_array(), *st;
	char why[160], many[201], out[64];
	struct tokj t;
	int i;

	memset(many, 'a', 200);
	many[200] = 0;
	for (i = 0; i < 8; i++) {
		st = json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace",
			       "pattern", "String", "a", "content", many);
		json_array_append_new(steps, st);
	}
	json_object_set_new(root, "decoder",
			    json_pack("{s:s, s:o}", "type", "Sequence",
				      "decoders", steps));
	ASSERT_EQ(parse(root, &t, why), 0) TH_LOG("%s", why);
	EXPECT_EQ(tokj_decode(&t, (uint32_t[]){ W(1) }, 1, 0, out,
			      sizeof(out)), -EFBIG);
	EXPECT_EQ(streamed(&t, (uint32_t[]){ W(1) }, 1, out, sizeof(out)),
		  -EFBIG);
	tokj_free(&t);
}

/*
 * Decoded one id at a time, every sequence of up to 4 ids over byte
 * tokens (é's two, an ASCII one, a byte that is never UTF-8, a space),
 * tokens with ▁ and pieces of a pattern, under decoders with their steps
 * before and after a Fuse: the same text as the whole decode.
 */
TEST(stream_equals_decode)
{
	static const char *const decoders[] = {
		NULL,	/* base(): Llama's */
		RAW([{"type": "ByteFallback"}, {"type": "Fuse"},
		     {"type": "Strip", "content": "\u2581", "start": 2,
		      "stop": 2}]),
		RAW([{"type": "Fuse"}, {"type": "Replace", "pattern":
		      {"String": "\u2581a"}, "content": "<0x41>"},
		     {"type": "ByteFallback"},
		     {"type": "Strip", "content": "b", "start": 1,
		      "stop": 1}]),
		RAW([{"type": "Metaspace", "replacement": "\u2581",
		      "prepend_scheme": "always"}, {"type": "ByteFallback"}]),
		RAW([{"type": "Fuse"}, {"type": "Metaspace", "replacement":
		      "\u2581", "prepend_scheme": "first"}]),
		RAW([{"type": "Replace", "pattern": {"String": "a"},
		      "content": "\u2581\u2581"}, {"type": "ByteFallback"},
		     {"type": "Strip", "content": "\ufffd", "start": 1,
		      "stop": 1}, {"type": "Fuse"}, {"type": "Replace",
		      "pattern": {"String": "\u2581\u2581\u2581"},
		      "content": "3"}]),
		"null",
	};
	const uint32_t alpha[] = { W(0), W(1), W(2), W(3), W(5), W(11),
		3 + 0xc3, 3 + 0xa9, 3 + 0x41, 3 + 0xff, 3 + 0x20, 1 };
	const size_t na = sizeof(alpha) / sizeof(*alpha);
	char why[160], whole[256], part[256];
	uint32_t ids[4];
	size_t d, n, k, c, x, total, bad = 0, runs = 0;
	ssize_t a, b;
	json_t *root;
	struct tokj t;

	for (d = 0; d < sizeof(decoders) / sizeof(*decoders); d++) {
		root = base();
		if (decoders[d])
			json_object_set_new(root, "decoder", json_pack("{s:s, s:o}",
				"type", "Sequence", "decoders",
				json_loads(decoders[d], 0, NULL)));
		if (decoders[d] && !strcmp(decoders[d], "null"))
			json_object_set_new(root, "decoder", json_null());
		ASSERT_EQ(parse(root, &t, why), 0) TH_LOG("%zu: %s", d, why);
		for (n = 0, total = 1; n <= 4; n++, total *= na) {
			for (k = 0; k < total; k++) {
				for (c = 0, x = k; c < n; c++, x /= na)
					ids[c] = alpha[x % na];
				a = tokj_decode(&t, ids, n, 0, whole,
						sizeof(whole));
				b = streamed(&t, ids, n, part, sizeof(part));
				runs++;
				if ((a != b || (a > 0 && memcmp(whole, part, a))) &&
				    bad++ < 5)
					TH_LOG("decoder %zu, %zu ids, #%zu: %zd vs %zd",
					       d, n, k, a, b);
			}
		}
		tokj_free(&t);
	}
	EXPECT_EQ(bad, 0);
	EXPECT_GT(runs, 100000u);
}

/* what streaming holds back, and when it lets go */
TEST(stream_holds_byte_runs)
{
	json_t *root = base();
	struct tokj_stream st = { 0 };
	char why[160];
	struct tokj t;
	const char *p;
	size_t n;

	ASSERT_EQ(parse(root, &t, why), 0) TH_LOG("%s", why);
	ASSERT_EQ(tokj_stream_feed(&t, &st, W(5), &p, &n), 0);
	EXPECT_EQ(n, 1u);	/* "▁a": the first space stripped */
	EXPECT_EQ(memcmp(p, "a", 1), 0);
	ASSERT_EQ(tokj_stream_feed(&t, &st, 3 + 0xc3, &p, &n), 0);
	EXPECT_EQ(n, 0u);	/* half of é */
	ASSERT_EQ(tokj_stream_feed(&t, &st, 3 + 0xa9, &p, &n), 0);
	EXPECT_EQ(n, 0u);	/* é, but the run goes on */
	ASSERT_EQ(tokj_stream_feed(&t, &st, W(0), &p, &n), 0);
	EXPECT_EQ(n, 3u);
	EXPECT_EQ(memcmp(p, "\xc3\xa9 ", 3), 0);
	ASSERT_EQ(tokj_stream_feed(&t, &st, 3 + 0xc3, &p, &n), 0);
	EXPECT_EQ(tokj_stream_feed(&t, &st, 1u << 20, &p, &n), -EINVAL);
	ASSERT_EQ(tokj_stream_feed(&t, &st, 3 + 0x41, &p, &n), 0);
	EXPECT_EQ(n, 0u);
	ASSERT_EQ(tokj_stream_feed(&t, &st, TOKJ_END, &p, &n), 0);
	EXPECT_EQ(n, 6u);	/* not UTF-8: U+FFFD per byte */
	EXPECT_EQ(memcmp(p, "\xef\xbf\xbd\xef\xbf\xbd", 6), 0);
	EXPECT_EQ(tokj_stream_feed(&t, &st, W(1), &p, &n), -EINVAL);
	EXPECT_EQ(n, 0u);	/* nothing after the end */
	tokj_stream_free(&st);
	tokj_free(&t);
}

TEST(cut_anywhere)
{
	json_t *root = base();
	char why[160], *s = json_dumps(root, 0);
	size_t i, len = strlen(s);
	struct tokj t;
	int bad = 0;

	for (i = 0; i < len; i += 7)
		if (tokj_parse(s, i, &t, why, sizeof(why)) != -EINVAL ||
		    t.vocab.bytes)
			bad++;
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(tokj_parse(s, len, &t, why, sizeof(why)), 0);
	tokj_free(&t);
	json_decref(root);
	free(s);
}

TEST_HARNESS_MAIN
