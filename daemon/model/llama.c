/* SPDX-License-Identifier: MIT */
/*
 * The Llama computation: a plan (every region of weights, activations and
 * KV cache at a fixed byte offset of one block) and a step (one forward
 * pass of a batch of rows over that block through the kernels' CPU
 * twins): embedding, per layer RMSNorm, q/k/v projections, RoPE in the
 * file's convention, grouped-query attention over the slot's cache, the
 * output projection and residual, RMSNorm, SwiGLU and residual; then the
 * final RMSNorm and the classifier.
 *
 * Invariant: a step touches only the block, inside the plan's regions
 * (every kernel gets its region's length and checks it), allocates
 * nothing, and computes row r from row r's inputs and the cache alone:
 * row-wise kernels, and per-row attention over the row's own slot. Each
 * projection is one matmul launch over all the step's rows (each weight
 * read once per step, not once per row); the matmul kernel computes
 * every output element on its own in an order fixed by k
 * (kernels/matmul.c), so a row gets the same bits in a step of any size
 * (batch invariance). With a team (threads=), each product is split by
 * output columns over its threads, and RoPE with the cache's copies,
 * then attention, by rows, so the bits do not depend on the thread
 * count either.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "daemon/model/kcall.h"
#include "daemon/model/llama.h"
#include "daemon/model/team.h"
#include "kernels/cpu.h"

/* The block size of the row kernels: their default, so a launch chain on
 * a GPU reduces in the same order. */
#define LLAMA_BLOCK	256u

void llama_config_l2c(const struct l2c_config *in, struct llama_config *out)
{
	memset(out, 0, sizeof(*out));
	out->dim = in->dim;
	out->hidden_dim = in->hidden_dim;
	out->n_layers = in->n_layers;
	out->n_heads = in->n_heads;
	out->n_kv_heads = in->n_kv_heads;
	out->vocab_size = in->vocab_size;
	out->seq_len = in->seq_len;
	out->head_dim = in->head_size;
	out->rms_eps = 1e-5f;
	out->rope_theta = 10000.0f;
	out->rope = LLAMA_ROPE_PAIRS;
	out->shared_classifier = in->shared_classifier;
}

void llama_config_hf(const struct hf_llama_config *in,
		     struct llama_config *out)
{
	memset(out, 0, sizeof(*out));
	out->dim = in->hidden_size;
	out->hidden_dim = in->intermediate_size;
	out->n_layers = in->n_layers;
	out->n_heads = in->n_heads;
	out->n_kv_heads = in->n_kv_heads;
	out->vocab_size = in->vocab_size;
	out->seq_len = in->max_pos;
	out->head_dim = in->head_dim;
	out->rms_eps = (float)in->rms_norm_eps;
	out->rope_theta = (float)in->rope_theta;
	out->rope = LLAMA_ROPE_HALF;
	out->shared_classifier = in->tie_word_embeddings;
}

/* The layout being built: a cursor and an overflow flag. */
struct layout {
	uint64_t at;
	bool bad;
};

/* region - reserve @a * @b * @c elements of @size bytes; its offset */
static uint64_t region(struct layout *l, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t size)
{
	uint64_t n, off;

	if (__builtin_mul_overflow(a, b, &n) ||
	    __builtin_mul_overflow(n, c, &n) ||
	    __builtin_mul_overflow(n, size, &n) ||
	    __builtin_add_overflow(l->at, LLAMA_ALIGN - 1, &off)) {
		l->bad = true;
		return 0;
	}
	off &= ~(uint64_t)(LLAMA_ALIGN - 1);
	if (__builtin_add_overflow(off, n, &l->at))
		l->bad = true;
	return off;
}

/* align - move the cursor to the next region boundary */
static void align(struct layout *l)
{
	if (l->at > UINT64_MAX - LLAMA_ALIGN)
		l->bad = true;
	else
		l->at = (l->at + LLAMA_ALIGN - 1) &
			~(uint64_t)(LLAMA_ALIGN - 1);
}

/* Elements one layer of each stacked tensor holds ([out][in]). */
static void layer_shape(const struct llama_config *c, enum l2c_tensor t,
			uint64_t *rows, uint64_t *cols)
{
	uint64_t kv = (uint64_t)c->n_kv_heads * c->head_dim;

	*cols = c->dim;
	switch (t) {
	case L2C_TOKEN_EMBEDDING:
	case L2C_WCLS:
		*rows = c->vocab_size;
		return;
	case L2C_RMS_ATT:
	case L2C_RMS_FFN:
	case L2C_RMS_FINAL:
		*rows = 1;
		return;
	case L2C_WK:
	case L2C_WV:
		*rows = kv;
		return;
	case L2C_W1:
	case L2C_W3:
		*rows = c->hidden_dim;
		return;
	case L2C_W2:
		*rows = c->dim;
		*cols = c->hidden_dim;
		return;
	default:		/* wq, wo */
		*rows = c->dim;
		return;
	}
}

/* layer_count - layers tensor @t is stacked over (1 for global ones) */
static uint64_t layer_count(const struct llama_config *c, enum l2c_tensor t)
{
	if (t == L2C_TOKEN_EMBEDDING || t == L2C_RMS_FINAL || t == L2C_WCLS)
		return 1;
	return c->n_layers;
}

int llama_plan(const struct llama_config *c, uint32_t max_batch,
	       uint32_t max_ctx, struct llama_plan *p)
{
	uint64_t b = max_batch, kv, rows, cols, att;
	struct layout l = { 0, false };
	int t;

	memset(p, 0, sizeof(*p));
	if (!max_batch || !max_ctx || max_ctx > c->seq_len || !c->dim ||
	    !c->hidden_dim || !c->n_layers || !c->vocab_size ||
	    !c->head_dim || c->head_dim % 2 || !c->n_kv_heads ||
	    c->n_heads % c->n_kv_heads ||
	    (uint64_t)c->n_heads * c->head_dim != c->dim)
		return -EINVAL;
	p->cfg = *c;
	p->max_batch = max_batch;
	p->max_ctx = max_ctx;
	kv = (uint64_t)c->n_kv_heads * c->head_dim;
	for (t = 0; t < L2C_NTENSORS; t++) {
		if (t == L2C_WCLS && c->shared_classifier) {
			p->w[t] = p->w[L2C_TOKEN_EMBEDDING];
			continue;
		}
		layer_shape(c, t, &rows, &cols);
		p->w[t] = region(&l, layer_count(c, t), rows, cols, 4);
		p->w_len[t] = layer_count(c, t) * rows * cols * 4;
	}
	align(&l);
	p->weight_bytes = l.at;
	p->x = region(&l, b, c->dim, 1, 4);
	p->xb = region(&l, b, c->dim, 1, 4);
	p->xb2 = region(&l, b, c->dim, 1, 4);
	p->q = region(&l, b, c->dim, 1, 4);
	p->k = region(&l, b, kv, 1, 4);
	p->v = region(&l, b, kv, 1, 4);
	p->hb = region(&l, b, c->hidden_dim, 1, 4);
	p->hb2 = region(&l, b, c->hidden_dim, 1, 4);
	p->att = region(&l, b, c->n_heads, max_ctx, 4);
	p->logits = region(&l, b, c->vocab_size, 1, 4);
	p->ids = region(&l, b, 1, 1, 4);
	align(&l);
	p->act_bytes = l.at - p->weight_bytes;
	p->k_cache = region(&l, c->n_layers, b * max_ctx, kv, 4);
	p->v_cache = region(&l, c->n_layers, b * max_ctx, kv, 4);
	align(&l);
	p->kv_bytes = l.at - p->weight_bytes - p->act_bytes;
	p->total_bytes = l.at;
	/* the kernels count in u32: rows * cols of every launch must fit */
	att = (uint64_t)c->n_heads * max_ctx;
	if (l.bad || b * c->vocab_size > UINT32_MAX ||
	    b * c->hidden_dim > UINT32_MAX || b * c->dim > UINT32_MAX ||
	    att > UINT32_MAX || (uint64_t)c->vocab_size * c->dim > UINT32_MAX) {
		memset(p, 0, sizeof(*p));
		return -E2BIG;
	}
	return 0;
}

/* The pointers of one step, resolved once from the plan and the base. */
struct step {
	const struct llama_plan *p;
	char *base;
	atomic_int *cancel;
	struct team *team;	/* or NULL: the calling thread alone */
	struct dev *dev;	/* NULL: the twins on host memory */
	uint32_t n;		/* rows */
	uint64_t kv;		/* kv_dim */
};

static float *at(const struct step *s, uint64_t off)
{
	return (float *)(s->base + off);
}

/* weight @t of layer @l */
static float *wt(const struct step *s, enum l2c_tensor t, uint32_t l)
{
	uint64_t rows, cols;

	layer_shape(&s->p->cfg, t, &rows, &cols);
	return at(s, s->p->w[t]) + (uint64_t)l * rows * cols;
}

static int k_rmsnorm(const struct step *s, const float *x, const float *w,
		     float *y)
{
	struct gl_kargs a = { 0 };
	uint64_t bytes = (uint64_t)s->n * s->p->cfg.dim * 4;

	kc_u32(&a, s->n);
	kc_u32(&a, s->p->cfg.dim);
	kc_f32(&a, s->p->cfg.rms_eps);
	kc_buf(&a, (void *)x, bytes);
	kc_buf(&a, (void *)w, (uint64_t)s->p->cfg.dim * 4);
	kc_buf(&a, y, bytes);
	return kc_dev_run(s->dev, GL_K_rmsnorm, &a, LLAMA_BLOCK, s->n,
			  s->cancel);
}

/* blocks of LLAMA_BLOCK for @n elements, one per thread */
static uint64_t blocks(uint64_t n)
{
	return (n + LLAMA_BLOCK - 1) / LLAMA_BLOCK;
}

/* k_binary - y = a OP b elementwise over @n floats (add, mul) */
static int k_binary(const struct step *s, enum gl_kernel_id id, uint64_t n,
		    const float *x, const float *b, float *y)
{
	struct gl_kargs a = { 0 };

	kc_u32(&a, n);
	kc_buf(&a, (void *)x, n * 4);
	kc_buf(&a, (void *)b, n * 4);
	kc_buf(&a, y, n * 4);
	return kc_dev_run(s->dev, id, &a, LLAMA_BLOCK, blocks(n), s->cancel);
}

static int k_unary(const struct step *s, enum gl_kernel_id id, uint64_t n,
		   const float *x, float *y)
{
	struct gl_kargs a = { 0 };

	kc_u32(&a, n);
	kc_buf(&a, (void *)x, n * 4);
	kc_buf(&a, y, n * 4);
	return kc_dev_run(s->dev, id, &a, LLAMA_BLOCK, blocks(n), s->cancel);
}

/* k_rope - turn one row's @heads heads at @x for position @pos */
static int k_rope(const struct step *s, uint32_t heads, uint32_t pos,
		  float *x)
{
	const struct llama_config *c = &s->p->cfg;
	struct gl_kargs a = { 0 };

	kc_u32(&a, 1);
	kc_u32(&a, heads);
	kc_u32(&a, c->head_dim);
	kc_u32(&a, pos);
	kc_f32(&a, c->rope_theta);
	kc_buf(&a, x, (uint64_t)heads * c->head_dim * 4);
	return kc_dev_run(s->dev, c->rope == LLAMA_ROPE_HALF ? GL_K_rope_half :
			  GL_K_rope, &a, LLAMA_BLOCK,
			  blocks((uint64_t)heads * c->head_dim), s->cancel);
}

/* cache - the cache rows of layer @l, slot @slot (max_ctx * kv floats) */
static float *cache(const struct step *s, uint64_t off, uint32_t l,
		    uint32_t slot)
{
	const struct llama_plan *p = s->p;

	return at(s, off) +
	       ((uint64_t)l * p->max_batch + slot) * p->max_ctx * s->kv;
}

/*
 * attend - row @r (at @pos of @slot) attends to the slot's positions
 * [0, pos]: scores, softmax and values into xb2, as three launches.
 */
static int attend(const struct step *s, uint32_t l, uint32_t r,
		  uint32_t slot, uint32_t pos)
{
	const struct llama_config *c = &s->p->cfg;
	uint64_t seq_k = (uint64_t)pos + 1, row = (uint64_t)c->dim * 4;
	float *att = at(s, s->p->att) + (uint64_t)r * c->n_heads *
		     s->p->max_ctx;
	uint64_t att_len = (uint64_t)c->n_heads * seq_k * 4;
	uint64_t kv_len = seq_k * s->kv * 4;
	struct gl_kargs a = { 0 };
	int err;

	kc_u32(&a, 1);
	kc_u32(&a, seq_k);
	kc_u32(&a, c->n_heads);
	kc_u32(&a, c->n_kv_heads);
	kc_u32(&a, c->head_dim);
	kc_u32(&a, pos);
	kc_u32(&a, 0);
	kc_f32(&a, 1.0f / sqrtf((float)c->head_dim));
	kc_buf(&a, at(s, s->p->q) + (uint64_t)r * c->dim, row);
	kc_buf(&a, cache(s, s->p->k_cache, l, slot), kv_len);
	kc_buf(&a, att, att_len);
	err = kc_dev_run(s->dev, GL_K_attn_scores, &a, LLAMA_BLOCK,
			 blocks(c->n_heads * seq_k), s->cancel);
	if (err)
		return err;
	memset(&a, 0, sizeof(a));
	kc_u32(&a, c->n_heads);
	kc_u32(&a, seq_k);
	kc_buf(&a, att, att_len);
	kc_buf(&a, att, att_len);
	err = kc_dev_run(s->dev, GL_K_softmax, &a, LLAMA_BLOCK, c->n_heads,
			 s->cancel);
	if (err)
		return err;
	memset(&a, 0, sizeof(a));
	kc_u32(&a, 1);
	kc_u32(&a, seq_k);
	kc_u32(&a, c->n_heads);
	kc_u32(&a, c->n_kv_heads);
	kc_u32(&a, c->head_dim);
	kc_buf(&a, att, att_len);
	kc_buf(&a, cache(s, s->p->v_cache, l, slot), kv_len);
	kc_buf(&a, at(s, s->p->xb2) + (uint64_t)r * c->dim, row);
	return kc_dev_run(s->dev, GL_K_attn_values, &a, LLAMA_BLOCK,
			  blocks(c->dim), s->cancel);
}

/* The matrix-vector phases of a step, each one job of the team. */
enum phase {
	PHASE_QKV,		/* q, k, v from xb */
	PHASE_WO,		/* xb from xb2 */
	PHASE_W13,		/* hb = silu(xb w1^T) * (xb w3^T) */
	PHASE_W2,		/* xb from hb */
	PHASE_CLS,		/* logits from x */
	PHASE_ROPE,		/* q, k rotated; k, v into the cache, by row */
	PHASE_ATTN,		/* xb2 from q and the cache, by row */
};

struct job {
	const struct step *s;
	enum phase phase;
	uint32_t l;		/* the layer */
	const uint32_t *slots, *pos;	/* the rows' places */
};

/*
 * mv - the share @part of @parts of y = x W^T for every row of the step
 * (W [n][k], x [rows][k], y [rows][n]): columns [lo, hi) of y, one
 * matmul launch over all rows, which reads each row of W once for the
 * whole batch and gives each row the bits it gets alone.
 */
static int mv(const struct step *s, unsigned int part, unsigned int parts,
	      uint64_t n, uint64_t k, const float *x, const float *w,
	      float *y)
{
	uint64_t lo, hi;

	team_span(n, part, parts, &lo, &hi);
	if (lo >= hi)
		return 0;
	return kc_dev_gemm_nt(s->dev, s->n, hi - lo, k, x, w + lo * k, y + lo,
			      n, s->cancel);
}

/* w13 - mv of w1 and w3, then SwiGLU on the same columns of hb */
static int w13(const struct step *s, uint32_t l, unsigned int part,
	       unsigned int parts)
{
	const struct llama_plan *p = s->p;
	uint64_t d = p->cfg.dim, h = p->cfg.hidden_dim, lo, hi;
	float *hb = at(s, p->hb), *hb2 = at(s, p->hb2), *xb = at(s, p->xb);
	uint32_t r;
	int err;

	err = mv(s, part, parts, h, d, xb, wt(s, L2C_W1, l), hb);
	if (!err)
		err = mv(s, part, parts, h, d, xb, wt(s, L2C_W3, l), hb2);
	team_span(h, part, parts, &lo, &hi);
	if (!err && parts == 1) {	/* every row's columns at once */
		err = k_unary(s, GL_K_silu, s->n * h, hb, hb);
		return err ? err : k_binary(s, GL_K_mul, s->n * h, hb, hb2,
					    hb);
	}
	for (r = 0; !err && lo < hi && r < s->n; r++) {
		err = k_unary(s, GL_K_silu, hi - lo, hb + r * h + lo,
			      hb + r * h + lo);
		if (!err)
			err = k_binary(s, GL_K_mul, hi - lo, hb + r * h + lo,
				       hb2 + r * h + lo, hb + r * h + lo);
	}
	return err;
}

/* rope_part - rows part, part + parts, ...: rotate q and k, then copy k
 * and v into the row's place of the cache */
static int rope_part(const struct job *j, unsigned int part,
		     unsigned int parts)
{
	const struct step *s = j->s;
	const struct llama_plan *p = s->p;
	uint32_t r, slot, pos;
	float *krow;
	int err = 0;

	for (r = part; !err && r < s->n; r += parts) {
		slot = j->slots[r];
		pos = j->pos[r];
		krow = at(s, p->k) + r * s->kv;
		err = k_rope(s, p->cfg.n_heads, pos,
			     at(s, p->q) + (uint64_t)r * p->cfg.dim);
		if (!err)
			err = k_rope(s, p->cfg.n_kv_heads, pos, krow);
		if (!err)
			err = k_unary(s, GL_K_copy, s->kv, krow,
				      cache(s, p->k_cache, j->l, slot) +
				      pos * s->kv);
		if (!err)
			err = k_unary(s, GL_K_copy, s->kv,
				      at(s, p->v) + r * s->kv,
				      cache(s, p->v_cache, j->l, slot) +
				      pos * s->kv);
	}
	return err;
}

/*
 * attend_part - rows part, part + parts, ... attend: each writes only its
 * own rows of att and xb2, and reads keys and values that every row put
 * in the cache in an earlier job (a prompt's rows share a slot).
 */
static int attend_part(const struct job *j, unsigned int part,
		       unsigned int parts)
{
	const struct step *s = j->s;
	uint32_t r;
	int err = 0;

	for (r = part; !err && r < s->n; r += parts)
		err = attend(s, j->l, r, j->slots[r], j->pos[r]);
	return err;
}

static int job_part(void *arg, unsigned int part, unsigned int parts)
{
	const struct job *j = arg;
	const struct step *s = j->s;
	const struct llama_plan *p = s->p;
	uint64_t d = p->cfg.dim, h = p->cfg.hidden_dim;
	float *xb = at(s, p->xb);
	int err;

	switch (j->phase) {
	case PHASE_QKV:
		err = mv(s, part, parts, d, d, xb, wt(s, L2C_WQ, j->l),
			 at(s, p->q));
		if (!err)
			err = mv(s, part, parts, s->kv, d, xb,
				 wt(s, L2C_WK, j->l), at(s, p->k));
		if (!err)
			err = mv(s, part, parts, s->kv, d, xb,
				 wt(s, L2C_WV, j->l), at(s, p->v));
		return err;
	case PHASE_WO:
		return mv(s, part, parts, d, d, at(s, p->xb2),
			  wt(s, L2C_WO, j->l), xb);
	case PHASE_W13:
		return w13(s, j->l, part, parts);
	case PHASE_W2:
		return mv(s, part, parts, d, h, at(s, p->hb),
			  wt(s, L2C_W2, j->l), xb);
	case PHASE_CLS:
		return mv(s, part, parts, p->cfg.vocab_size, d, at(s, p->x),
			  at(s, p->w[L2C_WCLS]), at(s, p->logits));
	case PHASE_ROPE:
		return rope_part(j, part, parts);
	case PHASE_ATTN:
		return attend_part(j, part, parts);
	}
	return -EINVAL;
}

/* phase - run @ph of layer @l over the step's team */
static int phase(const struct step *s, enum phase ph, uint32_t l)
{
	struct job j = { .s = s, .phase = ph, .l = l };

	return team_run(s->team, job_part, &j);
}

/* attention - layer @l's attention block, residual added into x */
static int attention(const struct step *s, uint32_t l, const uint32_t *slots,
		     const uint32_t *pos)
{
	const struct llama_config *c = &s->p->cfg;
	const struct llama_plan *p = s->p;
	struct job j = {
		.s = s, .phase = PHASE_ROPE, .l = l,
		.slots = slots, .pos = pos,
	};
	int err;

	err = k_rmsnorm(s, at(s, p->x), wt(s, L2C_RMS_ATT, l), at(s, p->xb));
	if (!err)
		err = phase(s, PHASE_QKV, l);
	/* every row's keys and values are in the cache before any row
	 * attends */
	if (!err)
		err = team_run(s->team, job_part, &j);
	j.phase = PHASE_ATTN;
	if (!err)
		err = team_run(s->team, job_part, &j);
	if (!err)
		err = phase(s, PHASE_WO, l);
	if (!err)
		err = k_binary(s, GL_K_add, (uint64_t)s->n * c->dim,
			       at(s, p->x), at(s, p->xb), at(s, p->x));
	return err;
}

/* ffn - layer @l's SwiGLU block, residual added into x */
static int ffn(const struct step *s, uint32_t l)
{
	const struct llama_config *c = &s->p->cfg;
	const struct llama_plan *p = s->p;
	int err;

	err = k_rmsnorm(s, at(s, p->x), wt(s, L2C_RMS_FFN, l), at(s, p->xb));
	if (!err)
		err = phase(s, PHASE_W13, l);
	if (!err)
		err = phase(s, PHASE_W2, l);
	if (!err)
		err = k_binary(s, GL_K_add, (uint64_t)s->n * c->dim,
			       at(s, p->x), at(s, p->xb), at(s, p->x));
	return err;
}

/* step_check - the rows' arguments against the plan */
static int step_check(const struct llama_plan *p, uint32_t n,
		      const uint32_t *tokens, const uint32_t *slots,
		      const uint32_t *pos)
{
	uint32_t r, o;

	if (!n || n > p->max_batch)
		return -EINVAL;
	for (r = 0; r < n; r++) {
		if (tokens[r] >= p->cfg.vocab_size ||
		    slots[r] >= p->max_batch || pos[r] >= p->max_ctx)
			return -EINVAL;
		for (o = 0; o < r; o++)
			if (slots[o] == slots[r] && pos[o] == pos[r])
				return -EINVAL;
	}
	return 0;
}

int llama_step(const struct llama_plan *p, void *base, uint32_t n,
	       const uint32_t *tokens, const uint32_t *slots,
	       const uint32_t *pos, atomic_int *cancel)
{
	return llama_step_team(p, base, NULL, n, tokens, slots, pos, cancel);
}

int llama_step_team(const struct llama_plan *p, void *base, struct team *team,
		    uint32_t n, const uint32_t *tokens, const uint32_t *slots,
		    const uint32_t *pos, atomic_int *cancel)
{
	return llama_step_dev(p, base, team, NULL, NULL, n, tokens, slots,
			      pos, cancel);
}

int llama_step_dev(const struct llama_plan *p, void *base, struct team *team,
		   struct dev *dev, struct dev_region *region, uint32_t n,
		   const uint32_t *tokens, const uint32_t *slots,
		   const uint32_t *pos, atomic_int *cancel)
{
	const struct llama_config *c = &p->cfg;
	struct step s = {
		.p = p,
		.base = base,
		.cancel = cancel,
		.team = dev ? NULL : team,
		.dev = dev,
		.n = n,
		.kv = (uint64_t)c->n_kv_heads * c->head_dim,
	};
	struct gl_kargs a = { 0 };
	uint32_t l;
	int err;

	err = step_check(p, n, tokens, slots, pos);
	if (err)
		return err;
	if (dev)
		err = dev->ops->copy_in(region, p->ids, tokens, (size_t)n * 4);
	else
		memcpy(s.base + p->ids, tokens, (size_t)n * 4);
	if (err)
		return err;
	kc_u32(&a, n);
	kc_u32(&a, c->dim);
	kc_u32(&a, c->vocab_size);
	kc_buf(&a, s.base + p->ids, (uint64_t)n * 4);
	kc_buf(&a, at(&s, p->w[L2C_TOKEN_EMBEDDING]),
	       (uint64_t)c->vocab_size * c->dim * 4);
	kc_buf(&a, at(&s, p->x), (uint64_t)n * c->dim * 4);
	err = kc_dev_run(dev, GL_K_embedding, &a, LLAMA_BLOCK,
			 blocks((uint64_t)n * c->dim), cancel);
	for (l = 0; !err && l < c->n_layers; l++) {
		err = attention(&s, l, slots, pos);
		if (!err)
			err = ffn(&s, l);
	}
	if (!err)
		err = k_rmsnorm(&s, at(&s, p->x), wt(&s, L2C_RMS_FINAL, 0),
				at(&s, p->x));
	if (!err)
		err = phase(&s, PHASE_CLS, 0);
	return err;
}
