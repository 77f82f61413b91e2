/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device's private types and the functions its files share
 * (daemon/dev/cuda*.c; cuda.c names their layers). Nothing outside the
 * backend includes it but its unit tests and tools/bench/cuda.c.
 */
#ifndef GL_CUDA_DEV_H
#define GL_CUDA_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/dev/cuda-api.h"
#include "daemon/dev/dev.h"
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
	struct dev *dev;		/* the device this is the priv of */
	CUdevice cudev;
	CUcontext ctx;			/* primary context, retained; gate */
	CUmodule mod;			/* gate (write) to change, as all
					 * the context's objects below */
	CUfunction fn[GL_K_COUNT];	/* by kernel id; NULL: missing */
	/* kernels root registered, by id - GL_K_COUNT; set once, under the
	 * registry's add lock, before the id is published */
	CUmodule dyn_mod[REGISTRY_MAX - GL_K_COUNT];
	CUfunction dyn_fn[REGISTRY_MAX - GL_K_COUNT];
	/* every op holds the read side, a reset the write side */
	pthread_rwlock_t gate;
	pthread_mutex_t fail_lock;	/* dev->state and reason to failed,
					 * and starting its end */
	pthread_mutex_t reset_lock;	/* serialises resets */
	pthread_t ender;		/* fail_lock; joined at teardown */
	bool end_started;		/* fail_lock */
	unsigned int grace_ms;		/* a cancelled kernel's run-on */
	size_t gran;			/* bytes, allocation granularity */
	CUstream stream;		/* launches that name no region */
	cublasHandle_t blas;		/* NULL: no cuBLAS on this device */
	pthread_mutex_t blas_lock;	/* guards blas's stream binding */
	pthread_mutex_t lock;		/* guards regions and their mem */
	struct cuda_region *regions;	/* live regions, a list */
};

/*
 * One physical handle mapped at one reserved range: size bytes at va,
 * inside a reservation of size + 2 granules from va - gran, whose first
 * and last granule stay unmapped: guard space, so a kernel running off
 * either end of a lease faults instead of landing in a neighbour.
 */
struct cuda_mem {
	CUdeviceptr va;
	CUmemGenericAllocationHandle handle;
	size_t size;			/* bytes mapped */
	size_t guard;			/* bytes unmapped at each end */
};

struct cuda_region {
	struct dev_region base;
	struct cuda_mem mem;		/* writes under cuda_dev.lock */
	CUstream stream;		/* owned; every op of the region */
	struct cuda_region *next, *prev; /* cuda_dev.regions, its lock */
	atomic_bool dead;		/* its memory died with a fault */
	bool buried;			/* memory and stream freed; under
					 * the gate's write side, or by
					 * release */
};

/* Stream polling while waiting: yield the CPU between polls for the
 * first CUDA_POLL_SPIN_NS, then sleep an eighth of the time waited so
 * far, within [CUDA_POLL_MIN_NS, CUDA_POLL_MAX_NS]. */
#define CUDA_POLL_SPIN_NS	20000L
#define CUDA_POLL_MIN_NS	2000L
#define CUDA_POLL_MAX_NS	500000L

/* One wait's polling state: cuda_poll_start(), then cuda_poll_pause()
 * between polls. */
struct cuda_poll {
	int64_t t0;		/* CLOCK_MONOTONIC ns at the start */
};

void cuda_poll_start(struct cuda_poll *p);

/*
 * cuda_poll_pause - the pause before the next poll of a stream: a
 * sched_yield() while the wait is younger than CUDA_POLL_SPIN_NS (a
 * kernel of a few us has ended by then, and a sleep costs at least the
 * thread's timer slack, 50 us by default: the H200 showed a noop launch
 * taking 64 us through the device against 22 us direct), then a sleep
 * of an eighth of the time waited (a wait ends at most an eighth late;
 * sleeps that doubled made a 2048^3 matmul of 410 us take 605), with
 * this thread's timer slack set to 1 us the first time.
 */
void cuda_poll_pause(struct cuda_poll *p);

/* cuda-ctx.c: the context, errors and failure; calls no other cuda*.c */

/* cuda_err - a CUresult as an errno (ENOSPC, else EIO, logged); a
 * sticky error fails the device whose context is current. */
int cuda_err(CUresult rc, const char *what);

/* cuda_enter - make @cd's context current in this thread. 0 or -EIO. */
int cuda_enter(struct cuda_dev *cd);

/*
 * cuda_hold - enter @cd for an op: the gate's read side held and its
 * context current. 0, or -EIO (nothing held) when the device is not
 * ready or is unusable (@cd NULL). cuda_unhold() ends it.
 */
int cuda_hold(struct cuda_dev *cd);
void cuda_unhold(struct cuda_dev *cd);

/* cuda_prop - the allocation properties of @cd's device memory. */
void cuda_prop(const struct cuda_dev *cd, CUmemAllocationProp *p);

/* cuda_ctx_up - the primary context (blocking sync) and everything in
 * it: stream, fatbin, registered modules, cuBLAS. 0 or -errno (logged);
 * cuda_ctx_down() undoes a full or half one. Both with the gate's write
 * side held, or before the device is published. */
int cuda_ctx_up(struct cuda_dev *cd, struct dev *d);
void cuda_ctx_down(struct cuda_dev *cd);

/* cuda_sticky - whether @rc leaves the context unusable until reset. */
bool cuda_sticky(CUresult rc);

/*
 * cuda_dev_fail - mark @cd's device failed with the reason @fmt (once;
 * logged) and end it on a thread of its own: its regions die (-EIO), the
 * device set's event callback hears it, then the device's ops->reset
 * (cuda_reset()) frees its memory; it stays failed.
 * Any thread; takes fail_lock.
 */
void cuda_dev_fail(struct cuda_dev *cd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* cuda_kill_regions - mark every region of @cd dead: from then on its
 * ops give -EIO. Takes cd->lock. */
void cuda_kill_regions(struct cuda_dev *cd);

/* cuda_end_join - wait for the thread ending a failed device; teardown
 * only. */
void cuda_end_join(struct cuda_dev *cd);

/* cuda-mem.c: the dev_ops of memory */

/* cuda_sync - wait for stream @s of @cd by polling. 0, -EIO (logged
 * with @what), also when the device fails while it waits. */
int cuda_sync(struct cuda_dev *cd, CUstream s, const char *what);

uint64_t cuda_footprint(struct dev *d, uint64_t bytes);
int cuda_reserve(struct dev *d, uint64_t bytes, struct dev_region **out);
int cuda_resize(struct dev_region *base, uint64_t bytes);
void cuda_release(struct dev_region *base);
int cuda_copy_in(struct dev_region *base, uint64_t off, const void *src,
		 size_t len);
int cuda_copy_out(struct dev_region *base, uint64_t off, void *dst,
		  size_t len);
int cuda_zero(struct dev_region *base, uint64_t off, uint64_t len);
int cuda_resolve(struct dev_region *base, uint64_t off, uint64_t len,
		 void **ptr);
int cuda_pin(struct dev *d, void *p, size_t len);
void cuda_unpin(struct dev *d, void *p);

/* cuda_region_hold - enter @r's device for an op on it: 0 with the gate
 * held and the context current (cuda_unhold() ends it), or -EIO when the
 * device failed or @r died with it. */
int cuda_region_hold(struct cuda_region *r);

/* cuda_region_bury - free @r's memory and stream once (errors of a
 * failed context ignored); the gate's write side, or release. */
void cuda_region_bury(struct cuda_region *r);

/* cuda-reset.c: the end of a failed device */

/* cuda_reset - the dev_ops reset: free a failed device's memory and end
 * its kernels; it stays failed (-EIO) until the daemon restarts. 0 for a
 * ready device. Blocks until every op on the device has ended. */
int cuda_reset(struct dev *d);

/* cuda-launch.c: the dev_ops launch, wait and load_kernel of the
 * device */
int cuda_launch(struct dev *d, const struct gl_kernel *k,
		const struct gl_kargs *args, const struct gl_grid *grid,
		atomic_int *cancel);
/* cuda_launch_wait - the dev_ops wait: @base's stream drained, polled as
 * a launch's wait (cancel, grace period, faults). */
int cuda_launch_wait(struct dev_region *base, atomic_int *cancel);
int cuda_load_kernel(struct dev *d, const struct gl_kernel *k,
		     const void *image, size_t len);
/* and the chains' graphs (dev.h, graph_*) */
int cuda_graph_build(struct dev *d, const struct dev_step *steps,
		     unsigned n, void **graph);
int cuda_graph_launch(struct dev *d, void *graph, atomic_int *cancel);
void cuda_graph_free(struct dev *d, void *graph);

#endif
