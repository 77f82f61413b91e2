/* SPDX-License-Identifier: MIT */
/*
 * The gpulease-mlp computation over one block: dense layers, each
 * y = act(x W^T + b), rows batched. The plan places weights, biases and
 * two activation buffers at fixed offsets; a forward pass reads its input
 * rows from the block and leaves its output rows there.
 * Documentation/models.md, "Computation".
 */
#ifndef GL_MODEL_MLP_H
#define GL_MODEL_MLP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/model/hfconfig.h"

struct mlp_plan {
	struct hf_mlp_config cfg;
	uint32_t max_batch;		/* rows per pass */
	uint32_t width;			/* the widest in or out */
	uint64_t w[HF_MLP_MAX_LAYERS];	/* [out][in] f32 */
	uint64_t b[HF_MLP_MAX_LAYERS];	/* [out] f32 */
	uint64_t buf[2];		/* [max_batch][width] each */
	uint64_t weight_bytes;
	uint64_t act_bytes;
	uint64_t total_bytes;		/* weight_bytes + act_bytes */
};

/*
 * mlp_plan - lay out @c for @max_batch rows into @p. Returns 0, -EINVAL
 * for a zero batch or an empty or unchained config, -E2BIG when a size
 * passes the kernels' u32 counts. Pure.
 */
int mlp_plan(const struct hf_mlp_config *c, uint32_t max_batch,
	     struct mlp_plan *p);

/*
 * mlp_load - the tensors @m maps in the safetensors file at @buf (@len
 * bytes) into @p's weight regions at @base (p->total_bytes, 64-aligned),
 * F16 and BF16 converted. Returns 0 or -EINVAL (a shape that is not the
 * plan's, bytes outside the file); writes nothing on failure.
 */
int mlp_load(const struct mlp_plan *p, const struct hf_mlp_map *m,
	     const void *buf, size_t len, void *base);

/* mlp_input - where the input rows go: [rows][layer 0's in] floats. */
float *mlp_input(const struct mlp_plan *p, void *base);

/* mlp_output - where a pass leaves its rows: [rows][last layer's out];
 * mlp_output_off - that place's offset in the block. */
float *mlp_output(const struct mlp_plan *p, void *base);
uint64_t mlp_output_off(const struct mlp_plan *p);

/*
 * mlp_forward - run every layer over the first @rows input rows: on the
 * kernels' CPU twins when @d is NULL (@base is host memory), else as
 * launches queued on device @d (@base is its address of the plan's
 * block; the caller waits for them, kc_dev_wait(), also after an error,
 * before it reads the output). Row
 * r's result depends on row r alone (same kernels and order whatever
 * @rows; GL_KARGS_ROWS_ALONE on a device). Returns 0, -EINVAL for rows
 * outside [1, max_batch], -EIO (a device's), or the cancel errno.
 * Allocates nothing; not thread-safe on one @base.
 */
struct dev;
int mlp_forward(const struct mlp_plan *p, void *base, uint32_t rows,
		struct dev *d,
		atomic_int *cancel);

/*
 * mlp_forward_team - mlp_forward() with each layer's product split by
 * output columns over @team's threads on the CPU twins (@team NULL: the
 * calling thread alone; ignored with a device @d): the same bits on any
 * number of threads. One caller at a time per @team.
 */
struct team;
int mlp_forward_team(const struct mlp_plan *p, void *base, struct team *team,
		     uint32_t rows, struct dev *d, atomic_int *cancel);

#endif
