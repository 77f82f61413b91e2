/* SPDX-License-Identifier: MIT */
/*
 * The tokenizer interface the model service calls: text to token ids
 * (encode) and one token id to its bytes (decode), whatever file the
 * vocabulary came from. Today over llama2.c's tokenizer.bin (tokbin.c),
 * encoding with its score-merge coder (tokbin-run.c); HF tokenizer.json
 * (tokjson.c) is parsed and tested but not yet loadable by a model.
 * Invariant: a loaded tokenizer owns a private copy of its token bytes
 * and never changes after tokenizer_load_bin(); any thread may use it.
 */
#ifndef GL_MODEL_TOKENIZER_H
#define GL_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/model/tokbin.h"

#define TOKENIZER_BOS	1u	/* Llama's <s> */
#define TOKENIZER_EOS	2u	/* Llama's </s> */

struct tokenizer {
	struct tok_table t;	/* offsets into bytes */
	struct tok_coder coder;	/* the encoder over t; empty without */
	unsigned char *bytes;	/* the file's bytes, owned */
	size_t len;
};

/*
 * tokenizer_load_bin - parse tokenizer.bin (@buf, @len bytes) holding
 * @vocab tokens into @tk, copying what it keeps. Returns 0, -ENOMEM, or
 * tok_parse()'s -EINVAL with the reason in @why.
 */
int tokenizer_load_bin(struct tokenizer *tk, const void *buf, size_t len,
		       uint32_t vocab, char *why, size_t whylen);

/* tokenizer_free - release @tk; empty afterwards. NULL-safe. */
void tokenizer_free(struct tokenizer *tk);

/*
 * tokenizer_encode - @text (@len bytes) into at most @max ids at @ids,
 * BOS first; *@n the count. Returns 0, -EFBIG when more than @max ids,
 * -EINVAL when @text is not UTF-8 or has a byte without its <0xHH>
 * token, -ENOMEM, -EOPNOTSUPP without a tokenizer (@tk NULL or empty:
 * the service then takes prompts as token ids only).
 */
int tokenizer_encode(const struct tokenizer *tk, const char *text,
		     size_t len, uint32_t *ids, uint32_t max, uint32_t *n);

/*
 * tokenizer_decode - the bytes of token @id following token @prev into
 * @out (@size bytes, at least tokenizer_max_piece()): llama2.c's rules,
 * a leading space dropped after BOS and "<0xHH>" as that one byte.
 * Returns the byte count, or -EINVAL for an id outside the vocabulary.
 * Without a tokenizer (@tk NULL or empty) a token is " ID" in decimal.
 */
int tokenizer_decode(const struct tokenizer *tk, uint32_t prev, uint32_t id,
		     char *out, size_t size);

/* tokenizer_max_piece - the most bytes tokenizer_decode() writes. */
size_t tokenizer_max_piece(const struct tokenizer *tk);

#endif
