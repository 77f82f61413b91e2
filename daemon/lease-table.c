/* SPDX-License-Identifier: MIT */
/*
 * The lease table's own operations: setting it up with what it borrows
 * from the broker, registering the internal listeners, and the walks
 * over every lease (find, bound-file release, teardown, a failed
 * device). Part of the lease module (lease.h); lease.c holds a lease's
 * lifecycle.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/log.h"

int lease_table_init(struct lease_table *lt, struct dev_set *devs,
		     struct account *acct, const struct policy *pol,
		     struct timer_base *timers, const struct gl_clock *clock)
{
	int err;

	memset(lt, 0, sizeof(*lt));
	CDS_INIT_LIST_HEAD(&lt->all);
	atomic_init(&lt->next_id, 1);
	lt->devs = devs;
	lt->acct = acct;
	lt->pol = pol;
	lt->timers = timers;
	lt->clock = clock;
	err = -pthread_mutex_init(&lt->all_lock, NULL);
	if (err)
		return err;
	lt->ht = cds_lfht_new(64, 64, 0,
			      CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!lt->ht) {
		pthread_mutex_destroy(&lt->all_lock);
		return -ENOMEM;
	}
	return 0;
}

void lease_table_listen(struct lease_table *lt,
			const struct lease_work_ops *work, void *work_ctx,
			lease_io_new_fn *io_new, void *io_ctx)
{
	assert(cds_list_empty(&lt->all));	/* before the first lease */
	lt->work = work;
	lt->work_ctx = work_ctx;
	lt->io_new = io_new;
	lt->io_ctx = io_ctx;
}

int lease_table_check_ttl(struct lease_table *lt, uint64_t secs)
{
	if (secs < GL_TTL_MIN || secs > atomic_load(&lt->pol->max_ttl))
		return -EINVAL;
	return 0;
}

struct lease *lease_find(struct lease_table *lt,
			 bool (*match)(struct lease *l, const void *arg),
			 const void *arg)
{
	struct cds_lfht_iter iter;
	struct lease *l, *found = NULL;

	rcu_read_lock();
	lease_for_each(lt, &iter, l) {
		if (match(l, arg) && lease_get_unless_zero(l)) {
			found = l;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

bool lease_is_bound_to(struct lease *l, const void *token)
{
	return atomic_load(&l->bound_to) == token;
}

void lease_release_token(struct lease_table *lt, const void *token)
{
	struct lease *l;

	/* a drop sleeps: never inside the read-side section that found it;
	 * a dropped lease is out of the table, so this ends */
	while ((l = lease_find(lt, lease_is_bound_to, token))) {
		gl_info("lease %s: its bound file was closed; dropping",
			l->name);
		lease_drop(l, 0, true);
		lease_put(l);
	}
}

static bool lease_any(struct lease *l, const void *arg)
{
	return true;
}

void lease_table_drop_all(struct lease_table *lt)
{
	struct lease *l;

	/* a dropped lease is out of the table, so this ends */
	while ((l = lease_find(lt, lease_any, NULL))) {
		lease_drop(l, 0, false);
		lease_put(l);
	}
}

void lease_table_dev_failed(struct lease_table *lt, struct dev *d,
			    const char *msg)
{
	struct cds_lfht_iter iter;
	struct lease *l, **v = NULL, **nv;
	size_t n = 0, cap = 0, i;

	/* references inside the read-side section, waits outside it: a
	 * read-side section never sleeps */
	rcu_read_lock();
	lease_for_each(lt, &iter, l) {
		if (l->dev != d)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;	/* the rest still fail with EIO */
			v = nv;
		}
		if (lease_get_unless_zero(l))
			v[n++] = l;
	}
	rcu_read_unlock();
	for (i = 0; i < n; i++) {
		pthread_rwlock_wrlock(&v[i]->mem_lock);
		pthread_rwlock_unlock(&v[i]->mem_lock);
		lease_set_error(v[i], msg);
		lease_put(v[i]);
	}
	free(v);
}
