/* SPDX-License-Identifier: MIT */
/*
 * cuda_fixture.h - what the CUDA backend's unit tests share (dev_cuda.c:
 * probe, memory, the device set; cuda_launch.c: marshalling, matmul,
 * registered modules; cuda_fault.c: cancel, faults, runaway kernels):
 * the fixture that loads the fake driver (selftests/fakecuda/, built as
 * $(O)/selftests/fakecuda/libcuda.so.1; $GL_FAKECUDA overrides its path)
 * and SKIPs when it was not built, and the argument helpers.
 *
 * Invariant: every test loads the fake through $GL_LIBCUDA and
 * $GL_LIBCUBLAS, so a real driver on the machine is never touched.
 */
#ifndef GL_CUDA_FIXTURE_H
#define GL_CUDA_FIXTURE_H

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/dev/dev.h"
#include "daemon/registry.h"
#include "kernels/fatbin.h"
#include "selftests/fakecuda/fakecuda.h"
#include "selftests/harness.h"
#include "uapi/gpulease.h"

#define MIB (1ull << 20)

FIXTURE(cuda) {
	char path[PATH_MAX];
	void *lib;
	struct fakecuda *fc;
	struct dev dev;
	int ndev;
};

FIXTURE_SETUP(cuda)
{
	ASSERT_EQ(fakecuda_path(self->path, sizeof(self->path)), 0);
	self->fc = fakecuda_load(self->path, &self->lib);
	if (!self->fc)
		SKIP(return, fakecuda_real() ? "needs the fake driver" :
		     "fake driver not built: %s", self->path);
}

FIXTURE_TEARDOWN(cuda)
{
	if (self->dev.priv)
		dev_cuda_ops.teardown(&self->dev);
	if (self->lib)
		dlclose(self->lib);
}

/* probe one device into self->dev; how many the backend found */
static inline int probe(FIXTURE_DATA(cuda) *self)
{
	memset(&self->dev, 0, sizeof(self->dev));
	self->ndev = dev_cuda_ops.probe(&self->dev, 1, 0);
	self->dev.ops = &dev_cuda_ops;
	return self->ndev;
}

static inline void karg_u32(struct gl_kargs *a, uint32_t v)
{
	a->v[a->count].type = GL_KT_U32;
	a->v[a->count++].u32 = v;
}

static inline void karg_u64(struct gl_kargs *a, uint64_t v)
{
	a->v[a->count].type = GL_KT_U64;
	a->v[a->count++].u64 = v;
}

static inline void karg_f32(struct gl_kargs *a, float v)
{
	a->v[a->count].type = GL_KT_F32;
	a->v[a->count++].f32 = v;
}

static inline void karg_buf(struct gl_kargs *a, void *ptr, uint64_t len)
{
	a->v[a->count].type = GL_KT_BUF;
	a->v[a->count].buf.ptr = ptr;
	a->v[a->count++].buf.len = len;
}

static inline struct gl_grid grid1(uint32_t gx, uint32_t bx)
{
	struct gl_grid g = { { gx, 1, 1 }, { bx, 1, 1 } };

	return g;
}

/* true when @len bytes at @p all equal @c */
static inline bool all_bytes(const unsigned char *p, size_t len,
			     unsigned char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

#endif /* GL_CUDA_FIXTURE_H */
