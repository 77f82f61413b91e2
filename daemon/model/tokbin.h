/* SPDX-License-Identifier: MIT */
/*
 * llama2.c tokenizer.bin: int32 max_token_length, then per token an f32
 * score, an int32 byte length and that many bytes. The file does not say
 * how many tokens it holds: the checkpoint's vocab_size does. Pure.
 */
#ifndef GL_MODEL_TOKBIN_H
#define GL_MODEL_TOKBIN_H

#include <stddef.h>
#include <stdint.h>

#define TOK_MAX_TOKEN_LENGTH	65536
#define TOK_MAX_VOCAB		(1 << 24)

struct tok_entry {
	float score;		/* finite */
	uint32_t len;		/* bytes, <= max_token_length */
	uint64_t off;		/* of its bytes, from the file's start */
};

struct tok_table {
	uint32_t max_token_length;
	uint32_t n;
	struct tok_entry *tok;	/* n entries; tok_free frees */
};

/*
 * tok_parse - parse tokenizer.bin in @buf (@len bytes) holding exactly
 * @vocab_size tokens (0: as many as the file holds, at least one) into
 * @out. Returns 0, -ENOMEM, or -EINVAL with a reason in @why for a file
 * cut inside a token, bytes left over after @vocab_size tokens, a
 * max_token_length that is not in [1, TOK_MAX_TOKEN_LENGTH], a token
 * longer than it or of negative length, a score that is not finite, or a
 * @vocab_size over TOK_MAX_VOCAB. Token bytes are not checked (any bytes,
 * NUL included, are a token). Allocates at most one entry per 8 bytes of
 * the file. The caller frees a parsed @out with tok_free().
 */
int tok_parse(const void *buf, size_t len, uint32_t vocab_size,
	      struct tok_table *out, char *why, size_t whylen);

/* tok_free - free @t's entries; @t is empty afterwards. NULL-safe. */
void tok_free(struct tok_table *t);

#endif
