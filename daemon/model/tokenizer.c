// SPDX-License-Identifier: MIT
/*
 * The tokenizer interface over llama2.c's tokenizer.bin (decoding here,
 * encoding through its score-merge coder, tokbin-run.c) or Hugging
 * Face's tokenizer.json (tokjson*.c: its encoder, and its decoder
 * streamed). Pure: no I/O, no global state.
 * Invariant: a tokenizer holds one kind or none: json set, or t.n set,
 * never both; every piece a tokenizer.bin decode returns lies inside the
 * private copy of the file that tokenizer_load_bin() made.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokenizer.h"
#include "daemon/model/why.h"

int tokenizer_load_bin(struct tokenizer *tk, const void *buf, size_t len,
		       uint32_t vocab, char *why, size_t whylen)
{
	int err;

	memset(tk, 0, sizeof(*tk));
	err = tok_parse(buf, len, vocab, &tk->t, why, whylen);
	if (err)
		return err;
	tk->bytes = malloc(len ? len : 1);
	if (!tk->bytes) {
		tok_free(&tk->t);
		return -ENOMEM;
	}
	memcpy(tk->bytes, buf, len);
	tk->len = len;
	err = tok_coder_init(&tk->coder, &tk->t, tk->bytes);
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

int tokenizer_load(struct tokenizer *tk, const void *buf, size_t len,
		   uint32_t vocab, char *why, size_t whylen)
{
	const unsigned char *p = buf;

	if (len >= 4 && !p[3])
		return tokenizer_load_bin(tk, buf, len, vocab, why, whylen);
	return tokenizer_load_json(tk, buf, len, vocab, why, whylen);
}

void tokenizer_free(struct tokenizer *tk)
{
	if (!tk)
		return;
	tok_coder_free(&tk->coder);
	tok_free(&tk->t);
	free(tk->bytes);
	tokj_free(tk->json);
	free(tk->json);
	memset(tk, 0, sizeof(*tk));
}

bool tokenizer_loaded(const struct tokenizer *tk)
{
	return tk && (tk->json || tk->t.n);
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
	else
		got = tok_encode(&tk->coder, text, len, true, false, ids,
				 max);
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
	const struct tok_entry *e;
	const unsigned char *p;
	size_t n;
	int hi, lo;

	if (id >= tk->t.n)
		return -EINVAL;
	e = &tk->t.tok[id];
	p = tk->bytes + e->off;
	n = e->len;
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
	if (tk && tk->t.n)
		return decode_bin(tk, d, prev, id, out);
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
