/* SPDX-License-Identifier: MIT */
/*
 * VRAM accounting: bytes reserved per device and per uid, and per-uid
 * quotas. Every reservation passes account_charge() before any memory is
 * touched, so the device never overcommits.
 */
#ifndef GL_ACCOUNT_H
#define GL_ACCOUNT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/strbuf.h"

struct dev;

#define ACCOUNT_NO_QUOTA UINT64_MAX

struct uid_usage {
	uid_t uid;
	uint64_t used;		/* bytes held over all leases */
	uint64_t quota;		/* bytes, or ACCOUNT_NO_QUOTA */
};

struct account {
	pthread_mutex_t lock;	/* guards uids and every dev->used update */
	struct uid_usage *uids;	/* lock; unsorted, few entries */
	size_t nr_uids;		/* lock */
	size_t cap_uids;	/* lock */
};

int account_init(struct account *a);
void account_destroy(struct account *a);

/*
 * account_charge - reserve @bytes on @d for @uid. Returns 0, -EDQUOT over
 * the uid's quota, -ENOSPC over the device's free bytes, -ENOMEM. On error
 * nothing changed. Takes a->lock.
 */
int account_charge(struct account *a, struct dev *d, uid_t uid,
		   uint64_t bytes);

/* account_uncharge - give back what account_charge took. Takes a->lock. */
void account_uncharge(struct account *a, struct dev *d, uid_t uid,
		      uint64_t bytes);

/* account_set_quota - ACCOUNT_NO_QUOTA removes it. 0 or -ENOMEM. */
int account_set_quota(struct account *a, uid_t uid, uint64_t bytes);

/* account_used - bytes @uid holds now. */
uint64_t account_used(struct account *a, uid_t uid);

/* account_show_quotas - append "quota UID BYTES\n" per quota, by uid. */
void account_show_quotas(struct account *a, struct strbuf *sb);

#endif
