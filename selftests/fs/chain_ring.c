/* SPDX-License-Identifier: MIT */
/*
 * chain_ring.c - launch chains through a lease's ring (GL_OP_CHAIN_BUILD,
 * _RUN, _FREE; Documentation/ring.md "Chains"), from a client written
 * from the ABI alone: a chain built once and run with new parameters
 * computes what the same launches through submit compute; a run whose
 * parameter breaks a step fails at that step (CQE step) after the steps
 * before it ran; rmdir mid-chain completes it with ECANCELED at the
 * running step; every malformed field of a chain and of the three
 * entries fails alone with its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selftests/fs/tring.h"
#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/chain.h"
#include "uapi/launch.h"
#include "uapi/ring.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

#define N 1000		/* elements of x (vram 0) and y (vram 4096) */
#define CHAIN_OFF 65536	/* where the tests lay chains in the data area */
#define PARAM_OFF 4096	/* and run parameters */

FIXTURE(cring) {
	struct gl_daemon d;
	struct tring r;
};

FIXTURE_SETUP(cring)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "r"), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "io 1M\n"), 0);
	ASSERT_EQ(tring_open(&self->d, "r", &self->r), 0);
}

FIXTURE_TEARDOWN(cring)
{
	tring_close(&self->r);
	GL_DAEMON_TEARDOWN(&self->d);
}

static struct gl_launch_arg arg_u32(uint32_t v)
{
	return (struct gl_launch_arg){ .type = GL_ARG_U32, .value = v };
}

static struct gl_launch_arg arg_f32(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	return (struct gl_launch_arg){ .type = GL_ARG_F32, .value = bits };
}

static struct gl_launch_arg arg_buf(uint64_t off, uint64_t len)
{
	return (struct gl_launch_arg){ .type = GL_ARG_BUF, .value = off,
				       .len = len };
}

/* Append one binary step at @p; its size. */
static size_t put_step(char *p, const char *kernel, uint32_t grid,
		       uint32_t block, unsigned nargs,
		       const struct gl_launch_arg *a)
{
	struct gl_launch_desc *b = (void *)p;

	memset(b, 0, GL_LAUNCH_DESC_SIZE(nargs));
	b->magic = GL_LAUNCH_MAGIC;
	b->version = GL_LAUNCH_VERSION;
	b->nargs = (uint16_t)nargs;
	snprintf(b->kernel, sizeof(b->kernel), "%s", kernel);
	b->grid[0] = grid;
	b->grid[1] = b->grid[2] = 1;
	b->block[0] = block;
	b->block[1] = b->block[2] = 1;
	if (nargs)
		memcpy(b->args, a, nargs * sizeof(*a));
	return GL_LAUNCH_DESC_SIZE(nargs);
}

/*
 * At @p: fill x with param 0, saxpy y += param 1 * x over param 2 (n)
 * elements when @ref_n, else N. Returns its size.
 */
static size_t put_fill_saxpy(char *p, bool ref_n)
{
	struct gl_chain_desc *h = (void *)p;
	struct gl_chain_ref *r = (void *)(h + 1);
	struct gl_launch_arg fill[] = { arg_u32(N), arg_f32(0),
					arg_buf(0, 4 * N) };
	struct gl_launch_arg saxpy[] = { arg_u32(N), arg_f32(0),
					 arg_buf(0, 4 * N),
					 arg_buf(4096, 4 * N) };
	size_t n;

	memset(h, 0, sizeof(*h));
	h->magic = GL_CHAIN_MAGIC;
	h->version = GL_CHAIN_VERSION;
	h->nsteps = 2;
	h->nparams = ref_n ? 3 : 2;
	h->nrefs = ref_n ? 3 : 2;
	r[0] = (struct gl_chain_ref){ .step = 0, .arg = 1, .param = 0 };
	r[1] = (struct gl_chain_ref){ .step = 1, .arg = 1, .param = 1 };
	r[2] = (struct gl_chain_ref){ .step = 1, .arg = 0, .param = 2 };
	n = sizeof(*h) + h->nrefs * sizeof(*r);
	n += put_step(p + n, "fill", 4, 256, 3, fill);
	n += put_step(p + n, "saxpy", 4, 256, 4, saxpy);
	return n;
}

/* Push one entry and take its completion. */
static int roundtrip(struct tring *r, struct gl_sqe sqe, struct gl_cqe *c)
{
	int err = tring_push(r, &sqe);

	return err ? err : tring_pop(r, c, 30000);
}

/* Build chain @id from @len bytes at CHAIN_OFF: the CQE's status. */
static int build(struct tring *r, uint32_t id, size_t len, uint64_t *step)
{
	struct gl_cqe c;
	int err = roundtrip(r, sqe_of(GL_OP_CHAIN_BUILD, id, CHAIN_OFF,
				      (uint32_t)len, 7), &c);

	if (err)
		return 1000 + err;
	*step = c.step;
	return c.status;
}

static int run(struct tring *r, uint32_t id, const uint64_t *params,
	       unsigned n, uint64_t *step)
{
	struct gl_cqe c;
	int err;

	if (n)
		memcpy(r->data + PARAM_OFF, params, n * sizeof(*params));
	err = roundtrip(r, sqe_of(GL_OP_CHAIN_RUN, id, PARAM_OFF,
				  n * sizeof(*params), 8), &c);
	if (err)
		return 1000 + err;
	*step = c.step;
	return c.status;
}

static uint64_t f32p(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof(bits));
	return bits;
}

static int vram_read(const struct gl_daemon *d, const char *name, void *buf,
		     size_t len, off_t off)
{
	int fd = lease_open(d, name, "vram", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Built once, run three times with new values: the same bytes as the
 * launches written one by one to submit. */
TEST_F(cring, runs_match_single_launches)
{
	static const float v[] = { 1.5f, -3.25f, 0.125f };
	static const float a[] = { 2.0f, -1.0f, 4.5f };
	struct gl_daemon *d = &self->d;
	struct tring *r = &self->r;
	static float got[2048], want[2048];
	uint64_t step, params[2];
	size_t len = put_fill_saxpy(r->data + CHAIN_OFF, false);
	int i;

	ASSERT_EQ(lease_create(d, "s"), 0);
	ASSERT_EQ(lease_write(d, "s", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(build(r, 3, len, &step), 0);
	EXPECT_EQ(step, 2u);
	for (i = 0; i < 3; i++) {
		params[0] = f32p(v[i]);
		params[1] = f32p(a[i]);
		ASSERT_EQ(run(r, 3, params, 2, &step), 0) TH_LOG("run %d", i);
		EXPECT_EQ(step, 2u);
		ASSERT_EQ(lease_write(d, "s", "submit",
				      "fill grid=4 u32:%d f32:%a buf:0:%d",
				      N, v[i], 4 * N), 0);
		ASSERT_EQ(lease_write(d, "s", "submit",
				      "saxpy grid=4 u32:%d f32:%a buf:0:%d "
				      "buf:4096:%d", N, a[i], 4 * N, 4 * N),
			  0);
		ASSERT_EQ(vram_read(d, "r", got, sizeof(got), 0), 0);
		ASSERT_EQ(vram_read(d, "s", want, sizeof(want), 0), 0);
		EXPECT_EQ(memcmp(got, want, sizeof(got)), 0) TH_LOG("run %d",
								     i);
	}
	/* y = 2 * 1.5 - 1 * -3.25 + 4.5 * 0.125 */
	EXPECT_EQ(got[1024], 6.8125f);
	EXPECT_EQ(got[1024 + N - 1], 6.8125f);
	/* the id is taken until freed */
	EXPECT_EQ(build(r, 3, len, &step), -EBUSY);
	ASSERT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_FREE, 3, 0, 0, 9),
			    &(struct gl_cqe){ 0 }), 0);
	EXPECT_EQ(run(r, 3, params, 2, &step), -EINVAL);
	EXPECT_EQ(build(r, 3, len, &step), 0);
}

/* A parameter that breaks step 1's check fails the run at step 1, after
 * step 0 ran; the next good run succeeds. */
TEST_F(cring, failing_step_index)
{
	struct gl_daemon *d = &self->d;
	struct tring *r = &self->r;
	uint64_t step, params[3] = { f32p(9.0f), f32p(1.0f), 4 * N };
	size_t len = put_fill_saxpy(r->data + CHAIN_OFF, true);
	struct gl_launch_desc *s1;
	float x;

	ASSERT_EQ(build(r, 0, len, &step), 0);
	EXPECT_EQ(run(r, 0, params, 3, &step), -EFAULT);
	EXPECT_EQ(step, 1u);
	ASSERT_EQ(vram_read(d, "r", &x, 4, 0), 0);
	EXPECT_EQ(x, 9.0f);
	params[2] = N;
	EXPECT_EQ(run(r, 0, params, 3, &step), 0);
	EXPECT_EQ(step, 2u);
	/* a step outside the lease fails its build, named */
	s1 = (void *)(r->data + CHAIN_OFF + sizeof(struct gl_chain_desc) +
		      3 * sizeof(struct gl_chain_ref) + GL_LAUNCH_DESC_SIZE(3));
	s1->args[3].value = 1 << 20;
	EXPECT_EQ(build(r, 1, len, &step), -EFAULT);
	EXPECT_EQ(step, 1u);
}

/* Memory shrunk under a built chain: step 0, now outside the lease,
 * fails with EFAULT at every run, and step 1 (outside too) never runs
 * with the pointers of before; the chain works again once the memory is
 * back. */
TEST_F(cring, shrink_fails_step_until_regrown)
{
	struct tring *r = &self->r;
	char *p = r->data + CHAIN_OFF;
	struct gl_chain_desc *h = (void *)p;
	struct gl_launch_arg a0[] = { arg_u32(1), arg_f32(1),
				      arg_buf((1 << 20) - 4, 4) };
	struct gl_launch_arg a1[] = { arg_u32(1), arg_f32(2),
				      arg_buf(600 << 10, 4) };
	uint64_t step;
	size_t len = sizeof(*h);
	int i;

	memset(h, 0, sizeof(*h));
	h->magic = GL_CHAIN_MAGIC;
	h->version = GL_CHAIN_VERSION;
	h->nsteps = 2;
	len += put_step(p + len, "fill", 1, 1, 3, a0);
	len += put_step(p + len, "fill", 1, 1, 3, a1);
	ASSERT_EQ(build(r, 9, len, &step), 0);
	ASSERT_EQ(run(r, 9, NULL, 0, &step), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "vram 512K\n"), 0);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(run(r, 9, NULL, 0, &step), -EFAULT) TH_LOG("%d", i);
		EXPECT_EQ(step, 0u);
	}
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "vram 1M\n"), 0);
	EXPECT_EQ(run(r, 9, NULL, 0, &step), 0);
	EXPECT_EQ(step, 2u);
}

/* Every field of a chain and of its entries, wrong on its own. */
TEST_F(cring, malformed_fields)
{
	struct tring *r = &self->r;
	char *p = r->data + CHAIN_OFF;
	struct gl_chain_desc *h = (void *)p;
	struct gl_chain_ref *ref = (void *)(h + 1);
	struct gl_launch_desc *s0 = (void *)(ref + 3);
	uint64_t step, params[3] = { 0, 0, N };
	size_t len;
	struct gl_cqe c;
	int i;

#define BAD(errno_, expr) do {						\
	len = put_fill_saxpy(p, true);					\
	expr;								\
	EXPECT_EQ(build(r, 5, len, &step), errno_) TH_LOG("%s", #expr);	\
} while (0)
	BAD(-EINVAL, h->magic++);
	BAD(-EINVAL, h->version = 2);
	BAD(-EINVAL, h->flags = 1);
	BAD(-EINVAL, h->reserved[1] = 1);
	BAD(-EINVAL, h->nsteps = 0);
	BAD(-EFBIG, h->nsteps = GL_CHAIN_STEPS_MAX + 1);
	BAD(-EFBIG, h->nparams = GL_CHAIN_PARAMS_MAX + 1);
	BAD(-EFBIG, h->nrefs = GL_CHAIN_REFS_MAX + 1);
	BAD(-EINVAL, h->nsteps = 3);		/* a step short */
	BAD(-EINVAL, h->nsteps = 1);		/* bytes left over */
	BAD(-EINVAL, h->nparams = 2);		/* a ref's param */
	BAD(-EINVAL, ref[1].step = 2);
	BAD(-EINVAL, ref[1].arg = 4);
	BAD(-EINVAL, ref[1].arg = 2);		/* a buf */
	BAD(-EINVAL, ref[2].reserved = 1);
	BAD(-EINVAL, ref[2].arg = 1);		/* (1, 1) twice */
	BAD(-EINVAL, len--);
	BAD(-EINVAL, len = sizeof(*h) - 1);
	BAD(-EINVAL, s0->magic = 0);
	BAD(-EINVAL, s0->reserved[0] = 1);
	BAD(-EINVAL, s0->args[0].reserved = 1);
	BAD(-EINVAL, s0->args[0].type = 99);
	BAD(-EINVAL, s0->grid[2] = 0);
	BAD(-EINVAL, s0->kernel[0] = '\0');
	BAD(-EINVAL, strcpy(s0->kernel, "nope"));
	BAD(-EFBIG, s0->nargs = GL_LAUNCH_ARGS_MAX + 1);
	BAD(-EINVAL, s0->nargs = 2);		/* arity, and the size */
	BAD(-EFBIG, len = GL_CHAIN_DESC_MAX + 1);
#undef BAD
	/* past the data area; an id out of range */
	EXPECT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_BUILD, 5,
				      r->h->data_size - 100, 1000, 1), &c), 0);
	EXPECT_EQ(c.status, -EFAULT);
	len = put_fill_saxpy(p, true);
	EXPECT_EQ(build(r, GL_CHAIN_IDS, len, &step), -EINVAL);
	/* a build refused at step 1 names it */
	len = put_fill_saxpy(p, true);
	((struct gl_launch_desc *)((char *)s0 + GL_LAUNCH_DESC_SIZE(3)))
		->args[1].type = GL_ARG_U32;
	EXPECT_EQ(build(r, 5, len, &step), -EINVAL);
	EXPECT_EQ(step, 1u);
	/* runs and frees of what is not there, and bad lengths */
	len = put_fill_saxpy(p, true);
	ASSERT_EQ(build(r, 5, len, &step), 0);
	EXPECT_EQ(run(r, 6, params, 3, &step), -EINVAL);
	EXPECT_EQ(run(r, GL_CHAIN_IDS, params, 3, &step), -EINVAL);
	EXPECT_EQ(run(r, 5, params, 2, &step), -EINVAL);
	EXPECT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_RUN, 5, r->h->data_size,
				      24, 1), &c), 0);
	EXPECT_EQ(c.status, -EFAULT);
	EXPECT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_FREE, 6, 0, 0, 1), &c), 0);
	EXPECT_EQ(c.status, -EINVAL);
	EXPECT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_FREE, 5, 0, 8, 1), &c), 0);
	EXPECT_EQ(c.status, -EINVAL);
	/* the good chain still runs, and its id frees once */
	EXPECT_EQ(run(r, 5, params, 3, &step), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(roundtrip(r, sqe_of(GL_OP_CHAIN_FREE, 5, 0, 0, 1),
				    &c), 0);
		EXPECT_EQ(c.status, i ? -EINVAL : 0);
	}
	EXPECT_EQ(r->h->flags & GL_RING_BROKEN, 0u);
}

struct score_probe {
	int fd;		/* the lease's vram, O_DIRECT: no page cache */
	off_t off;	/* the first score of step 1 */
};

/* Step 1 wrote its first score: it runs (the chain's running count is
 * set from before step 0 on, so it cannot tell the steps apart). */
static int first_score_out(void *arg)
{
	struct score_probe *sp = arg;
	float f = 0;

	return pread(sp->fd, &f, sizeof(f), sp->off) == sizeof(f) && f != 0;
}

/* rmdir while step 1 runs: the run completes ECANCELED at step 1. */
TEST_F(cring, rmdir_mid_chain)
{
	struct gl_daemon *d = &self->d;
	struct tring *r = &self->r;
	struct score_probe sp = { -1, 64 << 20 };
	float ones[64];
	char *p = r->data + CHAIN_OFF;
	struct gl_chain_desc *h = (void *)p;
	/* launch_cancel.c's SPIN, 80 MiB */
	struct gl_launch_arg spin[] = {
		arg_u32(2048), arg_u32(2048), arg_u32(1), arg_u32(1),
		arg_u32(4096), arg_u32(0), arg_u32(0), arg_f32(1),
		arg_buf(0, 32 << 20), arg_buf(32 << 20, 32 << 20),
		arg_buf(64 << 20, 16 << 20),
	};
	uint64_t step;
	size_t len = sizeof(*h);
	struct gl_cqe c;

	ASSERT_EQ(lease_write(d, "r", "ctl", "vram 80M\n"), 0);
	/* q and k start with ones: score 0 is 64, not the 0 already there */
	for (size_t i = 0; i < 64; i++)
		ones[i] = 1.0f;
	sp.fd = lease_open(d, "r", "vram", O_RDWR | O_DIRECT);
	ASSERT_GE(sp.fd, 0);
	ASSERT_EQ(pwrite(sp.fd, ones, sizeof(ones), 0), (ssize_t)sizeof(ones));
	ASSERT_EQ(pwrite(sp.fd, ones, sizeof(ones), 32 << 20),
		  (ssize_t)sizeof(ones));
	memset(h, 0, sizeof(*h));
	h->magic = GL_CHAIN_MAGIC;
	h->version = GL_CHAIN_VERSION;
	h->nsteps = 3;
	len += put_step(p + len, "noop", 1, 1, 0, NULL);
	len += put_step(p + len, "attn_scores", 1, 1, 11, spin);
	len += put_step(p + len, "noop", 1, 1, 0, NULL);
	ASSERT_EQ(build(r, 2, len, &step), 0);
	ASSERT_EQ(tring_push(r, &(struct gl_sqe){ .opcode = GL_OP_CHAIN_RUN,
						   .off = 2, .user_data = 42 }),
		  0);
	ASSERT_EQ(gl_wait_until(first_score_out, &sp, gl_scale_ms(d, 30000)),
		  0);
	close(sp.fd);
	EXPECT_EQ(lease_remove(d, "r"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	ASSERT_EQ(tring_pop(r, &c, 0), 0);
	EXPECT_EQ(c.user_data, 42u);
	EXPECT_EQ(c.status, -ECANCELED);
	EXPECT_EQ(c.step, 1u);
}

TEST_HARNESS_MAIN
