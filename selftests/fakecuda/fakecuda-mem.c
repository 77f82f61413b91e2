/* SPDX-License-Identifier: MIT */
/*
 * The fake driver's memory: VMM handles as memfds filled with 0xA5,
 * reservations as PROT_NONE mappings, maps and access, the copies and
 * memsets (run at once), host registration, and the plain allocations a
 * benchmark compares the daemon with. See fakecuda.c for the whole fake.
 *
 * Invariant: st.handles, handle_bytes, reserved, mapped, allocs,
 * host_allocs and host_registered count exactly what is live.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "selftests/fakecuda/fakecuda-int.h"

struct fake_handle {
	int fd;
	size_t size;
};

CUresult cuMemGetAllocationGranularity(size_t *gran,
				       const CUmemAllocationProp *p,
				       int option)
{
	*gran = st.gran;
	return 0;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size,
		     const CUmemAllocationProp *p, unsigned long long flags)
{
	struct fake_handle *fh;
	CUresult rc = need_live();
	void *map;

	if (rc)
		return rc;
	if (!size || size % st.gran ||
	    p->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    p->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (st.handle_bytes + st.blas_ws_bytes + size > st.total)
		return CUDA_ERROR_OUT_OF_MEMORY;
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return CUDA_ERROR_OUT_OF_MEMORY;
	fh->size = size;
	fh->fd = memfd_create("fakecuda", MFD_CLOEXEC);
	if (fh->fd < 0 || ftruncate(fh->fd, (off_t)size))
		goto err;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fh->fd, 0);
	if (map == MAP_FAILED)
		goto err;
	memset(map, 0xa5, size);	/* stale memory */
	munmap(map, size);
	*h = (CUmemGenericAllocationHandle)(uintptr_t)fh;
	st.handles++;
	st.handle_bytes += size;
	if (st.handle_bytes > st.handle_peak)
		st.handle_peak = st.handle_bytes;
	return 0;
err:
	if (fh->fd >= 0)
		close(fh->fd);
	free(fh);
	return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
	struct fake_handle *fh = (struct fake_handle *)(uintptr_t)h;
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	st.handles--;
	st.handle_bytes -= fh->size;
	close(fh->fd);
	free(fh);
	return 0;
}

/* Live reservations: the driver frees only a range it reserved, whole. */
#define FAKE_RESV_MAX 1024
static struct {
	CUdeviceptr ptr;
	size_t size;
} resv[FAKE_RESV_MAX];

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align,
			     CUdeviceptr addr, unsigned long long flags)
{
	CUresult rc = need_ctx();
	unsigned int i;
	void *p;

	if (rc)
		return rc;
	p = mmap(NULL, size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&lock);
	for (i = 0; i < FAKE_RESV_MAX && resv[i].size; i++)
		;
	if (i < FAKE_RESV_MAX) {
		resv[i].ptr = (CUdeviceptr)(uintptr_t)p;
		resv[i].size = size;
	}
	pthread_mutex_unlock(&lock);
	if (i == FAKE_RESV_MAX) {
		munmap(p, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*ptr = (CUdeviceptr)(uintptr_t)p;
	st.reserved++;
	return 0;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult rc = need_ctx();
	unsigned int i;

	if (rc)
		return rc;
	pthread_mutex_lock(&lock);
	for (i = 0; i < FAKE_RESV_MAX; i++)
		if (resv[i].size && resv[i].ptr == ptr &&
		    resv[i].size == size) {
			resv[i].size = 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (i == FAKE_RESV_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	munmap((void *)(uintptr_t)ptr, size);
	st.reserved--;
	return 0;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
		  CUmemGenericAllocationHandle h, unsigned long long flags)
{
	struct fake_handle *fh = (struct fake_handle *)(uintptr_t)h;
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	if (offset || size > fh->size)
		return CUDA_ERROR_INVALID_VALUE;
	if (mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
		 MAP_SHARED | MAP_FIXED, fh->fd, 0) == MAP_FAILED)
		return CUDA_ERROR_INVALID_VALUE;
	st.mapped++;
	return 0;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	st.mapped--;
	return 0;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
			const CUmemAccessDesc *desc, size_t count)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	if (count != 1 || desc->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE ||
	    desc->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (mprotect((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE))
		return CUDA_ERROR_INVALID_VALUE;
	return 0;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memcpy((void *)(uintptr_t)dst, src, len);
	return rc;
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memcpy(dst, (const void *)(uintptr_t)src, len);
	return rc;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t len,
			      CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src,
			len);
	return rc;
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t len,
			 CUstream s)
{
	CUresult rc = need_stream(s);

	if (!rc)
		memset((void *)(uintptr_t)dst, value, len);
	return rc;
}

/*
 * What a benchmark compares the daemon with (tools/bench/cuda.c):
 * plain allocations of host memory standing in for device memory and
 * pinned memory, counted like the rest.
 */
/* Page-locks nothing: counts, and checks what the driver would. */
CUresult cuMemHostRegister_v2(void *p, size_t len, unsigned int flags)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (!p || !len || (uintptr_t)p % 4096)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	st.host_reg_ptr = p;
	st.host_reg_len = len;
	pthread_mutex_unlock(&lock);
	st.host_registered++;
	return 0;
}

CUresult cuMemHostUnregister(void *p)
{
	CUresult rc = need_ctx();

	if (!rc)
		st.host_registered--;
	return rc;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t size)
{
	CUresult rc = need_live();
	void *m;

	if (rc)
		return rc;
	m = malloc(size ? size : 1);
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*p = (CUdeviceptr)(uintptr_t)m;
	st.allocs++;
	return 0;
}

CUresult cuMemFree_v2(CUdeviceptr p)
{
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	free((void *)(uintptr_t)p);
	st.allocs--;
	return 0;
}

CUresult cuMemHostAlloc(void **p, size_t size, unsigned int flags)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	*p = malloc(size ? size : 1);
	if (!*p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	st.host_allocs++;
	return 0;
}

CUresult cuMemFreeHost(void *p)
{
	free(p);
	st.host_allocs--;
	return 0;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t len)
{
	CUresult rc = need_live();

	if (!rc)
		memcpy((void *)(uintptr_t)dst, src, len);
	return rc;
}
