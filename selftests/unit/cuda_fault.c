/* SPDX-License-Identifier: MIT */
/*
 * cuda_fault.c - when launches on the CUDA backend go wrong, against the
 * fake driver: cancel of a busy stream, a runaway kernel that fails and
 * resets the device, a sticky fault reported as EIO. No GPU is needed;
 * the fixture is in cuda_fixture.h.
 *
 * Invariant: every test loads the fake through $GL_LIBCUDA and
 * $GL_LIBCUBLAS, so a real driver on the machine is never touched.
 */
#include "selftests/unit/cuda_fixture.h"

struct launcher {
	struct dev *dev;
	struct gl_kargs args;
	struct gl_grid grid;
	atomic_int cancel;
	atomic_int err;
};

static void *launcher_main(void *arg)
{
	struct launcher *l = arg;

	l->err = dev_cuda_ops.launch(l->dev, gl_kernel_find("fill"),
				     &l->args, &l->grid, &l->cancel);
	return NULL;
}

TEST_F(cuda, cancel)
{
	struct fakecuda *fc = self->fc;
	struct launcher l = { 0 };
	struct dev_region *r;
	pthread_t t;
	void *y;
	int q;

	setenv("GL_CUDA_GRACE_MS", "3600000", 1);	/* never, here */
	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 0, 4096, &y), 0);
	l.dev = &self->dev;
	l.grid = grid1(4, 256);
	karg_u32(&l.args, 1024);
	karg_f32(&l.args, 1.0f);
	karg_buf(&l.args, y, 4096);

	/* cancelled before: nothing launches */
	atomic_store(&l.cancel, ETIMEDOUT);
	launcher_main(&l);
	EXPECT_EQ(l.err, -ETIMEDOUT);
	EXPECT_EQ(fc->launches, 0);

	/* cancelled while the kernel runs: a kernel cannot be preempted,
	 * so the wait goes on until the stream drains, then ends */
	atomic_store(&l.cancel, 0);
	atomic_store(&l.err, 1);
	atomic_store(&fc->hold, 1);
	ASSERT_EQ(pthread_create(&t, NULL, launcher_main, &l), 0);
	while (fc->launches < 1 || fc->queries < 2)
		usleep(1000);
	atomic_store(&l.cancel, ETIMEDOUT);
	q = fc->queries;
	while (fc->queries < q + 3)
		usleep(1000);
	EXPECT_EQ(l.err, 1) TH_LOG("returned before the stream drained");
	atomic_store(&fc->hold, 0);
	pthread_join(t, NULL);
	EXPECT_EQ(l.err, -ETIMEDOUT);
	EXPECT_EQ(self->dev.state, DEV_READY);
	EXPECT_EQ(fc->resets, 0);
	dev_cuda_ops.release(r);
}

/*
 * A kernel that never ends: past the grace period after its launch was
 * cancelled, only a reset can end it, so the device fails (its regions
 * with it) rather than the wait going on for ever. The reset ends the
 * kernel and frees the memory, and the device stays failed (a GPU keeps
 * the error: Documentation/gpu-verification.md); nothing leaks.
 */
TEST_F(cuda, runaway_kernel_fails_the_device)
{
	struct fakecuda *fc = self->fc;
	struct launcher l = { 0 };
	struct dev_region *r, *r2;
	char buf[8] = "abcdefg", out[8] = { 0 };
	pthread_t t;
	void *y;

	setenv("GL_CUDA_GRACE_MS", "0", 1);
	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 0, 4096, &y), 0);
	l.dev = &self->dev;
	l.grid = grid1(4, 256);
	karg_u32(&l.args, 1024);
	karg_f32(&l.args, 1.0f);
	karg_buf(&l.args, y, 4096);
	atomic_store(&fc->hold, 1);		/* it never ends... */
	atomic_store(&fc->hold_reset, 1);	/* ...and the reset waits */
	ASSERT_EQ(pthread_create(&t, NULL, launcher_main, &l), 0);
	while (fc->launches < 1)
		usleep(1000);
	atomic_store(&l.cancel, ETIMEDOUT);
	pthread_join(t, NULL);
	EXPECT_EQ(l.err, -ETIMEDOUT);
	EXPECT_EQ(self->dev.state, DEV_FAILED);
	EXPECT_TRUE(strstr(self->dev.reason, "fill still ran") != NULL)
		TH_LOG("reason: %s", self->dev.reason);
	EXPECT_EQ(dev_cuda_ops.copy_in(r, 0, buf, sizeof(buf)), -EIO);
	EXPECT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r2), -EIO);

	/* the reset ends the kernel and frees the memory; it stays failed */
	atomic_store(&fc->hold_reset, 0);
	EXPECT_EQ(dev_cuda_ops.reset(&self->dev), -EIO);
	EXPECT_EQ(self->dev.state, DEV_FAILED);
	EXPECT_EQ(fc->resets, 1);
	EXPECT_EQ(fc->hold, 0);
	EXPECT_EQ(fc->handles, 0) TH_LOG("the region's memory, freed");
	EXPECT_EQ(fc->modules, 0);
	EXPECT_EQ(fc->contexts, 0);
	EXPECT_TRUE(strstr(self->dev.reason, "fill still ran") &&
		    strstr(self->dev.reason, "restart of the daemon"))
		TH_LOG("reason: %s", self->dev.reason);
	/* a second reset finds it ended */
	EXPECT_EQ(dev_cuda_ops.reset(&self->dev), -EIO);
	EXPECT_EQ(fc->resets, 1);
	EXPECT_EQ(dev_cuda_ops.copy_in(r, 0, buf, sizeof(buf)), -EIO);
	EXPECT_EQ(dev_cuda_ops.copy_out(r, 0, out, sizeof(out)), -EIO);
	EXPECT_EQ(dev_cuda_ops.resolve(r, 0, 8, &y), -EIO);
	EXPECT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r2), -EIO);
	dev_cuda_ops.release(r);
	dev_cuda_ops.teardown(&self->dev);
	EXPECT_EQ(fc->handles, 0);
	EXPECT_EQ(fc->streams, 0);
	EXPECT_EQ(fc->modules, 0);
	EXPECT_EQ(fc->contexts, 0);
}

TEST_F(cuda, fault_is_eio)
{
	struct launcher l = { 0 };

	ASSERT_EQ(probe(self), 1);
	l.dev = &self->dev;
	l.grid = grid1(1, 256);
	karg_u32(&l.args, 0);
	karg_f32(&l.args, 1.0f);
	karg_buf(&l.args, NULL, 0);
	atomic_store(&self->fc->fault, 700);	/* illegal address */
	launcher_main(&l);
	atomic_store(&self->fc->fault, 0);
	EXPECT_EQ(l.err, -EIO);
}

TEST_HARNESS_MAIN
