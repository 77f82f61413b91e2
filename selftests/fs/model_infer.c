// SPDX-License-Identifier: MIT
/*
 * model_infer.c - models/NAME/infer: greedy generation agrees with the
 * fixture's numpy reference (independent of the C code) token by token,
 * a long generation agrees with the same tokens fed back one at a time,
 * the llama2.c and HF files of the same weights generate the same
 * tokens; a request whose lease expires mid-way fails EKEYEXPIRED after
 * its streamed part and the model turns expired; unload with requests
 * in flight (one running, one queued) fails them and gives the memory
 * back before it returns; rmdir
 * of the model's lease unloads the model; malformed requests are
 * refused. The debug knob model_step_hold keeps a request inside its
 * second step, so every "mid-request" here is deterministic.
 */
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_infer, "write_checkpoints.py", "")

#define VOCAB 96	/* the fixture's default */

/* Sequence @want (0-based) of ref-l2c.bin: its tokens and logits. */
static int ref_seq(const char *dir, unsigned want, unsigned *len,
		   uint32_t **toks, float **logits, struct blob *b)
{
	uint32_t n, l, i;
	size_t off = 4;

	if (slurp(dir, "ref-l2c.bin", b))
		return -1;
	memcpy(&n, b->p, 4);
	for (i = 0; i < n; i++) {
		memcpy(&l, b->p + off, 4);
		off += 4;
		if (i == want) {
			*len = l;
			*toks = (uint32_t *)(b->p + off);
			*logits = (float *)(b->p + off + 4 * l);
			return 0;
		}
		off += 4 * l + 4 * (size_t)l * VOCAB;
	}
	return -1;
}

/* argmax of @row, and whether it wins by a clear margin. */
static unsigned argmax(const float *row, bool *clear)
{
	unsigned i, best = 0, second = 1;

	for (i = 1; i < VOCAB; i++) {
		if (row[i] > row[best]) {
			second = best;
			best = i;
		} else if (i != best && row[i] > row[second]) {
			second = i;
		}
	}
	*clear = row[best] - row[second] > 1e-3f;
	return best;
}

static int ids_line(char *buf, size_t size, const char *opts,
		    const uint32_t *t, unsigned n)
{
	int len = snprintf(buf, size, "%s output=ids ids", opts);
	unsigned i;

	for (i = 0; i < n; i++)
		len += snprintf(buf + len, size - len, " %u", t[i]);
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

TEST_F(model_infer, greedy_matches_reference)
{
	const struct gl_daemon *d = &self->d;
	char req[1024], out[1024];
	unsigned len = 0, k, checked = 0;
	uint32_t *toks = NULL;
	float *logits = NULL;
	struct blob b;

	ASSERT_EQ(ref_seq(self->dir, 2, &len, &toks, &logits, &b), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	for (k = 1; k <= len; k++) {
		unsigned got = 0, want;
		bool clear;

		want = argmax(logits + (size_t)(k - 1) * VOCAB, &clear);
		ids_line(req, sizeof(req), "max_tokens=1", toks, k);
		ASSERT_GT(model_infer(d, "m", req, out, sizeof(out)), 0);
		ASSERT_EQ(model_ids(out, &got, 1), 1);
		if (!clear)
			continue;
		EXPECT_EQ(got, want) TH_LOG("after %u tokens", k);
		checked++;
	}
	EXPECT_GT(checked, len / 2);
	free(b.p);
}

TEST_F(model_infer, generation_equals_feeding_back)
{
	const struct gl_daemon *d = &self->d;
	uint32_t seq[32] = { 1, 17, 42 };
	unsigned gen[16], one = 0, i;
	char req[1024], out[1024], hf[1024];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=2\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load h %s/hf\n",
			       self->dir), 0);
	ids_line(req, sizeof(req), "max_tokens=12", seq, 3);
	ASSERT_GT(model_infer(d, "m", req, out, sizeof(out)), 0);
	ASSERT_EQ(model_ids(out, gen, 16), 12) TH_LOG("%s", out);
	/* the same weights in HF's layout and RoPE: the same tokens */
	ASSERT_GT(model_infer(d, "h", req, hf, sizeof(hf)), 0);
	EXPECT_STREQ(hf, out);
	/* the prompt in steps of max_batch rows, then fed token by token */
	for (i = 0; i < 12; i++) {
		ids_line(req, sizeof(req), "max_tokens=1", seq, 3 + i);
		ASSERT_GT(model_infer(d, "m", req, out, sizeof(out)), 0);
		ASSERT_EQ(model_ids(out, &one, 1), 1);
		EXPECT_EQ(one, gen[i]) TH_LOG("token %u", i);
		seq[3 + i] = one;
	}
	/* a seeded sample is the same every time */
	ASSERT_GT(model_infer(d, "m", "temperature=1 top_p=0.9 seed=7 "
			      "max_tokens=8 output=ids ids 1 5\n", out,
			      sizeof(out)), 0);
	ASSERT_GT(model_infer(d, "m", "temperature=1 top_p=0.9 seed=7 "
			      "max_tokens=8 output=ids ids 1 5\n", hf,
			      sizeof(hf)), 0);
	EXPECT_STREQ(hf, out);
}

TEST_F(model_infer, bad_requests)
{
	const struct gl_daemon *d = &self->d;
	static const char *const bad[] = {
		"ids 1 96\n", "ids\n", "max_tokens=0 ids 1\n",
		"color=red ids 1\n", "temperature=-1 ids 1\n",
		"top_p=0 ids 1\n", "ids 1 x\n", "ids 1\nids 2\n", "\n",
	};
	char out[256], big[512];
	unsigned i;
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin max_ctx=8\n",
			       self->dir, self->dir), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(model_infer(d, "m", bad[i], out, sizeof(out)),
			  -EINVAL) TH_LOG("%s", bad[i]);
	/* 8 positions: a prompt of 8 leaves none to generate, nor can 9
	 * tokens be made (the binary form alike: model_ids.c) */
	EXPECT_EQ(model_infer(d, "m", "ids 1 2 3 4 5 6 7 8\n", out,
			      sizeof(out)), -EFBIG);
	EXPECT_EQ(model_infer(d, "m", "max_tokens=9 ids 1\n", out,
			      sizeof(out)), -EFBIG);
	/* max_ctx itself is cut to the 4 positions left */
	EXPECT_GT(model_infer(d, "m", "max_tokens=8 output=ids ids 1 2 3 4\n",
			      out, sizeof(out)), 0);
	EXPECT_EQ(model_ids(out, (unsigned[16]){ 0 }, 16), 4) TH_LOG("%s", out);
	/* text is encoded with tokenizer.bin (the fixture's tokens are
	 * <unk> <s> </s> and one per ASCII character from ' '): "AB" is
	 * BOS, the dummy " ", 'A', 'B', the same request as those ids */
	{
		char by_text[256], by_ids[256];
		int nt, ni;

		nt = model_infer(d, "m", "max_tokens=3 output=ids AB\n",
				 by_text, sizeof(by_text));
		ni = model_infer(d, "m", "max_tokens=3 output=ids ids 1 3 36 "
				 "37\n", by_ids, sizeof(by_ids));
		ASSERT_GT(nt, 0);
		ASSERT_EQ(nt, ni);
		EXPECT_EQ(memcmp(by_text, by_ids, (size_t)nt), 0);
		/* a character outside the vocabulary */
		EXPECT_EQ(model_infer(d, "m", "max_tokens=3 \xc3\xa9\n",
				      out, sizeof(out)), -EINVAL);
	}
	EXPECT_GE(model_infer(d, "m", "max_tokens=3 ids 1 2\n", out,
			      sizeof(out)), 0);
	/* one request per open file */
	fd = open(gl_path(d, "models/m/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(write(fd, "ids 1\n", 6), 6);
	EXPECT_EQ(write(fd, "ids 1\n", 6), -1);
	EXPECT_EQ(errno, EINVAL);
	close(fd);
	memset(big, '1', sizeof(big));
	big[0] = 'i';
	big[1] = 'd';
	big[2] = 's';
	big[3] = ' ';
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(model_infer(d, "m", big, out, sizeof(out)), -EINVAL);
}

/* Start a request held after its first token; return the open fd. */
static int held_request(const struct gl_daemon *d, char *first, size_t n)
{
	ssize_t r;
	int fd;

	if (gl_ctl_write(d, "ctl", "model_step_hold 1\n"))
		return -1;
	fd = open(gl_path(d, "models/m/infer"), O_RDWR);
	if (fd < 0)
		return -1;
	if (write(fd, "max_tokens=20 output=ids ids 1 2 3\n", 35) != 35)
		return -1;
	r = read(fd, first, n - 1);	/* the first token, then it holds */
	if (r <= 0)
		return -1;
	first[r] = '\0';
	return fd;
}

TEST_F(model_infer, expiry_mid_request_is_ekeyexpired)
{
	const struct gl_daemon *d = &self->d;
	char first[64], buf[GL_TEXT_MAX];
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=60\n", self->dir), 0);
	fd = held_request(d, first, sizeof(first));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(model_ids(first, (unsigned[4]){ 0 }, 4), 1);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 120\n"), 0);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(fd);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "expired");
	EXPECT_EQ(model_infer(d, "m", "ids 1\n", buf, sizeof(buf)),
		  -EKEYEXPIRED);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

/* Read @fd to its end: the last read's result (0, or -1 with errno). */
static ssize_t read_to_end(int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n;
}

TEST_F(model_infer, unload_with_requests_in_flight)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	static const char req[] = "max_tokens=20 output=ids ids 1 2 3\n";
	char first[64], buf[64];
	struct stat st;
	int fd, fd2;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=2\n", self->dir), 0);
	/* one request running (held in its step), one queued behind it */
	fd = held_request(d, first, sizeof(first));
	ASSERT_GE(fd, 0);
	fd2 = open(gl_path(d, "models/m/infer"), O_RDWR);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(write(fd2, req, strlen(req)), (ssize_t)strlen(req));
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	/* the memory is back when unload returns, both requests failed */
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, ECANCELED);
	close(fd);
	EXPECT_EQ(read_to_end(fd2), -1);
	EXPECT_EQ(errno, ECANCELED);
	close(fd2);
	EXPECT_EQ(stat(gl_path(d, "models/m"), &st), -1);
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_F(model_infer, rmdir_of_its_lease_unloads)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	char first[64], buf[GL_TEXT_MAX];
	struct stat st;
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	fd = held_request(d, first, sizeof(first));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(lease_remove(d, "model.m"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(stat(gl_path(d, "models/m"), &st), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_GE(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "last_error", 10), 0) TH_LOG("%s", buf);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, ECANCELED);
	close(fd);
	/* the name is free again */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
}

/*
 * Text answers through the fixture's tokenizer.bin: token t >= 3 is the
 * byte 0x1d + t, 0 is "<unk>"; a leading space right after BOS is
 * dropped; BOS or EOS ends the answer unprinted.
 */
TEST_F(model_infer, text_output_decodes_the_same_tokens)
{
	const struct gl_daemon *d = &self->d;
	char ids[1024], text[1024], want[1024] = "";
	unsigned gen[32], i, prev = 1;
	int n;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin\n", self->dir,
			       self->dir), 0);
	ASSERT_GT(model_infer(d, "m", "max_tokens=24 output=ids ids 1\n",
			      ids, sizeof(ids)), 0);
	n = model_ids(ids, gen, 32);
	ASSERT_EQ(n, 24);
	for (i = 0; i < (unsigned)n; i++) {
		size_t l = strlen(want);

		if (gen[i] == 1 || gen[i] == 2)
			break;
		if (!gen[i])
			strcat(want, "<unk>");
		else if (!(prev == 1 && gen[i] == 3))
			want[l] = (char)(0x1d + gen[i]), want[l + 1] = '\0';
		prev = gen[i];
	}
	ASSERT_GE(model_infer(d, "m", "max_tokens=24 ids 1\n", text,
			      sizeof(text)), 0);
	EXPECT_STREQ(text, want);
}

/* max_batch 1 and max_queue 0: one KV slot and no queue; a second
 * request meanwhile is EBUSY. */
TEST_F(model_infer, every_slot_taken_is_ebusy)
{
	const struct gl_daemon *d = &self->d;
	char first[64], buf[256];
	ssize_t n;
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_queue=0\n", self->dir), 0);
	fd = held_request(d, first, sizeof(first));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(model_infer(d, "m", "ids 1\n", buf, sizeof(buf)), -EBUSY);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	/* the held one runs to its end, whole; its slot is free at its
	 * end of file (the slot goes back before the end is told) */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	EXPECT_EQ(n, 0);
	close(fd);
	EXPECT_GT(model_infer(d, "m", "max_tokens=2 ids 1\n", buf,
			      sizeof(buf)), 0);
}

/* Its owner may resize the model's lease; a step never runs past it. */
TEST_F(model_infer, shrunk_lease_is_efault)
{
	const struct gl_daemon *d = &self->d;
	char buf[256];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	ASSERT_EQ(lease_write(d, "model.m", "ctl", "vram 4096\n"), 0);
	EXPECT_EQ(model_infer(d, "m", "ids 1\n", buf, sizeof(buf)), -EFAULT);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_HARNESS_MAIN
