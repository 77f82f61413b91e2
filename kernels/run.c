/* SPDX-License-Identifier: MIT */
/*
 * Kernel table and single-threaded CPU runs: the built-in kernels by id
 * and by name, the grid rules they share, and a helper that runs one
 * CPU twin over a whole grid (tests, and the unit a worker pool splits).
 *
 * Invariant: the table is GL_KERNELS() expanded once, read-only, in id
 * order, so gl_kernel_get(id)->id == id and names are unique.
 */
#include <string.h>

#include "kernels/blas.h"
#include "kernels/cpu.h"

static const struct gl_kernel kernel_table[GL_K_COUNT] = {
#define KERNEL_ROW(kname, ksig, kblock)					\
	[GL_K_##kname] = {						\
		.id = GL_K_##kname,					\
		.name = #kname,						\
		.sig = ksig,						\
		.block = kblock,					\
		.check = gl_##kname##_check,				\
		.cpu = gl_##kname##_cpu,				\
	},
	GL_KERNELS(KERNEL_ROW)
#undef KERNEL_ROW
};

const struct gl_kernel *gl_kernel_get(unsigned int id)
{
	return id < GL_K_COUNT ? &kernel_table[id] : NULL;
}

const struct gl_kernel *gl_kernel_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < GL_K_COUNT; i++)
		if (!strcmp(kernel_table[i].name, name))
			return &kernel_table[i];
	return NULL;
}

int gl_kernel_cpu_init(unsigned int blas_threads)
{
	const struct gl_blas *b = gl_blas();

	if (!b)
		return -ELIBACC;
	b->set_num_threads(blas_threads ? (int)blas_threads : 1);
	return 0;
}

int gl_kernel_grid_check_1d(const struct gl_grid *grid)
{
	const struct gl_dim3 *g = &grid->grid, *b = &grid->block;

	if (!g->x || g->y != 1 || g->z != 1 || g->x > GL_GRID_X_MAX)
		return -EINVAL;
	if (!b->x || b->y != 1 || b->z != 1 || b->x > GL_BLOCK_THREADS_MAX)
		return -EINVAL;
	return 0;
}

int gl_kernel_run_cpu(const struct gl_kernel *k, const struct gl_kargs *args,
		      const struct gl_grid *grid, atomic_int *cancel)
{
	struct gl_kctx ctx = {
		.cancel = cancel,
		.block_begin = 0,
		.block_end = gl_cpu_blocks(grid),
	};
	struct gl_ksig sig;
	int err;

	err = gl_ksig_parse(k->sig, &sig);
	if (err)
		return err;
	err = gl_ksig_match(&sig, args);
	if (err)
		return err;
	return k->cpu(args, grid, &ctx);
}

int gl_kernel_run_cpu_name(const char *name, const struct gl_kargs *args,
			   const struct gl_grid *grid, atomic_int *cancel)
{
	const struct gl_kernel *k = gl_kernel_find(name);

	if (!k)
		return -ENOENT;
	return gl_kernel_run_cpu(k, args, grid, cancel);
}
