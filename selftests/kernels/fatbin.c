/* SPDX-License-Identifier: MIT */
/*
 * fatbin.c - the embedded fatbin, without a GPU: it has the fatbin magic,
 * and its compute_90 PTX has exactly one entry per GL_KERNELS() row, of
 * that extern "C" name, whose parameters have the signature's types in
 * its order (u32/i32 as .u32/.s32, u64 and buf/io pointers as .u64,
 * f32 .f32, f64 .f64): the CUDA and C sides cannot drift apart.
 */
#include <errno.h>

#include "kernels/fatbin.h"
#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

#define FATBIN_MAGIC 0xba55ed50u

TEST(magic_and_size)
{
	uint32_t magic;

	ASSERT_GT(gl_fatbin_len, 64u);
	memcpy(&magic, gl_fatbin, sizeof(magic));
	EXPECT_EQ(magic, FATBIN_MAGIC);
	EXPECT_EQ((uintptr_t)gl_fatbin % 64, 0u);
}

static const char *ptx_type(enum gl_ktype t)
{
	switch (t) {
	case GL_KT_U32:
		return ".u32";
	case GL_KT_I32:
		return ".s32";
	case GL_KT_F32:
		return ".f32";
	case GL_KT_F64:
		return ".f64";
	default:
		return ".u64";
	}
}

/* Occurrences of @needle in the fatbin; *@at is the first match. */
static unsigned int fatbin_count(const char *needle, const char **at)
{
	const char *p = (const char *)gl_fatbin, *end = p + gl_fatbin_len;
	size_t len = strlen(needle);
	unsigned int n = 0;
	const char *hit;

	*at = NULL;
	while (p < end && (hit = memmem(p, end - p, needle, len))) {
		if (!n)
			*at = hit;
		n++;
		p = hit + len;
	}
	return n;
}

TEST(entries_match_signatures)
{
	const char *at, *p, *close;
	struct gl_ksig sig;
	char needle[64];
	unsigned int id, i, params;

	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);

		ASSERT_EQ(gl_ksig_parse(k->sig, &sig), 0);
		snprintf(needle, sizeof(needle), ".entry %s(", k->name);
		EXPECT_EQ(fatbin_count(needle, &at), 1u)
			TH_LOG("kernel %s: no single PTX entry", k->name);
		if (!at)
			continue;
		close = strchr(at, ')');
		ASSERT_TRUE(close != NULL);
		p = at;
		for (params = 0; (p = strstr(p, ".param ")) && p < close;
		     params++) {
			const char *type, *alt;

			p += strlen(".param ");
			if (params >= sig.count)
				continue;
			type = ptx_type(sig.param[params].type);
			alt = sig.param[params].type == GL_KT_I32 ? ".u32" :
								    type;
			EXPECT_TRUE(!strncmp(p, type, strlen(type)) ||
				    !strncmp(p, alt, strlen(alt)))
				TH_LOG("kernel %s param %s: PTX has %.12s, "
				       "signature %s", k->name,
				       sig.param[params].name, p, type);
		}
		EXPECT_EQ(params, sig.count)
			TH_LOG("kernel %s: PTX and signature counts", k->name);
	}
	i = fatbin_count(".entry ", &at);
	EXPECT_EQ(i, (unsigned int)GL_K_COUNT)
		TH_LOG("a .cu kernel is not in GL_KERNELS()");
}

TEST_HARNESS_MAIN
