/* SPDX-License-Identifier: MIT */
/*
 * noop on CUDA: the empty kernel, for launch overhead. Twin:
 * kernels/noop.c.
 *
 * Invariant: touches no memory.
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void noop(void)
{
}
