/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for a language model's request (daemon/model-ask.c),
 * both forms. The input's first byte picks the model: max_ctx 1 .. 32,
 * with the fs fixtures' 96-token tokenizer.bin or none; the rest is the
 * request. Any bytes parse or fail with an errno model_ask_parse()
 * documents, a reason and no ids kept; a parsed request is in range:
 * 1 .. max_ctx - 1 ids, each in the vocabulary, max_tokens 1 .. the
 * positions left, temperature 0 .. 100, top_p in (0, 1], at most 4 stop
 * strings of 1 .. 64 bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VOCAB	96

/* <unk> <s> </s>, then one token per byte 0x20 .. 0x7c, as the fixture's
 * write_checkpoints.py writes it. */
static int load_tokenizer(struct tokenizer *tk)
{
	unsigned char buf[4 + VOCAB * (8 + 5)], *p = buf;
	static const char *const special[] = { "<unk>", "<s>", "</s>" };
	int32_t max = 5, len;
	float score = 0.0f;
	char why[128];
	unsigned i;

	memcpy(p, &max, 4);
	p += 4;
	for (i = 0; i < VOCAB; i++) {
		char c = (char)(0x1d + i);
		const char *s = i < 3 ? special[i] : &c;

		len = i < 3 ? (int32_t)strlen(s) : 1;
		score = -(float)i;
		memcpy(p, &score, 4);
		memcpy(p + 4, &len, 4);
		memcpy(p + 8, s, (size_t)len);
		p += 8 + len;
	}
	return tokenizer_load_bin(tk, buf, (size_t)(p - buf), VOCAB, why,
				  sizeof(why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model with, without;
	static bool ready;
	const struct model *m;
	const char *why = NULL;
	struct model_ask a;
	uint32_t i;
	int err;

	if (!ready) {
		if (load_tokenizer(&with.tok))
			abort();
		ready = true;
	}
	if (!size)
		return 0;
	m = data[0] & 0x20 ? &with : &without;
	with.plan.max_ctx = without.plan.max_ctx = 1 + (data[0] & 0x1f);
	with.plan.cfg.vocab_size = without.plan.cfg.vocab_size = VOCAB;
	err = model_ask_parse(m, (const char *)data + 1, size - 1, &a, &why);
	if (err) {
		if (!why || a.ids || (err != -EINVAL && err != -EFBIG &&
				      err != -EOPNOTSUPP && err != -ENOMEM))
			abort();
		return 0;
	}
	if (!a.ids || !a.n_ids || a.n_ids >= m->plan.max_ctx ||
	    !a.max_tokens || a.max_tokens > m->plan.max_ctx - a.n_ids ||
	    !(a.sp.temperature >= 0.0f && a.sp.temperature <= 100.0f) ||
	    !(a.sp.top_p > 0.0f && a.sp.top_p <= 1.0f))
		abort();
	for (i = 0; i < a.n_ids; i++)
		if (a.ids[i] >= VOCAB)
			abort();
	if (a.stops.n > STOPSTR_MAX)
		abort();
	for (i = 0; i < a.stops.n; i++)
		if (!a.stops.one[i].len || a.stops.one[i].len > STOPSTR_LEN)
			abort();
	free(a.ids);
	return 0;
}
