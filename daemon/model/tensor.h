/* SPDX-License-Identifier: MIT */
/*
 * One safetensors tensor into f32 memory: the step every loader shares
 * (llama-load.c, mlp.c).
 */
#ifndef GL_MODEL_TENSOR_H
#define GL_MODEL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/model/safetensors.h"

/*
 * tensor_f32 - copy (F32) or convert (F16, BF16) tensor @t of the file
 * at @buf (@len bytes) into @dst, which holds @n floats. Returns 0, or
 * -EINVAL when @t is NULL, its element count is not @n, or its bytes are
 * not inside the file. Pure; @dst untouched on failure.
 */
int tensor_f32(const struct st_tensor *t, const void *buf, size_t len,
	       float *dst, uint64_t n);

/* tensor_f32_check - tensor_f32()'s checks alone; 0 or -EINVAL. */
int tensor_f32_check(const struct st_tensor *t, size_t len, uint64_t n);

#endif
