/* SPDX-License-Identifier: MIT */
/*
 * A fake libcuda.so.1 (and libcublas) for testing daemon/dev-cuda.c
 * where no GPU exists: the driver entry points the backend calls,
 * implemented on host memory with the real semantics that matter.
 * "Device" memory is a memfd per cuMemCreate handle (filled with 0xA5,
 * like stale memory), an address reservation is a PROT_NONE mapping,
 * cuMemMap maps the memfd there and cuMemSetAccess makes it read-write,
 * so a device pointer is a host pointer the test can read. Copies and
 * memsets run at once; kernels cannot run, so cuLaunchKernel records the
 * launch (parameters decoded by GL_KERNELS()'s signatures) and succeeds;
 * streams report busy while the test holds them. The cuBLAS entry points
 * record their arguments and compute the column-major GEMM on the host.
 * Every call but the device queries needs a current context in the
 * calling thread, as the real driver does.
 *
 * Invariant: struct fakecuda (fakecuda.h) counts every live object; all
 * live counts are 0 once the backend has released what it made.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FAKECUDA_LIB
#include "daemon/cuda-api.h"
#include "kernels/kernels.h"
#include "selftests/fakecuda/fakecuda.h"

#define EXPORT __attribute__((visibility("default")))

static struct fakecuda st = {
	.ndev = 1,
	.total = 1ull << 30,
	.gran = 2u << 20,
	.driver_version = 99000,
};
static __thread CUcontext cur_ctx;
static int ctx_token[FAKECUDA_DEV_MAX];	/* one primary context each */
static int blas_token;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct fake_handle {
	int fd;
	size_t size;
};

struct fake_stream {
	int id;
};

struct fake_func {
	const char *name;
	const char *sig;
};

static const struct fake_func funcs[] = {
#define FAKE_FUNC(kname, ksig, kblock) { #kname, ksig },
	GL_KERNELS(FAKE_FUNC)
#undef FAKE_FUNC
};

/*
 * Modules other than the fatbin: an image "FAKEMOD\nNAME SIGNATURE\n..."
 * defines functions NAME with those signatures, as a cubin would.
 */
#define FAKE_EXTRA_MAX 8
static struct {
	struct fake_func f;
	char name[64];
	char sig[256];
} fake_extra[FAKE_EXTRA_MAX];
static unsigned int nr_extra;

static void load_fake_module(const char *image)
{
	const char *p = image + 8, *nl, *sp;

	while (*p && nr_extra < FAKE_EXTRA_MAX) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp && sp - p < 64 && nl - sp - 1 < 256) {
			memcpy(fake_extra[nr_extra].name, p, (size_t)(sp - p));
			memcpy(fake_extra[nr_extra].sig, sp + 1,
			       (size_t)(nl - sp - 1));
			fake_extra[nr_extra].f.name = fake_extra[nr_extra].name;
			fake_extra[nr_extra].f.sig = fake_extra[nr_extra].sig;
			nr_extra++;
		}
		p = *nl ? nl + 1 : nl;
	}
}

EXPORT struct fakecuda *fakecuda_state(void)
{
	return &st;
}

static CUresult need_ctx(void)
{
	if (cur_ctx)
		return CUDA_SUCCESS;
	st.no_ctx++;
	return CUDA_ERROR_INVALID_CONTEXT;
}

/* The device of the current context (need_ctx() first). */
static int cur_dev(void)
{
	return (int)((int *)cur_ctx - ctx_token);
}

/* need_ctx() for calls that do work: they fail once the context is
 * poisoned (frees still succeed, so the live counters stay honest). */
static CUresult need_live(void)
{
	CUresult rc = need_ctx();

	return rc ? rc : atomic_load(&st.sticky[cur_dev()]);
}

/* Driver entry points, with the prototypes of daemon/cuda-api.h. */
EXPORT CUresult cuGetErrorName(CUresult rc, const char **name);
EXPORT CUresult cuInit(unsigned int flags);
EXPORT CUresult cuDriverGetVersion(int *version);
EXPORT CUresult cuDeviceGetCount(int *count);
EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal);
EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev);
EXPORT CUresult cuDeviceGetAttribute(int *value, int attr, CUdevice dev);
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev);
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev);
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev,
					      unsigned int flags);
EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev);
EXPORT CUresult cuCtxSetCurrent(CUcontext ctx);
EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total);
EXPORT CUresult cuMemGetAllocationGranularity(size_t *gran,
					      const CUmemAllocationProp *p,
					      int option);
EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size,
			    const CUmemAllocationProp *p,
			    unsigned long long flags);
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h);
EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size,
				    size_t align, CUdeviceptr addr,
				    unsigned long long flags);
EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size);
EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
			 CUmemGenericAllocationHandle h,
			 unsigned long long flags);
EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size);
EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
			       const CUmemAccessDesc *desc, size_t count);
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src,
				     size_t len, CUstream s);
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t len,
				     CUstream s);
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src,
				     size_t len, CUstream s);
EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value,
				size_t len, CUstream s);
EXPORT CUresult cuStreamCreate(CUstream *s, unsigned int flags);
EXPORT CUresult cuStreamDestroy_v2(CUstream s);
EXPORT CUresult cuStreamQuery(CUstream s);
EXPORT CUresult cuStreamSynchronize(CUstream s);
EXPORT CUresult cuModuleLoadData(CUmodule *mod, const void *image);
EXPORT CUresult cuModuleUnload(CUmodule mod);
EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule mod,
				    const char *name);
EXPORT CUresult cuFuncGetParamInfo(CUfunction f, size_t index,
				   size_t *offset, size_t *size);
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx,
			       unsigned int gy, unsigned int gz,
			       unsigned int bx, unsigned int by,
			       unsigned int bz, unsigned int shared,
			       CUstream s, void **params, void **extra);
EXPORT CUresult cuMemHostRegister_v2(void *p, size_t len,
				     unsigned int flags);
EXPORT CUresult cuMemHostUnregister(void *p);
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t size);
EXPORT CUresult cuMemFree_v2(CUdeviceptr p);
EXPORT CUresult cuMemHostAlloc(void **p, size_t size, unsigned int flags);
EXPORT CUresult cuMemFreeHost(void *p);
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
				size_t len);
EXPORT CUresult cuCtxSynchronize(void);
EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn,
				    int version, unsigned long long flags,
				    int *status);
EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t *h);
EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t h);
EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s);
EXPORT cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws,
					    size_t bytes);
EXPORT cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h,
		int transa, int transb, int m, int n, int k,
		const float *alpha, const float *a, int lda,
		long long stride_a, const float *b, int ldb,
		long long stride_b, const float *beta, float *c, int ldc,
		long long stride_c, int batch);

CUresult cuGetErrorName(CUresult rc, const char **name)
{
	switch (rc) {
	case CUDA_SUCCESS:
		*name = "CUDA_SUCCESS";
		return 0;
	case CUDA_ERROR_OUT_OF_MEMORY:
		*name = "CUDA_ERROR_OUT_OF_MEMORY";
		return 0;
	case CUDA_ERROR_ILLEGAL_ADDRESS:
		*name = "CUDA_ERROR_ILLEGAL_ADDRESS";
		return 0;
	case CUDA_ERROR_MISALIGNED_ADDRESS:
		*name = "CUDA_ERROR_MISALIGNED_ADDRESS";
		return 0;
	case CUDA_ERROR_INVALID_CONTEXT:
		*name = "CUDA_ERROR_INVALID_CONTEXT";
		return 0;
	default:
		*name = "CUDA_ERROR_FAKE";
		return 0;
	}
}

/* $@name into @out (a char array), "" when unset */
#define FAKE_GETENV(out, name)						\
	snprintf(out, sizeof(out), "%s", getenv(name) ? getenv(name) : "")

CUresult cuInit(unsigned int flags)
{
	/* what the real driver reads once, here */
	FAKE_GETENV(st.init_loading, "CUDA_MODULE_LOADING");
	FAKE_GETENV(st.init_connections, "CUDA_DEVICE_MAX_CONNECTIONS");
	return st.init_result;
}

CUresult cuDriverGetVersion(int *version)
{
	*version = st.driver_version;
	return 0;
}

CUresult cuDeviceGetCount(int *count)
{
	*count = st.ndev;
	return 0;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
	if (ordinal < 0 || ordinal >= st.ndev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = ordinal;
	return 0;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	snprintf(name, (size_t)len, "Fake GPU %d", dev);
	return 0;
}

CUresult cuDeviceGetAttribute(int *value, int attr, CUdevice dev)
{
	*value = attr == CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED
		 ? !st.no_vmm : 0;
	return 0;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	*bytes = st.total;
	return 0;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev)
{
	if (dev < 0 || dev >= FAKECUDA_DEV_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	*ctx = (CUcontext)&ctx_token[dev];
	st.contexts++;
	return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	st.contexts--;
	return 0;
}

/* Destroys the context's state: its sticky error, its running kernels. */
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	struct timespec ts = { 0, 1000000 };

	if (dev < 0 || dev >= FAKECUDA_DEV_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	while (atomic_load(&st.hold_reset))
		nanosleep(&ts, NULL);
	atomic_store(&st.sticky[dev], 0);
	atomic_store(&st.hold, 0);
	st.resets++;
	return 0;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
	st.ctx_flags = flags;
	return 0;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	cur_ctx = ctx;
	return 0;
}

CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	*total = st.total;
	*free_b = st.total - st.handle_bytes -
		  (uint64_t)st.contexts * st.ctx_bytes;
	return 0;
}

CUresult cuMemGetAllocationGranularity(size_t *gran,
				       const CUmemAllocationProp *p,
				       int option)
{
	*gran = st.gran;
	return 0;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size,
		     const CUmemAllocationProp *p, unsigned long long flags)
{
	struct fake_handle *fh;
	CUresult rc = need_live();
	void *map;

	if (rc)
		return rc;
	if (!size || size % st.gran ||
	    p->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    p->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (st.handle_bytes + size > st.total)
		return CUDA_ERROR_OUT_OF_MEMORY;
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return CUDA_ERROR_OUT_OF_MEMORY;
	fh->size = size;
	fh->fd = memfd_create("fakecuda", MFD_CLOEXEC);
	if (fh->fd < 0 || ftruncate(fh->fd, (off_t)size))
		goto err;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fh->fd, 0);
	if (map == MAP_FAILED)
		goto err;
	memset(map, 0xa5, size);	/* stale memory */
	munmap(map, size);
	*h = (CUmemGenericAllocationHandle)(uintptr_t)fh;
	st.handles++;
	st.handle_bytes += size;
	if (st.handle_bytes > st.handle_peak)
		st.handle_peak = st.handle_bytes;
	return 0;
err:
	if (fh->fd >= 0)
		close(fh->fd);
	free(fh);
	return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
	struct fake_handle *fh = (struct fake_handle *)(uintptr_t)h;
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	st.handles--;
	st.handle_bytes -= fh->size;
	close(fh->fd);
	free(fh);
	return 0;
}

/* Live reservations: the driver frees only a range it reserved, whole. */
#define FAKE_RESV_MAX 1024
static struct {
	CUdeviceptr ptr;
	size_t size;
} resv[FAKE_RESV_MAX];

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align,
			     CUdeviceptr addr, unsigned long long flags)
{
	CUresult rc = need_ctx();
	unsigned int i;
	void *p;

	if (rc)
		return rc;
	p = mmap(NULL, size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&lock);
	for (i = 0; i < FAKE_RESV_MAX && resv[i].size; i++)
		;
	if (i < FAKE_RESV_MAX) {
		resv[i].ptr = (CUdeviceptr)(uintptr_t)p;
		resv[i].size = size;
	}
	pthread_mutex_unlock(&lock);
	if (i == FAKE_RESV_MAX) {
		munmap(p, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*ptr = (CUdeviceptr)(uintptr_t)p;
	st.reserved++;
	return 0;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult rc = need_ctx();
	unsigned int i;

	if (rc)
		return rc;
	pthread_mutex_lock(&lock);
	for (i = 0; i < FAKE_RESV_MAX; i++)
		if (resv[i].size && resv[i].ptr == ptr &&
		    resv[i].size == size) {
			resv[i].size = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (i == FAKE_RESV_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	munmap((void *)(uintptr_t)ptr, size);
	st.reserved--;
	return 0;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
		  CUmemGenericAllocationHandle h, unsigned long long flags)
{
	struct fake_handle *fh = (struct fake_handle *)(uintptr_t)h;
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	if (offset || size > fh->size)
		return CUDA_ERROR_INVALID_VALUE;
	if (mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
		 MAP_SHARED | MAP_FIXED, fh->fd, 0) == MAP_FAILED)
		return CUDA_ERROR_INVALID_VALUE;
	st.mapped++;
	return 0;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	st.mapped--;
	return 0;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
			const CUmemAccessDesc *desc, size_t count)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	if (count != 1 || desc->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE ||
	    desc->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (mprotect((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE))
		return CUDA_ERROR_INVALID_VALUE;
	return 0;
}

static CUresult need_stream(CUstream s)
{
	CUresult rc = need_live();

	if (!rc && !s)
		rc = CUDA_ERROR_INVALID_VALUE;	/* not the NULL stream */
	return rc;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memcpy((void *)(uintptr_t)dst, src, len);
	return rc;
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memcpy(dst, (const void *)(uintptr_t)src, len);
	return rc;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src,
			len);
	return rc;
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t len,
			 CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memset((void *)(uintptr_t)dst, value, len);
	return rc;
}

CUresult cuStreamCreate(CUstream *s, unsigned int flags)
{
	struct fake_stream *fs;
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (flags != CU_STREAM_NON_BLOCKING)
		return CUDA_ERROR_INVALID_VALUE;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*s = (CUstream)fs;
	pthread_mutex_lock(&lock);
	st.last_stream = fs;
	pthread_mutex_unlock(&lock);
	st.streams++;
	return 0;
}

CUresult cuStreamDestroy_v2(CUstream s)
{
	CUresult rc = need_ctx();

	if (!rc && !s)
		rc = CUDA_ERROR_INVALID_VALUE;

	if (rc)
		return rc;
	free(s);
	st.streams--;
	return 0;
}

CUresult cuStreamQuery(CUstream s)
{
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	st.queries++;
	if (st.fault)
		return st.fault;
	return st.hold ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream s)
{
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	st.syncs++;
	return st.fault;
}

CUresult cuModuleLoadData(CUmodule *mod, const void *image)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (!strncmp(image, "FAKEMOD\n", 8))
		load_fake_module(image);
	else if (!strncmp(image, "BROKEN", 6))
		return CUDA_ERROR_INVALID_IMAGE;
	st.image = image;
	st.modules++;
	*mod = (CUmodule)&st;
	return 0;
}

CUresult cuModuleUnload(CUmodule mod)
{
	CUresult rc = need_ctx();

	if (!rc)
		st.modules--;
	return rc;
}

CUresult cuModuleGetFunction(CUfunction *f, CUmodule mod, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (!strcmp(funcs[i].name, name)) {
			*f = (CUfunction)&funcs[i];
			return 0;
		}
	for (i = 0; i < nr_extra; i++)
		if (!strcmp(fake_extra[i].name, name)) {
			*f = (CUfunction)&fake_extra[i].f;
			return 0;
		}
	return CUDA_ERROR_NOT_FOUND;
}

/* Parameter sizes of signature @sig into @size, whether each is a
 * pointer into @ptr; their count. */
static unsigned int sig_sizes(const char *sig, unsigned int *size,
			      bool *ptr)
{
	unsigned int n = 0;
	const char *p = sig;

	while (*p && n < FAKECUDA_PARAMS_MAX) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		ptr[n] = !strncmp(p, "buf", 3) || !strncmp(p, "io", 2);
		size[n++] = (!strncmp(p, "u32", 3) || !strncmp(p, "i32", 3) ||
			     !strncmp(p, "f32", 3)) ? 4 : 8;
		while (*p && *p != ',')
			p++;
	}
	return n;
}

/* The parameter layout of @f, from its signature (naturally aligned). */
CUresult cuFuncGetParamInfo(CUfunction f, size_t index, size_t *offset,
			    size_t *size)
{
	const struct fake_func *ff = (const struct fake_func *)f;
	unsigned int sizes[FAKECUDA_PARAMS_MAX], n, i;
	bool ptr[FAKECUDA_PARAMS_MAX];
	size_t off = 0;

	n = sig_sizes(ff->sig, sizes, ptr);
	if (index >= n)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i <= index; i++) {
		off = (off + sizes[i] - 1) / sizes[i] * sizes[i];
		if (i < index)
			off += sizes[i];
	}
	*offset = off;
	*size = sizes[index];
	return 0;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy,
			unsigned int gz, unsigned int bx, unsigned int by,
			unsigned int bz, unsigned int shared, CUstream s,
			void **params, void **extra)
{
	const struct fake_func *ff = (const struct fake_func *)f;
	bool ptr[FAKECUDA_PARAMS_MAX];
	struct fakecuda_launch l;
	CUresult rc = need_stream(s);
	unsigned int i;
	int fault;

	if (rc)
		return rc;
	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "%s", ff->name);
	l.grid[0] = gx, l.grid[1] = gy, l.grid[2] = gz;
	l.block[0] = bx, l.block[1] = by, l.block[2] = bz;
	l.shared = shared;
	l.stream = s;
	l.nparams = sig_sizes(ff->sig, l.size, ptr);
	if (l.nparams && !params)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < l.nparams; i++)
		memcpy(&l.value[i], params[i], l.size[i]);
	pthread_mutex_lock(&lock);
	st.last = l;
	pthread_mutex_unlock(&lock);
	st.launches++;
	/* the kernel "runs": a misaligned float load, or the fault the
	 * test asked for, poisons the context; the launch itself is
	 * asynchronous and returns success, as on a GPU */
	fault = atomic_exchange(&st.fault_launch, 0);
	for (i = 0; i < l.nparams && !fault; i++)
		if (ptr[i] && l.value[i] % 4)
			fault = CUDA_ERROR_MISALIGNED_ADDRESS;
	if (!strncmp(ff->name, "fault_", 6))
		fault = CUDA_ERROR_MISALIGNED_ADDRESS;
	if (fault)
		atomic_store(&st.sticky[cur_dev()], fault);
	return 0;
}

/*
 * What a benchmark compares the daemon with (tools/bench/cuda.c):
 * plain allocations of host memory standing in for device memory and
 * pinned memory, counted like the rest.
 */
/* Page-locks nothing: counts, and checks what the driver would. */
CUresult cuMemHostRegister_v2(void *p, size_t len, unsigned int flags)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (!p || !len || (uintptr_t)p % 4096)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	st.host_reg_ptr = p;
	st.host_reg_len = len;
	pthread_mutex_unlock(&lock);
	st.host_registered++;
	return 0;
}

CUresult cuMemHostUnregister(void *p)
{
	CUresult rc = need_ctx();

	if (!rc)
		st.host_registered--;
	return rc;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t size)
{
	CUresult rc = need_live();
	void *m;

	if (rc)
		return rc;
	m = malloc(size ? size : 1);
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*p = (CUdeviceptr)(uintptr_t)m;
	st.allocs++;
	return 0;
}

CUresult cuMemFree_v2(CUdeviceptr p)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	free((void *)(uintptr_t)p);
	st.allocs--;
	return 0;
}

CUresult cuMemHostAlloc(void **p, size_t size, unsigned int flags)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	*p = malloc(size ? size : 1);
	if (!*p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	st.host_allocs++;
	return 0;
}

CUresult cuMemFreeHost(void *p)
{
	free(p);
	st.host_allocs--;
	return 0;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t len)
{
	CUresult rc = need_live();

	if (!rc)
		memcpy((void *)(uintptr_t)dst, src, len);
	return rc;
}

CUresult cuCtxSynchronize(void)
{
	return need_live();
}

static const struct {
	const char *name;
	void *fn;
} procs[] = {
#define PROC(base, fn) { base, (void *)fn }
	PROC("cuGetErrorName", cuGetErrorName),
	PROC("cuInit", cuInit),
	PROC("cuDriverGetVersion", cuDriverGetVersion),
	PROC("cuDeviceGetCount", cuDeviceGetCount),
	PROC("cuDeviceGet", cuDeviceGet),
	PROC("cuDeviceGetName", cuDeviceGetName),
	PROC("cuDeviceGetAttribute", cuDeviceGetAttribute),
	PROC("cuDeviceTotalMem", cuDeviceTotalMem_v2),
	PROC("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain),
	PROC("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease_v2),
	PROC("cuDevicePrimaryCtxSetFlags", cuDevicePrimaryCtxSetFlags_v2),
	PROC("cuDevicePrimaryCtxReset", cuDevicePrimaryCtxReset_v2),
	PROC("cuCtxSetCurrent", cuCtxSetCurrent),
	PROC("cuMemGetInfo", cuMemGetInfo_v2),
	PROC("cuMemGetAllocationGranularity", cuMemGetAllocationGranularity),
	PROC("cuMemCreate", cuMemCreate),
	PROC("cuMemRelease", cuMemRelease),
	PROC("cuMemAddressReserve", cuMemAddressReserve),
	PROC("cuMemAddressFree", cuMemAddressFree),
	PROC("cuMemMap", cuMemMap),
	PROC("cuMemUnmap", cuMemUnmap),
	PROC("cuMemSetAccess", cuMemSetAccess),
	PROC("cuMemHostRegister", cuMemHostRegister_v2),
	PROC("cuMemHostUnregister", cuMemHostUnregister),
	PROC("cuMemcpyHtoDAsync", cuMemcpyHtoDAsync_v2),
	PROC("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync_v2),
	PROC("cuMemcpyDtoDAsync", cuMemcpyDtoDAsync_v2),
	PROC("cuMemsetD8Async", cuMemsetD8Async),
	PROC("cuStreamCreate", cuStreamCreate),
	PROC("cuStreamDestroy", cuStreamDestroy_v2),
	PROC("cuStreamQuery", cuStreamQuery),
	PROC("cuStreamSynchronize", cuStreamSynchronize),
	PROC("cuModuleLoadData", cuModuleLoadData),
	PROC("cuModuleUnload", cuModuleUnload),
	PROC("cuModuleGetFunction", cuModuleGetFunction),
	PROC("cuLaunchKernel", cuLaunchKernel),
	PROC("cuFuncGetParamInfo", cuFuncGetParamInfo),
#undef PROC
};

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version,
			     unsigned long long flags, int *status)
{
	size_t i;

	st.gpa_calls++;
	st.gpa_version = version;
	*pfn = NULL;
	if (!st.gpa_off)
		for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
			if (!strcmp(procs[i].name, symbol)) {
				*pfn = procs[i].fn;
				if (status)
					*status = CU_GET_PROC_ADDRESS_SUCCESS;
				return 0;
			}
	if (status)
		*status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	return CUDA_ERROR_NOT_FOUND;
}

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
	if (need_ctx())
		return 1;	/* CUBLAS_STATUS_NOT_INITIALIZED */
	*h = (cublasHandle_t)&blas_token;
	st.blas_handles++;
	return 0;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
	st.blas_handles--;
	return 0;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s)
{
	st.gemm.stream = s;
	return 0;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws,
				     size_t bytes)
{
	st.gemm.workspace = ws;
	st.gemm.workspace_bytes = bytes;
	return 0;
}

/* Column-major, as cuBLAS: C = alpha op(A) op(B) + beta C per batch. */
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, int transa,
		int transb, int m, int n, int k, const float *alpha,
		const float *a, int lda, long long stride_a, const float *b,
		int ldb, long long stride_b, const float *beta, float *c,
		int ldc, long long stride_c, int batch)
{
	struct fakecuda_gemm *g = &st.gemm;
	long long bi, i, j, l;

	if (need_ctx())
		return 1;
	g->transa = transa, g->transb = transb;
	g->m = m, g->n = n, g->k = k;
	g->lda = lda, g->ldb = ldb, g->ldc = ldc, g->batch = batch;
	g->stride_a = stride_a, g->stride_b = stride_b;
	g->stride_c = stride_c;
	g->alpha = *alpha, g->beta = *beta;
	g->a = a, g->b = b, g->c = c;
	st.sgemms++;
	for (bi = 0; bi < batch; bi++) {
		const float *ab = a + bi * stride_a, *bb = b + bi * stride_b;
		float *cb = c + bi * stride_c;

		for (j = 0; j < n; j++)
			for (i = 0; i < m; i++) {
				float acc = 0.0f;

				for (l = 0; l < k; l++)
					acc += (transa ? ab[l + i * lda] :
							 ab[i + l * lda]) *
					       (transb ? bb[j + l * ldb] :
							 bb[l + j * ldb]);
				cb[i + j * ldc] = *beta == 0.0f ?
					*alpha * acc :
					*alpha * acc + *beta * cb[i + j * ldc];
			}
	}
	return 0;
}
