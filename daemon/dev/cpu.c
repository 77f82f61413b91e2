/* SPDX-License-Identifier: MIT */
/*
 * The CPU device: each region is one memfd of exactly its size, committed
 * up front with fallocate() so a reservation is real memory, and mapped
 * shared into the daemon. Capacity is enforced by accounting above us.
 *
 * Invariant: a live cpu_region always has fd >= 0, map != NULL and
 * base.bytes == the memfd's size == the mapping's length.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "daemon/dev/pool.h"
#include "kernels/blas.h"
#include "uapi/gpulease.h"

struct cpu_region {
	struct dev_region base;
	int fd;		/* memfd, owned */
	void *map;	/* MAP_SHARED of fd, base.bytes long */
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

/* Map fallocate's view of "no memory" onto the device's ENOSPC. */
static int cpu_commit(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, 0, (off_t)off, (off_t)len) == 0)
		return 0;
	return (errno == ENOSPC || errno == ENOMEM) ? -ENOSPC : -errno;
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
	r->fd = memfd_create("gpulease", MFD_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		goto err_free;
	}
	if (ftruncate(r->fd, (off_t)bytes)) {
		err = -errno;
		goto err_close;
	}
	err = cpu_commit(r->fd, 0, bytes);
	if (err)
		goto err_close;
	r->map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		      0);
	if (r->map == MAP_FAILED) {
		err = -ENOMEM;
		goto err_close;
	}
	r->base.dev = d;
	r->base.bytes = bytes;
	*out = &r->base;
	return 0;

err_close:
	close(r->fd);
err_free:
	free(r);
	return err;
}

static int cpu_resize(struct dev_region *base, uint64_t bytes)
{
	struct cpu_region *r = to_cpu(base);
	uint64_t old = base->bytes;
	void *map;
	int err;

	if (bytes > old) {
		if (ftruncate(r->fd, (off_t)bytes))
			return -errno;
		err = cpu_commit(r->fd, old, bytes - old);
		if (err)
			goto err_shrink;
	}
	map = mremap(r->map, old, bytes, MREMAP_MAYMOVE);
	if (map == MAP_FAILED) {
		err = -ENOMEM;
		goto err_shrink;
	}
	r->map = map;
	/*
	 * Shrinking an unsealed memfd cannot fail; if it ever did, the tail
	 * pages would stay allocated but unreachable until the next resize or
	 * the release, which frees them; the region itself is consistent.
	 */
	if (bytes < old)
		(void)!ftruncate(r->fd, (off_t)bytes);
	base->bytes = bytes;
	return 0;

err_shrink:
	if (bytes > old && ftruncate(r->fd, (off_t)old))
		return -EIO;
	return err;
}

static void cpu_release(struct dev_region *base)
{
	struct cpu_region *r = to_cpu(base);

	munmap(r->map, base->bytes);
	close(r->fd);
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
