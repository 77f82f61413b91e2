/* SPDX-License-Identifier: MIT */
/*
 * A fake libcuda.so.1 (and libcublas) for testing daemon/dev/cuda.c
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
 * This file: the control block, devices, contexts and their sticky
 * errors, cuGetProcAddress; the other entry points are in fakecuda-mem.c
 * (memory, copies), fakecuda-launch.c (streams, modules, launches) and
 * fakecuda-blas.c (cuBLAS), sharing fakecuda-int.h.
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

#include "selftests/fakecuda/fakecuda-int.h"

struct fakecuda st = {
	.ndev = 1,
	.total = 1ull << 30,
	.gran = 2u << 20,
	.driver_version = 99000,
};
static __thread CUcontext cur_ctx;
static int ctx_token[FAKECUDA_DEV_MAX];	/* one primary context each */
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

EXPORT struct fakecuda *fakecuda_state(void)
{
	return &st;
}

CUresult need_ctx(void)
{
	if (cur_ctx)
		return CUDA_SUCCESS;
	st.no_ctx++;
	return CUDA_ERROR_INVALID_CONTEXT;
}

int cur_dev(void)
{
	return (int)((int *)cur_ctx - ctx_token);
}

CUresult need_live(void)
{
	CUresult rc = need_ctx();

	return rc ? rc : atomic_load(&st.sticky[cur_dev()]);
}

CUresult need_stream(CUstream s)
{
	CUresult rc = need_live();

	if (!rc && !s)
		rc = CUDA_ERROR_INVALID_VALUE;	/* not the NULL stream */
	return rc;
}

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
	if (atomic_load(&st.sticky[dev]))
		return atomic_load(&st.sticky[dev]);
	*ctx = (CUcontext)&ctx_token[dev];
	st.contexts++;
	return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	st.contexts--;
	return 0;
}

/* Destroys the context's state and ends its running kernels; as on a
 * real GPU (an H200, driver 580), a sticky error stays for the life of the
 * process (cuDevicePrimaryCtxRetain still returned 716 after it), and
 * ending a running kernel leaves one (700). */
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	struct timespec ts = { 0, 1000000 };

	if (dev < 0 || dev >= FAKECUDA_DEV_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	while (atomic_load(&st.hold_reset))
		nanosleep(&ts, NULL);
	if (atomic_exchange(&st.hold, 0))
		atomic_store(&st.sticky[dev], CUDA_ERROR_ILLEGAL_ADDRESS);
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
	*free_b = st.total - st.handle_bytes - st.blas_ws_bytes -
		  (uint64_t)st.contexts * st.ctx_bytes;
	return 0;
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
	PROC("cuStreamBeginCapture", cuStreamBeginCapture_v2),
	PROC("cuStreamEndCapture", cuStreamEndCapture),
	PROC("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags),
	PROC("cuGraphLaunch", cuGraphLaunch),
	PROC("cuGraphExecDestroy", cuGraphExecDestroy),
	PROC("cuGraphDestroy", cuGraphDestroy),
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
