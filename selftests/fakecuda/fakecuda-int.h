/* SPDX-License-Identifier: MIT */
/*
 * What the fake driver's files (fakecuda.c: devices, contexts and
 * cuGetProcAddress; fakecuda-mem.c: memory and copies; fakecuda-launch.c:
 * streams, modules and launches; fakecuda-blas.c: cuBLAS) share, linked
 * into one libcuda.so.1. Nothing here is exported (-fvisibility=hidden);
 * the entry points below are, with the prototypes of daemon/dev/cuda-api.h.
 *
 * Invariant: st is the one control block fakecuda_state() hands out;
 * lock guards its non-atomic aggregates (last, last_stream, host_reg_*).
 */
#ifndef GL_FAKECUDA_INT_H
#define GL_FAKECUDA_INT_H

#include <pthread.h>

#define FAKECUDA_LIB
#include "daemon/dev/cuda-api.h"
#include "kernels/kernels.h"
#include "selftests/fakecuda/fakecuda.h"

#define EXPORT __attribute__((visibility("default")))

extern struct fakecuda st;		/* the control block */
extern pthread_mutex_t lock;		/* see the invariant */

/* need_ctx - CUDA_SUCCESS when the calling thread has a current
 * context, else CUDA_ERROR_INVALID_CONTEXT (counted in st.no_ctx). */
CUresult need_ctx(void);
/* cur_dev - the device of the current context (need_ctx() first). */
int cur_dev(void);
/* need_live - need_ctx() for calls that do work: they fail with the
 * context's sticky error once it is poisoned (frees still succeed, so
 * the live counters stay honest). */
CUresult need_live(void);
/* need_stream - need_live() and a stream that is not the NULL one. */
CUresult need_stream(CUstream s);

/* Driver entry points, with the prototypes of daemon/dev/cuda-api.h. */
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
EXPORT CUresult cuStreamBeginCapture_v2(CUstream s, int mode);
EXPORT CUresult cuStreamEndCapture(CUstream s, CUgraph *g);
EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g,
					    unsigned long long flags);
EXPORT CUresult cuGraphLaunch(CUgraphExec e, CUstream s);
EXPORT CUresult cuGraphExecDestroy(CUgraphExec e);
EXPORT CUresult cuGraphDestroy(CUgraph g);
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

#endif /* GL_FAKECUDA_INT_H */
