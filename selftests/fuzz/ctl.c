/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ctl line lexer: words, sizes, numbers and
 * names never read out of bounds and only ever fail with -EINVAL/-EFBIG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/parse.h"
#include "uapi/gpulease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmdline cl;
	const char *v;
	uint64_t u;
	int n, i;

	n = parse_cmdline(&cl, (const char *)data, size);
	if (n < 0) {
		if (n != -EINVAL && n != -EFBIG)
			abort();
		return 0;
	}
	if (n > PARSE_MAX_WORDS || size > GL_CTL_LINE_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (!cl.argv[i][0] || strchr(cl.argv[i], ' '))
			abort();
		if (!parse_size(cl.argv[i], &u) && parse_size(cl.argv[i], &u))
			abort();
		parse_u64(cl.argv[i], &u);
		if (!parse_name(cl.argv[i]) &&
		    strspn(cl.argv[i], GL_NAME_CHARS) != strlen(cl.argv[i]))
			abort();
		if (parse_key(cl.argv[i], "vram", &v) && v[-1] != '=')
			abort();
	}
	return 0;
}
