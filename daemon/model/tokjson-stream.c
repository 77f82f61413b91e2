/* SPDX-License-Identifier: MIT */
/*
 * tokenizer.json's decoder, one id at a time, for answers that stream.
 * Each decoder step is a stage that takes pieces from the one before and
 * hands its own to the next; the last hands them to the caller. Before a
 * Fuse a stage takes whole pieces (one per id, or per byte run after a
 * ByteFallback); after one it takes chunks of the one fused piece and
 * holds back the bytes whose fate a later chunk may still change.
 * Invariant: the bytes a stage has handed on are a prefix of what
 * tokj_decode() makes of the same ids at that step, so the text of the
 * whole stream is tokj_decode()'s, and every stage's output is bounded
 * as there (TOKJ_GROWTH times the ids' bytes so far, plus TOKJ_SLACK).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"

static int sb_put(struct tokj_sbuf *b, const void *p, size_t n)
{
	size_t cap;
	char *q;

	if (!n)
		return 0;
	if (b->cap - b->len < n) {
		cap = b->cap * 2 + n + 64;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* drop the first @n bytes of @b */
static void sb_cut(struct tokj_sbuf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* whether step @k takes chunks of one fused piece */
static bool fused(const struct tokj *t, int k)
{
	int j;

	for (j = 0; j < k; j++)
		if (t->dec[j].op == TOKJ_FUSE)
			return true;
	return false;
}

static int stage(const struct tokj *t, struct tokj_stream *s, int k,
		 const char *p, size_t n);

/* step @k's output (@p, @n) to step k + 1, within the growth bound */
static int emit(const struct tokj *t, struct tokj_stream *s, int k,
		const char *p, size_t n)
{
	s->made[k] += n;
	if (s->made[k] > s->in * TOKJ_GROWTH + TOKJ_SLACK)
		return -EFBIG;
	return stage(t, s, k + 1, p, n);
}

/* A run of byte tokens: one piece of UTF-8, else U+FFFD per byte. */
static int emit_bytes(const struct tokj *t, struct tokj_stream *s, int k,
		      const unsigned char *b, size_t n)
{
	size_t i, c;
	int err = 0;

	for (i = 0; i < n; i += c) {
		c = utf8_len(b + i, n - i);
		if (!c)
			break;
	}
	if (i == n)
		return emit(t, s, k, (const char *)b, n);
	for (i = 0; i < n && !err; i++)
		err = emit(t, s, k, "\xef\xbf\xbd", 3);
	return err;
}

/* ByteFallback: hold a run of <0xNN> pieces until a piece that is not
 * one; after a Fuse the one piece is a byte only when it is all "<0xNN>",
 * so its first 7 bytes decide. */
static int byte_fallback(const struct tokj *t, struct tokj_stream *s, int k,
			 const char *p, size_t n, bool chunk)
{
	struct tokj_sbuf *h = &s->held[k];
	unsigned char c;
	int b, err;

	if (chunk) {
		if (s->begun[k])
			return emit(t, s, k, p, n);
		err = sb_put(h, p, n);
		if (err || h->len <= 6)
			return err;
		s->begun[k] = true;
		err = emit(t, s, k, h->p, h->len);
		h->len = 0;
		return err;
	}
	b = tokj_byte_token(p, n);
	if (b >= 0) {
		c = (unsigned char)b;
		return sb_put(h, &c, 1);
	}
	err = 0;
	if (h->len)
		err = emit_bytes(t, s, k, (unsigned char *)h->p, h->len);
	h->len = 0;
	return err ? err : emit(t, s, k, p, n);
}

/*
 * Replace and Metaspace: every a becomes b (Metaspace: " ", or nothing in
 * the first piece unless prepend_scheme is never). On chunks, the tail
 * that is a proper prefix of a waits for the next chunk unless @last.
 */
static int replace(const struct tokj *t, struct tokj_stream *s, int k,
		   const char *p, size_t n, bool chunk, bool last)
{
	const struct tokj_step *st = &t->dec[k];
	struct tokj_sbuf *o = &s->tmp[k], *h = &s->held[k];
	bool drop = st->op == TOKJ_METASPACE && st->strip_first &&
		    (chunk || !s->pieces[k]);
	size_t i = 0;
	int err = 0;

	if (chunk) {
		err = sb_put(h, p, n);
		p = h->p;
		n = h->len;
	}
	s->pieces[k]++;
	o->len = 0;
	while (i < n && !err) {
		if (n - i >= st->alen && !memcmp(p + i, st->a, st->alen)) {
			if (st->op == TOKJ_REPLACE)
				err = sb_put(o, st->b, st->blen);
			else if (!drop)
				err = sb_put(o, " ", 1);
			i += st->alen;
		} else if (chunk && !last && n - i < st->alen &&
			   !memcmp(p + i, st->a, n - i)) {
			break;
		} else {
			err = sb_put(o, p + i++, 1);
		}
	}
	if (chunk && !err)
		sb_cut(h, i);
	if (err || (chunk && !o->len))
		return err;
	return emit(t, s, k, o->p, o->len);
}

/* Strip on a whole piece: up to start a's off the front, stop off the end */
static int strip(const struct tokj *t, struct tokj_stream *s, int k,
		 const char *p, size_t n)
{
	const struct tokj_step *st = &t->dec[k];
	uint32_t i;

	for (i = 0; i < st->start && n >= st->alen &&
	     !memcmp(p, st->a, st->alen); i++) {
		p += st->alen;
		n -= st->alen;
	}
	for (i = 0; i < st->stop && n >= st->alen &&
	     !memcmp(p + n - st->alen, st->a, st->alen); i++)
		n -= st->alen;
	return emit(t, s, k, p, n);
}

/*
 * Strip on chunks: the front waits until start a's are cut or a byte
 * differs; the end keeps back up to stop whole a's and a proper prefix
 * of one, which @last then strips.
 */
static int strip_chunk(const struct tokj *t, struct tokj_stream *s, int k,
		       const char *p, size_t n, bool last)
{
	const struct tokj_step *st = &t->dec[k];
	struct tokj_sbuf *h = &s->held[k];
	size_t m = 0, len;
	uint32_t c = 0;
	int err;

	err = sb_put(h, p, n);
	while (!err && !s->begun[k]) {
		if (s->stripped[k] < st->start && h->len >= st->alen &&
		    !memcmp(h->p, st->a, st->alen)) {
			sb_cut(h, st->alen);
			s->stripped[k]++;
		} else if (!last && s->stripped[k] < st->start &&
			   h->len < st->alen && !memcmp(h->p, st->a, h->len)) {
			return 0;	/* may still become an a */
		} else {
			s->begun[k] = true;
		}
	}
	if (err)
		return err;
	len = h->len;
	for (m = last ? 0 : st->alen - 1u; m; m--)
		if (m <= len && !memcmp(h->p + len - m, st->a, m))
			break;
	while (c < st->stop && len - m >= (c + 1) * (size_t)st->alen &&
	       !memcmp(h->p + len - m - (c + 1) * st->alen, st->a, st->alen))
		c++;
	len -= m + c * (size_t)st->alen;	/* what is certain */
	err = len ? emit(t, s, k, h->p, len) : 0;
	if (last)
		h->len = 0;	/* the c a's at the end: stripped */
	else
		sb_cut(h, len);
	return err;
}

static int stage(const struct tokj *t, struct tokj_stream *s, int k,
		 const char *p, size_t n)
{
	const struct tokj_step *st;
	bool chunk;
	int err;

	if (k == t->n_dec) {
		if (t->dec_join && s->pieces[k] &&
		    (err = sb_put(&s->out, " ", 1)))
			return err;
		s->pieces[k]++;
		return sb_put(&s->out, p, n);
	}
	st = &t->dec[k];
	chunk = fused(t, k);
	if (chunk && !n)
		return 0;
	switch (st->op) {
	case TOKJ_BYTE_FALLBACK:
		return byte_fallback(t, s, k, p, n, chunk);
	case TOKJ_FUSE:
		return emit(t, s, k, p, n);
	case TOKJ_STRIP:
		return chunk ? strip_chunk(t, s, k, p, n, false) :
			       strip(t, s, k, p, n);
	default:
		return replace(t, s, k, p, n, chunk, false);
	}
}

/* The end of the ids: each step in turn hands on what it held. */
static int finish(const struct tokj *t, struct tokj_stream *s)
{
	struct tokj_sbuf *h;
	int k, b, err = 0;
	unsigned char c;

	for (k = 0; k < t->n_dec && !err; k++) {
		h = &s->held[k];
		switch (t->dec[k].op) {
		case TOKJ_BYTE_FALLBACK:
			b = fused(t, k) && !s->begun[k] ?
				tokj_byte_token(h->p, h->len) : -1;
			c = (unsigned char)b;
			if (b >= 0)
				err = emit_bytes(t, s, k, &c, 1);
			else if (h->len)
				err = fused(t, k) ?
					emit(t, s, k, h->p, h->len) :
					emit_bytes(t, s, k,
						   (unsigned char *)h->p,
						   h->len);
			h->len = 0;
			break;
		case TOKJ_STRIP:
			if (fused(t, k))
				err = strip_chunk(t, s, k, "", 0, true);
			break;
		case TOKJ_REPLACE:
		case TOKJ_METASPACE:
			if (fused(t, k) && h->len)
				err = replace(t, s, k, "", 0, true, true);
			break;
		default:
			break;
		}
	}
	return err;
}

int tokj_stream_feed(const struct tokj *t, struct tokj_stream *s,
		     uint32_t id, const char **out, size_t *len)
{
	const char *p;
	size_t n;

	s->out.len = 0;
	*out = "";
	*len = 0;
	if (s->err)
		return s->err;
	if (s->ended) {
		s->err = -EINVAL;
		return s->err;
	}
	if (id == TOKJ_END) {
		s->ended = true;
		s->err = finish(t, s);
	} else {
		p = bpe_vocab_get(&t->vocab, id, &n);
		if (!p)
			return -EINVAL;	/* not sticky: nothing changed */
		s->in += n + 1;
		s->err = stage(t, s, 0, p, n);
	}
	if (s->err)
		return s->err;
	*out = s->out.len ? s->out.p : "";
	*len = s->out.len;
	return 0;
}

void tokj_stream_free(struct tokj_stream *s)
{
	int k;

	if (!s)
		return;
	for (k = 0; k < TOKJ_MAX_STEPS; k++) {
		free(s->held[k].p);
		free(s->tmp[k].p);
	}
	free(s->out.p);
	memset(s, 0, sizeof(*s));
}
