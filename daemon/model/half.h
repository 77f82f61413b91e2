/* SPDX-License-Identifier: MIT */
/*
 * 16-bit floats to f32: IEEE binary16 (safetensors F16) and bfloat16
 * (BF16). Both conversions are exact (every value of either format is an
 * f32), keep the sign of zeros, turn subnormals into normal f32s, keep
 * infinities, and keep NaNs NaN with their payload shifted into place.
 */
#ifndef GL_MODEL_HALF_H
#define GL_MODEL_HALF_H

#include <stddef.h>
#include <stdint.h>

/* f16_bits_to_f32_bits - the f32 bit pattern of binary16 @h */
uint32_t f16_bits_to_f32_bits(uint16_t h);

/* f16_to_f32 / bf16_to_f32 - one value */
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);

/*
 * f16_to_f32_array / bf16_to_f32_array - convert @n little-endian 16-bit
 * values at @src (any alignment) into @dst. @src and @dst must not overlap.
 */
void f16_to_f32_array(float *dst, const void *src, size_t n);
void bf16_to_f32_array(float *dst, const void *src, size_t n);

#endif
