/* SPDX-License-Identifier: MIT */
/*
 * Hugging Face model directories: config.json for LlamaForCausalLM and for
 * gpulease's own "gpulease-mlp" (Documentation/models.md, "File formats"),
 * and the mapping from a safetensors table's tensor names onto the layers
 * the config describes, with every shape checked. Pure functions.
 */
#ifndef GL_MODEL_HFCONFIG_H
#define GL_MODEL_HFCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/model/safetensors.h"

#define HF_MAX_HIDDEN		65536
#define HF_MAX_INTERMEDIATE	(1 << 20)
#define HF_MAX_HEADS		1024
#define HF_MAX_LAYERS		1024
#define HF_MAX_VOCAB		(1 << 24)
#define HF_MAX_POS		(1 << 24)
#define HF_MLP_MAX_LAYERS	64
#define HF_MLP_MAX_WIDTH	(1 << 20)

enum hf_arch {
	HF_LLAMA,		/* "LlamaForCausalLM" */
	HF_MLP,			/* "gpulease-mlp" */
};

enum hf_act {
	HF_ACT_NONE,
	HF_ACT_RELU,
	HF_ACT_GELU,		/* exact (erf) form */
	HF_ACT_TANH,
	HF_ACT_SIGMOID,
};

struct hf_llama_config {
	uint32_t hidden_size;
	uint32_t intermediate_size;
	uint32_t n_heads;		/* num_attention_heads */
	uint32_t n_kv_heads;		/* num_key_value_heads (n_heads) */
	uint32_t n_layers;		/* num_hidden_layers */
	uint32_t vocab_size;
	uint32_t max_pos;		/* max_position_embeddings (2048) */
	uint32_t head_dim;		/* hidden_size / n_heads, even */
	double rms_norm_eps;		/* default 1e-6 */
	double rope_theta;		/* default 10000 */
	bool tie_word_embeddings;	/* default false */
};

struct hf_mlp_layer {
	uint32_t in;
	uint32_t out;
	enum hf_act act;
};

struct hf_mlp_config {
	int n_layers;
	struct hf_mlp_layer layer[HF_MLP_MAX_LAYERS];
};

struct hf_config {
	enum hf_arch arch;
	union {
		struct hf_llama_config llama;
		struct hf_mlp_config mlp;
	};
};

/*
 * hf_config_parse - parse config.json in @buf (@len bytes). Returns 0,
 * -ENOTSUP for a well-formed config this service cannot run (another
 * architecture, rope_scaling, a hidden_act other than silu, attention or
 * mlp biases, a head_dim other than hidden_size / num_attention_heads), or
 * -EINVAL with a reason in @why for bad JSON, missing or mistyped keys,
 * zero or absurd sizes, heads that do not divide hidden_size, kv heads
 * that do not divide heads, mlp layers that do not chain.
 */
int hf_config_parse(const void *buf, size_t len, struct hf_config *out,
		    char *why, size_t whylen);

/* One decoder layer's tensors; shapes are PyTorch's [out, in]. */
struct hf_llama_layer {
	const struct st_tensor *attn_norm;	/* input_layernorm [h] */
	const struct st_tensor *q;		/* [heads*hd, h], permuted */
	const struct st_tensor *k;		/* [kv*hd, h], HF-permuted */
	const struct st_tensor *v;		/* [kv*hd, h] */
	const struct st_tensor *o;		/* [h, heads*hd] */
	const struct st_tensor *ffn_norm;	/* post_attention_layernorm */
	const struct st_tensor *gate;		/* [i, h] (llama2.c w1) */
	const struct st_tensor *up;		/* [i, h] (llama2.c w3) */
	const struct st_tensor *down;		/* [h, i] (llama2.c w2) */
};

struct hf_llama_map {
	const struct st_tensor *embed;		/* [vocab, h] */
	const struct st_tensor *norm;		/* [h] */
	const struct st_tensor *lm_head;	/* [vocab, h]; embed if tied */
	struct hf_llama_layer *layer;		/* n_layers of them */
	uint32_t n_layers;
};

/*
 * hf_llama_map - find every tensor @c needs in @f and check its shape.
 * Pointers point into @f's table, valid while @f is. Tensors the model
 * does not use are ignored. Returns 0, -ENOMEM, or -EINVAL with a reason
 * naming the tensor for one missing or of the wrong shape. The caller
 * frees a mapped @out with hf_llama_map_free().
 */
int hf_llama_map(const struct hf_llama_config *c, const struct st_file *f,
		 struct hf_llama_map *out, char *why, size_t whylen);

/* hf_llama_map_free - free @m's layer array. NULL-safe. */
void hf_llama_map_free(struct hf_llama_map *m);

struct hf_mlp_map {
	const struct st_tensor *weight[HF_MLP_MAX_LAYERS]; /* [out, in] */
	const struct st_tensor *bias[HF_MLP_MAX_LAYERS];   /* [out] */
};

/*
 * hf_mlp_map - find layers.N.weight and layers.N.bias for each layer of
 * @c in @f and check their shapes. Returns 0 or -EINVAL with a reason.
 * Allocates nothing.
 */
int hf_mlp_map(const struct hf_mlp_config *c, const struct st_file *f,
	       struct hf_mlp_map *out, char *why, size_t whylen);

#endif
