/* SPDX-License-Identifier: MIT */
/*
 * gpulease model ABI: the binary form of a request written to
 * models/NAME/infer and of its answer, for tensor-in, tensor-out models
 * (gpulease-mlp). A request is one gl_infer_tensor header followed by
 * rows * cols little-endian f32 values, row-major, in one write; the
 * answer read back is one header (rows, cols = the model's outputs)
 * followed by its values. Documentation/models.md, "The binary form".
 *
 * Invariant: fixed-width fields, reserved fields zero; the size and
 * offsets are checked below and never change once shipped. Compiles
 * alone in C and C++.
 */
#ifndef GPULEASE_UAPI_MODEL_H
#define GPULEASE_UAPI_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* "GLT1" as little-endian bytes: the first word of a binary request. */
#define GL_INFER_MAGIC		0x31544c47u
#define GL_INFER_F32		1u	/* the one dtype */

struct gl_infer_tensor {
	uint32_t magic;		/* GL_INFER_MAGIC */
	uint32_t dtype;		/* GL_INFER_F32 */
	uint32_t rows;		/* 1 .. the model's max_batch */
	uint32_t cols;		/* the model's inputs (request) or
				 * outputs (answer) */
	uint64_t reserved[2];	/* zero */
};

#ifdef __cplusplus
static_assert(sizeof(gl_infer_tensor) == 32, "gl_infer_tensor size");
#else
_Static_assert(sizeof(struct gl_infer_tensor) == 32,
	       "gl_infer_tensor size");
_Static_assert(offsetof(struct gl_infer_tensor, rows) == 8,
	       "gl_infer_tensor rows");
_Static_assert(offsetof(struct gl_infer_tensor, reserved) == 16,
	       "gl_infer_tensor reserved");
#endif

#endif
