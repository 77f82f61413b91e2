// SPDX-License-Identifier: MIT
/*
 * The tokenizer interface over llama2.c's tokenizer.bin (decoding here,
 * encoding through its score-merge coder, tokbin-run.c) or Hugging
 * Face's tokenizer.json (tokjson*.c: its encoder, and its decoder
 * streamed), loaded on the heap or placed in a block as one image. Pure:
 * no I/O, no global state.
 * Invariants: a tokenizer holds one kind or none; an image holds no
 * pointer (its struct's table pointers are NULL, their offsets in at[]),
 * so a view made from it at any address is the tokenizer it was built
 * as; every piece a decode returns lies in the tokenizer's tables or in
 * the decoder's own buffer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokenizer.h"
#include "daemon/model/why.h"

/* The table pointers of each kind, in the order at[] keeps them. */
#define BIN_PTRS(X) X(vocab.bytes) X(vocab.off) X(vocab.len) \
	X(vocab.slot) X(rank)
#define JSON_PTRS(X) X(vocab.bytes) X(vocab.off) X(vocab.len) \
	X(vocab.slot) X(merge_key) X(merge_rank) X(merge_id) X(added)
#define IMG_PTRS	8

/* An image's head, at its start; the tables follow, from an arena. */
struct tok_image {
	uint64_t at[IMG_PTRS];	/* from the image's start; UINT64_MAX: NULL */
	union {
		struct tok_coder bin;
		struct tokj json;
	} u;			/* its pointers NULL */
};

#define IMG_HEAD	bpe_round(sizeof(struct tok_image))
#define NO_AT		UINT64_MAX

/* pointer @f of @c into at[k] as an offset from @img; NULL in @c */
#define PIN(f) do { \
	h->at[k++] = c->f ? (uint64_t)((char *)c->f - img) : NO_AT; \
	c->f = NULL; \
} while (0);

/* at[k] back into pointer @f of @c, into the image at @img */
#define REBASE(f) do { \
	c->f = h->at[k] == NO_AT ? NULL : (void *)(img + h->at[k]); \
	k++; \
} while (0);

int tokenizer_load_bin(struct tokenizer *tk, const void *buf, size_t len,
		       uint32_t vocab, char *why, size_t whylen)
{
	int err;

	memset(tk, 0, sizeof(*tk));
	err = tok_parse(buf, len, vocab, &tk->t, why, whylen);
	if (err)
		return err;
	tk->kind = TOKENIZER_BIN;
	tk->coder = calloc(1, sizeof(*tk->coder));
	err = tk->coder ? tok_coder_init(tk->coder, &tk->t, buf) : -ENOMEM;
	free(tk->t.tok);	/* the coder has the tokens */
	tk->t.tok = NULL;
	if (err) {
		snprintf(why, whylen, "tokenizer: %s", err == -ENOMEM ?
			 "out of memory" : "fewer than 3 tokens");
		tokenizer_free(tk);
	}
	return err;
}

int tokenizer_load_json(struct tokenizer *tk, const void *buf, size_t len,
			uint32_t vocab, char *why, size_t whylen)
{
	int err;

	memset(tk, 0, sizeof(*tk));
	tk->kind = TOKENIZER_JSON;
	tk->json = calloc(1, sizeof(*tk->json));
	if (!tk->json)
		return -ENOMEM;
	err = tokj_parse(buf, len, tk->json, why, whylen);
	if (!err && tk->json->vocab.n != vocab)
		err = model_why(why, whylen, -EINVAL, "tokenizer.json has %u "
				"ids, the model's vocab_size is %u",
				tk->json->vocab.n, vocab);
	if (err)
		tokenizer_free(tk);
	return err;
}

static bool is_bin(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len >= 4 && !p[3];
}

int tokenizer_load(struct tokenizer *tk, const void *buf, size_t len,
		   uint32_t vocab, char *why, size_t whylen)
{
	if (is_bin(buf, len))
		return tokenizer_load_bin(tk, buf, len, vocab, why, whylen);
	return tokenizer_load_json(tk, buf, len, vocab, why, whylen);
}

void tokenizer_free(struct tokenizer *tk)
{
	if (!tk)
		return;
	if (!tk->bytes) {	/* a placed one's are its block's */
		tok_coder_free(tk->coder);
		free(tk->coder);
		tokj_free(tk->json);
		free(tk->json);
	}
	tok_free(&tk->t);
	memset(tk, 0, sizeof(*tk));
}

bool tokenizer_loaded(const struct tokenizer *tk)
{
	return tk && tk->kind != TOKENIZER_NONE;
}

int tokenizer_prepare(struct tokenizer_prep *p, const void *buf, size_t len,
		      uint32_t vocab, char *why, size_t whylen)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->vocab = vocab;
	if (!is_bin(buf, len)) {
		err = tokj_prepare(buf, len, &p->j, why, whylen);
		if (err)
			return err;
		p->kind = TOKENIZER_JSON;
		/* its struct tokj is the head's */
		p->bytes = IMG_HEAD + p->j.size - bpe_round(sizeof(struct tokj));
		return 0;
	}
	err = tok_parse(buf, len, vocab, &p->t, why, whylen);
	if (err)
		return err;
	if (p->t.n < 3) {
		tok_free(&p->t);
		return model_why(why, whylen, -EINVAL,
				 "tokenizer: fewer than 3 tokens");
	}
	p->kind = TOKENIZER_BIN;
	p->bytes = IMG_HEAD + tok_coder_size(&p->t);
	return 0;
}

void tokenizer_prep_free(struct tokenizer_prep *p)
{
	if (!p)
		return;
	tok_free(&p->t);
	tokj_prep_free(&p->j);
	memset(p, 0, sizeof(*p));
}

int tokenizer_build(struct tokenizer *tk, const struct tokenizer_prep *p,
		    void *image, uint64_t off, char *why, size_t whylen)
{
	struct bpe_arena a = { .p = image, .used = IMG_HEAD,
			       .cap = p->bytes };
	struct tok_image *h = image;
	char *img = image;
	int err, k = 0;

	memset(tk, 0, sizeof(*tk));
	memset(h, 0, sizeof(*h));
	if (p->kind == TOKENIZER_BIN) {
		struct tok_coder *c = &h->u.bin;

		err = tok_coder_build(c, &p->t, p->buf, &a);
		if (err)
			goto fail;
		BIN_PTRS(PIN)
		tk->t.n = p->t.n;
		tk->t.max_token_length = p->t.max_token_length;
	} else {
		struct tokj *c = &h->u.json;

		err = tokj_build(&p->j, c, &a, why, whylen);
		if (!err && c->vocab.n != p->vocab)
			err = model_why(why, whylen, -EINVAL, "tokenizer.json "
					"has %u ids, the model's vocab_size "
					"is %u", c->vocab.n, p->vocab);
		if (err)
			goto fail;
		JSON_PTRS(PIN)
	}
	tk->kind = p->kind;
	tk->off = off;
	tk->bytes = p->bytes;
	return 0;
fail:
	if (err == -ENOSPC)	/* the measure is wrong: a bug */
		err = model_why(why, whylen, -EINVAL, "tokenizer: its tables "
				"outgrew their measure");
	memset(h, 0, sizeof(*h));
	return err;
}

int tokenizer_load_at(struct tokenizer *tk, const void *buf, size_t len,
		      uint32_t vocab, void *base, uint64_t off, uint64_t room,
		      char *why, size_t whylen)
{
	struct tokenizer_prep p;
	int err;

	memset(tk, 0, sizeof(*tk));
	err = tokenizer_prepare(&p, buf, len, vocab, why, whylen);
	if (err)
		return err;
	if (p.bytes > room)
		err = model_why(why, whylen, -EFBIG, "tokenizer: %llu bytes, "
				"%llu free", (unsigned long long)p.bytes,
				(unsigned long long)room);
	else
		err = tokenizer_build(tk, &p, (char *)base + off, off, why,
				      whylen);
	tokenizer_prep_free(&p);
	return err;
}

int tokenizer_view(const struct tokenizer *tk, const void *base,
		   struct tokenizer_view *v)
{
	const struct tok_image *h;
	const char *img;
	int k = 0;

	if (!tk) {
		memset(&v->tk, 0, sizeof(v->tk));
		return 0;
	}
	v->tk = *tk;
	if (!tk->bytes)
		return 0;	/* loaded or none: itself */
	img = (const char *)base + tk->off;
	h = (const struct tok_image *)img;
	if (tk->kind == TOKENIZER_BIN) {
		struct tok_coder *c = &v->u.bin;

		*c = h->u.bin;
		BIN_PTRS(REBASE)
		v->tk.coder = c;
	} else {
		struct tokj *c = &v->u.json;

		*c = h->u.json;
		JSON_PTRS(REBASE)
		v->tk.json = c;
	}
	return 0;
}

int tokenizer_encode(const struct tokenizer *tk, const char *text,
		     size_t len, uint32_t *ids, uint32_t max, uint32_t *n)
{
	ssize_t got;

	*n = 0;
	if (!tokenizer_loaded(tk))
		return -EOPNOTSUPP;
	if (tk->json)
		got = tokj_encode(tk->json, text, len, TOKJ_ADD_SPECIAL, ids,
				  max);
	else if (tk->coder)
		got = tok_encode(tk->coder, text, len, true, false, ids,
				 max);
	else
		return -EOPNOTSUPP;	/* placed: give a view */
	if (got < 0)
		return (int)got;
	*n = (uint32_t)got;
	return 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* room for @n bytes in @d's piece buffer */
static int dec_room(struct tokenizer_dec *d, size_t n)
{
	char *p;

	if (n <= d->cap)
		return 0;
	p = realloc(d->buf, n);
	if (!p)
		return -ENOMEM;
	d->buf = p;
	d->cap = n;
	return 0;
}

/* tokenizer.bin's one token after @prev, llama2.c's rules */
static ssize_t decode_bin(const struct tokenizer *tk, struct tokenizer_dec *d,
			  uint32_t prev, uint32_t id, const char **out)
{
	const unsigned char *p;
	size_t n;
	int hi, lo;

	p = (const unsigned char *)bpe_vocab_get(&tk->coder->vocab, id, &n);
	if (!p)
		return -EINVAL;
	if (prev == TOKENIZER_BOS && n && p[0] == ' ') {
		p++;
		n--;
	}
	if (n == 6 && !memcmp(p, "<0x", 3) && p[5] == '>' &&
	    (hi = hexval(p[3])) >= 0 && (lo = hexval(p[4])) >= 0) {
		if (dec_room(d, 1))
			return -ENOMEM;
		d->buf[0] = (char)(hi << 4 | lo);
		n = 1;
	} else {
		if (dec_room(d, n))
			return -ENOMEM;
		if (n)
			memcpy(d->buf, p, n);
	}
	*out = d->buf;
	return (ssize_t)n;
}

ssize_t tokenizer_decode(const struct tokenizer *tk, struct tokenizer_dec *d,
			 uint32_t prev, uint32_t id, const char **out)
{
	size_t n;
	int err;

	*out = "";
	if (tk && tk->json) {
		err = tokj_stream_feed(tk->json, &d->js,
				       id == TOKENIZER_END ? TOKJ_END : id,
				       out, &n);
		return err ? err : (ssize_t)n;
	}
	if (id == TOKENIZER_END)
		return 0;
	if (tk && tk->coder)
		return decode_bin(tk, d, prev, id, out);
	if (tokenizer_loaded(tk))
		return -EOPNOTSUPP;	/* placed: give a view */
	if (dec_room(d, 16))
		return -ENOMEM;
	*out = d->buf;
	return snprintf(d->buf, 16, " %u", id);
}

void tokenizer_dec_free(struct tokenizer_dec *d)
{
	if (!d)
		return;
	tokj_stream_free(&d->js);
	free(d->buf);
	memset(d, 0, sizeof(*d));
}
