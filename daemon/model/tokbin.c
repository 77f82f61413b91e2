/* SPDX-License-Identifier: MIT */
/*
 * tokenizer.bin in two passes: the first walks the tokens and checks every
 * length against the bytes left, the second fills the table. Invariant:
 * no entry is allocated before the walk has shown the file holds it, so a
 * lying count cannot make the parser allocate more than the file's size.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokbin.h"
#include "daemon/model/why.h"

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * Walk up to @want tokens (0: to the end) from offset 4; fill @tok when
 * not NULL. Returns the count, or -EINVAL.
 */
static long walk(const unsigned char *p, size_t len, uint32_t max_len,
		 uint32_t want, struct tok_entry *tok, char *why,
		 size_t whylen)
{
	size_t pos = 4;
	uint32_t n = 0, tl;
	float score;

	while (want ? n < want : pos < len) {
		if (len - pos < 8)
			return model_why(why, whylen, -EINVAL,
					 "file ends inside token %u's header",
					 n);
		tl = get_u32(p + pos + 4);
		memcpy(&score, &(uint32_t){ get_u32(p + pos) }, sizeof(score));
		if (!isfinite(score))
			return model_why(why, whylen, -EINVAL,
					 "token %u's score is not finite", n);
		if ((int32_t)tl < 0 || tl > max_len)
			return model_why(why, whylen, -EINVAL,
					 "token %u's length %d is not in [0, %u]",
					 n, (int32_t)tl, max_len);
		pos += 8;
		if (len - pos < tl)
			return model_why(why, whylen, -EINVAL,
					 "file ends inside token %u's bytes", n);
		if (tok) {
			tok[n].score = score;
			tok[n].len = tl;
			tok[n].off = pos;
		}
		pos += tl;
		if (++n > TOK_MAX_VOCAB)
			return model_why(why, whylen, -EINVAL,
					 "more than %d tokens", TOK_MAX_VOCAB);
	}
	if (pos != len)
		return model_why(why, whylen, -EINVAL,
				 "%zu bytes left after %u tokens", len - pos,
				 n);
	if (!n)
		return model_why(why, whylen, -EINVAL, "no tokens");
	return n;
}

int tok_parse(const void *buf, size_t len, uint32_t vocab_size,
	      struct tok_table *out, char *why, size_t whylen)
{
	const unsigned char *p = buf;
	long n;

	memset(out, 0, sizeof(*out));
	if (vocab_size > TOK_MAX_VOCAB)
		return model_why(why, whylen, -EINVAL,
				 "vocab_size %u is over %d", vocab_size,
				 TOK_MAX_VOCAB);
	if (len < 4)
		return model_why(why, whylen, -EINVAL,
				 "file of %zu bytes has no max_token_length",
				 len);
	out->max_token_length = get_u32(p);
	if (out->max_token_length < 1 ||
	    out->max_token_length > TOK_MAX_TOKEN_LENGTH) {
		n = model_why(why, whylen, -EINVAL,
			      "max_token_length %d is not in [1, %d]",
			      (int32_t)out->max_token_length,
			      TOK_MAX_TOKEN_LENGTH);
		out->max_token_length = 0;
		return n;
	}
	n = walk(p, len, out->max_token_length, vocab_size, NULL, why, whylen);
	if (n < 0) {
		out->max_token_length = 0;
		return n;
	}
	out->tok = calloc(n, sizeof(*out->tok));
	if (!out->tok) {
		out->max_token_length = 0;
		return -ENOMEM;
	}
	walk(p, len, out->max_token_length, n, out->tok, NULL, 0);
	out->n = n;
	return 0;
}

void tok_free(struct tok_table *t)
{
	if (!t)
		return;
	free(t->tok);
	memset(t, 0, sizeof(*t));
}
