/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tokenizer.bin parser: any bytes parse or fail
 * with -EINVAL; a file that parses with "as many as it holds" parses with
 * exactly that count and fails with one more or one fewer; every token's
 * bytes lie inside the file. A count taken from the input's last byte
 * parses or fails the same way. A parsed table's coder encodes and
 * decodes without fault.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "daemon/model/tokbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A coder for @t encodes the file's first bytes (as text, when UTF-8)
 * into ids in range, each of which decodes, or fails with -EINVAL only.
 */
static void code(const struct tok_table *t, const uint8_t *data, size_t size)
{
	char *out = malloc(t->max_token_length);	/* the longest token */
	uint32_t ids[64];
	struct tok_coder c;
	ssize_t n, i;
	int err;

	if (!out)
		return;

	err = tok_coder_init(&c, t, data);
	if (err && err != -EINVAL)
		abort();
	n = err ? 0 : tok_encode(&c, (const char *)data, size < 48 ? size : 48,
				 true, true, ids, 64);
	if (n < 0 && n != -EINVAL)
		abort();
	for (i = 0; i < n; i++)
		if (ids[i] >= t->n ||
		    tok_decode(&c, i ? ids[i - 1] : 0, ids[i], out,
			       t->max_token_length) < 0)
			abort();
	tok_coder_free(&c);
	free(out);
}

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
	code(&t, data, size);
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
