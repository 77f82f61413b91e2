/* SPDX-License-Identifier: MIT */
/*
 * Loading a Llama's weights into its plan's block: llama2.c checkpoints
 * (f32, copied) and Hugging Face safetensors (F32 copied, F16 and BF16
 * converted), each tensor into the plan's region for it.
 *
 * Invariant: nothing is written outside the plan's weight regions and
 * nothing is read outside the file's bytes: every source span is checked
 * against the file's length and every tensor's size against the plan's
 * before a byte moves.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "daemon/model/llama.h"
#include "daemon/model/tensor.h"

/* span_ok - @off + @n bytes lie inside @len */
static bool span_ok(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

int llama_load_l2c(const struct llama_plan *p, const struct l2c_file *f,
		   const void *buf, size_t len, void *base)
{
	const struct l2c_config *fc = &f->cfg;
	const struct llama_config *c = &p->cfg;
	int t;

	if (fc->dim != c->dim || fc->hidden_dim != c->hidden_dim ||
	    fc->n_layers != c->n_layers || fc->n_heads != c->n_heads ||
	    fc->n_kv_heads != c->n_kv_heads ||
	    fc->vocab_size != c->vocab_size ||
	    fc->shared_classifier != c->shared_classifier)
		return -EINVAL;
	for (t = 0; t < L2C_NTENSORS; t++) {
		if (t == L2C_WCLS && c->shared_classifier)
			continue;
		if (f->t[t].len != p->w_len[t] ||
		    !span_ok(f->t[t].off, f->t[t].len, len))
			return -EINVAL;
	}
	for (t = 0; t < L2C_NTENSORS; t++) {
		if (t == L2C_WCLS && c->shared_classifier)
			continue;
		memcpy((char *)base + p->w[t],
		       (const char *)buf + f->t[t].off, f->t[t].len);
	}
	return 0;
}

/* Each layer tensor of a map and the weight it loads into. */
static const struct {
	size_t field;		/* offsetof(struct hf_llama_layer, ...) */
	enum l2c_tensor t;
} hf_layer_tensors[] = {
	{ offsetof(struct hf_llama_layer, attn_norm), L2C_RMS_ATT },
	{ offsetof(struct hf_llama_layer, q), L2C_WQ },
	{ offsetof(struct hf_llama_layer, k), L2C_WK },
	{ offsetof(struct hf_llama_layer, v), L2C_WV },
	{ offsetof(struct hf_llama_layer, o), L2C_WO },
	{ offsetof(struct hf_llama_layer, ffn_norm), L2C_RMS_FFN },
	{ offsetof(struct hf_llama_layer, gate), L2C_W1 },
	{ offsetof(struct hf_llama_layer, down), L2C_W2 },
	{ offsetof(struct hf_llama_layer, up), L2C_W3 },
};

/*
 * hf_one - check tensor @src against weight @t's layer @layer, and when
 * @write convert it into its region. Returns 0 or -EINVAL.
 */
static int hf_one(const struct llama_plan *p, const struct st_tensor *src,
		  enum l2c_tensor t, uint32_t layer, const void *buf,
		  size_t len, void *base, bool write)
{
	uint64_t layers = t == L2C_TOKEN_EMBEDDING || t == L2C_RMS_FINAL ||
			  t == L2C_WCLS ? 1 : p->cfg.n_layers;
	uint64_t per = p->w_len[t] / layers;
	float *dst;

	if (layer >= layers)
		return -EINVAL;
	if (!write)
		return tensor_f32_check(src, len, per / 4);
	dst = (float *)((char *)base + p->w[t] + per * layer);
	return tensor_f32(src, buf, len, dst, per / 4);
}

/* hf_all - hf_one() over every tensor of @m */
static int hf_all(const struct llama_plan *p, const struct hf_llama_map *m,
		  const void *buf, size_t len, void *base, bool write)
{
	const struct st_tensor *src;
	uint32_t l;
	size_t i;
	int err;

	err = hf_one(p, m->embed, L2C_TOKEN_EMBEDDING, 0, buf, len, base,
		     write);
	if (!err)
		err = hf_one(p, m->norm, L2C_RMS_FINAL, 0, buf, len, base,
			     write);
	if (!err && !p->cfg.shared_classifier)
		err = hf_one(p, m->lm_head, L2C_WCLS, 0, buf, len, base,
			     write);
	for (l = 0; !err && l < m->n_layers; l++) {
		for (i = 0; !err && i < sizeof(hf_layer_tensors) /
					sizeof(hf_layer_tensors[0]); i++) {
			memcpy(&src, (const char *)&m->layer[l] +
			       hf_layer_tensors[i].field, sizeof(src));
			err = hf_one(p, src, hf_layer_tensors[i].t, l, buf,
				     len, base, write);
		}
	}
	return err;
}

int llama_load_hf(const struct llama_plan *p, const struct hf_llama_map *m,
		  const void *buf, size_t len, void *base)
{
	int err;

	if (m->n_layers != p->cfg.n_layers ||
	    (m->lm_head == m->embed) != p->cfg.shared_classifier)
		return -EINVAL;
	/* check everything first: a failed load writes nothing */
	err = hf_all(p, m, buf, len, base, false);
	return err ? err : hf_all(p, m, buf, len, base, true);
}
