/* SPDX-License-Identifier: MIT */
/*
 * model_safetensors.c - the safetensors parser over in-test files (good
 * ones, every header and tensor lie we can name, cuts at every byte) and
 * the exact F16 and BF16 to f32 conversions against known bit patterns.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/half.h"
#include "daemon/model/safetensors.h"
#include "selftests/harness.h"

/* header length + @json + @data zero bytes; hlen from strlen unless set */
static unsigned char *make(const char *json, size_t data, size_t *len)
{
	size_t n = strlen(json);
	unsigned char *p = calloc(1, 8 + n + data);
	uint64_t h = n;

	memcpy(p, &h, 8);
	memcpy(p + 8, json, n);
	*len = 8 + n + data;
	return p;
}

/* parse @json with @data bytes of data area; returns the error */
static int try(const char *json, size_t data, char *why)
{
	struct st_file f;
	unsigned char *p;
	size_t len;
	int err;

	p = make(json, data, &len);
	err = st_parse(p, len, &f, why, 160);
	if (!err)
		st_free(&f);
	else
		EXPECT_EQ(f.t, NULL);
	free(p);
	return err;
}

static const char good[] =
	"{\"__metadata__\":{\"format\":\"pt\"},"
	"\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[24,36]},"
	"\"a\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
	"\"c\":{\"dtype\":\"F16\",\"shape\":[1,1,2,2],"
	"\"data_offsets\":[36,44]},"
	"\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[44,48]},"
	"\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[48,48]}"
	"}    ";

TEST(good_file_table_and_lookup)
{
	const struct st_tensor *t;
	struct st_file f;
	char why[160] = "";
	unsigned char *p;
	size_t len;

	p = make(good, 48, &len);
	ASSERT_EQ(st_parse(p, len, &f, why, sizeof(why)), 0)
		TH_LOG("%s", why);
	EXPECT_EQ(f.n, 5u);
	EXPECT_EQ(f.data_off, 8 + strlen(good));
	t = st_find(&f, "a");
	ASSERT_NE(t, NULL);
	EXPECT_EQ(t->dtype, ST_F32);
	EXPECT_EQ(t->ndim, 2);
	EXPECT_EQ(t->shape[0], 3u);
	EXPECT_EQ(t->shape[1], 2u);
	EXPECT_EQ(t->off, f.data_off);
	EXPECT_EQ(t->len, 24u);
	t = st_find(&f, "b");
	ASSERT_NE(t, NULL);
	EXPECT_EQ(t->dtype, ST_BF16);
	EXPECT_EQ(t->off, f.data_off + 24);
	EXPECT_EQ(t->len, 12u);
	t = st_find(&f, "c");
	ASSERT_NE(t, NULL);
	EXPECT_EQ(t->ndim, 4);
	EXPECT_EQ(t->nelem, 4u);
	t = st_find(&f, "s");
	ASSERT_NE(t, NULL);
	EXPECT_EQ(t->ndim, 0);
	EXPECT_EQ(t->nelem, 1u);
	t = st_find(&f, "z");
	ASSERT_NE(t, NULL);
	EXPECT_EQ(t->len, 0u);
	EXPECT_EQ(st_find(&f, "__metadata__"), NULL);
	EXPECT_EQ(st_find(&f, "d"), NULL);
	EXPECT_STREQ(st_dtype_name(ST_BF16), "BF16");
	st_free(&f);
	EXPECT_EQ(f.n, 0u);
	free(p);
}

TEST(cut_at_every_byte)
{
	struct st_file f;
	char why[160];
	unsigned char *p, *c;
	size_t len, cut;
	int bad = 0;

	p = make(good, 48, &len);
	for (cut = 0; cut < len; cut++) {
		c = malloc(cut ? cut : 1);
		memcpy(c, p, cut);
		if (st_parse(c, cut, &f, why, sizeof(why)) != -EINVAL) {
			TH_LOG("cut %zu parsed", cut);
			bad++;
		}
		free(c);
	}
	EXPECT_EQ(bad, 0);
	free(p);
}

TEST(header_length_lies)
{
	struct st_file f;
	char why[160];
	unsigned char *p;
	uint64_t h;
	size_t len;

	p = make(good, 48, &len);
	h = len - 8 + 1;		/* one past the file */
	memcpy(p, &h, 8);
	EXPECT_EQ(st_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	h = UINT64_MAX;
	memcpy(p, &h, 8);
	EXPECT_EQ(st_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	h = (uint64_t)ST_HEADER_MAX + 1;
	memcpy(p, &h, 8);
	EXPECT_EQ(st_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "over"), NULL);
	h = 4;				/* header cut inside the JSON */
	memcpy(p, &h, 8);
	EXPECT_EQ(st_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	EXPECT_EQ(st_parse(p, 7, &f, why, sizeof(why)), -EINVAL);
	free(p);
}

TEST(bad_json)
{
	char why[160];

	EXPECT_EQ(try("", 0, why), -EINVAL);
	EXPECT_EQ(try("{", 0, why), -EINVAL);
	EXPECT_EQ(try("[]", 0, why), -EINVAL);
	EXPECT_EQ(try("null", 0, why), -EINVAL);
	EXPECT_EQ(try("{} x", 0, why), -EINVAL);
	/* duplicate names would make the lookup ambiguous */
	EXPECT_EQ(try("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		      "\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\","
		      "\"shape\":[1],\"data_offsets\":[4,8]}}", 8, why),
		  -EINVAL);
	EXPECT_EQ(try("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],"
		      "\"data_offsets\":[0,4]}}", 4, why), -EINVAL);
	/* no file bytes in the reason: position only */
	EXPECT_EQ(try("{\"secret\" 1}", 0, why), -EINVAL);
	EXPECT_EQ(strstr(why, "secret"), NULL) TH_LOG("%s", why);
	/* an empty object is a file of no tensors */
	EXPECT_EQ(try("{}", 0, why), 0);
}

#define T(dtype, shape, offs) \
	"{\"t\":{\"dtype\":\"" dtype "\",\"shape\":" shape \
	",\"data_offsets\":" offs "}}"

TEST(bad_tensor_entries)
{
	char why[160];

	EXPECT_EQ(try(T("F32", "[2]", "[0,8]"), 8, why), 0) TH_LOG("%s", why);
	EXPECT_EQ(try("{\"t\":1}", 0, why), -EINVAL);
	EXPECT_EQ(try("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		      why), -EINVAL);
	EXPECT_EQ(try("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
		      4, why), -EINVAL);
	EXPECT_EQ(try("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, why),
		  -EINVAL);
	EXPECT_EQ(try("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],"
		      "\"data_offsets\":[0,4],\"x\":1}}", 4, why), -EINVAL);
	/* dtypes: unknown is malformed, known but not carried is ENOTSUP */
	EXPECT_EQ(try(T("F33", "[1]", "[0,4]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("f32", "[1]", "[0,4]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("I32", "[1]", "[0,4]"), 4, why), -ENOTSUP);
	EXPECT_EQ(try(T("F64", "[1]", "[0,8]"), 8, why), -ENOTSUP);
	EXPECT_EQ(try("{\"t\":{\"dtype\":7,\"shape\":[1],"
		      "\"data_offsets\":[0,4]}}", 4, why), -EINVAL);
	/* shapes */
	EXPECT_EQ(try(T("F32", "[1,1,1,1,1]", "[0,4]"), 4, why), -ENOTSUP);
	EXPECT_EQ(try(T("F32", "[-1]", "[0,4]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1.0]", "[0,4]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[\"1\"]", "[0,4]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "{}", "[0,4]"), 4, why), -EINVAL);
	/* 2^32 * 2^32 overflows before the dtype size does */
	EXPECT_EQ(try(T("F32", "[4294967296,4294967296]", "[0,4]"), 4, why),
		  -EINVAL);
	EXPECT_NE(strstr(why, "overflow"), NULL) TH_LOG("%s", why);
	/* 2^62 elements of 4 bytes overflow in the size */
	EXPECT_EQ(try(T("F32", "[4611686018427387904]", "[0,4]"), 4, why),
		  -EINVAL);
	EXPECT_EQ(try(T("F32", "[99999999999999999999]", "[0,4]"), 4, why),
		  -EINVAL);
	/* offsets */
	EXPECT_EQ(try(T("F32", "[1]", "[0]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1]", "[0,4,8]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1]", "[4,0]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1]", "[-4,0]"), 4, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1]", "[4,8]"), 4, why), -EINVAL);
	EXPECT_NE(strstr(why, "data area"), NULL) TH_LOG("%s", why);
	EXPECT_EQ(try(T("F32", "[1]", "[0,8]"), 8, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[2]", "[0,4]"), 8, why), -EINVAL);
	EXPECT_EQ(try(T("BF16", "[2]", "[0,8]"), 8, why), -EINVAL);
	EXPECT_EQ(try(T("F32", "[1]",
			"[18446744073709551612,18446744073709551615]"), 4,
		      why), -EINVAL);
}

TEST(overlap_and_adjacency)
{
	char why[160];

#define TWO(o1, o2) \
	"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" o1 "}," \
	"\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" o2 "}}"
	EXPECT_EQ(try(TWO("[0,8]", "[8,16]"), 16, why), 0) TH_LOG("%s", why);
	EXPECT_EQ(try(TWO("[8,16]", "[0,8]"), 16, why), 0);
	/* a hole is allowed; overlap is not */
	EXPECT_EQ(try(TWO("[0,8]", "[12,20]"), 20, why), 0);
	EXPECT_EQ(try(TWO("[0,8]", "[4,12]"), 16, why), -EINVAL);
	EXPECT_NE(strstr(why, "overlap"), NULL) TH_LOG("%s", why);
	EXPECT_EQ(try(TWO("[0,8]", "[0,8]"), 16, why), -EINVAL);
	EXPECT_EQ(try(TWO("[4,12]", "[0,8]"), 16, why), -EINVAL);
	/* empty tensors overlap nothing */
	EXPECT_EQ(try("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
		      "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\","
		      "\"shape\":[0],\"data_offsets\":[4,4]}}", 8, why), 0);
#undef TWO
}

TEST(metadata_and_names)
{
	char why[160], json[600], name[300];

	EXPECT_EQ(try("{\"__metadata__\":{}}", 0, why), 0);
	EXPECT_EQ(try("{\"__metadata__\":[]}", 0, why), -EINVAL);
	EXPECT_EQ(try("{\"__metadata__\":{\"a\":1}}", 0, why), -EINVAL);
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(json, sizeof(json), "{\"%s\":{\"dtype\":\"F32\","
		 "\"shape\":[1],\"data_offsets\":[0,4]}}", name);
	EXPECT_EQ(try(json, 4, why), 0) TH_LOG("%s", why);
	name[255] = 'n';
	name[256] = '\0';
	snprintf(json, sizeof(json), "{\"%s\":{\"dtype\":\"F32\","
		 "\"shape\":[1],\"data_offsets\":[0,4]}}", name);
	EXPECT_EQ(try(json, 4, why), -EINVAL);
	EXPECT_EQ(strstr(why, "nnnn"), NULL) TH_LOG("%s", why);
}

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

TEST(f16_known_patterns)
{
	static const struct { uint16_t h; uint32_t f; } v[] = {
		{ 0x0000, 0x00000000 }, { 0x8000, 0x80000000 },
		{ 0x3c00, 0x3f800000 }, { 0xc000, 0xc0000000 },
		{ 0x7bff, 0x477fe000 },	/* 65504, the largest */
		{ 0x0400, 0x38800000 },	/* 2^-14, smallest normal */
		{ 0x03ff, 0x387fc000 },	/* largest subnormal */
		{ 0x0200, 0x38000000 },	/* 2^-15 */
		{ 0x0001, 0x33800000 },	/* 2^-24, smallest subnormal */
		{ 0x8001, 0xb3800000 },
		{ 0x3555, 0x3eaaa000 },	/* 0.333251953125 */
		{ 0x7c00, 0x7f800000 }, { 0xfc00, 0xff800000 },
		{ 0x7e00, 0x7fc00000 },	/* quiet NaN */
		{ 0x7c01, 0x7f802000 },	/* signalling NaN, payload */
		{ 0xfe01, 0xffc02000 },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		EXPECT_EQ(f16_bits_to_f32_bits(v[i].h), v[i].f)
			TH_LOG("0x%04x", v[i].h);
		EXPECT_EQ(bits(f16_to_f32(v[i].h)), v[i].f);
	}
}

/* every one of the 65536 patterns against the compiler's _Float16 */
TEST(f16_exhaustive)
{
#ifdef __FLT16_MAX__
	_Float16 h;
	uint32_t i;
	int bad = 0;
	float want;

	for (i = 0; i < 65536; i++) {
		uint16_t u = i;

		memcpy(&h, &u, 2);
		want = h;
		if (isnan(want) ? !isnan(f16_to_f32(u)) :
				  bits(want) != bits(f16_to_f32(u)))
			bad++;
	}
	EXPECT_EQ(bad, 0);
#else
	SKIP(return, "no _Float16 in this compiler");
#endif
}

TEST(bf16_known_patterns)
{
	static const struct { uint16_t b; uint32_t f; } v[] = {
		{ 0x0000, 0x00000000 }, { 0x8000, 0x80000000 },
		{ 0x3f80, 0x3f800000 }, { 0xc040, 0xc0400000 },
		{ 0x0001, 0x00010000 },	/* f32 subnormal */
		{ 0x0080, 0x00800000 },	/* smallest normal */
		{ 0x7f7f, 0x7f7f0000 },	/* largest */
		{ 0x7f80, 0x7f800000 }, { 0xff80, 0xff800000 },
		{ 0x7fc0, 0x7fc00000 }, { 0x7f81, 0x7f810000 },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		EXPECT_EQ(bits(bf16_to_f32(v[i].b)), v[i].f)
			TH_LOG("0x%04x", v[i].b);
}

TEST(arrays_from_unaligned_bytes)
{
	unsigned char src[1 + 8] = { 0, 0x00, 0x3c, 0x00, 0xc0,
				     0x01, 0x00, 0x00, 0x7c };
	unsigned char bsrc[1 + 4] = { 0, 0x80, 0x3f, 0x80, 0xff };
	float dst[4];

	f16_to_f32_array(dst, src + 1, 4);
	EXPECT_EQ(bits(dst[0]), 0x3f800000u);
	EXPECT_EQ(bits(dst[1]), 0xc0000000u);
	EXPECT_EQ(bits(dst[2]), 0x33800000u);
	EXPECT_EQ(bits(dst[3]), 0x7f800000u);
	bf16_to_f32_array(dst, bsrc + 1, 2);
	EXPECT_EQ(bits(dst[0]), 0x3f800000u);
	EXPECT_EQ(bits(dst[1]), 0xff800000u);
}

TEST_HARNESS_MAIN
