/* SPDX-License-Identifier: MIT */
/*
 * model_checkpoints.c - one tiny Llama written by
 * selftests/fixtures/write_checkpoints.py in every layout (llama2.c legacy
 * and ak42, tokenizer.bin, HF config.json + safetensors in F32, F16 and
 * BF16) parses, and every tensor of one layout is the same as its twin in
 * the others: byte for byte between the llama2.c files, after undoing
 * HF's q/k row permutation for HF, and rounded to nearest even for F16 and
 * BF16. Skipped without /usr/bin/python3 and numpy.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/model/half.h"
#include "daemon/model/hfconfig.h"
#include "daemon/model/llama2c.h"
#include "daemon/model/safetensors.h"
#include "daemon/model/tokbin.h"
#include "selftests/harness.h"
#include "selftests/unit/model_fixture.h"

FIXTURE(fx) {
	char dir[64];		/* the fixtures; removed by the teardown */
};

FIXTURE_SETUP(fx)
{
	strcpy(self->dir, "/tmp/gl-model-XXXXXX");
	ASSERT_NE(mkdtemp(self->dir), NULL);
}

FIXTURE_TEARDOWN(fx)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (self->dir[0] && system(cmd))
		TH_LOG("%s failed", cmd);
}

/* run the fixture script into @dir: 0, 1 without numpy, -1 if it failed */
static int fixtures(const char *dir, const char *args)
{
	return run_fixture("write_checkpoints.py", dir, args);
}

/* row @r (of @cols floats) of l2c tensor @t, layer @l of @per bytes */
static const unsigned char *l2c_at(const struct blob *b,
				   const struct l2c_file *f,
				   enum l2c_tensor t, uint64_t per, int l)
{
	return b->p + f->t[t].off + per * l;
}

static uint16_t to_bf16(float x)
{
	uint32_t u;

	memcpy(&u, &x, 4);
	return (u + 0x7fff + ((u >> 16) & 1)) >> 16;
}

/*
 * Compare HF tensor @t (any dtype) with @n f32 at @want, rows permuted
 * for q/k when @heads > 0 (rows of @cols floats, head dim @hd).
 */
static int same(const struct blob *b, const struct st_tensor *t,
		const unsigned char *want, uint64_t n, int heads, int hd,
		uint64_t cols)
{
	float *got = malloc(n * 4), w;
	uint64_t i, row, src;
	int bad = 0;

	if (t->nelem != n) {
		free(got);
		return 1;
	}
	if (t->dtype == ST_F32)
		memcpy(got, b->p + t->off, n * 4);
	else if (t->dtype == ST_F16)
		f16_to_f32_array(got, b->p + t->off, n);
	else
		bf16_to_f32_array(got, b->p + t->off, n);
	for (i = 0; i < n; i++) {
		row = i / cols;
		src = row;
		if (heads) {
			/* HF row h*hd + half*hd/2 + j is llama2.c's
			 * h*hd + 2*j + half */
			uint64_t h = row / hd, r = row % hd;
			uint64_t half = r / (hd / 2), j = r % (hd / 2);

			src = h * hd + 2 * j + half;
		}
		memcpy(&w, want + 4 * (src * cols + i % cols), 4);
		if (t->dtype == ST_F16) {
#ifdef __FLT16_MAX__
			w = (_Float16)w;
#else
			if (fabsf(w - got[i]) > fabsf(w) / 2048 + 0x1p-24f)
				bad++;
			continue;
#endif
		} else if (t->dtype == ST_BF16) {
			w = bf16_to_f32(to_bf16(w));
		}
		if (memcmp(&w, &got[i], 4))
			bad++;
	}
	free(got);
	return bad;
}

static void check_dir(const char *dir, bool tied)
{
	static const char *const files[] = {
		"hf/model.safetensors", "hf/model-f16.safetensors",
		"hf/model-bf16.safetensors",
	};
	struct blob leg, v1, cfgb, st, tok;
	struct l2c_file lf, vf;
	struct hf_llama_map m;
	struct hf_config c;
	struct st_file sf;
	struct tok_table tt;
	char why[160] = "";
	uint64_t d, kv, hid, per;
	int i, l, hd, nh, nkv;
	size_t k;

	ASSERT_EQ(slurp(dir, "legacy.bin", &leg), 0);
	ASSERT_EQ(slurp(dir, "ak42.bin", &v1), 0);
	ASSERT_EQ(slurp(dir, "hf/config.json", &cfgb), 0);
	ASSERT_EQ(slurp(dir, "tokenizer.bin", &tok), 0);
	ASSERT_EQ(l2c_parse(leg.p, leg.len, &lf, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	ASSERT_EQ(l2c_parse(v1.p, v1.len, &vf, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(lf.cfg.shared_classifier, tied);
	EXPECT_EQ(vf.cfg.shared_classifier, tied);
	EXPECT_EQ(memcmp(&lf.cfg.dim, &vf.cfg.dim, 8 * 4), 0);
	for (i = 0; i < L2C_NTENSORS; i++) {
		ASSERT_EQ(lf.t[i].len, vf.t[i].len);
		EXPECT_EQ(memcmp(leg.p + lf.t[i].off, v1.p + vf.t[i].off,
				 lf.t[i].len), 0) TH_LOG("%s",
							 l2c_tensor_name(i));
	}
	ASSERT_EQ(tok_parse(tok.p, tok.len, lf.cfg.vocab_size, &tt, why,
			    sizeof(why)), 0) TH_LOG("%s", why);
	EXPECT_EQ(tt.n, lf.cfg.vocab_size);
	EXPECT_EQ(memcmp(tok.p + tt.tok[0].off, "<unk>", 5), 0);
	tok_free(&tt);

	ASSERT_EQ(hf_config_parse(cfgb.p, cfgb.len, &c, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	ASSERT_EQ(c.arch, HF_LLAMA);
	EXPECT_EQ(c.llama.hidden_size, lf.cfg.dim);
	EXPECT_EQ(c.llama.intermediate_size, lf.cfg.hidden_dim);
	EXPECT_EQ(c.llama.n_heads, lf.cfg.n_heads);
	EXPECT_EQ(c.llama.n_kv_heads, lf.cfg.n_kv_heads);
	EXPECT_EQ(c.llama.n_layers, lf.cfg.n_layers);
	EXPECT_EQ(c.llama.vocab_size, lf.cfg.vocab_size);
	EXPECT_EQ(c.llama.tie_word_embeddings, tied);
	d = lf.cfg.dim;
	hd = lf.cfg.head_size;
	nh = lf.cfg.n_heads;
	nkv = lf.cfg.n_kv_heads;
	kv = (uint64_t)nkv * hd;
	hid = lf.cfg.hidden_dim;

	for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		ASSERT_EQ(slurp(dir, files[k], &st), 0);
		ASSERT_EQ(st_parse(st.p, st.len, &sf, why, sizeof(why)), 0)
			TH_LOG("%s: %s", files[k], why);
		ASSERT_EQ(hf_llama_map(&c.llama, &sf, &m, why, sizeof(why)),
			  0) TH_LOG("%s: %s", files[k], why);
		EXPECT_EQ(m.lm_head == m.embed, tied);
#define SAME(t, want, n, heads, cols) \
		EXPECT_EQ(same(&st, t, want, n, heads, hd, cols), 0) \
			TH_LOG("%s: %s", files[k], (t)->name)
		SAME(m.embed, leg.p + lf.t[L2C_TOKEN_EMBEDDING].off,
		     lf.cfg.vocab_size * d, 0, d);
		SAME(m.lm_head, leg.p + lf.t[L2C_WCLS].off,
		     lf.cfg.vocab_size * d, 0, d);
		SAME(m.norm, leg.p + lf.t[L2C_RMS_FINAL].off, d, 0, d);
		for (l = 0; l < (int)lf.cfg.n_layers; l++) {
			per = d * 4;
			SAME(m.layer[l].attn_norm,
			     l2c_at(&leg, &lf, L2C_RMS_ATT, per, l), d, 0, d);
			SAME(m.layer[l].ffn_norm,
			     l2c_at(&leg, &lf, L2C_RMS_FFN, per, l), d, 0, d);
			per = d * d * 4;
			SAME(m.layer[l].q, l2c_at(&leg, &lf, L2C_WQ, per, l),
			     d * d, nh, d);
			SAME(m.layer[l].o, l2c_at(&leg, &lf, L2C_WO, per, l),
			     d * d, 0, d);
			per = kv * d * 4;
			SAME(m.layer[l].k, l2c_at(&leg, &lf, L2C_WK, per, l),
			     kv * d, nkv, d);
			SAME(m.layer[l].v, l2c_at(&leg, &lf, L2C_WV, per, l),
			     kv * d, 0, d);
			per = hid * d * 4;
			SAME(m.layer[l].gate, l2c_at(&leg, &lf, L2C_W1, per, l),
			     hid * d, 0, d);
			SAME(m.layer[l].up, l2c_at(&leg, &lf, L2C_W3, per, l),
			     hid * d, 0, d);
			SAME(m.layer[l].down,
			     l2c_at(&leg, &lf, L2C_W2, per, l), hid * d, 0,
			     hid);
		}
#undef SAME
		hf_llama_map_free(&m);
		st_free(&sf);
		free(st.p);
	}
	free(leg.p);
	free(v1.p);
	free(cfgb.p);
	free(tok.p);
}

TEST_F(fx, untied_gqa_in_every_layout)
{
	int r = fixtures(self->dir, "--no-ref");

	if (r > 0)
		SKIP(return, "no /usr/bin/python3 with numpy");
	ASSERT_EQ(r, 0);
	check_dir(self->dir, false);
}

TEST_F(fx, tied_mha_in_every_layout)
{
	int r = fixtures(self->dir, "--tied --kv-heads 4 --layers 3 --seed 7 "
			     "--no-ref");

	if (r > 0)
		SKIP(return, "no /usr/bin/python3 with numpy");
	ASSERT_EQ(r, 0);
	check_dir(self->dir, true);
}

TEST_HARNESS_MAIN
