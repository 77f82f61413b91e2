/* SPDX-License-Identifier: MIT */
/*
 * llama2.c checkpoints: the legacy header (7 int32) and the version-1
 * "ak42" header (export.py's version1_export), all weights f32. A pure
 * parser over the bytes of the whole file.
 */
#ifndef GL_MODEL_LLAMA2C_H
#define GL_MODEL_LLAMA2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L2C_MAGIC		0x616b3432u	/* "ak42" read little-endian */
#define L2C_LEGACY_HEADER	28		/* 7 x int32 */
#define L2C_V1_HEADER		256

/* Bounds on the header's fields: a file past them is EINVAL. */
#define L2C_MAX_DIM		65536
#define L2C_MAX_HIDDEN		(1 << 20)
#define L2C_MAX_LAYERS		1024
#define L2C_MAX_HEADS		1024
#define L2C_MAX_VOCAB		(1 << 24)
#define L2C_MAX_SEQ		(1 << 24)

/* Tensors in llama2.c's own (run.c) order; each is f32, row-major. */
enum l2c_tensor {
	L2C_TOKEN_EMBEDDING,	/* [vocab, dim] */
	L2C_RMS_ATT,		/* [layers, dim] */
	L2C_WQ,			/* [layers, dim (out), dim (in)] */
	L2C_WK,			/* [layers, kv_dim, dim] */
	L2C_WV,			/* [layers, kv_dim, dim] */
	L2C_WO,			/* [layers, dim, dim] */
	L2C_RMS_FFN,		/* [layers, dim] */
	L2C_W1,			/* [layers, hidden, dim] */
	L2C_W2,			/* [layers, dim, hidden] */
	L2C_W3,			/* [layers, hidden, dim] */
	L2C_RMS_FINAL,		/* [dim] */
	L2C_WCLS,		/* [vocab, dim]; token_embedding if shared */
	L2C_NTENSORS
};

struct l2c_config {
	uint32_t dim;
	uint32_t hidden_dim;
	uint32_t n_layers;
	uint32_t n_heads;
	uint32_t n_kv_heads;
	uint32_t vocab_size;	/* always positive here */
	uint32_t seq_len;
	uint32_t head_size;	/* dim / n_heads, even */
	bool shared_classifier;	/* wcls is the token embedding */
	int version;		/* 0: legacy, 1: ak42 */
};

/* Where one tensor lies in the file: byte offset and byte length. */
struct l2c_span {
	uint64_t off;
	uint64_t len;
};

struct l2c_file {
	struct l2c_config cfg;
	struct l2c_span t[L2C_NTENSORS];
};

/*
 * l2c_parse - parse the checkpoint in @buf (@len bytes, the whole file)
 * into @out. The file must hold exactly the header and the tensors its
 * header claims. Returns 0, or -EINVAL with a reason in @why (@whylen
 * bytes) for a short, long or lying file, an unknown version, zero,
 * negative or absurd fields, heads that do not divide dim or kv heads
 * that do not divide heads. Reads only inside @buf; allocates nothing.
 */
int l2c_parse(const void *buf, size_t len, struct l2c_file *out,
	      char *why, size_t whylen);

/* l2c_tensor_name - "token_embedding", ... for logs; NULL if out of range */
const char *l2c_tensor_name(enum l2c_tensor t);

#endif
