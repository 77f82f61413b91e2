/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device's context: entering it for an op, mapping driver
 * errors onto errnos, making and tearing down the context and what lives
 * in it (stream, fatbin, registered modules, cuBLAS), and failing the
 * device on a sticky fault. The layer under the rest of the backend:
 * cuda-mem.c, cuda-launch.c and cuda-reset.c call it, it calls none of
 * them; the thread it starts to end a failed device reaches
 * cuda_reset() through the ops table.
 *
 * Invariants: every op enters through cuda_hold(), whose gate a reset
 * takes for writing, so the context, its stream, modules and cuBLAS
 * handle change only while no op runs. Errors are the current
 * context's: cuda_err() fails the device a thread last entered. State
 * goes ready -> failed only under fail_lock.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"
#include "kernels/fatbin.h"

/*
 * Weak, so programs that link the backend without kernels/fatbin.o
 * (the unit tests) still link; gpuleased always has it. Without it a
 * device is not used (its kernels could not run).
 */
#pragma weak gl_fatbin
#pragma weak gl_fatbin_len

/* The device whose context this thread made current last (cuda_enter):
 * the one a sticky error belongs to, as the driver's errors are the
 * current context's. */
static __thread struct cuda_dev *cuda_cur;

/*
 * Map a CUresult onto an errno: out of memory is ENOSPC (the caller
 * reports it), anything else EIO with a log line naming @what.
 */
int cuda_err(CUresult rc, const char *what)
{
	const char *name = NULL;

	if (rc == CUDA_SUCCESS)
		return 0;
	if (rc == CUDA_ERROR_OUT_OF_MEMORY)
		return -ENOSPC;
	if (cuda.cu.GetErrorName)
		cuda.cu.GetErrorName(rc, &name);
	if (!name)
		name = "unknown error";
	gl_info("cuda: %s: %s (%d)", what, name, rc);
	if (cuda_sticky(rc) && cuda_cur)
		cuda_dev_fail(cuda_cur, "%s in %s (%d)", name, what, rc);
	return -EIO;
}

static int64_t cuda_poll_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void cuda_poll_start(struct cuda_poll *p)
{
	p->t0 = cuda_poll_now();
}

void cuda_poll_pause(struct cuda_poll *p)
{
	static __thread bool slack_set;
	int64_t waited = cuda_poll_now() - p->t0;
	struct timespec ts = { 0, waited / 8 };

	if (waited < CUDA_POLL_SPIN_NS) {
		sched_yield();
		return;
	}
	if (!slack_set) {
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
		slack_set = true;
	}
	if (ts.tv_nsec < CUDA_POLL_MIN_NS)
		ts.tv_nsec = CUDA_POLL_MIN_NS;
	if (ts.tv_nsec > CUDA_POLL_MAX_NS)
		ts.tv_nsec = CUDA_POLL_MAX_NS;
	nanosleep(&ts, NULL);
}

/* The driver's current context is per thread: set it on every entry. */
int cuda_enter(struct cuda_dev *cd)
{
	cuda_cur = cd;
	return cuda_err(cuda.cu.CtxSetCurrent(cd->ctx), "cuCtxSetCurrent");
}

int cuda_hold(struct cuda_dev *cd)
{
	int err;

	if (!cd)
		return -EIO;	/* an unusable device runs nothing */
	/* failed: at once, not after the reset that may hold the gate */
	if (atomic_load(&cd->dev->state) != DEV_READY)
		return -EIO;
	pthread_rwlock_rdlock(&cd->gate);
	err = atomic_load(&cd->dev->state) == DEV_READY ? 0 : -EIO;
	if (!err)
		err = cuda_enter(cd);
	if (err)
		pthread_rwlock_unlock(&cd->gate);
	return err;
}

void cuda_unhold(struct cuda_dev *cd)
{
	pthread_rwlock_unlock(&cd->gate);
}

void cuda_prop(const struct cuda_dev *cd, CUmemAllocationProp *p)
{
	memset(p, 0, sizeof(*p));
	p->type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p->requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
	p->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p->location.id = cd->cudev;
}

void cuda_ctx_down(struct cuda_dev *cd)
{
	size_t i;

	if (cd->ctx)
		cuda_enter(cd);
	if (cd->blas)
		cuda.blas.Destroy(cd->blas);
	cd->blas = NULL;
	if (cd->stream)
		cuda.cu.StreamDestroy(cd->stream);
	cd->stream = NULL;
	if (cd->mod)
		cuda.cu.ModuleUnload(cd->mod);
	cd->mod = NULL;
	memset(cd->fn, 0, sizeof(cd->fn));
	for (i = 0; i < REGISTRY_MAX - GL_K_COUNT; i++) {
		if (cd->dyn_mod[i])
			cuda.cu.ModuleUnload(cd->dyn_mod[i]);
		cd->dyn_mod[i] = NULL;
		cd->dyn_fn[i] = NULL;
	}
	if (cd->ctx) {
		cuda.cu.CtxSetCurrent(NULL);
		cuda.cu.DevicePrimaryCtxRelease(cd->cudev);
	}
	cd->ctx = NULL;
	cuda_cur = NULL;
}

/* The device's kernels, from the fatbin; 0 or -ENODEV (logged). */
static int cuda_dev_module(struct cuda_dev *cd, struct dev *d)
{
	const struct gl_kernel *k;
	CUresult rc;
	unsigned int id;

	if (!gl_fatbin || !gl_fatbin_len) {
		gl_info("cuda: %s: no kernel fatbin in this program: not used",
			d->name);
		return -ENODEV;
	}
	rc = cuda.cu.ModuleLoadData(&cd->mod, gl_fatbin);
	if (rc) {
		cd->mod = NULL;
		cuda_err(rc, "cuModuleLoadData");
		gl_info("cuda: %s: the kernels do not load: not used",
			d->name);
		return -ENODEV;
	}
	for (id = 0; id < GL_K_COUNT; id++) {
		k = gl_kernel_get(id);
		if (cuda.cu.ModuleGetFunction(&cd->fn[id], cd->mod, k->name)) {
			cd->fn[id] = NULL;
			gl_info("cuda: %s: no kernel %s in the fatbin",
				d->name, k->name);
		}
	}
	return 0;
}

/* One cuBLAS handle per device; its GEMMs run with no workspace, so it
 * takes no device memory after this (see cuda_matmul). */
static void cuda_dev_blas(struct cuda_dev *cd)
{
	if (!cuda.blas_lib)
		return;
	if (cuda.blas.Create(&cd->blas) != CUBLAS_STATUS_SUCCESS) {
		cd->blas = NULL;
		gl_info("cuda: cublasCreate failed: matmul uses the built-in "
			"kernel");
	}
}

int cuda_ctx_up(struct cuda_dev *cd, struct dev *d)
{
	int err;

	/* a thread waiting for the GPU sleeps instead of spinning a core;
	 * refused (kept as it was) once another user made the context */
	if (cuda.cu.DevicePrimaryCtxSetFlags(cd->cudev,
					     CU_CTX_SCHED_BLOCKING_SYNC))
		gl_info("cuda: %s: cannot set blocking sync: waits spin",
			d->name);
	err = cuda_err(cuda.cu.DevicePrimaryCtxRetain(&cd->ctx, cd->cudev),
		       "cuDevicePrimaryCtxRetain");
	if (err) {
		cd->ctx = NULL;
		return err;
	}
	err = cuda_enter(cd);
	if (err)
		return err;
	err = cuda_err(cuda.cu.StreamCreate(&cd->stream,
					    CU_STREAM_NON_BLOCKING),
		       "cuStreamCreate");
	if (err) {
		cd->stream = NULL;
		return err;
	}
	err = cuda_dev_module(cd, d);
	if (err)
		return err;
	cuda_dev_blas(cd);
	return 0;
}

bool cuda_sticky(CUresult rc)
{
	switch (rc) {
	case CUDA_ERROR_ILLEGAL_ADDRESS:
	case CUDA_ERROR_LAUNCH_TIMEOUT:
	case CUDA_ERROR_HARDWARE_STACK_ERROR:
	case CUDA_ERROR_ILLEGAL_INSTRUCTION:
	case CUDA_ERROR_MISALIGNED_ADDRESS:
	case CUDA_ERROR_INVALID_ADDRESS_SPACE:
	case CUDA_ERROR_INVALID_PC:
	case CUDA_ERROR_LAUNCH_FAILED:
		return true;
	default:
		return false;
	}
}

void cuda_kill_regions(struct cuda_dev *cd)
{
	struct cuda_region *r;

	pthread_mutex_lock(&cd->lock);
	for (r = cd->regions; r; r = r->next)
		atomic_store(&r->dead, true);
	pthread_mutex_unlock(&cd->lock);
}

/* The thread that ends a failed device: the regions die, the device set
 * hears it, and the backend's reset (cuda-reset.c, through the ops table)
 * frees its memory. */
static void *cuda_end_main(void *arg)
{
	struct cuda_dev *cd = arg;

	assert(cd->dev->ops && cd->dev->ops->reset);
	cuda_kill_regions(cd);
	dev_notify(cd->dev);
	cd->dev->ops->reset(cd->dev);
	return NULL;
}

void cuda_dev_fail(struct cuda_dev *cd, const char *fmt, ...)
{
	struct dev *d = cd->dev;
	va_list ap;
	int err;

	if (!d || d->priv != cd)
		return;		/* still probing: not a device yet */
	/* failed already (for good): the end's own calls stop here */
	if (atomic_load(&d->state) != DEV_READY)
		return;
	pthread_mutex_lock(&cd->fail_lock);
	if (atomic_load(&d->state) != DEV_READY)
		goto out;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	atomic_store(&d->state, DEV_FAILED);
	gl_info("error: cuda: %s failed: %s; its leases' memory is lost, "
		"the device is being reset", d->name, d->reason);
	err = pthread_create(&cd->ender, NULL, cuda_end_main, cd);
	cd->end_started = !err;
	if (err)
		gl_info("error: cuda: %s: no thread to end it (%s)",
			d->name, gl_errno_name(err));
out:
	pthread_mutex_unlock(&cd->fail_lock);
}

void cuda_end_join(struct cuda_dev *cd)
{
	pthread_mutex_lock(&cd->fail_lock);
	if (cd->end_started)
		pthread_join(cd->ender, NULL);
	cd->end_started = false;
	pthread_mutex_unlock(&cd->fail_lock);
}
