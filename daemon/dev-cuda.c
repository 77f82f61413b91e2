/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device: probing, contexts and memory through the virtual
 * memory management API (the libraries are loaded by cuda-lib.c, launches
 * are cuda-launch.c); kernels from the embedded fatbin.
 *
 * A region is one physical handle (cuMemCreate, its size rounded up to
 * the allocation granularity) mapped read-write at its own reserved
 * address range, plus one non-blocking stream. Every operation on a
 * region is ordered on that stream and waited for before it returns, so
 * no device work of a region outlives the call that queued it: copies,
 * zeroing, resizes and launches (a cancelled launch too: a kernel cannot
 * be preempted, so the wait ends only when it is done). A resize maps a
 * new handle of the new size at a new range, copies the common prefix
 * and frees the old one: the address moves, which is safe because a
 * resize holds the lease's mem_lock for writing and launches resolve
 * their addresses afresh under its read side.
 *
 * Invariants: a live cuda_region has exactly one handle, mapped over its
 * whole reserved range (mem.size bytes, a multiple of the granularity,
 * >= base.bytes); it is on its device's region list, whose lock guards
 * the list and every region's mem fields against launch lookups. Bytes
 * past base.bytes are unspecified and are zeroed when a resize makes
 * them part of the lease.
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

/* CUDA_DEVICE_MAX_CONNECTIONS: the hardware's most work queues. */
#define CUDA_MAX_CONNECTIONS	"32"

/* Device memory kept out of capacity: context, module, cuBLAS. */
#define CUDA_HEADROOM_MIN	(256ull << 20)
#define CUDA_HEADROOM_SHIFT	5		/* total / 32 */


static struct cuda_region *to_cuda(struct dev_region *r)
{
	return (struct cuda_region *)r;
}

static struct cuda_dev *cuda_of(struct dev_region *r)
{
	return r->dev->priv;
}

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
	gl_info("cuda: %s: %s (%d)", what, name ? name : "unknown error",
		rc);
	return -EIO;
}

/* The driver's current context is per thread: set it on every entry. */
int cuda_enter(struct cuda_dev *cd)
{
	return cuda_err(cuda.cu.CtxSetCurrent(cd->ctx), "cuCtxSetCurrent");
}

static void cuda_prop(const struct cuda_dev *cd, CUmemAllocationProp *p)
{
	memset(p, 0, sizeof(*p));
	p->type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p->requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
	p->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p->location.id = cd->cudev;
}

/* Undo cuda_dev_open() on a device it finished or left half done. */
static void cuda_dev_close(struct cuda_dev *cd)
{
	if (cd->ctx)
		cuda.cu.CtxSetCurrent(cd->ctx);
	if (cd->blas)
		cuda.blas.Destroy(cd->blas);
	if (cd->stream)
		cuda.cu.StreamDestroy(cd->stream);
	if (cd->mod)
		cuda.cu.ModuleUnload(cd->mod);
	for (size_t i = 0; i < REGISTRY_MAX - GL_K_COUNT; i++)
		if (cd->dyn_mod[i])
			cuda.cu.ModuleUnload(cd->dyn_mod[i]);
	if (cd->ctx) {
		cuda.cu.CtxSetCurrent(NULL);
		cuda.cu.DevicePrimaryCtxRelease(cd->cudev);
	}
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

/* One cuBLAS handle per device, workspace-free (see cuda_matmul). */
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

/*
 * Open device @ordinal into @d: context, granularity, kernels, cuBLAS,
 * capacity. Returns 0, or -errno when the device is not to be used.
 */
static int cuda_dev_open(struct dev *d, int ordinal)
{
	CUmemAllocationProp prop;
	size_t total, free_b, headroom;
	struct cuda_dev *cd;
	char product[64];
	int vmm = 0, err;

	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	pthread_mutex_init(&cd->lock, NULL);
	pthread_mutex_init(&cd->blas_lock, NULL);
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
		goto err_close;
	}
	err = cuda_enter(cd);
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
	err = cuda_err(cuda.cu.StreamCreate(&cd->stream,
					    CU_STREAM_NON_BLOCKING),
		       "cuStreamCreate");
	if (err) {
		cd->stream = NULL;
		goto err_close;
	}
	err = cuda_dev_module(cd, d);
	if (err)
		goto err_close;
	cuda_dev_blas(cd);
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
	d->priv = cd;
	gl_info("cuda: %s: %s, %zu MiB, %llu MiB for leases%s", d->name,
		product, total >> 20, (unsigned long long)(d->capacity >> 20),
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

/* Wait for @s to drain; 0 or -EIO (logged). */
int cuda_sync(CUstream s, const char *what)
{
	return cuda_err(cuda.cu.StreamSynchronize(s), what);
}

/* Unmap, release and unreserve @m; the range must be idle. */
static void cuda_mem_free(const struct cuda_mem *m)
{
	cuda.cu.MemUnmap(m->va, m->size);
	cuda.cu.MemRelease(m->handle);
	cuda.cu.MemAddressFree(m->va, m->size);
}

/* One handle of @size bytes mapped read-write at a fresh range. */
static int cuda_mem_alloc(struct cuda_dev *cd, size_t size,
			  struct cuda_mem *m)
{
	CUmemAllocationProp prop;
	CUmemAccessDesc access;
	int err;

	cuda_prop(cd, &prop);
	m->size = size;
	err = cuda_err(cuda.cu.MemCreate(&m->handle, size, &prop, 0),
		       "cuMemCreate");
	if (err)
		return err;
	err = cuda_err(cuda.cu.MemAddressReserve(&m->va, size, cd->gran, 0,
						 0), "cuMemAddressReserve");
	if (err)
		goto err_release;
	err = cuda_err(cuda.cu.MemMap(m->va, size, 0, m->handle, 0),
		       "cuMemMap");
	if (err)
		goto err_free;
	memset(&access, 0, sizeof(access));
	access.location = prop.location;
	access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	err = cuda_err(cuda.cu.MemSetAccess(m->va, size, &access, 1),
		       "cuMemSetAccess");
	if (err)
		goto err_unmap;
	return 0;

err_unmap:
	cuda.cu.MemUnmap(m->va, size);
err_free:
	cuda.cu.MemAddressFree(m->va, size);
err_release:
	cuda.cu.MemRelease(m->handle);
	return err;
}

/* @bytes rounded up to the granularity; -ENOSPC when it cannot be. */
static int cuda_round(const struct cuda_dev *cd, uint64_t bytes,
		      size_t *size)
{
	if (bytes > SIZE_MAX - cd->gran)
		return -ENOSPC;
	*size = (size_t)((bytes + cd->gran - 1) / cd->gran * cd->gran);
	return 0;
}

/* What a region of @bytes takes: whole granules (UINT64_MAX: too big). */
static uint64_t cuda_footprint(struct dev *d, uint64_t bytes)
{
	struct cuda_dev *cd = d->priv;
	size_t size;

	if (!cd)	/* unusable: capacity 0, nothing is ever reserved */
		return bytes;
	return cuda_round(cd, bytes, &size) ? UINT64_MAX : size;
}

static int cuda_zero_sync(struct cuda_region *r, uint64_t off, uint64_t len)
{
	int err;

	if (!len)
		return 0;
	err = cuda_err(cuda.cu.MemsetD8Async(r->mem.va + off, 0, len,
					     r->stream), "cuMemsetD8Async");
	if (!err)
		err = cuda_sync(r->stream, "zero");
	return err;
}

static int cuda_reserve(struct dev *d, uint64_t bytes,
			struct dev_region **out)
{
	struct cuda_dev *cd = d->priv;
	struct cuda_region *r;
	size_t size;
	int err;

	if (!cd)
		return -ENOSPC;	/* unusable: capacity 0 */
	err = cuda_round(cd, bytes, &size);
	if (err)
		return err;
	err = cuda_enter(cd);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = cuda_err(cuda.cu.StreamCreate(&r->stream,
					    CU_STREAM_NON_BLOCKING),
		       "cuStreamCreate");
	if (err)
		goto err_free;
	err = cuda_mem_alloc(cd, size, &r->mem);
	if (err)
		goto err_stream;
	/* no lease ever sees another's bytes */
	err = cuda_zero_sync(r, 0, bytes);
	if (err)
		goto err_mem;
	r->base.dev = d;
	r->base.bytes = bytes;
	pthread_mutex_lock(&cd->lock);
	r->next = cd->regions;
	if (r->next)
		r->next->prev = r;
	cd->regions = r;
	pthread_mutex_unlock(&cd->lock);
	*out = &r->base;
	return 0;

err_mem:
	cuda_mem_free(&r->mem);
err_stream:
	cuda.cu.StreamDestroy(r->stream);
err_free:
	free(r);
	return err;
}

static int cuda_resize(struct dev_region *base, uint64_t bytes)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);
	uint64_t old = base->bytes;
	struct cuda_mem m, prev;
	size_t size;
	int err;

	err = cuda_round(cd, bytes, &size);
	if (!err)
		err = cuda_enter(cd);
	if (err)
		return err;
	if (size == r->mem.size) {
		/* the handle fits: only the newly exposed tail changes */
		err = bytes > old ? cuda_zero_sync(r, old, bytes - old) : 0;
		if (!err)
			base->bytes = bytes;
		return err;
	}
	err = cuda_mem_alloc(cd, size, &m);
	if (err)
		return err;
	err = cuda_err(cuda.cu.MemcpyDtoDAsync(m.va, r->mem.va,
					       old < bytes ? old : bytes,
					       r->stream), "cuMemcpyDtoDAsync");
	if (!err && bytes > old)
		err = cuda_err(cuda.cu.MemsetD8Async(m.va + old, 0,
						     bytes - old, r->stream),
			       "cuMemsetD8Async");
	if (!err)
		err = cuda_sync(r->stream, "resize");
	if (err) {
		cuda_sync(r->stream, "resize");
		cuda_mem_free(&m);
		return err;
	}
	pthread_mutex_lock(&cd->lock);
	prev = r->mem;
	r->mem = m;
	pthread_mutex_unlock(&cd->lock);
	cuda_mem_free(&prev);
	base->bytes = bytes;
	return 0;
}

static void cuda_release(struct dev_region *base)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);

	cuda_enter(cd);
	cuda_sync(r->stream, "release");
	pthread_mutex_lock(&cd->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		cd->regions = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&cd->lock);
	cuda_mem_free(&r->mem);
	cuda.cu.StreamDestroy(r->stream);
	free(r);
}

static int cuda_copy_in(struct dev_region *base, uint64_t off,
			const void *src, size_t len)
{
	struct cuda_region *r = to_cuda(base);
	int err;

	if (!len)
		return 0;
	err = cuda_enter(cuda_of(base));
	if (!err)
		err = cuda_err(cuda.cu.MemcpyHtoDAsync(r->mem.va + off, src,
						       len, r->stream),
			       "cuMemcpyHtoDAsync");
	/* pageable source: wait before the caller may reuse it */
	if (!err)
		err = cuda_sync(r->stream, "copy in");
	return err;
}

static int cuda_copy_out(struct dev_region *base, uint64_t off, void *dst,
			 size_t len)
{
	struct cuda_region *r = to_cuda(base);
	int err;

	if (!len)
		return 0;
	err = cuda_enter(cuda_of(base));
	if (!err)
		err = cuda_err(cuda.cu.MemcpyDtoHAsync(dst, r->mem.va + off,
						       len, r->stream),
			       "cuMemcpyDtoHAsync");
	if (!err)
		err = cuda_sync(r->stream, "copy out");
	return err;
}

static int cuda_zero(struct dev_region *base, uint64_t off, uint64_t len)
{
	int err = cuda_enter(cuda_of(base));

	return err ? err : cuda_zero_sync(to_cuda(base), off, len);
}

static void cuda_teardown(struct dev *d)
{
	struct cuda_dev *cd = d->priv;

	if (!cd)
		return;
	if (cd->regions)
		gl_info("cuda: %s: teardown with live regions", d->name);
	cuda_dev_close(cd);
	d->priv = NULL;
}

static int cuda_resolve(struct dev_region *base, uint64_t off, uint64_t len,
			void **ptr)
{
	*ptr = base ? (void *)(uintptr_t)(to_cuda(base)->mem.va + off) : NULL;
	return 0;
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
};
