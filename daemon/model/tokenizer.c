// SPDX-License-Identifier: MIT
/*
 * The tokenizer interface over llama2.c's tokenizer.bin: decoding, and
 * encoding through its score-merge coder (tokbin-run.c). Pure: no I/O,
 * no global state.
 * Invariant: every piece decode returns lies inside the private copy of
 * the file that tokenizer_load_bin() made.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokenizer.h"

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

void tokenizer_free(struct tokenizer *tk)
{
	if (!tk)
		return;
	tok_coder_free(&tk->coder);
	tok_free(&tk->t);
	free(tk->bytes);
	memset(tk, 0, sizeof(*tk));
}

int tokenizer_encode(const struct tokenizer *tk, const char *text,
		     size_t len, uint32_t *ids, uint32_t max, uint32_t *n)
{
	ssize_t got;

	*n = 0;
	if (!tk || !tk->bytes)
		return -EOPNOTSUPP;
	got = tok_encode(&tk->coder, text, len, true, false, ids, max);
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

size_t tokenizer_max_piece(const struct tokenizer *tk)
{
	size_t m = 16;	/* " 4294967295" */

	if (tk && tk->t.n && tk->t.max_token_length > m)
		m = tk->t.max_token_length;
	return m;
}

int tokenizer_decode(const struct tokenizer *tk, uint32_t prev, uint32_t id,
		     char *out, size_t size)
{
	const struct tok_entry *e;
	const unsigned char *p;
	size_t n;
	int hi, lo;

	if (!tk || !tk->t.n) {
		n = (size_t)snprintf(out, size, " %u", id);
		return n < size ? (int)n : -EINVAL;
	}
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
		if (size < 1)
			return -EINVAL;
		out[0] = (char)(hi << 4 | lo);
		return 1;
	}
	if (n > size)
		return -EINVAL;
	memcpy(out, p, n);
	return (int)n;
}
