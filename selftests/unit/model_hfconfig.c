/* SPDX-License-Identifier: MIT */
/*
 * model_hfconfig.c - config.json for LlamaForCausalLM and gpulease-mlp
 * (defaults, every missing, mistyped, inconsistent or unsupported key), and
 * the mapping of HF tensor names onto layers with their shapes checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/hfconfig.h"
#include "selftests/harness.h"

static int cfg(struct hf_config *c, char *why, const char *json)
{
	return hf_config_parse(json, strlen(json), c, why, 160);
}

#define LLAMA "\"architectures\":[\"LlamaForCausalLM\"]"
#define BASE LLAMA ",\"hidden_size\":8,\"intermediate_size\":12," \
	"\"num_attention_heads\":2,\"num_hidden_layers\":2," \
	"\"vocab_size\":10"

TEST(llama_defaults)
{
	struct hf_config c;
	char why[160] = "";

	ASSERT_EQ(cfg(&c, why, "{" BASE "}"), 0) TH_LOG("%s", why);
	EXPECT_EQ(c.arch, HF_LLAMA);
	EXPECT_EQ(c.llama.hidden_size, 8u);
	EXPECT_EQ(c.llama.intermediate_size, 12u);
	EXPECT_EQ(c.llama.n_heads, 2u);
	EXPECT_EQ(c.llama.n_kv_heads, 2u);
	EXPECT_EQ(c.llama.n_layers, 2u);
	EXPECT_EQ(c.llama.vocab_size, 10u);
	EXPECT_EQ(c.llama.max_pos, 2048u);
	EXPECT_EQ(c.llama.head_dim, 4u);
	EXPECT_TRUE(c.llama.rms_norm_eps == 1e-6);
	EXPECT_TRUE(c.llama.rope_theta == 10000);
	EXPECT_FALSE(c.llama.tie_word_embeddings);

	/* null is how HF writes a key it leaves unset */
	ASSERT_EQ(cfg(&c, why, "{" BASE ",\"num_key_value_heads\":null,"
		      "\"rope_theta\":null,\"tie_word_embeddings\":null,"
		      "\"max_position_embeddings\":null,\"hidden_act\":null}"),
		  0) TH_LOG("%s", why);
	EXPECT_EQ(c.llama.n_kv_heads, 2u);
	EXPECT_TRUE(c.llama.rope_theta == 10000);
	EXPECT_EQ(c.llama.max_pos, 2048u);
	EXPECT_EQ(cfg(&c, why, "{" BASE ",\"hidden_size\":null}"), -EINVAL);
}

TEST(llama_explicit)
{
	struct hf_config c;
	char why[160] = "";

	ASSERT_EQ(cfg(&c, why, "{" BASE ",\"num_key_value_heads\":1,"
		      "\"rms_norm_eps\":1e-05,\"rope_theta\":500000,"
		      "\"max_position_embeddings\":256,"
		      "\"tie_word_embeddings\":true,\"hidden_act\":\"silu\","
		      "\"rope_scaling\":null,\"head_dim\":4,"
		      "\"attention_bias\":false,\"mlp_bias\":false,"
		      "\"torch_dtype\":\"bfloat16\",\"model_type\":\"llama\"}"),
		  0) TH_LOG("%s", why);
	EXPECT_EQ(c.llama.n_kv_heads, 1u);
	EXPECT_TRUE(c.llama.rms_norm_eps == 1e-5);
	EXPECT_TRUE(c.llama.rope_theta == 500000);
	EXPECT_EQ(c.llama.max_pos, 256u);
	EXPECT_TRUE(c.llama.tie_word_embeddings);
}

TEST(llama_bad_keys)
{
	static const char *const einval[] = {
		"",
		"{",
		"[]",
		"{" LLAMA ",\"intermediate_size\":12,\"num_attention_heads\":2,"
		"\"num_hidden_layers\":2,\"vocab_size\":10}",
		"{" BASE ",\"hidden_size\":8}",		/* duplicate */
		"{\"architectures\":\"LlamaForCausalLM\"}",
		"{\"architectures\":[]}",
		"{\"architectures\":[1]}",
		"{\"architectures\":[\"LlamaForCausalLM\",\"x\"]}",
		"{" LLAMA ",\"hidden_size\":\"8\",\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" LLAMA ",\"hidden_size\":8.0,\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" LLAMA ",\"hidden_size\":0,\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" LLAMA ",\"hidden_size\":-8,\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" LLAMA ",\"hidden_size\":131072,\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" LLAMA ",\"hidden_size\":8,\"intermediate_size\":12,"
		"\"num_attention_heads\":3,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",
		"{" BASE ",\"num_key_value_heads\":3}",
		"{" BASE ",\"num_key_value_heads\":0}",
		"{" LLAMA ",\"hidden_size\":6,\"intermediate_size\":12,"
		"\"num_attention_heads\":2,\"num_hidden_layers\":2,"
		"\"vocab_size\":10}",			/* head dim 3 */
		"{" BASE ",\"vocab_size\":16777217}",
		"{" BASE ",\"rms_norm_eps\":0}",
		"{" BASE ",\"rms_norm_eps\":-1e-5}",
		"{" BASE ",\"rms_norm_eps\":\"1e-5\"}",
		"{" BASE ",\"rope_theta\":0}",
		"{" BASE ",\"tie_word_embeddings\":1}",
		"{" BASE ",\"max_position_embeddings\":0}",
	};
	struct hf_config c;
	char why[160];
	size_t i;

	for (i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
		why[0] = '\0';
		EXPECT_EQ(cfg(&c, why, einval[i]), -EINVAL)
			TH_LOG("case %zu: %s", i, einval[i]);
	}
}

TEST(llama_unsupported)
{
	static const char *const enotsup[] = {
		"{\"architectures\":[\"MistralForCausalLM\"]}",
		"{" BASE ",\"rope_scaling\":{\"rope_type\":\"llama3\"}}",
		"{" BASE ",\"hidden_act\":\"gelu\"}",
		"{" BASE ",\"attention_bias\":true}",
		"{" BASE ",\"mlp_bias\":true}",
		"{" BASE ",\"head_dim\":8}",
	};
	struct hf_config c;
	char why[160];
	size_t i;

	for (i = 0; i < sizeof(enotsup) / sizeof(enotsup[0]); i++)
		EXPECT_EQ(cfg(&c, why, enotsup[i]), -ENOTSUP)
			TH_LOG("case %zu: %s", i, enotsup[i]);
	/* the reason names the key, never the file's value */
	EXPECT_EQ(cfg(&c, why, "{\"architectures\":[\"SecretArch\"]}"),
		  -ENOTSUP);
	EXPECT_EQ(strstr(why, "Secret"), NULL) TH_LOG("%s", why);
}

#define MLP "\"architectures\":[\"gpulease-mlp\"]"

TEST(mlp_config)
{
	struct hf_config c;
	char why[160] = "", json[4096];
	int i, n;

	ASSERT_EQ(cfg(&c, why, "{" MLP ",\"layers\":["
		      "{\"in\":64,\"out\":32,\"activation\":\"relu\"},"
		      "{\"in\":32,\"out\":16,\"activation\":\"gelu\"},"
		      "{\"in\":16,\"out\":16,\"activation\":\"tanh\"},"
		      "{\"in\":16,\"out\":8,\"activation\":\"sigmoid\"},"
		      "{\"in\":8,\"out\":10,\"activation\":\"none\"}]}"), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(c.arch, HF_MLP);
	EXPECT_EQ(c.mlp.n_layers, 5);
	EXPECT_EQ(c.mlp.layer[0].in, 64u);
	EXPECT_EQ(c.mlp.layer[0].act, HF_ACT_RELU);
	EXPECT_EQ(c.mlp.layer[1].act, HF_ACT_GELU);
	EXPECT_EQ(c.mlp.layer[2].act, HF_ACT_TANH);
	EXPECT_EQ(c.mlp.layer[3].act, HF_ACT_SIGMOID);
	EXPECT_EQ(c.mlp.layer[4].act, HF_ACT_NONE);
	EXPECT_EQ(c.mlp.layer[4].out, 10u);

	EXPECT_EQ(cfg(&c, why, "{" MLP "}"), -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[]}"), -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[1]}"), -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[{\"in\":2,\"out\":3,"
		      "\"activation\":\"swish\"}]}"), -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[{\"in\":2,\"out\":3}]}"),
		  -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[{\"in\":0,\"out\":3,"
		      "\"activation\":\"relu\"}]}"), -EINVAL);
	EXPECT_EQ(cfg(&c, why, "{" MLP ",\"layers\":[{\"in\":2,\"out\":3,"
		      "\"activation\":\"relu\"},{\"in\":4,\"out\":3,"
		      "\"activation\":\"relu\"}]}"), -EINVAL);
	EXPECT_NE(strstr(why, "layers[1].in"), NULL) TH_LOG("%s", why);
	/* 65 layers: one too many */
	n = snprintf(json, sizeof(json), "{" MLP ",\"layers\":[");
	for (i = 0; i < HF_MLP_MAX_LAYERS + 1; i++)
		n += snprintf(json + n, sizeof(json) - n,
			      "%s{\"in\":2,\"out\":2,\"activation\":\"relu\"}",
			      i ? "," : "");
	snprintf(json + n, sizeof(json) - n, "]}");
	EXPECT_EQ(cfg(&c, why, json), -EINVAL);
}

/*
 * A safetensors table of zero-filled F32 tensors, one "name:d0" or
 * "name:d0,d1" per argument, NULL-terminated. Returns st_parse's result.
 */
static int table(struct st_file *f, char *why, ...)
{
	char *json = malloc(1 << 16), *data;
	const char *spec, *colon;
	unsigned long d0, d1;
	size_t n, off = 0, hl, bytes;
	va_list ap;
	int err;

	n = sprintf(json, "{");
	va_start(ap, why);
	while ((spec = va_arg(ap, const char *))) {
		colon = strchr(spec, ':');
		d1 = 1;
		if (sscanf(colon + 1, "%lu,%lu", &d0, &d1) < 1)
			abort();
		bytes = 4 * d0 * d1;
		n += sprintf(json + n, "%s\"%.*s\":{\"dtype\":\"F32\","
			     "\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
			     off || n > 1 ? "," : "", (int)(colon - spec),
			     spec, colon + 1, off, off + bytes);
		off += bytes;
	}
	va_end(ap);
	n += sprintf(json + n, "}");
	hl = n;
	data = calloc(1, 8 + hl + off);
	memcpy(data, &hl, 8);
	memcpy(data + 8, json, hl);
	err = st_parse(data, 8 + hl + off, f, why, 160);
	free(json);
	free(data);
	return err;
}

#define LAYER(i) \
	"model.layers." #i ".input_layernorm.weight:8", \
	"model.layers." #i ".self_attn.q_proj.weight:8,8", \
	"model.layers." #i ".self_attn.k_proj.weight:4,8", \
	"model.layers." #i ".self_attn.v_proj.weight:4,8", \
	"model.layers." #i ".self_attn.o_proj.weight:8,8", \
	"model.layers." #i ".post_attention_layernorm.weight:8", \
	"model.layers." #i ".mlp.gate_proj.weight:12,8", \
	"model.layers." #i ".mlp.up_proj.weight:12,8", \
	"model.layers." #i ".mlp.down_proj.weight:8,12"

#define KV1 "{" BASE ",\"num_key_value_heads\":1}"

TEST(llama_map_untied)
{
	struct hf_llama_map m;
	struct hf_config c;
	struct st_file f;
	char why[160] = "";

	ASSERT_EQ(cfg(&c, why, KV1), 0) TH_LOG("%s", why);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8", "lm_head.weight:10,8",
			"model.layers.0.self_attn.rotary_emb.inv_freq:2",
			LAYER(0), LAYER(1), NULL), 0) TH_LOG("%s", why);
	ASSERT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(m.n_layers, 2u);
	EXPECT_STREQ(m.embed->name, "model.embed_tokens.weight");
	EXPECT_STREQ(m.lm_head->name, "lm_head.weight");
	EXPECT_STREQ(m.norm->name, "model.norm.weight");
	EXPECT_STREQ(m.layer[1].k->name, "model.layers.1.self_attn.k_proj.weight");
	EXPECT_STREQ(m.layer[0].gate->name, "model.layers.0.mlp.gate_proj.weight");
	EXPECT_STREQ(m.layer[0].down->name, "model.layers.0.mlp.down_proj.weight");
	hf_llama_map_free(&m);
	EXPECT_EQ(m.layer, NULL);

	/* untied needs lm_head */
	st_free(&f);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8", LAYER(0), LAYER(1), NULL), 0);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "lm_head.weight is missing");
	EXPECT_EQ(m.layer, NULL);
	st_free(&f);
}

TEST(llama_map_tied)
{
	struct hf_llama_map m;
	struct hf_config c;
	struct st_file f;
	char why[160] = "";

	ASSERT_EQ(cfg(&c, why, "{" BASE ",\"num_key_value_heads\":1,"
		      "\"tie_word_embeddings\":true}"), 0);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8", LAYER(0), LAYER(1), NULL), 0);
	ASSERT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(m.lm_head, m.embed);
	hf_llama_map_free(&m);
	st_free(&f);
}

TEST(llama_map_bad_shapes_and_missing)
{
	struct hf_llama_map m;
	struct hf_config c;
	struct st_file f;
	char why[160] = "";

	/* k_proj as if n_kv_heads were n_heads: the config says 1 */
	ASSERT_EQ(cfg(&c, why, KV1), 0);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8", "lm_head.weight:10,8", LAYER(0),
			"model.layers.1.input_layernorm.weight:8",
			"model.layers.1.self_attn.q_proj.weight:8,8",
			"model.layers.1.self_attn.k_proj.weight:8,8",
			NULL), 0) TH_LOG("%s", why);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "model.layers.1.self_attn.k_proj.weight is not [4, 8]");
	EXPECT_EQ(m.layer, NULL);
	st_free(&f);

	/* a layer the config counts but the file lacks */
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8", "lm_head.weight:10,8", LAYER(0),
			NULL), 0);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "model.layers.1.input_layernorm.weight is missing");
	st_free(&f);

	/* transposed embedding, 1-d where 2-d belongs, and the reverse */
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:8,10", NULL), 0);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	st_free(&f);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:80", NULL), 0);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	st_free(&f);
	ASSERT_EQ(table(&f, why, "model.embed_tokens.weight:10,8",
			"model.norm.weight:8,1", NULL), 0);
	EXPECT_EQ(hf_llama_map(&c.llama, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "model.norm.weight is not [8]");
	st_free(&f);
}

TEST(mlp_map)
{
	struct hf_mlp_map m;
	struct hf_config c;
	struct st_file f;
	char why[160] = "";

	ASSERT_EQ(cfg(&c, why, "{" MLP ",\"layers\":["
		      "{\"in\":6,\"out\":4,\"activation\":\"relu\"},"
		      "{\"in\":4,\"out\":3,\"activation\":\"none\"}]}"), 0);
	ASSERT_EQ(table(&f, why, "layers.0.weight:4,6", "layers.0.bias:4",
			"layers.1.weight:3,4", "layers.1.bias:3", NULL), 0);
	ASSERT_EQ(hf_mlp_map(&c.mlp, &f, &m, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_STREQ(m.weight[1]->name, "layers.1.weight");
	EXPECT_STREQ(m.bias[0]->name, "layers.0.bias");
	st_free(&f);
	ASSERT_EQ(table(&f, why, "layers.0.weight:4,6", "layers.0.bias:4",
			"layers.1.weight:3,4", NULL), 0);
	EXPECT_EQ(hf_mlp_map(&c.mlp, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "layers.1.bias is missing");
	st_free(&f);
	ASSERT_EQ(table(&f, why, "layers.0.weight:6,4", "layers.0.bias:4",
			NULL), 0);
	EXPECT_EQ(hf_mlp_map(&c.mlp, &f, &m, why, sizeof(why)), -EINVAL);
	EXPECT_STREQ(why, "layers.0.weight is not [4, 6]");
	st_free(&f);
}

TEST_HARNESS_MAIN
