/* SPDX-License-Identifier: MIT */
/*
 * A guard against SIGBUS on file mappings another user can truncate: a
 * ring's io file (its client), a model's checkpoint (its owner). A fault
 * inside a registered mapping maps anonymous pages over the rest of it,
 * sets the guard's hit flag and returns, so the access completes on the
 * new pages and its user fails the work at its next check. A fault
 * anywhere else goes to the handler that was there before.
 */
#ifndef GL_MAPGUARD_H
#define GL_MAPGUARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct mapguard {
	void *addr;			/* the mapping: fixed while listed */
	size_t len;			/* its bytes: fixed while listed */
	atomic_bool hit;		/* set by the handler */
	/* NULL, or called by the handler after @hit is set, on whatever
	 * thread faulted: async-signal-safe only (atomics, futex wake) */
	void (*on_fault)(struct mapguard *g);
	struct mapguard *_Atomic next;	/* the list; mapguard.c's lock */
};

/*
 * mapguard_add - guard @g (addr, len and on_fault set; hit is cleared)
 * until mapguard_del(). Installs the SIGBUS handler on first use.
 * Returns 0 or sigaction's -errno. Any thread, no lock held.
 */
int mapguard_add(struct mapguard *g);

/*
 * mapguard_del - take @g off the list and wait for any handler still
 * walking it: on return its mapping may be unmapped and @g freed.
 * Never from a signal handler.
 */
void mapguard_del(struct mapguard *g);

#endif
