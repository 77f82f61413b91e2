/* SPDX-License-Identifier: MIT */
/*
 * The lease table and a lease's lifecycle: acquire, lookup, renew, bind,
 * expiry and drop, and its ctl and stats text. Its memory (resize, the io
 * region, copies) is lease-mem.c.
 *
 * Invariants: a lease is in the table from acquire until the one
 * successful cds_lfht_del (rmdir, bind release or teardown); whoever's
 * del succeeds frees the memory and puts the table's reference. Memory
 * (region, accounting, dev->leases) is held exactly while state is
 * LEASE_ACTIVE, and changes only under the write side of mem_lock.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/parse.h"
#include "daemon/probes.h"
#include "daemon/ring.h"
#include "daemon/strbuf.h"

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

struct cds_lfht *lease_table_new(void)
{
	return cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
			    NULL);
}

static void lease_free(struct lease *l)
{
	pthread_mutex_destroy(&l->io_lock);
	launch_queue_destroy(&l->lq);
	pthread_rwlock_destroy(&l->mem_lock);
	gl_last_error_destroy(&l->last_error);
	free(l);
}

static void lease_free_rcu(struct rcu_head *head)
{
	struct lease *l = caa_container_of(head, struct lease, rcu);
	struct broker *b = l->b;

	assert(atomic_load(&l->refs) == 0);	/* the last put queued it */
	pthread_mutex_lock(&b->all_lock);
	cds_list_del(&l->all);
	pthread_mutex_unlock(&b->all_lock);
	lease_free(l);
}

void lease_free_all(struct broker *b)
{
	struct lease *l, *tmp;

	pthread_mutex_lock(&b->all_lock);
	cds_list_for_each_entry_safe(l, tmp, &b->all_leases, all) {
		cds_list_del(&l->all);
		lease_free(l);
	}
	pthread_mutex_unlock(&b->all_lock);
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

struct lease *lease_lookup(struct broker *b, const char *name)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct lease *l = NULL;

	rcu_read_lock();
	cds_lfht_lookup(b->leases, lease_hash(name), lease_match, name, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node) {
		l = caa_container_of(node, struct lease, node);
		if (!lease_get_unless_zero(l))
			l = NULL;
	}
	rcu_read_unlock();
	return l;
}

static struct lease *lease_alloc(struct broker *b, const struct lease_req *req,
				 struct dev *dev)
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
	if (launch_queue_init(&l->lq))
		goto err_mutex;
	if (pthread_mutex_init(&l->io_lock, NULL))
		goto err_lq;
	cds_lfht_node_init(&l->node);
	atomic_init(&l->refs, 1);
	l->b = b;
	l->id = atomic_fetch_add(&b->next_id, 1);
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
	reaper_lease_init(l);
	atomic_init(&l->bound_to, req->bind);
	pthread_mutex_lock(&b->all_lock);
	cds_list_add(&l->all, &b->all_leases);
	pthread_mutex_unlock(&b->all_lock);
	return l;

err_lq:
	launch_queue_destroy(&l->lq);
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
 * mem_lock held (write) and io_lock, after its ring's poller stopped and
 * its launches ended; lease_release_detached() gives it back to the
 * device after the locks are dropped.
 */
static void lease_detach_memory(struct lease *l, struct lease_detached *d)
{
	uint64_t bytes = atomic_load(&l->vram);

	d->ring = l->ring;
	d->region = l->region;
	if (l->ring) {
		account_uncharge(&l->b->acct, l->dev, l->owner,
				 l->ring->size);
		dev_unpin(l->dev, l->ring->map);	/* before the unmap */
	}
	l->ring = NULL;
	l->region = NULL;
	account_uncharge(&l->b->acct, l->dev, l->owner,
			 dev_footprint(l->dev, bytes));
	atomic_store(&l->vram, 0);
	atomic_fetch_sub(&l->dev->leases, 1);
}

void lease_release_detached(struct lease_detached *d)
{
	if (d->ring)
		ring_destroy(d->ring);
	if (d->region)
		d->region->dev->ops->release(d->region);
	d->ring = NULL;
	d->region = NULL;
}

/* Free the memory of an active lease, locks held as for detach. */
static void lease_free_memory(struct lease *l)
{
	struct lease_detached d;

	lease_detach_memory(l, &d);
	lease_release_detached(&d);
}

int lease_acquire(struct broker *b, const struct lease_req *req,
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
	if (broker_check_ttl(b, req->ttl))
		return gl_fail_name(req->name, -EINVAL,
				    "ttl %u outside 1..max_ttl", req->ttl);
	dev = dev_set_get(&b->devs, req->dev);
	if (!dev)
		return gl_fail_name(req->name, -ENOENT, "no device %u",
				    req->dev);
	l = lease_lookup(b, req->name);
	if (l) {
		lease_put(l);
		return -EEXIST;
	}
	err = account_charge(&b->acct, dev, req->uid,
			     dev_footprint(dev, req->vram));
	if (err == -EDQUOT)
		return gl_fail_name(req->name, err,
				    "uid %u quota: %llu bytes held, %llu asked",
				    (unsigned)req->uid,
				    (unsigned long long)account_used(&b->acct,
								     req->uid),
				    (unsigned long long)req->vram);
	if (err)
		return gl_fail_name(req->name, err,
				    "device %u: %llu bytes asked, %llu free",
				    req->dev, (unsigned long long)req->vram,
				    (unsigned long long)(dev->capacity -
							 atomic_load(&dev->used)));
	l = lease_alloc(b, req, dev);
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
	node = cds_lfht_add_unique(b->leases, lease_hash(l->name), lease_match,
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
	err = reaper_add(&b->reaper, l,
			 clock_now(&b->clock) + (int64_t)req->ttl * NSEC_PER_SEC);
	if (err) {
		lease_drop(b, l, 0, false);
		lease_put(l);
		return gl_fail_name(req->name, err, "cannot queue the deadline");
	}
	atomic_fetch_add(&b->metrics.acquired, 1);
	PROBE_LEASE_ACQUIRE(l);
	*out = l;
	return 0;

err_free:
	lease_put(l);	/* never visible: frees through the same path */
err_uncharge:
	account_uncharge(&b->acct, dev, req->uid,
			 dev_footprint(dev, req->vram));
	return gl_fail_name(req->name, err, "cannot reserve %llu bytes",
			    (unsigned long long)req->vram);
}

int lease_drop(struct broker *b, struct lease *l, uid_t uid, bool notify)
{
	struct lease_detached d = { 0 };
	uint64_t bytes;
	int64_t age;
	int ret;

	if (uid != 0 && uid != l->owner)
		return gl_fail(l, -EACCES, "uid %u may not drop it",
			       (unsigned)uid);
	rcu_read_lock();
	ret = cds_lfht_del(b->leases, &l->node);
	rcu_read_unlock();
	if (ret)
		return -ENOENT;
	reaper_remove(&b->reaper, l);
	atomic_store(&l->bound_to, NULL);
	/* queued launches fail, the running one stops, then memory goes */
	launch_close(l, -ECANCELED, true);
	pthread_mutex_lock(&l->io_lock);
	if (l->ring)
		ring_stop(l->ring);
	pthread_rwlock_wrlock(&l->mem_lock);
	bytes = atomic_load(&l->vram);
	if (l->state == LEASE_ACTIVE)
		lease_detach_memory(l, &d);
	l->state = LEASE_DROPPED;
	pthread_rwlock_unlock(&l->mem_lock);
	pthread_mutex_unlock(&l->io_lock);
	lease_release_detached(&d);
	age = clock_mono() - l->born_mono;
	atomic_fetch_add(&b->metrics.dropped, 1);
	atomic_fetch_add(&b->metrics.dropped_ns, (uint64_t)age);
	PROBE_LEASE_DROP(l, bytes, age);
	if (notify)
		broker_emit(b, l, LEASE_EV_DROPPED);
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
	if (l->ring)
		ring_stop(l->ring);
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
	atomic_fetch_add(&l->b->metrics.expired, 1);
	PROBE_LEASE_EXPIRE(l, bytes);
	gl_fail(l, -EKEYEXPIRED, "ttl ran out; memory freed");
	broker_emit(l->b, l, LEASE_EV_EXPIRED);
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
	d->ring = NULL;
	/* in-flight work ends with EKEYEXPIRED, never a partial result */
	if (wait)
		launch_close(l, -EKEYEXPIRED, true);
	else if (!launch_close_async(l, -EKEYEXPIRED, lease_expire_finish))
		return;	/* the launch's executor finishes it */
	lease_expire_detach(l, d);
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
	struct broker *b = l->b;
	uint32_t s;
	int err;

	if (secs && broker_check_ttl(b, secs))
		return gl_fail(l, -EINVAL, "%u seconds outside 1..max_ttl",
			       secs);
	err = lease_check(l);
	if (err)
		return gl_fail(l, err, "renew of a lease that is gone");
	s = secs ? secs : atomic_load(&l->ttl);
	err = reaper_update(&b->reaper, l,
			    clock_now(&b->clock) + (int64_t)s * NSEC_PER_SEC);
	if (err)
		return gl_fail(l, err, "renew too late: expiring");
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

struct lease *lease_find(struct broker *b,
			 bool (*match)(struct lease *l, const void *arg),
			 const void *arg)
{
	struct cds_lfht_iter iter;
	struct lease *l, *found = NULL;

	rcu_read_lock();
	lease_for_each(b->leases, &iter, l) {
		if (match(l, arg) && lease_get_unless_zero(l)) {
			found = l;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

static bool lease_bound_to(struct lease *l, const void *token)
{
	return atomic_load(&l->bound_to) == token;
}

void lease_release_token(struct broker *b, const void *token)
{
	struct lease *l;

	/* a drop sleeps: never inside the read-side section that found it;
	 * a dropped lease is out of the table, so this ends */
	while ((l = lease_find(b, lease_bound_to, token))) {
		gl_info("lease %s: its bound file was closed; dropping",
			l->name);
		lease_drop(b, l, 0, true);
		lease_put(l);
	}
}

uint64_t lease_expires_in(struct lease *l)
{
	int64_t left = timer_deadline(&l->expiry) - clock_now(&l->b->clock);

	return left > 0 ? (uint64_t)(left / NSEC_PER_SEC) : 0;
}

static const char *lease_state_name(struct lease *l)
{
	return l->state == LEASE_ACTIVE ? GL_STATE_ACTIVE : GL_STATE_EXPIRED;
}

void lease_show(struct lease *l, struct strbuf *sb)
{
	char last[LOG_LAST_ERROR_LEN];
	enum lease_state state;

	pthread_rwlock_rdlock(&l->mem_lock);
	state = l->state;
	strbuf_printf(sb, "name %s\nstate %s\ndevice %d\nvram %llu\nused %llu\n",
		      l->name, lease_state_name(l), l->dev->index,
		      (unsigned long long)atomic_load(&l->vram),
		      (unsigned long long)(l->ring ? l->ring->size : 0));
	pthread_rwlock_unlock(&l->mem_lock);
	strbuf_printf(sb, "ttl %u\nexpires_in %llu\nowner %u\nbound %d\n"
			  "launches %llu\nqueued %u\nrunning %u\n"
			  "queue_max %u\n",
		      atomic_load(&l->ttl),
		      (unsigned long long)(state == LEASE_ACTIVE ?
					   lease_expires_in(l) : 0),
		      (unsigned)l->owner, atomic_load(&l->bound_to) != NULL,
		      (unsigned long long)atomic_load(&l->lq.launches),
		      atomic_load(&l->lq.nr_queued), launch_running(l),
		      GL_LAUNCH_QUEUE_MAX);
	gl_last_error_get(&l->last_error, last, sizeof(last));
	strbuf_printf(sb, "last_error %s\n", last[0] ? last : "-");
}

void lease_show_stats(struct lease *l, struct strbuf *sb)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	strbuf_printf(sb,
		      "reads %llu\nwrites %llu\nbytes_in %llu\n"
		      "bytes_out %llu\nrenews %llu\nresizes %llu\nage %lld\n"
		      "launches %llu\nlaunch_failures %llu\nlaunch_ns %llu\n",
		      (unsigned long long)atomic_load(&l->stats.reads),
		      (unsigned long long)atomic_load(&l->stats.writes),
		      (unsigned long long)atomic_load(&l->stats.bytes_in),
		      (unsigned long long)atomic_load(&l->stats.bytes_out),
		      (unsigned long long)atomic_load(&l->stats.renews),
		      (unsigned long long)atomic_load(&l->stats.resizes),
		      (long long)(now.tv_sec - l->born.tv_sec),
		      (unsigned long long)atomic_load(&l->lq.launches),
		      (unsigned long long)atomic_load(&l->lq.failures),
		      (unsigned long long)atomic_load(&l->lq.ns));
}

void lease_set_error(struct lease *l, const char *msg)
{
	gl_last_error_set(&l->last_error, msg);
}
