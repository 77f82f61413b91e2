/* SPDX-License-Identifier: MIT */
/*
 * The broker: the top of the daemon. It embeds every subsystem, wires
 * them at start (the lease table borrows the devices, accounting, policy,
 * timer queue and clock; the launch queue and the rings register on the
 * lease table as its internal listeners) and tears them down in order.
 * It holds no state of its own beyond the io directory: each subsystem
 * owns its state, and functions that need one subsystem take that one.
 * fusefs/ holds one broker; whoever creates a lease hears of it through
 * the lease's own operations (struct lease_ops).
 */
#ifndef GL_BROKER_H
#define GL_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/account.h"
#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/metrics.h"
#include "daemon/model.h"
#include "daemon/reaper.h"
#include "daemon/registry.h"
#include "daemon/ring.h"

struct broker_config {
	uint64_t cpu_vram;		/* bytes of the CPU device */
	uint64_t default_vram;
	uint32_t default_ttl;
	uint32_t max_ttl;
	uint32_t launch_timeout_ms;
	unsigned executors;		/* launch executor threads */
	const char *io_parent;		/* where io files go: a tmpfs */
	bool cpu_only;			/* the CPU device even with a GPU */
};

struct broker {
	struct lease_table leases;	/* while started */
	struct dev_set devs;		/* fixed after broker_init */
	struct account acct;
	struct policy pol;
	struct gl_clock clock;
	struct reaper reaper;
	struct registry reg;		/* fixed after broker_init */
	struct launcher launcher;
	struct ring_set rings;
	struct metrics metrics;		/* atomics; never reset */
	struct model_set models;	/* while started */
	char io_dir[128];		/* this daemon's io files, 0711 */
	int io_dir_fd;			/* io_dir, flock()ed; -1: none */
	bool started;			/* broker_start succeeded */
};

/*
 * broker_setup - check @cfg and set the policy and accounting (quotas may
 * be set after it). Starts no thread, opens no device or file: safe
 * before a fork. Returns 0, -EINVAL for an inconsistent @cfg, -ENOMEM.
 * broker_destroy undoes it.
 */
int broker_setup(struct broker *b, const struct broker_config *cfg);

/*
 * broker_start - after broker_setup, in the process that will serve:
 * sweep and make the io directory, probe the devices (cuInit), start the
 * executors and the reaper. Returns 0, -ENODEV, -ENOMEM or the errno of
 * the io directory; on failure the broker is as broker_setup left it.
 */
int broker_start(struct broker *b, const struct broker_config *cfg);

/* broker_init - broker_setup then broker_start, for a process that never
 * forks; undone entirely on failure. */
int broker_init(struct broker *b, const struct broker_config *cfg);

/* broker_quiesce - stop the reaper, close every launch queue (queued
 * and running launches end with ECANCELED) and stop the executors: no
 * owner operation or launch completion happens after this returns.
 * Nothing to do before broker_start. */
void broker_quiesce(struct broker *b);

/*
 * broker_destroy - stop the reaper, drop every lease (memory freed, no
 * owner operation called), wait for RCU callbacks, free the table and the
 * devices; of a broker only set up, free the policy and accounting.
 */
void broker_destroy(struct broker *b);

#endif
