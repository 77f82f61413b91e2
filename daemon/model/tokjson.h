/* SPDX-License-Identifier: MIT */
/*
 * Hugging Face tokenizer.json for Llama-style tokenizers: a BPE model
 * (merges by rank, byte fallback, unk), added tokens, a normalizer of
 * Prepend and literal Replace steps, a Metaspace pre-tokenizer or none, a
 * TemplateProcessing post-processor or none, and a decoder of Replace,
 * ByteFallback, Fuse, Strip and Metaspace steps. Anything else is refused
 * with -EINVAL and a reason (Documentation/models.md, "Tokenizers").
 * Pure; a parsed tokenizer is read-only and may be shared by threads.
 */
#ifndef GL_MODEL_TOKJSON_H
#define GL_MODEL_TOKJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/model/bpe.h"

#define TOKJ_MAX_STEPS		16	/* normalizer, decoder, template */
#define TOKJ_MAX_ADDED		4096	/* added_tokens */
#define TOKJ_MAX_STR		256	/* bytes of a step's string */

/* tokj_encode flags */
#define TOKJ_ADD_SPECIAL	0x1	/* apply the post-processor */
#define TOKJ_TEXT_SPECIAL	0x2	/* added tokens in the text are text */
/* tokj_decode flags */
#define TOKJ_SKIP_SPECIAL	0x1	/* leave out special added tokens */

/* decoded text may be this many times the tokens' bytes (each plus one),
 * plus TOKJ_SLACK, after each decoder step */
#define TOKJ_GROWTH	8
#define TOKJ_SLACK	4096

enum tokj_op {
	TOKJ_PREPEND,		/* normalizer: prepend a unless empty */
	TOKJ_REPLACE,		/* both: every a becomes b */
	TOKJ_BYTE_FALLBACK,	/* decoder: <0xNN> runs become their bytes */
	TOKJ_FUSE,		/* decoder: one piece */
	TOKJ_STRIP,		/* decoder: up to start/stop a's at the ends */
	TOKJ_METASPACE,		/* decoder: a becomes ' ', first loses one */
};

struct tokj_step {
	enum tokj_op op;
	char a[TOKJ_MAX_STR], b[TOKJ_MAX_STR];
	uint8_t alen, blen;
	uint32_t start, stop;	/* TOKJ_STRIP: characters */
	bool strip_first;	/* TOKJ_METASPACE: prepend_scheme != never */
};

enum tokj_prepend { TOKJ_NEVER, TOKJ_FIRST, TOKJ_ALWAYS };

struct tokj_added {
	uint32_t id;
	bool special;
};

struct tokj {
	struct bpe_vocab vocab;	/* the model's vocab and the added tokens */
	uint64_t *merge_key;	/* open hash: a << 32 | b, UINT64_MAX empty */
	uint32_t *merge_rank, *merge_id;
	uint64_t merge_mask;
	uint32_t n_merges;
	uint32_t byte_id[256];	/* <0xNN>, BPE_NONE when absent */
	bool byte_fallback, fuse_unk;
	uint32_t unk;		/* BPE_NONE: none */
	int n_norm;
	struct tokj_step norm[TOKJ_MAX_STEPS];
	bool metaspace;		/* pre_tokenizer Metaspace, else none */
	char ms_rep[TOKJ_MAX_STR];	/* its replacement character */
	uint8_t ms_len;
	enum tokj_prepend ms_prepend;
	bool ms_split;
	int n_dec;
	bool dec_join;		/* no decoder: pieces joined by " " */
	struct tokj_step dec[TOKJ_MAX_STEPS];
	int n_pre, n_post;	/* template: ids before and after the text */
	uint32_t pre[TOKJ_MAX_STEPS], post[TOKJ_MAX_STEPS];
	uint32_t n_added;
	struct tokj_added *added;	/* sorted by id */
	uint8_t added_first[256];	/* an added token starts with byte */
	void *own;		/* tokj_parse's block, or NULL */
};

/*
 * tokj_parse - parse tokenizer.json in @buf (@len bytes) into @t.
 * Returns 0, -ENOMEM, or -EINVAL with a reason in @why: not JSON, a model
 * other than BPE or a BPE option other than Llama's (dropout, prefixes,
 * ignore_merges), a merge whose parts or result are not in the vocab, ids
 * that leave a gap or collide, an added token with lstrip, rstrip,
 * single_word or normalized set, an unknown normalizer, pre-tokenizer,
 * post-processor or decoder, truncation or padding set. The caller frees
 * a parsed @t with tokj_free() (which is safe on a failed one too).
 */
int tokj_parse(const void *buf, size_t len, struct tokj *t, char *why,
	       size_t whylen);

/* tokj_free - free @t's memory; NULL-safe, @t is empty afterwards. */
void tokj_free(struct tokj *t);

/*
 * tokj_parse in two passes, for tables built in place (a model's lease,
 * daemon/model/tokenizer.c): tokj_prepare() (tokjson-measure.c) parses
 * the JSON and measures
 * the tables; tokj_build() then fills them from an arena of p->size
 * bytes, allocating nothing. Between the two the prep holds the parsed
 * JSON (jansson's, on the heap): free it with tokj_prep_free().
 */
struct tokj_prep {
	void *root;		/* the parsed JSON, a json_t */
	uint64_t size;		/* bytes tokj_build() takes, its struct
				 * tokj included */
};

/*
 * tokj_prepare - parse @buf (@len bytes) and measure its tables into @p.
 * Returns 0, -ENOMEM, or -EINVAL (not JSON, not an object) with the
 * reason in @why; nothing is kept on failure.
 */
int tokj_prepare(const void *buf, size_t len, struct tokj_prep *p,
		 char *why, size_t whylen);

/*
 * tokj_build - fill @t from prepared @p, its tables from @ar (p->size
 * bytes, less sizeof(*@t) when @t lies elsewhere). Returns 0, -ENOSPC
 * (@ar is short), or tokj_parse()'s -EINVAL with the reason in @why. @t
 * owns nothing: @ar's owner frees.
 */
int tokj_build(const struct tokj_prep *p, struct tokj *t,
	       struct bpe_arena *ar, char *why, size_t whylen);

/* tokj_prep_free - free @p's parsed JSON; NULL-safe, @p empty after. */
void tokj_prep_free(struct tokj_prep *p);

/* tokj_merge_slots - the merge hash's slots for @n merges: the power of
 * two at least 2 * @n, and at least 16 */
uint64_t tokj_merge_slots(size_t n);

/*
 * tokj_encode - token ids of UTF-8 @text (@len bytes) into @ids (room for
 * @max). Returns how many, -EINVAL (@text is not UTF-8, or a character
 * has no token, no byte fallback and no unk), -EFBIG (more than @max
 * ids) or -ENOMEM. Thread-safe on a shared @t.
 */
ssize_t tokj_encode(const struct tokj *t, const char *text, size_t len,
		    unsigned int flags, uint32_t *ids, size_t max);

/*
 * tokj_decode - the text of @n ids into @out (room for @max bytes, not
 * NUL-terminated). Returns its length, -EINVAL (an id out of range),
 * -EFBIG (longer than @max) or -ENOMEM. Invalid UTF-8 that byte fallback
 * assembles becomes U+FFFD per byte, as Hugging Face's decoder does.
 */
ssize_t tokj_decode(const struct tokj *t, const uint32_t *ids, size_t n,
		    unsigned int flags, char *out, size_t max);

/* tokj_is_special - whether @id is an added token marked special. */
bool tokj_is_special(const struct tokj *t, uint32_t id);

/* tokj_byte_token - the byte of a "<0xNN>" token (@s, @len), else -1. */
int tokj_byte_token(const char *s, size_t len);

/*
 * Streaming decode (tokjson-stream.c): ids one at a time, text out as soon
 * as no later id can change it. The text of a whole stream equals
 * tokj_decode() of its ids (flags 0). What a step holds back: a run of
 * <0xNN> tokens until it ends (Hugging Face's ByteFallback turns a whole
 * run that is not UTF-8 into U+FFFD per byte), and after a Fuse the
 * bytes a later id could still match (a Replace pattern's start, Strip's
 * leading and trailing characters, a lone "<0xNN>").
 */
struct tokj_sbuf {
	char *p;
	size_t len, cap;
};

/* A zeroed tokj_stream is a fresh one; tokj_stream_free frees it. */
struct tokj_stream {
	int err;				/* sticky: the first error */
	bool ended;				/* TOKJ_END seen */
	uint64_t in;				/* bytes of the ids, +1 each */
	uint64_t made[TOKJ_MAX_STEPS];		/* bytes each step put out */
	uint32_t pieces[TOKJ_MAX_STEPS + 1];	/* pieces each step took */
	uint32_t stripped[TOKJ_MAX_STEPS];	/* Strip: leading ones cut */
	bool begun[TOKJ_MAX_STEPS];		/* Strip, ByteFallback: decided */
	struct tokj_sbuf held[TOKJ_MAX_STEPS];	/* bytes a step holds back */
	struct tokj_sbuf tmp[TOKJ_MAX_STEPS];	/* a step's output */
	struct tokj_sbuf out;			/* text ready for the caller */
};

#define TOKJ_END	UINT32_MAX	/* tokj_stream_feed: no more ids */

/*
 * tokj_stream_feed - decode @id, the next id of stream @s over @t, or
 * with TOKJ_END flush what is held. The text now certain is *@out
 * (*@len bytes, not NUL-terminated), valid until the next call on @s.
 * Returns 0, -EINVAL (an id out of range; an id after TOKJ_END), -EFBIG
 * (a step's text over TOKJ_GROWTH times the ids' bytes so far) or
 * -ENOMEM; an error sticks: later calls return it. Not thread-safe on
 * one @s; @t may be shared.
 */
int tokj_stream_feed(const struct tokj *t, struct tokj_stream *s,
		     uint32_t id, const char **out, size_t *len);

/* tokj_stream_free - free @s's buffers; @s is fresh afterwards. */
void tokj_stream_free(struct tokj_stream *s);

#endif
