/* SPDX-License-Identifier: MIT */
/*
 * The tail of the one CUDA translation unit kernels/kernels.mk generates
 * (every kernels/NAME.cu #included, then this file): it checks that
 * every kernel of GL_KERNELS() was defined by one of them.
 *
 * Invariant: the build of the fatbin fails when a listed kernel has no
 * CUDA body; a .cu kernel missing from the list has no CPU twin and no
 * table row, and is never launched.
 */
#ifndef GL_KERNELS_ALL_CUH
#define GL_KERNELS_ALL_CUH

#include "kernels/kernels.h"

#define GL_KERNEL_DEFINED(name, sig, block)				\
	static_assert(sizeof(&name) != 0,				\
		      #name " is in GL_KERNELS() but has no CUDA body");
GL_KERNELS(GL_KERNEL_DEFINED)
#undef GL_KERNEL_DEFINED

#endif /* GL_KERNELS_ALL_CUH */
