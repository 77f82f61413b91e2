/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for config.json and the HF tensor mapping. The input is
 * a config.json, a NUL byte, and a safetensors file: the config parses or
 * fails with -EINVAL/-ENOTSUP; when both parse, the mapping succeeds with
 * every tensor of the shape the config asks, or fails with -EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/hfconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_llama(const struct hf_llama_config *c,
			const struct st_file *f)
{
	struct hf_llama_map m;
	char why[160];
	uint32_t i;
	int err;

	err = hf_llama_map(c, f, &m, why, sizeof(why));
	if (err) {
		if ((err != -EINVAL && err != -ENOMEM) || m.layer)
			abort();
		return;
	}
	if (m.embed->shape[0] != c->vocab_size ||
	    m.embed->shape[1] != c->hidden_size ||
	    m.lm_head->nelem != m.embed->nelem ||
	    m.norm->nelem != c->hidden_size || m.n_layers != c->n_layers)
		abort();
	for (i = 0; i < m.n_layers; i++)
		if (m.layer[i].k->shape[0] !=
			    (uint64_t)c->n_kv_heads * c->head_dim ||
		    m.layer[i].down->shape[1] != c->intermediate_size)
			abort();
	hf_llama_map_free(&m);
}

static void check_mlp(const struct hf_mlp_config *c, const struct st_file *f)
{
	struct hf_mlp_map m;
	char why[160];
	int i, err;

	err = hf_mlp_map(c, f, &m, why, sizeof(why));
	if (err) {
		if (err != -EINVAL)
			abort();
		return;
	}
	for (i = 0; i < c->n_layers; i++)
		if (m.weight[i]->shape[0] != c->layer[i].out ||
		    m.weight[i]->shape[1] != c->layer[i].in ||
		    m.bias[i]->nelem != c->layer[i].out)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	struct hf_config c;
	struct st_file f;
	char why[160];
	int err;

	err = hf_config_parse(data, clen, &c, why, sizeof(why));
	if (err) {
		if (err != -EINVAL && err != -ENOTSUP)
			abort();
		return 0;
	}
	if (!nul || st_parse(nul + 1, size - clen - 1, &f, why, sizeof(why)))
		return 0;
	if (c.arch == HF_LLAMA)
		check_llama(&c.llama, &f);
	else
		check_mlp(&c.mlp, &f);
	st_free(&f);
	return 0;
}
