/* SPDX-License-Identifier: MIT */
/*
 * Chain descriptors: the binary chain of uapi/chain.h and the text form
 * ("chain" then one launch line per step), both parsed into one struct
 * chain_spec, each step by the launch parser (launch-parse.c). Pure
 * functions, no lease or kernel knowledge: a leaf of daemon/ like
 * launch-parse.c, fuzzed by selftests/fuzz/chain.c.
 */
#ifndef GL_CHAIN_PARSE_H
#define GL_CHAIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/launch-parse.h"
#include "uapi/chain.h"

struct chain_spec {
	uint32_t nsteps;
	uint32_t nparams;
	uint32_t nrefs;
	struct gl_chain_ref refs[GL_CHAIN_REFS_MAX];
	struct launch_desc *steps;	/* nsteps; chain_spec_release */
	uint32_t bad_step;		/* after an error: the step at
					 * fault, or nsteps (the header) */
};

/* chain_is - whether @data (@len bytes) is a chain (binary magic or a
 * first line "chain") rather than one launch. */
bool chain_is(const void *data, size_t len);

/*
 * chain_parse - a binary chain when @data starts with GL_CHAIN_MAGIC,
 * else the text form. Every field is checked: magic, version, flags and
 * reserved fields, counts against their limits, each step as its launch
 * parser does, each ref (step, arg in range, a scalar arg, param in
 * range, no (step, arg) twice). Returns 0 (free @s with
 * chain_spec_release), -EINVAL (malformed), -EFBIG (over a limit),
 * -ENOMEM; on error nothing is held and s->bad_step says where.
 */
int chain_parse(const void *data, size_t len, struct chain_spec *s);

/* chain_spec_release - free what chain_parse allocated; idempotent. */
void chain_spec_release(struct chain_spec *s);

#endif
