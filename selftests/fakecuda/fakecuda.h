/* SPDX-License-Identifier: MIT */
/*
 * The fake CUDA driver's control block, shared by the fake
 * (selftests/fakecuda/fakecuda*.c, built as libcuda.so.1) and the tests
 * that load the CUDA backend against it (selftests/unit/dev_cuda.c,
 * cuda_*.c).
 * A test dlopens the same file the backend does, gets the one instance
 * through fakecuda_state(), sets knobs and reads counters.
 *
 * Invariant: counters change only inside fake entry points; every
 * "live" counter (handles, mapped, reserved, streams...) is 0 again once
 * everything the backend made is released.
 */
#ifndef GL_FAKECUDA_H
#define GL_FAKECUDA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FAKECUDA_PARAMS_MAX	24
#define FAKECUDA_DEV_MAX	4	/* ndev's limit */
#define FAKECUDA_BLAS_POOL	(4u << 20) /* a default cuBLAS workspace
					    * pool, per stream */

/* The last cuLaunchKernel, parameters decoded by the kernel's signature. */
struct fakecuda_launch {
	char name[32];
	unsigned int grid[3], block[3], shared;
	const void *stream;
	unsigned int nparams;
	unsigned int size[FAKECUDA_PARAMS_MAX];	/* 4 or 8 bytes */
	uint64_t value[FAKECUDA_PARAMS_MAX];	/* bytes, zero-extended */
};

/* The last cublasSgemmStridedBatched (it also computes, on host). */
struct fakecuda_gemm {
	int transa, transb, m, n, k, lda, ldb, ldc, batch;
	long long stride_a, stride_b, stride_c;
	float alpha, beta;
	const void *a, *b, *c;
	const void *stream;
	const void *workspace;
	size_t workspace_bytes;
};

struct fakecuda {
	/* knobs: read at cuInit/probe time unless said otherwise */
	int ndev;		/* devices; default 1 */
	int init_result;	/* cuInit's result; default 0 */
	int no_vmm;		/* devices lack virtual memory management */
	int gpa_off;		/* cuGetProcAddress finds nothing */
	uint64_t total;		/* bytes per device; default 1 GiB */
	uint64_t ctx_bytes;	/* device memory each live context takes */
	int driver_version;	/* cuDriverGetVersion's; default 99000,
				 * newer than any toolkit */
	size_t gran;		/* allocation granularity; default 2 MiB */
	atomic_int hold;	/* any time: streams stay busy while set */
	atomic_int fault;	/* any time: stream query/sync return it */
	atomic_int fault_launch; /* any time: the next launch faults with
				  * it (e.g. 700), poisoning the context */

	atomic_int hold_reset;	/* any time: cuDevicePrimaryCtxReset waits
				 * while it is set */
	atomic_int run_kernels;	/* any time: a launch of a GL_KERNELS()
				 * function runs its CPU twin over the
				 * launch's grid (the fake's device memory
				 * is the host's), so a test can check what
				 * the backend computes; a twin's error
				 * faults the context (700) */

	/* each device's context's sticky error: 0, or the fault (700
	 * illegal address, 716 a buf parameter not 4-byte aligned or any
	 * launch of a registered function named fault_*) of a launch in
	 * it; from then on every call that does work in that context
	 * returns it, cuDevicePrimaryCtxRetain too, for the life of the
	 * process, as the real driver does: a reset does not clear it; a
	 * reset that ends a running kernel (hold) sets 700 */
	atomic_int sticky[FAKECUDA_DEV_MAX];
	atomic_int resets;	/* cuDevicePrimaryCtxReset calls */

	/* live objects */
	atomic_int handles, mapped, reserved, streams, modules, contexts;
	atomic_int allocs, host_allocs;	/* cuMemAlloc, cuMemHostAlloc */
	atomic_int host_registered;	/* cuMemHostRegister'ed ranges */
	const void *host_reg_ptr;	/* the last one registered */
	size_t host_reg_len;
	atomic_int blas_handles;
	/* cuBLAS workspace (fakecuda-blas.c): default pools allocated
	 * behind the accounting, ever (a correct backend keeps it 0), and
	 * the bytes they hold now; a knob: the least user workspace a GEMM
	 * runs with (less: CUBLAS_STATUS_ALLOC_FAILED); default 0 */
	atomic_int blas_ws_allocs;
	_Atomic uint64_t blas_ws_bytes;
	size_t blas_ws_min;
	_Atomic uint64_t handle_bytes;
	_Atomic uint64_t handle_peak;	/* most handle_bytes ever live */

	/* calls */
	atomic_int no_ctx;	/* calls with no current context */
	unsigned int ctx_flags;	/* cuDevicePrimaryCtxSetFlags' last */
	char init_loading[16];	/* $CUDA_MODULE_LOADING at cuInit */
	char init_connections[16]; /* $CUDA_DEVICE_MAX_CONNECTIONS then */
	atomic_int gpa_calls;
	int gpa_version;	/* the version cuGetProcAddress was asked */
	atomic_int launches, queries, syncs, sgemms;
	/* graphs: live ones and executables, captures begun, launches of
	 * an executable (each also counts its kernels in launches) */
	atomic_int graphs, graph_execs, captures, graph_launches;
	const void *image;	/* cuModuleLoadData's image */
	const void *last_stream; /* the last stream created */
	struct fakecuda_launch last;
	struct fakecuda_gemm gemm;
};

/* fakecuda_state - the fake's one control block. */
struct fakecuda *fakecuda_state(void);
typedef struct fakecuda *(*fakecuda_state_fn)(void);

#ifndef FAKECUDA_LIB	/* the tests' half */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * fakecuda_path - where the fake is: $GL_FAKECUDA, else
 * ../fakecuda/libcuda.so.1 from the test program's own directory.
 * Returns 0 or -errno.
 */
static inline int fakecuda_path(char *path, size_t len)
{
	const char *env = getenv("GL_FAKECUDA");
	char exe[4096];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(path, len, "%.*s/../fakecuda/libcuda.so.1",
			     (int)(len / 2), exe) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * fakecuda_real - whether the tests run against the real driver: with
 * GL_REAL_CUDA=1 (scripts/gpu-check.sh on a GPU machine) the backend
 * loads libcuda.so.1 as the daemon does, and the tests that need the
 * fake's knobs skip.
 */
static inline int fakecuda_real(void)
{
	const char *v = getenv("GL_REAL_CUDA");

	return v && !strcmp(v, "1");
}

/*
 * fakecuda_load - dlopen the fake at @path (see fakecuda_path()), point
 * the backend at it ($GL_LIBCUDA, $GL_LIBCUBLAS) and return its control
 * block; *@lib gets the handle for dlclose. NULL when it is not built,
 * or under fakecuda_real() (then nothing is loaded or set).
 */
static inline struct fakecuda *fakecuda_load(const char *path, void **lib)
{
	fakecuda_state_fn state;

	*lib = NULL;
	if (fakecuda_real())
		return NULL;
	*lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*lib)
		return NULL;
	*(void **)&state = dlsym(*lib, "fakecuda_state");
	if (!state) {
		dlclose(*lib);
		*lib = NULL;
		return NULL;
	}
	setenv("GL_LIBCUDA", path, 1);
	setenv("GL_LIBCUBLAS", path, 1);
	return state();
}

#endif /* FAKECUDA_LIB */

#endif /* GL_FAKECUDA_H */
