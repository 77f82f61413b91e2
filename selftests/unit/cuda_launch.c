/* SPDX-License-Identifier: MIT */
/*
 * cuda_launch.c - launches on the CUDA backend against the fake driver:
 * parameter marshalling, misaligned buffers refused, the no-op launch,
 * the cuBLAS row-major mapping (the fake computes, the CPU twin is the
 * oracle) and the fallback kernel, root-registered modules. No GPU is
 * needed; the fixture is in cuda_fixture.h.
 *
 * Invariant: every test loads the fake through $GL_LIBCUDA and
 * $GL_LIBCUBLAS, so a real driver on the machine is never touched.
 */
#include "selftests/unit/cuda_fixture.h"

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

/*
 * cuBLAS takes no device memory behind the accounting: a GEMM on the
 * default workspace pool (what cublasSetStream leaves) allocates one per
 * stream, so every rebind is followed by an explicit empty workspace.
 * Two leases, two streams, no pool.
 */
TEST_F(cuda, matmul_cublas_takes_no_workspace)
{
	struct dev_region *r1, *r2;

	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 16384, &r1), 0);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 16384, &r2), 0);
	matmul_case(self, r1, 0, 0, true);
	matmul_case(self, r2, 1, 0, true);
	matmul_case(self, r1, 0, 1, true);
	EXPECT_EQ(self->fc->sgemms, 3);
	EXPECT_EQ(self->fc->blas_ws_allocs, 0)
		TH_LOG("cuBLAS allocated %d default workspace pools",
		       self->fc->blas_ws_allocs);
	EXPECT_EQ(self->fc->blas_ws_bytes, 0);
	EXPECT_TRUE(self->fc->gemm.workspace == NULL);
	EXPECT_TRUE(self->fc->gemm.workspace_bytes == 0);
	dev_cuda_ops.release(r1);
	dev_cuda_ops.release(r2);
}

/* A shape cuBLAS cannot run without a workspace runs the fatbin's
 * kernel in the lease instead: still no memory behind the accounting. */
TEST_F(cuda, matmul_cublas_without_workspace_runs_kernel)
{
	struct dev_region *r;

	self->fc->blas_ws_min = 16384;
	ASSERT_EQ(probe(self), 1);
	ASSERT_EQ(dev_cuda_ops.reserve(&self->dev, 16384, &r), 0);
	matmul_case(self, r, 0, 1, false);
	EXPECT_EQ(self->fc->sgemms, 0);
	EXPECT_EQ(self->fc->launches, 1);
	EXPECT_EQ(self->fc->blas_ws_allocs, 0);
	EXPECT_EQ(self->fc->blas_handles, 1);
	dev_cuda_ops.release(r);
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

TEST_HARNESS_MAIN
