/* SPDX-License-Identifier: MIT */
/*
 * Lexing of ctl lines: the line prologue, words, sizes, numbers and names.
 * Every function is pure and total: any input gives a value or -EINVAL,
 * never a partial one.
 *
 * The one copy of this lexical layer: the daemon's ctl files, the kernel
 * registry, the launch grammar (launch-parse.c) and the gpulease command
 * (tools/gpulease/) all link this file. It is a leaf: it includes libc and
 * uapi/ only, touches no daemon state, and links alone (the command links
 * it without the rest of daemon/), so tools reach no further into the
 * daemon through it than through uapi/.
 */
#include <errno.h>
#include <string.h>

#include "daemon/parse.h"
#include "uapi/gpulease.h"

_Static_assert(sizeof(((struct cmdline *)0)->text) == GL_CTL_LINE_MAX + 1,
	       "cmdline text holds one GL_CTL_LINE_MAX line");

int parse_line(char *buf, size_t max, const char *data, size_t len)
{
	if (len > max)
		return -EFBIG;
	if (len && data[len - 1] == '\n')
		len--;
	if (memchr(data, '\n', len) || memchr(data, '\0', len))
		return -EINVAL;
	memcpy(buf, data, len);
	buf[len] = '\0';
	return (int)len;
}

int parse_cmdline(struct cmdline *cl, const char *data, size_t len)
{
	char *p;
	int err;

	err = parse_line(cl->text, GL_CTL_LINE_MAX, data, len);
	if (err < 0)
		return err;
	cl->argc = 0;
	p = cl->text;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (cl->argc == PARSE_MAX_WORDS)
			return -EINVAL;
		cl->argv[cl->argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return cl->argc ? cl->argc : -EINVAL;
}

int parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v;

	if (parse_digits(&s, &v) || *s)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

unsigned parse_unit(char c)
{
	switch (c) {
	case 'k': case 'K':
		return 10;
	case 'm': case 'M':
		return 20;
	case 'g': case 'G':
		return 30;
	default:
		return 0;
	}
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;

	if (parse_digits(&s, &v))
		return -EINVAL;
	if (*s) {
		shift = parse_unit(*s);
		if (!shift || s[1])
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int parse_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GL_NAME_MAX)
		return -EINVAL;
	if (strspn(s, GL_NAME_CHARS) != n)
		return -EINVAL;
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return -EINVAL;
	return 0;
}

int parse_key(const char *word, const char *key, const char **val)
{
	size_t n = strlen(key);

	if (strncmp(word, key, n) || word[n] != '=')
		return 0;
	*val = word + n + 1;
	return 1;
}
