/* SPDX-License-Identifier: MIT */
/*
 * A safetensors tensor into f32: F32 copied, F16 and BF16 converted
 * exactly (half.c).
 *
 * Invariant: nothing is read outside the file's @len bytes and nothing
 * written past @n floats: both are checked before a byte moves.
 */
#include <errno.h>
#include <string.h>

#include "daemon/model/half.h"
#include "daemon/model/tensor.h"

int tensor_f32_check(const struct st_tensor *t, size_t len, uint64_t n)
{
	if (!t || t->nelem != n || t->off > len || t->len > len - t->off ||
	    t->len != t->nelem * st_dtype_size(t->dtype))
		return -EINVAL;
	return 0;
}

int tensor_f32(const struct st_tensor *t, const void *buf, size_t len,
	       float *dst, uint64_t n)
{
	const char *src;
	int err;

	err = tensor_f32_check(t, len, n);
	if (err)
		return err;
	src = (const char *)buf + t->off;
	if (t->dtype == ST_F32)
		memcpy(dst, src, n * 4);
	else if (t->dtype == ST_F16)
		f16_to_f32_array(dst, src, n);
	else
		bf16_to_f32_array(dst, src, n);
	return 0;
}
