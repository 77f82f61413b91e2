/* SPDX-License-Identifier: MIT */
/*
 * The lease table and a lease's lifecycle: acquire, lookup, renew, bind,
 * expiry and drop, and its ctl and stats text. Its memory (resize, the io
 * region, copies) is lease-mem.c.
 *
 * Invariants: a lease is in the table from acquire until the one
 * successful cds_lfht_del (rmdir, bind release or teardown); whoever's
 * del succeeds frees the memory and puts the table's reference. Memory
 * (region, io area, accounting, dev->leases) is held exactly while state
 * is LEASE_ACTIVE, and changes only under the write side of mem_lock.
 * The lease calls no module above it by name: work on it is stopped
 * through lt->work, io areas made through lt->io_new and released
 * through their own ops, and its creator hears events through l->ops.
 * A queued expiry timer stands for one reference; whoever unqueues it
 * (the firing or lease_drop's timer_del) owns that reference.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/account.h"
#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/parse.h"
#include "daemon/probes.h"

static unsigned long lease_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return (unsigned long)h;
}

static int lease_match(struct cds_lfht_node *node, const void *key)
{
	struct lease *l = caa_container_of(node, struct lease, node);

	return !strcmp(l->name, key);
}

/*
 * Names leases/ holds itself (fusefs/ino.c's fixed children of leases/): a
 * lease may never take one, or its directory could never be reached.
 */
static const char *const lease_reserved[] = { GL_FILE_CTL };

/* 0 for a name a lease may take; -EINVAL (syntax), -EEXIST (reserved). */
static int lease_name_check(const char *name)
{
	size_t i;

	if (parse_name(name))
		return -EINVAL;
	for (i = 0; i < sizeof(lease_reserved) / sizeof(lease_reserved[0]); i++)
		if (!strcmp(name, lease_reserved[i]))
			return -EEXIST;
	return 0;
}

static void lease_free(struct lease *l)
{
	struct lease_table *lt = l->lt;

	if (l->lq && lt->work && lt->work->destroy)
		lt->work->destroy(lt->work_ctx, l);
	pthread_mutex_destroy(&l->io_lock);
	pthread_rwlock_destroy(&l->mem_lock);
	gl_last_error_destroy(&l->last_error);
	free(l);
}

static void lease_free_rcu(struct rcu_head *head)
{
	struct lease *l = caa_container_of(head, struct lease, rcu);
	struct lease_table *lt = l->lt;

	assert(atomic_load(&l->refs) == 0);	/* the last put queued it */
	pthread_mutex_lock(&lt->all_lock);
	cds_list_del(&l->all);
	pthread_mutex_unlock(&lt->all_lock);
	lease_free(l);
}

void lease_table_destroy(struct lease_table *lt)
{
	struct lease *l, *tmp;

	rcu_barrier();
	pthread_mutex_lock(&lt->all_lock);
	cds_list_for_each_entry_safe(l, tmp, &lt->all, all) {
		cds_list_del(&l->all);
		lease_free(l);
	}
	pthread_mutex_unlock(&lt->all_lock);
	cds_lfht_destroy(lt->ht, NULL);
	lt->ht = NULL;
	pthread_mutex_destroy(&lt->all_lock);
}

void lease_get(struct lease *l)
{
	long r = atomic_fetch_add(&l->refs, 1);

	assert(r > 0);	/* only a holder may take another reference */
	(void)r;
}

bool lease_get_unless_zero(struct lease *l)
{
	long r = atomic_load(&l->refs);

	do {
		if (r == 0)
			return false;
	} while (!atomic_compare_exchange_weak(&l->refs, &r, r + 1));
	return true;
}

void lease_put(struct lease *l)
{
	long r = atomic_fetch_sub(&l->refs, 1);

	assert(r > 0);
	if (r == 1)
		call_rcu(&l->rcu, lease_free_rcu);
}

struct lease *lease_lookup(struct lease_table *lt, const char *name)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct lease *l = NULL;

	rcu_read_lock();
	cds_lfht_lookup(lt->ht, lease_hash(name), lease_match, name, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node) {
		l = caa_container_of(node, struct lease, node);
		if (!lease_get_unless_zero(l))
			l = NULL;
	}
	rcu_read_unlock();
	return l;
}

static void lease_expiry_fire(struct timer *t, struct timer_round *rd);

/* The queue is torn down with @t queued: drop the reference it held. */
static void lease_expiry_cancel(struct timer *t)
{
	lease_put(caa_container_of(t, struct lease, expiry));
}

static struct lease *lease_alloc(struct lease_table *lt,
				 const struct lease_req *req, struct dev *dev)
{
	struct lease *l;

	/* 64-byte aligned: fusefs/ packs a node kind into the low bits */
	if (posix_memalign((void **)&l, 64, sizeof(*l)))
		return NULL;
	pthread_rwlockattr_t attr;
	int err;

	memset(l, 0, sizeof(*l));
	/* writers (resize, expiry, drop) must not starve behind launches */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(&l->mem_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (err)
		goto err_free;
	if (gl_last_error_init(&l->last_error))
		goto err_rwlock;
	if (pthread_mutex_init(&l->io_lock, NULL))
		goto err_mutex;
	l->lt = lt;
	if (lt->work && lt->work->create && lt->work->create(lt->work_ctx, l))
		goto err_io;
	cds_lfht_node_init(&l->node);
	atomic_init(&l->refs, 1);
	l->ops = req->ops;
	l->ops_ctx = req->ops_ctx;
	l->id = atomic_fetch_add(&lt->next_id, 1);
	strcpy(l->name, req->name);
	l->owner = req->uid;
	l->group = req->gid;
	l->dev = dev;
	clock_gettime(CLOCK_REALTIME, &l->born);
	l->born_mono = clock_mono();
	atomic_init(&l->data_mtime,
		    l->born.tv_sec * NSEC_PER_SEC + l->born.tv_nsec);
	l->state = LEASE_ACTIVE;
	atomic_init(&l->ttl, req->ttl);
	timer_init(&l->expiry, lease_expiry_fire);
	timer_set_cancel(&l->expiry, lease_expiry_cancel);
	atomic_init(&l->bound_to, req->bind);
	pthread_mutex_lock(&lt->all_lock);
	cds_list_add(&l->all, &lt->all);
	pthread_mutex_unlock(&lt->all_lock);
	return l;

err_io:
	pthread_mutex_destroy(&l->io_lock);
err_mutex:
	gl_last_error_destroy(&l->last_error);
err_rwlock:
	pthread_rwlock_destroy(&l->mem_lock);
err_free:
	free(l);
	return NULL;
}

/*
 * Take the memory of an active lease off it and out of the accounting
 * (from here the device's free bytes count it) into @d. Called with
 * mem_lock held (write) and io_lock, after its io area stopped and its
 * launches ended; lease_release_detached() gives it back to the device
 * after the locks are dropped.
 */
static void lease_detach_memory(struct lease *l, struct lease_detached *d)
{
	struct lease_table *lt = l->lt;
	uint64_t bytes = atomic_load(&l->vram);

	d->io = l->io;
	d->region = l->region;
	if (l->io) {
		account_uncharge(lt->acct, l->dev, l->owner, l->io->size);
		dev_unpin(l->dev, l->io->map);	/* before the unmap */
	}
	l->io = NULL;
	l->region = NULL;
	account_uncharge(lt->acct, l->dev, l->owner,
			 dev_footprint(l->dev, bytes));
	atomic_store(&l->vram, 0);
	atomic_fetch_sub(&l->dev->leases, 1);
}

void lease_release_detached(struct lease_detached *d)
{
	if (d->io)
		d->io->ops->release(d->io);
	if (d->region)
		d->region->dev->ops->release(d->region);
	d->io = NULL;
	d->region = NULL;
}

/* Free the memory of an active lease, locks held as for detach. */
static void lease_free_memory(struct lease *l)
{
	struct lease_detached d;

	lease_detach_memory(l, &d);
	lease_release_detached(&d);
}

/* The creator's owner operation for @ev, if it has one. No lock held. */
static void lease_emit(struct lease *l, enum lease_event ev)
{
	const struct lease_ops *ops = l->ops;
	void (*fn)(void *ctx, struct lease *l) = NULL;

	if (!ops)
		return;
	switch (ev) {
	case LEASE_EV_RESIZED:
		fn = ops->on_resize;
		break;
	case LEASE_EV_DATA:
		fn = ops->on_data;
		break;
	case LEASE_EV_EXPIRED:
		fn = ops->on_expire;
		break;
	case LEASE_EV_DROPPED:
		fn = ops->on_drop;
		break;
	}
	if (fn)
		fn(l->ops_ctx, l);
}

void lease_notify_data(struct lease *l)
{
	lease_emit(l, LEASE_EV_DATA);
}

/* Stop @l's work with @err (lt->work); see struct lease_work_ops. */
static bool lease_stop_work(struct lease *l, int err, bool wait,
			    void (*idle)(struct lease *l))
{
	struct lease_table *lt = l->lt;

	if (!lt->work || !lt->work->stop)
		return true;
	return lt->work->stop(lt->work_ctx, l, err, wait, idle);
}

/* Stop @l's io area, if any. io_lock held, not mem_lock. */
static void lease_stop_io(struct lease *l)
{
	if (l->io)
		l->io->ops->stop(l->io);
}

/* Queue @l's expiry at @deadline; the queued timer holds a reference. */
static int lease_timer_add(struct lease *l, int64_t deadline)
{
	int err;

	lease_get(l);
	err = timer_add(l->lt->timers, &l->expiry, deadline);
	if (err)
		lease_put(l);
	return err;
}

/* Unqueue @l's expiry, if queued, and drop the queue's reference. */
static void lease_timer_del(struct lease *l)
{
	if (timer_del(l->lt->timers, &l->expiry))
		lease_put(l);
}

int lease_acquire(struct lease_table *lt, const struct lease_req *req,
		  struct lease **out)
{
	struct cds_lfht_node *node;
	struct lease *l;
	struct dev *dev;
	int err;

	err = lease_name_check(req->name);
	if (err == -EEXIST)
		return gl_fail_name(req->name, err, "reserved name");
	if (err)
		return gl_fail_name(req->name, err, "invalid lease name");
	if (lease_table_check_ttl(lt, req->ttl))
		return gl_fail_name(req->name, -EINVAL,
				    "ttl %u outside 1..max_ttl", req->ttl);
	dev = dev_set_get(lt->devs, req->dev);
	if (!dev)
		return gl_fail_name(req->name, -ENOENT, "no device %u",
				    req->dev);
	if (atomic_load(&dev->state) == DEV_FAILED)
		return gl_fail_name(req->name, -EIO,
				    "device %u (%s) failed: %s", req->dev,
				    dev->name, dev->reason);
	l = lease_lookup(lt, req->name);
	if (l) {
		lease_put(l);
		return -EEXIST;
	}
	err = account_charge(lt->acct, dev, req->uid,
			     dev_footprint(dev, req->vram));
	if (err == -EDQUOT)
		return gl_fail_name(req->name, err,
				    "uid %u quota: %llu bytes held, %llu asked",
				    (unsigned)req->uid,
				    (unsigned long long)account_used(lt->acct,
								     req->uid),
				    (unsigned long long)req->vram);
	if (err)
		return gl_fail_name(req->name, err,
				    "device %u: %llu bytes asked, %llu free",
				    req->dev, (unsigned long long)req->vram,
				    (unsigned long long)(dev->capacity -
							 atomic_load(&dev->used)));
	l = lease_alloc(lt, req, dev);
	if (!l) {
		err = -ENOMEM;
		goto err_uncharge;
	}
	if (req->vram) {
		err = dev->ops->reserve(dev, req->vram, &l->region);
		if (err)
			goto err_free;
	}
	atomic_store(&l->vram, req->vram);
	atomic_fetch_add(&dev->leases, 1);

	rcu_read_lock();
	node = cds_lfht_add_unique(lt->ht, lease_hash(l->name), lease_match,
				   l->name, &l->node);
	rcu_read_unlock();
	if (node != &l->node) {
		/* lost a race for the name: never visible, free at once */
		pthread_rwlock_wrlock(&l->mem_lock);
		lease_free_memory(l);
		pthread_rwlock_unlock(&l->mem_lock);
		lease_put(l);
		return -EEXIST;
	}
	lease_get(l);	/* the caller's; the table keeps the first */
	err = lease_timer_add(l, clock_now(lt->clock) +
				 (int64_t)req->ttl * NSEC_PER_SEC);
	if (err) {
		lease_drop(l, 0, false);
		lease_put(l);
		return gl_fail_name(req->name, err, "cannot queue the deadline");
	}
	atomic_fetch_add(&lt->totals.acquired, 1);
	PROBE_LEASE_ACQUIRE(l);
	*out = l;
	return 0;

err_free:
	lease_put(l);	/* never visible: frees through the same path */
err_uncharge:
	account_uncharge(lt->acct, dev, req->uid,
			 dev_footprint(dev, req->vram));
	return gl_fail_name(req->name, err, "cannot reserve %llu bytes",
			    (unsigned long long)req->vram);
}

int lease_drop(struct lease *l, uid_t uid, bool notify)
{
	struct lease_table *lt = l->lt;
	struct lease_detached d = { 0 };
	uint64_t bytes;
	int64_t age;
	int ret;

	if (uid != 0 && uid != l->owner)
		return gl_fail(l, -EACCES, "uid %u may not drop it",
			       (unsigned)uid);
	rcu_read_lock();
	ret = cds_lfht_del(lt->ht, &l->node);
	rcu_read_unlock();
	if (ret)
		return -ENOENT;
	lease_timer_del(l);
	atomic_store(&l->bound_to, NULL);
	/* queued launches fail, the running one stops, then memory goes */
	lease_stop_work(l, -ECANCELED, true, NULL);
	pthread_mutex_lock(&l->io_lock);
	lease_stop_io(l);
	pthread_rwlock_wrlock(&l->mem_lock);
	bytes = atomic_load(&l->vram);
	if (l->state == LEASE_ACTIVE)
		lease_detach_memory(l, &d);
	l->state = LEASE_DROPPED;
	pthread_rwlock_unlock(&l->mem_lock);
	pthread_mutex_unlock(&l->io_lock);
	lease_release_detached(&d);
	age = clock_mono() - l->born_mono;
	atomic_fetch_add(&lt->totals.dropped, 1);
	atomic_fetch_add(&lt->totals.dropped_ns, (uint64_t)age);
	PROBE_LEASE_DROP(l, bytes, age);
	if (notify)
		lease_emit(l, LEASE_EV_DROPPED);
	lease_put(l);	/* the table's reference */
	return 0;
}

/* The second half of an expiry, once no launch of @l runs: take the
 * memory off into @d and turn expired. */
static void lease_expire_detach(struct lease *l, struct lease_detached *d)
{
	bool expired = false;
	uint64_t bytes;

	pthread_mutex_lock(&l->io_lock);
	lease_stop_io(l);
	pthread_rwlock_wrlock(&l->mem_lock);
	bytes = atomic_load(&l->vram);
	if (l->state == LEASE_ACTIVE) {
		lease_detach_memory(l, d);
		l->state = LEASE_EXPIRED;
		expired = true;
	}
	pthread_rwlock_unlock(&l->mem_lock);
	pthread_mutex_unlock(&l->io_lock);
	if (!expired)
		return;
	atomic_fetch_add(&l->lt->totals.expired, 1);
	PROBE_LEASE_EXPIRE(l, bytes);
	gl_fail(l, -EKEYEXPIRED, "ttl ran out; memory freed");
	lease_emit(l, LEASE_EV_EXPIRED);
}

/* An expiry finished by the executor of @l's last launch. */
static void lease_expire_finish(struct lease *l)
{
	struct lease_detached d = { 0 };

	lease_expire_detach(l, &d);
	lease_release_detached(&d);
}

void lease_expire(struct lease *l, bool wait, struct lease_detached *d)
{
	d->region = NULL;
	d->io = NULL;
	/* in-flight work ends with EKEYEXPIRED, never a partial result */
	if (!lease_stop_work(l, -EKEYEXPIRED, wait, lease_expire_finish))
		return;	/* the launch's executor finishes it */
	lease_expire_detach(l, d);
}

/* Pages go back last: freeing them is the slow part of an expiry. */
static void lease_expiry_release(void *arg)
{
	struct lease *l = arg;

	lease_release_detached(&l->spoils);
	lease_put(l);	/* the queued timer's */
}

/* @l's deadline: expire it and give its memory back at the round's end,
 * so that leases due together all turn expired before the first of
 * their pages is freed. From the timer thread it never waits for a
 * launch, so one lease's work never delays another's deadline. */
static void lease_expiry_fire(struct timer *t, struct timer_round *rd)
{
	struct lease *l = caa_container_of(t, struct lease, expiry);

	lease_expire(l, rd->sync, &l->spoils);
	timer_defer(rd, lease_expiry_release, l);
}

int lease_state_err(struct lease *l)
{
	switch (atomic_load(&l->state)) {
	case LEASE_ACTIVE:
		return 0;
	case LEASE_EXPIRED:
		return -EKEYEXPIRED;
	default:
		return -ENOENT;
	}
}

int lease_check(struct lease *l)
{
	int err;

	pthread_rwlock_rdlock(&l->mem_lock);
	err = lease_state_err(l);
	pthread_rwlock_unlock(&l->mem_lock);
	return err;
}

int lease_renew(struct lease *l, uint32_t secs, bool set_ttl)
{
	struct lease_table *lt = l->lt;
	uint32_t s;
	int err;

	if (secs && lease_table_check_ttl(lt, secs))
		return gl_fail(l, -EINVAL, "%u seconds outside 1..max_ttl",
			       secs);
	err = lease_check(l);
	if (err)
		return gl_fail(l, err, "renew of a lease that is gone");
	s = secs ? secs : atomic_load(&l->ttl);
	/* a timer that fired or is firing can no longer save it */
	if (timer_mod(lt->timers, &l->expiry,
		      clock_now(lt->clock) + (int64_t)s * NSEC_PER_SEC))
		return gl_fail(l, -EKEYEXPIRED, "renew too late: expiring");
	if (set_ttl)
		atomic_store(&l->ttl, secs);
	atomic_fetch_add(&l->stats.renews, 1);
	return 0;
}

int lease_bind(struct lease *l, const void *token)
{
	int err = lease_check(l);

	if (err)
		return gl_fail(l, err, "bind of a lease that is gone");
	atomic_store(&l->bound_to, token);
	return 0;
}

uint64_t lease_expires_in_ns(struct lease *l)
{
	int64_t left = timer_deadline(&l->expiry) - clock_now(l->lt->clock);

	return left > 0 ? (uint64_t)left : 0;
}

uint64_t lease_expires_in(struct lease *l)
{
	return lease_expires_in_ns(l) / NSEC_PER_SEC;
}

void lease_set_error(struct lease *l, const char *msg)
{
	gl_last_error_set(&l->last_error, msg);
}
