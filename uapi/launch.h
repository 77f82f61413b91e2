/* SPDX-License-Identifier: MIT */
/*
 * gpulease launch ABI: the binary launch descriptor a client may write to
 * leases/<name>/submit instead of the text form, and the limits both
 * forms share. Documentation/kernels.md describes both forms.
 *
 * Invariant: fixed-width fields, explicit padding, reserved fields zero;
 * sizes and offsets are checked below and never change once shipped.
 * Compiles alone in C and C++.
 */
#ifndef GPULEASE_UAPI_LAUNCH_H
#define GPULEASE_UAPI_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "gpulease.h"

/* "GLL1" as little-endian bytes: the first word of a binary descriptor. */
#define GL_LAUNCH_MAGIC		0x314c4c47u
#define GL_LAUNCH_VERSION	1

#define GL_KERNEL_NAME_MAX	32	/* with its NUL */
#define GL_LAUNCH_ARGS_MAX	24
/* A text descriptor is one line of at most this many bytes (EFBIG). */
#define GL_LAUNCH_TEXT_MAX	4096
/* Launches of one lease accepted and not yet finished (queued plus the
 * running one), through submit and io together: one more is EAGAIN. */
#define GL_LAUNCH_QUEUE_MAX	1024

/* Argument types, as in a kernel's signature. */
enum gl_arg_type {
	GL_ARG_U32 = 0,
	GL_ARG_I32 = 1,
	GL_ARG_U64 = 2,
	GL_ARG_F32 = 3,
	GL_ARG_F64 = 4,
	GL_ARG_BUF = 5,		/* bytes [offset, offset + len) of vram */
	GL_ARG_IO = 6,		/* bytes [offset, offset + len) of io */
};

struct gl_launch_arg {
	uint32_t type;		/* enum gl_arg_type */
	uint32_t reserved;	/* must be 0 */
	/*
	 * Values: u32/i32/u64 as the integer (i32 sign-extended), f32 and
	 * f64 as their IEEE-754 bits in the low 32 or 64 bits. buf and io:
	 * the byte offset.
	 */
	uint64_t value;
	uint64_t len;		/* buf and io: byte length; otherwise 0 */
};

struct gl_launch_desc {
	uint32_t magic;		/* GL_LAUNCH_MAGIC */
	uint16_t version;	/* GL_LAUNCH_VERSION */
	uint16_t nargs;		/* <= GL_LAUNCH_ARGS_MAX */
	char kernel[GL_KERNEL_NAME_MAX];	/* NUL-terminated name */
	uint32_t grid[3];	/* x, y, z; each >= 1 */
	uint32_t block[3];	/* x, y, z; each >= 1 */
	uint32_t timeout_ms;	/* 0: the daemon's default */
	uint32_t flags;		/* must be 0 */
	uint64_t user_data;	/* echoed in the completion */
	uint64_t reserved[2];	/* must be 0 */
	struct gl_launch_arg args[GL_LAUNCH_ARGS_MAX];
};

/* A binary write carries the header and exactly nargs arguments. */
#define GL_LAUNCH_DESC_SIZE(nargs) \
	(offsetof(struct gl_launch_desc, args) + \
	 (size_t)(nargs) * sizeof(struct gl_launch_arg))

GL_STATIC_ASSERT(sizeof(struct gl_launch_arg) == 24, "gl_launch_arg ABI");
GL_STATIC_ASSERT(offsetof(struct gl_launch_desc, kernel) == 8, "desc ABI");
GL_STATIC_ASSERT(offsetof(struct gl_launch_desc, grid) == 40, "desc ABI");
GL_STATIC_ASSERT(offsetof(struct gl_launch_desc, user_data) == 72, "desc ABI");
GL_STATIC_ASSERT(offsetof(struct gl_launch_desc, args) == 96, "desc ABI");
GL_STATIC_ASSERT(sizeof(struct gl_launch_desc) == 96 + 24 * 24, "desc ABI");

#endif /* GPULEASE_UAPI_LAUNCH_H */
