/* SPDX-License-Identifier: MIT */
/*
 * Leases: a name, an owner, a reservation of device memory and a deadline.
 * The table is a liburcu lock-free hash table keyed by name: lookups take
 * no lock, only an RCU read-side section and a get-unless-zero reference.
 *
 * Lifetime: the table holds one reference while the lease is in it, the
 * reaper one while its expiry timer is queued, and every user one per
 * lease_lookup or lease_get. The last lease_put frees through call_rcu.
 */
#ifndef GL_LEASE_H
#define GL_LEASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <urcu-bp.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>

#include "daemon/launch.h"
#include "daemon/log.h"
#include "daemon/timer.h"
#include "uapi/gpulease.h"

struct broker;
struct dev;
struct dev_region;
struct strbuf;
struct ring;

enum lease_state {
	LEASE_ACTIVE,
	LEASE_EXPIRED,	/* memory freed; files fail with EKEYEXPIRED */
	LEASE_DROPPED,	/* out of the table; waits for its last reference */
};

struct lease_stats {
	_Atomic uint64_t reads;		/* vram read calls */
	_Atomic uint64_t writes;	/* vram write calls */
	_Atomic uint64_t bytes_in;	/* bytes written into vram */
	_Atomic uint64_t bytes_out;	/* bytes read from vram */
	_Atomic uint64_t renews;
	_Atomic uint64_t resizes;
};

/* Memory taken off a lease and out of the accounting, not yet given
 * back to its device. */
struct lease_detached {
	struct dev_region *region;	/* or NULL */
	struct ring *ring;		/* or NULL */
};

struct lease {
	struct cds_lfht_node node;	/* in broker->leases, keyed by name */
	struct rcu_head rcu;		/* for the deferred free */
	struct cds_list_head all;	/* broker->all_leases; all_lock */
	_Atomic long refs;
	struct broker *b;
	uint64_t id;			/* unique for the daemon's life */
	char name[GL_NAME_MAX + 1];
	uid_t owner;
	gid_t group;
	struct dev *dev;		/* fixed */
	struct timespec born;		/* CLOCK_REALTIME at acquire */
	int64_t born_mono;		/* CLOCK_MONOTONIC ns at acquire */
	_Atomic int64_t data_mtime;	/* CLOCK_REALTIME ns of the last change
					 * made to the memory by the daemon
					 * (truncate, resize, launch); strictly
					 * increasing, so page caches notice */

	pthread_rwlock_t mem_lock;	/* copies: read; resize, expiry,
					 * drop: write */
	_Atomic(enum lease_state) state; /* written under mem_lock (write);
					 * read lock-free by metrics */
	struct dev_region *region;	/* mem_lock; NULL when vram == 0 */
	pthread_mutex_t io_lock;	/* serialises io region changes */
	struct ring *ring;		/* mem_lock (write) and io_lock to
					 * change; NULL without io region */
	_Atomic uint64_t vram;		/* bytes reserved; written under
					 * mem_lock (write) */

	_Atomic uint32_t ttl;		/* seconds a renew extends by */
	struct timer expiry;		/* its deadline on the reaper's queue */
	struct lease_detached spoils;	/* the expiry's memory until the
					 * timer round gives it back */

	_Atomic(const void *) bound_to;	/* bind token (an open file), or
					 * NULL */
	_Atomic uint32_t vram_open;	/* vram files the front end has open;
					 * while 0 no page of vram can be
					 * cached stale (an open drops them).
					 * Only fusefs/ touches it */
	struct gl_last_error last_error; /* the latest failure's reason;
					 * its own leaf lock (log.h) */
	struct lease_stats stats;
	struct launch_queue lq;		/* its launches */
};

struct lease_req {
	const char *name;
	uid_t uid;
	gid_t gid;
	uint64_t vram;			/* bytes, may be 0 */
	uint32_t ttl;			/* seconds, checked against policy */
	unsigned dev;			/* device index */
	const void *bind;		/* token to bind to, or NULL */
};

/*
 * lease_for_each - walk @table inside an RCU read-side section, @l set
 * to each lease. liburcu's cds_lfht_for_each_entry computes the container
 * of the NULL end node, which UBSan rightly rejects; this never does.
 */
#define lease_for_each(table, iter, l)					\
	for (cds_lfht_first(table, iter);				\
	     cds_lfht_iter_get_node(iter) &&				\
	     ((l) = caa_container_of(cds_lfht_iter_get_node(iter),	\
				     struct lease, node));		\
	     cds_lfht_next(table, iter))

/* lease_table_new - an empty table. NULL on -ENOMEM. */
struct cds_lfht *lease_table_new(void);

/*
 * lease_acquire - create lease @req->name with its memory reserved, its
 * deadline queued and (with @req->bind) bound, all or nothing. On success
 * *out holds a reference the caller puts. Returns 0, -EINVAL (name, ttl),
 * -ENOENT (device), -EEXIST (taken, or a name leases/ holds itself: ctl),
 * -EDQUOT, -ENOSPC, -ENOMEM. mkdir and leases/ctl both come here: this is
 * the one name check.
 */
int lease_acquire(struct broker *b, const struct lease_req *req,
		  struct lease **out);

/* lease_free_all - free every lease struct still allocated; only at
 * teardown, after rcu_barrier(), when no reference can be used again
 * (the kernel's lookup references die with the mount). */
void lease_free_all(struct broker *b);

/* lease_lookup - the lease named @name with a reference, or NULL. Takes
 * its own RCU read-side section; callable from any thread. */
struct lease *lease_lookup(struct broker *b, const char *name);

/* lease_get_unless_zero - a reference if @l is still alive; call inside
 * an RCU read-side section. */
bool lease_get_unless_zero(struct lease *l);

void lease_get(struct lease *l);
/* lease_put - drop a reference; the last one frees through call_rcu. */
void lease_put(struct lease *l);

/*
 * lease_visible_to - whether @uid may see @l's name: its owner and root
 * only. The one rule for every listing (ls leases/, leases/ctl, metrics).
 */
static inline bool lease_visible_to(const struct lease *l, uid_t uid)
{
	return uid == 0 || uid == l->owner;
}

/*
 * lease_drop - take @l out of the table, cancel its launches, free its
 * memory and return; the capacity is free when it returns (the running
 * launch ends with ECANCELED at its kernel's next cancel check, not at
 * its timeout). @uid must own it or be root. Sleeps: never call it in
 * an RCU read-side section.
 * With @notify, the front end hears LEASE_EV_DROPPED. Returns 0, -EACCES,
 * -ENOENT (already dropped).
 */
int lease_drop(struct broker *b, struct lease *l, uid_t uid, bool notify);

/*
 * lease_expire - the reaper's half: cancel its launches with EKEYEXPIRED,
 * take the memory off (the device counts it free) into @d, state
 * expired; the caller gives @d back with lease_release_detached(), so
 * that many leases due together turn expired before any of their pages
 * is freed. With @wait, all is done when it returns; without, it never
 * waits for a launch: when one runs, @d stays empty and the launch's
 * executor frees the memory as soon as it has stopped (milliseconds).
 */
void lease_expire(struct lease *l, bool wait, struct lease_detached *d);

/* lease_release_detached - give @d's memory back to its device and empty
 * it. No lock held. */
void lease_release_detached(struct lease_detached *d);

/* lease_state_err - lease_check with mem_lock already held (either
 * side). */
int lease_state_err(struct lease *l);

/* lease_check - 0 for an active lease, -EKEYEXPIRED, -ENOENT (dropped). */
int lease_check(struct lease *l);

/* lease_resize - reserve exactly @bytes, keeping the common prefix.
 * Returns 0, -EKEYEXPIRED, -ENOENT (dropped), -ENOSPC, -EDQUOT, -ENOMEM. */
int lease_resize(struct lease *l, uint64_t bytes);

/*
 * lease_set_io - give @l an io region (ring) of @bytes, replacing any old
 * one, or none with 0; charged like vram. Returns 0, -EINVAL (size),
 * -ENOSPC, -EDQUOT, -EKEYEXPIRED, -ENOENT (dropped), -ENOMEM, or
 * ring_create()'s -errno. Sleeps.
 */
int lease_set_io(struct lease *l, uint64_t bytes);

/* lease_io_path - the io file's path into @buf, or -ENOENT. */
int lease_io_path(struct lease *l, char *buf, size_t size);

/* lease_renew - deadline = now + @secs (0: the lease's ttl); with
 * @set_ttl, @secs also becomes the ttl. 0, -EINVAL, -EKEYEXPIRED,
 * -ENOENT (dropped). */
int lease_renew(struct lease *l, uint32_t secs, bool set_ttl);

/* lease_bind - bind @l to @token (NULL unbinds). 0, -EKEYEXPIRED or
 * -ENOENT (dropped). */
int lease_bind(struct lease *l, const void *token);

/* lease_find - a lease of the table for which @match(@l, @arg) holds,
 * with a reference the caller puts, or NULL. @match runs inside an RCU
 * read-side section and must not sleep; the caller may. */
struct lease *lease_find(struct broker *b,
			 bool (*match)(struct lease *l, const void *arg),
			 const void *arg);

/* lease_release_token - drop every lease bound to @token (an open file
 * being closed). Sleeps; outside any RCU read-side section. */
void lease_release_token(struct broker *b, const void *token);

/*
 * lease_pread/lease_pwrite - copy out of / into the memory at @off under
 * the read side of mem_lock. pread returns bytes copied (0 at or past the
 * end); pwrite returns @len or -EFBIG when any byte would land past the
 * end. Both: -EKEYEXPIRED, -ENOENT.
 */
ssize_t lease_pread(struct lease *l, void *buf, size_t len, uint64_t off);
ssize_t lease_pwrite(struct lease *l, const void *buf, size_t len,
		     uint64_t off);

/* lease_touch_data - the memory changed behind the page cache. */
void lease_touch_data(struct lease *l);

/* lease_zero_from - clear the bytes from @off to the end (truncate)
 * under the read side of mem_lock. 0, -EKEYEXPIRED, -ENOENT, or the
 * device's -errno. */
int lease_zero_from(struct lease *l, uint64_t off);

/* lease_expires_in - whole seconds until the deadline, 0 when past. */
uint64_t lease_expires_in(struct lease *l);

/* lease_show/lease_show_stats - the ctl and stats texts. */
void lease_show(struct lease *l, struct strbuf *sb);
void lease_show_stats(struct lease *l, struct strbuf *sb);

/* lease_set_error - record @msg as last_error. */
void lease_set_error(struct lease *l, const char *msg);

/*
 * gl_fail - log the error @err of lease @l (not NULL) with the reason
 * @fmt and record it as its last_error: gl_fail_at() with what the log
 * needs of a lease. Returns @err. Takes the last_error's leaf lock.
 */
#define gl_fail(l, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (l)->name, &(l)->last_error, (err), \
		   __VA_ARGS__)

#endif
