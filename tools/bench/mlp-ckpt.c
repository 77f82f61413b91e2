/* SPDX-License-Identifier: MIT */
/*
 * mlp-ckpt: the mlp bench's seeded gpulease-mlp checkpoint, written as a
 * Hugging Face directory (config.json, model.safetensors in F32) that
 * the daemon's parsers load (Documentation/models.md, "config.json:
 * gpulease-mlp"). Invariant: the same options give the same bytes.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bench/mlp-ckpt.h"
#include "tools/bench/verbs.h"

float mlp_ckpt_rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

/* layer @l's [in, out] */
static void layer_shape(const struct mlp_ckpt *c, long l, long *in, long *out)
{
	*in = c->width;
	*out = l < c->layers ? c->width : c->outs;
}

/* Write @len bytes of @buf to DIR/@name. 0 or -errno (printed). */
static int write_file(const struct mlp_ckpt *c, const char *name,
		      const void *buf, size_t len)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	return verb_create_file(path, buf, len);
}

int mlp_ckpt_write(const struct mlp_ckpt *ck, char **st, size_t *st_len,
		   char *cfg, size_t cfg_size)
{
	char hdr[4096];
	size_t h = 0, c = 0, data = 0, off;
	long l, in, out, i;
	uint64_t hlen;
	uint32_t s = 7;
	float *w, scale;
	int err;

	c += (size_t)snprintf(cfg + c, cfg_size - c, "{\"architectures\": "
			      "[\"gpulease-mlp\"], \"layers\": [");
	h += (size_t)snprintf(hdr + h, sizeof(hdr) - h, "{");
	for (l = 0; l <= ck->layers; l++) {
		layer_shape(ck, l, &in, &out);
		c += (size_t)snprintf(cfg + c, cfg_size - c, "%s{\"in\": %ld, "
				      "\"out\": %ld, \"activation\": \"%s\"}",
				      l ? ", " : "", in, out,
				      l < ck->layers ? "relu" : "none");
		h += (size_t)snprintf(hdr + h, sizeof(hdr) - h,
			"%s\"layers.%ld.weight\":{\"dtype\":\"F32\",\"shape\":"
			"[%ld,%ld],\"data_offsets\":[%zu,%zu]},"
			"\"layers.%ld.bias\":{\"dtype\":\"F32\",\"shape\":[%ld],"
			"\"data_offsets\":[%zu,%zu]}", l ? "," : "", l, out,
			in, data, data + (size_t)(out * in) * 4, l, out,
			data + (size_t)(out * in) * 4,
			data + (size_t)(out * in + out) * 4);
		data += (size_t)(out * in + out) * 4;
	}
	snprintf(cfg + c, cfg_size - c, "]}\n");
	h += (size_t)snprintf(hdr + h, sizeof(hdr) - h, "}");
	while (h % 8)
		hdr[h++] = ' ';
	*st_len = 8 + h + data;
	*st = malloc(*st_len);
	if (!*st)
		return -ENOMEM;
	hlen = h;
	memcpy(*st, &hlen, 8);	/* little-endian on every host we run */
	memcpy(*st + 8, hdr, h);
	w = (float *)(*st + 8 + h);
	for (l = 0, off = 0; l <= ck->layers; l++) {
		layer_shape(ck, l, &in, &out);
		scale = 1.0f / sqrtf((float)in);
		for (i = 0; i < out * in; i++)
			w[off++] = mlp_ckpt_rnd(&s) * scale;
		for (i = 0; i < out; i++)
			w[off++] = mlp_ckpt_rnd(&s) * 0.01f;
	}
	err = write_file(ck, "config.json", cfg, strlen(cfg));
	return err ? err : write_file(ck, "model.safetensors", *st, *st_len);
}
