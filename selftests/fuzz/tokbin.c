/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tokenizer.bin parser: any bytes parse or fail
 * with -EINVAL; a file that parses with "as many as it holds" parses with
 * exactly that count and fails with one more or one fewer; every token's
 * bytes lie inside the file. A count taken from the input's last byte
 * parses or fails the same way.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "daemon/model/tokbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tok_table t, u;
	char why[128];
	volatile uint8_t sink;
	uint32_t i;
	int err;

	/* a count from the input itself: claims that the file may not hold */
	if (size) {
		err = tok_parse(data, size, data[size - 1] % 16 + 1, &u, why,
				sizeof(why));
		if (err && (err != -EINVAL || u.tok))
			abort();
		tok_free(&u);
	}
	err = tok_parse(data, size, 0, &t, why, sizeof(why));
	if (err) {
		if (err != -EINVAL || t.tok)
			abort();
		return 0;
	}
	for (i = 0; i < t.n; i++) {
		if (t.tok[i].off > size || t.tok[i].len > size - t.tok[i].off ||
		    t.tok[i].len > t.max_token_length ||
		    !isfinite(t.tok[i].score))
			abort();
		if (t.tok[i].len)	/* ASan: the last byte is inside */
			sink = data[t.tok[i].off + t.tok[i].len - 1];
	}
	if (tok_parse(data, size, t.n, &u, why, sizeof(why)) || u.n != t.n)
		abort();
	tok_free(&u);
	if (tok_parse(data, size, t.n + 1, &u, why, sizeof(why)) != -EINVAL)
		abort();
	if (t.n > 1 &&
	    tok_parse(data, size, t.n - 1, &u, why, sizeof(why)) != -EINVAL)
		abort();
	tok_free(&t);
	(void)sink;
	return 0;
}
