/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for tokenizer.json: the input is a tokenizer.json, a
 * NUL byte and a text. Any bytes parse or fail with -EINVAL (nothing
 * allocated left behind); a parsed tokenizer encodes the text (with and
 * without the special tokens) into ids that are all in the vocab, or fails
 * with -EINVAL, -EFBIG; the ids decode or fail with -EFBIG only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const struct tokj *t, const char *text, size_t len,
		unsigned int flags)
{
	uint32_t ids[512];
	char out[4096];
	ssize_t n, i, m;

	n = tokj_encode(t, text, len, flags, ids, 512);
	if (n < 0) {
		if (n != -EINVAL && n != -EFBIG)
			abort();
		return;
	}
	for (i = 0; i < n; i++)
		if (ids[i] >= t->vocab.n)
			abort();
	m = tokj_decode(t, ids, n, flags ? TOKJ_SKIP_SPECIAL : 0, out,
			sizeof(out));
	if (m < 0 && m != -EFBIG)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t jlen = nul ? (size_t)(nul - data) : size;
	const char *text = nul ? (const char *)nul + 1 : "";
	size_t tlen = nul ? size - jlen - 1 : 0;
	char why[160];
	struct tokj t;
	int err;

	err = tokj_parse(data, jlen, &t, why, sizeof(why));
	if (err) {
		if (err != -EINVAL || t.vocab.bytes || t.merge_key)
			abort();
		return 0;
	}
	run(&t, text, tlen, 0);
	run(&t, text, tlen, TOKJ_ADD_SPECIAL);
	run(&t, text, tlen, TOKJ_TEXT_SPECIAL);
	tokj_free(&t);
	return 0;
}
