/* SPDX-License-Identifier: MIT */
/*
 * Encoding and decoding with a parsed tokenizer.json, in Hugging Face's
 * order: added tokens split the text; each other segment is normalized,
 * pre-tokenized into words and each word is merged by rank (unknown
 * characters become their <0xNN> byte tokens, else unk); decoding runs
 * the decoder's steps over the tokens' strings. Invariant: every buffer
 * is sized from the input before it is written, and normalized text and
 * decoded pieces are bounded (TOKJ_GROWTH times their input), so a
 * hostile configuration cannot grow them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"

struct enc {
	const struct tokj *t;
	uint32_t *ids;
	size_t max, n;
	char *a, *b;		/* normalization buffers, cap bytes each */
	size_t cap;
	uint32_t *sym;		/* a word's symbols, nsym of them */
	size_t nsym;
	struct bpe_work w;
};

static int emit(struct enc *e, uint32_t id)
{
	if (e->n == e->max)
		return -EFBIG;
	e->ids[e->n++] = id;
	return 0;
}

static int merge_pair(void *ctx, uint32_t a, uint32_t b, uint32_t *rank,
		      uint32_t *id)
{
	const struct tokj *t = ctx;
	uint64_t key = (uint64_t)a << 32 | b, i = bpe_mix64(key);

	for (i &= t->merge_mask;; i = (i + 1) & t->merge_mask) {
		if (t->merge_key[i] == UINT64_MAX)
			return 0;
		if (t->merge_key[i] == key)
			break;
	}
	*rank = t->merge_rank[i];
	*id = t->merge_id[i];
	return 1;
}

/* one word: its characters as symbols, merged by rank */
static int word(struct enc *e, const char *s, size_t len)
{
	const struct tokj *t = e->t;
	size_t i = 0, n = 0, c;
	bool in_unk = false;
	uint32_t *sym, id;
	int k;

	if (len > e->nsym) {	/* at most a symbol per byte */
		sym = realloc(e->sym, len * sizeof(*sym));
		if (!sym)
			return -ENOMEM;
		e->sym = sym;
		e->nsym = len;
	}
	k = bpe_work_reserve(&e->w, len);
	if (k)
		return k;
	while (i < len) {
		c = utf8_len((const unsigned char *)s + i, len - i);
		id = bpe_vocab_find(&t->vocab, s + i, c);
		if (id != BPE_NONE) {
			e->sym[n++] = id;
			in_unk = false;
		} else if (t->byte_fallback) {	/* all 256 present */
			for (k = 0; k < (int)c; k++)
				e->sym[n++] =
					t->byte_id[(unsigned char)s[i + k]];
		} else if (t->unk == BPE_NONE) {
			return -EINVAL;
		} else if (!in_unk || !t->fuse_unk) {
			e->sym[n++] = t->unk;
			in_unk = true;
		}
		i += c;
	}
	n = bpe_merge(&e->w, e->sym, n, merge_pair, (void *)t);
	for (i = 0; i < n; i++)
		if (emit(e, e->sym[i]))
			return -EFBIG;
	return 0;
}

/* @src (@n bytes) with every @a replaced by @b into @dst; its length */
static ssize_t replace(char *dst, size_t cap, const char *src, size_t n,
		       const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (n - i >= alen && !memcmp(src + i, a, alen)) {
			if (cap - o < blen)
				return -EFBIG;
			memcpy(dst + o, b, blen);
			o += blen;
			i += alen;
		} else {
			if (o == cap)
				return -EFBIG;
			dst[o++] = src[i++];
		}
	}
	return o;
}

static int segment(struct enc *e, const char *s, size_t len, bool first)
{
	const struct tokj *t = e->t;
	const struct tokj_step *st;
	size_t n = len, i, start;
	ssize_t r;
	char *tmp;
	int k;

	if (!len)
		return 0;
	memcpy(e->a, s, len);
	for (k = 0; k < t->n_norm; k++) {
		st = &t->norm[k];
		if (st->op == TOKJ_PREPEND) {
			if (!n)
				continue;
			if (e->cap - n < st->alen)
				return -EFBIG;
			memmove(e->a + st->alen, e->a, n);
			memcpy(e->a, st->a, st->alen);
			n += st->alen;
			continue;
		}
		r = replace(e->b, e->cap, e->a, n, st->a, st->alen, st->b,
			    st->blen);
		if (r < 0)
			return r;
		n = r;
		tmp = e->a;
		e->a = e->b;
		e->b = tmp;
	}
	if (!t->metaspace)
		return word(e, e->a, n);
	r = replace(e->b, e->cap - t->ms_len, e->a, n, " ", 1, t->ms_rep,
		    t->ms_len);
	if (r < 0)
		return r;
	n = r;
	if (n && (t->ms_prepend == TOKJ_ALWAYS ||
		  (t->ms_prepend == TOKJ_FIRST && first)) &&
	    (n < t->ms_len || memcmp(e->b, t->ms_rep, t->ms_len))) {
		memmove(e->b + t->ms_len, e->b, n);
		memcpy(e->b, t->ms_rep, t->ms_len);
		n += t->ms_len;
	}
	if (!t->ms_split)
		return word(e, e->b, n);
	/* MergedWithNext: each replacement starts a word */
	for (i = start = 0; i < n; i++) {
		if (i > start && n - i >= t->ms_len &&
		    !memcmp(e->b + i, t->ms_rep, t->ms_len)) {
			k = word(e, e->b + start, i - start);
			if (k)
				return k;
			start = i;
		}
	}
	return word(e, e->b + start, n - start);
}

/* the longest added token at @s, its length (0: none) and id */
static size_t added_at(const struct tokj *t, const char *s, size_t len,
		       uint32_t *id)
{
	size_t best = 0, l;
	const char *p;
	uint32_t i;

	if (!t->added_first[(unsigned char)*s])
		return 0;
	for (i = 0; i < t->n_added; i++) {
		p = bpe_vocab_get(&t->vocab, t->added[i].id, &l);
		if (l > best && l <= len && !memcmp(p, s, l)) {
			best = l;
			*id = t->added[i].id;
		}
	}
	return best;
}

static int encode(struct enc *e, const char *text, size_t len,
		  unsigned int flags)
{
	size_t i = 0, start = 0, l;
	uint32_t id;
	int err;

	while (i < len) {
		l = flags & TOKJ_TEXT_SPECIAL ? 0 :
			added_at(e->t, text + i, len - i, &id);
		if (!l) {
			i += utf8_len((const unsigned char *)text + i, len - i);
			continue;
		}
		err = segment(e, text + start, i - start, start == 0);
		if (!err)
			err = emit(e, id);
		if (err)
			return err;
		i += l;
		start = i;
	}
	return segment(e, text + start, len - start, start == 0);
}

ssize_t tokj_encode(const struct tokj *t, const char *text, size_t len,
		    unsigned int flags, uint32_t *ids, size_t max)
{
	struct enc e = { .t = t, .ids = ids, .max = max };
	size_t i, c;
	int err, k;

	for (i = 0; i < len; i += c) {
		c = utf8_len((const unsigned char *)text + i, len - i);
		if (!c)
			return -EINVAL;
	}
	if (len > (SIZE_MAX - TOKJ_SLACK) / TOKJ_GROWTH / 4)
		return -EFBIG;
	e.cap = len * TOKJ_GROWTH + TOKJ_SLACK;
	e.a = malloc(e.cap);
	e.b = malloc(e.cap);
	err = -ENOMEM;
	if (!e.a || !e.b)
		goto out;
	err = 0;
	for (k = 0; !err && (flags & TOKJ_ADD_SPECIAL) && k < t->n_pre; k++)
		err = emit(&e, t->pre[k]);
	if (!err)
		err = encode(&e, text, len, flags);
	for (k = 0; !err && (flags & TOKJ_ADD_SPECIAL) && k < t->n_post; k++)
		err = emit(&e, t->post[k]);
out:
	free(e.a);
	free(e.b);
	free(e.sym);
	bpe_work_free(&e.w);
	return err ? err : (ssize_t)e.n;
}

/* Decoding: a list of pieces, each step building the next list. */
struct pieces {
	char *buf;
	size_t len, cap;	/* bytes */
	size_t limit;		/* bytes it may grow to: TOKJ_GROWTH */
	size_t *end;		/* piece i is buf[end[i-1] (0)..end[i]) */
	size_t n, ncap;
};

static int put(struct pieces *p, const void *s, size_t len)
{
	size_t cap;
	char *buf;

	if (!len)	/* buf may still be NULL */
		return 0;
	if (p->limit - p->len < len)
		return -EFBIG;
	if (p->cap - p->len < len) {
		cap = p->cap * 2 + len + 64;
		buf = realloc(p->buf, cap);
		if (!buf)
			return -ENOMEM;
		p->buf = buf;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, len);
	p->len += len;
	return 0;
}

/* close the piece being put */
static int cut(struct pieces *p)
{
	size_t *end;

	if (p->n == p->ncap) {
		end = realloc(p->end, (p->ncap * 2 + 16) * sizeof(*end));
		if (!end)
			return -ENOMEM;
		p->end = end;
		p->ncap = p->ncap * 2 + 16;
	}
	p->end[p->n++] = p->len;
	return 0;
}

static const char *piece(const struct pieces *p, size_t i, size_t *len)
{
	size_t start = i ? p->end[i - 1] : 0;

	*len = p->end[i] - start;
	return p->buf + start;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tokj_byte_token(const char *s, size_t len)
{
	if (len != 6 || memcmp(s, "<0x", 3) || s[5] != '>' ||
	    hexval(s[3]) < 0 || hexval(s[4]) < 0)
		return -1;
	return hexval(s[3]) << 4 | hexval(s[4]);
}

/*
 * A run of byte tokens (@b, @n): one piece of UTF-8, or, when they are not
 * UTF-8, one U+FFFD piece per byte (as Hugging Face's ByteFallback).
 */
static int put_bytes(struct pieces *p, const unsigned char *b, size_t n)
{
	size_t i, c;
	int err;

	for (i = 0; i < n; i += c) {
		c = utf8_len(b + i, n - i);
		if (!c)
			break;
	}
	if (i == n) {
		err = put(p, b, n);
		return err ? err : cut(p);
	}
	for (i = 0; i < n; i++) {
		err = put(p, "\xef\xbf\xbd", 3);
		if (!err)
			err = cut(p);
		if (err)
			return err;
	}
	return 0;
}

static int step(const struct tokj_step *st, const struct pieces *in,
		struct pieces *out, unsigned char *bytes)
{
	size_t i, len, nb = 0, k, skip;
	const char *s;
	int err = 0, b;

	for (i = 0; i < in->n && !err; i++) {
		s = piece(in, i, &len);
		switch (st->op) {
		case TOKJ_BYTE_FALLBACK:
			b = tokj_byte_token(s, len);
			if (b >= 0) {
				bytes[nb++] = b;
				continue;
			}
			if (nb)
				err = put_bytes(out, bytes, nb);
			nb = 0;
			if (!err)
				err = put(out, s, len);
			break;
		case TOKJ_FUSE:
			err = put(out, s, len);
			if (i + 1 < in->n)
				continue;
			break;
		case TOKJ_STRIP:
			for (k = 0; k < st->start && len >= st->alen &&
			     !memcmp(s, st->a, st->alen); k++) {
				s += st->alen;
				len -= st->alen;
			}
			for (k = 0; k < st->stop && len >= st->alen &&
			     !memcmp(s + len - st->alen, st->a, st->alen); k++)
				len -= st->alen;
			err = put(out, s, len);
			break;
		default:	/* REPLACE, METASPACE: replace a by b or " " */
			skip = st->op == TOKJ_METASPACE && !i &&
			       st->strip_first;
			for (k = 0; k < len && !err;) {
				if (len - k >= st->alen &&
				    !memcmp(s + k, st->a, st->alen)) {
					if (st->op == TOKJ_REPLACE)
						err = put(out, st->b, st->blen);
					else if (!skip)
						err = put(out, " ", 1);
					k += st->alen;
				} else {
					err = put(out, s + k++, 1);
				}
			}
		}
		if (!err)
			err = cut(out);
	}
	if (!err && nb)
		err = put_bytes(out, bytes, nb);
	if (!err && st->op == TOKJ_FUSE && !in->n)
		err = cut(out);
	return err;
}

ssize_t tokj_decode(const struct tokj *t, const uint32_t *ids, size_t n,
		    unsigned int flags, char *out, size_t max)
{
	struct pieces p[2] = { 0 };
	size_t i, len, total = 0;
	unsigned char *bytes;
	const char *s;
	ssize_t err = 0;
	int k, cur = 0;

	for (i = 0; i < n; i++)
		if (bpe_vocab_get(&t->vocab, ids[i], &len))
			total += len + 1;
	if (n > SIZE_MAX / 2 / TOKJ_GROWTH ||
	    total > SIZE_MAX / 2 / TOKJ_GROWTH)
		return -EFBIG;
	p[0].limit = p[1].limit = total * TOKJ_GROWTH + TOKJ_SLACK;
	bytes = malloc(n + 1);
	if (!bytes)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		s = bpe_vocab_get(&t->vocab, ids[i], &len);
		if (!s)
			err = -EINVAL;
		else if (!(flags & TOKJ_SKIP_SPECIAL) ||
			 !tokj_is_special(t, ids[i]))
			err = t->dec_join && p[0].n ? put(&p[0], " ", 1) : 0;
		else
			continue;
		if (!err)
			err = put(&p[0], s, len);
		if (!err)
			err = cut(&p[0]);
	}
	for (k = 0; k < t->n_dec && !err; k++) {
		p[!cur].len = p[!cur].n = 0;
		err = step(&t->dec[k], &p[cur], &p[!cur], bytes);
		cur = !cur;
	}
	if (!err && p[cur].len > max)
		err = -EFBIG;
	if (!err) {
		if (p[cur].len)
			memcpy(out, p[cur].buf, p[cur].len);
		err = p[cur].len;
	}
	free(bytes);
	for (k = 0; k < 2; k++) {
		free(p[k].buf);
		free(p[k].end);
	}
	return err;
}
