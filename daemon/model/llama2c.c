/* SPDX-License-Identifier: MIT */
/*
 * llama2.c checkpoint headers and the layout of their f32 tensors.
 *
 * Legacy files (run.c): 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means an untied
 * classifier), then token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1,
 * w2, w3, rms_final, freq_cis_real and freq_cis_imag (seq_len * head_size/2
 * floats each, skipped), and wcls when untied.
 *
 * Version 1 (export.py version1_export): uint32 magic "ak42", int32
 * version 1, the same 7 fields (vocab_size positive), a shared_classifier
 * byte, zeros to 256 bytes; then rms_att, rms_ffn, rms_final,
 * token_embedding, wq, wk, wv, wo, w1, w2, w3 and wcls when not shared.
 * No freq_cis.
 *
 * Invariant: every size is computed in uint64_t with overflow checks and
 * the sum must equal the file's length exactly, so every span returned lies
 * inside the buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "daemon/model/llama2c.h"
#include "daemon/model/why.h"

static const char *const names[L2C_NTENSORS] = {
	[L2C_TOKEN_EMBEDDING] = "token_embedding",
	[L2C_RMS_ATT] = "rms_att",
	[L2C_WQ] = "wq",
	[L2C_WK] = "wk",
	[L2C_WV] = "wv",
	[L2C_WO] = "wo",
	[L2C_RMS_FFN] = "rms_ffn",
	[L2C_W1] = "w1",
	[L2C_W2] = "w2",
	[L2C_W3] = "w3",
	[L2C_RMS_FINAL] = "rms_final",
	[L2C_WCLS] = "wcls",
};

const char *l2c_tensor_name(enum l2c_tensor t)
{
	if ((unsigned int)t >= L2C_NTENSORS)
		return NULL;
	return names[t];
}

static int32_t get_i32(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (int32_t)v;
}

/* a * b * c floats in bytes, or false on overflow */
static bool f32_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t *out)
{
	uint64_t n;

	if (__builtin_mul_overflow(a, b, &n) ||
	    __builtin_mul_overflow(n, c, &n) ||
	    __builtin_mul_overflow(n, (uint64_t)sizeof(float), out))
		return false;
	return true;
}

static const char *const field_names[7] = {
	"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
	"vocab_size", "seq_len",
};

static const int32_t field_max[7] = {
	L2C_MAX_DIM, L2C_MAX_HIDDEN, L2C_MAX_LAYERS, L2C_MAX_HEADS,
	L2C_MAX_HEADS, L2C_MAX_VOCAB, L2C_MAX_SEQ,
};

/* Fill @c from the 7 raw fields; vocab sign already folded by the caller */
static int check_config(const int32_t *f, struct l2c_config *c,
			char *why, size_t whylen)
{
	int i;

	for (i = 0; i < 7; i++) {
		if (f[i] <= 0)
			return model_why(why, whylen, -EINVAL,
					 "%s %d is not positive",
					 field_names[i], f[i]);
		if (f[i] > field_max[i])
			return model_why(why, whylen, -EINVAL,
					 "%s %d is over %d", field_names[i],
					 f[i], field_max[i]);
	}
	c->dim = f[0];
	c->hidden_dim = f[1];
	c->n_layers = f[2];
	c->n_heads = f[3];
	c->n_kv_heads = f[4];
	c->vocab_size = f[5];
	c->seq_len = f[6];
	if (c->dim % c->n_heads)
		return model_why(why, whylen, -EINVAL,
				 "n_heads %u does not divide dim %u",
				 c->n_heads, c->dim);
	if (c->n_heads % c->n_kv_heads)
		return model_why(why, whylen, -EINVAL,
				 "n_kv_heads %u does not divide n_heads %u",
				 c->n_kv_heads, c->n_heads);
	c->head_size = c->dim / c->n_heads;
	if (c->head_size % 2)
		return model_why(why, whylen, -EINVAL,
				 "head size %u is odd (RoPE needs pairs)",
				 c->head_size);
	return 0;
}

/* Lay @order's tensors out from @pos; false on overflow */
static bool place(struct l2c_file *f, const enum l2c_tensor *order, int n,
		  const uint64_t *bytes, uint64_t *pos)
{
	int i;

	for (i = 0; i < n; i++) {
		f->t[order[i]].off = *pos;
		f->t[order[i]].len = bytes[order[i]];
		if (__builtin_add_overflow(*pos, bytes[order[i]], pos))
			return false;
	}
	return true;
}

static const enum l2c_tensor legacy_order[] = {
	L2C_TOKEN_EMBEDDING, L2C_RMS_ATT, L2C_WQ, L2C_WK, L2C_WV, L2C_WO,
	L2C_RMS_FFN, L2C_W1, L2C_W2, L2C_W3, L2C_RMS_FINAL,
};

static const enum l2c_tensor v1_order[] = {
	L2C_RMS_ATT, L2C_RMS_FFN, L2C_RMS_FINAL, L2C_TOKEN_EMBEDDING,
	L2C_WQ, L2C_WK, L2C_WV, L2C_WO, L2C_W1, L2C_W2, L2C_W3,
};

#define NORDER (int)(sizeof(legacy_order) / sizeof(legacy_order[0]))

int l2c_parse(const void *buf, size_t len, struct l2c_file *out,
	      char *why, size_t whylen)
{
	const unsigned char *p = buf;
	struct l2c_config *c = &out->cfg;
	uint64_t bytes[L2C_NTENSORS], kv_dim, pos, skip;
	int32_t f[7];
	int i, err;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (len < 4)
		return model_why(why, whylen, -EINVAL,
				 "file of %zu bytes has no header", len);
	if ((uint32_t)get_i32(p) == L2C_MAGIC) {
		if (len < L2C_V1_HEADER)
			return model_why(why, whylen, -EINVAL,
					 "ak42 header cut at %zu of %d bytes",
					 len, L2C_V1_HEADER);
		if (get_i32(p + 4) != 1)
			return model_why(why, whylen, -EINVAL,
					 "ak42 version %d is not 1 (f32)",
					 get_i32(p + 4));
		for (i = 0; i < 7; i++)
			f[i] = get_i32(p + 8 + 4 * i);
		if (p[36] > 1)
			return model_why(why, whylen, -EINVAL,
					 "shared_classifier byte %u is not 0 or 1",
					 p[36]);
		c->shared_classifier = p[36];
		c->version = 1;
		pos = L2C_V1_HEADER;
	} else {
		if (len < L2C_LEGACY_HEADER)
			return model_why(why, whylen, -EINVAL,
					 "header cut at %zu of %d bytes",
					 len, L2C_LEGACY_HEADER);
		for (i = 0; i < 7; i++)
			f[i] = get_i32(p + 4 * i);
		/* a negative vocab_size marks the untied classifier */
		c->shared_classifier = f[5] > 0;
		if (f[5] < 0 && f[5] != INT32_MIN)
			f[5] = -f[5];
		c->version = 0;
		pos = L2C_LEGACY_HEADER;
	}
	err = check_config(f, c, why, whylen);
	if (err)
		return err;

	/* bounded fields make overflow impossible today; check anyway */
	kv_dim = (uint64_t)c->n_kv_heads * c->head_size;
	ok = f32_bytes(c->vocab_size, c->dim, 1, &bytes[L2C_TOKEN_EMBEDDING]) &&
	     f32_bytes(c->n_layers, c->dim, 1, &bytes[L2C_RMS_ATT]) &&
	     f32_bytes(c->n_layers, c->dim, c->dim, &bytes[L2C_WQ]) &&
	     f32_bytes(c->n_layers, kv_dim, c->dim, &bytes[L2C_WK]) &&
	     f32_bytes(c->n_layers, kv_dim, c->dim, &bytes[L2C_WV]) &&
	     f32_bytes(c->n_layers, c->dim, c->dim, &bytes[L2C_WO]) &&
	     f32_bytes(c->n_layers, c->dim, 1, &bytes[L2C_RMS_FFN]) &&
	     f32_bytes(c->n_layers, c->hidden_dim, c->dim, &bytes[L2C_W1]) &&
	     f32_bytes(c->n_layers, c->dim, c->hidden_dim, &bytes[L2C_W2]) &&
	     f32_bytes(c->n_layers, c->hidden_dim, c->dim, &bytes[L2C_W3]) &&
	     f32_bytes(c->dim, 1, 1, &bytes[L2C_RMS_FINAL]) &&
	     f32_bytes(c->vocab_size, c->dim, 1, &bytes[L2C_WCLS]) &&
	     place(out, c->version ? v1_order : legacy_order, NORDER, bytes,
		   &pos);
	if (ok && !c->version) {
		/* freq_cis_real and freq_cis_imag, unused (RoPE is computed) */
		ok = f32_bytes(c->seq_len, c->head_size / 2, 2, &skip) &&
		     !__builtin_add_overflow(pos, skip, &pos);
	}
	if (ok && c->shared_classifier)
		out->t[L2C_WCLS] = out->t[L2C_TOKEN_EMBEDDING];
	else if (ok)
		ok = place(out, (const enum l2c_tensor[]){ L2C_WCLS }, 1,
			   bytes, &pos);
	if (!ok)
		return model_why(why, whylen, -EINVAL,
				 "tensor sizes overflow 64 bits");
	if (pos != len)
		return model_why(why, whylen, -EINVAL,
				 "header claims %llu bytes, file has %zu",
				 (unsigned long long)pos, len);
	return 0;
}
