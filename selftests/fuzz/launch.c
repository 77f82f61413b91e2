/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for both launch descriptor parsers: any bytes must
 * give 0 or -EINVAL/-EFBIG, and a success must leave a descriptor whose
 * fields are inside the limits uapi/launch.h promises.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct launch_desc d;

	check(launch_parse(data, size, &d), &d);
	check(launch_parse_text((const char *)data, size, &d), &d);
	check(launch_parse_binary(data, size, &d), &d);
	return 0;
}
