// SPDX-License-Identifier: MIT
/*
 * Stop strings (stopstr.h): "stop=" values decoded and encoded, and the
 * first stop string found in an answer as it grows. A leaf of daemon/
 * (libc only), linked by the daemon (model-ask.c parses, model-infer.c
 * ends answers) and by gpulease-gateway (xlate.c encodes): one grammar,
 * one implementation.
 * Invariant: a set holds only strings of 1 .. STOPSTR_LEN bytes; nothing
 * is read outside the buffers given.
 */
#include <errno.h>
#include <string.h>

#include "daemon/stopstr.h"

#define FAIL(reason)	(*why = (reason), -EINVAL)

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int stopstr_add(struct stopstr_set *set, const char *val, const char **why)
{
	struct stopstr *s;
	size_t n = 0;
	int hi, lo;

	if (set->n == STOPSTR_MAX)
		return FAIL("stop: at most 4 stop strings");
	s = &set->one[set->n];
	for (; *val; val++) {
		if (n == STOPSTR_LEN)
			return FAIL("stop: over 64 bytes decoded");
		if (*val != '%') {
			s->s[n++] = *val;
			continue;
		}
		hi = hex(val[1]);
		lo = hi < 0 ? -1 : hex(val[2]);
		if (lo < 0)
			return FAIL("stop: '%' not followed by two hex "
				    "digits (write '%25' for '%')");
		s->s[n++] = (char)(hi << 4 | lo);
		val += 2;
	}
	if (!n)
		return FAIL("stop: empty");
	s->len = (uint8_t)n;
	set->n++;
	return 0;
}

int stopstr_encode(const char *s, size_t n, char *out, size_t size)
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '%') {
			if (o + 1 >= size)
				return -EFBIG;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= size)
			return -EFBIG;
		out[o++] = '%';
		out[o++] = digits[c >> 4];
		out[o++] = digits[c & 15];
	}
	if (o >= size)
		return -EFBIG;
	out[o] = '\0';
	return (int)o;
}

/* Where the first @s to end in @p ends (bytes of @p through it), 0: none. */
static size_t find_one(const struct stopstr *s, const char *tail, size_t tn,
		       const char *p, size_t n)
{
	const char *hit;
	size_t e;

	/* across the old bytes and the new ones: ends before s->len */
	for (e = 1; e < s->len && e <= n; e++)
		if (s->len - e <= tn &&
		    !memcmp(tail + tn - (s->len - e), s->s, s->len - e) &&
		    !memcmp(p, s->s + s->len - e, e))
			return e;
	hit = memmem(p, n, s->s, s->len);
	return hit ? (size_t)(hit - p) + s->len : 0;
}

size_t stopstr_find(const struct stopstr_set *set, const char *tail,
		    size_t tn, const char *p, size_t n)
{
	size_t best = 0, e;
	unsigned int i;

	for (i = 0; i < set->n; i++) {
		e = find_one(&set->one[i], tail, tn, p, n);
		if (e && (!best || e < best))
			best = e;
	}
	return best;
}

void stopstr_tail(char *tail, size_t *tn, const char *p, size_t n)
{
	const size_t room = STOPSTR_LEN - 1;
	size_t keep;

	if (n >= room) {
		memcpy(tail, p + n - room, room);
		*tn = room;
		return;
	}
	keep = *tn + n > room ? room - n : *tn;
	memmove(tail, tail + *tn - keep, keep);
	memcpy(tail + keep, p, n);
	*tn = keep + n;
}
