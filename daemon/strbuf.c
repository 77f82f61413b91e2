/* SPDX-License-Identifier: MIT */
/*
 * Growable text buffer. Invariant: after any call, buf[len] == '\0' when
 * buf is set; a failed growth leaves the text as it was and sets err.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/strbuf.h"

static int strbuf_grow(struct strbuf *sb, size_t need)
{
	size_t cap = sb->cap ? sb->cap : 256;
	char *p;

	while (cap < need)
		cap *= 2;
	if (cap == sb->cap)
		return 0;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->err = -ENOMEM;
		return -ENOMEM;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->err)
		return sb->err;
	/* format once into the room there is; again only when it did not fit */
	va_start(ap, fmt);
	n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL,
		      sb->buf ? sb->cap - sb->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (sb->buf && (size_t)n < sb->cap - sb->len) {
		sb->len += (size_t)n;
		return 0;
	}
	if (strbuf_grow(sb, sb->len + (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

int strbuf_add(struct strbuf *sb, const char *s, size_t len)
{
	if (sb->err)
		return sb->err;
	if (strbuf_grow(sb, sb->len + len + 1))
		return -ENOMEM;
	memcpy(sb->buf + sb->len, s, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->err = 0;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *p;

	if (sb->err) {
		strbuf_release(sb);
		return NULL;
	}
	if (!sb->buf && strbuf_grow(sb, 1))
		return NULL;
	if (sb->len == 0)
		sb->buf[0] = '\0';
	p = sb->buf;
	*len = sb->len;
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	return p;
}
