/* SPDX-License-Identifier: MIT */
/*
 * chain.c - launch chains through a lease's submit file ("chain" then one
 * launch line per step, Documentation/kernels.md): a chain computes what
 * the same launches written one by one compute; a failing step is named
 * in the completion line (step=N) and in last_error; rmdir and expiry
 * stop a chain mid-way (ECANCELED, EKEYEXPIRED at the running step);
 * malformed chains fail with EINVAL or EFBIG and leave nothing queued.
 *
 * The step that runs long is SPIN (gltest.h): tens of seconds
 * of work no test waits out, so the status alone tells a cancellation,
 * with no clock in any assertion.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/chain.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

FIXTURE(chain) {
	struct gl_daemon d;
};

FIXTURE_SETUP(chain)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(chain)
{
	GL_DAEMON_TEARDOWN(&self->d);
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
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* One write of @len bytes to a new submit file of @name: 0 or -errno. */
static int submit_bytes(const struct gl_daemon *d, const char *name,
			const void *buf, size_t len)
{
	int fd = lease_open(d, name, "submit", O_WRONLY), err = 0;

	if (fd < 0)
		return fd;
	if (write(fd, buf, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

/* Write @text to a new O_NONBLOCK submit file of @name: the fd, or -errno. */
static int submit_nonblock(const struct gl_daemon *d, const char *name,
			   const char *text)
{
	int fd = lease_open(d, name, "submit", O_RDWR | O_NONBLOCK);
	ssize_t n = (ssize_t)strlen(text);

	if (fd < 0)
		return fd;
	if (write(fd, text, n) != n) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	return fd;
}

/* Block on @fd for one completion line; its status, kernel and step. */
static int read_completion(int fd, int *status, char kernel[16], int *step)
{
	char buf[256];
	ssize_t n;

	if (fcntl(fd, F_SETFL, O_RDWR))
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENODATA;
	buf[n] = '\0';
	*step = -1;
	if (sscanf(buf, "seq=%*u status=%d duration_ns=%*u user_data=%*u "
		   "kernel=%15s step=%d", status, kernel, step) < 2)
		return -EINVAL;
	return 0;
}

/* A chain's first steps fill the f32 at FLAG_OFF with 1, 2...: the test
 * waits for the one before the step it wants running. */
#define FLAG_OFF	SPIN_VRAM
#define FLAG(v)		"fill grid=1 u32:1 f32:" #v " buf:83886080:4\n"

struct flag_ref {
	const struct gl_daemon *d;
	const char *name;
	float want;
};

static int flag_is(void *arg)
{
	struct flag_ref *r = arg;
	float got = 0;

	return !vram_read(r->d, r->name, &got, 4, FLAG_OFF) &&
	       got == r->want;
}

/* Wait until the chain on @name has filled @want in (a later step is
 * running or next). */
static int wait_flag(const struct gl_daemon *d, const char *name, float want)
{
	struct flag_ref r = { d, name, want };

	return gl_wait_until(flag_is, &r, gl_scale_ms(d, 30000));
}

/* fill x, fill y, saxpy, scale: 4 steps; the same lines alone. */
static const char *const steps[] = {
	"fill grid=4 u32:1000 f32:1.25 buf:0:4000",
	"fill grid=4 u32:1000 f32:-3 buf:4096:4000",
	"saxpy grid=4 block=256 u32:1000 f32:2.5 buf:0:4000 buf:4096:4000",
	"saxpy grid=4 block=256 u32:1000 f32:-0.75 buf:4096:4000 "
	"buf:0:4000",
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

TEST_F(chain, matches_single_launches)
{
	struct gl_daemon *d = &self->d;
	static float one[2048], all[2048];
	char text[2048];
	size_t i, n = 0;

	ASSERT_EQ(lease_sized(d, "one", 8192), 0);
	ASSERT_EQ(lease_sized(d, "all", 8192), 0);
	for (i = 0; i < NSTEPS; i++)
		ASSERT_EQ(lease_write(d, "one", "submit", "%s", steps[i]), 0);
	n += snprintf(text + n, sizeof(text) - n, "chain\n");
	for (i = 0; i < NSTEPS; i++)
		n += snprintf(text + n, sizeof(text) - n, "%s\n", steps[i]);
	ASSERT_EQ(lease_write(d, "all", "submit", "%s", text), 0);
	ASSERT_EQ(vram_read(d, "one", one, sizeof(one), 0), 0);
	ASSERT_EQ(vram_read(d, "all", all, sizeof(all), 0), 0);
	EXPECT_EQ(memcmp(one, all, sizeof(one)), 0);
	/* y = 2.5 * 1.25 - 3 = 0.125; x = -0.75 * 0.125 + 1.25 */
	EXPECT_EQ(all[1024], 0.125f);
	EXPECT_EQ(all[0], 1.15625f);
	EXPECT_EQ(all[999], 1.15625f);
	EXPECT_EQ(all[1000], 0.0f);
}

/* gpulease_@series_total{kernel="@kernel"} from metrics, or -1. */
static long long kernel_count(const struct gl_daemon *d, const char *series,
			      const char *kernel)
{
	static char text[1 << 17];
	char key[96], *p;

	if (gl_read(d, "metrics", text, sizeof(text)) < 0)
		return -1;
	snprintf(key, sizeof(key), "\ngpulease_kernel_%s_total{kernel=\"%s\"} ",
		 series, kernel);
	p = strstr(text, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Every step counts as one launch of its kernel, consecutive steps of one
 * kernel included; a failing step counts one failure, a step never run
 * nothing. */
TEST_F(chain, steps_counted_per_kernel)
{
	struct gl_daemon *d = &self->d;
	long long fill, saxpy, noop, spin_fail, noop_fail;
	char text[2048];
	size_t i, n = 0;
	int fd, status, step;
	char kernel[16];

	ASSERT_EQ(lease_sized(d, "k", SPIN_VRAM + 8192), 0);
	fill = kernel_count(d, "launch", "fill");
	saxpy = kernel_count(d, "launch", "saxpy");
	noop = kernel_count(d, "launch", "noop");
	spin_fail = kernel_count(d, "fail", "attn_scores");
	noop_fail = kernel_count(d, "fail", "noop");
	ASSERT_GE(fill, 0);
	ASSERT_GE(spin_fail, 0);
	n += snprintf(text + n, sizeof(text) - n, "chain\n");
	for (i = 0; i < NSTEPS; i++)
		n += snprintf(text + n, sizeof(text) - n, "%s\n", steps[i]);
	for (i = 0; i < 5; i++)
		n += snprintf(text + n, sizeof(text) - n, "noop grid=1\n");
	ASSERT_EQ(lease_write(d, "k", "submit", "%s", text), 0);
	EXPECT_EQ(kernel_count(d, "launch", "fill"), fill + 2);
	EXPECT_EQ(kernel_count(d, "launch", "saxpy"), saxpy + 2);
	EXPECT_EQ(kernel_count(d, "launch", "noop"), noop + 5);
	EXPECT_EQ(kernel_count(d, "fail", "noop"), noop_fail);
	fd = submit_nonblock(d, "k", "chain\nnoop grid=1\nnoop grid=1\n"
			     SPIN " timeout_ms=1\nnoop grid=1\n");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(read_completion(fd, &status, kernel, &step), 0);
	EXPECT_EQ(status, -ETIMEDOUT);
	EXPECT_EQ(step, 2);
	close(fd);
	EXPECT_EQ(kernel_count(d, "launch", "noop"), noop + 7);
	EXPECT_EQ(kernel_count(d, "fail", "noop"), noop_fail);
	EXPECT_EQ(kernel_count(d, "fail", "attn_scores"), spin_fail + 1);
}

TEST_F(chain, nonblock_completion_names_chain)
{
	struct gl_daemon *d = &self->d;
	char kernel[16];
	int fd, status, step;

	ASSERT_EQ(lease_sized(d, "nb", 8192), 0);
	fd = submit_nonblock(d, "nb", "chain\nnoop grid=1\nnoop grid=2\n");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(read_completion(fd, &status, kernel, &step), 0);
	EXPECT_EQ(status, 0);
	EXPECT_STREQ(kernel, "chain");
	EXPECT_EQ(step, 2);
	close(fd);
}

/* A step past its own timeout fails the chain there: ETIMEDOUT, step=1,
 * and the step after it never ran. */
TEST_F(chain, failing_step_is_named)
{
	struct gl_daemon *d = &self->d;
	char kernel[16], err[160];
	float got;
	int fd, status, step;

	ASSERT_EQ(lease_sized(d, "f", SPIN_VRAM + 4096), 0);
	fd = submit_nonblock(d, "f", "chain\n"
			     "fill grid=1 u32:1 f32:1 buf:80M:4\n"
			     SPIN " timeout_ms=1\n"
			     "fill grid=1 u32:1 f32:2 buf:80M:4\n");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(read_completion(fd, &status, kernel, &step), 0);
	EXPECT_EQ(status, -ETIMEDOUT);
	EXPECT_EQ(step, 1);
	close(fd);
	ASSERT_EQ(vram_read(d, "f", &got, 4, 80 << 20), 0);
	EXPECT_EQ(got, 1.0f);
	ASSERT_EQ(lease_read_key_str(d, "f", "last_error", err, sizeof(err)),
		  0);
	EXPECT_EQ(strncmp(err, "ETIMEDOUT", 9), 0) TH_LOG("%s", err);
	/* a step refused at build: the write fails, last_error names it */
	EXPECT_EQ(lease_write(d, "f", "submit", "chain\nnoop grid=1\n"
			      "fill grid=1 u32:1 f32:2 buf:80M:4\n"
			      "fill grid=1 u32:2 f32:2 buf:1G:8\n"), -EFAULT);
	ASSERT_EQ(lease_read_key_str(d, "f", "last_error", err, sizeof(err)),
		  0);
	EXPECT_NE(strstr(err, "chain step 2"), NULL) TH_LOG("%s", err);
	ASSERT_EQ(vram_read(d, "f", &got, 4, 80 << 20), 0);
	EXPECT_EQ(got, 1.0f);	/* nothing of it ran */
}

/* rmdir stops the running step (ECANCELED at step 1), not after it. */
TEST_F(chain, rmdir_cancels_mid_chain)
{
	struct gl_daemon *d = &self->d;
	char kernel[16];
	int fd, status, step;

	ASSERT_EQ(lease_sized(d, "c", SPIN_VRAM + 4096), 0);
	fd = submit_nonblock(d, "c", "chain\n" FLAG(1) SPIN "\n"
			     "noop grid=1\n");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_flag(d, "c", 1), 0);	/* at SPIN, step 1 */
	EXPECT_EQ(lease_remove(d, "c"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	ASSERT_EQ(read_completion(fd, &status, kernel, &step), 0);
	EXPECT_EQ(status, -ECANCELED);
	EXPECT_EQ(step, 1);
	close(fd);
}

/* Expiry mid-chain: EKEYEXPIRED at the running step, memory freed. */
TEST_F(chain, expiry_mid_chain)
{
	struct gl_daemon *d = &self->d;
	char kernel[16];
	int fd, status, step;

	ASSERT_EQ(lease_sized(d, "x", SPIN_VRAM + 4096), 0);
	fd = submit_nonblock(d, "x", "chain\n" FLAG(1) FLAG(2) SPIN "\n"
			     "noop grid=1\n");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(wait_flag(d, "x", 2), 0);	/* at SPIN, step 2 */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100000\n"), 0);
	ASSERT_EQ(read_completion(fd, &status, kernel, &step), 0);
	EXPECT_EQ(status, -EKEYEXPIRED);
	EXPECT_EQ(step, 2);
	close(fd);
	EXPECT_EQ(lease_write(d, "x", "submit", "chain\nnoop grid=1\n"),
		  -EKEYEXPIRED);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(lease_remove(d, "x"), 0);
}

/* Malformed text chains: EINVAL or EFBIG, and nothing of them runs. */
TEST_F(chain, malformed_text)
{
	static const char *const bad[] = {
		"chain\n",			/* no step */
		"chain\n\n",			/* an empty line */
		"chain\nnoop grid=1\n\nnoop grid=1\n",
		"chain\nnoop grid=1\n\n",	/* empty last line */
		"chain\nnoop\n",		/* a step without grid */
		"chain\nnoop grid=1 bogus=2\n",
		"chain\nnoop grid=1 u32:1\n",	/* arity */
		"chain\nnope grid=1\n",		/* no such kernel */
		"chain\nfill grid=1 u32:1 u32:1 buf:0:4\n",	/* a type */
	};
	struct gl_daemon *d = &self->d;
	static char big[GL_CHAIN_TEXT_MAX + 64];
	float got;
	size_t i, n;
	long long launches;

	ASSERT_EQ(lease_sized(d, "m", 4096), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(lease_write(d, "m", "submit", "%s", bad[i]),
			  -EINVAL) TH_LOG("%zu: %s", i, bad[i]);
	/* a NUL inside */
	EXPECT_EQ(submit_bytes(d, "m", "chain\nnoop grid=1\0x\n", 20),
		  -EINVAL);
	/* over GL_CHAIN_STEPS_MAX steps, over GL_CHAIN_TEXT_MAX bytes */
	n = (size_t)snprintf(big, sizeof(big), "chain\n");
	for (i = 0; i <= GL_CHAIN_STEPS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "noop grid=1\n");
	EXPECT_EQ(submit_bytes(d, "m", big, n), -EFBIG);
	while (n < GL_CHAIN_TEXT_MAX + 16)
		big[n++] = ' ';
	EXPECT_EQ(submit_bytes(d, "m", big, n), -EFBIG);
	/* a good step before a bad one never ran */
	EXPECT_EQ(lease_write(d, "m", "submit", "chain\n"
			      "fill grid=1 u32:1 f32:7 buf:0:4\nnoop\n"),
		  -EINVAL);
	ASSERT_EQ(vram_read(d, "m", &got, 4, 0), 0);
	EXPECT_EQ(got, 0.0f);
	ASSERT_EQ(lease_read_key(d, "m", "launches", &launches), 0);
	EXPECT_EQ(launches, 0);
}

TEST_HARNESS_MAIN
