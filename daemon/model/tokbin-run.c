/* SPDX-License-Identifier: MIT */
/*
 * llama2.c tokenizer.bin encoding and decoding, with the semantics of
 * llama2.c's run.c (a score-greedy merge, not merge ranks) on the shared
 * BPE core. Invariant: a score's rank orders as the score does, reversed
 * (higher score, lower rank), and equal scores have equal ranks, so the
 * heap's leftmost-lowest-rank order is run.c's leftmost-best-score order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokbin.h"

static uint32_t score_rank(float f)
{
	uint32_t u;

	if (f == 0)
		f = 0;	/* -0 ranks as 0 */
	memcpy(&u, &f, sizeof(u));
	u ^= u >> 31 ? 0xffffffffu : 0x80000000u;	/* ascending */
	return ~u;
}

uint64_t tok_coder_size(const struct tok_table *t)
{
	uint64_t bytes = 0;
	uint32_t i;

	for (i = 0; i < t->n; i++)
		bytes += t->tok[i].len;
	return bpe_vocab_size(t->n, bytes) + bpe_round(4ull * t->n);
}

int tok_coder_build(struct tok_coder *c, const struct tok_table *t,
		    const void *buf, struct bpe_arena *a)
{
	const char *p = buf;
	char name[8];
	uint64_t bytes = 0;
	uint32_t i;
	int err;

	memset(c, 0, sizeof(*c));
	if (t->n < 3)
		return -EINVAL;
	for (i = 0; i < t->n; i++)
		bytes += t->tok[i].len;
	err = bpe_vocab_init(&c->vocab, t->n, bytes, a);
	if (err)
		return err;
	c->rank = bpe_take(a, 4ull * t->n);
	if (!c->rank)
		return -ENOSPC;
	for (i = 0; i < t->n; i++) {
		err = bpe_vocab_set(&c->vocab, i, p + t->tok[i].off,
				    t->tok[i].len);
		if (err && err != -EALREADY)
			return err;
		c->rank[i] = score_rank(t->tok[i].score);
	}
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "<0x%02X>", i);
		c->byte_id[i] = bpe_vocab_find(&c->vocab, name, 6);
	}
	c->space = bpe_vocab_find(&c->vocab, " ", 1);
	c->max_token_length = t->max_token_length;
	return 0;
}

int tok_coder_init(struct tok_coder *c, const struct tok_table *t,
		   const void *buf)
{
	struct bpe_arena a = { 0 };
	int err;

	memset(c, 0, sizeof(*c));
	if (t->n < 3)
		return -EINVAL;
	a.cap = tok_coder_size(t);
	a.p = malloc(a.cap);
	if (!a.p)
		return -ENOMEM;
	err = tok_coder_build(c, t, buf, &a);
	c->own = a.p;
	if (err) {
		tok_coder_free(c);
		return err == -ENOSPC ? -ENOMEM : err;
	}
	return 0;
}

void tok_coder_free(struct tok_coder *c)
{
	if (!c)
		return;
	free(c->own);
	memset(c, 0, sizeof(*c));
}

struct pair_ctx {
	const struct tok_coder *c;
	char *cat;		/* 2 * max_token_length bytes */
};

static int score_pair(void *ctx, uint32_t a, uint32_t b, uint32_t *rank,
		      uint32_t *id)
{
	struct pair_ctx *x = ctx;
	const char *sa, *sb;
	size_t la, lb;

	sa = bpe_vocab_get(&x->c->vocab, a, &la);
	sb = bpe_vocab_get(&x->c->vocab, b, &lb);
	memcpy(x->cat, sa, la);
	memcpy(x->cat + la, sb, lb);
	*id = bpe_vocab_find(&x->c->vocab, x->cat, la + lb);
	if (*id == BPE_NONE)
		return 0;
	*rank = x->c->rank[*id];
	return 1;
}

ssize_t tok_encode(const struct tok_coder *c, const char *text, size_t len,
		   bool bos, bool eos, uint32_t *ids, size_t max)
{
	struct pair_ctx x = { .c = c };
	struct bpe_work w = { 0 };
	size_t i, k, n = 0, ch, m;
	uint32_t *sym, id;
	ssize_t err = 0;

	for (i = 0; i < len; i += ch) {
		ch = utf8_len((const unsigned char *)text + i, len - i);
		if (!ch)
			return -EINVAL;
	}
	if (len > SIZE_MAX / sizeof(*sym) - 1)
		return -EFBIG;
	sym = malloc((len + 1) * sizeof(*sym));
	x.cat = malloc(2 * (size_t)c->max_token_length);
	if (!sym || !x.cat || bpe_work_reserve(&w, len + 1)) {
		err = -ENOMEM;
		goto out;
	}
	if (len && c->space != BPE_NONE)
		sym[n++] = c->space;
	for (i = 0; i < len; i += ch) {
		ch = utf8_len((const unsigned char *)text + i, len - i);
		id = bpe_vocab_find(&c->vocab, text + i, ch);
		if (id != BPE_NONE) {
			sym[n++] = id;
			continue;
		}
		for (k = 0; k < ch; k++) {
			sym[n] = c->byte_id[(unsigned char)text[i + k]];
			if (sym[n++] == BPE_NONE) {
				err = -EINVAL;
				goto out;
			}
		}
	}
	n = bpe_merge(&w, sym, n, score_pair, &x);
	m = n + bos + eos;
	if (m > max) {
		err = -EFBIG;
		goto out;
	}
	k = 0;
	if (bos)
		ids[k++] = TOK_BOS;
	memcpy(ids + k, sym, n * sizeof(*sym));
	if (eos)
		ids[k + n] = TOK_EOS;
	err = m;
out:
	free(sym);
	free(x.cat);
	bpe_work_free(&w);
	return err;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t tok_decode(const struct tok_coder *c, uint32_t prev, uint32_t id,
		   char *out, size_t max)
{
	const char *s;
	unsigned int b;
	size_t len;

	s = bpe_vocab_get(&c->vocab, id, &len);
	if (!s)
		return -EINVAL;
	if (prev == TOK_BOS && len && s[0] == ' ') {
		s++;
		len--;
	}
	if (len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' &&
	    hex(s[3]) >= 0 && hex(s[4]) >= 0) {
		b = hex(s[3]) << 4 | hex(s[4]);
		if (!max)
			return -EFBIG;
		out[0] = b;
		return 1;
	}
	if (len > max)
		return -EFBIG;
	memcpy(out, s, len);
	return len;
}
