/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device: probing, its context and what lives in it, and the
 * ops table. The libraries are loaded by cuda-lib.c, memory is
 * cuda-mem.c, launches cuda-launch.c, sticky faults and recovery
 * cuda-reset.c; kernels come from the embedded fatbin.
 *
 * Invariants: a device's priv is set only once it is fully open (or
 * NULL when it is unusable); every op enters through cuda_hold(), whose
 * gate a reset takes for writing, so the context, its stream, modules
 * and cuBLAS handle change only while no op runs. Errors are the
 * current context's: cuda_err() fails the device a thread last entered.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/cuda-dev.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "kernels/fatbin.h"
#include "uapi/gpulease.h"

/*
 * Weak, so programs that link the daemon core without kernels/fatbin.o
 * (the unit tests) still link; gpuleased always has it. Without it a
 * device is not used (its kernels could not run).
 */
#pragma weak gl_fatbin
#pragma weak gl_fatbin_len
#pragma weak gl_fatbin_cuda_version

/* How long a cancelled kernel may run on before its device is failed
 * (and reset, which ends it): a kernel cannot be preempted otherwise. */
#define CUDA_GRACE_MS		5000u

/* CUDA_DEVICE_MAX_CONNECTIONS: the hardware's most work queues. */
#define CUDA_MAX_CONNECTIONS	"32"

/* Device memory kept out of capacity: context, module, cuBLAS. */
#define CUDA_HEADROOM_MIN	(256ull << 20)
#define CUDA_HEADROOM_SHIFT	5		/* total / 32 */


/*
 * Map a CUresult onto an errno: out of memory is ENOSPC (the caller
 * reports it), anything else EIO with a log line naming @what.
 */
/* The device whose context this thread made current last (cuda_enter):
 * the one a sticky error belongs to, as the driver's errors are the
 * current context's. */
static __thread struct cuda_dev *cuda_cur;

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

/* Undo cuda_dev_open() on a device it finished or left half done. */
static void cuda_dev_close(struct cuda_dev *cd)
{
	size_t i;

	cuda_ctx_down(cd);
	for (i = 0; i < REGISTRY_MAX - GL_K_COUNT; i++)
		free(cd->dyn_image[i]);
	pthread_rwlock_destroy(&cd->gate);
	pthread_mutex_destroy(&cd->reset_lock);
	pthread_mutex_destroy(&cd->fail_lock);
	pthread_mutex_destroy(&cd->blas_lock);
	pthread_mutex_destroy(&cd->lock);
	free(cd);
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

/* Root-registered modules again, from their saved images (a reset
 * destroyed them with the context). 0 or -EIO (logged). */
static int cuda_dev_reload(struct cuda_dev *cd, struct dev *d)
{
	size_t i;
	int err;

	for (i = 0; i < REGISTRY_MAX - GL_K_COUNT; i++) {
		if (!cd->dyn_image[i])
			continue;
		err = cuda_err(cuda.cu.ModuleLoadData(&cd->dyn_mod[i],
						      cd->dyn_image[i]),
			       "cuModuleLoadData");
		if (err) {
			cd->dyn_mod[i] = NULL;
			return -EIO;
		}
		if (cuda.cu.ModuleGetFunction(&cd->dyn_fn[i], cd->dyn_mod[i],
					      cd->dyn_k[i]->name)) {
			gl_info("cuda: %s: kernel %s is gone from its module",
				d->name, cd->dyn_k[i]->name);
			return -EIO;
		}
	}
	return 0;
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
	if (!err)
		err = cuda_dev_reload(cd, d);
	if (err)
		return err;
	cuda_dev_blas(cd);
	return 0;
}

/* The grace period of a cancelled kernel: $GL_CUDA_GRACE_MS (a test
 * knob), else CUDA_GRACE_MS. */
static unsigned int cuda_grace_ms(void)
{
	const char *v = getenv("GL_CUDA_GRACE_MS");
	char *end;
	unsigned long ms;

	if (!v || !*v)
		return CUDA_GRACE_MS;
	ms = strtoul(v, &end, 10);
	return *end || ms > 3600000 ? CUDA_GRACE_MS : (unsigned int)ms;
}

/*
 * Open device @ordinal into @d: context, granularity, kernels, cuBLAS,
 * capacity. Returns 0, or -errno when the device is not to be used.
 */
static int cuda_dev_open(struct dev *d, int ordinal)
{
	pthread_rwlockattr_t attr;
	CUmemAllocationProp prop;
	size_t total, free_b, headroom;
	struct cuda_dev *cd;
	char product[64];
	int vmm = 0, err;

	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	cd->dev = d;
	cd->grace_ms = cuda_grace_ms();
	pthread_mutex_init(&cd->lock, NULL);
	pthread_mutex_init(&cd->blas_lock, NULL);
	pthread_mutex_init(&cd->fail_lock, NULL);
	pthread_mutex_init(&cd->reset_lock, NULL);
	/* a reset waiting for the gate is not starved by a stream of ops */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cd->gate, &attr);
	pthread_rwlockattr_destroy(&attr);
	err = cuda_err(cuda.cu.DeviceGet(&cd->cudev, ordinal), "cuDeviceGet");
	if (err)
		goto err_close;
	/* one word, as "cpu0": devices/<n>/name; the product name is logged */
	snprintf(d->name, sizeof(d->name), "cuda%d", ordinal);
	if (cuda.cu.DeviceGetName(product, sizeof(product), cd->cudev))
		snprintf(product, sizeof(product), "unknown");
	product[sizeof(product) - 1] = '\0';
	if (cuda.cu.DeviceGetAttribute(&vmm,
		CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
		cd->cudev) || !vmm) {
		gl_info("cuda: %s: no virtual memory management: not used",
			d->name);
		err = -ENODEV;
		goto err_close;
	}
	err = cuda_err(cuda.cu.DeviceTotalMem(&total, cd->cudev),
		       "cuDeviceTotalMem");
	if (err)
		goto err_close;
	err = cuda_ctx_up(cd, d);
	if (err)
		goto err_close;
	cuda_prop(cd, &prop);
	err = cuda_err(cuda.cu.MemGetAllocationGranularity(&cd->gran, &prop,
				CU_MEM_ALLOC_GRANULARITY_MINIMUM),
		       "cuMemGetAllocationGranularity");
	if (!err && !cd->gran)
		err = -EIO;
	if (err)
		goto err_close;
	err = cuda_err(cuda.cu.MemGetInfo(&free_b, &total), "cuMemGetInfo");
	if (err)
		goto err_close;
	headroom = total >> CUDA_HEADROOM_SHIFT;
	if (headroom < CUDA_HEADROOM_MIN)
		headroom = CUDA_HEADROOM_MIN;
	if (free_b <= headroom + cd->gran) {
		gl_info("cuda: %s: too little free memory: not used",
			d->name);
		err = -ENOSPC;
		goto err_close;
	}
	d->capacity = (free_b - headroom) / cd->gran * cd->gran;
	d->reserved = total - free_b;
	d->priv = cd;
	gl_info("cuda: %s: %s, %zu MiB, %llu MiB for leases, %llu MiB "
		"reserved%s", d->name, product, total >> 20,
		(unsigned long long)(d->capacity >> 20),
		(unsigned long long)(d->reserved >> 20),
		cd->blas ? "" : ", no cuBLAS");
	return 0;

err_close:
	cuda_dev_close(cd);
	return err;
}

/*
 * What the driver reads once, at cuInit: eager module loading (lazy
 * loading can synchronise the whole context at a kernel's first launch,
 * stalling every lease's stream) and as many hardware work queues as it
 * has (32), so lease streams do not share one and serialise. Values
 * the environment already sets are the administrator's and are kept.
 */
static void cuda_init_env(void)
{
	setenv("CUDA_MODULE_LOADING", "EAGER", 0);
	setenv("CUDA_DEVICE_MAX_CONNECTIONS", CUDA_MAX_CONNECTIONS, 0);
}

/* The version of the toolkit that built the fatbin; 0: unknown. */
static int cuda_build_version(void)
{
	return &gl_fatbin_cuda_version ? gl_fatbin_cuda_version : 0;
}

static int cuda_probe(struct dev *devs, int max, uint64_t cpu_vram)
{
	int count = 0, i, n = 0, drv = 0, built;
	CUresult rc;

	if (max < 1 || cuda_lib_load())
		return 0;
	cuda_init_env();
	rc = cuda.cu.Init(0);
	if (!rc)
		rc = cuda.cu.DriverGetVersion(&drv);
	if (!rc)
		rc = cuda.cu.DeviceGetCount(&count);
	if (rc || count <= 0) {
		gl_info("cuda: driver loaded, no usable device (%d)", rc);
		return 0;
	}
	built = cuda_build_version();
	if (drv < built) {
		/* loud, and listed: never a silent fall back to the CPU */
		for (i = 0; i < count && n < max; i++, n++) {
			memset(&devs[n], 0, sizeof(devs[n]));
			snprintf(devs[n].name, sizeof(devs[n].name), "cuda%d",
				 i);
			dev_set_unusable(&devs[n], "the driver supports CUDA "
					 "%d.%d, older than CUDA %d.%d that "
					 "built the kernels: update the "
					 "driver or build with an older "
					 "toolkit", drv / 1000,
					 drv % 1000 / 10, built / 1000,
					 built % 1000 / 10);
		}
		return n;
	}
	cuda_lib_load_blas(drv);
	for (i = 0; i < count && n < max; i++) {
		memset(&devs[n], 0, sizeof(devs[n]));
		if (!cuda_dev_open(&devs[n], i))
			n++;
	}
	cuda.cu.CtxSetCurrent(NULL);
	return n;
}

static void cuda_teardown(struct dev *d)
{
	struct cuda_dev *cd = d->priv;

	if (!cd)
		return;
	cuda_recovery_join(cd);
	if (cd->regions)
		gl_info("cuda: %s: teardown with live regions", d->name);
	cuda_dev_close(cd);
	d->priv = NULL;
}

const struct dev_ops dev_cuda_ops = {
	.kind = GL_KIND_CUDA,
	.probe = cuda_probe,
	.reserve = cuda_reserve,
	.resize = cuda_resize,
	.release = cuda_release,
	.copy_in = cuda_copy_in,
	.copy_out = cuda_copy_out,
	.zero = cuda_zero,
	.teardown = cuda_teardown,
	.resolve = cuda_resolve,
	.launch = cuda_launch,
	.load_kernel = cuda_load_kernel,
	.footprint = cuda_footprint,
	.resize_moves = true,
	.reset = cuda_reset,
	.pin = cuda_pin,
	.unpin = cuda_unpin,
	.graph_build = cuda_graph_build,
	.graph_launch = cuda_graph_launch,
	.graph_free = cuda_graph_free,
};
