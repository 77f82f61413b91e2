/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the llama2.c checkpoint parser: any bytes parse or
 * fail with -EINVAL, and a parsed file's tensors lie inside it, in order,
 * sized by its config.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "daemon/model/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct l2c_file f;
	char why[128];
	volatile uint8_t sink;
	uint64_t kv;
	int i, err;

	err = l2c_parse(data, size, &f, why, sizeof(why));
	if (err) {
		if (err != -EINVAL)
			abort();
		return 0;
	}
	for (i = 0; i < L2C_NTENSORS; i++) {
		if (f.t[i].off > size || f.t[i].len > size - f.t[i].off)
			abort();
		/* touch both ends so ASan sees any read past the file */
		if (f.t[i].len) {
			sink = data[f.t[i].off];
			sink = data[f.t[i].off + f.t[i].len - 1];
		}
	}
	kv = (uint64_t)f.cfg.n_kv_heads * f.cfg.head_size;
	if (f.cfg.head_size * f.cfg.n_heads != f.cfg.dim ||
	    f.t[L2C_WK].len != 4ull * f.cfg.n_layers * kv * f.cfg.dim ||
	    (f.cfg.shared_classifier &&
	     f.t[L2C_WCLS].off != f.t[L2C_TOKEN_EMBEDDING].off))
		abort();
	(void)sink;
	return 0;
}
