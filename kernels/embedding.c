/* SPDX-License-Identifier: MIT */
/*
 * embedding: gather rows of a table by u32 token ids. CPU twin of
 * kernels/embedding.cu.
 *
 * Invariant: an id >= vocab never reads the table: its output row is
 * zeros, on both backends (a kernel on the device cannot fail a launch,
 * so neither does its twin).
 */
#include "kernels/cpu.h"

struct embedding {
	uint64_t dim, vocab;
	const uint32_t *ids;
	const float *table;
	float *out;
};

static void embedding_thread(const void *arg, uint64_t i)
{
	const struct embedding *e = arg;
	uint64_t id = e->ids[i / e->dim];

	e->out[i] = id < e->vocab ? e->table[id * e->dim + i % e->dim] : 0.0f;
}

/* embedding(u32 n_tokens, u32 dim, u32 vocab, buf ids, buf table, buf out) */
int gl_embedding_check(const struct gl_kargs *args,
		       const struct gl_grid *grid)
{
	uint64_t n_tokens = GL_ARG_U32(args, 0), dim = GL_ARG_U32(args, 1);
	uint64_t vocab = GL_ARG_U32(args, 2);
	int err;

	err = gl_kernel_grid_check_1d(grid);
	if (err)
		return err;
	err = gl_cpu_need(args, 3, n_tokens, sizeof(uint32_t));
	if (err)
		return err;
	err = gl_cpu_need_f32_3(args, 4, vocab, dim, 1);
	if (err)
		return err;
	return gl_cpu_need_f32_3(args, 5, n_tokens, dim, 1);
}

int gl_embedding_cpu(const struct gl_kargs *args, const struct gl_grid *grid,
		     struct gl_kctx *ctx)
{
	struct embedding e = {
		.dim = GL_ARG_U32(args, 1),
		.vocab = GL_ARG_U32(args, 2),
		.ids = GL_ARG_PTR(args, 3),
		.table = GL_ARG_PTR(args, 4),
		.out = GL_ARG_PTR(args, 5),
	};
	uint64_t n = (uint64_t)GL_ARG_U32(args, 0) * e.dim;
	int err = gl_embedding_check(args, grid);

	return err ? err : gl_cpu_1d(grid, ctx, n, embedding_thread, &e);
}
