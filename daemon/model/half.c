/* SPDX-License-Identifier: MIT */
/*
 * binary16 and bfloat16 to f32 by bit manipulation, exactly: no rounding
 * step exists in either direction we convert, so the result is the value
 * itself. Subnormal binary16 values are renormalised by counting leading
 * zeros of the mantissa.
 */
#include <string.h>

#include "daemon/model/half.h"

uint32_t f16_bits_to_f32_bits(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;
	int shift;

	if (exp == 0x1f)		/* inf, nan: payload kept */
		return sign | 0x7f800000 | man << 13;
	if (exp)			/* normal: rebias 15 -> 127 */
		return sign | (exp + 112) << 23 | man << 13;
	if (!man)			/* signed zero */
		return sign;
	/* subnormal: man * 2^-24; put its top bit at bit 10 */
	shift = __builtin_clz(man) - 21;
	man = (man << shift) & 0x3ff;
	return sign | (uint32_t)(113 - shift) << 23 | man << 13;
}

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

float f16_to_f32(uint16_t h)
{
	return from_bits(f16_bits_to_f32_bits(h));
}

float bf16_to_f32(uint16_t b)
{
	return from_bits((uint32_t)b << 16);
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void f16_to_f32_array(float *dst, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = f16_to_f32(get_u16(p + 2 * i));
}

void bf16_to_f32_array(float *dst, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = bf16_to_f32(get_u16(p + 2 * i));
}
