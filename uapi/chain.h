/* SPDX-License-Identifier: MIT */
/*
 * gpulease chain ABI: a launch chain, a sequence of launches over one
 * lease that the daemon validates and resolves once (GL_OP_CHAIN_BUILD)
 * and runs as one unit as often as asked (GL_OP_CHAIN_RUN), each run
 * with its own few u64 parameters. Documentation/ring.md describes the
 * ring opcodes, Documentation/kernels.md the text form through submit.
 *
 * The binary form: a gl_chain_desc, nrefs gl_chain_ref, then nsteps
 * binary launch descriptors (uapi/launch.h), each of exactly
 * GL_LAUNCH_DESC_SIZE(nargs) bytes, back to back (every size is a
 * multiple of 8). A ref makes one scalar argument of one step take the
 * value of run parameter @param at each run instead of the value built
 * in (u32/i32/f32 from its low 32 bits).
 *
 * Invariant: fixed-width fields, explicit padding, reserved fields zero;
 * sizes and offsets are checked below and never change once shipped.
 * Compiles alone in C and C++.
 */
#ifndef GPULEASE_UAPI_CHAIN_H
#define GPULEASE_UAPI_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "gpulease.h"
#include "launch.h"

/* "GLC1" as little-endian bytes: the first word of a binary chain. */
#define GL_CHAIN_MAGIC		0x31434c47u
#define GL_CHAIN_VERSION	1

#define GL_CHAIN_STEPS_MAX	256	/* launches in one chain */
#define GL_CHAIN_PARAMS_MAX	16	/* u64 parameters of one run */
#define GL_CHAIN_REFS_MAX	64	/* arguments taken from parameters */
#define GL_CHAIN_IDS		64	/* chains one ring holds: ids
					 * 0..GL_CHAIN_IDS-1 */
/* The text form through submit: "chain" on a line of its own, then one
 * launch line per step; at most this many bytes in all (EFBIG). */
#define GL_CHAIN_TEXT_MAX	(64u * 1024)

struct gl_chain_desc {
	uint32_t magic;		/* GL_CHAIN_MAGIC */
	uint16_t version;	/* GL_CHAIN_VERSION */
	uint16_t nsteps;	/* 1..GL_CHAIN_STEPS_MAX */
	uint16_t nparams;	/* <= GL_CHAIN_PARAMS_MAX */
	uint16_t nrefs;		/* <= GL_CHAIN_REFS_MAX */
	uint32_t flags;		/* must be 0 */
	uint64_t reserved[2];	/* must be 0 */
};

struct gl_chain_ref {
	uint16_t step;		/* < nsteps */
	uint8_t arg;		/* < that step's nargs; a scalar argument */
	uint8_t param;		/* < nparams */
	uint32_t reserved;	/* must be 0 */
};

/* The largest binary chain: what GL_OP_CHAIN_BUILD accepts (EFBIG). */
#define GL_CHAIN_DESC_MAX \
	(sizeof(struct gl_chain_desc) + \
	 GL_CHAIN_REFS_MAX * sizeof(struct gl_chain_ref) + \
	 GL_CHAIN_STEPS_MAX * sizeof(struct gl_launch_desc))

GL_STATIC_ASSERT(sizeof(struct gl_chain_desc) == 32, "gl_chain_desc ABI");
GL_STATIC_ASSERT(offsetof(struct gl_chain_desc, nsteps) == 6, "chain ABI");
GL_STATIC_ASSERT(offsetof(struct gl_chain_desc, nrefs) == 10, "chain ABI");
GL_STATIC_ASSERT(offsetof(struct gl_chain_desc, reserved) == 16,
		 "chain ABI");
GL_STATIC_ASSERT(sizeof(struct gl_chain_ref) == 8, "gl_chain_ref ABI");
GL_STATIC_ASSERT(offsetof(struct gl_chain_ref, param) == 3, "chain ABI");

#endif /* GPULEASE_UAPI_CHAIN_H */
