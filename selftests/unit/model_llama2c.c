/* SPDX-License-Identifier: MIT */
/*
 * model_llama2c.c - the llama2.c checkpoint parser: both headers, tied and
 * untied classifiers, every tensor's place in run.c's and export.py's
 * order, and EINVAL for files cut at any boundary, with bytes left over,
 * or with lying, zero, negative, absurd or inconsistent fields.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/llama2c.h"
#include "selftests/harness.h"

struct shape {
	int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
};

static const struct shape tiny = { 64, 176, 2, 4, 2, 96, 32 };
/* small enough to cut at every byte (2 KiB) */
static const struct shape wee = { 8, 12, 1, 2, 1, 5, 4 };

/* bytes of all tensors (no header): an oracle independent of the parser */
static size_t body_bytes(const struct shape *s, int version, bool tied)
{
	size_t hd = s->dim / s->heads, kv = s->kv_heads * hd, n;

	n = (size_t)s->vocab * s->dim + 2 * (size_t)s->layers * s->dim +
	    (size_t)s->layers * s->dim * s->dim * 2 +
	    (size_t)s->layers * kv * s->dim * 2 +
	    (size_t)s->layers * s->hidden * s->dim * 3 + s->dim;
	if (!version)
		n += (size_t)s->seq * hd;	/* freq_cis real + imag */
	if (!tied)
		n += (size_t)s->vocab * s->dim;
	return n * 4;
}

/* a whole file with zero weights; vocab as given (negative allowed) */
static unsigned char *make(const struct shape *s, int version, int shared,
			   size_t body, size_t *len)
{
	size_t hdr = version ? L2C_V1_HEADER : L2C_LEGACY_HEADER;
	unsigned char *p = calloc(1, hdr + body);
	int32_t *f = (int32_t *)(p + (version ? 8 : 0));

	if (version) {
		((uint32_t *)p)[0] = L2C_MAGIC;
		((int32_t *)p)[1] = version;
		p[36] = shared;
	}
	memcpy(f, s, sizeof(*s));
	*len = hdr + body;
	return p;
}

static unsigned char *make_shape(const struct shape *shape, int version,
				 bool tied, size_t *len)
{
	struct shape s = *shape;

	if (!version && !tied)
		s.vocab = -s.vocab;
	return make(&s, version, tied, body_bytes(shape, version, tied), len);
}

static unsigned char *make_good(int version, bool tied, size_t *len)
{
	return make_shape(&tiny, version, tied, len);
}

TEST(legacy_untied_layout)
{
	struct l2c_file f;
	char why[128] = "";
	unsigned char *p;
	size_t len;
	uint64_t pos = L2C_LEGACY_HEADER;
	int i;

	p = make_good(0, false, &len);
	ASSERT_EQ(l2c_parse(p, len, &f, why, sizeof(why)), 0) TH_LOG("%s", why);
	EXPECT_EQ(f.cfg.version, 0);
	EXPECT_EQ(f.cfg.vocab_size, 96u);
	EXPECT_FALSE(f.cfg.shared_classifier);
	EXPECT_EQ(f.cfg.head_size, 16u);
	EXPECT_EQ(f.t[L2C_WK].len, 2u * 32 * 64 * 4);
	EXPECT_EQ(f.t[L2C_W2].len, 2u * 64 * 176 * 4);
	/* run.c's order, contiguous from the header to rms_final */
	for (i = L2C_TOKEN_EMBEDDING; i <= L2C_RMS_FINAL; i++) {
		EXPECT_EQ(f.t[i].off, pos) TH_LOG("%s", l2c_tensor_name(i));
		pos += f.t[i].len;
	}
	/* freq_cis: 32 positions x 8 pairs, real and imaginary */
	EXPECT_EQ(f.t[L2C_WCLS].off, pos + 32 * 8 * 2 * 4);
	EXPECT_EQ(f.t[L2C_WCLS].off + f.t[L2C_WCLS].len, len);
	free(p);
}

TEST(legacy_tied_shares_the_embedding)
{
	struct l2c_file f;
	unsigned char *p;
	size_t len;

	p = make_good(0, true, &len);
	ASSERT_EQ(l2c_parse(p, len, &f, NULL, 0), 0);
	EXPECT_TRUE(f.cfg.shared_classifier);
	EXPECT_EQ(f.t[L2C_WCLS].off, f.t[L2C_TOKEN_EMBEDDING].off);
	EXPECT_EQ(f.t[L2C_WCLS].len, f.t[L2C_TOKEN_EMBEDDING].len);
	free(p);
}

TEST(ak42_layout_is_export_py_order)
{
	static const enum l2c_tensor order[] = {
		L2C_RMS_ATT, L2C_RMS_FFN, L2C_RMS_FINAL, L2C_TOKEN_EMBEDDING,
		L2C_WQ, L2C_WK, L2C_WV, L2C_WO, L2C_W1, L2C_W2, L2C_W3,
		L2C_WCLS,
	};
	struct l2c_file f;
	unsigned char *p;
	uint64_t pos = L2C_V1_HEADER;
	size_t len, i;

	p = make_good(1, false, &len);
	ASSERT_EQ(l2c_parse(p, len, &f, NULL, 0), 0);
	EXPECT_EQ(f.cfg.version, 1);
	EXPECT_FALSE(f.cfg.shared_classifier);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		EXPECT_EQ(f.t[order[i]].off, pos)
			TH_LOG("%s", l2c_tensor_name(order[i]));
		pos += f.t[order[i]].len;
	}
	EXPECT_EQ(pos, len);
	free(p);

	p = make_good(1, true, &len);
	ASSERT_EQ(l2c_parse(p, len, &f, NULL, 0), 0);
	EXPECT_TRUE(f.cfg.shared_classifier);
	EXPECT_EQ(f.t[L2C_WCLS].off, f.t[L2C_TOKEN_EMBEDDING].off);
	free(p);
}

/* every length but the right one is EINVAL: cut anywhere, or one more */
TEST(cut_anywhere_or_longer)
{
	struct l2c_file f;
	char why[128];
	unsigned char *p, *q;
	size_t len, cut;
	int v, tied, bad;

	for (v = 0; v <= 1; v++) {
		for (tied = 0; tied <= 1; tied++) {
			p = make_shape(&wee, v, tied, &len);
			q = malloc(len + 4);
			memcpy(q, p, len);
			memset(q + len, 0, 4);
			bad = 0;
			for (cut = 0; cut < len; cut++) {
				/* parse a copy of exactly @cut bytes */
				unsigned char *c = malloc(cut ? cut : 1);

				memcpy(c, p, cut);
				if (l2c_parse(c, cut, &f, why, sizeof(why)) !=
				    -EINVAL)
					bad++;
				free(c);
			}
			EXPECT_EQ(bad, 0) TH_LOG("v%d tied %d", v, tied);
			EXPECT_EQ(l2c_parse(q, len + 4, &f, why, sizeof(why)),
				  -EINVAL);
			EXPECT_NE(strstr(why, "claims"), NULL);
			EXPECT_EQ(l2c_parse(q, len - 1, &f, why, sizeof(why)),
				  -EINVAL);
			free(q);
			free(p);
		}
	}
}

static int parse_shape(const struct shape *s, int version, char *why)
{
	struct l2c_file f;
	unsigned char *p;
	size_t len;
	int err;

	/* a body sized for the tiny shape: right only if @s is tiny */
	p = make(s, version, 0, body_bytes(&tiny, version, false), &len);
	err = l2c_parse(p, len, &f, why, 128);
	free(p);
	return err;
}

TEST(bad_fields_are_einval)
{
	struct shape s;
	char why[128];
	int32_t *field;
	int i, v;
	static const int32_t bad[] = { 0, -1, INT32_MIN, INT32_MAX, 1 << 25 };
	size_t b;

	for (v = 0; v <= 1; v++) {
		for (i = 0; i < 7; i++) {
			for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
				s = tiny;
				if (!v)
					s.vocab = -s.vocab;
				field = &s.dim + i;
				/* in legacy files -vocab is a flag, not bad */
				if (!v && i == 5 && bad[b] == INT32_MAX)
					continue;
				*field = bad[b];
				EXPECT_EQ(parse_shape(&s, v, why), -EINVAL)
					TH_LOG("v%d field %d = %d", v, i,
					       bad[b]);
				if (!bad[b])
					EXPECT_NE(strstr(why, "not positive"),
						  NULL) TH_LOG("%s", why);
			}
		}
	}
	s = tiny;
	s.heads = 5;		/* does not divide 64 */
	EXPECT_EQ(parse_shape(&s, 1, why), -EINVAL);
	EXPECT_NE(strstr(why, "does not divide dim"), NULL) TH_LOG("%s", why);
	s = tiny;
	s.kv_heads = 3;		/* does not divide 4 */
	EXPECT_EQ(parse_shape(&s, 1, why), -EINVAL);
	EXPECT_NE(strstr(why, "n_kv_heads"), NULL) TH_LOG("%s", why);
	s = tiny;
	s.dim = 60;		/* head size 15: odd */
	s.heads = 4;
	s.kv_heads = 4;
	EXPECT_EQ(parse_shape(&s, 1, why), -EINVAL);
	EXPECT_NE(strstr(why, "odd"), NULL) TH_LOG("%s", why);
}

/* the largest header the bounds allow claims ~2^50 bytes: EINVAL, no read */
TEST(absurd_sizes_lie)
{
	struct shape s = { L2C_MAX_DIM, L2C_MAX_HIDDEN, L2C_MAX_LAYERS,
			   L2C_MAX_HEADS, L2C_MAX_HEADS, L2C_MAX_VOCAB,
			   L2C_MAX_SEQ };
	char why[128];

	EXPECT_EQ(parse_shape(&s, 0, why), -EINVAL);
	EXPECT_NE(strstr(why, "claims"), NULL) TH_LOG("%s", why);
	EXPECT_EQ(parse_shape(&s, 1, why), -EINVAL);
	s.dim = L2C_MAX_DIM + 2;
	EXPECT_EQ(parse_shape(&s, 1, why), -EINVAL);
	EXPECT_NE(strstr(why, "over"), NULL) TH_LOG("%s", why);
}

TEST(ak42_version_and_flag)
{
	struct l2c_file f;
	char why[128];
	unsigned char *p;
	size_t len;

	p = make_good(1, false, &len);
	((int32_t *)p)[1] = 2;		/* int8 (runq.c): not ours */
	EXPECT_EQ(l2c_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "version"), NULL);
	((int32_t *)p)[1] = 1;
	p[36] = 2;
	EXPECT_EQ(l2c_parse(p, len, &f, why, sizeof(why)), -EINVAL);
	EXPECT_NE(strstr(why, "shared_classifier"), NULL);
	free(p);
}

TEST(reason_fits_any_buffer)
{
	struct l2c_file f;
	char why[8];
	unsigned char p[3] = { 0 };

	memset(why, 'x', sizeof(why));
	EXPECT_EQ(l2c_parse(p, sizeof(p), &f, why, sizeof(why)), -EINVAL);
	EXPECT_EQ(why[7], '\0');
	EXPECT_EQ(l2c_parse(p, 0, &f, NULL, 0), -EINVAL);
}

TEST_HARNESS_MAIN
