/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the chain parsers (daemon/chain-parse.c), what
 * GL_OP_CHAIN_BUILD and a chain written to submit go through before a
 * lease is looked at: any bytes must give 0 or -EINVAL/-EFBIG, and a
 * success must leave a chain inside every limit of uapi/chain.h, each
 * step as the launch parser promises, each ref naming a scalar argument
 * of an existing step and an existing parameter, no (step, arg) twice.
 * Bytes that are not a chain (chain_is) never parse as one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/chain-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_step(const struct launch_desc *d)
{
	uint32_t i;

	if (!memchr(d->kernel, '\0', sizeof(d->kernel)) || !d->kernel[0] ||
	    d->nargs > GL_LAUNCH_ARGS_MAX)
		abort();
	for (i = 0; i < 3; i++)
		if (!d->grid[i])
			abort();
	for (i = 0; i < d->nargs; i++)
		if (d->args[i].type > GL_ARG_IO || d->args[i].reserved)
			abort();
}

static void check(const struct chain_spec *s)
{
	uint32_t i, j;

	if (!s->nsteps || s->nsteps > GL_CHAIN_STEPS_MAX ||
	    s->nparams > GL_CHAIN_PARAMS_MAX || s->nrefs > GL_CHAIN_REFS_MAX)
		abort();
	for (i = 0; i < s->nsteps; i++)
		check_step(&s->steps[i]);
	for (i = 0; i < s->nrefs; i++) {
		const struct gl_chain_ref *r = &s->refs[i];
		uint32_t type;

		if (r->step >= s->nsteps || r->param >= s->nparams ||
		    r->arg >= s->steps[r->step].nargs || r->reserved)
			abort();
		type = s->steps[r->step].args[r->arg].type;
		if (type == GL_ARG_BUF || type == GL_ARG_IO)
			abort();
		for (j = 0; j < i; j++)
			if (s->refs[j].step == r->step &&
			    s->refs[j].arg == r->arg)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chain_spec s;
	int err;

	err = chain_parse(data, size, &s);
	if (err) {
		if (err != -EINVAL && err != -EFBIG && err != -ENOMEM)
			abort();
		if (s.steps)
			abort();	/* nothing held on failure */
		return 0;
	}
	if (!chain_is(data, size))
		abort();
	check(&s);
	chain_spec_release(&s);
	return 0;
}
