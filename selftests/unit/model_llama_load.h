/* SPDX-License-Identifier: MIT */
/*
 * model_llama_load.h - what the Llama unit tests share: a fixture's
 * llama2.c file or HF directory parsed, planned and loaded into a block
 * of its own (the way the daemon loads it into a lease).
 */
#ifndef GL_SELFTEST_MODEL_LLAMA_LOAD_H
#define GL_SELFTEST_MODEL_LLAMA_LOAD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/llama.h"
#include "daemon/model/llama2c.h"
#include "daemon/model/safetensors.h"
#include "selftests/unit/model_fixture.h"

/* A model loaded into its block. */
struct model {
	struct llama_plan p;
	void *base;
};

static inline void model_free(struct model *m)
{
	free(m->base);
	m->base = NULL;
}

/* load_l2c - @dir/@name into @m, planned for @batch rows, @ctx positions */
static inline int load_l2c(const char *dir, const char *name,
			   struct model *m, uint32_t batch, uint32_t ctx)
{
	struct llama_config c;
	struct l2c_file f;
	struct blob b;
	char why[160];
	int err;

	err = slurp(dir, name, &b);
	if (err)
		return err;
	err = l2c_parse(b.p, b.len, &f, why, sizeof(why));
	if (!err) {
		llama_config_l2c(&f.cfg, &c);
		err = llama_plan(&c, batch, ctx ? ctx : c.seq_len, &m->p);
	}
	if (!err) {
		m->base = aligned_alloc(LLAMA_ALIGN, m->p.total_bytes);
		err = m->base ? 0 : -ENOMEM;
	}
	if (!err)
		err = llama_load_l2c(&m->p, &f, b.p, b.len, m->base);
	free(b.p);
	return err;
}

/* load_hf - @dir/hf/config.json and @dir/hf/@name into @m */
static inline int load_hf(const char *dir, const char *name,
			  struct model *m, uint32_t batch)
{
	struct blob cb, sb;
	struct hf_llama_map map = { 0 };
	struct llama_config c;
	struct hf_config hc;
	struct st_file sf = { 0 };
	char path[256], why[160];
	int err;

	snprintf(path, sizeof(path), "%s/hf", dir);
	err = slurp(path, "config.json", &cb);
	if (err)
		return err;
	err = slurp(path, name, &sb);
	if (err) {
		free(cb.p);
		return err;
	}
	err = hf_config_parse(cb.p, cb.len, &hc, why, sizeof(why));
	if (!err)
		err = st_parse(sb.p, sb.len, &sf, why, sizeof(why));
	if (!err)
		err = hf_llama_map(&hc.llama, &sf, &map, why, sizeof(why));
	if (!err) {
		llama_config_hf(&hc.llama, &c);
		err = llama_plan(&c, batch, c.seq_len, &m->p);
	}
	if (!err) {
		m->base = aligned_alloc(LLAMA_ALIGN, m->p.total_bytes);
		err = m->base ? 0 : -ENOMEM;
	}
	if (!err)
		err = llama_load_hf(&m->p, &map, sb.p, sb.len, m->base);
	hf_llama_map_free(&map);
	st_free(&sf);
	free(cb.p);
	free(sb.p);
	return err;
}

#endif
