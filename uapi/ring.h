/* SPDX-License-Identifier: MIT */
/*
 * gpulease ring ABI: the layout of a lease's shared-memory io region
 * (leases/<name>/io), through which a colocated client exchanges work with
 * the daemon without a system call while the daemon polls.
 * Documentation/ring.md explains the protocol.
 *
 * The region is one file: a header, a submission queue (SQ) of gl_sqe, a
 * completion queue (CQ) of gl_cqe, and a data area. Each queue has one
 * producer and one consumer: the client produces SQEs and consumes CQEs,
 * the daemon the reverse. Indices are free-running uint32_t; an entry's
 * slot is index & (entries - 1). Fields are plain integers: both sides
 * access the indices, flags and futex words with atomic loads and stores
 * (acquire on the consumer's read of the producer's index, release on the
 * producer's store), with the helpers in uapi/barrier.h.
 *
 * Invariant: fixed-width fields, explicit padding, reserved fields zero;
 * the header and entry layouts never change within GL_RING_VERSION.
 */
#ifndef GPULEASE_UAPI_RING_H
#define GPULEASE_UAPI_RING_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "gpulease.h"

#define GL_RING_MAGIC		0x31524c47u	/* "GLR1" */
#define GL_RING_VERSION		1

/* Bounds of `io SIZE` in a lease's ctl. */
#define GL_RING_SIZE_MIN	(64u * 1024)
#define GL_RING_SIZE_MAX	(1024ull * 1024 * 1024)

/* header.flags, written by the daemon */
#define GL_RING_NEED_WAKEUP	(1u << 0)	/* the poller sleeps: after
						 * pushing SQEs, bump and
						 * FUTEX_WAKE sq_futex */
#define GL_RING_BROKEN		(1u << 1)	/* a corrupt index or entry:
						 * the daemon stopped serving
						 * this ring */
#define GL_RING_DEAD		(1u << 2)	/* the lease was dropped or
						 * expired: nothing more will
						 * complete */
#define GL_RING_CQ_WAIT		(1u << 3)	/* the poller waits for CQ
						 * room: after advancing
						 * cq_head, bump and
						 * FUTEX_WAKE sq_futex */

/* Opcodes of a submission. */
enum gl_ring_op {
	GL_OP_NOP = 0,		/* completes at once with status 0 */
	GL_OP_LAUNCH = 1,	/* addr: data-area offset of a gl_launch_desc
				 * of len bytes; its io: args name data-area
				 * ranges, used in place (zero copy) */
	GL_OP_COPY_IN = 2,	/* len bytes: data area at addr -> vram at
				 * off */
	GL_OP_COPY_OUT = 3,	/* len bytes: vram at off -> data area at
				 * addr */
	GL_OP_CHAIN_BUILD = 4,	/* off: a chain id < GL_CHAIN_IDS, free;
				 * addr: data-area offset of a binary chain
				 * (uapi/chain.h) of len bytes, validated
				 * and resolved now; on a bad step the
				 * CQE's step names it */
	GL_OP_CHAIN_RUN = 5,	/* off: a built chain id; addr: data-area
				 * offset of its nparams u64 parameters, len
				 * = 8 * nparams; completes once the chain
				 * ran: step = the failing step's index, or
				 * nsteps */
	GL_OP_CHAIN_FREE = 6,	/* off: a built chain id; runs in flight
				 * finish first */
	GL_OP_INFER = 7,	/* the ring of a model's lease only: addr,
				 * len: one request (the bytes of one write
				 * to models/NAME/infer); off, ans_len: the
				 * answer buffer; the answer streams as
				 * CQEs flagged GL_CQE_F_MORE, then one
				 * without it carrying the status */
};

/* gl_cqe.flags */
#define GL_CQE_F_MORE		(1u << 0)	/* another CQE of this
						 * entry follows
						 * (GL_OP_INFER); its
						 * status is 0 */

struct gl_sqe {
	uint8_t opcode;		/* enum gl_ring_op */
	uint8_t flags;		/* must be 0 */
	uint16_t reserved0;	/* must be 0 */
	uint32_t len;		/* bytes (copy, launch descriptor) */
	uint64_t off;		/* vram offset (copies) */
	uint64_t addr;		/* data-area offset */
	uint64_t user_data;	/* echoed in the completion */
	union {
		uint64_t reserved[4];	/* must be 0 */
		uint64_t ans_len;	/* GL_OP_INFER: bytes of the answer
					 * buffer at off (reserved[0]; the
					 * other three must be 0) */
	};
};

/* GL_OP_INFER's completions: which bytes of the answer buffer are new. */
struct gl_cqe_ans {
	uint32_t off;		/* from the answer buffer's start */
	uint32_t len;		/* new bytes at off; the answer so far is
				 * off + len bytes */
};

struct gl_cqe {
	uint64_t user_data;
	int32_t status;		/* 0 or -errno */
	uint32_t flags;		/* GL_CQE_F_*, 0 for most opcodes */
	uint64_t duration_ns;	/* time the daemon spent on it */
	union {
		uint64_t reserved;	/* 0 for other opcodes */
		uint64_t step;		/* GL_OP_CHAIN_*: the index of the
					 * failing step, or nsteps */
		struct gl_cqe_ans ans;	/* GL_OP_INFER */
	};
};

/*
 * The header, at offset 0. The first cache line is fixed by the daemon at
 * creation and never changes; each of the next lines is written by one
 * side only. Each line ends in a reserved array that fills it to 64 bytes,
 * so that no field sits in a hole the compiler made: the layout is the
 * same with any compiler and needs no alignment attribute.
 */
struct gl_ring_hdr {
	/* bytes 0..63: geometry, read-only */
	uint32_t magic;		/* GL_RING_MAGIC */
	uint32_t version;	/* GL_RING_VERSION */
	uint32_t sq_entries;	/* power of two */
	uint32_t cq_entries;	/* power of two, >= sq_entries */
	uint32_t sqe_size;	/* sizeof(struct gl_sqe) */
	uint32_t cqe_size;	/* sizeof(struct gl_cqe) */
	uint64_t sq_off;	/* byte offset of the SQ array */
	uint64_t cq_off;	/* byte offset of the CQ array */
	uint64_t data_off;	/* byte offset of the data area */
	uint64_t data_size;	/* bytes of the data area */
	uint64_t size;		/* bytes of the whole file */
	/* bytes 64..127: written by the client */
	uint32_t sq_tail;	/* next SQE to fill */
	uint32_t cq_head;	/* next CQE to read */
	uint32_t cq_waiters;	/* > 0 while a client sleeps on cq_futex */
	uint32_t reserved1[13];	/* 0 */
	/* bytes 128..191: written by the daemon */
	uint32_t sq_head;	/* next SQE it reads */
	uint32_t cq_tail;	/* next CQE it fills */
	uint32_t flags;		/* GL_RING_* */
	uint32_t reserved2[13];	/* 0 */
	/* bytes 192..255: futex words */
	uint32_t sq_futex;	/* poller sleeps */
	uint32_t cq_futex;	/* bumped after completions */
	uint32_t reserved3[14];	/* 0 */
};

/*
 * The ABI: every field's offset and every size, as they were when the
 * header still used aligned(64) (GL_RING_VERSION 1).
 */
#define GL_RING_ABI(type, field, offset) \
	GL_STATIC_ASSERT(offsetof(struct type, field) == (offset), \
			 #type "." #field " ABI")
GL_STATIC_ASSERT(sizeof(struct gl_sqe) == 64, "gl_sqe ABI");
GL_RING_ABI(gl_sqe, opcode, 0);
GL_RING_ABI(gl_sqe, flags, 1);
GL_RING_ABI(gl_sqe, reserved0, 2);
GL_RING_ABI(gl_sqe, len, 4);
GL_RING_ABI(gl_sqe, off, 8);
GL_RING_ABI(gl_sqe, addr, 16);
GL_RING_ABI(gl_sqe, user_data, 24);
GL_RING_ABI(gl_sqe, reserved, 32);
GL_RING_ABI(gl_sqe, ans_len, 32);
GL_STATIC_ASSERT(sizeof(struct gl_cqe_ans) == 8, "gl_cqe_ans ABI");
GL_RING_ABI(gl_cqe_ans, off, 0);
GL_RING_ABI(gl_cqe_ans, len, 4);
GL_STATIC_ASSERT(sizeof(struct gl_cqe) == 32, "gl_cqe ABI");
GL_RING_ABI(gl_cqe, user_data, 0);
GL_RING_ABI(gl_cqe, status, 8);
GL_RING_ABI(gl_cqe, flags, 12);
GL_RING_ABI(gl_cqe, duration_ns, 16);
GL_RING_ABI(gl_cqe, reserved, 24);
GL_RING_ABI(gl_cqe, step, 24);
GL_RING_ABI(gl_cqe, ans, 24);
GL_STATIC_ASSERT(sizeof(struct gl_ring_hdr) == 256, "gl_ring_hdr ABI");
GL_RING_ABI(gl_ring_hdr, magic, 0);
GL_RING_ABI(gl_ring_hdr, version, 4);
GL_RING_ABI(gl_ring_hdr, sq_entries, 8);
GL_RING_ABI(gl_ring_hdr, cq_entries, 12);
GL_RING_ABI(gl_ring_hdr, sqe_size, 16);
GL_RING_ABI(gl_ring_hdr, cqe_size, 20);
GL_RING_ABI(gl_ring_hdr, sq_off, 24);
GL_RING_ABI(gl_ring_hdr, cq_off, 32);
GL_RING_ABI(gl_ring_hdr, data_off, 40);
GL_RING_ABI(gl_ring_hdr, data_size, 48);
GL_RING_ABI(gl_ring_hdr, size, 56);
GL_RING_ABI(gl_ring_hdr, sq_tail, 64);
GL_RING_ABI(gl_ring_hdr, cq_head, 68);
GL_RING_ABI(gl_ring_hdr, cq_waiters, 72);
GL_RING_ABI(gl_ring_hdr, reserved1, 76);
GL_RING_ABI(gl_ring_hdr, sq_head, 128);
GL_RING_ABI(gl_ring_hdr, cq_tail, 132);
GL_RING_ABI(gl_ring_hdr, flags, 136);
GL_RING_ABI(gl_ring_hdr, reserved2, 140);
GL_RING_ABI(gl_ring_hdr, sq_futex, 192);
GL_RING_ABI(gl_ring_hdr, cq_futex, 196);
GL_RING_ABI(gl_ring_hdr, reserved3, 200);
#undef GL_RING_ABI

#endif /* GPULEASE_UAPI_RING_H */
