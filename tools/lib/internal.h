/* SPDX-License-Identifier: MIT */
/*
 * libgpulease internals shared by its files: the handle and the small file
 * helpers every call is built from. Never installed.
 *
 * Invariant: only functions marked GL_EXPORT and listed in
 * libgpulease.map leave libgpulease.so; helpers here are hidden and
 * carry the __gl_ prefix so they cannot clash in the static library.
 */
#ifndef GPULEASE_LIB_INTERNAL_H
#define GPULEASE_LIB_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "tools/lib/gpulease.h"

#define GL_EXPORT __attribute__((visibility("default")))

/* Longest relative path we build: "leases/" NAME "/" file. */
#define GL_PATH_MAX		(sizeof("leases//") + GL_NAME_MAX + 64)

struct gl {
	int root;		/* O_DIRECTORY fd of the mount point */
	atomic_int bind_fd;	/* leases/ctl held for bound acquires, or -1 */
	char mnt[];		/* the mount point as given */
};

int __gl_lease_path(char *buf, size_t size, const char *name,
		    const char *file);
int __gl_read_at(struct gl *g, const char *path, char *buf, size_t size);
struct dirent;

/*
 * __gl_list - collect the entries of directory @rel into an array of
 * @elem-byte slots: for each entry @add fills the next slot and returns
 * 1 to keep it, 0 to skip the entry, or -errno to stop. *@out gets the
 * array (free(3) it; NULL when nothing was kept), sorted with @cmp.
 * Returns the count, or -errno with *@out NULL: openat/readdir's,
 * -ENOMEM, -EOVERFLOW (over INT32_MAX entries), or @add's.
 */
int __gl_list(struct gl *g, const char *rel, size_t elem,
	      int (*add)(struct gl *g, int dfd, const struct dirent *de,
			 void *slot),
	      int (*cmp)(const void *a, const void *b), void **out);

/* __gl_parse_u64 - a number the daemon wrote: decimal digits only, in
 * range. 0 or -EPROTO. */
int __gl_parse_u64(const char *s, uint64_t *out);
/* __gl_ring_gone - 1 when @ring's daemon is gone (tools/lib/ring.c). */
int __gl_ring_gone(struct gl_ring *ring);
int __gl_write_fd(int fd, const void *buf, size_t len);
int __gl_write_at(struct gl *g, const char *path, const char *line);

#endif /* GPULEASE_LIB_INTERNAL_H */
