/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the safetensors parser: any bytes parse or fail
 * with -EINVAL/-ENOTSUP/-ENOMEM; a parsed table is sorted, found by name,
 * inside the data area, and its tensors convert to f32 without a read
 * past the file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/half.h"
#include "daemon/model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct st_tensor *t;
	struct st_file f;
	char why[160];
	float out[64];
	size_t i, n;
	int err;

	err = st_parse(data, size, &f, why, sizeof(why));
	if (err) {
		if (err != -EINVAL && err != -ENOTSUP && err != -ENOMEM)
			abort();
		if (f.t || f.n)
			abort();
		return 0;
	}
	for (i = 0; i < f.n; i++) {
		t = &f.t[i];
		if (t->off < f.data_off || t->off > size ||
		    t->len > size - t->off ||
		    t->len != t->nelem * st_dtype_size(t->dtype))
			abort();
		if (i && strcmp(f.t[i - 1].name, t->name) >= 0)
			abort();
		if (st_find(&f, t->name) != t)
			abort();
		n = t->nelem < 64 ? t->nelem : 64;
		if (t->dtype == ST_F16)
			f16_to_f32_array(out, data + t->off, n);
		else if (t->dtype == ST_BF16)
			bf16_to_f32_array(out, data + t->off, n);
		else
			memcpy(out, data + t->off, n * 4);
	}
	st_free(&f);
	return 0;
}
