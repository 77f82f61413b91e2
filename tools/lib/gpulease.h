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
#include <sys/types.h>

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
 */
struct gl_ring;

/* How long gl_ring_wait_cqe() spins before it sleeps on the futex. */
#define GL_RING_SPIN_US		50

int gl_ring_setup(struct gl *g, const char *name, uint64_t bytes);
int gl_ring_open(struct gl *g, const char *name, struct gl_ring **out);
void gl_ring_close(struct gl_ring *ring);
void *gl_ring_data(struct gl_ring *ring, size_t *size);
struct gl_sqe *gl_ring_get_sqe(struct gl_ring *ring);
int gl_ring_submit(struct gl_ring *ring);
void gl_ring_prep_nop(struct gl_sqe *sqe, uint64_t user_data);
void gl_ring_prep_copy_in(struct gl_sqe *sqe, uint64_t vram_off,
			  uint64_t data_off, uint32_t len, uint64_t user_data);
void gl_ring_prep_copy_out(struct gl_sqe *sqe, uint64_t data_off,
			   uint64_t vram_off, uint32_t len,
			   uint64_t user_data);
void gl_ring_prep_launch(struct gl_sqe *sqe, uint64_t data_off, uint32_t len,
			 uint64_t user_data);
int gl_ring_peek_cqe(struct gl_ring *ring, struct gl_cqe **cqe);
int gl_ring_wait_cqe(struct gl_ring *ring, struct gl_cqe **cqe,
		     int timeout_ms);
void gl_ring_cqe_seen(struct gl_ring *ring, struct gl_cqe *cqe);

/* The meaning of an errno in gpulease terms (tools/lib/error.c). */
const char *gl_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* GPULEASE_LIB_H */
