/* SPDX-License-Identifier: MIT */
/*
 * llama2.c tokenizer.bin: int32 max_token_length, then per token an f32
 * score, an int32 byte length and that many bytes. The file does not say
 * how many tokens it holds: the checkpoint's vocab_size does. Pure.
 */
#ifndef GL_MODEL_TOKBIN_H
#define GL_MODEL_TOKBIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/model/bpe.h"

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

/*
 * Encoding and decoding as llama2.c's run.c does (daemon/model/tokbin-run.c):
 * a coder holds its own copy of the tokens, so the file and the table may
 * go once it is built. Read-only once built: threads may share one. Its
 * arrays lie in one block: its own (tok_coder_init) or an arena's
 * (tok_coder_build: a model's lease, daemon/model/tokenizer.c).
 */
#define TOK_BOS		1	/* llama2.c's fixed ids */
#define TOK_EOS		2

struct tok_coder {
	struct bpe_vocab vocab;	/* the tokens' bytes; the lowest id wins */
	uint32_t *rank;		/* per id: its score as a merge rank */
	uint32_t byte_id[256];	/* <0xNN>, BPE_NONE when absent */
	uint32_t space;		/* " ", the dummy prefix; BPE_NONE: none */
	uint32_t max_token_length;
	void *own;		/* tok_coder_init's block, or NULL */
};

/* tok_coder_size - the bytes tok_coder_build() takes for table @t */
uint64_t tok_coder_size(const struct tok_table *t);

/*
 * tok_coder_build - a coder for table @t parsed from @buf, its arrays
 * taken from @a (tok_coder_size(@t) bytes). Returns 0, -ENOSPC (@a is
 * short), or -EINVAL when @t has fewer than three tokens (BOS and EOS
 * are ids 1 and 2). Allocates nothing; @a's owner frees.
 */
int tok_coder_build(struct tok_coder *c, const struct tok_table *t,
		    const void *buf, struct bpe_arena *a);

/*
 * tok_coder_init - tok_coder_build() into one block of its own. Returns
 * 0, -ENOMEM, or -EINVAL when @t has fewer than three tokens. Freed by
 * tok_coder_free() in every case.
 */
int tok_coder_init(struct tok_coder *c, const struct tok_table *t,
		   const void *buf);

/* tok_coder_free - free @c's own block; NULL-safe, @c is empty
 * afterwards (a built one's arena is its owner's to free). */
void tok_coder_free(struct tok_coder *c);

/*
 * tok_encode - ids of UTF-8 @text (@len bytes) into @ids (room for @max):
 * BOS when @bos, a " " token first when the text is not empty, one token
 * per character (its <0xNN> bytes when the character is not a token), then
 * merges of adjacent pairs whose concatenation is a token, highest score
 * first and leftmost between equal scores; EOS when @eos. Returns the
 * count, -EINVAL (not UTF-8, or a byte with no <0xNN> token), -EFBIG (more
 * than @max) or -ENOMEM. Thread-safe on a shared @c.
 */
ssize_t tok_encode(const struct tok_coder *c, const char *text, size_t len,
		   bool bos, bool eos, uint32_t *ids, size_t max);

/*
 * tok_decode - the bytes of @id following @prev into @out (room for
 * @max): a <0xNN> token is its byte, and a token after BOS loses its
 * leading space. Returns the length, -EINVAL (@id out of range) or -EFBIG.
 */
ssize_t tok_decode(const struct tok_coder *c, uint32_t prev, uint32_t id,
		   char *out, size_t max);

#endif
