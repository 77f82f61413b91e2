/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for tokenizer.json: the input is a tokenizer.json, a
 * NUL byte and a text. Any bytes parse or fail with -EINVAL (nothing
 * allocated left behind); a parsed tokenizer encodes the text (with and
 * without the special tokens) into ids that are all in the vocab, or fails
 * with -EINVAL, -EFBIG; the ids decode or fail with -EFBIG only, and
 * decoded one at a time (tokj_stream_feed) give the same text, or
 * -EFBIG when the whole decode is -EFBIG too or the bound is met early.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the ids one at a time: @want (@wlen bytes) or EFBIG (@want NULL too) */
static void stream(const struct tokj *t, const uint32_t *ids, ssize_t n,
		   const char *want, ssize_t wlen)
{
	struct tokj_stream st = { 0 };
	size_t len = 0, got;
	const char *p;
	ssize_t i;
	int err = 0;

	for (i = 0; i <= n && !err; i++) {
		err = tokj_stream_feed(t, &st, i < n ? ids[i] : TOKJ_END, &p,
				       &got);
		if (!err && want && (len + got > (size_t)wlen ||
				     memcmp(want + len, p, got)))
			abort();
		len += got;
	}
	if (err ? err != -EFBIG : !want || len != (size_t)wlen)
		abort();
	if (tokj_stream_feed(t, &st, 0, &p, &got) != (err ? err : -EINVAL))
		abort();	/* sticky, and nothing after the end */
	tokj_stream_free(&st);
}

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
	if (!flags)
		stream(t, ids, n, m < 0 ? NULL : out, m);
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
