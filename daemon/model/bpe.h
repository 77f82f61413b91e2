/* SPDX-License-Identifier: MIT */
/*
 * The tokenizers' shared core: a vocabulary (token bytes <-> id, hashed)
 * and byte-pair merging of a symbol sequence by rank with a binary heap,
 * which both tokenizer.json (merge ranks) and llama2.c's tokenizer.bin
 * (scores) drive through a pair callback. Pure; no locks: a built
 * vocabulary is read-only and may be shared by threads.
 */
#ifndef GL_MODEL_BPE_H
#define GL_MODEL_BPE_H

#include <stddef.h>
#include <stdint.h>

#define BPE_MAX_VOCAB		(1 << 24)
#define BPE_NONE		UINT32_MAX

/*
 * An arena: the tables of a tokenizer carved, in order and 16-aligned,
 * out of one block (a malloc'd one, or the model's lease). Nothing taken
 * is freed alone; the block goes whole.
 */
#define BPE_ALIGN	16

struct bpe_arena {
	char *p;		/* the block */
	uint64_t used, cap;	/* bytes taken, the block's size */
};

/* bpe_round - @n rounded up to BPE_ALIGN */
static inline uint64_t bpe_round(uint64_t n)
{
	return (n + BPE_ALIGN - 1) & ~(uint64_t)(BPE_ALIGN - 1);
}

/* bpe_take - @n bytes (uninitialised) from @a, or NULL when it is full */
void *bpe_take(struct bpe_arena *a, uint64_t n);

struct bpe_vocab {
	uint32_t n;		/* ids [0, n) */
	char *bytes;		/* every token's bytes, in the arena */
	size_t used, cap;	/* bytes in the arena */
	uint64_t *off;		/* n: token i is bytes[off[i]..off[i]+len[i]) */
	uint32_t *len;		/* n; BPE_NONE: no token has this id yet */
	uint32_t *slot;		/* hash of the bytes: id + 1, 0 empty */
	uint32_t mask;		/* slots - 1, a power of two minus one */
};

/*
 * bpe_vocab_size - the bytes bpe_vocab_init() takes from its arena for
 * @n ids and @bytes bytes of token text (@n at most BPE_MAX_VOCAB).
 */
uint64_t bpe_vocab_size(uint32_t n, uint64_t bytes);

/*
 * bpe_vocab_init - an empty vocabulary for ids [0, @n) holding at most
 * @bytes bytes of token text, its arrays taken from @a. Returns 0,
 * -EINVAL (@n is 0 or over BPE_MAX_VOCAB) or -ENOSPC (@a has less than
 * bpe_vocab_size() left). The arena's owner frees it.
 */
int bpe_vocab_init(struct bpe_vocab *v, uint32_t n, uint64_t bytes,
		   struct bpe_arena *a);

/*
 * bpe_vocab_set - give id @id the bytes @s (@len). Returns 0; -EEXIST when
 * @id has bytes already; -EALREADY when another id has the same bytes (the
 * lower id keeps them in the hash, @id still decodes to them); -ENOSPC
 * when the arena is full; -EINVAL for @id out of range.
 */
int bpe_vocab_set(struct bpe_vocab *v, uint32_t id, const void *s,
		  size_t len);

/* bpe_vocab_find - the id of bytes @s (@len), or BPE_NONE. */
uint32_t bpe_vocab_find(const struct bpe_vocab *v, const void *s, size_t len);

/* bpe_vocab_get - @id's bytes (length in *@len), NULL when @id has none. */
const char *bpe_vocab_get(const struct bpe_vocab *v, uint32_t id,
			  size_t *len);

/*
 * The pair callback: whether symbols @a then @b merge, into which id
 * (*@id) at which rank (*@rank, lower merges first). Returns 1 when they
 * merge, 0 when not.
 */
typedef int (*bpe_pair_fn)(void *ctx, uint32_t a, uint32_t b, uint32_t *rank,
			   uint32_t *id);

/* Scratch for bpe_merge over at most cap symbols; bpe_work_free frees. */
struct bpe_work {
	uint32_t cap;
	uint32_t *id, *prev, *next;
	uint64_t *heap;		/* rank << 32 | position, 3 * cap entries */
};

/* bpe_work_reserve - room for @n symbols: 0, -ENOMEM or -EFBIG. */
int bpe_work_reserve(struct bpe_work *w, size_t n);

/* bpe_work_free - free @w's arrays; @w is empty afterwards. */
void bpe_work_free(struct bpe_work *w);

/*
 * bpe_merge - merge @n symbols @ids in place, lowest rank first and,
 * between equal ranks, leftmost first, until no adjacent pair merges.
 * Returns the number of symbols left (at the start of @ids). @w must have
 * room for @n symbols (bpe_work_reserve). O(n log n) calls of @pair.
 */
size_t bpe_merge(struct bpe_work *w, uint32_t *ids, size_t n,
		 bpe_pair_fn pair, void *ctx);

/* bpe_mix64 - a 64-bit hash of @x whose every bit depends on all of x's */
static inline uint64_t bpe_mix64(uint64_t x)
{
	x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ x >> 27) * 0x94d049bb133111ebull;
	return x ^ x >> 31;
}

/*
 * utf8_len - length of the valid UTF-8 character at @s (@n bytes left),
 * 0 for a byte that does not start one (strict: no overlong forms, no
 * surrogates, nothing past U+10FFFF).
 */
size_t utf8_len(const unsigned char *s, size_t n);

#endif
