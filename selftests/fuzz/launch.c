/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for both launch descriptor parsers: any bytes must
 * give 0 or -EINVAL/-EFBIG, and a success must leave a descriptor whose
 * fields are inside the limits uapi/launch.h promises. A text line that
 * parses must also encode into a binary descriptor the binary parser
 * takes (block filled in as gpulease run does), so a launch means the
 * same through submit and through a ring.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/launch-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int err, const struct launch_desc *d)
{
	uint32_t i;

	if (err) {
		if (err != -EINVAL && err != -EFBIG)
			abort();
		return;
	}
	if (!memchr(d->kernel, '\0', sizeof(d->kernel)) || !d->kernel[0])
		abort();
	if (d->nargs > GL_LAUNCH_ARGS_MAX)
		abort();
	for (i = 0; i < 3; i++)
		if (!d->grid[i])
			abort();
	for (i = 0; i < d->nargs; i++)
		if (d->args[i].type > GL_ARG_IO || d->args[i].reserved)
			abort();
}

/* The binary form of a text line the text parser took round-trips. */
static void check_encode(const uint8_t *data, size_t size, int text_err)
{
	struct gl_launch_desc b;
	struct launch_desc d;
	int err;

	err = launch_text_encode((const char *)data, size, &b);
	if (err != text_err)
		abort();
	if (err)
		return;
	if (!b.block[0])
		b.block[0] = b.block[1] = b.block[2] = 1;
	if (launch_parse_binary(&b, GL_LAUNCH_DESC_SIZE(b.nargs), &d))
		abort();
	if (strcmp(d.kernel, b.kernel) || d.nargs != b.nargs)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct launch_desc d;
	int err;

	check(launch_parse(data, size, &d), &d);
	err = launch_parse_text((const char *)data, size, &d);
	check(err, &d);
	check_encode(data, size, err);
	check(launch_parse_binary(data, size, &d), &d);
	return 0;
}
