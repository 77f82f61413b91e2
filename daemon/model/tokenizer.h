/* SPDX-License-Identifier: MIT */
/*
 * The tokenizer interface the model service calls: text to token ids
 * (encode) and ids to text as they are made (decode, with a state per
 * answer), whatever file the vocabulary came from: llama2.c's
 * tokenizer.bin (tokbin*.c, llama2.c's rules) or Hugging Face's
 * tokenizer.json (tokjson*.c, its decoder, streamed).
 * Invariant: a loaded tokenizer owns private copies of what it keeps and
 * never changes after tokenizer_load(); any thread may use it.
 */
#ifndef GL_MODEL_TOKENIZER_H
#define GL_MODEL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "daemon/model/tokbin.h"
#include "daemon/model/tokjson.h"

#define TOKENIZER_BOS	1u	/* Llama's <s> */
#define TOKENIZER_EOS	2u	/* Llama's </s> */
#define TOKENIZER_END	UINT32_MAX	/* tokenizer_decode: the answer ends */

struct tokenizer {
	struct tok_table t;	/* tokenizer.bin: offsets into bytes */
	struct tok_coder coder;	/* the encoder over t; empty without */
	unsigned char *bytes;	/* the file's bytes, owned */
	size_t len;
	struct tokj *json;	/* tokenizer.json instead, owned; or NULL */
};

/* One answer's decoding: zeroed is a fresh one; tokenizer_dec_free. */
struct tokenizer_dec {
	struct tokj_stream js;	/* tokenizer.json's held text */
	char *buf;		/* tokenizer.bin's piece, " ID" without */
	size_t cap;
};

/*
 * tokenizer_load - @buf (@len bytes) as whichever file it is, told by
 * its content: a tokenizer.bin's fourth byte is 0 (max_token_length is at
 * most 65536), a JSON text has no NUL. Its vocabulary must hold exactly
 * @vocab tokens. Returns 0, -ENOMEM, or -EINVAL with the reason in @why.
 */
int tokenizer_load(struct tokenizer *tk, const void *buf, size_t len,
		   uint32_t vocab, char *why, size_t whylen);

/*
 * tokenizer_load_json - parse tokenizer.json (@buf, @len bytes) into @tk:
 * tokj_parse()'s rules, and exactly @vocab ids. Returns 0, -ENOMEM, or
 * -EINVAL with the reason in @why.
 */
int tokenizer_load_json(struct tokenizer *tk, const void *buf, size_t len,
			uint32_t vocab, char *why, size_t whylen);

/*
 * tokenizer_load_bin - parse tokenizer.bin (@buf, @len bytes) holding
 * @vocab tokens into @tk, copying what it keeps. Returns 0, -ENOMEM, or
 * tok_parse()'s -EINVAL with the reason in @why.
 */
int tokenizer_load_bin(struct tokenizer *tk, const void *buf, size_t len,
		       uint32_t vocab, char *why, size_t whylen);

/* tokenizer_free - release @tk; empty afterwards. NULL-safe. */
void tokenizer_free(struct tokenizer *tk);

/* tokenizer_loaded - whether @tk (may be NULL) holds a tokenizer. */
bool tokenizer_loaded(const struct tokenizer *tk);

/*
 * tokenizer_encode - @text (@len bytes) into at most @max ids at @ids,
 * BOS first (tokenizer.json: its post-processor's template; added tokens
 * in the text are theirs, as Hugging Face encodes); *@n the count.
 * Returns 0, -EFBIG when more than @max ids, -EINVAL when @text is not
 * UTF-8 or has a character with no token (neither its <0xHH> byte
 * tokens nor unk), -ENOMEM, -EOPNOTSUPP without a tokenizer (@tk NULL
 * or empty: the service then takes prompts as token ids only).
 */
int tokenizer_encode(const struct tokenizer *tk, const char *text,
		     size_t len, uint32_t *ids, uint32_t max, uint32_t *n);

/*
 * tokenizer_decode - the next id @id of an answer decoded with state @d,
 * @prev the id before it (the prompt's last for the first); @id
 * TOKENIZER_END ends the answer. *@out is the text now certain, valid
 * until the next call on @d; returns its length. tokenizer.bin: each
 * token's bytes at once, llama2.c's rules (a leading space dropped after
 * BOS, "<0xHH>" as that byte). tokenizer.json: its decoder's, held back
 * while a later id could change it (a run of byte tokens until it ends:
 * a multi-byte character comes out whole, a run that is not UTF-8 as
 * U+FFFD per byte), so the text of the whole answer is Hugging Face's
 * decode of its ids. Without a tokenizer (@tk NULL or empty) a token is
 * " ID" in decimal. Errors: -EINVAL (an id outside the vocabulary),
 * -EFBIG (tokenizer.json's decoder grows the text over its bound),
 * -ENOMEM; a tokenizer.json error sticks to @d.
 */
ssize_t tokenizer_decode(const struct tokenizer *tk, struct tokenizer_dec *d,
			 uint32_t prev, uint32_t id, const char **out);

/* tokenizer_dec_free - free @d's buffers; @d is fresh afterwards. */
void tokenizer_dec_free(struct tokenizer_dec *d);

#endif
