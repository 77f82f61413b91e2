/* SPDX-License-Identifier: MIT */
/*
 * llama-ckpt: write the seeded llama2.c checkpoint and its tokenizer
 * (llama-ckpt.h). The legacy layout is run.c's: the token embedding,
 * then each kind of layer tensor over all layers (rms_att, wq, wk, wv,
 * wo, rms_ffn, w1, w2, w3), rms_final, freq_cis (seq x head_size).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bench/llama-ckpt.h"

int llama_ckpt_make(const struct llama_ckpt *c, void **buf, size_t *len)
{
	uint64_t d = c->dim, h = c->hidden, l = c->layers, v = c->vocab;
	uint64_t kv, n, ffn, i;
	uint32_t s = 1;
	int32_t hdr[7];
	float *w;
	char *b;

	if (!d || !h || !l || !v || !c->seq || !c->heads || !c->kv_heads ||
	    d % c->heads || c->heads % c->kv_heads)
		return -EINVAL;
	kv = d / c->heads * c->kv_heads;
	/* rms_ffn's offset: past the embedding, rms_att, wq, wk, wv, wo */
	ffn = v * d + l * d + l * (2 * d * d + 2 * kv * d);
	n = ffn + l * d + l * 3 * h * d + d + (uint64_t)c->seq * (d / c->heads);
	b = malloc(sizeof(hdr) + n * 4);
	if (!b)
		return -ENOMEM;
	hdr[0] = (int32_t)c->dim;
	hdr[1] = (int32_t)c->hidden;
	hdr[2] = (int32_t)c->layers;
	hdr[3] = (int32_t)c->heads;
	hdr[4] = (int32_t)c->kv_heads;
	hdr[5] = (int32_t)c->vocab;
	hdr[6] = (int32_t)c->seq;
	memcpy(b, hdr, sizeof(hdr));
	w = (float *)(b + sizeof(hdr));
	for (i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		w[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
	}
	for (i = 0; i < l * d; i++)
		w[v * d + i] = w[ffn + i] = 1.0f;
	for (i = 0; i < d; i++)		/* rms_final */
		w[ffn + l * d + l * 3 * h * d + i] = 1.0f;
	memset(w + ffn + l * d + l * 3 * h * d + d, 0,
	       (size_t)c->seq * (d / c->heads) * 4);
	*buf = b;
	*len = sizeof(hdr) + n * 4;
	return 0;
}

/* one token: f32 score, i32 length, its bytes */
static int put_token(FILE *f, const char *t, float score)
{
	int32_t n = (int32_t)strlen(t);

	return fwrite(&score, 4, 1, f) != 1 || fwrite(&n, 4, 1, f) != 1 ||
	       fwrite(t, 1, (size_t)n, f) != (size_t)n;
}

int llama_ckpt_tokenizer(uint32_t vocab, const char *path)
{
	static const char *const special[] = { "<unk>", "\n<s>\n",
					       "\n</s>\n" };
	int32_t max_len = 16;
	char t[16];
	uint32_t i;
	FILE *f;
	int bad;

	if (vocab < 3 + 26)
		return -EINVAL;
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	bad = fwrite(&max_len, 4, 1, f) != 1;
	for (i = 0; !bad && i < vocab; i++) {
		if (i < 3)
			snprintf(t, sizeof(t), "%s", special[i]);
		else if (i < 3 + 26)
			snprintf(t, sizeof(t), "%c", 'a' + (int)(i - 3));
		else
			snprintf(t, sizeof(t), "t%u", i);
		bad = put_token(f, t, -(float)i);
	}
	if (fclose(f) || bad)
		return -EIO;
	return 0;
}
