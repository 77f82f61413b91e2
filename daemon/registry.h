/* SPDX-License-Identifier: MIT */
/*
 * The kernel registry: the built-in kernels of kernels/ with their parsed
 * signatures and per-kernel counters. Fixed after registry_init; lookups
 * take no lock.
 */
#ifndef GL_REGISTRY_H
#define GL_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernels/kernels.h"

struct strbuf;

struct kernel_entry {
	const struct gl_kernel *k;	/* the built-in row, read-only */
	struct gl_ksig sig;		/* parsed k->sig */
	_Atomic uint64_t launches;	/* finished, any status */
	_Atomic uint64_t failures;	/* finished with status != 0 */
	_Atomic uint64_t ns;		/* run time summed, ns */
};

struct registry {
	struct kernel_entry ents[GL_K_COUNT];
	unsigned count;
};

/* registry_init - register the built-ins. 0, or -EINVAL when a built-in
 * signature does not parse (a build bug). */
int registry_init(struct registry *r);

/* registry_find - the kernel named @name, or NULL. */
const struct kernel_entry *registry_find(const struct registry *r,
					 const char *name);

/* registry_get - entry @i (< count), for listing. */
const struct kernel_entry *registry_get(const struct registry *r,
					unsigned i);

/* registry_show - "NAME(SIGNATURE) block=N" and the counters. */
void registry_show(const struct kernel_entry *e, struct strbuf *sb);

/*
 * registry_add - register a kernel from a module and a signature line.
 * Returns -EPERM for non-root, -EOPNOTSUPP on a device that cannot load
 * modules (the CPU device runs only its built-in twins).
 */
int registry_add(struct registry *r, uid_t uid, const char *data,
		 size_t len);

/* registry_account - count one finished launch of @e. */
void registry_account(const struct kernel_entry *e, int status,
		      uint64_t ns);

#endif
