/* SPDX-License-Identifier: MIT */
/*
 * A lease's memory: resizing its reservation, its io area (made by the
 * table's io_new: a ring), and the copies into and out of it.
 *
 * Invariant: the region, the io region and vram change only under the
 * write side of mem_lock; copies and launches hold the read side, so
 * memory never moves or vanishes under them. Accounting is charged before
 * any memory is touched and given back on every failure path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/account.h"
#include "daemon/dev/dev.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "uapi/ring.h"

int lease_mem_get(struct lease *l, struct lease_mem *m)
{
	pthread_rwlock_rdlock(&l->mem_lock);
	m->dev = l->dev;
	m->region = l->region;
	m->vram = atomic_load(&l->vram);
	m->io = l->io;
	return lease_state_err(l);
}

void lease_mem_put(struct lease *l)
{
	pthread_rwlock_unlock(&l->mem_lock);
}

int lease_resize(struct lease *l, uint64_t bytes)
{
	const struct dev_ops *ops = l->dev->ops;
	struct lease_table *lt = l->lt;
	uint64_t old, charge, refund;
	int err;

	pthread_rwlock_wrlock(&l->mem_lock);
	err = lease_state_err(l);
	if (err)
		goto out;
	old = atomic_load(&l->vram);
	/* footprints, and both at once where the device moves the region */
	dev_resize_charge(l->dev, old, bytes, &charge, &refund);
	if (charge) {
		err = account_charge(lt->acct, l->dev, l->owner, charge);
		if (err)
			goto out;
	}
	if (bytes == old)
		err = 0;
	else if (!old)
		err = ops->reserve(l->dev, bytes, &l->region);
	else if (!bytes)
		ops->release(l->region), l->region = NULL;
	else
		err = ops->resize(l->region, bytes);
	if (err) {
		if (charge)
			account_uncharge(lt->acct, l->dev, l->owner, charge);
		goto out;
	}
	if (refund)
		account_uncharge(lt->acct, l->dev, l->owner, refund);
	atomic_store(&l->vram, bytes);
	atomic_fetch_add(&l->stats.resizes, 1);
	lease_touch_data(l);
out:
	pthread_rwlock_unlock(&l->mem_lock);
	if (err == -EDQUOT)
		return gl_fail(l, err, "vram %llu: over uid %u's quota",
			       (unsigned long long)bytes, (unsigned)l->owner);
	if (err == -ENOSPC)
		return gl_fail(l, err, "vram %llu: device %d has %llu free",
			       (unsigned long long)bytes, l->dev->index,
			       (unsigned long long)(l->dev->capacity -
						    atomic_load(&l->dev->used)));
	if (err)
		return gl_fail(l, err, "vram %llu refused",
			       (unsigned long long)bytes);
	if (l->ops && l->ops->on_resize)
		l->ops->on_resize(l->ops_ctx, l);
	return 0;
}

int lease_set_io(struct lease *l, uint64_t bytes)
{
	struct lease_table *lt = l->lt;
	struct lease_io *old, *new = NULL;
	int err;

	if (bytes && (bytes < GL_RING_SIZE_MIN || bytes > GL_RING_SIZE_MAX ||
		      bytes % 4096))
		return gl_fail(l, -EINVAL, "io %llu: 0, or %u..%llu bytes "
			       "in 4K pages", (unsigned long long)bytes,
			       GL_RING_SIZE_MIN,
			       (unsigned long long)GL_RING_SIZE_MAX);
	if (bytes && !lt->io_new)
		return gl_fail(l, -EOPNOTSUPP, "io areas are not served");
	pthread_mutex_lock(&l->io_lock);
	err = lease_check(l);
	if (err)
		goto out;
	/* the new region first: on any error nothing changed */
	if (bytes) {
		err = account_charge(lt->acct, l->dev, l->owner, bytes);
		if (err)
			goto out;
		err = lt->io_new(lt->io_ctx, l, bytes, &new);
		/* DMA from the client's pages: pinned where the device can */
		if (!err && dev_pin(l->dev, new->map, new->size)) {
			new->ops->stop(new);
			new->ops->release(new);
			err = -ENOMEM;
		}
		if (err) {
			account_uncharge(lt->acct, l->dev, l->owner, bytes);
			goto out;
		}
	}
	pthread_rwlock_wrlock(&l->mem_lock);
	old = l->io;
	l->io = new;
	pthread_rwlock_unlock(&l->mem_lock);
	if (old) {
		old->ops->stop(old);
		old->ops->drain(old);
		/* launches from submit may still point into it: wait */
		pthread_rwlock_wrlock(&l->mem_lock);
		pthread_rwlock_unlock(&l->mem_lock);
		account_uncharge(lt->acct, l->dev, l->owner, old->size);
		dev_unpin(l->dev, old->map);
		old->ops->release(old);
	}
out:
	pthread_mutex_unlock(&l->io_lock);
	if (err)
		return gl_fail(l, err, "io %llu refused",
			       (unsigned long long)bytes);
	return 0;
}

int lease_io_path(struct lease *l, char *buf, size_t size)
{
	int err = -ENOENT;

	pthread_rwlock_rdlock(&l->mem_lock);
	if (l->io && l->state == LEASE_ACTIVE) {
		snprintf(buf, size, "%s", l->io->path);
		err = 0;
	}
	pthread_rwlock_unlock(&l->mem_lock);
	return err;
}

ssize_t lease_pread(struct lease *l, void *buf, size_t len, uint64_t off)
{
	uint64_t vram;
	ssize_t ret;

	pthread_rwlock_rdlock(&l->mem_lock);
	ret = lease_state_err(l);
	if (ret)
		goto out;
	vram = atomic_load(&l->vram);
	if (off >= vram)
		goto out;
	if (len > vram - off)
		len = (size_t)(vram - off);
	ret = l->dev->ops->copy_out(l->region, off, buf, len);
	if (ret)
		goto out;
	ret = (ssize_t)len;
	atomic_fetch_add(&l->stats.reads, 1);
	atomic_fetch_add(&l->stats.bytes_out, len);
	atomic_fetch_add(&l->lt->totals.bytes_out, len);
out:
	pthread_rwlock_unlock(&l->mem_lock);
	if (ret < 0)
		return gl_fail(l, (int)ret, "vram read of %zu at %llu", len,
			       (unsigned long long)off);
	return ret;
}

ssize_t lease_pwrite(struct lease *l, const void *buf, size_t len,
		     uint64_t off)
{
	uint64_t vram = 0;
	ssize_t ret;

	pthread_rwlock_rdlock(&l->mem_lock);
	ret = lease_state_err(l);
	if (ret)
		goto out;
	vram = atomic_load(&l->vram);
	if (off > vram || len > vram - off) {
		ret = -EFBIG;
		goto out;
	}
	if (len)
		ret = l->dev->ops->copy_in(l->region, off, buf, len);
	if (ret)
		goto out;
	ret = (ssize_t)len;
	atomic_fetch_add(&l->stats.writes, 1);
	atomic_fetch_add(&l->stats.bytes_in, len);
	atomic_fetch_add(&l->lt->totals.bytes_in, len);
out:
	pthread_rwlock_unlock(&l->mem_lock);
	if (ret == -EFBIG)
		return gl_fail(l, -EFBIG,
			       "vram write of %zu at %llu past the end (%llu)",
			       len, (unsigned long long)off,
			       (unsigned long long)vram);
	if (ret < 0)
		return gl_fail(l, (int)ret, "vram write of %zu at %llu", len,
			       (unsigned long long)off);
	return ret;
}

void lease_touch_data(struct lease *l)
{
	struct timespec ts;
	int64_t now, old = atomic_load(&l->data_mtime);

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
	do {
		if (now <= old)
			now = old + 1;
	} while (!atomic_compare_exchange_weak(&l->data_mtime, &old, now));
}

int lease_zero_from(struct lease *l, uint64_t off)
{
	uint64_t vram;
	int err;

	pthread_rwlock_rdlock(&l->mem_lock);
	err = lease_state_err(l);
	vram = atomic_load(&l->vram);
	if (!err && off < vram)
		err = l->dev->ops->zero(l->region, off, vram - off);
	if (!err)
		lease_touch_data(l);
	pthread_rwlock_unlock(&l->mem_lock);
	if (err)
		return gl_fail(l, err, "truncate to %llu",
			       (unsigned long long)off);
	return 0;
}
