/* SPDX-License-Identifier: MIT */
/*
 * dev_cuda.c - the CUDA backend (daemon/dev-cuda.c) against the fake
 * driver (selftests/fakecuda/, built as $(O)/selftests/fakecuda/
 * libcuda.so.1): probe and the missing-driver path, VMM accounting
 * (every handle, mapping, reservation and stream gone when release
 * returns), copies, resolve, launch parameter marshalling, the cuBLAS
 * row-major mapping (the fake computes, the CPU twin is the oracle), the
 * fallback kernel, cancel and faults. No GPU is needed; SKIPs when the
 * fake library was not built ($GL_FAKECUDA overrides its path).
 *
 * Invariant: every test loads the fake through $GL_LIBCUDA and
 * $GL_LIBCUBLAS, so a real driver on the machine is never touched.
 */
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

#include "daemon/cuda-dev.h"
#include "daemon/dev.h"
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
static int probe(FIXTURE_DATA(cuda) *self)
{
	memset(&self->dev, 0, sizeof(self->dev));
	self->ndev = dev_cuda_ops.probe(&self->dev, 1, 0);
	self->dev.ops = &dev_cuda_ops;
	return self->ndev;
}

static void karg_u32(struct gl_kargs *a, uint32_t v)
{
	a->v[a->count].type = GL_KT_U32;
	a->v[a->count++].u32 = v;
}

static void karg_u64(struct gl_kargs *a, uint64_t v)
{
	a->v[a->count].type = GL_KT_U64;
	a->v[a->count++].u64 = v;
}

static void karg_f32(struct gl_kargs *a, float v)
{
	a->v[a->count].type = GL_KT_F32;
	a->v[a->count++].f32 = v;
}

static void karg_buf(struct gl_kargs *a, void *ptr, uint64_t len)
{
	a->v[a->count].type = GL_KT_BUF;
	a->v[a->count].buf.ptr = ptr;
	a->v[a->count++].buf.len = len;
}

static struct gl_grid grid1(uint32_t gx, uint32_t bx)
{
	struct gl_grid g = { { gx, 1, 1 }, { bx, 1, 1 } };

	return g;
}

/* true when @len bytes at @p all equal @c */
static bool all_bytes(const unsigned char *p, size_t len, unsigned char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

TEST(no_driver_no_device)
{
	struct dev d;

	setenv("GL_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
	memset(&d, 0, sizeof(d));
	EXPECT_EQ(dev_cuda_ops.probe(&d, 1, 0), 0);
	EXPECT_TRUE(d.priv == NULL);
}

TEST_F(cuda, no_device)
{
	self->fc->ndev = 0;
	EXPECT_EQ(probe(self), 0);
	self->fc->ndev = 1;
	self->fc->init_result = 100;	/* CUDA_ERROR_NO_DEVICE */
	EXPECT_EQ(probe(self), 0);
	self->fc->init_result = 0;
	self->fc->no_vmm = 1;
	EXPECT_EQ(probe(self), 0);
	EXPECT_EQ(self->fc->contexts, 0) TH_LOG("a skipped device's context");
	EXPECT_EQ(self->fc->streams, 0);
}

TEST_F(cuda, probe)
{
	struct fakecuda *fc = self->fc;

	ASSERT_EQ(probe(self), 1);
	EXPECT_STREQ(self->dev.name, "cuda0") TH_LOG("one word, as cpu0");
	EXPECT_STREQ(dev_cuda_ops.kind, GL_KIND_CUDA);
	/* 1 GiB free, 256 MiB headroom, in 2 MiB granules */
	EXPECT_EQ(self->dev.capacity, 768 * MIB);
	EXPECT_TRUE(fc->image == gl_fatbin);
	EXPECT_EQ(fc->contexts, 1);
	EXPECT_EQ(fc->modules, 1);
	EXPECT_EQ(fc->blas_handles, 1);
	EXPECT_GT(fc->gpa_calls, 0);
	EXPECT_EQ(fc->gpa_version, 12000);
	dev_cuda_ops.teardown(&self->dev);
	EXPECT_EQ(fc->contexts, 0);
	EXPECT_EQ(fc->modules, 0);
	EXPECT_EQ(fc->blas_handles, 0);
	EXPECT_EQ(fc->streams, 0);
	EXPECT_EQ(fc->no_ctx, 0);
}

/* The permissions of the host mapping holding @addr ("---p"...), or
 * "none": the fake's device addresses are host addresses. */
static void host_prot(uintptr_t addr, char *perm)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char p[8];

	strcpy(perm, "none");
	if (!f)
		return;
	while (fscanf(f, "%lx-%lx %7s%*[^\n]", &lo, &hi, p) == 3)
		if (addr >= lo && addr < hi) {
			strcpy(perm, p);
			break;
		}
	fclose(f);
}

/* No byte of a granule before or after a region is accessible: a kernel
 * running off a lease faults instead of reaching a neighbour. */
TEST_F(cuda, guard_space_between_regions)
{
	struct dev_region *r[3];
	uintptr_t va, end;
	char perm[8];
	void *p;
	int i;

	ASSERT_EQ(probe(self), 1);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r[i]), 0);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(dev_cuda_ops.resolve(r[i], 0, 4096, &p), 0);
		va = (uintptr_t)p;
		end = va + 2 * MIB;	/* the granule it takes */
		host_prot(va, perm);
		EXPECT_STREQ(perm, "rw-s");
		host_prot(va - 1, perm);
		EXPECT_TRUE(!strcmp(perm, "none") || perm[0] == '-')
			TH_LOG("region %d: byte before it is %s", i, perm);
		host_prot(va - 2 * MIB, perm);
		EXPECT_TRUE(!strcmp(perm, "none") || perm[0] == '-')
			TH_LOG("region %d: a granule before it is %s", i, perm);
		host_prot(end, perm);
		EXPECT_TRUE(!strcmp(perm, "none") || perm[0] == '-')
			TH_LOG("region %d: byte after it is %s", i, perm);
		host_prot(end + 2 * MIB - 1, perm);
		EXPECT_TRUE(!strcmp(perm, "none") || perm[0] == '-')
			TH_LOG("region %d: a granule after it is %s", i, perm);
	}
	for (i = 0; i < 3; i++)
		dev_cuda_ops.release(r[i]);
	EXPECT_EQ(self->fc->reserved, 0);
	EXPECT_EQ(self->fc->mapped, 0);
}

TEST_F(cuda, dlsym_fallback)
{
	struct dev_region *r;
	char buf[8] = "abcdefg", out[8] = { 0 };

	self->fc->gpa_off = 1;
	ASSERT_EQ(probe(self), 1);
	EXPECT_GT(self->fc->gpa_calls, 0);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 64, &r), 0);
	EXPECT_EQ(dev_cuda_ops.copy_in(r, 8, buf, 8), 0);
	EXPECT_EQ(dev_cuda_ops.copy_out(r, 8, out, 8), 0);
	EXPECT_EQ(memcmp(buf, out, 8), 0);
	dev_cuda_ops.release(r);
}

TEST_F(cuda, reserve_release)
{
	struct fakecuda *fc = self->fc;
	uint64_t bytes = 3 * MIB + 5;
	struct dev_region *r;
	unsigned char *out;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, bytes, &r), 0);
	EXPECT_EQ(r->bytes, bytes);
	EXPECT_TRUE(r->dev == &self->dev);
	EXPECT_EQ(fc->handles, 1) TH_LOG("one handle per region");
	EXPECT_EQ(fc->handle_bytes, 4 * MIB);
	EXPECT_EQ(fc->mapped, 1);
	EXPECT_EQ(fc->reserved, 1);
	EXPECT_EQ(fc->streams, 2) TH_LOG("the device's and the region's");
	out = malloc(bytes);
	ASSERT_TRUE(out != NULL);
	EXPECT_EQ(dev_cuda_ops.copy_out(r, 0, out, bytes), 0);
	EXPECT_TRUE(all_bytes(out, bytes, 0)) TH_LOG("reserve zeroes");
	free(out);
	dev_cuda_ops.release(r);
	EXPECT_EQ(fc->handles, 0) TH_LOG("release frees at once");
	EXPECT_EQ(fc->handle_bytes, 0);
	EXPECT_EQ(fc->mapped, 0);
	EXPECT_EQ(fc->reserved, 0);
	EXPECT_EQ(fc->streams, 1);
	EXPECT_EQ(fc->no_ctx, 0);
}

TEST_F(cuda, resize)
{
	struct fakecuda *fc = self->fc;
	struct dev_region *r;
	unsigned char *pat, *out;
	size_t i, n = 5 * MIB;

	ASSERT_EQ(probe(self), 1);
	pat = malloc(n);
	out = malloc(n);
	ASSERT_TRUE(pat && out);
	for (i = 0; i < n; i++)
		pat[i] = (unsigned char)(i * 7 + 1) | 1;
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 3 * MIB, &r), 0);
	ASSERT_EQ(dev_cuda_ops.copy_in(r, 0, pat, 3 * MIB), 0);

	/* grow past the handle: a new handle, prefix kept, tail zero */
	ASSERT_EQ(dev_cuda_ops.resize(r, 5 * MIB), 0);
	EXPECT_EQ(r->bytes, 5 * MIB);
	EXPECT_EQ(fc->handles, 1);
	EXPECT_EQ(fc->mapped, 1);
	EXPECT_EQ(fc->reserved, 1);
	EXPECT_EQ(fc->handle_bytes, 6 * MIB);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 0, out, 5 * MIB), 0);
	EXPECT_EQ(memcmp(out, pat, 3 * MIB), 0);
	EXPECT_TRUE(all_bytes(out + 3 * MIB, 2 * MIB, 0));

	/* shrink: prefix kept, memory given back */
	ASSERT_EQ(dev_cuda_ops.resize(r, MIB + 17), 0);
	EXPECT_EQ(fc->handles, 1);
	EXPECT_EQ(fc->handle_bytes, 2 * MIB);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 0, out, MIB + 17), 0);
	EXPECT_EQ(memcmp(out, pat, MIB + 17), 0);

	/* grow inside the handle: no new handle, the exposed bytes zero */
	ASSERT_EQ(dev_cuda_ops.resize(r, 2 * MIB), 0);
	EXPECT_EQ(fc->handle_bytes, 2 * MIB);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 0, out, 2 * MIB), 0);
	EXPECT_EQ(memcmp(out, pat, MIB + 17), 0);
	EXPECT_TRUE(all_bytes(out + MIB + 17, MIB - 17, 0));

	dev_cuda_ops.release(r);
	EXPECT_EQ(fc->handles, 0);
	EXPECT_EQ(fc->mapped, 0);
	EXPECT_EQ(fc->reserved, 0);
	free(pat);
	free(out);
}

TEST_F(cuda, out_of_memory)
{
	struct fakecuda *fc = self->fc;
	struct dev_region *r, *r2;
	char buf[16] = "kept", out[16];

	ASSERT_EQ(probe(self), 1);
	fc->total = 8 * MIB;	/* the device fills up */
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4 * MIB, &r), 0);
	ASSERT_EQ(dev_cuda_ops.copy_in(r, 0, buf, sizeof(buf)), 0);
	EXPECT_EQ(dev_cuda_ops.reserve(&self->dev, 6 * MIB, &r2), -ENOSPC);
	EXPECT_EQ(dev_cuda_ops.resize(r, 6 * MIB), -ENOSPC);
	EXPECT_EQ(r->bytes, 4 * MIB) TH_LOG("a failed resize changes nothing");
	EXPECT_EQ(fc->handles, 1);
	EXPECT_EQ(fc->mapped, 1);
	EXPECT_EQ(fc->reserved, 1);
	EXPECT_EQ(fc->streams, 2);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 0, out, sizeof(out)), 0);
	EXPECT_EQ(memcmp(buf, out, sizeof(buf)), 0);
	dev_cuda_ops.release(r);
	EXPECT_EQ(fc->handles, 0);
}

TEST_F(cuda, copy_resolve_zero)
{
	struct dev_region *r;
	unsigned char in[300], out[300];
	void *p;
	size_t i;

	ASSERT_EQ(probe(self), 1);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r), 0);
	ASSERT_EQ(dev_cuda_ops.copy_in(r, 100, in, sizeof(in)), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 100, sizeof(in), &p), 0);
	/* the fake's device addresses are host addresses */
	EXPECT_EQ(memcmp(p, in, sizeof(in)), 0) TH_LOG("resolve's address");
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 100, out, sizeof(out)), 0);
	EXPECT_EQ(memcmp(out, in, sizeof(in)), 0);
	ASSERT_EQ(dev_cuda_ops.zero(r, 150, 50), 0);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 100, out, sizeof(out)), 0);
	EXPECT_EQ(memcmp(out, in, 50), 0);
	EXPECT_TRUE(all_bytes(out + 50, 50, 0));
	EXPECT_EQ(memcmp(out + 100, in + 100, 200), 0);
	EXPECT_EQ(dev_cuda_ops.resolve(NULL, 0, 0, &p), 0);
	EXPECT_TRUE(p == NULL);
	dev_cuda_ops.release(r);
}

struct copier {
	struct dev_region *r;
	int in, out;
	char buf[32];
};

static void *copier_main(void *arg)
{
	struct copier *c = arg;
	char data[32] = "from another thread";

	c->in = dev_cuda_ops.copy_in(c->r, 0, data, sizeof(data));
	c->out = dev_cuda_ops.copy_out(c->r, 0, c->buf, sizeof(c->buf));
	return NULL;
}

TEST_F(cuda, context_in_every_thread)
{
	struct copier c = { 0 };
	pthread_t t;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &c.r), 0);
	ASSERT_EQ(pthread_create(&t, NULL, copier_main, &c), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(c.in, 0);
	EXPECT_EQ(c.out, 0);
	EXPECT_STREQ(c.buf, "from another thread");
	EXPECT_EQ(self->fc->no_ctx, 0) TH_LOG("a call with no context");
	dev_cuda_ops.release(c.r);
}

TEST_F(cuda, launch_params)
{
	struct fakecuda *fc = self->fc;
	const struct gl_kernel *k = gl_kernel_find("saxpy");
	struct gl_grid g = grid1(4, 256);
	struct gl_kargs a = { 0 };
	struct dev_region *r;
	void *x, *y;
	float f = 2.5f;
	uint32_t bits;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 8192, &r), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 0, 4000, &x), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 4096, 4000, &y), 0);
	karg_u32(&a, 1000);
	karg_f32(&a, f);
	karg_buf(&a, x, 4000);
	karg_buf(&a, y, 4000);
	ASSERT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), 0);
	EXPECT_EQ(fc->launches, 1);
	EXPECT_GE(fc->queries, 1) TH_LOG("waited on the stream");
	EXPECT_STREQ(fc->last.name, "saxpy");
	EXPECT_EQ(fc->last.grid[0], 4u);
	EXPECT_EQ(fc->last.grid[1], 1u);
	EXPECT_EQ(fc->last.block[0], 256u);
	EXPECT_EQ(fc->last.block[2], 1u);
	EXPECT_TRUE(fc->last.stream == fc->last_stream)
		TH_LOG("launched on the region's stream");
	ASSERT_EQ(fc->last.nparams, 4u);
	EXPECT_EQ(fc->last.value[0], 1000u);
	memcpy(&bits, &f, sizeof(bits));
	EXPECT_EQ(fc->last.value[1], bits);
	EXPECT_EQ(fc->last.value[2], (uint64_t)(uintptr_t)x);
	EXPECT_EQ(fc->last.value[3], (uint64_t)(uintptr_t)y);

	/* the check runs on the device side too: nothing launches */
	a.v[3].buf.len = 3999;
	EXPECT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), -EFAULT);
	a.v[3].buf.len = 4000;
	g.block.y = 2;
	EXPECT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), -EINVAL);
	EXPECT_EQ(fc->launches, 1);
	dev_cuda_ops.release(r);
}

/*
 * A buf not aligned to its 4-byte floats is refused with EINVAL before
 * the launch: on a GPU (and the fake) it is a misaligned-address fault
 * that poisons the whole context.
 */
TEST_F(cuda, misaligned_buf_is_einval)
{
	struct fakecuda *fc = self->fc;
	const struct gl_kernel *k = gl_kernel_find("saxpy");
	struct gl_grid g = grid1(1, 256);
	struct gl_kargs a = { 0 };
	struct dev_region *r;
	void *x, *y;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 8192, &r), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 2, 64, &x), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 4096, 64, &y), 0);
	karg_u32(&a, 16);
	karg_f32(&a, 1.0f);
	karg_buf(&a, x, 64);
	karg_buf(&a, y, 64);
	EXPECT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), -EINVAL);
	EXPECT_EQ(fc->launches, 0) TH_LOG("a misaligned launch was queued");
	EXPECT_EQ(fc->sticky[0], 0) TH_LOG("the context was poisoned");
	/* aligned, the same launch runs and the device still works */
	ASSERT_EQ(dev_cuda_ops.resolve(r, 4, 64, &x), 0);
	a.v[2].buf.ptr = x;
	EXPECT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), 0);
	EXPECT_EQ(fc->launches, 1);
	EXPECT_EQ(fc->sticky[0], 0);
	dev_cuda_ops.release(r);
}

TEST_F(cuda, launch_noop)
{
	struct gl_grid g = grid1(1, 1);
	struct gl_kargs a = { 0 };

	ASSERT_EQ(probe(self), 1);
	EXPECT_EQ(dev_cuda_ops.launch(&self->dev, gl_kernel_find("noop"), &a,
				      &g, NULL), 0);
	EXPECT_EQ(self->fc->launches, 1);
	EXPECT_EQ(self->fc->last.nparams, 0u);
}

/* matmul arguments over a, b, c (host or device pointers) */
static void mm_args(struct gl_kargs *a, const uint32_t *dims,
		    const uint64_t *strides, float alpha, float beta,
		    void *pa, void *pb, void *pc, const uint64_t *lens)
{
	unsigned int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < 9; i++)
		karg_u32(a, dims[i]);
	for (i = 0; i < 3; i++)
		karg_u64(a, strides[i]);
	karg_f32(a, alpha);
	karg_f32(a, beta);
	karg_buf(a, pa, lens[0]);
	karg_buf(a, pb, lens[1]);
	karg_buf(a, pc, lens[2]);
}

/*
 * One matmul (m=5, n=3, k=4, batch 2, padded leading dimensions) with
 * transposes @ta, @tb on the backend; the CPU twin is the oracle.
 */
static void matmul_case(FIXTURE_DATA(cuda) *self, struct dev_region *r,
			uint32_t ta, uint32_t tb, bool blas)
{
	const struct gl_kernel *k = gl_kernel_find("matmul");
	uint32_t m = 5, n = 3, kk = 4, batch = 2;
	uint32_t lda = (ta ? m : kk) + 1, ldb = (tb ? kk : n) + 2, ldc = n + 1;
	uint64_t sa = (uint64_t)(ta ? kk : m) * lda;
	uint64_t sb = (uint64_t)(tb ? n : kk) * ldb;
	uint64_t sc = (uint64_t)m * ldc;
	uint32_t dims[9] = { m, n, kk, ta, tb, batch, lda, ldb, ldc };
	uint64_t strides[3] = { sa, sb, sc };
	uint64_t lens[3] = { 4 * sa * batch, 4 * sb * batch, 4 * sc * batch };
	struct gl_grid g = grid1(2, 256);
	struct gl_kargs a;
	float *ha, *hb, *hc, *want, *got;
	void *da, *db, *dc;
	uint64_t i;

	ha = malloc(lens[0]);
	hb = malloc(lens[1]);
	hc = malloc(lens[2]);
	want = malloc(lens[2]);
	got = malloc(lens[2]);
	ASSERT_TRUE(ha && hb && hc && want && got);
	for (i = 0; i < lens[0] / 4; i++)
		ha[i] = (float)((i * 37) % 11) / 4.0f - 1.0f;
	for (i = 0; i < lens[1] / 4; i++)
		hb[i] = (float)((i * 29) % 13) / 8.0f - 0.5f;
	for (i = 0; i < lens[2] / 4; i++)
		hc[i] = (float)(i % 7) - 3.0f;
	memcpy(want, hc, lens[2]);
	mm_args(&a, dims, strides, 1.5f, 0.5f, ha, hb, want, lens);
	ASSERT_EQ(gl_kernel_run_cpu(k, &a, &g, NULL), 0);

	ASSERT_EQ(dev_cuda_ops.copy_in(r, 0, ha, lens[0]), 0);
	ASSERT_EQ(dev_cuda_ops.copy_in(r, 4096, hb, lens[1]), 0);
	ASSERT_EQ(dev_cuda_ops.copy_in(r, 8192, hc, lens[2]), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 0, lens[0], &da), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 4096, lens[1], &db), 0);
	ASSERT_EQ(dev_cuda_ops.resolve(r, 8192, lens[2], &dc), 0);
	mm_args(&a, dims, strides, 1.5f, 0.5f, da, db, dc, lens);
	ASSERT_EQ(dev_cuda_ops.launch(&self->dev, k, &a, &g, NULL), 0);
	if (!blas) {
		EXPECT_STREQ(self->fc->last.name, "matmul");
		EXPECT_EQ(self->fc->last.nparams, 17u);
		EXPECT_EQ(self->fc->last.value[16], (uint64_t)(uintptr_t)dc);
		goto out;
	}
	EXPECT_EQ(self->fc->gemm.transa, (int)tb) TH_LOG("C^T = B^T A^T");
	EXPECT_EQ(self->fc->gemm.transb, (int)ta);
	EXPECT_EQ(self->fc->gemm.m, (int)n);
	EXPECT_EQ(self->fc->gemm.n, (int)m);
	EXPECT_TRUE(self->fc->gemm.a == db);
	EXPECT_TRUE(self->fc->gemm.workspace_bytes == 0);
	ASSERT_EQ(dev_cuda_ops.copy_out(r, 8192, got, lens[2]), 0);
	for (i = 0; i < lens[2] / 4; i++)
		if (fabsf(got[i] - want[i]) > 1e-4f + 1e-5f * fabsf(want[i]))
			break;
	EXPECT_EQ(i, lens[2] / 4)
		TH_LOG("ta=%u tb=%u: element %llu is %g, want %g", ta, tb,
		       (unsigned long long)i, got[i], want[i]);
out:
	free(ha);
	free(hb);
	free(hc);
	free(want);
	free(got);
}

TEST_F(cuda, matmul_cublas)
{
	struct dev_region *r;
	uint32_t ta, tb;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 16384, &r), 0);
	for (ta = 0; ta < 2; ta++)
		for (tb = 0; tb < 2; tb++)
			matmul_case(self, r, ta, tb, true);
	EXPECT_EQ(self->fc->sgemms, 4);
	EXPECT_EQ(self->fc->launches, 0);
	EXPECT_TRUE(self->fc->gemm.stream == self->fc->last_stream);
	dev_cuda_ops.release(r);
}

TEST_F(cuda, matmul_without_cublas)
{
	struct dev_region *r;

	setenv("GL_LIBCUBLAS", "/nonexistent/libcublas.so", 1);
	ASSERT_EQ(probe(self), 1);
	EXPECT_EQ(self->fc->blas_handles, 0);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 16384, &r), 0);
	matmul_case(self, r, 1, 0, false);
	EXPECT_EQ(self->fc->sgemms, 0);
	EXPECT_EQ(self->fc->launches, 1);
	dev_cuda_ops.release(r);
}

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
 * with it) rather than the wait going on for ever, and recovers: the
 * context, the fatbin and the registered modules are made again.
 */
TEST_F(cuda, runaway_kernel_fails_and_resets)
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

	/* the reset ends the kernel; the device serves again */
	atomic_store(&fc->hold_reset, 0);
	EXPECT_EQ(dev_cuda_ops.reset(&self->dev), 0);
	EXPECT_EQ(self->dev.state, DEV_READY);
	EXPECT_EQ(fc->resets, 1);
	EXPECT_EQ(fc->hold, 0);
	EXPECT_EQ(fc->modules, 1) TH_LOG("the fatbin, reloaded");
	EXPECT_EQ(fc->contexts, 1);
	/* the old region's memory is gone for good */
	EXPECT_EQ(dev_cuda_ops.copy_in(r, 0, buf, sizeof(buf)), -EIO);
	EXPECT_EQ(dev_cuda_ops.resolve(r, 0, 8, &y), -EIO);
	dev_cuda_ops.release(r);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 4096, &r2), 0);
	EXPECT_EQ(dev_cuda_ops.copy_in(r2, 0, buf, sizeof(buf)), 0);
	EXPECT_EQ(dev_cuda_ops.copy_out(r2, 0, out, sizeof(out)), 0);
	EXPECT_STREQ(out, buf);
	dev_cuda_ops.release(r2);
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

TEST_F(cuda, device_set_gpu)
{
	struct dev_set s;

	ASSERT_EQ(dev_set_probe(&s, 64 * MIB, false), 0);
	EXPECT_EQ(s.count, 1) TH_LOG("no CPU device beside a GPU");
	EXPECT_TRUE(s.devs[0].ops == &dev_cuda_ops);
	EXPECT_EQ(s.devs[0].index, 0);
	dev_set_teardown(&s);
	EXPECT_EQ(self->fc->contexts, 0);
}

/* A module file of the fake's format, in a temp file: its path. */
static int write_module(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/glmod.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

/* Root registers a kernel from a module on the cuda device; it launches
 * there with its own signature, never on a CPU device. */
TEST_F(cuda, registry_add_module)
{
	struct registry reg;
	struct dev_set s, c;
	const struct kernel_entry *e;
	struct dev_region *r;
	struct gl_kargs a = { 0 };
	struct gl_grid g = grid1(2, 64);
	char mod[32], bad[32], mod5[32], line[128];
	void *x;

	ASSERT_EQ(write_module(mod, "FAKEMOD\nmykern u32 n, f32 a, buf x\n"),
		  0);
	ASSERT_EQ(write_module(bad, "BROKEN"), 0);
	ASSERT_EQ(write_module(mod5, "FAKEMOD\nk5 u32 n, f32 a, buf x\n"),
		  0);
	ASSERT_EQ(dev_set_probe(&s, 64 * MIB, false), 0);
	ASSERT_TRUE(s.devs[0].ops == &dev_cuda_ops);
	ASSERT_EQ(registry_init(&reg), 0);
	snprintf(line, sizeof(line), "add mykern %s u32 n, f32 a, buf x\n",
		 mod);
	EXPECT_EQ(registry_add(&reg, &s, 1000, line, strlen(line)), -EPERM);
	ASSERT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), 0);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EEXIST);
	e = registry_find(&reg, "mykern");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->idx, (unsigned)GL_K_COUNT);
	EXPECT_TRUE(e->k->cpu == NULL);
	EXPECT_EQ(e->sig.count, 3u);
	EXPECT_TRUE(registry_get(&reg, GL_K_COUNT) == e);
	EXPECT_TRUE(registry_get(&reg, GL_K_COUNT + 1) == NULL);

	/* malformed lines, a missing file, an image the driver refuses */
	EXPECT_EQ(registry_add(&reg, &s, 0, "add k2", 6), -EINVAL);
	EXPECT_EQ(registry_add(&reg, &s, 0, "add k2 rel/path u32 n", 21),
		  -EINVAL);
	EXPECT_EQ(registry_add(&reg, &s, 0, "add k2 /nonexistent u32 n", 25),
		  -ENOENT);
	snprintf(line, sizeof(line), "add k2 %s u32 n, bogus b", mod);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);
	snprintf(line, sizeof(line), "add k2 %s u32 n", bad);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);
	snprintf(line, sizeof(line), "add notinmod %s u32 n", mod);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);
	/* the signature must be the function's (cuFuncGetParamInfo):
	 * a parameter short, one too many, one of the wrong size */
	snprintf(line, sizeof(line), "add k5 %s u32 n, buf x", mod5);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);
	snprintf(line, sizeof(line), "add k5 %s u32 n, f32 a, buf x, u32 m",
		 mod5);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);
	snprintf(line, sizeof(line), "add k5 %s u64 n, f32 a, buf x", mod5);
	EXPECT_EQ(registry_add(&reg, &s, 0, line, strlen(line)), -EINVAL);

	EXPECT_TRUE(registry_get(&reg, GL_K_COUNT + 1) == NULL);

	/* it runs on the device with what the signature says */
	ASSERT_EQ(s.devs[0].ops->reserve(&s.devs[0], 4096, &r), 0);
	ASSERT_EQ(s.devs[0].ops->resolve(r, 0, 256, &x), 0);
	karg_u32(&a, 64);
	karg_f32(&a, 0.5f);
	karg_buf(&a, x, 256);
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL), 0);
	EXPECT_STREQ(self->fc->last.name, "mykern");
	EXPECT_EQ(self->fc->last.nparams, 3u);
	EXPECT_EQ(self->fc->last.value[0], 64u);
	EXPECT_EQ(self->fc->last.value[2], (uint64_t)(uintptr_t)x);
	g.block.x = 2048;	/* the generic check still holds */
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL),
		  -EINVAL);
	g.block.x = 1;		/* CUDA's block.z limit is 64 */
	g.block.z = 65;
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL),
		  -EINVAL);
	g.block.z = 64;
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL), 0);
	g = grid1(2, 64);
	/* its element type is unknown: buffers are 16-byte aligned */
	a.v[2].buf.ptr = (char *)x + 4;
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL),
		  -EINVAL);
	a.v[2].buf.ptr = (char *)x + 16;
	EXPECT_EQ(s.devs[0].ops->launch(&s.devs[0], e->k, &a, &g, NULL), 0);
	EXPECT_EQ(self->fc->sticky[0], 0);
	s.devs[0].ops->release(r);

	/* a CPU device cannot load modules, nor run what has no twin */
	ASSERT_EQ(dev_set_probe(&c, 64 * MIB, true), 0);
	snprintf(line, sizeof(line), "add k3 %s u32 n", mod);
	EXPECT_EQ(registry_add(&reg, &c, 0, line, strlen(line)), -EOPNOTSUPP);
	EXPECT_EQ(c.devs[0].ops->launch(&c.devs[0], e->k, &a, &g, NULL),
		  -EINVAL);
	dev_set_teardown(&c);

	registry_destroy(&reg);
	dev_set_teardown(&s);
	unlink(mod);
	unlink(bad);
	unlink(mod5);
	EXPECT_EQ(self->fc->modules, 0) TH_LOG("modules left loaded");
}

/* --cpu: the CPU device serves even beside a GPU */
TEST_F(cuda, device_set_cpu_only)
{
	struct dev_set s;

	ASSERT_EQ(dev_set_probe(&s, 64 * MIB, true), 0);
	EXPECT_EQ(s.count, 1);
	EXPECT_TRUE(s.devs[0].ops == &dev_cpu_ops);
	EXPECT_EQ(self->fc->contexts, 0) TH_LOG("the GPU was not left alone");
	dev_set_teardown(&s);
}

TEST(device_set_no_driver)
{
	struct dev_set s;

	setenv("GL_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
	ASSERT_EQ(dev_set_probe(&s, 64 * MIB, false), 0);
	EXPECT_EQ(s.count, 1);
	EXPECT_TRUE(s.devs[0].ops == &dev_cpu_ops);
	EXPECT_EQ(s.devs[0].capacity, 64 * MIB);
	dev_set_teardown(&s);
}

/* cuBLAS sonames newest first, none newer than the driver supports. */
TEST(blas_sonames_follow_the_driver)
{
	EXPECT_STREQ(cuda_blas_soname(13000, 0), "libcublas.so.13");
	EXPECT_STREQ(cuda_blas_soname(13000, 1), "libcublas.so.12");
	EXPECT_STREQ(cuda_blas_soname(12080, 0), "libcublas.so.12");
	EXPECT_STREQ(cuda_blas_soname(12080, 1), "libcublas.so.11");
	EXPECT_STREQ(cuda_blas_soname(12080, 2), "libcublas.so");
	EXPECT_TRUE(cuda_blas_soname(12080, 3) == NULL);
	EXPECT_STREQ(cuda_blas_soname(11040, 0), "libcublas.so.11");
	EXPECT_STREQ(cuda_blas_soname(99999, 0), "libcublas.so.13");
}

TEST_HARNESS_MAIN
