/* SPDX-License-Identifier: MIT */
/*
 * embedding on CUDA: gather rows of a table by u32 token ids. Twin:
 * kernels/embedding.c.
 *
 * Invariant: an id >= vocab never reads the table; its row is zeros.
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void embedding(unsigned int n_tokens, unsigned int dim,
			 unsigned int vocab, const unsigned int *ids,
			 const float *table, float *out)
{
	GL_GRID_STRIDE(i, (unsigned long long)n_tokens * dim) {
		unsigned long long id = ids[i / dim];

		out[i] = id < vocab ? table[id * dim + i % dim] : 0.0f;
	}
}
