/* SPDX-License-Identifier: MIT */
/*
 * gpulease model ABI: the binary forms of a request written to
 * models/NAME/infer and of its answer. A tensor-in, tensor-out model
 * (gpulease-mlp) takes one gl_infer_tensor header followed by rows * cols
 * little-endian f32 values, row-major, in one write; the answer read back
 * is one header (rows, cols = the model's outputs) followed by its
 * values. A language model takes one gl_infer_ids header followed by
 * n_ids little-endian u32 token ids; its answer is the generated ids,
 * u32 each, streamed as they are made, after one gl_infer_served header
 * when the request's flags ask for it (GL_INFER_SERVED_BY).
 * Documentation/models.md, "The binary form".
 *
 * deadline_ms took the first half of what was reserved[0] (zero, which
 * still means "the model's default"): admission control, models.md.
 * GL_INFER_SERVED_BY and struct gl_infer_served came later, opt-in: a
 * request without the flag gets the answer it always got.
 * Invariant: fixed-width fields, reserved fields zero; the sizes and
 * offsets are checked below and never change once shipped. Compiles
 * alone in C and C++.
 */
#ifndef GPULEASE_UAPI_MODEL_H
#define GPULEASE_UAPI_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* "GLT1" as little-endian bytes: the first word of a tensor request. */
#define GL_INFER_MAGIC		0x31544c47u
#define GL_INFER_F32		1u	/* the one dtype */

struct gl_infer_tensor {
	uint32_t magic;		/* GL_INFER_MAGIC */
	uint32_t dtype;		/* GL_INFER_F32 */
	uint32_t rows;		/* 1 .. the model's max_batch */
	uint32_t cols;		/* the model's inputs (request) or
				 * outputs (answer) */
	uint32_t deadline_ms;	/* request: ms from the write it must end
				 * within, 0: the model's deadline_ms;
				 * answer: 0 */
	uint32_t reserved;	/* zero */
	uint64_t served_by;	/* request: zero; answer: the id (its
				 * ctl's "id") of the model that served
				 * it for the one asked, its fallback=;
				 * 0 when the one asked did */
};

/* "GLI1" as little-endian bytes: the first word of a token-id request. */
#define GL_INFER_IDS_MAGIC	0x31494c47u

/* gl_infer_ids.flags: BOS (1) or EOS (2) ends the answer, unsent. */
#define GL_INFER_STOP_EOS	0x1u
/* gl_infer_ids.flags: the answer opens with a struct gl_infer_served. */
#define GL_INFER_SERVED_BY	0x2u

struct gl_infer_ids {
	uint32_t magic;		/* GL_INFER_IDS_MAGIC */
	uint32_t n_ids;		/* prompt ids after the header:
				 * 1 .. the model's max_ctx - 1 */
	uint32_t max_tokens;	/* ids to make: 1 .. max_ctx, cut to the
				 * positions the prompt leaves */
	float temperature;	/* 0 (greedy) .. 100, IEEE-754 binary32 */
	float top_p;		/* (0, 1]; 1: the whole distribution */
	uint32_t flags;		/* GL_INFER_STOP_EOS, GL_INFER_SERVED_BY;
				 * other bits zero */
	uint64_t seed;		/* any value, 0 included */
	uint32_t deadline_ms;	/* ms from the write it must end within,
				 * 0: the model's deadline_ms */
	uint32_t reserved0;	/* zero */
	uint64_t reserved[1];	/* zero */
};

/* "GLS1" as little-endian bytes: the first word of a token-id answer
 * to a request with GL_INFER_SERVED_BY; its ids follow. */
#define GL_INFER_SERVED_MAGIC	0x31534c47u

struct gl_infer_served {
	uint32_t magic;		/* GL_INFER_SERVED_MAGIC */
	uint32_t reserved;	/* zero */
	uint64_t served_by;	/* as gl_infer_tensor.served_by: the id of
				 * the model that served it for the one
				 * asked (its fallback=); 0 when the one
				 * asked did */
};

#ifdef __cplusplus
#define GL_MODEL_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define GL_MODEL_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

GL_MODEL_ASSERT(sizeof(struct gl_infer_tensor) == 32, "gl_infer_tensor size");
GL_MODEL_ASSERT(offsetof(struct gl_infer_tensor, rows) == 8,
		"gl_infer_tensor rows");
GL_MODEL_ASSERT(offsetof(struct gl_infer_tensor, deadline_ms) == 16,
		"gl_infer_tensor deadline_ms");
GL_MODEL_ASSERT(offsetof(struct gl_infer_tensor, reserved) == 20,
		"gl_infer_tensor reserved");
GL_MODEL_ASSERT(offsetof(struct gl_infer_tensor, served_by) == 24,
		"gl_infer_tensor served_by");

GL_MODEL_ASSERT(sizeof(float) == 4, "float is binary32");
GL_MODEL_ASSERT(sizeof(struct gl_infer_ids) == 48, "gl_infer_ids size");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, n_ids) == 4,
		"gl_infer_ids n_ids");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, max_tokens) == 8,
		"gl_infer_ids max_tokens");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, temperature) == 12,
		"gl_infer_ids temperature");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, top_p) == 16,
		"gl_infer_ids top_p");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, flags) == 20,
		"gl_infer_ids flags");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, seed) == 24,
		"gl_infer_ids seed");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, deadline_ms) == 32,
		"gl_infer_ids deadline_ms");
GL_MODEL_ASSERT(offsetof(struct gl_infer_ids, reserved) == 40,
		"gl_infer_ids reserved");

GL_MODEL_ASSERT(sizeof(struct gl_infer_served) == 16,
		"gl_infer_served size: whole u32 ids after it");
GL_MODEL_ASSERT(offsetof(struct gl_infer_served, reserved) == 4,
		"gl_infer_served reserved");
GL_MODEL_ASSERT(offsetof(struct gl_infer_served, served_by) == 8,
		"gl_infer_served served_by");

#endif
