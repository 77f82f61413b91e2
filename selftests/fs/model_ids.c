// SPDX-License-Identifier: MIT
/*
 * model_ids.c - the binary form of a language model's request
 * (uapi/model.h's gl_infer_ids, then u32 ids; the answer u32 ids as they
 * are made): greedy and seeded answers equal the text form's output=ids
 * for the same prompt, options and seed, a seeded sample is the same
 * every time, GL_INFER_STOP_EOS ends the answer at BOS or EOS, the answer
 * streams id by id and a lease that expires mid-request fails it
 * EKEYEXPIRED; every field is checked (EINVAL naming it, EFBIG for a
 * prompt or max_tokens over max_ctx), in both forms alike.
 */
#include <math.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_ids, "write_checkpoints.py", "--no-ref")

#define MAX_IDS	64

struct ids_req {
	struct gl_infer_ids h;
	uint32_t id[MAX_IDS];
};

/* A request for @n ids of @id with these options; its length. */
static size_t ids_req(struct ids_req *r, uint32_t max_tokens, float t,
		      float top_p, uint64_t seed, unsigned n,
		      const uint32_t *id)
{
	memset(r, 0, sizeof(*r));
	r->h.magic = GL_INFER_IDS_MAGIC;
	r->h.n_ids = n;
	r->h.max_tokens = max_tokens;
	r->h.temperature = t;
	r->h.top_p = top_p;
	r->h.seed = seed;
	memcpy(r->id, id, n * sizeof(*id));
	return sizeof(r->h) + n * sizeof(*id);
}

/* The answer's ids into @out: their count, or the failing -errno. */
static int infer_ids(const struct gl_daemon *d, const struct ids_req *r,
		     size_t len, uint32_t *out)
{
	int n = model_infer_raw(d, "m", r, len, out,
				MAX_IDS * sizeof(*out));

	if (n < 0)
		return n;
	return n % 4 ? -EPROTO : n / 4;
}

/* The text form's answer (output=ids) to @opts and the ids of @id. */
static int text_ids(const struct gl_daemon *d, const char *opts,
		    unsigned n, const uint32_t *id, uint32_t *out)
{
	char req[512], ans[1024];
	unsigned got[MAX_IDS], i;
	int len, r;

	len = snprintf(req, sizeof(req), "%s output=ids ids", opts);
	for (i = 0; i < n; i++)
		len += snprintf(req + len, sizeof(req) - len, " %u", id[i]);
	snprintf(req + len, sizeof(req) - len, "\n");
	r = model_infer(d, "m", req, ans, sizeof(ans));
	if (r < 0)
		return r;
	r = model_ids(ans, got, MAX_IDS);
	for (i = 0; i < (unsigned)r; i++)
		out[i] = got[i];
	return r;
}

static const uint32_t prompt[] = { 1, 17, 42 };

TEST_F(model_ids, greedy_and_seeded_equal_the_text_form)
{
	const struct gl_daemon *d = &self->d;
	uint32_t bin[MAX_IDS], txt[MAX_IDS], again[MAX_IDS];
	struct ids_req r;
	size_t len;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=2\n", self->dir), 0);
	/* greedy */
	len = ids_req(&r, 12, 0.0f, 1.0f, 0, 3, prompt);
	ASSERT_EQ(infer_ids(d, &r, len, bin), 12);
	ASSERT_EQ(text_ids(d, "max_tokens=12", 3, prompt, txt), 12);
	EXPECT_EQ(memcmp(bin, txt, 12 * 4), 0);
	/* sampled with a seed: the same every time, and as the text form */
	len = ids_req(&r, 8, 1.0f, 0.9f, 7, 3, prompt);
	ASSERT_EQ(infer_ids(d, &r, len, bin), 8);
	ASSERT_EQ(infer_ids(d, &r, len, again), 8);
	EXPECT_EQ(memcmp(bin, again, 8 * 4), 0);
	ASSERT_EQ(text_ids(d, "temperature=1 top_p=0.9 seed=7 max_tokens=8",
			   3, prompt, txt), 8);
	EXPECT_EQ(memcmp(bin, txt, 8 * 4), 0);
	/* another seed, another sample (this fixture's seeds 7 and 8) */
	r.h.seed = 8;
	ASSERT_EQ(infer_ids(d, &r, len, again), 8);
	EXPECT_NE(memcmp(bin, again, 8 * 4), 0);
	/* max_tokens up to max_ctx (32), cut to the positions left */
	len = ids_req(&r, 32, 0.0f, 1.0f, 0, 3, prompt);
	ASSERT_EQ(infer_ids(d, &r, len, bin), 29);
	ASSERT_EQ(text_ids(d, "max_tokens=32", 3, prompt, txt), 29);
	EXPECT_EQ(memcmp(bin, txt, 29 * 4), 0);
}

TEST_F(model_ids, stop_eos_ends_the_answer)
{
	const struct gl_daemon *d = &self->d;
	uint32_t all[MAX_IDS], cut[MAX_IDS];
	unsigned seed, k = 0;
	struct ids_req r;
	int n = 0;
	size_t len;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	/* a seeded, nearly uniform sample that makes a BOS or an EOS */
	for (seed = 0; seed < 64; seed++) {
		len = ids_req(&r, 29, 100.0f, 1.0f, seed, 3, prompt);
		n = infer_ids(d, &r, len, all);
		ASSERT_EQ(n, 29);
		for (k = 0; k < (unsigned)n; k++)
			if (all[k] == 1 || all[k] == 2)
				break;
		if (k < (unsigned)n)
			break;
	}
	ASSERT_LT(seed, 64u);
	r.h.flags = GL_INFER_STOP_EOS;
	EXPECT_EQ(infer_ids(d, &r, len, cut), (int)k) TH_LOG("seed %u", seed);
	EXPECT_EQ(memcmp(all, cut, k * 4), 0);
}

/* A request held after its first id (model_step_hold): its fd. */
static int held_ids(const struct gl_daemon *d, uint32_t *first)
{
	struct ids_req r;
	size_t len = ids_req(&r, 20, 0.0f, 1.0f, 0, 3, prompt);
	int fd;

	if (gl_ctl_write(d, "ctl", "model_step_hold 1\n"))
		return -1;
	fd = open(gl_path(d, "models/m/infer"), O_RDWR);
	if (fd < 0)
		return -1;
	if (write(fd, &r, len) != (ssize_t)len ||
	    read(fd, first, 64) != 4) {	/* one id, then it holds */
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(model_ids, streams_and_fails_ekeyexpired_mid_request)
{
	const struct gl_daemon *d = &self->d;
	uint32_t first[16], greedy[MAX_IDS];
	char buf[GL_TEXT_MAX];
	struct ids_req r;
	size_t len;
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=60\n", self->dir), 0);
	len = ids_req(&r, 1, 0.0f, 1.0f, 0, 3, prompt);
	ASSERT_EQ(infer_ids(d, &r, len, greedy), 1);
	fd = held_ids(d, first);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(first[0], greedy[0]);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 120\n"), 0);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(fd);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "expired");
	EXPECT_EQ(infer_ids(d, &r, len, greedy), -EKEYEXPIRED);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

/* @r refused with @err, and the model's last_error names @field. */
#define EXPECT_REFUSED(r, len, err, field)				\
	do {								\
		char _e[GL_TEXT_MAX] = "";				\
		EXPECT_EQ(infer_ids(d, (r), (len), out), (err))		\
			TH_LOG("%s", field);				\
		EXPECT_EQ(gl_read_key_str(d, "models/m/ctl",		\
					  "last_error", _e,		\
					  sizeof(_e)), 0);		\
		EXPECT_NE(strstr(_e, field), NULL) TH_LOG("%s", _e);	\
	} while (0)

TEST_F(model_ids, every_field_is_checked)
{
	const struct gl_daemon *d = &self->d;
	static const uint32_t eight[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct {
		struct gl_infer_tensor h;
		float x[3];
	} t = { .h = { .magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		       .rows = 1, .cols = 3 } };
	uint32_t out[MAX_IDS];
	struct ids_req r;
	size_t len;

	/* 8 positions */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_ctx=8\n", self->dir), 0);
	len = ids_req(&r, 4, 0.0f, 1.0f, 0, 3, prompt);
	EXPECT_EQ(infer_ids(d, &r, len, out), 4);
	EXPECT_REFUSED(&r, sizeof(r.h) - 4, -EINVAL, "header");
	r.h.reserved0 = 1;
	EXPECT_REFUSED(&r, len, -EINVAL, "reserved");
	r.h.reserved0 = 0;
	r.h.reserved[0] = 1;
	EXPECT_REFUSED(&r, len, -EINVAL, "reserved");
	r.h.reserved[0] = 0;
	r.h.flags = 4;	/* the first bit unknown */
	EXPECT_REFUSED(&r, len, -EINVAL, "flags");
	r.h.flags = 0;
	r.h.n_ids = 4;	/* three ids follow */
	EXPECT_REFUSED(&r, len, -EINVAL, "n_ids");
	r.h.n_ids = 2;
	EXPECT_REFUSED(&r, len, -EINVAL, "n_ids");
	r.h.n_ids = 0;
	EXPECT_REFUSED(&r, sizeof(r.h), -EINVAL, "prompt");
	r.h.n_ids = 3;
	r.id[2] = 96;	/* the vocabulary is 96 */
	EXPECT_REFUSED(&r, len, -EINVAL, "ids");
	r.id[2] = 95;
	EXPECT_EQ(infer_ids(d, &r, len, out), 4);
	r.h.max_tokens = 0;
	EXPECT_REFUSED(&r, len, -EINVAL, "max_tokens");
	r.h.max_tokens = 4;
	r.h.temperature = -1.0f;
	EXPECT_REFUSED(&r, len, -EINVAL, "temperature");
	r.h.temperature = 101.0f;
	EXPECT_REFUSED(&r, len, -EINVAL, "temperature");
	r.h.temperature = NAN;
	EXPECT_REFUSED(&r, len, -EINVAL, "temperature");
	r.h.temperature = 100.0f;
	r.h.top_p = 0.0f;
	EXPECT_REFUSED(&r, len, -EINVAL, "top_p");
	r.h.top_p = 1.5f;
	EXPECT_REFUSED(&r, len, -EINVAL, "top_p");
	r.h.top_p = NAN;
	EXPECT_REFUSED(&r, len, -EINVAL, "top_p");
	r.h.top_p = 0.5f;
	EXPECT_EQ(infer_ids(d, &r, len, out), 4);

	/* over the bounds: a prompt of max_ctx ids, max_tokens over it */
	len = ids_req(&r, 1, 0.0f, 1.0f, 0, 8, eight);
	EXPECT_REFUSED(&r, len, -EFBIG, "prompt");
	len = ids_req(&r, 1, 0.0f, 1.0f, 0, 7, eight);
	EXPECT_EQ(infer_ids(d, &r, len, out), 1);
	len = ids_req(&r, 9, 0.0f, 1.0f, 0, 3, prompt);
	EXPECT_REFUSED(&r, len, -EFBIG, "max_tokens");
	r.h.max_tokens = 8;	/* cut to the 5 positions left */
	EXPECT_EQ(infer_ids(d, &r, len, out), 5);
	/* the text form alike */
	EXPECT_EQ(text_ids(d, "max_tokens=9", 3, prompt, out), -EFBIG);
	EXPECT_EQ(text_ids(d, "max_tokens=8", 3, prompt, out), 5);
	EXPECT_EQ(text_ids(d, "", 8, eight, out), -EFBIG);

	/* a tensor is an mlp's */
	EXPECT_EQ(model_infer_raw(d, "m", &t, sizeof(t), out,
				  sizeof(out)), -EOPNOTSUPP);
}

/* A request over 64 KiB is EFBIG whatever its form. */
TEST_F(model_ids, request_over_64k_is_efbig)
{
	const struct gl_daemon *d = &self->d;
	size_t len = 65536 + 4;
	struct ids_req *r = calloc(1, len);
	char *text = malloc(len), e[GL_TEXT_MAX];
	uint32_t out[4];

	ASSERT_NE(r, NULL);
	ASSERT_NE(text, NULL);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	r->h.magic = GL_INFER_IDS_MAGIC;
	r->h.n_ids = (len - sizeof(r->h)) / 4;
	r->h.max_tokens = 1;
	r->h.top_p = 1.0f;
	EXPECT_EQ(model_infer_raw(d, "m", r, len, out, sizeof(out)), -EFBIG);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "last_error", e,
				  sizeof(e)), 0);
	EXPECT_NE(strstr(e, "at most 65536"), NULL) TH_LOG("%s", e);
	memset(text, ' ', len);
	memcpy(text, "ids 1", 5);
	EXPECT_EQ(model_infer_raw(d, "m", text, len, out, sizeof(out)),
		  -EFBIG);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "last_error", e,
				  sizeof(e)), 0);
	EXPECT_NE(strstr(e, "at most 65536"), NULL) TH_LOG("%s", e);
	free(r);
	free(text);
}

TEST_HARNESS_MAIN
