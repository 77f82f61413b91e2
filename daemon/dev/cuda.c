/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device: probing, opening and closing a device, and the ops
 * table. The top of the backend's layers, each file calling only those
 * below it: cuda-lib.c loads the libraries; cuda-ctx.c enters the
 * context, maps errors, makes the context and fails the device;
 * cuda-mem.c (memory), cuda-launch.c (launches) and cuda-reset.c
 * (the end of a failed device) sit on those two; this file on all of
 * them. Kernels come from the embedded fatbin.
 *
 * Invariant: a device's priv is set only once it is fully open (or NULL
 * when it is unusable).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"
#include "kernels/fatbin.h"
#include "uapi/gpulease.h"

/* Weak, as in cuda-ctx.c: the unit tests link without the fatbin. */
#pragma weak gl_fatbin_cuda_version

/* How long a cancelled kernel may run on before its device is failed
 * (and reset, which ends it): a kernel cannot be preempted otherwise. */
#define CUDA_GRACE_MS		5000u

/* CUDA_DEVICE_MAX_CONNECTIONS: the hardware's most work queues. */
#define CUDA_MAX_CONNECTIONS	"32"

/* Device memory kept out of capacity: context, module, cuBLAS. */
#define CUDA_HEADROOM_MIN	(256ull << 20)
#define CUDA_HEADROOM_SHIFT	5		/* total / 32 */

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

/* Undo cuda_dev_open() on a device it finished or left half done. */
static void cuda_dev_close(struct cuda_dev *cd)
{
	cuda_ctx_down(cd);
	pthread_rwlock_destroy(&cd->gate);
	pthread_mutex_destroy(&cd->reset_lock);
	pthread_mutex_destroy(&cd->fail_lock);
	pthread_mutex_destroy(&cd->blas_lock);
	pthread_mutex_destroy(&cd->lock);
	free(cd);
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
	d->ops = &dev_cuda_ops;	/* a failed device's end resets by it */
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
	cuda_end_join(cd);
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
	.wait = cuda_launch_wait,
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
