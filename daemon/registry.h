/* SPDX-License-Identifier: MIT */
/*
 * The kernel registry: the built-in kernels of kernels/ with their parsed
 * signatures, the kernels root registers at run time from a module file
 * (devices that can load modules only), and per-kernel counters.
 * Append-only: lookups take no lock.
 */
#ifndef GL_REGISTRY_H
#define GL_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernels/kernels.h"
#include "uapi/launch.h"

struct dev_set;
struct strbuf;

/* Built-ins and registered kernels together; fits the kernels/ inodes. */
#define REGISTRY_MAX		256
/* The largest module file root may register. */
#define REGISTRY_MODULE_MAX	(64u << 20)

struct kernel_entry {
	const struct gl_kernel *k;	/* the built-in row, or &own */
	struct gl_ksig sig;		/* parsed k->sig */
	unsigned idx;			/* its place in the registry */
	_Atomic uint64_t launches;	/* finished, any status */
	_Atomic uint64_t failures;	/* finished with status != 0 */
	_Atomic uint64_t ns;		/* run time summed, ns */
	/* registered kernels only: no CPU twin, device code from a module */
	struct gl_kernel own;
	char name[GL_KERNEL_NAME_MAX];
	char sigtext[256];
};

struct registry {
	struct kernel_entry builtin[GL_K_COUNT];
	struct kernel_entry *ents[REGISTRY_MAX];	/* set before count
							 * covers them */
	_Atomic unsigned count;		/* release on add, acquire on read */
	pthread_mutex_t add_lock;	/* serialises registry_add */
};

/* registry_init - register the built-ins. 0, or -EINVAL when a built-in
 * signature does not parse (a build bug). */
int registry_init(struct registry *r);

/* registry_destroy - free the registered kernels. */
void registry_destroy(struct registry *r);

/* registry_find - the kernel named @name, or NULL. Lock-free. */
const struct kernel_entry *registry_find(const struct registry *r,
					 const char *name);

/* registry_get - entry @i, or NULL past the end. Lock-free. */
const struct kernel_entry *registry_get(const struct registry *r,
					unsigned i);

/* registry_show - "NAME(SIGNATURE) block=N" and the counters. */
void registry_show(const struct kernel_entry *e, struct strbuf *sb);

/*
 * registry_add - "add NAME PATH SIGNATURE": load the module file PATH on
 * every device that loads modules and register kernel NAME with that
 * signature. Returns 0, -EPERM (not root), -EINVAL (malformed line,
 * name or signature; the file empty or not a regular file), -EEXIST,
 * open(2)'s -errno for the file (-ENOENT, -EACCES...), -EFBIG (a line
 * over GL_CTL_LINE_MAX, the file over REGISTRY_MODULE_MAX, registry
 * full), -EOPNOTSUPP (no device loads modules: the CPU device runs only
 * its built-in twins), -ENOMEM, -EIO, or the device's load_kernel error.
 */
int registry_add(struct registry *r, struct dev_set *devs, uid_t uid,
		 const char *data, size_t len);

/* registry_account - count one finished launch of @e. */
void registry_account(const struct kernel_entry *e, int status,
		      uint64_t ns);

/* registry_account_n - count @n finished launches of @e, @failures of
 * them failed, @ns their run time summed (a chain's run of one kernel). */
void registry_account_n(const struct kernel_entry *e, uint64_t n,
			uint64_t failures, uint64_t ns);

#endif
