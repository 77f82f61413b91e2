// SPDX-License-Identifier: MIT
/*
 * A language model's answer as it streams back to the gateway, pure (no
 * I/O): a fallback's first line ("served_by NAME\n") stripped into the
 * serving model's name, the daemon's usage trailer ("\x1eusage PROMPT
 * MADE\n", after the last 0x1e) stripped into counts, the text cut at
 * the first stop string (the daemon ends the answer right after it:
 * stop=, Documentation/models.md; the cut leaves it out, as OpenAI) and
 * given out as valid UTF-8 once no later byte can change it.
 * selftests/fuzz/gateway.c feeds it any bytes in any pieces.
 * Invariant: t->start <= t->sent <= the cut <= t->len; what is given out
 * is never taken back, never holds a stop string nor the served_by line,
 * and is valid UTF-8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gateway/gateway.h"

#define TRAILER		'\x1e'
#define SERVED		"served_by "

/*
 * gw_utf8_clean - the valid UTF-8 of the @n bytes at @in into @out (room:
 * 3 * @n bytes), each invalid byte as U+FFFD; an incomplete sequence at
 * the end is left unread unless @final. Returns the bytes written; *@used:
 * the bytes of @in consumed.
 */
size_t gw_utf8_clean(const char *in, size_t n, bool final, char *out,
		     size_t *used)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, k, need;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			out[o++] = (char)s[i++];
			continue;
		}
		need = s[i] >= 0xf0 && s[i] <= 0xf4 ? 4 :
		       s[i] >= 0xe0 && s[i] <= 0xef ? 3 :
		       s[i] >= 0xc2 && s[i] <= 0xdf ? 2 : 0;
		cp = need == 4 ? s[i] & 7u : need == 3 ? s[i] & 15u :
		     s[i] & 31u;
		for (k = 1; need && k < need && i + k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				break;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (need && k < need && i + k == n && !final)
			break;	/* wait for the rest */
		if (need && k == need &&
		    !(need == 3 && (cp < 0x800 || (cp >= 0xd800 &&
						   cp <= 0xdfff))) &&
		    !(need == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
			memcpy(out + o, s + i, need);
			o += need;
			i += need;
			continue;
		}
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	*used = i;
	return o;
}

/*
 * gw_text_feed - append @n bytes of a language model's answer to @t.
 * Returns 0 or -ENOMEM. gw_text_take() gives out the text that follows.
 */
int gw_text_feed(struct gw_text *t, const void *p, size_t n)
{
	size_t cap;
	char *b;

	if (t->len + n > t->cap) {
		cap = t->cap ? t->cap : 256;
		while (cap < t->len + n)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b)
			return -ENOMEM;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	return 0;
}

static bool text_head(struct gw_text *t);

/*
 * gw_text_end - the answer ended: strip the usage trailer
 * ("\x1eusage PROMPT MADE\n" after the last 0x1e) into @t's counts, and
 * a fallback's first line into t->served_by. Returns 0, or -EPROTO when
 * there is no trailer (then the whole is text).
 */
int gw_text_end(struct gw_text *t)
{
	unsigned int p, m;
	char tail[48];
	size_t i, n;
	int k = 0;

	t->done = true;
	if (t->buf)
		text_head(t);
	for (i = t->len; i > t->sent; i--)
		if (t->buf[i - 1] == TRAILER)
			break;
	if (i == t->sent || t->len - i >= sizeof(tail))
		return -EPROTO;
	n = t->len - i;
	memcpy(tail, t->buf + i, n);
	tail[n] = '\0';
	if (sscanf(tail, "usage %u %u\n%n", &p, &m, &k) != 2 ||
	    (size_t)k != n)
		return -EPROTO;
	t->len = i - 1;
	t->prompt_tokens = p;
	t->completion_tokens = m;
	t->has_usage = true;
	return 0;
}

/* Where the text may be given out to, before stop strings. */
static size_t text_limit(const struct gw_text *t)
{
	size_t i;

	if (t->done)
		return t->len;
	for (i = t->len; i > t->sent; i--)	/* maybe the trailer */
		if (t->buf[i - 1] == TRAILER)
			return i - 1;
	return t->len;
}

/* Whether the answer's head is known: a first line "served_by NAME"
 * (a fallback served it) is taken into t->served_by and skipped (t->start
 * past it); false while the bytes so far may still be one. */
static bool text_head(struct gw_text *t)
{
	size_t k = sizeof(SERVED) - 1, n = t->len < k ? t->len : k;
	const char *nl;

	if (t->head)
		return true;
	if (memcmp(t->buf, SERVED, n))
		goto plain;
	n = t->len - n;	/* the bytes after "served_by " */
	nl = n ? memchr(t->buf + k, '\n', n) : NULL;
	if (!nl) {
		if (t->done || n > GW_NAME_MAX)
			goto plain;
		return false;	/* wait for the line's end */
	}
	n = (size_t)(nl - t->buf) - k;
	if (!gw_name_ok(t->buf + k, n))
		goto plain;
	memcpy(t->served_by, t->buf + k, n);
	t->served_by[n] = '\0';
	t->start = t->sent = (size_t)(nl - t->buf) + 1;
plain:
	t->head = true;
	return true;
}

/*
 * gw_text_take - the text of @t not given out yet that no later byte can
 * change (cut at the first stop string, which sets t->stopped; held back
 * while it may be a stop string's start, an incomplete character or the
 * served_by line) into @out of @size bytes (at least 12). Returns its
 * length.
 */
size_t gw_text_take(struct gw_text *t, char *out, size_t size)
{
	size_t lim, hold = 0, used, n, i;
	const char *hit;
	bool final;

	if (t->stopped || !t->buf || !text_head(t))
		return 0;
	lim = text_limit(t);
	for (i = 0; i < t->c->n_stop; i++) {
		n = strlen(t->c->stop[i]);
		hit = memmem(t->buf + t->start, lim - t->start,
			     t->c->stop[i], n);
		if (hit && (size_t)(hit - t->buf) < lim) {
			lim = (size_t)(hit - t->buf);
			t->stopped = true;
		}
		if (n - 1 > hold)
			hold = n - 1;
	}
	final = t->done || t->stopped;
	if (!final)
		lim = lim - t->sent > hold ? lim - hold : t->sent;
	if (lim < t->sent)
		lim = t->sent;	/* a stop string inside sent text: none */
	n = lim - t->sent;
	if (n > size / 3)
		n = size / 3;
	n = gw_utf8_clean(t->buf + t->sent, n, final && n == lim - t->sent,
			  out, &used);
	t->sent += used;
	return n;
}

/* gw_text_free - @t's buffer. */
void gw_text_free(struct gw_text *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = t->sent = 0;
}
