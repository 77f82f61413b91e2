/* SPDX-License-Identifier: MIT */
/*
 * config.json through jansson, and HF tensor names onto layers. Invariant:
 * a parsed config's sizes are positive, bounded and consistent (heads
 * divide hidden_size, kv heads divide heads, mlp layers chain), so every
 * product the mapping forms fits in 64 bits.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/why.h"

/* @root's @key, NULL when absent or null (as HF writes unset keys) */
static const json_t *get(const json_t *root, const char *key)
{
	const json_t *v = json_object_get(root, key);

	return json_is_null(v) ? NULL : v;
}

/* @key as a count in [1, max]; @def when absent and @def != 0 */
static int get_count(const json_t *root, const char *key, uint32_t max,
		     uint32_t def, uint32_t *out, char *why, size_t whylen)
{
	const json_t *v = get(root, key);
	json_int_t i;

	if (!v && def) {
		*out = def;
		return 0;
	}
	if (!v)
		return model_why(why, whylen, -EINVAL, "%s is missing", key);
	if (!json_is_integer(v))
		return model_why(why, whylen, -EINVAL,
				 "%s is not an integer", key);
	i = json_integer_value(v);
	if (i < 1 || i > max)
		return model_why(why, whylen, -EINVAL,
				 "%s %lld is not in [1, %u]", key,
				 (long long)i, max);
	*out = i;
	return 0;
}

/* @key as a finite number in (0, max); @def when absent */
static int get_real(const json_t *root, const char *key, double max,
		    double def, double *out, char *why, size_t whylen)
{
	const json_t *v = get(root, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v))
		return model_why(why, whylen, -EINVAL,
				 "%s is not a number", key);
	*out = json_number_value(v);
	if (!isfinite(*out) || *out <= 0 || *out >= max)
		return model_why(why, whylen, -EINVAL,
				 "%s is not in (0, %g)", key, max);
	return 0;
}

/* @key absent, or a boolean: into @out (default @def) */
static int get_bool(const json_t *root, const char *key, bool def,
		    bool *out, char *why, size_t whylen)
{
	const json_t *v = get(root, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return model_why(why, whylen, -EINVAL,
				 "%s is not a boolean", key);
	*out = json_is_true(v);
	return 0;
}

static int parse_llama(const json_t *root, struct hf_llama_config *c,
		       char *why, size_t whylen)
{
	const json_t *v;
	bool b;
	int err;

	err = get_count(root, "hidden_size", HF_MAX_HIDDEN, 0,
			&c->hidden_size, why, whylen);
	err = err ?: get_count(root, "intermediate_size", HF_MAX_INTERMEDIATE,
			       0, &c->intermediate_size, why, whylen);
	err = err ?: get_count(root, "num_attention_heads", HF_MAX_HEADS, 0,
			       &c->n_heads, why, whylen);
	err = err ?: get_count(root, "num_key_value_heads", HF_MAX_HEADS,
			       c->n_heads, &c->n_kv_heads, why, whylen);
	err = err ?: get_count(root, "num_hidden_layers", HF_MAX_LAYERS, 0,
			       &c->n_layers, why, whylen);
	err = err ?: get_count(root, "vocab_size", HF_MAX_VOCAB, 0,
			       &c->vocab_size, why, whylen);
	err = err ?: get_count(root, "max_position_embeddings", HF_MAX_POS,
			       2048, &c->max_pos, why, whylen);
	err = err ?: get_real(root, "rms_norm_eps", 1, 1e-6, &c->rms_norm_eps,
			      why, whylen);
	err = err ?: get_real(root, "rope_theta", 1e12, 10000, &c->rope_theta,
			      why, whylen);
	err = err ?: get_bool(root, "tie_word_embeddings", false,
			      &c->tie_word_embeddings, why, whylen);
	if (err)
		return err;
	if (c->hidden_size % c->n_heads)
		return model_why(why, whylen, -EINVAL,
				 "num_attention_heads %u does not divide hidden_size %u",
				 c->n_heads, c->hidden_size);
	if (c->n_heads % c->n_kv_heads)
		return model_why(why, whylen, -EINVAL,
				 "num_key_value_heads %u does not divide num_attention_heads %u",
				 c->n_kv_heads, c->n_heads);
	c->head_dim = c->hidden_size / c->n_heads;
	if (c->head_dim % 2)
		return model_why(why, whylen, -EINVAL,
				 "head dim %u is odd (RoPE needs pairs)",
				 c->head_dim);

	/* well-formed, but not what this service computes */
	v = get(root, "head_dim");
	if (v && (!json_is_integer(v) || json_integer_value(v) != c->head_dim))
		return model_why(why, whylen, -ENOTSUP,
				 "head_dim is not hidden_size / num_attention_heads");
	v = get(root, "rope_scaling");
	if (v)
		return model_why(why, whylen, -ENOTSUP,
				 "rope_scaling is not supported");
	v = get(root, "hidden_act");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), "silu")))
		return model_why(why, whylen, -ENOTSUP,
				 "hidden_act is not silu");
	err = get_bool(root, "attention_bias", false, &b, why, whylen);
	if (!err && b)
		err = model_why(why, whylen, -ENOTSUP,
				"attention_bias is not supported");
	err = err ?: get_bool(root, "mlp_bias", false, &b, why, whylen);
	if (!err && b)
		err = model_why(why, whylen, -ENOTSUP,
				"mlp_bias is not supported");
	return err;
}

static const char *const act_names[] = {
	[HF_ACT_NONE] = "none",
	[HF_ACT_RELU] = "relu",
	[HF_ACT_GELU] = "gelu",
	[HF_ACT_TANH] = "tanh",
	[HF_ACT_SIGMOID] = "sigmoid",
};

static int parse_mlp(const json_t *root, struct hf_mlp_config *c,
		     char *why, size_t whylen)
{
	const json_t *layers = json_object_get(root, "layers"), *l, *a;
	size_t i, n;
	int err, k;

	if (!json_is_array(layers) || !json_array_size(layers))
		return model_why(why, whylen, -EINVAL,
				 "layers is not a non-empty array");
	n = json_array_size(layers);
	if (n > HF_MLP_MAX_LAYERS)
		return model_why(why, whylen, -EINVAL,
				 "%zu layers, at most %d", n,
				 HF_MLP_MAX_LAYERS);
	c->n_layers = n;
	for (i = 0; i < n; i++) {
		l = json_array_get(layers, i);
		if (!json_is_object(l))
			return model_why(why, whylen, -EINVAL,
					 "layers[%zu] is not an object", i);
		err = get_count(l, "in", HF_MLP_MAX_WIDTH, 0,
				&c->layer[i].in, why, whylen);
		err = err ?: get_count(l, "out", HF_MLP_MAX_WIDTH, 0,
				       &c->layer[i].out, why, whylen);
		if (err)
			return model_why(why, whylen, err,
					 "layers[%zu]: in and out must be counts in [1, %d]",
					 i, HF_MLP_MAX_WIDTH);
		a = json_object_get(l, "activation");
		if (!json_is_string(a))
			return model_why(why, whylen, -EINVAL,
					 "layers[%zu]: activation is not a string",
					 i);
		for (k = 0; k < (int)(sizeof(act_names) / sizeof(*act_names));
		     k++)
			if (!strcmp(json_string_value(a), act_names[k]))
				break;
		if (k == (int)(sizeof(act_names) / sizeof(*act_names)))
			return model_why(why, whylen, -EINVAL,
					 "layers[%zu]: unknown activation", i);
		c->layer[i].act = k;
		if (i && c->layer[i].in != c->layer[i - 1].out)
			return model_why(why, whylen, -EINVAL,
					 "layers[%zu].in %u is not layers[%zu].out %u",
					 i, c->layer[i].in, i - 1,
					 c->layer[i - 1].out);
	}
	return 0;
}

int hf_config_parse(const void *buf, size_t len, struct hf_config *out,
		    char *why, size_t whylen)
{
	const json_t *arch, *a;
	json_error_t jerr;
	json_t *root;
	int err;

	memset(out, 0, sizeof(*out));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return model_why(why, whylen, -EINVAL,
				 "config is not JSON (line %d column %d)",
				 jerr.line, jerr.column);
	if (!json_is_object(root)) {
		err = model_why(why, whylen, -EINVAL,
				"config is not a JSON object");
		goto out;
	}
	arch = json_object_get(root, "architectures");
	if (!json_is_array(arch) || json_array_size(arch) != 1 ||
	    !json_is_string(json_array_get(arch, 0))) {
		err = model_why(why, whylen, -EINVAL,
				"architectures is not an array of one string");
		goto out;
	}
	a = json_array_get(arch, 0);
	if (!strcmp(json_string_value(a), "LlamaForCausalLM")) {
		out->arch = HF_LLAMA;
		err = parse_llama(root, &out->llama, why, whylen);
	} else if (!strcmp(json_string_value(a), "gpulease-mlp")) {
		out->arch = HF_MLP;
		err = parse_mlp(root, &out->mlp, why, whylen);
	} else {
		err = model_why(why, whylen, -ENOTSUP,
				"architecture is not LlamaForCausalLM or gpulease-mlp");
	}
out:
	json_decref(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* @name must exist with exactly the shape @d0 (x @d1 when @nd == 2) */
static int need(const struct st_file *f, const char *name, int nd,
		uint64_t d0, uint64_t d1, const struct st_tensor **out,
		char *why, size_t whylen)
{
	const struct st_tensor *t = st_find(f, name);

	if (!t)
		return model_why(why, whylen, -EINVAL, "%s is missing", name);
	if (t->ndim != nd || t->shape[0] != d0 ||
	    (nd == 2 && t->shape[1] != d1)) {
		if (nd == 1)
			return model_why(why, whylen, -EINVAL,
					 "%s is not [%llu]", name,
					 (unsigned long long)d0);
		return model_why(why, whylen, -EINVAL,
				 "%s is not [%llu, %llu]", name,
				 (unsigned long long)d0,
				 (unsigned long long)d1);
	}
	*out = t;
	return 0;
}

int hf_llama_map(const struct hf_llama_config *c, const struct st_file *f,
		 struct hf_llama_map *out, char *why, size_t whylen)
{
	uint64_t h = c->hidden_size, in = c->intermediate_size;
	uint64_t q = (uint64_t)c->n_heads * c->head_dim;
	uint64_t kv = (uint64_t)c->n_kv_heads * c->head_dim;
	struct hf_llama_layer *l;
	char name[96];
	uint32_t i;
	int err;

	memset(out, 0, sizeof(*out));
	err = need(f, "model.embed_tokens.weight", 2, c->vocab_size, h,
		   &out->embed, why, whylen);
	err = err ?: need(f, "model.norm.weight", 1, h, 0, &out->norm, why,
			  whylen);
	if (err)
		return err;
	if (c->tie_word_embeddings)
		out->lm_head = out->embed;
	else
		err = need(f, "lm_head.weight", 2, c->vocab_size, h,
			   &out->lm_head, why, whylen);
	if (err)
		return err;
	out->layer = calloc(c->n_layers, sizeof(*out->layer));
	if (!out->layer)
		return -ENOMEM;
	out->n_layers = c->n_layers;
#define NEED(field, suffix, nd, d0, d1) do { \
		snprintf(name, sizeof(name), "model.layers.%u.%s", i, suffix); \
		err = need(f, name, nd, d0, d1, &l->field, why, whylen); \
		if (err) \
			goto fail; \
	} while (0)
	for (i = 0; i < c->n_layers; i++) {
		l = &out->layer[i];
		NEED(attn_norm, "input_layernorm.weight", 1, h, 0);
		NEED(q, "self_attn.q_proj.weight", 2, q, h);
		NEED(k, "self_attn.k_proj.weight", 2, kv, h);
		NEED(v, "self_attn.v_proj.weight", 2, kv, h);
		NEED(o, "self_attn.o_proj.weight", 2, h, q);
		NEED(ffn_norm, "post_attention_layernorm.weight", 1, h, 0);
		NEED(gate, "mlp.gate_proj.weight", 2, in, h);
		NEED(up, "mlp.up_proj.weight", 2, in, h);
		NEED(down, "mlp.down_proj.weight", 2, h, in);
	}
#undef NEED
	return 0;
fail:
	hf_llama_map_free(out);
	return err;
}

void hf_llama_map_free(struct hf_llama_map *m)
{
	if (!m)
		return;
	free(m->layer);
	memset(m, 0, sizeof(*m));
}

int hf_mlp_map(const struct hf_mlp_config *c, const struct st_file *f,
	       struct hf_mlp_map *out, char *why, size_t whylen)
{
	char name[48];
	int i, err;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < c->n_layers; i++) {
		snprintf(name, sizeof(name), "layers.%d.weight", i);
		err = need(f, name, 2, c->layer[i].out, c->layer[i].in,
			   &out->weight[i], why, whylen);
		if (err)
			return err;
		snprintf(name, sizeof(name), "layers.%d.bias", i);
		err = need(f, name, 1, c->layer[i].out, 0, &out->bias[i], why,
			   whylen);
		if (err)
			return err;
	}
	return 0;
}
