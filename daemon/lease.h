/* SPDX-License-Identifier: MIT */
/*
 * Leases: a name, an owner, a reservation of device memory and a deadline.
 * The table is a liburcu lock-free hash table keyed by name: lookups take
 * no lock, only an RCU read-side section and a get-unless-zero reference.
 *
 * Lifetime: the table holds one reference while the lease is in it, its
 * expiry timer one while queued, and every user one per
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

#include "daemon/log.h"
#include "daemon/timer.h"
#include "uapi/gpulease.h"

struct account;
struct dev;
struct dev_region;
struct dev_set;
struct gl_clock;
struct launch_queue;
struct lease;
struct lease_io;
struct policy;
struct strbuf;

enum lease_state {
	LEASE_ACTIVE,
	LEASE_EXPIRED,	/* memory freed; files fail with EKEYEXPIRED */
	LEASE_DROPPED,	/* out of the table; waits for its last reference */
};

enum lease_event {
	LEASE_EV_RESIZED,	/* vram size changed */
	LEASE_EV_DATA,		/* the daemon wrote the memory (a launch) */
	LEASE_EV_EXPIRED,	/* TTL ran out; memory is gone */
	LEASE_EV_DROPPED,	/* removed other than by rmdir (bind, teardown) */
};

/*
 * Owner operations: set by whoever creates a lease (the filesystem today,
 * a model later) in its lease_req, so that its creator hears what happens
 * to it, whoever caused it. Called from any thread with no lease lock
 * held; a callee that keeps @l takes its own reference. Each may be NULL.
 */
struct lease_ops {
	void (*on_resize)(void *ctx, struct lease *l);
	void (*on_data)(void *ctx, struct lease *l);	/* a launch wrote */
	void (*on_expire)(void *ctx, struct lease *l);
	void (*on_drop)(void *ctx, struct lease *l);	/* see lease_drop */
};

/*
 * Internal listener: the module that runs work on a lease's memory (the
 * launch queue) keeps its per-lease state through these, so that the
 * lease never calls it by name. Registered once on the table, before the
 * first lease.
 * @create: at allocation, sets l->lq; 0 or -ENOMEM (fails the acquire).
 * @destroy: at the last put, undoes @create.
 * @stop: refuse new work with @err and stop the running work before the
 * memory goes. With @wait, returns true once nothing runs. Without, never
 * waits: true when nothing runs, false when @idle(@l) will be called once
 * the running work has ended.
 */
struct lease_work_ops {
	int (*create)(void *ctx, struct lease *l);
	void (*destroy)(void *ctx, struct lease *l);
	bool (*stop)(void *ctx, struct lease *l, int err, bool wait,
		     void (*idle)(struct lease *l));
};

/*
 * An io area attached to a lease (the ring, daemon/ring.h, embeds one):
 * the lease charges @size to its owner, pins and unpins @map on its
 * device and stops and releases it through @ops when the memory goes.
 * Every field is fixed while attached.
 */
struct lease_io_ops {
	void (*stop)(struct lease_io *io);	/* io_lock, not mem_lock */
	void (*drain)(struct lease_io *io);	/* after stop, no lock */
	void (*release)(struct lease_io *io);	/* after stop, no lock */
};

struct lease_io {
	const struct lease_io_ops *ops;
	void *map;			/* the whole area, pinned */
	uint64_t size;			/* bytes charged */
	char *data;			/* launch io arguments' area */
	uint64_t data_size;
	const char *path;		/* the file a client maps */
};

/* Makes an io area of @bytes for @l (the ring module). 0 or -errno. */
typedef int lease_io_new_fn(void *ctx, struct lease *l, uint64_t bytes,
			    struct lease_io **out);

/* Daemon-wide lease counters; they only grow, and outlive their leases.
 * metrics.c renders them. */
struct lease_totals {
	_Atomic uint64_t acquired;	/* leases acquired */
	_Atomic uint64_t dropped;	/* leases dropped (rmdir, bind, exit) */
	_Atomic uint64_t expired;	/* leases that reached their TTL */
	_Atomic uint64_t bytes_in;	/* bytes written into leases */
	_Atomic uint64_t bytes_out;	/* bytes read out of leases */
	_Atomic uint64_t dropped_ns;	/* lifetimes of dropped leases */
};

/*
 * The lease table: the lease module's own state. Everything it points to
 * is owned by the broker, outlives the table and is fixed after
 * lease_table_init; the listeners are set before the first lease.
 */
struct lease_table {
	struct cds_lfht *ht;		/* name -> lease, RCU (urcu-bp) */
	pthread_mutex_t all_lock;	/* guards all; alloc and free only,
					 * never a lookup */
	struct cds_list_head all;	/* every allocated lease */
	_Atomic uint64_t next_id;	/* lease ids, never reused */
	struct dev_set *devs;
	struct account *acct;
	const struct policy *pol;	/* max_ttl, defaults */
	struct timer_base *timers;	/* expiry deadlines */
	const struct gl_clock *clock;	/* the lease clock */
	struct lease_totals totals;
	const struct lease_work_ops *work;	/* or NULL */
	void *work_ctx;
	lease_io_new_fn *io_new;	/* or NULL: io areas refused */
	void *io_ctx;
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
	struct lease_io *io;		/* or NULL */
};

/*
 * Fields read outside lease*.c, and their rules: name, id, owner, group,
 * dev, born: fixed after acquire, read without a lock. state, vram,
 * region, io: lease*.c's, under mem_lock; others see the memory through
 * lease_mem_get() (launches, chains), state and vram also lock-free as
 * atomics (metrics, stat).
 * data_mtime: lock-free. vram_open: fusefs/ only. lq: the launch
 * module's, fixed from create to destroy. Everything else is lease*.c's.
 */
struct lease {
	struct cds_lfht_node node;	/* in lt->ht, keyed by name */
	struct rcu_head rcu;		/* for the deferred free */
	struct cds_list_head all;	/* lt->all; all_lock */
	_Atomic long refs;
	struct lease_table *lt;		/* fixed */
	const struct lease_ops *ops;	/* its creator's; fixed, or NULL */
	void *ops_ctx;
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
	pthread_mutex_t io_lock;	/* serialises io area changes */
	struct lease_io *io;		/* mem_lock (write) and io_lock to
					 * change; NULL without io area */
	_Atomic uint64_t vram;		/* bytes reserved; written under
					 * mem_lock (write) */

	_Atomic uint32_t ttl;		/* seconds a renew extends by */
	struct timer expiry;		/* its deadline on lt->timers */
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
	struct launch_queue *lq;	/* its launches (lt->work's) */
};

struct lease_req {
	const char *name;
	uid_t uid;
	gid_t gid;
	uint64_t vram;			/* bytes, may be 0 */
	uint32_t ttl;			/* seconds, checked against policy */
	unsigned dev;			/* device index */
	const void *bind;		/* token to bind to, or NULL */
	const struct lease_ops *ops;	/* the creator's, or NULL */
	void *ops_ctx;
};

/*
 * lease_for_each - walk @lt's leases inside an RCU read-side section, @l
 * set to each. liburcu's cds_lfht_for_each_entry computes the container
 * of the NULL end node, which UBSan rightly rejects; this never does.
 */
#define lease_for_each(lt, iter, l)					\
	for (cds_lfht_first((lt)->ht, iter);				\
	     cds_lfht_iter_get_node(iter) &&				\
	     ((l) = caa_container_of(cds_lfht_iter_get_node(iter),	\
				     struct lease, node));		\
	     cds_lfht_next((lt)->ht, iter))

/*
 * lease_table_init - an empty table over the broker's devices,
 * accounting, policy, timer queue and clock (all borrowed). 0 or -ENOMEM.
 */
int lease_table_init(struct lease_table *lt, struct dev_set *devs,
		     struct account *acct, const struct policy *pol,
		     struct timer_base *timers, const struct gl_clock *clock);

/* lease_table_listen - register the internal listeners (the launch
 * queue, the io area maker); before the first lease. */
void lease_table_listen(struct lease_table *lt,
			const struct lease_work_ops *work, void *work_ctx,
			lease_io_new_fn *io_new, void *io_ctx);

/* lease_table_drop_all - drop every lease (memory freed, no owner
 * operation called). Sleeps. */
void lease_table_drop_all(struct lease_table *lt);

/* lease_table_destroy - after lease_table_drop_all and with nothing
 * able to take a reference again: wait for RCU callbacks, free every
 * lease struct left (the kernel's lookup references die with the mount)
 * and the table. */
void lease_table_destroy(struct lease_table *lt);

/* lease_table_check_ttl - 0 when 1 <= @secs <= max_ttl, else -EINVAL. */
int lease_table_check_ttl(struct lease_table *lt, uint64_t secs);

/*
 * lease_table_dev_failed - device @d failed: wait for the running work
 * of each of its leases (the write side of mem_lock), so none still
 * points into the device, and record @msg as their last_error. Sleeps.
 */
void lease_table_dev_failed(struct lease_table *lt, struct dev *d,
			    const char *msg);

/*
 * lease_acquire - create lease @req->name with its memory reserved, its
 * deadline queued and (with @req->bind) bound, all or nothing. On success
 * *out holds a reference the caller puts. Returns 0, -EINVAL (name, ttl),
 * -ENOENT (device), -EEXIST (taken, or a name leases/ holds itself: ctl),
 * -EDQUOT, -ENOSPC, -ENOMEM. mkdir and leases/ctl both come here: this is
 * the one name check.
 */
int lease_acquire(struct lease_table *lt, const struct lease_req *req,
		  struct lease **out);

/* lease_lookup - the lease named @name with a reference, or NULL. Takes
 * its own RCU read-side section; callable from any thread. */
struct lease *lease_lookup(struct lease_table *lt, const char *name);

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
 * With @notify, its creator hears on_drop: every drop its creator did not
 * ask for itself (bind release, a model's unload) reaches it this way.
 * Returns 0, -EACCES, -ENOENT (already dropped).
 */
int lease_drop(struct lease *l, uid_t uid, bool notify);

/*
 * lease_expire - the expiry timer's half: cancel its launches with
 * EKEYEXPIRED, take the memory off (the device counts it free) into @d,
 * state expired; the caller gives @d back with lease_release_detached(), so
 * that many leases due together turn expired before any of their pages
 * is freed. With @wait, all is done when it returns; without, it never
 * waits for a launch: when one runs, @d stays empty and the launch's
 * executor frees the memory as soon as it has stopped (milliseconds).
 */
void lease_expire(struct lease *l, bool wait, struct lease_detached *d);

/* lease_release_detached - give @d's memory back to its device and empty
 * it. No lock held. */
void lease_release_detached(struct lease_detached *d);

/*
 * lease_state_err - the one answer to "may this lease be used": 0 for an
 * active lease, -EKEYEXPIRED for an expired one, -ENOENT for a dropped
 * one (no such lease any more, as for a name that never was). Every
 * operation on a lease, launches included, gives this; only work that was
 * already queued or running when the drop began ends with the drop's
 * ECANCELED (launch_close). Read lock-free; under mem_lock (either side)
 * it stays true until unlocked.
 */
int lease_state_err(struct lease *l);

/*
 * struct lease_mem - a lease's memory as work on it sees it: filled by
 * lease_mem_get() under the read side of mem_lock and valid until
 * lease_mem_put(); nothing in it moves or is freed meanwhile (resize,
 * io changes, expiry and drop take the write side).
 */
struct lease_mem {
	struct dev *dev;		/* the lease's device */
	struct dev_region *region;	/* NULL when vram == 0 */
	uint64_t vram;			/* bytes of region */
	struct lease_io *io;		/* NULL without an io area */
};

/*
 * lease_mem_get - take the read side of @l's mem_lock and fill @m.
 * Returns lease_state_err(@l); the lock is held whatever it returns, and
 * lease_mem_put() drops it. Never with mem_lock already held.
 */
int lease_mem_get(struct lease *l, struct lease_mem *m);
void lease_mem_put(struct lease *l);

/* lease_dev - @l's device; fixed for the lease's life. */
static inline struct dev *lease_dev(const struct lease *l)
{
	return l->dev;
}

/* lease_check - lease_state_err under the read side of mem_lock. */
int lease_check(struct lease *l);

/* lease_resize - reserve exactly @bytes, keeping the common prefix.
 * Returns 0, -EKEYEXPIRED, -ENOENT (dropped), -ENOSPC, -EDQUOT, -ENOMEM. */
int lease_resize(struct lease *l, uint64_t bytes);

/*
 * lease_set_io - give @l an io area of @bytes made by the table's io_new
 * (a ring), replacing any old one, or none with 0; charged like vram.
 * Returns 0, -EINVAL (size), -ENOSPC, -EDQUOT, -EKEYEXPIRED, -ENOENT
 * (dropped), -ENOMEM, or io_new's -errno. Sleeps.
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
struct lease *lease_find(struct lease_table *lt,
			 bool (*match)(struct lease *l, const void *arg),
			 const void *arg);

/* lease_is_bound_to - whether @l is bound to @token now. Lock-free. */
bool lease_is_bound_to(struct lease *l, const void *token);

/* lease_release_token - drop every lease bound to @token (an open file
 * being closed). Sleeps; outside any RCU read-side section. */
void lease_release_token(struct lease_table *lt, const void *token);

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

/* lease_notify_data - tell @l's creator a launch wrote its memory
 * (on_data). No lock held. */
void lease_notify_data(struct lease *l);

/* lease_zero_from - clear the bytes from @off to the end (truncate)
 * under the read side of mem_lock. 0, -EKEYEXPIRED, -ENOENT, or the
 * device's -errno. */
int lease_zero_from(struct lease *l, uint64_t off);

/* lease_expires_in - whole seconds until the deadline, 0 when past. */
uint64_t lease_expires_in(struct lease *l);

/* lease_expires_in_ns - ns until the deadline (lease clock), 0 when
 * past. Lock-free. */
uint64_t lease_expires_in_ns(struct lease *l);

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
