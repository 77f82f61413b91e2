/* SPDX-License-Identifier: MIT */
/*
 * The CUDA device's memory: regions through the virtual memory
 * management API, and the copies, zeroing and resolving on them.
 *
 * A region is one physical handle (cuMemCreate, its size rounded up to
 * the allocation granularity) mapped read-write at its own reserved
 * address range, plus one non-blocking stream. Every operation on a
 * region is ordered on that stream and waited for before it returns, so
 * no device work of a region outlives the call that queued it. A resize
 * maps a new handle of the new size at a new range, copies the common
 * prefix and frees the old one: the address moves, which is safe because
 * a resize holds the lease's mem_lock for writing and launches resolve
 * their addresses afresh under its read side.
 *
 * Invariants: a live cuda_region has exactly one handle, mapped over its
 * whole reserved range (mem.size bytes, a multiple of the granularity,
 * >= base.bytes); it is on its device's region list, whose lock guards
 * the list and every region's mem fields against launch lookups. Every
 * op but release runs inside cuda_hold() (the device's gate, read side),
 * so a reset (write side) never frees memory under one. A region marked
 * dead lost its memory to a device fault: every op on it is -EIO, and
 * release only frees the struct once the reset buried its memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"

static struct cuda_region *to_cuda(struct dev_region *r)
{
	return (struct cuda_region *)r;
}

static struct cuda_dev *cuda_of(struct dev_region *r)
{
	return r->dev->priv;
}

int cuda_sync(struct cuda_dev *cd, CUstream s, const char *what)
{
	struct cuda_poll p;
	CUresult rc;

	/* polled, not cuStreamSynchronize: a wait behind a kernel that
	 * never ends must end when its device fails */
	cuda_poll_start(&p);
	for (;;) {
		rc = cuda.cu.StreamQuery(s);
		if (rc != CUDA_ERROR_NOT_READY)
			return cuda_err(rc, what);
		if (atomic_load(&cd->dev->state) != DEV_READY)
			return -EIO;
		cuda_poll_pause(&p);
	}
}

/* Unmap, release and unreserve @m; the range must be idle. */
static void cuda_mem_free(const struct cuda_mem *m)
{
	cuda.cu.MemUnmap(m->va, m->size);
	cuda.cu.MemRelease(m->handle);
	cuda.cu.MemAddressFree(m->va - m->guard, m->size + 2 * m->guard);
}

/* One handle of @size bytes mapped read-write at a fresh range, with a
 * granule of unmapped guard space on either side. */
static int cuda_mem_alloc(struct cuda_dev *cd, size_t size,
			  struct cuda_mem *m)
{
	CUmemAllocationProp prop;
	CUmemAccessDesc access;
	CUdeviceptr base;
	int err;

	cuda_prop(cd, &prop);
	m->size = size;
	m->guard = cd->gran;
	if (size > SIZE_MAX - 2 * m->guard)
		return -ENOSPC;
	err = cuda_err(cuda.cu.MemCreate(&m->handle, size, &prop, 0),
		       "cuMemCreate");
	if (err)
		return err;
	err = cuda_err(cuda.cu.MemAddressReserve(&base, size + 2 * m->guard,
						 cd->gran, 0, 0),
		       "cuMemAddressReserve");
	if (err)
		goto err_release;
	m->va = base + m->guard;
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
	cuda.cu.MemAddressFree(base, size + 2 * m->guard);
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

uint64_t cuda_footprint(struct dev *d, uint64_t bytes)
{
	struct cuda_dev *cd = d->priv;
	size_t size;

	if (!cd)	/* unusable: capacity 0, nothing is ever reserved */
		return bytes;
	return cuda_round(cd, bytes, &size) ? UINT64_MAX : size;
}

int cuda_region_hold(struct cuda_region *r)
{
	struct cuda_dev *cd = cuda_of(&r->base);
	int err = cuda_hold(cd);

	if (!err && atomic_load(&r->dead)) {
		cuda_unhold(cd);
		err = -EIO;
	}
	return err;
}

static int cuda_zero_sync(struct cuda_region *r, uint64_t off, uint64_t len)
{
	int err;

	if (!len)
		return 0;
	err = cuda_err(cuda.cu.MemsetD8Async(r->mem.va + off, 0, len,
					     r->stream), "cuMemsetD8Async");
	if (!err)
		err = cuda_sync(cuda_of(&r->base), r->stream, "zero");
	return err;
}

int cuda_reserve(struct dev *d, uint64_t bytes, struct dev_region **out)
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
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base.dev = d;
	r->base.bytes = bytes;
	err = cuda_hold(cd);
	if (err)
		goto err_free;
	err = cuda_err(cuda.cu.StreamCreate(&r->stream,
					    CU_STREAM_NON_BLOCKING),
		       "cuStreamCreate");
	if (err)
		goto err_unhold;
	err = cuda_mem_alloc(cd, size, &r->mem);
	if (err)
		goto err_stream;
	/* no lease ever sees another's bytes */
	err = cuda_zero_sync(r, 0, bytes);
	if (err)
		goto err_mem;
	pthread_mutex_lock(&cd->lock);
	r->next = cd->regions;
	if (r->next)
		r->next->prev = r;
	cd->regions = r;
	pthread_mutex_unlock(&cd->lock);
	cuda_unhold(cd);
	*out = &r->base;
	return 0;

err_mem:
	cuda_mem_free(&r->mem);
err_stream:
	cuda.cu.StreamDestroy(r->stream);
err_unhold:
	cuda_unhold(cd);
err_free:
	free(r);
	return err;
}

int cuda_resize(struct dev_region *base, uint64_t bytes)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);
	uint64_t old = base->bytes;
	struct cuda_mem m, prev;
	size_t size;
	int err;

	err = cuda_round(cd, bytes, &size);
	if (!err)
		err = cuda_region_hold(r);
	if (err)
		return err;
	if (size == r->mem.size) {
		/* the handle fits: only the newly exposed tail changes */
		err = bytes > old ? cuda_zero_sync(r, old, bytes - old) : 0;
		if (!err)
			base->bytes = bytes;
		goto out;
	}
	err = cuda_mem_alloc(cd, size, &m);
	if (err)
		goto out;
	err = cuda_err(cuda.cu.MemcpyDtoDAsync(m.va, r->mem.va,
					       old < bytes ? old : bytes,
					       r->stream), "cuMemcpyDtoDAsync");
	if (!err && bytes > old)
		err = cuda_err(cuda.cu.MemsetD8Async(m.va + old, 0,
						     bytes - old, r->stream),
			       "cuMemsetD8Async");
	if (!err)
		err = cuda_sync(cd, r->stream, "resize");
	if (err) {
		cuda_sync(cd, r->stream, "resize");
		cuda_mem_free(&m);
		goto out;
	}
	pthread_mutex_lock(&cd->lock);
	prev = r->mem;
	r->mem = m;
	pthread_mutex_unlock(&cd->lock);
	cuda_mem_free(&prev);
	base->bytes = bytes;
out:
	cuda_unhold(cd);
	return err;
}

void cuda_region_bury(struct cuda_region *r)
{
	if (r->buried)
		return;
	cuda_mem_free(&r->mem);
	cuda.cu.StreamDestroy(r->stream);
	r->stream = NULL;
	r->buried = true;
}

void cuda_release(struct dev_region *base)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);

	/* not cuda_hold(): a region goes on a failed device too */
	pthread_rwlock_rdlock(&cd->gate);
	cuda_enter(cd);
	if (!r->buried && !atomic_load(&r->dead) &&
	    atomic_load(&cd->dev->state) == DEV_READY)
		cuda_sync(cd, r->stream, "release");
	pthread_mutex_lock(&cd->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		cd->regions = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&cd->lock);
	cuda_region_bury(r);
	pthread_rwlock_unlock(&cd->gate);
	free(r);
}

int cuda_copy_in(struct dev_region *base, uint64_t off, const void *src,
		 size_t len)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);
	int err;

	if (!len)
		return 0;
	err = cuda_region_hold(r);
	if (err)
		return err;
	err = cuda_err(cuda.cu.MemcpyHtoDAsync(r->mem.va + off, src, len,
					       r->stream),
		       "cuMemcpyHtoDAsync");
	/* pageable source: wait before the caller may reuse it */
	if (!err)
		err = cuda_sync(cd, r->stream, "copy in");
	cuda_unhold(cd);
	return err;
}

int cuda_copy_out(struct dev_region *base, uint64_t off, void *dst,
		  size_t len)
{
	struct cuda_region *r = to_cuda(base);
	struct cuda_dev *cd = cuda_of(base);
	int err;

	if (!len)
		return 0;
	err = cuda_region_hold(r);
	if (err)
		return err;
	err = cuda_err(cuda.cu.MemcpyDtoHAsync(dst, r->mem.va + off, len,
					       r->stream),
		       "cuMemcpyDtoHAsync");
	if (!err)
		err = cuda_sync(cd, r->stream, "copy out");
	cuda_unhold(cd);
	return err;
}

int cuda_zero(struct dev_region *base, uint64_t off, uint64_t len)
{
	struct cuda_region *r = to_cuda(base);
	int err = cuda_region_hold(r);

	if (err)
		return err;
	err = cuda_zero_sync(r, off, len);
	cuda_unhold(cuda_of(base));
	return err;
}

int cuda_pin(struct dev *d, void *p, size_t len)
{
	struct cuda_dev *cd = d->priv;
	int err = cuda_hold(cd);

	if (err)
		return err;
	/* portable: every context may DMA from it, a reset's new one too */
	err = cuda_err(cuda.cu.MemHostRegister(p, len,
					       CU_MEMHOSTREGISTER_PORTABLE),
		       "cuMemHostRegister");
	cuda_unhold(cd);
	return err == -ENOSPC ? -ENOMEM : err;
}

void cuda_unpin(struct dev *d, void *p)
{
	struct cuda_dev *cd = d->priv;

	if (!cd)
		return;
	/* not cuda_hold(): a failed device unpins too (errors ignored) */
	pthread_rwlock_rdlock(&cd->gate);
	cuda_enter(cd);
	cuda.cu.MemHostUnregister(p);
	pthread_rwlock_unlock(&cd->gate);
}

int cuda_resolve(struct dev_region *base, uint64_t off, uint64_t len,
		 void **ptr)
{
	if (!base) {
		*ptr = NULL;
		return 0;
	}
	/* a dead region's range may be another's after the reset */
	if (atomic_load(&to_cuda(base)->dead))
		return -EIO;
	*ptr = (void *)(uintptr_t)(to_cuda(base)->mem.va + off);
	return 0;
}
