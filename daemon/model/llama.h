/* SPDX-License-Identifier: MIT */
/*
 * The Llama forward pass over one contiguous memory block (a model's
 * lease): the plan lays out weights, activations and KV cache at fixed
 * byte offsets once; a step then runs the kernels' CPU twins over that
 * block with only its arguments (tokens, slots, positions) changed.
 * Documentation/models.md, "Computation".
 */
#ifndef GL_MODEL_LLAMA_H
#define GL_MODEL_LLAMA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/llama2c.h"

/* Every region of a plan starts at a multiple of this many bytes. */
#define LLAMA_ALIGN	64u
/* Most threads a step splits over (a model's threads=). */
#define LLAMA_MAX_THREADS	16u

enum llama_rope {
	LLAMA_ROPE_PAIRS,	/* llama2.c: pairs (2i, 2i + 1) of a head */
	LLAMA_ROPE_HALF,	/* Hugging Face: j and j + head_dim / 2 */
};

struct llama_config {
	uint32_t dim;
	uint32_t hidden_dim;
	uint32_t n_layers;
	uint32_t n_heads;
	uint32_t n_kv_heads;
	uint32_t vocab_size;
	uint32_t seq_len;	/* positions the model knows */
	uint32_t head_dim;	/* dim / n_heads, even */
	float rms_eps;
	float rope_theta;
	enum llama_rope rope;
	bool shared_classifier;	/* wcls is the token embedding */
};

/*
 * A plan: byte offsets from the block's base of every region. Weights
 * are in llama2.c's tensor order (enum l2c_tensor), each layer tensor
 * stacked over layers ([layers][out][in]); q and k rows are as the file
 * has them (HF files keep HF's permutation and use rotate-half RoPE).
 */
struct llama_plan {
	struct llama_config cfg;
	uint32_t max_batch;	/* rows per step, and KV-cache slots */
	uint32_t max_ctx;	/* positions per slot, <= cfg.seq_len */
	uint64_t w[L2C_NTENSORS];	/* wcls == embedding when shared */
	uint64_t w_len[L2C_NTENSORS];	/* bytes; 0 for a shared wcls */
	/* activations, max_batch rows each */
	uint64_t x, xb, xb2;	/* [batch][dim] */
	uint64_t q;		/* [batch][dim] */
	uint64_t k, v;		/* [batch][kv_dim] */
	uint64_t hb, hb2;	/* [batch][hidden_dim] */
	uint64_t att;		/* [batch][n_heads][max_ctx] */
	uint64_t logits;	/* [batch][vocab] */
	uint64_t ids;		/* u32 [batch] */
	uint64_t k_cache, v_cache; /* [layers][slots][max_ctx][kv_dim] */
	uint64_t weight_bytes;	/* [0, weight_bytes) */
	uint64_t act_bytes;	/* then the activations */
	uint64_t kv_bytes;	/* then the KV cache (both halves) */
	uint64_t total_bytes;	/* the block's size: the sum of the three */
};

/*
 * llama_config_l2c / llama_config_hf - the computation's config of a
 * parsed llama2.c header (rms_eps 1e-5 and theta 10000 as run.c,
 * interleaved RoPE) or HF config.json (its eps and theta, rotate-half
 * RoPE). Pure; cannot fail for what the parsers accept.
 */
void llama_config_l2c(const struct l2c_config *in, struct llama_config *out);
void llama_config_hf(const struct hf_llama_config *in,
		     struct llama_config *out);

/*
 * llama_plan - lay out @c for @max_batch rows per step (and as many
 * KV-cache slots) and @max_ctx positions per slot into @p. Returns 0,
 * -EINVAL for a zero batch or context or a context over c->seq_len, or
 * -E2BIG when a size passes what the kernels' u32 counts or 64 bits
 * hold. Pure; allocates nothing.
 */
int llama_plan(const struct llama_config *c, uint32_t max_batch,
	       uint32_t max_ctx, struct llama_plan *p);

/*
 * llama_load_l2c - copy the f32 tensors of the parsed checkpoint @f (the
 * file's @len bytes at @buf) into the weight regions of @p at @base.
 * llama_load_hf - the same for the tensors @m maps in a safetensors file,
 * converting F16 and BF16 to f32. Both return 0, or -EINVAL when the
 * file's shape is not the plan's or a tensor lies outside @len.
 * @base: p->total_bytes, aligned to LLAMA_ALIGN; activations and cache
 * are not touched. Allocate nothing.
 */
int llama_load_l2c(const struct llama_plan *p, const struct l2c_file *f,
		   const void *buf, size_t len, void *base);
int llama_load_hf(const struct llama_plan *p, const struct hf_llama_map *m,
		  const void *buf, size_t len, void *base);

/*
 * llama_step - one forward step of @n rows: row r feeds token @tokens[r]
 * at position @pos[r] of KV-cache slot @slots[r], and leaves its logits
 * at llama_logits(p, base, r). Several rows of one slot at distinct
 * positions (a prompt) are fine: every row's K and V enter the cache
 * before any row attends. Positions below @pos[r] of the slot must have
 * been filled by earlier steps or rows. Each row's result does not
 * depend on the other rows (same kernels, same reduction order). @cancel
 * may be NULL. Returns 0, -EINVAL for n outside [1, max_batch], a token,
 * slot or position out of range or a (slot, position) given twice, or
 * the cancel errno (-ECANCELED, -ETIMEDOUT, -EKEYEXPIRED). Allocates
 * nothing; not thread-safe on one @base.
 */
int llama_step(const struct llama_plan *p, void *base, uint32_t n,
	       const uint32_t *tokens, const uint32_t *slots,
	       const uint32_t *pos, atomic_int *cancel);

struct team;

/*
 * llama_step_team - llama_step() with each matrix-vector product split
 * by output columns over the threads of @team (daemon/model/team.h;
 * NULL: the calling thread alone). The logits are the same bits for
 * every thread count. One step at a time per @team.
 */
int llama_step_team(const struct llama_plan *p, void *base, struct team *team,
		    uint32_t n, const uint32_t *tokens, const uint32_t *slots,
		    const uint32_t *pos, atomic_int *cancel);

struct dev;
struct dev_region;

/*
 * llama_step_dev - llama_step_team() on device @dev (NULL: the host's
 * CPU twins): @base is @region's address on the device (its resolve()),
 * every kernel a launch there (GL_KARGS_ROWS_ALONE: a row's bits do not
 * depend on its batch), the tokens copied in; @team is not used on a
 * device. The launches are only queued (kc_dev_run()): the caller waits
 * for them with kc_dev_wait(), also after an error, before it reads
 * the logits, which stay in the device's memory, at p->logits.
 */
int llama_step_dev(const struct llama_plan *p, void *base, struct team *team,
		   struct dev *dev, struct dev_region *region, uint32_t n,
		   const uint32_t *tokens, const uint32_t *slots,
		   const uint32_t *pos, atomic_int *cancel);

/* llama_logits - row @r's logits (vocab floats) after a step. */
static inline float *llama_logits(const struct llama_plan *p, void *base,
				  uint32_t r)
{
	return (float *)((char *)base + p->logits) +
	       (uint64_t)r * p->cfg.vocab_size;
}

#endif
