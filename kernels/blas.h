/* SPDX-License-Identifier: MIT */
/*
 * OpenBLAS through dlopen (blas.c): the three entry points the CPU
 * kernels call, resolved once on first use.
 */
#ifndef GL_KERNELS_BLAS_H
#define GL_KERNELS_BLAS_H

#include <cblas.h>

struct gl_blas {
	__typeof__(cblas_sgemm) *sgemm;
	__typeof__(cblas_sgemv) *sgemv;
	__typeof__(openblas_set_num_threads) *set_num_threads;
};

/*
 * gl_blas - OpenBLAS's entry points, loading the library on the first
 * call (any thread): libopenblas.so.0, or $GL_LIBBLAS where set (tests);
 * NULL when it cannot be loaded, gl_blas_why() then says why.
 */
const struct gl_blas *gl_blas(void);

/* gl_blas_why - why gl_blas() is NULL: dlerror()'s words, or "" */
const char *gl_blas_why(void);

#endif
