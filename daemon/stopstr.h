/* SPDX-License-Identifier: MIT */
/*
 * Stop strings of a language model's text-form request ("stop=VALUE",
 * Documentation/models.md): their encoding (percent-encoding, so any
 * byte fits in one word of the request line) and the search for the
 * first one in an answer as it grows. Pure functions over libc only: a
 * leaf of daemon/ that gpulease-gateway links too, so this header may
 * include nothing from daemon/ or tools/.
 */
#ifndef GL_STOPSTR_H
#define GL_STOPSTR_H

#include <stddef.h>
#include <stdint.h>

#define STOPSTR_MAX	4	/* stop strings of a request, as OpenAI's */
#define STOPSTR_LEN	64	/* bytes of one, decoded */

struct stopstr {
	uint8_t len;			/* 1 .. STOPSTR_LEN */
	char s[STOPSTR_LEN];		/* any bytes, NUL included */
};

/* The stop strings of one request. */
struct stopstr_set {
	unsigned int n;			/* 0 .. STOPSTR_MAX */
	struct stopstr one[STOPSTR_MAX];
};

/*
 * stopstr_add - decode the NUL-terminated @val (each "%XX", two hex
 * digits of either case, is that byte; any other byte but '%' is
 * itself) and add it to @set. Returns 0, or -EINVAL with the reason in
 * *@why: empty, over STOPSTR_LEN bytes decoded, a '%' without two hex
 * digits, more than STOPSTR_MAX in @set.
 */
int stopstr_add(struct stopstr_set *set, const char *val, const char **why);

/*
 * stopstr_encode - the @n bytes at @s as a value stopstr_add() decodes
 * back to them, in @out of @size bytes, NUL-terminated: the bytes
 * 0x21 .. 0x7e but '%' as themselves, every other byte as "%XX" (so it
 * holds no space, newline or NUL). Returns its length, or -EFBIG when
 * @size is short (3 * @n + 1 always suffices).
 */
int stopstr_encode(const char *s, size_t n, char *out, size_t size);

/*
 * stopstr_find - the first stop string of @set to end inside the @n
 * new bytes at @p of an answer whose previous bytes end in the @tn
 * bytes at @tail (at least STOPSTR_LEN - 1 of them, or all there were):
 * returns how many bytes of @p come up to and including its end (the
 * earliest end wins), or 0 when none ends in @p.
 */
size_t stopstr_find(const struct stopstr_set *set, const char *tail,
		    size_t tn, const char *p, size_t n);

/*
 * stopstr_tail - keep in @tail (STOPSTR_LEN - 1 bytes of room, *@tn
 * used) the last bytes of the answer after @n more bytes at @p, as
 * stopstr_find() wants them.
 */
void stopstr_tail(char *tail, size_t *tn, const char *p, size_t n);

#endif
