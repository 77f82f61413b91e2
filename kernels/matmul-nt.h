/* SPDX-License-Identifier: MIT */
/*
 * matmul-nt: rows of A against a B stored n x k (a linear layer's
 * x W^T) on the CPU, each element of C in an order fixed by k alone
 * (kernels/matmul-nt.c), so a row of C has the same bits whatever else
 * is computed with it: the models' batch invariance.
 */
#ifndef GL_KERNELS_MATMUL_NT_H
#define GL_KERNELS_MATMUL_NT_H

#include <stdint.h>

/* The shape of one product: C[m][n] = alpha A[m][k] . B[n][k]^T
 * (+ beta C unless beta is 0, when C is never read), rows @lda, @ldb
 * and @ldc floats apart. */
struct gl_nt {
	uint64_t m, n, k;
	uint64_t lda, ldb, ldc;
	float alpha, beta;
};

/*
 * gl_matmul_nt - the product @p of A at @a and B at @b into C at @c.
 * Each element's bits depend on its row of A, its row of B, k, alpha and
 * beta (and C's old value) alone, never on m, n or the row's place; one
 * copy (AVX2/FMA where the CPU has both, else portable C) serves a
 * process throughout, and the two copies' bits may differ. k >= 1. Any
 * thread.
 */
void gl_matmul_nt(const struct gl_nt *p, const float *a, const float *b,
		  float *c);

#endif
