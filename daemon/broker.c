/* SPDX-License-Identifier: MIT */
/*
 * Broker setup and teardown, and the few helpers every part shares.
 * Start-up comes in two steps: broker_setup (policy and accounting only:
 * no thread, no device, no file, so it may run before a fork) and
 * broker_start (devices, io directory, threads: after any fork).
 * Invariant: while b->started, b->leases, b->devs and the reaper exist;
 * broker_destroy leaves no lease and no memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/iodir.h"
#include "daemon/lease.h"
#include "daemon/log.h"

/*
 * Device @d failed (a sticky fault): its leases' memory is lost and
 * every op on them fails with EIO from now on. Wait for each one's
 * running work to end (the write side of its mem_lock), so none still
 * points into the device when the backend resets it, and tell its owner
 * why in ctl. Runs on the backend's recovery thread. The leases are
 * gathered with references inside the read-side section and waited for
 * outside it: a read-side section never sleeps.
 */
static void broker_dev_failed(void *ctx, struct dev *d)
{
	struct broker *b = ctx;
	struct cds_lfht_iter iter;
	struct lease *l, **v = NULL, **nv;
	size_t n = 0, cap = 0, i;
	char msg[256];

	snprintf(msg, sizeof(msg), "EIO: device %d (%s) failed: %s; this "
		 "lease's memory is lost: drop it", d->index, d->name,
		 d->reason);
	rcu_read_lock();
	lease_for_each(b->leases, &iter, l) {
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

int broker_setup(struct broker *b, const struct broker_config *cfg)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->io_dir_fd = -1;
	if (cfg->max_ttl < GL_TTL_MIN || cfg->max_ttl > GL_TTL_LIMIT ||
	    cfg->default_ttl < GL_TTL_MIN || cfg->default_ttl > cfg->max_ttl)
		return -EINVAL;
	atomic_init(&b->pol.default_vram, cfg->default_vram);
	atomic_init(&b->pol.default_ttl, cfg->default_ttl);
	atomic_init(&b->pol.max_ttl, cfg->max_ttl);
	atomic_init(&b->pol.launch_timeout_ms,
		    cfg->launch_timeout_ms ? cfg->launch_timeout_ms : 10000);
	atomic_init(&b->pol.ring_idle_us, 1000);
	atomic_init(&b->next_id, 1);
	CDS_INIT_LIST_HEAD(&b->all_leases);
	err = -pthread_mutex_init(&b->all_lock, NULL);
	if (err)
		return err;
	err = -pthread_mutex_init(&b->pol.lock, NULL);
	if (err)
		goto err_all;
	err = account_init(&b->acct);
	if (err)
		goto err_pol;
	return 0;

err_pol:
	pthread_mutex_destroy(&b->pol.lock);
err_all:
	pthread_mutex_destroy(&b->all_lock);
	return err;
}

/* Undo broker_setup. */
static void broker_unsetup(struct broker *b)
{
	account_destroy(&b->acct);
	pthread_mutex_destroy(&b->pol.lock);
	pthread_mutex_destroy(&b->all_lock);
}

int broker_start(struct broker *b, const struct broker_config *cfg)
{
	int err;

	/* private to this daemon: several may run on one machine */
	err = iodir_create(cfg->io_parent ? cfg->io_parent : "/dev/shm",
			   b->io_dir, sizeof(b->io_dir));
	if (err < 0)
		return err;
	b->io_dir_fd = err;
	err = dev_set_probe(&b->devs, cfg->cpu_vram, cfg->cpu_only);
	if (err)
		goto err_io;
	b->leases = lease_table_new();
	if (!b->leases) {
		err = -ENOMEM;
		goto err_devs;
	}
	err = reaper_init(&b->reaper, b);
	if (err)
		goto err_table;
	err = registry_init(&b->reg);
	if (err)
		goto err_reaper;
	dev_set_events(&b->devs, broker_dev_failed, b);
	err = launcher_start(b, cfg->executors ? cfg->executors : 4);
	if (err)
		goto err_registry;
	err = reaper_start(&b->reaper);
	if (err)
		goto err_launcher;
	b->started = true;
	return 0;

err_launcher:
	launcher_stop(b);
err_registry:
	dev_set_events(&b->devs, NULL, NULL);
	registry_destroy(&b->reg);
err_reaper:
	reaper_destroy(&b->reaper);
err_table:
	cds_lfht_destroy(b->leases, NULL);
	b->leases = NULL;
err_devs:
	dev_set_teardown(&b->devs);
err_io:
	iodir_remove(b->io_dir, b->io_dir_fd);
	b->io_dir_fd = -1;
	return err;
}

int broker_init(struct broker *b, const struct broker_config *cfg)
{
	int err = broker_setup(b, cfg);

	if (err)
		return err;
	err = broker_start(b, cfg);
	if (err)
		broker_unsetup(b);
	return err;
}

void broker_set_events(struct broker *b, const struct broker_events *ev,
		       void *ctx)
{
	b->ev = ev;
	b->ev_ctx = ctx;
}

static bool broker_open_queue(struct lease *l, const void *arg)
{
	return !launch_closed(l);
}

static bool broker_any(struct lease *l, const void *arg)
{
	return true;
}

void broker_quiesce(struct broker *b)
{
	struct lease *l;

	if (!b->started)
		return;
	reaper_stop(&b->reaper);
	dev_set_events(&b->devs, NULL, NULL);
	/* launch_close() sleeps: outside the read-side section lease_find()
	 * takes; a closed queue no longer matches, so this ends */
	while ((l = lease_find(b, broker_open_queue, NULL))) {
		launch_close(l, -ECANCELED, true);
		lease_put(l);
	}
	launcher_stop(b);
}

void broker_destroy(struct broker *b)
{
	struct lease *l;

	if (!b->started) {
		broker_unsetup(b);
		return;
	}
	broker_quiesce(b);
	/* a dropped lease is out of the table */
	while ((l = lease_find(b, broker_any, NULL))) {
		lease_drop(b, l, 0, false);
		lease_put(l);
	}
	reaper_destroy(&b->reaper);
	registry_destroy(&b->reg);
	rcu_barrier();
	lease_free_all(b);
	cds_lfht_destroy(b->leases, NULL);
	b->leases = NULL;
	dev_set_teardown(&b->devs);
	iodir_remove(b->io_dir, b->io_dir_fd);
	b->io_dir_fd = -1;
	b->started = false;
	broker_unsetup(b);
}

void broker_emit(struct broker *b, struct lease *l, enum lease_event ev)
{
	if (b->ev && b->ev->lease_event)
		b->ev->lease_event(b->ev_ctx, l, ev);
}

int broker_check_ttl(struct broker *b, uint64_t secs)
{
	if (secs < GL_TTL_MIN || secs > atomic_load(&b->pol.max_ttl))
		return -EINVAL;
	return 0;
}
