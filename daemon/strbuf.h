/* SPDX-License-Identifier: MIT */
/*
 * A growable text buffer for the "key value" files. Invariant: buf is
 * NUL-terminated whenever it is non-NULL; on allocation failure the buffer
 * remembers it (err) and further appends are no-ops.
 */
#ifndef GL_STRBUF_H
#define GL_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;	/* owned, malloc'd; NULL until the first append */
	size_t len;	/* bytes used, excluding the NUL */
	size_t cap;	/* bytes allocated */
	int err;	/* -ENOMEM after a failed growth, else 0 */
};

#define STRBUF_INIT { NULL, 0, 0, 0 }

/* strbuf_printf - append formatted text. Returns 0 or -ENOMEM. */
int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* strbuf_add - append @len bytes of @s. Returns 0 or -ENOMEM. */
int strbuf_add(struct strbuf *sb, const char *s, size_t len);

/* strbuf_release - free the text; the buffer is empty again. */
void strbuf_release(struct strbuf *sb);

/* strbuf_detach - hand the text (never NULL on success) to the caller,
 * who frees it. Returns NULL on a remembered -ENOMEM. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
