/* SPDX-License-Identifier: MIT */
/*
 * libgpulease: the client library over a mounted gpulease tree. Every call
 * is a few file operations on the tree that Documentation/filesystem.md
 * describes; nothing here talks to the daemon any other way.
 *
 * Invariant: every function returns >= 0 on success or a negative errno,
 * never -1 with errno set. Only uapi/ and libc headers are included, and
 * this header compiles alone in C and C++. Installed as
 * <gpulease/gpulease.h> next to <gpulease/uapi/...>.
 */
#ifndef GPULEASE_LIB_H
#define GPULEASE_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "uapi/barrier.h"
#include "uapi/chain.h"
#include "uapi/gpulease.h"
#include "uapi/launch.h"
#include "uapi/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Environment variable naming the mount point when gl_open() gets none. */
#define GL_MOUNT_ENV		"GPULEASE_MOUNT"

/* A handle on one mounted tree (tools/lib/mount.c); opaque. */
struct gl;

int gl_open(const char *mnt, struct gl **out);
void gl_close(struct gl *g);
const char *gl_mount_path(const struct gl *g);
int gl_lease_openat(struct gl *g, const char *name, const char *file,
		    int flags);

/* Lease life cycle (tools/lib/lease.c). */
#define GL_VRAM_DEFAULT		UINT64_MAX	/* the policy's default_vram */
#define GL_ACQUIRE_BIND		(1u << 0)	/* dropped by gl_close() */

int gl_lease_acquire(struct gl *g, const char *name, uint64_t vram,
		     uint32_t ttl, int device, unsigned int flags);
int gl_lease_drop(struct gl *g, const char *name);
int gl_lease_renew(struct gl *g, const char *name, uint32_t secs);
int gl_lease_set_ttl(struct gl *g, const char *name, uint32_t secs);
int gl_lease_resize(struct gl *g, const char *name, uint64_t vram);
int gl_name_valid(const char *name);

/* A lease's ctl, read as a struct (tools/lib/info.c). */
enum gl_lease_state {
	GL_LEASE_ACTIVE = 0,
	GL_LEASE_EXPIRED = 1,
	GL_LEASE_HIDDEN = 2,	/* another user's: only name and owner known */
};

#define GL_LAST_ERROR_MAX	256

struct gl_lease_info {
	char name[GL_NAME_MAX + 1];
	char last_error[GL_LAST_ERROR_MAX];	/* "ERRNO: reason" or "-" */
	uint32_t state;		/* enum gl_lease_state */
	int32_t device;		/* device index, -1 when unknown */
	uint64_t vram;		/* bytes reserved */
	uint64_t used;		/* bytes handed to rings and models */
	uint64_t expires_in;	/* seconds; 0 once expired */
	uint64_t launches;	/* launches completed so far */
	uint32_t ttl;		/* seconds a renew extends it by */
	uint32_t owner;		/* uid of the creator */
	uint32_t bound;		/* 1 while tied to an open file */
	uint32_t reserved0;
	uint64_t reserved[4];
};

int gl_lease_info(struct gl *g, const char *name, struct gl_lease_info *info);
int gl_lease_list(struct gl *g, struct gl_lease_info **out);

/* devices/<n>/ (tools/lib/device.c). */
struct gl_device_info {
	uint32_t index;
	uint32_t leases;	/* active leases on it */
	char name[64];
	char kind[16];		/* GL_KIND_CPU or GL_KIND_CUDA */
	uint64_t capacity;	/* bytes offered to leases */
	uint64_t used;		/* bytes reserved now */
	uint64_t free;		/* capacity - used */
	uint64_t reserved[4];
};

int gl_device_info(struct gl *g, unsigned int index,
		   struct gl_device_info *info);
int gl_device_list(struct gl *g, struct gl_device_info **out);

/* A lease's memory (tools/lib/vram.c). */
ssize_t gl_vram_pread(struct gl *g, const char *name, void *buf, size_t len,
		      uint64_t off);
ssize_t gl_vram_pwrite(struct gl *g, const char *name, const void *buf,
		       size_t len, uint64_t off);

/* Launches through leases/<name>/submit (tools/lib/submit.c). */
int gl_submit_text(struct gl *g, const char *name, const char *line);
int gl_submit(struct gl *g, const char *name,
	      const struct gl_launch_desc *desc);
int gl_launch_init(struct gl_launch_desc *desc, const char *kernel,
		   uint32_t grid, uint32_t block);
int gl_launch_arg(struct gl_launch_desc *desc, enum gl_arg_type type,
		  uint64_t value, uint64_t len);
int gl_launch_arg_f32(struct gl_launch_desc *desc, float value);
int gl_launch_arg_f64(struct gl_launch_desc *desc, double value);

/*
 * Rings: a lease's shared-memory io region (tools/lib/ring.c, version node
 * LIBGPULEASE_0.2; Documentation/ring.md). One thread drives a ring at a
 * time: prepare SQEs with gl_ring_get_sqe() and a gl_ring_prep_*() helper,
 * publish them with gl_ring_submit(), take completions with
 * gl_ring_peek_cqe() or gl_ring_wait_cqe() and hand each back with
 * gl_ring_cqe_seen().
 *
 * gl_ring_get_sqe() and the gl_ring_prep_*() helpers are static inline,
 * as liburing's are, so preparing an entry costs no call; the library
 * also exports each as a function of the same name (tools/lib/ring-inline.c
 * defines GL_RING_INLINE), for programs linked against an older header
 * and for callers without a C compiler.
 */
struct gl_ring;

#ifndef GL_RING_INLINE
#define GL_RING_INLINE static inline
#endif

/*
 * The submission side of a ring: the first member of the opaque struct
 * gl_ring, read and advanced by the inline gl_ring_get_sqe() (liburing's
 * struct io_uring_sq). Part of the LIBGPULEASE_0.2 ABI; not for callers
 * to touch.
 */
struct gl_ring_sq {
	struct gl_ring_hdr *hdr;
	struct gl_sqe *sqes;
	uint32_t mask;		/* sq_entries - 1 */
	uint32_t entries;	/* sq_entries */
	uint32_t sqe_tail;	/* next SQE handed out, not yet published */
	uint32_t sqe_pub;	/* sq_tail as last published */
};

/* How long gl_ring_wait_cqe() spins before it sleeps on the futex. */
#define GL_RING_SPIN_US		50

int gl_ring_setup(struct gl *g, const char *name, uint64_t bytes);
int gl_ring_open(struct gl *g, const char *name, struct gl_ring **out);
void gl_ring_close(struct gl_ring *ring);
void *gl_ring_data(struct gl_ring *ring, size_t *size);
int gl_ring_submit(struct gl_ring *ring);

/*
 * gl_ring_get_sqe - the next free submission entry, zeroed, or NULL when
 * the SQ is full (submit, then take completions: the daemon frees a slot
 * when it takes the entry). The entry goes to the daemon at the next
 * gl_ring_submit().
 */
GL_RING_INLINE struct gl_sqe *gl_ring_get_sqe(struct gl_ring *ring)
{
	struct gl_ring_sq *sq = (struct gl_ring_sq *)ring;
	uint32_t head = gl_smp_load_acquire(&sq->hdr->sq_head);
	struct gl_sqe *sqe;

	if (sq->sqe_tail - head >= sq->entries)
		return NULL;
	sqe = &sq->sqes[sq->sqe_tail & sq->mask];
	memset(sqe, 0, sizeof(*sqe));
	sq->sqe_tail++;
	return sqe;
}

static inline void __gl_ring_prep(struct gl_sqe *sqe, uint8_t op,
				  uint64_t off, uint64_t addr, uint32_t len,
				  uint64_t user_data)
{
	/* every field, as a memset and then the four would */
	sqe->opcode = op;
	sqe->flags = 0;
	sqe->reserved0 = 0;
	sqe->len = len;
	sqe->off = off;
	sqe->addr = addr;
	sqe->user_data = user_data;
	sqe->reserved[0] = 0;
	sqe->reserved[1] = 0;
	sqe->reserved[2] = 0;
	sqe->reserved[3] = 0;
}

/* gl_ring_prep_nop - an entry that completes with 0. No return value. */
GL_RING_INLINE void gl_ring_prep_nop(struct gl_sqe *sqe, uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_NOP, 0, 0, 0, user_data);
}

/*
 * gl_ring_prep_copy_in - copy @len bytes at @data_off of the data area to
 * @vram_off of the lease's vram. No return value; the completion carries
 * 0 or -EFAULT (a range outside the data area or the lease).
 */
GL_RING_INLINE void gl_ring_prep_copy_in(struct gl_sqe *sqe,
					 uint64_t vram_off, uint64_t data_off,
					 uint32_t len, uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_COPY_IN, vram_off, data_off, len,
		       user_data);
}

/*
 * gl_ring_prep_copy_out - copy @len bytes at @vram_off of the lease's
 * vram to @data_off of the data area. No return value; the completion
 * carries 0 or -EFAULT.
 */
GL_RING_INLINE void gl_ring_prep_copy_out(struct gl_sqe *sqe,
					  uint64_t data_off, uint64_t vram_off,
					  uint32_t len, uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_COPY_OUT, vram_off, data_off, len,
		       user_data);
}

/*
 * gl_ring_prep_launch - launch the struct gl_launch_desc of @len bytes
 * (GL_LAUNCH_DESC_SIZE(nargs)) at @data_off of the data area; its own
 * user_data is replaced by @user_data. No return value; the completion
 * carries the launch's status, as a write to submit would
 * (Documentation/kernels.md).
 */
GL_RING_INLINE void gl_ring_prep_launch(struct gl_sqe *sqe, uint64_t data_off,
					uint32_t len, uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_LAUNCH, 0, data_off, len, user_data);
}

/*
 * gl_ring_prep_chain_build - build chain @id (< GL_CHAIN_IDS, not in use)
 * from the binary chain (uapi/chain.h) of @len bytes at @data_off of the
 * data area. No return value; the completion carries 0 (cqe->step: its
 * number of steps), -EINVAL, -EFAULT, -EFBIG, -EBUSY (@id in use), with
 * cqe->step the index of the step at fault.
 */
GL_RING_INLINE void gl_ring_prep_chain_build(struct gl_sqe *sqe, uint32_t id,
					     uint64_t data_off, uint32_t len,
					     uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_CHAIN_BUILD, id, data_off, len, user_data);
}

/*
 * gl_ring_prep_chain_run - run chain @id once with the @nparams u64
 * parameters at @data_off of the data area (exactly the chain's
 * nparams). No return value; the completion carries the run's status and
 * in cqe->step the failing step's index, or the number of steps.
 */
GL_RING_INLINE void gl_ring_prep_chain_run(struct gl_sqe *sqe, uint32_t id,
					   uint64_t data_off, uint32_t nparams,
					   uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_CHAIN_RUN, id, data_off,
		       nparams * (uint32_t)sizeof(uint64_t), user_data);
}

/* gl_ring_prep_chain_free - free chain @id; runs in flight finish. The
 * completion carries 0 or -EINVAL (no such chain). */
GL_RING_INLINE void gl_ring_prep_chain_free(struct gl_sqe *sqe, uint32_t id,
					    uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_CHAIN_FREE, id, 0, 0, user_data);
}

/*
 * gl_ring_prep_infer - on a model's ring (models/NAME/io): the request of
 * @req_len bytes at @req_off of the data area (one infer write's bytes),
 * its answer streamed into the @ans_len bytes at @ans_off. No return
 * value; completions flagged GL_CQE_F_MORE tell new bytes (cqe->ans),
 * the last one, unflagged, the status (Documentation/ring.md).
 */
GL_RING_INLINE void gl_ring_prep_infer(struct gl_sqe *sqe, uint64_t req_off,
				       uint32_t req_len, uint64_t ans_off,
				       uint64_t ans_len, uint64_t user_data)
{
	__gl_ring_prep(sqe, GL_OP_INFER, ans_off, req_off, req_len,
		       user_data);
	sqe->ans_len = ans_len;
}

int gl_ring_peek_cqe(struct gl_ring *ring, struct gl_cqe **cqe);
int gl_ring_wait_cqe(struct gl_ring *ring, struct gl_cqe **cqe,
		     int timeout_ms);
void gl_ring_cqe_seen(struct gl_ring *ring, struct gl_cqe *cqe);

/*
 * Models (tools/lib/model.c, version node LIBGPULEASE_0.4; gl_model(3)):
 * requests through a model's request ring (models/NAME/io), from one
 * thread or several, the answer streamed as GL_OP_INFER's completions.
 */
struct gl_model;

int gl_model_open(struct gl *g, const char *name, struct gl_model **out);
void gl_model_close(struct gl_model *m);
ssize_t gl_model_infer(struct gl_model *m, const void *req, size_t len,
		       void *ans, size_t size);
ssize_t gl_model_stream(struct gl_model *m, const void *req, size_t len,
			int (*fn)(void *arg, const void *buf, size_t n),
			void *arg);

/*
 * ENOTCONN (the daemon gone) retried for up to a limit of the caller's
 * (version node LIBGPULEASE_0.5): the handle reopens the model's ring
 * after GL_MODEL_RETRY_FIRST_MS, then twice as long each time, at most
 * GL_MODEL_RETRY_STEP_MS apart, until the limit passes.
 */
#define GL_MODEL_RETRY_FIRST_MS	10
#define GL_MODEL_RETRY_STEP_MS	1000

int gl_model_set_retry(struct gl_model *m, unsigned int max_ms);

/*
 * Requests in flight on one handle, from several threads (version node
 * LIBGPULEASE_0.6): the data area split into that many slots, one
 * request and its answer each; at most GL_MODEL_SLOTS_MAX (the daemon's
 * GL_OP_INFER bound per ring).
 */
#define GL_MODEL_SLOTS_MAX	32

int gl_model_set_slots(struct gl_model *m, unsigned int n);

/* The meaning of an errno in gpulease terms (tools/lib/error.c). */
const char *gl_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* GPULEASE_LIB_H */
