/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device's private types, shared by dev-cuda.c (probe, memory)
 * and cuda-launch.c (launches, matmul, registered kernels). Nothing
 * outside those two files includes it.
 */
#ifndef GL_CUDA_DEV_H
#define GL_CUDA_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "daemon/cuda-api.h"
#include "daemon/dev.h"
#include "daemon/registry.h"

/* The loaded libraries; set up by the first probe, never unloaded. */
struct cuda_libs {
	void *lib;		/* libcuda, NULL until loaded */
	struct cuda_api cu;
	void *blas_lib;		/* NULL: matmul runs the fatbin kernel */
	struct cublas_api blas;
};

/* cuda-lib.c's: process-wide, as the libraries themselves are. */
extern struct cuda_libs cuda;

/* cuda_lib_load - load libcuda ($GL_LIBCUDA, else libcuda.so.1) once.
 * 0, or -ENODEV where there is no usable driver (logged). */
int cuda_lib_load(void);

/* cuda_lib_load_blas - load cuBLAS if present (the newest soname a
 * driver of @driver_version supports); matmul falls back to the
 * fatbin's kernel without it. */
void cuda_lib_load_blas(int driver_version);

/* cuda_blas_soname - the @i-th cuBLAS soname to try, newest first,
 * skipping those newer than @driver_version (1000 * major + 10 *
 * minor); NULL past the last. Pure. */
const char *cuda_blas_soname(int driver_version, unsigned int i);

struct cuda_region;

struct cuda_dev {
	CUdevice cudev;
	CUcontext ctx;			/* primary context, retained */
	CUmodule mod;
	CUfunction fn[GL_K_COUNT];	/* by kernel id; NULL: missing */
	/* kernels root registered, by id - GL_K_COUNT; set once, under the
	 * registry's add lock, before the id is published */
	CUmodule dyn_mod[REGISTRY_MAX - GL_K_COUNT];
	CUfunction dyn_fn[REGISTRY_MAX - GL_K_COUNT];
	size_t gran;			/* bytes, allocation granularity */
	CUstream stream;		/* launches that name no region */
	cublasHandle_t blas;		/* NULL: no cuBLAS on this device */
	pthread_mutex_t blas_lock;	/* guards blas's stream binding */
	pthread_mutex_t lock;		/* guards regions and their mem */
	struct cuda_region *regions;	/* live regions, a list */
};

/* One physical handle mapped at one reserved range. */
struct cuda_mem {
	CUdeviceptr va;
	CUmemGenericAllocationHandle handle;
	size_t size;			/* bytes, mapped and reserved */
};

struct cuda_region {
	struct dev_region base;
	struct cuda_mem mem;		/* writes under cuda_dev.lock */
	CUstream stream;		/* owned; every op of the region */
	struct cuda_region *next, *prev; /* cuda_dev.regions, its lock */
};

/* cuda_err - a CUresult as an errno (ENOSPC, else EIO, logged). */
int cuda_err(CUresult rc, const char *what);

/* cuda_sync - wait for stream @s. 0, -EIO (logged with @what). */
int cuda_sync(CUstream s, const char *what);

/* cuda_enter - make @cd's context current in this thread. 0 or -EIO. */
int cuda_enter(struct cuda_dev *cd);

/* cuda-launch.c: the dev_ops launch and load_kernel of the device */
int cuda_launch(struct dev *d, const struct gl_kernel *k,
		const struct gl_kargs *args, const struct gl_grid *grid,
		atomic_int *cancel);
int cuda_load_kernel(struct dev *d, const struct gl_kernel *k,
		     const void *image, size_t len);

#endif
