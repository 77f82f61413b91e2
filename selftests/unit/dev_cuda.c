/* SPDX-License-Identifier: MIT */
/*
 * dev_cuda.c - the CUDA backend (daemon/dev/cuda.c) against the fake
 * driver: probe and the missing-driver path, VMM accounting (every
 * handle, mapping, reservation and stream gone when release returns),
 * guard space, copies, resolve, a context in every thread, the device
 * set and cuBLAS's sonames. Launches are in cuda_launch.c, faults in
 * cuda_fault.c; the fixture in cuda_fixture.h. No GPU is needed.
 *
 * Invariant: every test loads the fake through $GL_LIBCUDA and
 * $GL_LIBCUBLAS, so a real driver on the machine is never touched.
 */
#include "selftests/unit/cuda_fixture.h"

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
