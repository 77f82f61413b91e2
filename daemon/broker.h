/* SPDX-License-Identifier: MIT */
/*
 * The broker: everything the daemon owns, in one struct (no hidden global
 * state). fusefs/ holds one and calls into it; the broker calls back only
 * through struct broker_events.
 */
#ifndef GL_BROKER_H
#define GL_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <urcu/list.h>

#include "daemon/account.h"
#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/launch.h"
#include "daemon/metrics.h"
#include "daemon/reaper.h"
#include "daemon/registry.h"

struct lease;
struct cds_lfht;

enum lease_event {
	LEASE_EV_RESIZED,	/* vram size changed */
	LEASE_EV_DATA,		/* the daemon wrote the memory (a launch) */
	LEASE_EV_EXPIRED,	/* TTL ran out; memory is gone */
	LEASE_EV_DROPPED,	/* removed other than by rmdir (bind, teardown) */
};

/*
 * Callbacks into the front end. Called from any thread, with no broker
 * lock held; the callee takes its own lease reference if it keeps @l.
 */
struct broker_events {
	void (*lease_event)(void *ctx, struct lease *l, enum lease_event ev);
};

struct policy {
	pthread_mutex_t lock;		/* serialises writers of /gpu/ctl */
	_Atomic uint64_t default_vram;	/* bytes for a plain mkdir */
	_Atomic uint32_t default_ttl;	/* seconds, <= max_ttl */
	_Atomic uint32_t max_ttl;	/* seconds, <= GL_TTL_LIMIT */
	_Atomic uint32_t launch_timeout_ms; /* watchdog default, >= 1 */
	_Atomic uint32_t ring_idle_us;	/* a poller spins this long idle */
	_Atomic uint32_t notify_delay_ms; /* debug: the front end's notifier
					 * sleeps this long before each
					 * invalidation; 0 in service */
	_Atomic uint32_t ring_complete_hold; /* debug: 1 holds a launch's
					 * ring completion once posted */
};

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
	struct cds_lfht *leases;	/* name -> lease, RCU (urcu-bp) */
	pthread_mutex_t all_lock;	/* guards all_leases; alloc and free
					 * only, never a lookup */
	struct cds_list_head all_leases; /* every allocated lease */
	struct dev_set devs;		/* fixed after broker_init */
	struct account acct;
	struct policy pol;
	struct gl_clock clock;
	struct reaper reaper;
	struct registry reg;		/* fixed after broker_init */
	struct launcher launcher;
	struct metrics metrics;		/* atomics; never reset */
	char io_dir[128];		/* this daemon's io files, 0711 */
	int io_dir_fd;			/* io_dir, flock()ed; -1: none */
	bool started;			/* broker_start succeeded */
	_Atomic uint64_t next_id;	/* lease ids, never reused */
	const struct broker_events *ev;	/* may be NULL */
	void *ev_ctx;
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

/* broker_set_events - set the callbacks before the first lease exists. */
void broker_set_events(struct broker *b, const struct broker_events *ev,
		       void *ctx);

/* broker_quiesce - stop the reaper, close every launch queue (queued
 * and running launches end with ECANCELED) and stop the executors: no
 * event or launch completion happens after this returns. Nothing to do
 * before broker_start. */
void broker_quiesce(struct broker *b);

/*
 * broker_destroy - stop the reaper, drop every lease (memory freed, no
 * events), wait for RCU callbacks, free the table and the devices; of a
 * broker only set up, free the policy and accounting.
 */
void broker_destroy(struct broker *b);

/* broker_emit - deliver @ev for @l, if anyone listens. No lock held. */
void broker_emit(struct broker *b, struct lease *l, enum lease_event ev);

/* broker_check_ttl - 0 when 1 <= @secs <= max_ttl, else -EINVAL. */
int broker_check_ttl(struct broker *b, uint64_t secs);

#endif
