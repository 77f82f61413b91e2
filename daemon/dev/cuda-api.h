/* SPDX-License-Identifier: MIT */
/*
 * The subset of the CUDA driver API and cuBLAS that the CUDA backend
 * calls, declared here so the tree builds without cuda.h or cublas_api.h.
 * Both libraries are loaded with dlopen at run time (daemon/dev/cuda-lib.c);
 * selftests/fakecuda/ implements the same entry points on host memory.
 *
 * Invariant: every type, value and prototype below matches the CUDA 12.0
 * ABI, which is what cuda-lib.c asks cuGetProcAddress for
 * (CUDA_API_ABI_VERSION); the structs carry _Static_asserts on layout.
 */
#ifndef GL_CUDA_API_H
#define GL_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

/* The ABI version passed to cuGetProcAddress: 12.0. */
#define CUDA_API_ABI_VERSION	12000

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_INVALID_IMAGE = 200,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_READY = 600,
	CUDA_ERROR_ILLEGAL_ADDRESS = 700,
	CUDA_ERROR_LAUNCH_TIMEOUT = 702,
	CUDA_ERROR_HARDWARE_STACK_ERROR = 714,
	CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
	CUDA_ERROR_MISALIGNED_ADDRESS = 716,
	CUDA_ERROR_INVALID_ADDRESS_SPACE = 717,
	CUDA_ERROR_INVALID_PC = 718,
	CUDA_ERROR_LAUNCH_FAILED = 719,
};

/* cuGetProcAddress flags and status. */
#define CU_GET_PROC_ADDRESS_LEGACY_STREAM	1ull
enum {
	CU_GET_PROC_ADDRESS_SUCCESS = 0,
	CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
	CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2,
};

#define CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED	102
#define CU_STREAM_NON_BLOCKING			0x1u
#define CU_STREAM_CAPTURE_MODE_THREAD_LOCAL	1
#define CU_CTX_SCHED_BLOCKING_SYNC		0x4u
#define CU_MEMHOSTREGISTER_PORTABLE		0x1u
#define CU_MEM_ALLOCATION_TYPE_PINNED		0x1
#define CU_MEM_HANDLE_TYPE_NONE			0x0
#define CU_MEM_LOCATION_TYPE_DEVICE		0x1
#define CU_MEM_ACCESS_FLAGS_PROT_READWRITE	0x3
#define CU_MEM_ALLOC_GRANULARITY_MINIMUM	0x0

#define CUBLAS_STATUS_SUCCESS		0
#define CUBLAS_STATUS_ALLOC_FAILED	3
#define CUBLAS_OP_N			0
#define CUBLAS_OP_T			1

typedef struct CUmemLocation_st {
	int type;		/* CU_MEM_LOCATION_TYPE_* */
	int id;			/* device ordinal */
} CUmemLocation;

typedef struct CUmemAllocationProp_st {
	int type;		/* CU_MEM_ALLOCATION_TYPE_* */
	int requestedHandleTypes;
	CUmemLocation location;
	void *win32HandleMetaData;
	struct {
		unsigned char compressionType;
		unsigned char gpuDirectRDMACapable;
		unsigned short usage;
		unsigned char reserved[4];
	} allocFlags;
} CUmemAllocationProp;

typedef struct CUmemAccessDesc_st {
	CUmemLocation location;
	int flags;		/* CU_MEM_ACCESS_FLAGS_* */
} CUmemAccessDesc;

_Static_assert(sizeof(CUmemLocation) == 8, "CUmemLocation");
_Static_assert(sizeof(CUmemAllocationProp) == 32, "CUmemAllocationProp");
_Static_assert(offsetof(CUmemAllocationProp, allocFlags) == 24,
	       "CUmemAllocationProp.allocFlags");
_Static_assert(sizeof(CUmemAccessDesc) == 12, "CUmemAccessDesc");

/*
 * The driver entry points, named as cuGetProcAddress knows them (the
 * unversioned name; the comment gives the versioned export dlsym finds).
 */
struct cuda_api {
	CUresult (*GetErrorName)(CUresult rc, const char **name);
	CUresult (*Init)(unsigned int flags);
	CUresult (*DriverGetVersion)(int *version);
	CUresult (*DeviceGetCount)(int *count);
	CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
	CUresult (*DeviceGetName)(char *name, int len, CUdevice dev);
	CUresult (*DeviceGetAttribute)(int *value, int attr, CUdevice dev);
	CUresult (*DeviceTotalMem)(size_t *bytes, CUdevice dev);  /* _v2 */
	CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
	CUresult (*DevicePrimaryCtxRelease)(CUdevice dev);	   /* _v2 */
	CUresult (*DevicePrimaryCtxSetFlags)(CUdevice dev,
					     unsigned int flags);  /* _v2 */
	CUresult (*DevicePrimaryCtxReset)(CUdevice dev);	   /* _v2 */
	CUresult (*CtxSetCurrent)(CUcontext ctx);
	CUresult (*MemGetInfo)(size_t *free_b, size_t *total);	/* _v2 */
	CUresult (*MemGetAllocationGranularity)(size_t *gran,
					       const CUmemAllocationProp *p,
					       int option);
	CUresult (*MemCreate)(CUmemGenericAllocationHandle *h, size_t size,
			      const CUmemAllocationProp *p,
			      unsigned long long flags);
	CUresult (*MemRelease)(CUmemGenericAllocationHandle h);
	CUresult (*MemAddressReserve)(CUdeviceptr *ptr, size_t size,
				      size_t align, CUdeviceptr addr,
				      unsigned long long flags);
	CUresult (*MemAddressFree)(CUdeviceptr ptr, size_t size);
	CUresult (*MemMap)(CUdeviceptr ptr, size_t size, size_t offset,
			   CUmemGenericAllocationHandle h,
			   unsigned long long flags);
	CUresult (*MemUnmap)(CUdeviceptr ptr, size_t size);
	CUresult (*MemSetAccess)(CUdeviceptr ptr, size_t size,
				 const CUmemAccessDesc *desc, size_t count);
	CUresult (*MemHostRegister)(void *p, size_t len,
				    unsigned int flags);	   /* _v2 */
	CUresult (*MemHostUnregister)(void *p);
	CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src,
				    size_t len, CUstream s);	   /* _v2 */
	CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t len,
				    CUstream s);		   /* _v2 */
	CUresult (*MemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src,
				    size_t len, CUstream s);	   /* _v2 */
	CUresult (*MemsetD8Async)(CUdeviceptr dst, unsigned char value,
				  size_t len, CUstream s);
	CUresult (*StreamCreate)(CUstream *s, unsigned int flags);
	CUresult (*StreamDestroy)(CUstream s);			/* _v2 */
	CUresult (*StreamQuery)(CUstream s);
	CUresult (*StreamSynchronize)(CUstream s);
	CUresult (*ModuleLoadData)(CUmodule *mod, const void *image);
	CUresult (*ModuleUnload)(CUmodule mod);
	CUresult (*ModuleGetFunction)(CUfunction *f, CUmodule mod,
				      const char *name);
	/* optional (CUDA 12.4 and later): NULL where the driver lacks it */
	CUresult (*FuncGetParamInfo)(CUfunction f, size_t index,
				     size_t *offset, size_t *size);
	CUresult (*LaunchKernel)(CUfunction f, unsigned int gx,
				 unsigned int gy, unsigned int gz,
				 unsigned int bx, unsigned int by,
				 unsigned int bz, unsigned int shared,
				 CUstream s, void **params, void **extra);
	/* optional: without all of them a chain replays its steps */
	CUresult (*StreamBeginCapture)(CUstream s, int mode);	   /* _v2 */
	CUresult (*StreamEndCapture)(CUstream s, CUgraph *g);
	CUresult (*GraphInstantiateWithFlags)(CUgraphExec *e, CUgraph g,
					      unsigned long long flags);
	CUresult (*GraphLaunch)(CUgraphExec e, CUstream s);
	CUresult (*GraphExecDestroy)(CUgraphExec e);
	CUresult (*GraphDestroy)(CUgraph g);
};

/* cuBLAS, from libcublas.so.N; all optional (matmul falls back). */
struct cublas_api {
	cublasStatus_t (*Create)(cublasHandle_t *h);		/* _v2 */
	cublasStatus_t (*Destroy)(cublasHandle_t h);		/* _v2 */
	cublasStatus_t (*SetStream)(cublasHandle_t h, CUstream s); /* _v2 */
	cublasStatus_t (*SetWorkspace)(cublasHandle_t h, void *ws,
				       size_t bytes);		/* _v2 */
	cublasStatus_t (*SgemmStridedBatched)(cublasHandle_t h, int transa,
					      int transb, int m, int n, int k,
					      const float *alpha,
					      const float *a, int lda,
					      long long stride_a,
					      const float *b, int ldb,
					      long long stride_b,
					      const float *beta, float *c,
					      int ldc, long long stride_c,
					      int batch);
};

/* cuGetProcAddress_v2, looked up with dlsym (CUDA 12.0 and later). */
typedef CUresult (*cuda_get_proc_fn)(const char *symbol, void **pfn,
				     int version, unsigned long long flags,
				     int *status);

#endif /* GL_CUDA_API_H */
