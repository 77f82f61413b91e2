/* SPDX-License-Identifier: MIT */
/*
 * CPU twin helpers: argument access, buffer length checks and the block
 * walk every twin shares. Private to the twins (kernels/NAME.c).
 *
 * Invariant: a twin reads or writes a buffer only after gl_cpu_need()
 * said it holds the elements its indices can reach, and it looks at the
 * cancel flag before every block it runs and every GL_CPU_CANCEL_EVERY
 * elements inside one, so a launch stops within milliseconds whatever
 * its shape (grid=1 block=1 is one block doing all the work).
 */
#ifndef GL_KERNELS_CPU_H
#define GL_KERNELS_CPU_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define GL_ARG_U32(a, i)	((a)->v[i].u32)
#define GL_ARG_U64(a, i)	((a)->v[i].u64)
#define GL_ARG_F32(a, i)	((a)->v[i].f32)
#define GL_ARG_PTR(a, i)	((a)->v[i].buf.ptr)

/*
 * gl_cpu_need - whether argument @i holds @count elements of @size
 * bytes, at an address aligned to @size. Returns 0, -EINVAL for a
 * misaligned buffer (on a GPU a misaligned load is a sticky fault that
 * kills the whole context), or -EFAULT (also when the byte count
 * overflows). Lease memory and io regions start page-aligned on both
 * devices, so the address is aligned exactly when the client's offset is.
 */
static inline int gl_cpu_need(const struct gl_kargs *a, unsigned int i,
			      uint64_t count, uint64_t size)
{
	uint64_t bytes;

	if ((uintptr_t)a->v[i].buf.ptr % size)
		return -EINVAL;
	if (__builtin_mul_overflow(count, size, &bytes))
		return -EFAULT;
	if (bytes > a->v[i].buf.len)
		return -EFAULT;
	if (bytes && !a->v[i].buf.ptr)
		return -EFAULT;
	return 0;
}

/* gl_cpu_need_f32 - gl_cpu_need() for @count floats. */
static inline int gl_cpu_need_f32(const struct gl_kargs *a, unsigned int i,
				  uint64_t count)
{
	return gl_cpu_need(a, i, count, sizeof(float));
}

/*
 * gl_cpu_need_f32_3 - gl_cpu_need_f32() for @x * @y * @z floats (1 for
 * an unused factor). Returns 0 or -EFAULT, also when the product wraps
 * 64 bits: a wrapped count would vouch for a short (even empty) buffer.
 */
static inline int gl_cpu_need_f32_3(const struct gl_kargs *a, unsigned int i,
				    uint64_t x, uint64_t y, uint64_t z)
{
	uint64_t count;

	if (__builtin_mul_overflow(x, y, &count) ||
	    __builtin_mul_overflow(count, z, &count))
		return -EFAULT;
	return gl_cpu_need_f32(a, i, count);
}

/* gl_cpu_cancelled - 0, or the negative errno stored in the cancel flag. */
static inline int gl_cpu_cancelled(const struct gl_kctx *ctx)
{
	int v;

	if (!ctx->cancel)
		return 0;
	v = atomic_load_explicit(ctx->cancel, memory_order_relaxed);
	return v > 0 ? -v : 0;
}

/* Elements a 1-D worker computes between two looks at the cancel flag:
 * a relaxed load per this many is free, and even the costliest element
 * (an attention score of a long head) keeps the gap well under 1 ms. */
#define GL_CPU_CANCEL_EVERY 256

/* gl_cpu_blocks - linear block count of the grid. */
static inline uint64_t gl_cpu_blocks(const struct gl_grid *g)
{
	return (uint64_t)g->grid.x * g->grid.y * g->grid.z;
}

/* gl_cpu_block_end - this worker's end block, clamped to the grid. */
static inline uint64_t gl_cpu_block_end(const struct gl_kctx *ctx,
					const struct gl_grid *g)
{
	uint64_t n = gl_cpu_blocks(g);

	return ctx->block_end < n ? ctx->block_end : n;
}

/* gl_cpu_whole - whether this worker runs every block of @g (a model's
 * step runs a kernel so): a path that computes several elements side by
 * side, or shares work between them, may then take the grid whole. */
static inline bool gl_cpu_whole(const struct gl_grid *g,
				const struct gl_kctx *ctx)
{
	return !ctx->block_begin &&
	       gl_cpu_block_end(ctx, g) == gl_cpu_blocks(g);
}

/*
 * gl_cpu_1d - run @body(@arg, i) for every i < @n owned by the threads of
 * this worker's blocks under a 1-D grid-stride loop: thread t of block b
 * takes i = b * block.x + t, then steps by grid.x * block.x. The same
 * loop as GL_GRID_STRIDE in kernels/cuda.cuh. Returns 0 or the cancel
 * errno, looked at before each block and every GL_CPU_CANCEL_EVERY
 * elements.
 */
static inline int gl_cpu_1d(const struct gl_grid *g, struct gl_kctx *ctx,
			    uint64_t n, void (*body)(const void *, uint64_t),
			    const void *arg)
{
	uint64_t bx = g->block.x, stride = (uint64_t)g->grid.x * bx;
	uint64_t end = gl_cpu_block_end(ctx, g);
	uint64_t b, t, i;
	uint64_t left = GL_CPU_CANCEL_EVERY;
	int err;

	if (stride >= n) {
		/* one pass: block b owns [b * bx, (b + 1) * bx) of @n, run
		 * in tight stretches between two looks at the flag */
		for (b = ctx->block_begin; b < end; b++) {
			uint64_t lo = b * bx, hi = lo + bx < n ? lo + bx : n;

			err = gl_cpu_cancelled(ctx);
			if (err)
				return err;
			while (lo < hi) {
				uint64_t stop = hi - lo > left ? lo + left : hi;

				left -= stop - lo;
				for (i = lo; i < stop; i++)
					body(arg, i);
				lo = stop;
				if (left)
					continue;
				left = GL_CPU_CANCEL_EVERY;
				err = gl_cpu_cancelled(ctx);
				if (err)
					return err;
			}
		}
		return 0;
	}
	for (b = ctx->block_begin; b < end; b++) {
		err = gl_cpu_cancelled(ctx);
		if (err)
			return err;
		for (t = 0; t < bx; t++) {
			for (i = b * bx + t; i < n; i += stride) {
				body(arg, i);
				if (--left)
					continue;
				left = GL_CPU_CANCEL_EVERY;
				err = gl_cpu_cancelled(ctx);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

/*
 * gl_cpu_rows - run @row_fn(@arg, r, block.x) for every row r < @rows
 * owned by this worker's blocks: block b takes rows b, b + grid.x, ...
 * (one block per row, as the CUDA row kernels). Returns 0 or the cancel
 * errno.
 */
static inline int gl_cpu_rows(const struct gl_grid *g, struct gl_kctx *ctx,
			      uint64_t rows,
			      void (*row_fn)(const void *, uint64_t, uint32_t),
			      const void *arg)
{
	uint64_t end = gl_cpu_block_end(ctx, g);
	uint64_t b, r;
	int err;

	for (b = ctx->block_begin; b < end; b++) {
		for (r = b; r < rows; r += g->grid.x) {
			err = gl_cpu_cancelled(ctx);
			if (err)
				return err;
			row_fn(arg, r, g->block.x);
		}
	}
	return 0;
}

/*
 * gl_cpu_tree_sum - sum @part[0..n) in the order gl_block_sum() in
 * kernels/cuda.cuh adds them, so both backends round alike.
 */
static inline float gl_cpu_tree_sum(float *part, uint32_t n)
{
	uint32_t half, t;

	if (!n)
		return 0.0f;
	while (n > 1) {
		half = (n + 1) / 2;
		for (t = 0; t < n - half; t++)
			part[t] += part[t + half];
		n = half;
	}
	return part[0];
}

/* gl_cpu_tree_max - as gl_cpu_tree_sum(), for gl_block_max(). */
static inline float gl_cpu_tree_max(float *part, uint32_t n)
{
	uint32_t half, t;

	if (!n)
		return 0.0f;
	while (n > 1) {
		half = (n + 1) / 2;
		for (t = 0; t < n - half; t++)
			part[t] = fmaxf(part[t], part[t + half]);
		n = half;
	}
	return part[0];
}

#endif /* GL_KERNELS_CPU_H */
