/* SPDX-License-Identifier: MIT */
/*
 * cuda: what the broker costs on a CUDA device against the driver called
 * directly in the same run: acquire + drop of a lease against cuMemAlloc
 * + cuMemFree of the same size; copies into vram from ordinary memory
 * (the vram file's path) and from the ring's data area (what a COPY_IN
 * entry does) against cuMemcpyHtoD from pinned memory; a noop launch
 * through the device against cuLaunchKernel + cuStreamSynchronize; and
 * matmul through the device against cublasSgemmStridedBatched. Each
 * line gives both medians and their ratio, time through the broker over
 * time direct (1.00: no cost; 2.00: twice as long).
 *
 * It runs the broker core in process (as the fuzz targets do), not a
 * client over FUSE, so it works where FUSE cannot mount (the lent GPU
 * machines' sandboxes). $GL_LIBCUDA / $GL_LIBCUBLAS pick the libraries,
 * as for the daemon: scripts/gpu-check.sh runs it on the real driver,
 * and against the fake in make check so it cannot rot (numbers then
 * mean nothing). Exit 0, 1 on an error, 4 when device 0 is no GPU.
 *
 * Invariant: every contender runs the same sizes the same number of
 * times, alternating, and everything made is released on every path.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/broker.h"
#include "daemon/dev/cuda-dev.h"
#include "daemon/lease.h"
#include "daemon/parse.h"
#include "daemon/ring.h"
#include "kernels/fatbin.h"
#include "uapi/gpulease.h"
#include "stats.h"

struct direct {
	CUresult (*alloc)(CUdeviceptr *p, size_t size);
	CUresult (*free)(CUdeviceptr p);
	CUresult (*host_alloc)(void **p, size_t size, unsigned int flags);
	CUresult (*host_free)(void *p);
	CUresult (*htod)(CUdeviceptr dst, const void *src, size_t len);
	CUresult (*ctx_sync)(void);
};

struct bench {
	uint64_t size;		/* the acquire/drop lease, bytes */
	uint64_t copy;		/* bytes per copy */
	long iters;		/* samples of the big operations */
	long launches;		/* samples of the noop launch */
	long mm;		/* matmul is mm x mm x mm */
	struct broker b;
	struct dev *d;
	struct direct dr;
	uint64_t *t[2];		/* samples: broker, direct */
	int failed;
};

#define BENCH_LEASE	"bench-cuda"

static int bench_fail(struct bench *B, const char *what, int err)
{
	fprintf(stderr, "bench cuda: %s: %s\n", what, strerror(-err));
	B->failed = 1;
	return err;
}

/* One result line: medians of the broker and the direct samples. */
static void bench_report(struct bench *B, const char *what, long n,
			 uint64_t bytes, const char *direct)
{
	struct stats_summary s[2];

	if (stats_summarize(B->t[0], (size_t)n, &s[0]) ||
	    stats_summarize(B->t[1], (size_t)n, &s[1]))
		return;
	if (bytes)
		printf("%-28s broker %9.3f GB/s  %-26s %9.3f GB/s  ratio %.2f\n",
		       what, (double)bytes / (double)s[0].p50,
		       direct, (double)bytes / (double)s[1].p50,
		       (double)s[0].p50 / (double)(s[1].p50 ? s[1].p50 : 1));
	else
		printf("%-28s broker %9.1f us    %-26s %9.1f us    ratio %.2f\n",
		       what, (double)s[0].p50 / 1e3, direct,
		       (double)s[1].p50 / 1e3,
		       (double)s[0].p50 / (double)(s[1].p50 ? s[1].p50 : 1));
}

static int bench_acquire(struct bench *B, struct lease **l, uint64_t bytes)
{
	struct lease_req req = {
		.name = BENCH_LEASE, .vram = bytes, .ttl = 3600, .dev = 0,
	};

	return lease_acquire(&B->b.leases, &req, l);
}

static void bench_drop(struct bench *B, struct lease *l)
{
	lease_drop(l, 0, false);
	lease_put(l);
}

/* acquire + drop of B->size bytes against cuMemAlloc + cuMemFree. */
static void bench_lease_ops(struct bench *B)
{
	struct lease *l;
	CUdeviceptr p;
	uint64_t t0;
	long i;
	int err;

	for (i = 0; i < B->iters; i++) {
		t0 = stats_now_ns();
		err = bench_acquire(B, &l, B->size);
		if (err) {
			bench_fail(B, "acquire", err);
			return;
		}
		bench_drop(B, l);
		B->t[0][i] = stats_now_ns() - t0;
		t0 = stats_now_ns();
		if (B->dr.alloc(&p, B->size)) {
			bench_fail(B, "cuMemAlloc", -ENOMEM);
			return;
		}
		B->dr.free(p);
		B->t[1][i] = stats_now_ns() - t0;
	}
	printf("# %llu MiB each\n", (unsigned long long)(B->size >> 20));
	bench_report(B, "acquire+drop", B->iters, 0, "cuMemAlloc+cuMemFree");
}

/* Copies of B->copy bytes into a lease from @src, against cuMemcpyHtoD
 * from pinned memory. */
static void bench_copy(struct bench *B, struct lease *l, const void *src,
		       const char *what, CUdeviceptr dst, const void *pinned)
{
	uint64_t t0;
	long i;

	for (i = 0; i < B->iters; i++) {
		t0 = stats_now_ns();
		if (lease_pwrite(l, src, B->copy, 0) != (ssize_t)B->copy) {
			bench_fail(B, what, -EIO);
			return;
		}
		B->t[0][i] = stats_now_ns() - t0;
		cuda_enter(B->d->priv);
		t0 = stats_now_ns();
		if (B->dr.htod(dst, pinned, B->copy) || B->dr.ctx_sync()) {
			bench_fail(B, "cuMemcpyHtoD", -EIO);
			return;
		}
		B->t[1][i] = stats_now_ns() - t0;
	}
	bench_report(B, what, B->iters, B->copy, "cuMemcpyHtoD pinned");
}

static void bench_copies(struct bench *B)
{
	uint64_t io = (B->copy + (1 << 20) + 4095) & ~4095ull;
	void *pinned = NULL, *src;
	CUdeviceptr dst = 0;
	struct lease *l;
	int err;

	src = malloc(B->copy);
	if (!src) {
		bench_fail(B, "malloc", -ENOMEM);
		return;
	}
	memset(src, 0x5a, B->copy);
	err = bench_acquire(B, &l, B->copy);
	if (err) {
		free(src);
		bench_fail(B, "acquire", err);
		return;
	}
	cuda_enter(B->d->priv);
	if (B->dr.host_alloc(&pinned, B->copy, 0) ||
	    B->dr.alloc(&dst, B->copy)) {
		bench_fail(B, "pinned or device memory", -ENOMEM);
		goto out;
	}
	memset(pinned, 0x5a, B->copy);
	printf("# %llu MiB each\n", (unsigned long long)(B->copy >> 20));
	bench_copy(B, l, src, "vram write (pageable)", dst, pinned);
	if (io > GL_RING_SIZE_MAX || lease_set_io(l, io)) {
		printf("# no io region of %llu bytes: ring copy not run\n",
		       (unsigned long long)io);
		goto out;
	}
	memset(l->io->data, 0x5a, B->copy);
	bench_copy(B, l, l->io->data, "ring data -> vram", dst, pinned);
out:
	cuda_enter(B->d->priv);
	if (pinned)
		B->dr.host_free(pinned);
	if (dst)
		B->dr.free(dst);
	bench_drop(B, l);
	free(src);
}

/* noop through the device (check, marshalling, hold, poll) against
 * cuLaunchKernel + cuStreamSynchronize of the same function. */
static void bench_launch(struct bench *B)
{
	const struct gl_kernel *k = gl_kernel_find("noop");
	struct gl_grid g = { { 1, 1, 1 }, { 1, 1, 1 } };
	struct cuda_dev *cd = B->d->priv;
	struct gl_kargs a = { 0 };
	CUmodule mod = NULL;
	CUfunction f;
	CUstream s = NULL;
	uint64_t t0;
	long i;

	cuda_enter(cd);
	if (cuda.cu.ModuleLoadData(&mod, gl_fatbin) ||
	    cuda.cu.ModuleGetFunction(&f, mod, "noop") ||
	    cuda.cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING)) {
		bench_fail(B, "noop module", -EIO);
		goto out;
	}
	for (i = 0; i < B->launches; i++) {
		t0 = stats_now_ns();
		if (B->d->ops->launch(B->d, k, &a, &g, NULL)) {
			bench_fail(B, "noop launch", -EIO);
			goto out;
		}
		B->t[0][i] = stats_now_ns() - t0;
		cuda_enter(cd);
		t0 = stats_now_ns();
		if (cuda.cu.LaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, NULL,
					 NULL) ||
		    cuda.cu.StreamSynchronize(s)) {
			bench_fail(B, "cuLaunchKernel", -EIO);
			goto out;
		}
		B->t[1][i] = stats_now_ns() - t0;
	}
	bench_report(B, "noop launch", B->launches, 0,
		     "cuLaunchKernel+sync");
out:
	cuda_enter(cd);
	if (s)
		cuda.cu.StreamDestroy(s);
	if (mod)
		cuda.cu.ModuleUnload(mod);
}

static void bench_karg(struct gl_kargs *a, enum gl_ktype t, uint64_t v)
{
	a->v[a->count].type = t;
	if (t == GL_KT_U32)
		a->v[a->count++].u32 = (uint32_t)v;
	else
		a->v[a->count++].u64 = v;
}

/* C = A B, mm x mm, through the device against cuBLAS called directly. */
static void bench_matmul(struct bench *B)
{
	uint64_t n = (uint64_t)B->mm, bytes = n * n * 4;
	const struct gl_kernel *k = gl_kernel_find("matmul");
	struct gl_grid g = { { 1024, 1, 1 }, { 256, 1, 1 } };
	struct cuda_dev *cd = B->d->priv;
	CUdeviceptr m[3] = { 0 };
	struct gl_kargs a = { 0 };
	cublasHandle_t h = NULL;
	float one = 1.0f, zero = 0.0f;
	CUstream s = NULL;
	struct lease *l;
	void *p[3];
	uint64_t t0;
	long i;
	int err, j;

	if (!cuda.blas_lib) {
		printf("# no cuBLAS: matmul not compared\n");
		return;
	}
	err = bench_acquire(B, &l, 3 * bytes);
	if (err) {
		bench_fail(B, "acquire", err);
		return;
	}
	for (j = 0; j < 3; j++)
		B->d->ops->resolve(l->region, j * bytes, bytes, &p[j]);
	for (j = 0; j < 5; j++)		/* m n k trans_a trans_b */
		bench_karg(&a, GL_KT_U32, j < 3 ? n : 0);
	bench_karg(&a, GL_KT_U32, 1);	/* batch */
	for (j = 0; j < 3; j++)		/* lda ldb ldc */
		bench_karg(&a, GL_KT_U32, 0);
	for (j = 0; j < 3; j++)		/* strides */
		bench_karg(&a, GL_KT_U64, 0);
	a.v[a.count].type = GL_KT_F32;
	a.v[a.count++].f32 = 1.0f;
	a.v[a.count].type = GL_KT_F32;
	a.v[a.count++].f32 = 0.0f;
	for (j = 0; j < 3; j++) {
		a.v[a.count].type = GL_KT_BUF;
		a.v[a.count].buf.ptr = p[j];
		a.v[a.count++].buf.len = bytes;
	}
	cuda_enter(cd);
	for (j = 0; j < 3; j++)
		if (B->dr.alloc(&m[j], bytes))
			goto fail;
	if (cuda.cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING) ||
	    cuda.blas.Create(&h) || cuda.blas.SetStream(h, s))
		goto fail;
	for (i = 0; i < B->iters; i++) {
		t0 = stats_now_ns();
		if (B->d->ops->launch(B->d, k, &a, &g, NULL))
			goto fail;
		B->t[0][i] = stats_now_ns() - t0;
		cuda_enter(cd);
		t0 = stats_now_ns();
		if (cuda.blas.SgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N,
				(int)n, (int)n, (int)n, &one,
				(const float *)(uintptr_t)m[1], (int)n, 0,
				(const float *)(uintptr_t)m[0], (int)n, 0,
				&zero, (float *)(uintptr_t)m[2], (int)n, 0,
				1) || cuda.cu.StreamSynchronize(s))
			goto fail;
		B->t[1][i] = stats_now_ns() - t0;
	}
	printf("# %ld x %ld x %ld\n", B->mm, B->mm, B->mm);
	bench_report(B, "matmul", B->iters, 0, "cublasSgemm direct");
	goto out;
fail:
	bench_fail(B, "matmul", -EIO);
out:
	cuda_enter(cd);
	if (h)
		cuda.blas.Destroy(h);
	if (s)
		cuda.cu.StreamDestroy(s);
	for (j = 0; j < 3; j++)
		if (m[j])
			B->dr.free(m[j]);
	bench_drop(B, l);
}

static int bench_direct(struct direct *dr)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{ "cuMemAlloc_v2", offsetof(struct direct, alloc) },
		{ "cuMemFree_v2", offsetof(struct direct, free) },
		{ "cuMemHostAlloc", offsetof(struct direct, host_alloc) },
		{ "cuMemFreeHost", offsetof(struct direct, host_free) },
		{ "cuMemcpyHtoD_v2", offsetof(struct direct, htod) },
		{ "cuCtxSynchronize", offsetof(struct direct, ctx_sync) },
	};
	void *f;
	size_t i;

	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		f = dlsym(cuda.lib, syms[i].name);
		if (!f) {
			fprintf(stderr, "bench cuda: no %s\n", syms[i].name);
			return -ENOENT;
		}
		memcpy((char *)dr + syms[i].off, &f, sizeof(f));
	}
	return 0;
}

static int bench_size(const char *arg, uint64_t *out)
{
	return parse_size(arg, out) || !*out ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "copy", required_argument, NULL, 'c' },
		{ "iters", required_argument, NULL, 'n' },
		{ "launches", required_argument, NULL, 'l' },
		{ "mm", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct broker_config cfg = {
		.cpu_vram = 64 << 20, .default_ttl = 600, .max_ttl = 3600,
		.launch_timeout_ms = 60000, .executors = 1,
	};
	struct bench B = {
		.size = 1ull << 30, .copy = 256ull << 20, .iters = 20,
		.launches = 2000, .mm = 2048,
	};
	long most;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			err = bench_size(optarg, &B.size);
			break;
		case 'c':
			err = bench_size(optarg, &B.copy);
			break;
		case 'n':
			B.iters = atol(optarg);
			err = B.iters > 0 ? 0 : -EINVAL;
			break;
		case 'l':
			B.launches = atol(optarg);
			err = B.launches > 0 ? 0 : -EINVAL;
			break;
		case 'm':
			B.mm = atol(optarg);
			err = B.mm > 0 && B.mm <= 16384 ? 0 : -EINVAL;
			break;
		default:
			err = -EINVAL;
		}
		if (err) {
			fprintf(stderr, "usage: %s [--size BYTES] [--copy "
				"BYTES] [--iters N] [--launches N] [--mm N]\n",
				argv[0]);
			return 1;
		}
	}
	err = broker_init(&B.b, &cfg);
	if (err) {
		fprintf(stderr, "bench cuda: broker: %s\n", strerror(-err));
		return 1;
	}
	B.d = &B.b.devs.devs[0];
	if (strcmp(B.d->ops->kind, GL_KIND_CUDA) ||
	    atomic_load(&B.d->state) != DEV_READY) {
		printf("# SKIP device 0 is no ready CUDA device\n");
		broker_destroy(&B.b);
		return 4;
	}
	most = B.iters > B.launches ? B.iters : B.launches;
	B.t[0] = calloc((size_t)most, sizeof(uint64_t));
	B.t[1] = calloc((size_t)most, sizeof(uint64_t));
	if (!B.t[0] || !B.t[1] || bench_direct(&B.dr)) {
		B.failed = 1;
		goto out;
	}
	printf("# device 0: %s, %llu MiB for leases; medians of %ld runs "
	       "(%ld launches)\n", B.d->name,
	       (unsigned long long)(B.d->capacity >> 20), B.iters,
	       B.launches);
	bench_lease_ops(&B);
	bench_copies(&B);
	bench_launch(&B);
	bench_matmul(&B);
out:
	free(B.t[0]);
	free(B.t[1]);
	broker_destroy(&B.b);
	return B.failed;
}
