/* SPDX-License-Identifier: MIT */
/*
 * The gpulease-mlp forward pass: per layer the matmul kernel (x W^T),
 * bias_add and activate, ping-ponging between two activation buffers of
 * the block, so layer l reads buf[l % 2] and writes buf[(l + 1) % 2].
 *
 * Invariant: a pass touches only the plan's regions (every kernel gets
 * its region's length), allocates nothing, and computes each row from
 * that row alone: one matmul launch per layer over all rows, whose
 * x W^T reads each weight once for the batch and gives every element
 * the bits it gets alone (kernels/matmul-nt.c), so a row's output does
 * not depend on the batch it came in, nor on how a team splits the
 * product's columns.
 */
#include <errno.h>
#include <string.h>

#include "daemon/model/kcall.h"
#include "daemon/model/mlp.h"
#include "daemon/model/team.h"
#include "daemon/model/tensor.h"
#include "kernels/cpu.h"

#define MLP_ALIGN	64u
#define MLP_BLOCK	256u

/* hf_act and the activate kernel's GL_ACT_* are one numbering. */
_Static_assert(HF_ACT_NONE == GL_ACT_NONE && HF_ACT_RELU == GL_ACT_RELU &&
	       HF_ACT_GELU == GL_ACT_GELU_ERF && HF_ACT_TANH == GL_ACT_TANH &&
	       HF_ACT_SIGMOID == GL_ACT_SIGMOID, "activation numbering");

/* take - reserve @n floats at the aligned cursor @at; false on overflow */
static bool take(uint64_t *at, uint64_t n, uint64_t *off)
{
	uint64_t o = (*at + MLP_ALIGN - 1) & ~(uint64_t)(MLP_ALIGN - 1);

	if (*at > UINT64_MAX - MLP_ALIGN || n > (UINT64_MAX - o) / 4)
		return false;
	*off = o;
	*at = o + n * 4;
	return true;
}

int mlp_plan(const struct hf_mlp_config *c, uint32_t max_batch,
	     struct mlp_plan *p)
{
	uint64_t at = 0, width = 0, x;
	int l;

	memset(p, 0, sizeof(*p));
	if (!max_batch || c->n_layers < 1 || c->n_layers > HF_MLP_MAX_LAYERS)
		return -EINVAL;
	for (l = 0; l < c->n_layers; l++) {
		const struct hf_mlp_layer *y = &c->layer[l];

		if (!y->in || !y->out || y->act > HF_ACT_SIGMOID ||
		    (l && y->in != c->layer[l - 1].out))
			return -EINVAL;
		if (y->in > width)
			width = y->in;
		if (y->out > width)
			width = y->out;
		if (!take(&at, (uint64_t)y->out * y->in, &p->w[l]) ||
		    !take(&at, y->out, &p->b[l]))
			return -E2BIG;
	}
	p->cfg = *c;
	p->max_batch = max_batch;
	p->width = width;
	x = (uint64_t)max_batch * width;
	if (x > UINT32_MAX)
		return -E2BIG;
	at = (at + MLP_ALIGN - 1) & ~(uint64_t)(MLP_ALIGN - 1);
	p->weight_bytes = at;
	if (!take(&at, x, &p->buf[0]) || !take(&at, x, &p->buf[1]))
		return -E2BIG;
	at = (at + MLP_ALIGN - 1) & ~(uint64_t)(MLP_ALIGN - 1);
	p->act_bytes = at - p->weight_bytes;
	p->total_bytes = at;
	return 0;
}

int mlp_load(const struct mlp_plan *p, const struct hf_mlp_map *m,
	     const void *buf, size_t len, void *base)
{
	int l, err;

	for (l = 0; l < p->cfg.n_layers; l++) {
		const struct hf_mlp_layer *y = &p->cfg.layer[l];

		err = tensor_f32_check(m->weight[l], len,
				       (uint64_t)y->out * y->in);
		if (!err)
			err = tensor_f32_check(m->bias[l], len, y->out);
		if (err)
			return err;
	}
	for (l = 0; l < p->cfg.n_layers; l++) {
		const struct hf_mlp_layer *y = &p->cfg.layer[l];

		tensor_f32(m->weight[l], buf, len,
			   (float *)((char *)base + p->w[l]),
			   (uint64_t)y->out * y->in);
		tensor_f32(m->bias[l], buf, len,
			   (float *)((char *)base + p->b[l]), y->out);
	}
	return 0;
}

float *mlp_input(const struct mlp_plan *p, void *base)
{
	return (float *)((char *)base + p->buf[0]);
}

uint64_t mlp_output_off(const struct mlp_plan *p)
{
	return p->buf[p->cfg.n_layers % 2];
}

float *mlp_output(const struct mlp_plan *p, void *base)
{
	return (float *)((char *)base + mlp_output_off(p));
}

/* One layer's product, shared by a team: part p's columns of x W^T. */
struct mlp_job {
	const struct hf_mlp_layer *y;
	const float *in, *w;
	float *out;
	uint32_t rows;
	atomic_int *cancel;
};

static int layer_part(void *arg, unsigned int part, unsigned int parts)
{
	const struct mlp_job *j = arg;
	uint64_t lo, hi;

	team_span(j->y->out, part, parts, &lo, &hi);
	if (lo >= hi)
		return 0;
	return kc_dev_gemm_nt(NULL, j->rows, (uint32_t)(hi - lo), j->y->in,
			      j->in, j->w + lo * j->y->in, j->out + lo,
			      j->y->out, j->cancel);
}

/* layer - layer @l over @rows rows: y = act(x W^T + b), on the CPU
 * twins (@d NULL; the product split by columns over @team) or device @d */
static int layer(const struct mlp_plan *p, char *base, struct team *team,
		 int l, uint32_t rows, struct dev *d, atomic_int *cancel)
{
	const struct hf_mlp_layer *y = &p->cfg.layer[l];
	float *in = (float *)(base + p->buf[l % 2]);
	float *out = (float *)(base + p->buf[(l + 1) % 2]);
	const float *w = (const float *)(base + p->w[l]);
	uint64_t n = (uint64_t)rows * y->out;
	struct mlp_job j = { y, in, w, out, rows, cancel };
	struct gl_kargs a = { 0 };
	int err;

	if (d)
		err = kc_dev_gemm_nt(d, rows, y->out, y->in, in, w, out,
				     y->out, cancel);
	else
		err = team_run(team, layer_part, &j);
	if (err)
		return err;
	kc_u32(&a, rows);
	kc_u32(&a, y->out);
	kc_buf(&a, base + p->b[l], (uint64_t)y->out * 4);
	kc_buf(&a, out, n * 4);
	err = kc_dev_run(d, GL_K_bias_add, &a, MLP_BLOCK,
			 (n + MLP_BLOCK - 1) / MLP_BLOCK, cancel);
	if (err || y->act == HF_ACT_NONE)
		return err;
	memset(&a, 0, sizeof(a));
	kc_u32(&a, n);
	kc_u32(&a, y->act);
	kc_buf(&a, out, n * 4);
	kc_buf(&a, out, n * 4);
	return kc_dev_run(d, GL_K_activate, &a, MLP_BLOCK,
			  (n + MLP_BLOCK - 1) / MLP_BLOCK, cancel);
}

int mlp_forward(const struct mlp_plan *p, void *base, uint32_t rows,
		struct dev *d, atomic_int *cancel)
{
	return mlp_forward_team(p, base, NULL, rows, d, cancel);
}

int mlp_forward_team(const struct mlp_plan *p, void *base, struct team *team,
		     uint32_t rows, struct dev *d, atomic_int *cancel)
{
	int l, err = 0;

	if (!rows || rows > p->max_batch)
		return -EINVAL;
	for (l = 0; !err && l < p->cfg.n_layers; l++)
		err = layer(p, base, team, l, rows, d, cancel);
	return err;
}
