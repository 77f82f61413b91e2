/* SPDX-License-Identifier: MIT */
/*
 * Launch descriptors: the text line and the binary struct of
 * uapi/launch.h, both parsed into one struct launch_desc. Pure functions,
 * no lease or kernel knowledge: bounds and signatures are checked later.
 * A leaf of daemon/ that the gpulease command links too (see
 * launch-parse.c): it may include uapi/ and nothing from daemon/ or tools/.
 */
#ifndef GL_LAUNCH_PARSE_H
#define GL_LAUNCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "uapi/launch.h"

struct launch_desc {
	char kernel[GL_KERNEL_NAME_MAX];
	uint32_t grid[3];
	uint32_t block[3];	/* all 0: the kernel's default block */
	uint32_t timeout_ms;	/* 0: the daemon's default */
	uint64_t user_data;
	uint32_t nargs;
	struct gl_launch_arg args[GL_LAUNCH_ARGS_MAX];
};

/*
 * launch_parse - a binary descriptor when @data starts with
 * GL_LAUNCH_MAGIC, else a text line. Returns 0, -EINVAL (malformed),
 * -EFBIG (over GL_LAUNCH_TEXT_MAX bytes or GL_LAUNCH_ARGS_MAX args).
 */
int launch_parse(const void *data, size_t len, struct launch_desc *d);

/*
 * launch_text_encode - one text line (@len bytes, one trailing newline
 * allowed) as the binary descriptor @b: magic and version set, block[]
 * all 0 when the line names no block (the kernel's default, for the
 * caller to fill), timeout_ms 0 for the daemon's default. Returns 0,
 * -EINVAL (malformed: no grid, a bad key or value, an empty line, a NUL
 * byte, a second line) or -EFBIG (over GL_LAUNCH_TEXT_MAX bytes, more
 * than GL_LAUNCH_ARGS_MAX args). The daemon's text form and the gpulease
 * command's ring launches both go through here.
 */
int launch_text_encode(const char *data, size_t len, struct gl_launch_desc *b);

/* launch_parse_text - launch_text_encode into a launch_desc; same
 * returns. */
int launch_parse_text(const char *data, size_t len, struct launch_desc *d);

/* launch_parse_binary - a whole struct gl_launch_desc of @len bytes,
 * checked field by field. Returns 0, -EINVAL, -EFBIG. */
int launch_parse_binary(const void *data, size_t len, struct launch_desc *d);

#endif
