/* SPDX-License-Identifier: MIT */
/*
 * noop: the empty kernel, CPU twin of kernels/noop.cu. It measures the
 * cost of a launch and nothing else.
 *
 * Invariant: touches no memory; still honours the grid rules and the
 * cancel flag, so a launch of it goes through every step a real one does.
 */
#include "kernels/cpu.h"

int gl_noop_check(const struct gl_kargs *args, const struct gl_grid *grid)
{
	(void)args;
	return gl_kernel_grid_check_1d(grid);
}

int gl_noop_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		struct gl_kctx *ctx)
{
	int err = gl_noop_check(args, grid);

	return err ? err : gl_cpu_cancelled(ctx);
}
