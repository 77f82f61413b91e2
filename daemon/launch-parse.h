/* SPDX-License-Identifier: MIT */
/*
 * Launch descriptors: the text line and the binary struct of
 * uapi/launch.h, both parsed into one struct launch_desc. Pure functions,
 * no lease or kernel knowledge: bounds and signatures are checked later.
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

int launch_parse_text(const char *data, size_t len, struct launch_desc *d);
int launch_parse_binary(const void *data, size_t len, struct launch_desc *d);

#endif
