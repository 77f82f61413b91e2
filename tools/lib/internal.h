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
/* __gl_parse_u64 - a number the daemon wrote: decimal digits only, in
 * range. 0 or -EPROTO. */
int __gl_parse_u64(const char *s, uint64_t *out);
int __gl_write_fd(int fd, const void *buf, size_t len);
int __gl_write_at(struct gl *g, const char *path, const char *line);

#endif /* GPULEASE_LIB_INTERNAL_H */
