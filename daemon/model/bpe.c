/* SPDX-License-Identifier: MIT */
/*
 * Vocabulary hash and byte-pair merging. Invariant of bpe_merge: the heap
 * may hold stale entries (a pair since merged away or changed); each pop
 * asks the pair callback again for the pair now at that position and
 * merges only when the rank still matches, so the result is the greedy
 * lowest-rank-leftmost order whatever the heap held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/bpe.h"

static uint64_t hash(const void *s, size_t len)
{
	const unsigned char *p = s;
	uint64_t h = 0xcbf29ce484222325ull;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h ^ h >> 29;
}

void *bpe_take(struct bpe_arena *a, uint64_t n)
{
	void *p;

	n = bpe_round(n);
	if (!a->p || a->cap - a->used < n)
		return NULL;
	p = a->p + a->used;
	a->used += n;
	return p;
}

static uint64_t vocab_slots(uint32_t n)
{
	uint64_t slots = 16;

	while (slots < 2ull * n)
		slots <<= 1;
	return slots;
}

uint64_t bpe_vocab_size(uint32_t n, uint64_t bytes)
{
	return bpe_round(bytes ? bytes : 1) + bpe_round(8ull * n) +
	       bpe_round(4ull * n) + bpe_round(4 * vocab_slots(n));
}

int bpe_vocab_init(struct bpe_vocab *v, uint32_t n, uint64_t bytes,
		   struct bpe_arena *a)
{
	uint64_t slots = vocab_slots(n);

	memset(v, 0, sizeof(*v));
	if (!n || n > BPE_MAX_VOCAB)
		return -EINVAL;
	if (a->cap - a->used < bpe_vocab_size(n, bytes))
		return -ENOSPC;
	v->n = n;
	v->cap = bytes;
	v->bytes = bpe_take(a, bytes ? bytes : 1);
	v->off = bpe_take(a, 8ull * n);
	v->len = bpe_take(a, 4ull * n);
	v->slot = bpe_take(a, 4 * slots);
	v->mask = slots - 1;
	memset(v->off, 0, 8ull * n);
	memset(v->len, 0xff, 4ull * n);
	memset(v->slot, 0, 4 * slots);
	return 0;
}

static uint32_t *find_slot(const struct bpe_vocab *v, const void *s,
			   size_t len)
{
	uint32_t i = hash(s, len) & v->mask, id;

	for (;; i = (i + 1) & v->mask) {
		id = v->slot[i];
		if (!id)
			return &v->slot[i];
		id--;
		if (v->len[id] == len && !memcmp(v->bytes + v->off[id], s, len))
			return &v->slot[i];
	}
}

int bpe_vocab_set(struct bpe_vocab *v, uint32_t id, const void *s,
		  size_t len)
{
	uint32_t *slot;

	if (id >= v->n || len >= BPE_NONE)
		return -EINVAL;
	if (v->len[id] != BPE_NONE)
		return -EEXIST;
	if (v->cap - v->used < len)
		return -ENOSPC;
	if (len)
		memcpy(v->bytes + v->used, s, len);
	v->off[id] = v->used;
	v->used += len;
	slot = find_slot(v, s, len);
	v->len[id] = len;
	if (*slot)
		return -EALREADY;
	*slot = id + 1;
	return 0;
}

uint32_t bpe_vocab_find(const struct bpe_vocab *v, const void *s, size_t len)
{
	if (!v->slot)
		return BPE_NONE;
	return *find_slot(v, s, len) - 1;	/* 0 - 1: BPE_NONE */
}

const char *bpe_vocab_get(const struct bpe_vocab *v, uint32_t id,
			  size_t *len)
{
	if (id >= v->n || v->len[id] == BPE_NONE)
		return NULL;
	*len = v->len[id];
	return v->bytes + v->off[id];
}

int bpe_work_reserve(struct bpe_work *w, size_t n)
{
	uint32_t *id, *prev, *next;
	uint64_t *heap;

	if (n <= w->cap)
		return 0;
	if (n > UINT32_MAX / 4)
		return -EFBIG;
	id = realloc(w->id, n * sizeof(*id));
	if (id)
		w->id = id;
	prev = realloc(w->prev, n * sizeof(*prev));
	if (prev)
		w->prev = prev;
	next = realloc(w->next, n * sizeof(*next));
	if (next)
		w->next = next;
	heap = realloc(w->heap, 3 * n * sizeof(*heap));
	if (heap)
		w->heap = heap;
	if (!id || !prev || !next || !heap)
		return -ENOMEM;
	w->cap = n;
	return 0;
}

void bpe_work_free(struct bpe_work *w)
{
	free(w->id);
	free(w->prev);
	free(w->next);
	free(w->heap);
	memset(w, 0, sizeof(*w));
}

static void heap_push(uint64_t *h, size_t *n, uint64_t key)
{
	size_t i = (*n)++, up;

	for (; i; i = up) {
		up = (i - 1) / 2;
		if (h[up] <= key)
			break;
		h[i] = h[up];
	}
	h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
	uint64_t top = h[0], key = h[--*n];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (key <= h[c])
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = key;
	return top;
}

/* push the pair starting at symbol @i, if it merges */
static void push_pair(struct bpe_work *w, size_t *hn, uint32_t i,
		      bpe_pair_fn pair, void *ctx)
{
	uint32_t rank, id;

	if (w->next[i] != BPE_NONE &&
	    pair(ctx, w->id[i], w->id[w->next[i]], &rank, &id))
		heap_push(w->heap, hn, (uint64_t)rank << 32 | i);
}

size_t bpe_merge(struct bpe_work *w, uint32_t *ids, size_t n,
		 bpe_pair_fn pair, void *ctx)
{
	uint32_t i, j, rank, id, r;
	size_t hn = 0, out = 0;
	uint64_t key;

	if (n < 2)
		return n;
	for (i = 0; i < n; i++) {
		w->id[i] = ids[i];
		w->prev[i] = i ? i - 1 : BPE_NONE;
		w->next[i] = i + 1 < n ? i + 1 : BPE_NONE;
	}
	for (i = 0; i + 1 < n; i++)
		push_pair(w, &hn, i, pair, ctx);
	while (hn) {
		key = heap_pop(w->heap, &hn);
		i = (uint32_t)key;
		r = key >> 32;
		/* merged away (id BPE_NONE), or the pair changed since */
		if (w->id[i] == BPE_NONE || w->next[i] == BPE_NONE ||
		    !pair(ctx, w->id[i], w->id[w->next[i]], &rank, &id) ||
		    rank != r)
			continue;
		j = w->next[i];
		w->id[i] = id;
		w->id[j] = BPE_NONE;
		w->next[i] = w->next[j];
		if (w->next[j] != BPE_NONE)
			w->prev[w->next[j]] = i;
		if (w->prev[i] != BPE_NONE)
			push_pair(w, &hn, w->prev[i], pair, ctx);
		push_pair(w, &hn, i, pair, ctx);
	}
	for (i = 0; i != BPE_NONE; i = w->next[i])
		ids[out++] = w->id[i];
	return out;
}

size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, k;
	uint32_t c;

	if (!n)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	c = s[0] & (0x3f >> (len - 1));
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[k] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}
