/* SPDX-License-Identifier: MIT */
/*
 * Launch chains: a sequence of launches over one lease, validated and
 * resolved once (kernels looked up, arguments checked and turned into
 * pointers) and run as one unit, as often as asked, each run through the
 * lease's launch queue as one launch: the read side of mem_lock held
 * once for all its steps, the watchdog rearmed per step, cancellation and
 * expiry checked between steps and inside each, one completion with the
 * index of the failing step. Front ends: ring-op-chain.c, fusefs/submit.c.
 */
#ifndef GL_CHAIN_H
#define GL_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/chain-parse.h"
#include "daemon/launch.h"

struct launcher;
struct chain;
struct lease;

/* One run of a chain, owned by its struct launch (la->chain). */
struct chain_run {
	struct chain *c;		/* reference */
	uint32_t step;			/* executor: the failing step, or
					 * nsteps once all ran */
	uint64_t params[GL_CHAIN_PARAMS_MAX];
};

/*
 * chain_build - check every step of @s against @l (kernel, arity, types,
 * ranges, the kernel's own check) and resolve its arguments. On 0, *out
 * holds the chain with one reference (chain_put). Errors, *bad_step the
 * step at fault: -EINVAL, -EFAULT, -EKEYEXPIRED, -ENOENT (dropped), -ENOMEM.
 * @s stays the caller's. Takes mem_lock (read); no lock held.
 */
int chain_build(struct launcher *lr, struct lease *l,
		const struct chain_spec *s, struct chain **out,
		uint32_t *bad_step);

/* chain_put - drop a reference; the last frees the chain. Any thread. */
void chain_put(struct chain *c);

/* chain_steps, chain_nparams - the shape it was built with. */
uint32_t chain_steps(const struct chain *c);
uint32_t chain_nparams(const struct chain *c);

/*
 * chain_submit - queue one run of @c on its lease with @params (exactly
 * chain_nparams(@c) of them; la->desc.user_data = @user_data), like
 * launch_submit, or with @inl run it on this thread when every step is
 * small and the lease idle, like launch_submit_inline: on 0, *seq is its
 * launch number (stored before it can start) and @done is called once,
 * with la->chain->step the failing step or nsteps. -EKEYEXPIRED,
 * -ECANCELED, -ENOENT, -EAGAIN (the lease's queue is full), -ENOMEM. No
 * lock held.
 */
int chain_submit(struct chain *c, const uint64_t *params, uint64_t user_data,
		 launch_done_fn done, void *ctx, _Atomic uint64_t *seq,
		 bool inl);


#endif
