/* SPDX-License-Identifier: MIT */
/*
 * The CPU device: each region is one anonymous private mapping of exactly
 * its size, populated up front (MADV_POPULATE_WRITE) so a reservation is
 * real memory, and asked for transparent huge pages: a region of 2 MiB or
 * more starts on a 2 MiB boundary, so the kernel can back it with 2 MiB
 * pages wherever /sys/kernel/mm/transparent_hugepage/enabled allows
 * ("madvise" or "always"). A region's first touch then costs one fault
 * per 2 MiB instead of one per 4 KiB, which is most of a model's load and
 * cold start (Documentation/performance.md). Capacity is enforced by
 * accounting above us.
 *
 * Invariant: a live cpu_region always has map != NULL, its whole length
 * populated, and base.bytes == the mapping's length.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "daemon/dev/pool.h"
#include "kernels/blas.h"
#include "uapi/gpulease.h"

#define CPU_HUGE	(2ull << 20)	/* x86-64's PMD page */

struct cpu_region {
	struct dev_region base;
	void *map;	/* anonymous, private, base.bytes long */
};

static struct cpu_region *to_cpu(struct dev_region *r)
{
	return (struct cpu_region *)r;
}

/* Callers check ranges against the lease's vram (== base.bytes). */
static void cpu_check_range(const struct dev_region *base, uint64_t off,
			    uint64_t len)
{
	assert(off <= base->bytes && len <= base->bytes - off);
	(void)base, (void)off, (void)len;
}

/*
 * cpu_map - an unpopulated anonymous mapping of @bytes, starting on a
 * 2 MiB boundary when it is that large (the head and tail of a larger
 * mapping trimmed off), asked for huge pages and kept out of any fork.
 * The mapping is charged to the commit limit, so a host that does not
 * overcommit refuses it here. NULL when mmap fails.
 */
static char *cpu_map(uint64_t bytes)
{
	uint64_t extra = bytes >= CPU_HUGE ? CPU_HUGE : 0;
	uintptr_t mask = (uintptr_t)CPU_HUGE - 1, start, head;
	char *p;

	if (bytes > SIZE_MAX - extra)
		return NULL;
	p = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (extra) {
		start = ((uintptr_t)p + mask) & ~mask;
		head = start - (uintptr_t)p;
		if (head)
			munmap(p, head);
		if (extra - head)
			munmap((char *)start + bytes, extra - head);
		p = (char *)start;
		/* advice only: a kernel without THP still serves 4 KiB */
		(void)madvise(p, bytes, MADV_HUGEPAGE);
	}
	(void)madvise(p, bytes, MADV_DONTFORK);
	return p;
}

/*
 * cpu_commit - make [@p, @p + @len) real memory now, so no later touch
 * can fail. -ENOSPC when the host has none to give; a kernel older than
 * 5.14 (no MADV_POPULATE_WRITE) gets one store per page instead, which
 * cannot report a failure.
 */
static int cpu_commit(char *p, uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t i;

	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno == ENOMEM)
		return -ENOSPC;
	if (errno != EINVAL)
		return errno == EHWPOISON ? -EIO : -errno;
	for (i = 0; i < len; i += (uint64_t)page)
		((volatile char *)p)[i] = 0;
	return 0;
}

/* One launch split over the device's worker pool by block ranges. */
struct cpu_launch {
	const struct gl_kernel *k;
	const struct gl_kargs *args;
	const struct gl_grid *grid;
	atomic_int *cancel;
	uint64_t blocks;
	unsigned parts;
	atomic_int err;		/* first failure, 0 if none */
};

static int cpu_probe(struct dev *devs, int max, uint64_t cpu_vram)
{
	struct pool *pool;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	if (max < 1)
		return 0;
	err = pool_create(&pool, n > 0 ? (unsigned)n : 1);
	if (err)
		return err;
	/* the pool owns the parallelism: each part's sgemm is one thread */
	err = gl_kernel_cpu_init(1);
	snprintf(devs[0].name, sizeof(devs[0].name), "cpu0");
	devs[0].capacity = cpu_vram;
	devs[0].priv = pool;
	if (err) {	/* its matmul cannot run: listed, capacity 0 */
		pool_destroy(pool);
		dev_set_unusable(&devs[0], "OpenBLAS: %s", gl_blas_why());
	}
	return 1;
}

static int cpu_reserve(struct dev *d, uint64_t bytes,
		       struct dev_region **out)
{
	struct cpu_region *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->map = cpu_map(bytes);
	if (!r->map) {
		err = -ENOSPC;
		goto err_free;
	}
	err = cpu_commit(r->map, bytes);
	if (err)
		goto err_unmap;
	r->base.dev = d;
	r->base.bytes = bytes;
	*out = &r->base;
	return 0;

err_unmap:
	munmap(r->map, bytes);
err_free:
	free(r);
	return err;
}

/*
 * Growing maps and commits the new size first, then moves the old pages
 * over its start (mremap moves page tables, not bytes), so a failure
 * leaves the region as it was; shrinking unmaps the tail in place.
 */
static int cpu_resize(struct dev_region *base, uint64_t bytes)
{
	struct cpu_region *r = to_cpu(base);
	uint64_t old = base->bytes;
	char *map;
	int err;

	if (bytes <= old) {
		if (bytes < old &&
		    mremap(r->map, old, bytes, 0) == MAP_FAILED)
			return -errno;
		base->bytes = bytes;
		return 0;
	}
	map = cpu_map(bytes);
	if (!map)
		return -ENOSPC;
	err = cpu_commit(map + old, bytes - old);
	if (err)
		goto err_unmap;
	if (mremap(r->map, old, old, MREMAP_MAYMOVE | MREMAP_FIXED,
		   map) == MAP_FAILED) {
		err = -ENOMEM;
		goto err_unmap;
	}
	r->map = map;
	base->bytes = bytes;
	return 0;

err_unmap:
	munmap(map, bytes);
	return err;
}

static void cpu_release(struct dev_region *base)
{
	struct cpu_region *r = to_cpu(base);

	munmap(r->map, base->bytes);
	free(r);
}

static int cpu_copy_in(struct dev_region *base, uint64_t off,
		       const void *src, size_t len)
{
	cpu_check_range(base, off, len);
	memcpy((char *)to_cpu(base)->map + off, src, len);
	return 0;
}

static int cpu_copy_out(struct dev_region *base, uint64_t off, void *dst,
			size_t len)
{
	cpu_check_range(base, off, len);
	memcpy(dst, (const char *)to_cpu(base)->map + off, len);
	return 0;
}

static int cpu_zero(struct dev_region *base, uint64_t off, uint64_t len)
{
	cpu_check_range(base, off, len);
	memset((char *)to_cpu(base)->map + off, 0, len);
	return 0;
}

static void cpu_teardown(struct dev *d)
{
	if (d->priv)	/* NULL: unusable, its pool gone at probe */
		pool_destroy(d->priv);
	d->priv = NULL;
}

static int cpu_resolve(struct dev_region *base, uint64_t off, uint64_t len,
		       void **ptr)
{
	if (base)
		cpu_check_range(base, off, len);
	*ptr = base ? (char *)to_cpu(base)->map + off : NULL;
	return 0;
}

static void cpu_part(void *arg, unsigned i)
{
	struct cpu_launch *cl = arg;
	struct gl_kctx ctx = {
		.cancel = cl->cancel,
		.block_begin = cl->blocks * i / cl->parts,
		.block_end = cl->blocks * (i + 1) / cl->parts,
	};
	int zero = 0, err;

	err = cl->k->cpu(cl->args, cl->grid, &ctx);
	if (err)
		atomic_compare_exchange_strong(&cl->err, &zero, err);
}

static int cpu_launch(struct dev *d, const struct gl_kernel *k,
		      const struct gl_kargs *args, const struct gl_grid *grid,
		      atomic_int *cancel)
{
	struct pool *pool = d->priv;
	struct cpu_launch cl;

	if (!k->cpu)
		return -EINVAL;	/* a registered kernel: device code only */
	cl = (struct cpu_launch){
		.k = k,
		.args = args,
		.grid = grid,
		.cancel = cancel,
		.blocks = (uint64_t)grid->grid.x * grid->grid.y * grid->grid.z,
		.parts = 1,
	};
	atomic_init(&cl.err, 0);
	if (cl.blocks > 1 && gl_grid_elems(grid) >= POOL_SPLIT_ELEMS) {
		uint64_t most = 4ull * (pool_threads(pool) + 1);

		cl.parts = (unsigned)(cl.blocks < most ? cl.blocks : most);
		pool_run(pool, cpu_part, &cl, cl.parts);
	} else {
		cpu_part(&cl, 0);	/* too small to split: no hand-off */
	}
	return atomic_load(&cl.err);
}

const struct dev_ops dev_cpu_ops = {
	.kind = GL_KIND_CPU,
	.probe = cpu_probe,
	.reserve = cpu_reserve,
	.resize = cpu_resize,
	.release = cpu_release,
	.copy_in = cpu_copy_in,
	.copy_out = cpu_copy_out,
	.zero = cpu_zero,
	.teardown = cpu_teardown,
	.resolve = cpu_resolve,
	.launch = cpu_launch,
};
