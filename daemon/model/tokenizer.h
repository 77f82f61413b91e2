/* SPDX-License-Identifier: MIT */
/*
 * The tokenizer interface the model service calls: text to token ids
 * (encode) and ids to text as they are made (decode, with a state per
 * answer), whatever file the vocabulary came from: llama2.c's
 * tokenizer.bin (tokbin*.c, llama2.c's rules) or Hugging Face's
 * tokenizer.json (tokjson*.c, its decoder, streamed).
 * A model's tokenizer is placed: its tables are one image in the model's
 * lease (tokenizer_prepare() sizes it, tokenizer_build() fills it in
 * place), every reference inside it an offset from the image's start, so
 * the image stays valid wherever the block is mapped (a lease's block
 * moves when it is resized). The struct tokenizer that says where the
 * image lies is all that stays on the heap; a user resolves the block
 * and takes a view (tokenizer_view) for each use. Tools and tests load
 * one on the heap instead (tokenizer_load*).
 * Invariant: a tokenizer never changes after it is loaded or built; any
 * thread may use it (a placed one under its block's read lock).
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

enum tokenizer_kind {
	TOKENIZER_NONE,
	TOKENIZER_BIN,		/* llama2.c's tokenizer.bin */
	TOKENIZER_JSON,		/* Hugging Face's tokenizer.json */
};

struct tokenizer {
	enum tokenizer_kind kind;
	struct tok_table t;	/* tokenizer.bin: t.n tokens and its
				 * max_token_length (t.tok NULL) */
	struct tok_coder *coder;	/* tokenizer.bin's tables: loaded
					 * (owned) or a view's; else NULL */
	struct tokj *json;	/* tokenizer.json's, the same way */
	uint64_t off;		/* placed: the image's offset in its block */
	uint64_t bytes;		/* placed: the image's size; 0: not placed */
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
 * @vocab tokens. Its tables go on the heap, owned by @tk. Returns 0,
 * -ENOMEM, or -EINVAL with the reason in @why.
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

/* tokenizer_free - release a loaded @tk's tables (a placed one's are its
 * block's); @tk is empty afterwards. NULL-safe. */
void tokenizer_free(struct tokenizer *tk);

/* tokenizer_loaded - whether @tk (may be NULL) holds a tokenizer. */
bool tokenizer_loaded(const struct tokenizer *tk);

/*
 * A placed tokenizer in two steps around the acquiring of its block: the
 * file parsed and measured (the prep holds what the build needs: the
 * parsed tokenizer.bin's entry table or the tokenizer.json's JSON, on the
 * heap until tokenizer_prep_free), then the image built in place.
 */
struct tokenizer_prep {
	enum tokenizer_kind kind;
	const void *buf;	/* the file, the caller's, until built */
	struct tok_table t;	/* tokenizer.bin's entries */
	struct tokj_prep j;	/* tokenizer.json's parsed JSON */
	uint32_t vocab;		/* the model's vocab_size */
	uint64_t bytes;		/* the image's size */
};

/*
 * tokenizer_prepare - parse @buf (@len bytes, kept by the caller until
 * the build) as tokenizer_load() does and measure its image into @p
 * (p->bytes). Returns 0, -ENOMEM, or -EINVAL with the reason in @why;
 * nothing kept on failure.
 */
int tokenizer_prepare(struct tokenizer_prep *p, const void *buf, size_t len,
		      uint32_t vocab, char *why, size_t whylen);

/*
 * tokenizer_build - build @p's image at @img (p->bytes bytes, aligned to
 * 64, the block at @off of whatever holds it) and describe it in @tk
 * (placed at @off). Writes only the image; allocates nothing. Returns 0,
 * or -EINVAL with the reason in @why (a tokenizer.json whose tables
 * do not hold together, or of another vocabulary size); @tk is empty on
 * failure.
 */
int tokenizer_build(struct tokenizer *tk, const struct tokenizer_prep *p,
		    void *img, uint64_t off, char *why, size_t whylen);

/* tokenizer_prep_free - free @p's heap; NULL-safe, @p empty afterwards. */
void tokenizer_prep_free(struct tokenizer_prep *p);

/*
 * tokenizer_load_at - prepare and build in one call, for a block that
 * is filled again (a model reloaded into a new lease): the file @buf
 * (@len bytes) for @vocab tokens built at @base + @off, where @room
 * bytes are free, and described in @tk. Returns 0, -ENOMEM, -EINVAL
 * with the reason in @why, -EFBIG when the image needs more than @room.
 */
int tokenizer_load_at(struct tokenizer *tk, const void *buf, size_t len,
		      uint32_t vocab, void *base, uint64_t off, uint64_t room,
		      char *why, size_t whylen);

/*
 * A placed tokenizer in use: a copy of its image's head with every
 * table reference turned into a pointer into the block as it is now
 * mapped. Valid while the block stays where it is (its lease's memory
 * read lock held). The view of a loaded tokenizer, or of none, is the
 * tokenizer itself.
 */
struct tokenizer_view {
	struct tokenizer tk;	/* use &view.tk */
	union {
		struct tok_coder bin;
		struct tokj json;
	} u;
};

/*
 * tokenizer_view - @v for @tk, whose block is mapped at @base (NULL
 * when @tk is not placed). Returns 0. Copies about 17 KiB for a
 * tokenizer.json (its pipeline), 1 KiB for a tokenizer.bin.
 */
int tokenizer_view(const struct tokenizer *tk, const void *base,
		   struct tokenizer_view *v);

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
