/* SPDX-License-Identifier: MIT */
/*
 * VRAM accounting. Invariant: under a->lock, for every device
 * d->used == sum of charged bytes on d <= d->capacity, and for every uid
 * used <= quota at the time each charge was made.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "daemon/account.h"
#include "daemon/dev/dev.h"

int account_init(struct account *a)
{
	a->uids = NULL;
	a->nr_uids = 0;
	a->cap_uids = 0;
	return -pthread_mutex_init(&a->lock, NULL);
}

void account_destroy(struct account *a)
{
	free(a->uids);
	a->uids = NULL;
	pthread_mutex_destroy(&a->lock);
}

/* Find or add @uid. Called with a->lock held. NULL on -ENOMEM. */
static struct uid_usage *account_uid(struct account *a, uid_t uid)
{
	struct uid_usage *u;
	size_t i;

	for (i = 0; i < a->nr_uids; i++)
		if (a->uids[i].uid == uid)
			return &a->uids[i];
	if (a->nr_uids == a->cap_uids) {
		size_t cap = a->cap_uids ? a->cap_uids * 2 : 8;

		u = realloc(a->uids, cap * sizeof(*u));
		if (!u)
			return NULL;
		a->uids = u;
		a->cap_uids = cap;
	}
	u = &a->uids[a->nr_uids++];
	u->uid = uid;
	u->used = 0;
	u->quota = ACCOUNT_NO_QUOTA;
	return u;
}

int account_charge(struct account *a, struct dev *d, uid_t uid,
		   uint64_t bytes)
{
	struct uid_usage *u;
	uint64_t used;
	int err = 0;

	pthread_mutex_lock(&a->lock);
	u = account_uid(a, uid);
	if (!u) {
		err = -ENOMEM;
		goto out;
	}
	if (u->quota != ACCOUNT_NO_QUOTA &&
	    (bytes > u->quota || u->used > u->quota - bytes)) {
		err = -EDQUOT;
		goto out;
	}
	used = atomic_load(&d->used);
	if (bytes > d->capacity - used) {
		err = -ENOSPC;
		goto out;
	}
	atomic_store(&d->used, used + bytes);
	u->used += bytes;
out:
	pthread_mutex_unlock(&a->lock);
	return err;
}

void account_uncharge(struct account *a, struct dev *d, uid_t uid,
		      uint64_t bytes)
{
	struct uid_usage *u;

	pthread_mutex_lock(&a->lock);
	u = account_uid(a, uid);
	/* a charged uid always has its entry: account_uid cannot fail */
	assert(u && u->used >= bytes && atomic_load(&d->used) >= bytes);
	if (u)
		u->used -= bytes;
	atomic_store(&d->used, atomic_load(&d->used) - bytes);
	pthread_mutex_unlock(&a->lock);
}

int account_set_quota(struct account *a, uid_t uid, uint64_t bytes)
{
	struct uid_usage *u;
	int err = 0;

	pthread_mutex_lock(&a->lock);
	u = account_uid(a, uid);
	if (u)
		u->quota = bytes;
	else
		err = -ENOMEM;
	pthread_mutex_unlock(&a->lock);
	return err;
}

uint64_t account_used(struct account *a, uid_t uid)
{
	uint64_t used = 0;
	size_t i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->nr_uids; i++)
		if (a->uids[i].uid == uid)
			used = a->uids[i].used;
	pthread_mutex_unlock(&a->lock);
	return used;
}

static int uid_cmp(const void *x, const void *y)
{
	const struct uid_usage *a = x, *b = y;

	return (a->uid > b->uid) - (a->uid < b->uid);
}

void account_show_quotas(struct account *a, struct strbuf *sb)
{
	size_t i;

	pthread_mutex_lock(&a->lock);
	if (a->nr_uids)
		qsort(a->uids, a->nr_uids, sizeof(*a->uids), uid_cmp);
	for (i = 0; i < a->nr_uids; i++)
		if (a->uids[i].quota != ACCOUNT_NO_QUOTA)
			strbuf_printf(sb, "quota %u %llu\n",
				      (unsigned)a->uids[i].uid,
				      (unsigned long long)a->uids[i].quota);
	pthread_mutex_unlock(&a->lock);
}
