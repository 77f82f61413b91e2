// SPDX-License-Identifier: MIT
/*
 * model_stop.c - stop strings and multi-line prompts on models/NAME/infer
 * (text form). A greedy answer is known from its ids (the fixture's
 * tokenizer.bin: one byte per token); stop= on a string in its middle
 * ends the answer right after that string's first end, the text after
 * it unsent, and the usage trailer counts the tokens made up to it,
 * fewer than max_tokens, a string of two tokens' bytes included; a
 * string never made changes nothing; the encoding %XX is the byte; bad
 * stop= values are EINVAL. A prompt over several lines (a tokenizer.bin
 * with a newline token) is tokenized as those bytes: the answer is the
 * one to the same ids in the text and the binary form.
 */
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_stop, "write_checkpoints.py", "")

#define MAX_TOKENS 24

/* The greedy answer to "ids 1" as text, and where each token's bytes
 * end in it (the decoding of model_infer.c's text test: token t >= 3 is
 * byte 0x1d + t, 0 "<unk>", a space right after BOS dropped, BOS or EOS
 * ends it). Returns the tokens of text. */
struct known {
	char text[8 * MAX_TOKENS];
	size_t end[MAX_TOKENS];		/* text length after token i */
	unsigned n;
};

static int known(const struct gl_daemon *d, struct known *k)
{
	char ids[1024];
	unsigned gen[MAX_TOKENS], i, prev = 1;
	size_t l = 0;
	int n;

	memset(k, 0, sizeof(*k));
	n = model_infer(d, "m", "max_tokens=24 output=ids ids 1\n", ids,
			sizeof(ids));
	if (n <= 0 || model_ids(ids, gen, MAX_TOKENS) != MAX_TOKENS)
		return -1;
	for (i = 0; i < MAX_TOKENS; i++) {
		if (gen[i] == 1 || gen[i] == 2)
			break;
		if (!gen[i])
			l += (size_t)sprintf(k->text + l, "<unk>");
		else if (!(prev == 1 && gen[i] == 3))
			k->text[l++] = (char)(0x1d + gen[i]);
		k->end[i] = l;
		prev = gen[i];
	}
	k->n = i;
	return 0;
}

/* A request "OPTS usage=1 ids 1" read whole into @text (the trailer
 * stripped); its MADE count, or -1. */
static int ask_usage(const struct gl_daemon *d, const char *opts,
		     char *text, size_t size)
{
	char req[512], *tr;
	unsigned p, made;

	snprintf(req, sizeof(req), "max_tokens=24 usage=1 %s ids 1\n", opts);
	if (model_infer(d, "m", req, text, size) < 0)
		return -1;
	tr = strrchr(text, '\x1e');
	if (!tr || sscanf(tr, "\x1eusage %u %u\n", &p, &made) != 2 || p != 1)
		return -1;
	*tr = '\0';
	return (int)made;
}

/* The tokens made once the answer holds @s (its first end): 1 + the
 * index of the token whose bytes end it, and the text through it. */
static unsigned made_until(const struct known *k, const char *s,
			   size_t *upto)
{
	const char *hit = strstr(k->text, s);
	unsigned i;

	*upto = (size_t)(hit - k->text) + strlen(s);
	for (i = 0; i < k->n && k->end[i] < *upto; i++)
		;
	return i + 1;
}

TEST_F(model_stop, stop_strings_end_generation)
{
	const struct gl_daemon *d = &self->d;
	char full[512], got[512], opts[128], two[3] = "", enc[16];
	unsigned j, want;
	struct known k;
	size_t upto;
	int made;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin\n", self->dir,
			       self->dir), 0);
	ASSERT_EQ(known(d, &k), 0);
	ASSERT_GE(k.n, 8u) TH_LOG("%s", k.text);
	/* unstopped: the whole known text, every token counted */
	made = ask_usage(d, "", full, sizeof(full));
	EXPECT_STREQ(full, k.text);
	EXPECT_EQ(made, (int)k.n);	/* an EOS is not counted */
	/* two bytes of two tokens in the middle: made by token j + 1 */
	for (j = k.n / 2; j + 1 < k.n; j++)
		if (k.end[j] - k.end[j - 1] == 1 &&
		    k.end[j + 1] - k.end[j] == 1)
			break;
	ASSERT_LT(j + 1, k.n) TH_LOG("%s", k.text);
	memcpy(two, k.text + k.end[j - 1], 2);
	want = made_until(&k, two, &upto);
	ASSERT_LT(want, (unsigned)MAX_TOKENS);
	snprintf(opts, sizeof(opts), "stop=%%%02X%%%02X",
		 (unsigned char)two[0], (unsigned char)two[1]);
	made = ask_usage(d, opts, got, sizeof(got));
	EXPECT_EQ(made, (int)want) TH_LOG("stop '%s' in '%s'", two, k.text);
	EXPECT_EQ(strlen(got), upto) TH_LOG("'%s'", got);
	EXPECT_EQ(strncmp(got, k.text, upto), 0) TH_LOG("'%s'", got);
	/* one byte of it, literal where it can be: its first end */
	enc[0] = two[1];
	enc[1] = '\0';
	if (two[1] == ' ' || two[1] == '%')
		snprintf(enc, sizeof(enc), "%%%02X", (unsigned char)two[1]);
	snprintf(opts, sizeof(opts), "stop=%s", enc);
	want = made_until(&k, two + 1, &upto);
	made = ask_usage(d, opts, got, sizeof(got));
	EXPECT_EQ(made, (int)want);
	EXPECT_EQ(strlen(got), upto) TH_LOG("'%s'", got);
	/* never made (no token is 0x01 or "\n"): nothing changes; with the
	 * two-byte one beside them, that one ends it */
	made = ask_usage(d, "stop=%01 stop=%0A", got, sizeof(got));
	EXPECT_STREQ(got, full);
	EXPECT_EQ(made, (int)k.n);	/* an EOS is not counted */
	snprintf(opts, sizeof(opts), "stop=%%01 stop=%%%02X%%%02X stop=%%0a",
		 (unsigned char)two[0], (unsigned char)two[1]);
	want = made_until(&k, two, &upto);
	made = ask_usage(d, opts, got, sizeof(got));
	EXPECT_EQ(made, (int)want);
	EXPECT_EQ(strlen(got), upto);
}

TEST_F(model_stop, bad_stop_is_einval)
{
	const struct gl_daemon *d = &self->d;
	static const char *const bad[] = {
		"stop= ids 1\n", "stop=% ids 1\n", "stop=%4 ids 1\n",
		"stop=%zz ids 1\n", "stop=a%0 ids 1\n",
		"stop=a stop=b stop=c stop=d stop=e ids 1\n",
		"stop=0123456789012345678901234567890123456789012345678901"
		"2345678901234 ids 1\n",
	};
	char out[256];
	unsigned i;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin\n", self->dir,
			       self->dir), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(model_infer(d, "m", bad[i], out, sizeof(out)),
			  -EINVAL) TH_LOG("%s", bad[i]);
	/* 64 bytes and 4 strings are fine */
	EXPECT_GE(model_infer(d, "m", "stop=a stop=b stop=c max_tokens=2 "
			      "stop=0123456789012345678901234567890123456789"
			      "012345678901234567890123 ids 1\n", out,
			      sizeof(out)), 0);
}

/* The fixture's tokenizer.bin with its last token (95, '|') a newline,
 * at @path. 0 or -1. */
static int write_nl_tokenizer(const char *path)
{
	static const char *const special[] = { "<unk>", "<s>", "</s>" };
	int32_t max = 5, len;
	float score;
	unsigned i;
	FILE *f = fopen(path, "w");
	char c;

	if (!f)
		return -1;
	fwrite(&max, 4, 1, f);
	for (i = 0; i < 96; i++) {
		c = i == 95 ? '\n' : (char)(0x1d + i);
		len = i < 3 ? (int32_t)strlen(special[i]) : 1;
		score = -(float)i;
		fwrite(&score, 4, 1, f);
		fwrite(&len, 4, 1, f);
		fwrite(i < 3 ? special[i] : &c, (size_t)len, 1, f);
	}
	return fclose(f) ? -1 : chmod(path, 0644);
}

TEST_F(model_stop, multi_line_prompt)
{
	const struct gl_daemon *d = &self->d;
	static const uint32_t ids[] = { 1, 3, 36, 95, 37, 95 };
	struct {
		struct gl_infer_ids h;
		uint32_t ids[6];
	} bin = { .h = { .magic = GL_INFER_IDS_MAGIC, .n_ids = 6,
			 .max_tokens = 6, .top_p = 1.0f } };
	char by_text[256], by_ids[256], path[128];
	uint32_t ans[6];
	unsigned got[6];
	int nt, ni, i;

	snprintf(path, sizeof(path), "%s/nl.bin", self->dir);
	ASSERT_EQ(write_nl_tokenizer(path), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s\n", self->dir, path), 0);
	/* "A\nB\n": BOS, the dummy " ", A, newline, B, newline */
	nt = model_infer(d, "m", "max_tokens=6 output=ids -- A\nB\n\n",
			 by_text, sizeof(by_text));
	ni = model_infer(d, "m", "max_tokens=6 output=ids ids 1 3 36 95 37 "
			 "95\n", by_ids, sizeof(by_ids));
	ASSERT_GT(nt, 0);
	ASSERT_EQ(nt, ni);
	EXPECT_STREQ(by_text, by_ids);
	/* the binary form of those ids */
	memcpy(bin.ids, ids, sizeof(ids));
	ASSERT_EQ(model_infer_raw(d, "m", &bin, sizeof(bin), ans,
				  sizeof(ans)), (int)sizeof(ans));
	ASSERT_EQ(model_ids(by_ids, got, 6), 6);
	for (i = 0; i < 6; i++)
		EXPECT_EQ(ans[i], got[i]) TH_LOG("token %d", i);
	/* without "--" too; a newline outside text is EINVAL */
	EXPECT_GT(model_infer(d, "m", "max_tokens=6 output=ids A\nB\n\n",
			      by_text, sizeof(by_text)), 0);
	EXPECT_STREQ(by_text, by_ids);
	EXPECT_EQ(model_infer(d, "m", "max_tokens=6\n-- A\n", by_text,
			      sizeof(by_text)), -EINVAL);
	EXPECT_EQ(model_infer(d, "m", "ids 1 3\n36\n", by_text,
			      sizeof(by_text)), -EINVAL);
}

TEST_HARNESS_MAIN
