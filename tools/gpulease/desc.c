/* SPDX-License-Identifier: MIT */
/*
 * The text launch form of Documentation/kernels.md turned into the binary
 * struct gl_launch_desc of uapi/launch.h, for launches through a ring
 * (which takes only the binary form). Written from the documented grammar:
 * tools/ never include daemon/ headers.
 *
 * Invariant: the parser accepts exactly the lines the daemon's text parser
 * accepts and fails with the errno the daemon would give (-EINVAL, -EFBIG),
 * so a descriptor means the same through the ring and through submit. The
 * one thing it cannot know is a kernel's default block: block[0] is 0 when
 * the line has no block=, for the caller to fill.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gpulease/cli.h"

/* Decimal digits only, no sign, no spaces, no overflow. */
static int desc_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

static int desc_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (desc_u64(s, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Digits and at most one K, M or G (powers of 1024). */
static int desc_size(const char *s, uint64_t *out)
{
	char buf[32];
	unsigned int shift = 0;
	size_t n = strlen(s);
	uint64_t v;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	}
	if (shift)
		buf[n - 1] = '\0';
	if (desc_u64(buf, &v) || (shift && v > UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* "X[,Y[,Z]]", each >= 1; missing ones are 1. */
static int desc_dims(const char *s, uint32_t dims[3])
{
	char buf[64], *p, *comma;
	int i;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dims[0] = dims[1] = dims[2] = 1;
	for (p = buf, i = 0;; i++) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (i == 3 || desc_u32(p, &dims[i]) || !dims[i])
			return -EINVAL;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int desc_key(const char *word, const char *key, const char **val)
{
	size_t n = strlen(key);

	if (strncmp(word, key, n) || word[n] != '=')
		return 0;
	*val = word + n + 1;
	return 1;
}

/* "TYPE:VALUE", "buf:OFFSET:LEN" or "io:OFFSET:LEN" into @a. */
static int desc_arg(char *word, struct gl_launch_arg *a)
{
	char *val = strchr(word, ':'), *len, *end;
	uint64_t u;
	double f;
	float f32;
	uint32_t bits;

	if (!val)
		return -EINVAL;
	*val++ = '\0';
	memset(a, 0, sizeof(*a));
	if (!strcmp(word, "buf") || !strcmp(word, "io")) {
		a->type = word[0] == 'b' ? GL_ARG_BUF : GL_ARG_IO;
		len = strchr(val, ':');
		if (!len)
			return -EINVAL;
		*len++ = '\0';
		return desc_size(val, &a->value) || desc_size(len, &a->len) ?
		       -EINVAL : 0;
	}
	if (!strcmp(word, "u32") || !strcmp(word, "u64")) {
		a->type = word[1] == '3' ? GL_ARG_U32 : GL_ARG_U64;
		if (desc_u64(val, &u) ||
		    (a->type == GL_ARG_U32 && u > UINT32_MAX))
			return -EINVAL;
		a->value = u;
		return 0;
	}
	if (!strcmp(word, "i32")) {
		a->type = GL_ARG_I32;
		if (desc_u64(val + (*val == '-'), &u) ||
		    u > (*val == '-' ? 0x80000000ull : 0x7fffffffull))
			return -EINVAL;
		a->value = *val == '-' ? (uint64_t)-(int64_t)u : u;
		return 0;
	}
	if (!strcmp(word, "f32") || !strcmp(word, "f64")) {
		if (!*val || *val == ' ')
			return -EINVAL;
		errno = 0;
		f = strtod(val, &end);
		if (*end || errno == ERANGE)
			return -EINVAL;
		if (word[1] == '6') {
			a->type = GL_ARG_F64;
			memcpy(&a->value, &f, sizeof(f));
			return 0;
		}
		f32 = (float)f;
		if (isinf(f32) && !isinf(f))
			return -EINVAL;	/* out of f32 range */
		a->type = GL_ARG_F32;
		memcpy(&bits, &f32, sizeof(bits));
		a->value = bits;
		return 0;
	}
	return -EINVAL;
}

/*
 * cli_desc_parse - @line, one text launch descriptor ("saxpy grid=4
 * block=256 u32:1024 f32:2 buf:0:4K buf:4K:4K"), into @d. block[] is left
 * 0 when the line names none (the kernel's default: the caller's to
 * fill); timeout_ms 0 means the daemon's default. Returns 0, -EINVAL (a
 * malformed line: no grid, a bad value or key) or -EFBIG (a line over
 * GL_LAUNCH_TEXT_MAX bytes, more than GL_LAUNCH_ARGS_MAX arguments).
 */
int cli_desc_parse(const char *line, struct gl_launch_desc *d)
{
	char buf[GL_LAUNCH_TEXT_MAX + 1], *save = NULL, *w;
	size_t len = strlen(line);
	bool have_grid = false, have_block = false;
	const char *v;
	int err;

	if (len > GL_LAUNCH_TEXT_MAX)
		return -EFBIG;
	if (len && line[len - 1] == '\n')
		len--;
	if (!len || memchr(line, '\n', len))
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	memset(d, 0, sizeof(*d));
	d->magic = GL_LAUNCH_MAGIC;
	d->version = GL_LAUNCH_VERSION;

	w = strtok_r(buf, " \t", &save);
	if (!w || strlen(w) >= GL_KERNEL_NAME_MAX || strchr(w, '='))
		return -EINVAL;
	strcpy(d->kernel, w);
	while ((w = strtok_r(NULL, " \t", &save))) {
		if (desc_key(w, "grid", &v)) {
			if (have_grid || desc_dims(v, d->grid))
				return -EINVAL;
			have_grid = true;
		} else if (desc_key(w, "block", &v)) {
			if (have_block || desc_dims(v, d->block))
				return -EINVAL;
			have_block = true;
		} else if (desc_key(w, "timeout_ms", &v)) {
			if (desc_u32(v, &d->timeout_ms) || !d->timeout_ms)
				return -EINVAL;
		} else if (desc_key(w, "user_data", &v)) {
			if (desc_u64(v, &d->user_data))
				return -EINVAL;
		} else {
			if (d->nargs == GL_LAUNCH_ARGS_MAX)
				return -EFBIG;
			err = desc_arg(w, &d->args[d->nargs]);
			if (err)
				return err;
			d->nargs++;
		}
	}
	return have_grid ? 0 : -EINVAL;
}
