/* SPDX-License-Identifier: MIT */
/*
 * The CUDA libraries: libcuda.so.1 and libcublas through dlopen, so the
 * daemon runs where no driver exists. Every entry point is resolved once,
 * at the first probe, into struct cuda_libs.
 *
 * Invariant: cuda.lib is set only once every entry point of cuda.cu is;
 * cuda.blas_lib only once every one of cuda.blas is. Never unloaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"

struct cuda_libs cuda;

#define CU_SYM(field, suffix)						\
	{ "cu" #field, "cu" #field suffix, offsetof(struct cuda_api, field), \
	  false }
#define CU_SYM_OPT(field, suffix)					\
	{ "cu" #field, "cu" #field suffix, offsetof(struct cuda_api, field), \
	  true }

static const struct cuda_sym {
	const char *name;	/* as cuGetProcAddress knows it */
	const char *export;	/* as dlsym finds it */
	size_t off;
	bool optional;		/* left NULL where the driver lacks it */
} cuda_syms[] = {
	CU_SYM(GetErrorName, ""),
	CU_SYM(Init, ""),
	CU_SYM(DriverGetVersion, ""),
	CU_SYM(DeviceGetCount, ""),
	CU_SYM(DeviceGet, ""),
	CU_SYM(DeviceGetName, ""),
	CU_SYM(DeviceGetAttribute, ""),
	CU_SYM(DeviceTotalMem, "_v2"),
	CU_SYM(DevicePrimaryCtxRetain, ""),
	CU_SYM(DevicePrimaryCtxRelease, "_v2"),
	CU_SYM(DevicePrimaryCtxSetFlags, "_v2"),
	CU_SYM(DevicePrimaryCtxReset, "_v2"),
	CU_SYM(CtxSetCurrent, ""),
	CU_SYM(MemGetInfo, "_v2"),
	CU_SYM(MemGetAllocationGranularity, ""),
	CU_SYM(MemCreate, ""),
	CU_SYM(MemRelease, ""),
	CU_SYM(MemAddressReserve, ""),
	CU_SYM(MemAddressFree, ""),
	CU_SYM(MemMap, ""),
	CU_SYM(MemUnmap, ""),
	CU_SYM(MemSetAccess, ""),
	CU_SYM(MemHostRegister, "_v2"),
	CU_SYM(MemHostUnregister, ""),
	CU_SYM(MemcpyHtoDAsync, "_v2"),
	CU_SYM(MemcpyDtoHAsync, "_v2"),
	CU_SYM(MemcpyDtoDAsync, "_v2"),
	CU_SYM(MemsetD8Async, ""),
	CU_SYM(StreamCreate, ""),
	CU_SYM(StreamDestroy, "_v2"),
	CU_SYM(StreamQuery, ""),
	CU_SYM(StreamSynchronize, ""),
	CU_SYM(ModuleLoadData, ""),
	CU_SYM(ModuleUnload, ""),
	CU_SYM(ModuleGetFunction, ""),
	CU_SYM(LaunchKernel, ""),
	CU_SYM_OPT(FuncGetParamInfo, ""),
	CU_SYM_OPT(StreamBeginCapture, "_v2"),
	CU_SYM_OPT(StreamEndCapture, ""),
	CU_SYM_OPT(GraphInstantiateWithFlags, ""),
	CU_SYM_OPT(GraphLaunch, ""),
	CU_SYM_OPT(GraphExecDestroy, ""),
	CU_SYM_OPT(GraphDestroy, ""),
};

#undef CU_SYM
#undef CU_SYM_OPT

#define BLAS_SYM(field, export) { export, offsetof(struct cublas_api, field) }

static const struct blas_sym {
	const char *export;
	size_t off;
} blas_syms[] = {
	BLAS_SYM(Create, "cublasCreate_v2"),
	BLAS_SYM(Destroy, "cublasDestroy_v2"),
	BLAS_SYM(SetStream, "cublasSetStream_v2"),
	BLAS_SYM(SetWorkspace, "cublasSetWorkspace_v2"),
	BLAS_SYM(SgemmStridedBatched, "cublasSgemmStridedBatched"),
};

#undef BLAS_SYM

/*
 * Load libcuda ($GL_LIBCUDA, else libcuda.so.1) and every entry point:
 * through cuGetProcAddress_v2 at the 12.0 ABI where the driver has it,
 * else (or for a symbol it does not give) by the versioned export.
 */
int cuda_lib_load(void)
{
	const char *path = getenv("GL_LIBCUDA");
	cuda_get_proc_fn gpa;
	struct cuda_api cu;
	void *lib, *f;
	size_t i;

	if (cuda.lib)
		return 0;
	if (!path || !*path)
		path = "libcuda.so.1";
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		gl_info("cuda: no driver (%s not loaded): no CUDA device",
			path);
		return -ENODEV;
	}
	*(void **)&gpa = dlsym(lib, "cuGetProcAddress_v2");
	memset(&cu, 0, sizeof(cu));
	for (i = 0; i < sizeof(cuda_syms) / sizeof(cuda_syms[0]); i++) {
		int status = -1;

		f = NULL;
		if (gpa && (gpa(cuda_syms[i].name, &f, CUDA_API_ABI_VERSION,
				CU_GET_PROC_ADDRESS_LEGACY_STREAM, &status) ||
			    status != CU_GET_PROC_ADDRESS_SUCCESS))
			f = NULL;
		if (!f)
			f = dlsym(lib, cuda_syms[i].export);
		if (!f && cuda_syms[i].optional)
			continue;
		if (!f) {
			gl_info("cuda: %s lacks %s: no CUDA device", path,
				cuda_syms[i].export);
			dlclose(lib);
			return -ENODEV;
		}
		memcpy((char *)&cu + cuda_syms[i].off, &f, sizeof(f));
	}
	cuda.cu = cu;
	cuda.lib = lib;
	return 0;
}

const char *cuda_blas_soname(int driver_version, unsigned int i)
{
	/* newest first; a cuBLAS needs a driver of at least its major */
	static const struct {
		const char *name;
		int major;
	} names[] = {
		{ "libcublas.so.13", 13 }, { "libcublas.so.12", 12 },
		{ "libcublas.so.11", 11 }, { "libcublas.so", 0 },
	};
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (names[k].major * 1000 > driver_version)
			continue;
		if (!i--)
			return names[k].name;
	}
	return NULL;
}

/*
 * Load cuBLAS ($GL_LIBCUBLAS, else the newest soname the driver of
 * @driver_version supports). Quiet when absent; matmul then runs the
 * fatbin's tiled kernel.
 */
void cuda_lib_load_blas(int driver_version)
{
	const char *path = getenv("GL_LIBCUBLAS"), *name;
	struct cublas_api blas;
	void *lib = NULL, *f;
	unsigned int i;

	if (cuda.blas_lib)
		return;
	if (path && *path)
		lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	for (i = 0; !path && !lib &&
	     (name = cuda_blas_soname(driver_version, i)); i++)
		lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return;
	for (i = 0; i < sizeof(blas_syms) / sizeof(blas_syms[0]); i++) {
		f = dlsym(lib, blas_syms[i].export);
		if (!f) {
			gl_info("cuda: cuBLAS lacks %s: matmul uses the "
				"built-in kernel", blas_syms[i].export);
			dlclose(lib);
			return;
		}
		memcpy((char *)&blas + blas_syms[i].off, &f, sizeof(f));
	}
	cuda.blas = blas;
	cuda.blas_lib = lib;
}
