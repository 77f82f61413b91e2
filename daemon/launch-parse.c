/* SPDX-License-Identifier: MIT */
/*
 * Launch descriptor parsers: the one implementation of the launch grammar
 * of Documentation/kernels.md. Invariant: on success every field of the
 * result is defined (unused args zeroed) and every arg has a valid type
 * whose value fits it; on failure the caller must not use it. Both
 * parsers are total over arbitrary bytes (fuzzed: selftests/fuzz/).
 *
 * The text line is parsed once, into the binary struct gl_launch_desc of
 * uapi/launch.h: the daemon turns that into its launch_desc, and the
 * gpulease command (tools/gpulease/run.c) sends it through a ring, which
 * takes only the binary form. So a line means the same through submit and
 * through the ring because it is the same code. Like parse.c this is a
 * leaf of daemon/ (libc, uapi/ and parse.c only, no daemon state) that the
 * command links without the rest of the daemon.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/launch-parse.h"
#include "daemon/parse.h"

static int parse_dims(const char *s, uint32_t dims[3])
{
	char buf[64], *save = NULL, *tok;
	int i = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dims[0] = dims[1] = dims[2] = 1;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (i == 3 || parse_u32(tok, &dims[i]) || !dims[i])
			return -EINVAL;
		i++;
	}
	/* strtok_r skips empty fields: "4,,2" must not pass as "4,2" */
	if (!i || strstr(s, ",,") || s[0] == ',' || s[strlen(s) - 1] == ',')
		return -EINVAL;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	uint64_t v;

	if (*s == '-') {
		if (parse_u64(s + 1, &v) || v > (uint64_t)INT64_MAX + 1)
			return -EINVAL;
		*out = (int64_t)(0 - v);
		return 0;
	}
	if (parse_u64(s, &v) || v > INT64_MAX)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	if (!*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno == ERANGE)
		return -EINVAL;
	return 0;
}

/* "TYPE:VALUE" or "buf:OFFSET:LEN" into @a. */
static int parse_arg(char *word, struct gl_launch_arg *a)
{
	char *val = strchr(word, ':'), *len;
	uint64_t u;
	int64_t i;
	double f;
	float f32;

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
		if (parse_size(val, &a->value) || parse_size(len, &a->len))
			return -EINVAL;
		return 0;
	}
	if (!strcmp(word, "u32") || !strcmp(word, "u64")) {
		a->type = word[1] == '3' ? GL_ARG_U32 : GL_ARG_U64;
		if (parse_u64(val, &u) || (a->type == GL_ARG_U32 &&
					   u > UINT32_MAX))
			return -EINVAL;
		a->value = u;
		return 0;
	}
	if (!strcmp(word, "i32")) {
		a->type = GL_ARG_I32;
		if (parse_i64(val, &i) || i < INT32_MIN || i > INT32_MAX)
			return -EINVAL;
		a->value = (uint64_t)i;
		return 0;
	}
	if (!strcmp(word, "f32") || !strcmp(word, "f64")) {
		if (parse_double(val, &f))
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
		memcpy(&u, &f32, sizeof(f32));
		a->value = u & 0xffffffffu;
		return 0;
	}
	return -EINVAL;
}

int launch_text_encode(const char *data, size_t len, struct gl_launch_desc *b)
{
	char line[GL_LAUNCH_TEXT_MAX + 1], *save = NULL, *w;
	bool have_grid = false;
	const char *v;
	int err;

	err = parse_line(line, GL_LAUNCH_TEXT_MAX, data, len);
	if (err <= 0)
		return err ? err : -EINVAL;
	memset(b, 0, sizeof(*b));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;

	w = strtok_r(line, " \t", &save);
	if (!w || strlen(w) >= GL_KERNEL_NAME_MAX || strchr(w, '='))
		return -EINVAL;
	strcpy(b->kernel, w);
	while ((w = strtok_r(NULL, " \t", &save))) {
		if (parse_key(w, "grid", &v)) {
			if (have_grid || parse_dims(v, b->grid))
				return -EINVAL;
			have_grid = true;
		} else if (parse_key(w, "block", &v)) {
			if (b->block[0] || parse_dims(v, b->block))
				return -EINVAL;
		} else if (parse_key(w, "timeout_ms", &v)) {
			if (parse_u32(v, &b->timeout_ms) || !b->timeout_ms)
				return -EINVAL;
		} else if (parse_key(w, "user_data", &v)) {
			if (parse_u64(v, &b->user_data))
				return -EINVAL;
		} else {
			if (b->nargs == GL_LAUNCH_ARGS_MAX)
				return -EFBIG;
			err = parse_arg(w, &b->args[b->nargs]);
			if (err)
				return err;
			b->nargs++;
		}
	}
	return have_grid ? 0 : -EINVAL;
}

/* The fields of a checked @b that a launch uses, into @d. */
static void desc_from_binary(struct launch_desc *d,
			     const struct gl_launch_desc *b)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->kernel, b->kernel);
	memcpy(d->grid, b->grid, sizeof(d->grid));
	memcpy(d->block, b->block, sizeof(d->block));
	memcpy(d->args, b->args, b->nargs * sizeof(b->args[0]));
	d->timeout_ms = b->timeout_ms;
	d->user_data = b->user_data;
	d->nargs = b->nargs;
}

int launch_parse_text(const char *data, size_t len, struct launch_desc *d)
{
	struct gl_launch_desc b;
	int err;

	err = launch_text_encode(data, len, &b);
	if (err)
		return err;
	desc_from_binary(d, &b);
	return 0;
}

static int check_binary_arg(const struct gl_launch_arg *a)
{
	if (a->reserved || a->type > GL_ARG_IO)
		return -EINVAL;
	switch (a->type) {
	case GL_ARG_BUF:
	case GL_ARG_IO:
		return 0;
	case GL_ARG_U32:
	case GL_ARG_F32:
		return (a->len || a->value > UINT32_MAX) ? -EINVAL : 0;
	case GL_ARG_I32:
		if (a->len || (int64_t)a->value < INT32_MIN ||
		    (int64_t)a->value > INT32_MAX)
			return -EINVAL;
		return 0;
	default:
		return a->len ? -EINVAL : 0;
	}
}

int launch_parse_binary(const void *data, size_t len, struct launch_desc *d)
{
	struct gl_launch_desc b;
	uint32_t i;
	int err;

	if (len > sizeof(b))
		return -EFBIG;
	if (len < GL_LAUNCH_DESC_SIZE(0))
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	memcpy(&b, data, len);
	if (b.magic != GL_LAUNCH_MAGIC || b.version != GL_LAUNCH_VERSION ||
	    b.flags || b.reserved[0] || b.reserved[1])
		return -EINVAL;
	if (b.nargs > GL_LAUNCH_ARGS_MAX)
		return -EFBIG;
	if (len != GL_LAUNCH_DESC_SIZE(b.nargs))
		return -EINVAL;
	if (!memchr(b.kernel, '\0', sizeof(b.kernel)) || !b.kernel[0])
		return -EINVAL;
	for (i = 0; i < 3; i++)
		if (!b.grid[i] || !b.block[i])
			return -EINVAL;
	for (i = 0; i < b.nargs; i++) {
		err = check_binary_arg(&b.args[i]);
		if (err)
			return err;
	}
	desc_from_binary(d, &b);
	return 0;
}

int launch_parse(const void *data, size_t len, struct launch_desc *d)
{
	uint32_t magic;

	if (len >= sizeof(magic)) {
		memcpy(&magic, data, sizeof(magic));
		if (magic == GL_LAUNCH_MAGIC)
			return launch_parse_binary(data, len, d);
	}
	return launch_parse_text(data, len, d);
}
