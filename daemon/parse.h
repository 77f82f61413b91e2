/* SPDX-License-Identifier: MIT */
/*
 * The ctl grammar's lexical layer: the line prologue, one command line
 * split into words, sizes with K/M/G suffixes, decimal numbers, lease
 * names. Pure functions over libc and uapi/ only: a leaf of daemon/ that
 * the gpulease command links too (see parse.c), so this header may
 * include nothing from daemon/ or tools/.
 */
#ifndef GL_PARSE_H
#define GL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define PARSE_MAX_WORDS 16

struct cmdline {
	char text[512 + 1];		/* GL_CTL_LINE_MAX + NUL, words cut in */
	char *argv[PARSE_MAX_WORDS];	/* point into text */
	int argc;
};

/*
 * parse_line - the prologue of every written line: copy @data (@len
 * bytes, need not be NUL-terminated, one trailing newline allowed and
 * dropped) into @buf, which holds @max + 1 bytes, NUL-terminated.
 * Returns the line's length, -EFBIG when @len is over @max, -EINVAL for
 * a second line or a NUL byte. An empty line is the caller's to judge.
 */
int parse_line(char *buf, size_t max, const char *data, size_t len);

/*
 * parse_cmdline - split one ctl write into words. @data need not be
 * NUL-terminated; one trailing newline is allowed. Returns the word count
 * (>= 1), -EFBIG when over GL_CTL_LINE_MAX bytes, -EINVAL for an empty
 * line, a second line, a NUL byte or too many words.
 */
int parse_cmdline(struct cmdline *cl, const char *data, size_t len);

/*
 * parse_digits - the decimal digits at *@sp (at least one, no sign) into
 * *@out, *@sp moved past them; what follows is the caller's. 0 or -EINVAL
 * (no digit, over UINT64_MAX), *@sp unmoved on failure.
 */
int parse_digits(const char **sp, uint64_t *out);

/* parse_unit - the power of two a size suffix letter names: 10, 20, 30
 * for K, M, G (any case), 0 for any other character. */
unsigned parse_unit(char c);

/* parse_size - "4096", "64K", "2g" (powers of 1024). 0 or -EINVAL,
 * also on overflow. */
int parse_size(const char *s, uint64_t *out);

/* parse_u64 - plain decimal, no sign, no suffix. 0 or -EINVAL. */
int parse_u64(const char *s, uint64_t *out);

/* parse_u32 - as parse_u64, bounded to UINT32_MAX. 0 or -EINVAL. */
int parse_u32(const char *s, uint32_t *out);

/* parse_name - 0 when @s is a valid lease name, else -EINVAL. */
int parse_name(const char *s);

/* parse_key - when @word is "KEY=VALUE" for @key, set *val and return 1;
 * otherwise 0. */
int parse_key(const char *word, const char *key, const char **val);

#endif
