/* SPDX-License-Identifier: MIT */
/*
 * mlp-ckpt: the seeded checkpoint of the mlp bench (mlp-ckpt.c).
 */
#ifndef GL_BENCH_MLP_CKPT_H
#define GL_BENCH_MLP_CKPT_H

#include <stddef.h>
#include <stdint.h>

struct mlp_ckpt {
	const char *dir;	/* an existing directory to write into */
	long width;		/* inputs and hidden width */
	long layers;		/* width x width relu layers */
	long outs;		/* the last (none) layer's outputs */
};

/* mlp_ckpt_rnd() - xorshift32 step of *@s, as a float in [-1, 1). */
float mlp_ckpt_rnd(uint32_t *s);

/*
 * mlp_ckpt_write() - write @ck->dir/config.json and model.safetensors:
 * weights uniform in +-1/sqrt(in), biases in +-0.01, from a fixed seed,
 * so relu layers keep values near 1. The config's text goes to @cfg
 * (@cfg_size bytes, 8 KiB hold 9 layers), the safetensors bytes to *@st
 * (*@st_len bytes; the caller frees it, on failure too). Returns 0 or
 * -errno (printed).
 */
int mlp_ckpt_write(const struct mlp_ckpt *ck, char **st, size_t *st_len,
		   char *cfg, size_t cfg_size);

#endif /* GL_BENCH_MLP_CKPT_H */
