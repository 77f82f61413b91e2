/* SPDX-License-Identifier: MIT */
/*
 * Broker setup and teardown, and the few helpers every part shares.
 * Start-up comes in two steps: broker_setup (policy and accounting only:
 * no thread, no device, no file, so it may run before a fork) and
 * broker_start (devices, io directory, threads: after any fork).
 * Invariant: while b->started, b->leases, b->devs and the reaper exist;
 * broker_destroy leaves no lease and no memory. The broker is the only
 * module that knows them all: it wires each to the ones it needs.
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
 * running work to end, so none still points into the device when the
 * backend resets it, and tell its owner why in ctl. Runs on the
 * backend's thread that ends the device.
 */
static void broker_dev_failed(void *ctx, struct dev *d)
{
	struct broker *b = ctx;
	char msg[256];

	snprintf(msg, sizeof(msg), "EIO: device %d (%s) failed: %s; this "
		 "lease's memory is lost: drop it", d->index, d->name,
		 d->reason);
	lease_table_dev_failed(&b->leases, d, msg);
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
	err = -pthread_mutex_init(&b->pol.lock, NULL);
	if (err)
		return err;
	err = account_init(&b->acct);
	if (err)
		goto err_pol;
	b->rings.dir = b->io_dir;
	b->rings.pol = &b->pol;
	b->rings.launcher = &b->launcher;
	metrics_init(&b->metrics, &b->leases, &b->devs, &b->reg, &b->rings,
		     &b->models);
	return 0;

err_pol:
	pthread_mutex_destroy(&b->pol.lock);
	return err;
}

/* Undo broker_setup. */
static void broker_unsetup(struct broker *b)
{
	account_destroy(&b->acct);
	pthread_mutex_destroy(&b->pol.lock);
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
	err = reaper_init(&b->reaper, &b->clock);
	if (err)
		goto err_devs;
	err = lease_table_init(&b->leases, &b->devs, &b->acct, &b->pol,
			       &b->reaper.timers, &b->clock);
	if (err)
		goto err_reaper;
	lease_table_listen(&b->leases, &launch_lease_ops, &b->launcher,
			   ring_io_new, &b->rings);
	err = registry_init(&b->reg);
	if (err)
		goto err_table;
	err = model_set_init(&b->models, &b->leases, &b->reg, &b->pol);
	if (err)
		goto err_registry_only;
	dev_set_events(&b->devs, broker_dev_failed, b);
	err = launcher_start(&b->launcher, &b->reg, &b->pol,
			     cfg->executors ? cfg->executors : 4);
	if (err)
		goto err_registry;
	err = reaper_start(&b->reaper);
	if (err)
		goto err_launcher;
	b->started = true;
	return 0;

err_launcher:
	launcher_stop(&b->launcher);
err_registry:
	dev_set_events(&b->devs, NULL, NULL);
	model_set_destroy(&b->models);
err_registry_only:
	registry_destroy(&b->reg);
err_table:
	lease_table_destroy(&b->leases);
err_reaper:
	reaper_destroy(&b->reaper);
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

static bool broker_open_queue(struct lease *l, const void *arg)
{
	return !launch_closed(l);
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
	while ((l = lease_find(&b->leases, broker_open_queue, NULL))) {
		launch_close(l, -ECANCELED, true);
		lease_put(l);
	}
	launcher_stop(&b->launcher);
}

void broker_destroy(struct broker *b)
{
	if (!b->started) {
		broker_unsetup(b);
		return;
	}
	broker_quiesce(b);
	model_set_destroy(&b->models);
	lease_table_drop_all(&b->leases);
	reaper_destroy(&b->reaper);
	registry_destroy(&b->reg);
	lease_table_destroy(&b->leases);
	dev_set_teardown(&b->devs);
	iodir_remove(b->io_dir, b->io_dir_fd);
	b->io_dir_fd = -1;
	b->started = false;
	broker_unsetup(b);
}
