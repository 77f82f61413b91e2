/* SPDX-License-Identifier: MIT */
/*
 * The policy's values (/gpu/ctl): a bag of atomics the broker owns and
 * every module that needs a setting reads through a const pointer it is
 * given at init. Header only, depends on nothing: policy.c writes it
 * (under lock), the lease table, the launcher and the rings read it
 * lock-free.
 */
#ifndef GL_KNOBS_H
#define GL_KNOBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

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
	_Atomic uint32_t model_step_hold; /* debug: 1 holds every model
					 * request that has made a token
					 * in its next step (stoppable);
					 * 2 also an mlp step whose
					 * answers are out */
	_Atomic uint32_t model_load_hold; /* debug: 1 holds every model load
					 * with its files mapped and its
					 * lease acquired */
	_Atomic uint32_t ring_complete_hold; /* debug: 1 holds a launch's
					 * ring completion once posted */
	_Atomic uint32_t model_retire_delay_ms; /* debug: an unload (or the
					 * daemon's stop) waits this long
					 * between delisting a model and
					 * dropping its lease */
};

#endif
