// SPDX-License-Identifier: MIT
/*
 * Burst models, lease renewal and memory pressure: when a model holds
 * its lease. A burst model (burst=IDLE_S) drops its lease after IDLE_S
 * seconds of the lease clock without a request (state cold: its memory
 * back in the pool) and keeps its files mapped and its plan
 * (model-load.c's m->src), so the next request re-acquires and reloads
 * it (a cold start) and is then served. A model with renew=manual whose
 * lease expired reloads likewise; with renew=auto (the default) each
 * request renews the lease and an expired model stays expired. A
 * reload that finds no room waits for it until wait_ms or the request's
 * deadline, whichever ends first (EBUSY then), or hands the request to
 * the model's fallback=; first
 * it makes the least recently used idle burst model on the device cold
 * (eviction).
 * Invariant: m->lease changes only here (and at load and unload), under
 * burst_lock and the set's lock, and only while no request is between
 * model_warm_enter and its end (users and running both 0): a request's
 * steps read m->lease without a lock. users only grows under
 * burst_lock; running grows only inside users' window (req_go).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "daemon/clock.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/strbuf.h"

#define COLD_POLL_NS	(10 * 1000 * 1000LL)	/* room is polled: a plain
						 * lease's drop tells no
						 * model */

static int64_t cold_now(const struct model *m)
{
	return clock_now(m->set->lt->clock);
}

static struct timer_base *cold_timers(const struct model *m)
{
	return m->set->lt->timers;
}

static void model_idle_fire(struct timer *t, struct timer_round *rd);

static void model_idle_cancel(struct timer *t)
{
	model_put(caa_container_of(t, struct model, idle));
}

int model_cold_init(struct model *m)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_mutex_init(&m->burst_lock, NULL);
	if (err)
		return -err;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&m->burst_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err) {
		pthread_mutex_destroy(&m->burst_lock);
		return -err;
	}
	timer_init(&m->idle, model_idle_fire);
	timer_set_cancel(&m->idle, model_idle_cancel);
	return 0;
}

void model_cold_destroy(struct model *m)
{
	pthread_cond_destroy(&m->burst_cond);
	pthread_mutex_destroy(&m->burst_lock);
}

/* Queue the idle timer at @deadline, with the reference it holds. */
static void idle_add(struct model *m, int64_t deadline)
{
	model_get(m);
	if (timer_add(cold_timers(m), &m->idle, deadline))
		model_put(m);	/* queued already: it re-arms itself */
}

void model_cold_arm(struct model *m)
{
	int64_t now = cold_now(m);

	atomic_store(&m->last_use, now);
	if (m->burst_s)
		idle_add(m, now + (int64_t)m->burst_s * NSEC_PER_SEC);
}

void model_cold_disarm(struct model *m)
{
	if (timer_del(cold_timers(m), &m->idle))
		model_put(m);
}

struct lease *model_lease_get(struct model *m)
{
	struct lease *l;

	pthread_mutex_lock(&m->set->lock);
	l = m->lease;
	if (l)
		lease_get(l);
	pthread_mutex_unlock(&m->set->lock);
	return l;
}

/* Take @m's lease away and drop it: the memory is free on return.
 * @m turns @state unless unloaded meanwhile. With burst_lock held, and
 * users and running 0 (or the lease expired, its work ended). */
static void model_drop_lease(struct model *m, enum model_state state)
{
	struct lease *l;

	pthread_mutex_lock(&m->set->lock);
	l = m->lease;
	m->lease = NULL;
	if (atomic_load(&m->state) != MODEL_UNLOADED)
		atomic_store(&m->state, state);
	pthread_mutex_unlock(&m->set->lock);
	if (!l)
		return;
	atomic_fetch_add(&m->lease_ns, (uint64_t)(clock_mono() -
						  l->born_mono));
	lease_drop(l, 0, false);
	lease_put(l);
	gl_info("model %s cold: lease model.%s dropped", m->name, m->name);
}

/* Wait a little for a change (running fell, room freed), burst_lock
 * held and released meanwhile. 0, or -EBUSY once @deadline_ns (lease
 * clock) has passed. */
static int cold_wait(struct model *m, int64_t deadline_ns)
{
	int64_t left = deadline_ns - cold_now(m);
	struct timespec ts;
	int64_t until;

	if (left <= 0)
		return -EBUSY;
	if (left > COLD_POLL_NS)
		left = COLD_POLL_NS;
	until = clock_mono() + left;
	ts.tv_sec = until / NSEC_PER_SEC;
	ts.tv_nsec = until % NSEC_PER_SEC;
	atomic_fetch_add(&m->waiting, 1);
	pthread_cond_timedwait(&m->burst_cond, &m->burst_lock, &ts);
	atomic_fetch_sub(&m->waiting, 1);
	return 0;
}

/* A cold @m reloaded: a new lease, the weights copied, warm. With
 * burst_lock held. 0 or -errno (the reason logged), still cold. */
static int model_reload(struct model *m)
{
	int64_t t0 = clock_mono();
	char why[200] = "";
	struct lease *l;
	uint64_t us;
	int err;

	err = model_lease_fill(m, &l, why, sizeof(why));
	if (err)
		return err == -ENOSPC ? err :
			model_fail(m, err, "cold start: %s", why);
	if (m->io_size && lease_set_io(l, m->io_size))
		model_fail(m, -ENOMEM, "cold start: its io ring could not "
			   "be made again; infer serves on");
	pthread_mutex_lock(&m->set->lock);
	err = atomic_load(&m->state) == MODEL_UNLOADED ? -ENOENT : 0;
	if (!err) {
		m->lease = l;
		atomic_store(&m->state, MODEL_WARM);
	}
	pthread_mutex_unlock(&m->set->lock);
	if (err) {
		lease_drop(l, 0, false);
		lease_put(l);
		return err;
	}
	/* its expiry or drop before the swap was no model's to hear */
	err = lease_check(l);
	if (err == -EKEYEXPIRED) {
		int want = MODEL_WARM;

		atomic_compare_exchange_strong(&m->state, &want,
					       MODEL_EXPIRED);
	} else if (err) {
		model_drop_lease(m, MODEL_COLD);
		return model_fail(m, -EIO, "cold start: its lease was "
				  "dropped meanwhile");
	}
	us = (uint64_t)(clock_mono() - t0) / 1000;
	atomic_store(&m->last_cold_us, us);
	atomic_fetch_add(&m->cold_starts, 1);
	hist_observe(&m->cold_start, us);
	model_cold_arm(m);
	gl_info("model %s warm again: cold start %llu us", m->name,
		(unsigned long long)us);
	return 0;
}

/* Whether @o may be made cold early for another model's cold start:
 * a warm burst model on @device with nothing in flight. */
static bool model_evictable(struct model *o, uint32_t device)
{
	return o->burst_s && o->device == device &&
	       atomic_load(&o->state) == MODEL_WARM &&
	       !atomic_load(&o->users) && !atomic_load(&o->running);
}

/*
 * No room for @m's cold start: make the least recently used idle burst
 * model on its device cold (eviction). True when one was. Its
 * burst_lock only tried (@m's is held: no order between two models').
 */
static bool model_evict_one(struct model *m)
{
	struct model_set *s = m->set;
	struct model *o, *lru = NULL;
	bool done = false;

	pthread_mutex_lock(&s->lock);
	cds_list_for_each_entry(o, &s->models, link) {
		if (o == m || !model_evictable(o, m->device))
			continue;
		if (!lru || atomic_load(&o->last_use) <
			    atomic_load(&lru->last_use))
			lru = o;
	}
	if (lru)
		model_get(lru);
	pthread_mutex_unlock(&s->lock);
	if (!lru)
		return false;
	if (!pthread_mutex_trylock(&lru->burst_lock)) {
		done = model_evictable(lru, m->device);
		if (done) {
			model_drop_lease(lru, MODEL_COLD);
			atomic_fetch_add(&lru->evictions, 1);
			gl_info("model %s made cold early for model %s",
				lru->name, m->name);
		}
		pthread_mutex_unlock(&lru->burst_lock);
	}
	model_put(lru);
	return done;
}

/*
 * Make @m warm, with burst_lock held. @deadline_ns: how long to wait for
 * room (0: no wait, -ENOSPC at once). @force: reload an expired model
 * whatever its renew= (ctl "warm"). -ENOSPC also when @m has a fallback.
 */
static int model_make_warm(struct model *m, int64_t deadline_ns,
			   bool force)
{
	int err;

	for (;;) {
		switch (atomic_load(&m->state)) {
		case MODEL_WARM:
			return 0;
		case MODEL_EXPIRED:
			if (!m->renew_manual && !force)
				return model_fail(m, -EKEYEXPIRED, "request "
						  "refused: its lease "
						  "expired (renew=auto)");
			/* its requests end with EKEYEXPIRED: wait for it */
			if (atomic_load(&m->running)) {
				err = cold_wait(m, deadline_ns);
				if (err)
					return model_fail(m, err, "expired "
							  "requests still "
							  "ending");
				continue;
			}
			model_drop_lease(m, MODEL_COLD);
			continue;
		case MODEL_COLD:
			break;
		default:
			return model_fail(m, -ENOENT, "it is unloaded");
		}
		err = model_reload(m);
		if (err != -ENOSPC)
			return err;
		if (model_evict_one(m))
			continue;
		if (!deadline_ns || m->fallback[0])
			return model_fail(m, err, "cold start: no room for "
					  "its lease");
		err = cold_wait(m, deadline_ns);
		if (err)
			return model_fail(m, err, "cold start: no room for "
					  "its lease by the request's "
					  "deadline");
	}
}

int64_t model_wait_deadline(struct model *m, uint32_t deadline_ms)
{
	uint32_t ms = m->wait_ms;

	if (!deadline_ms)
		deadline_ms = atomic_load(&m->admit.deadline_ms);
	if (deadline_ms && deadline_ms < ms)
		ms = deadline_ms;	/* the request's own ends it first */
	return cold_now(m) + (int64_t)ms * 1000000;
}

int model_warm_enter(struct model *m, int64_t deadline_ns)
{
	int err;

	/* the common case: warm, not about to go cold */
	pthread_mutex_lock(&m->burst_lock);
	err = model_make_warm(m, deadline_ns ? deadline_ns :
			      model_wait_deadline(m, 0), false);
	if (!err) {
		atomic_fetch_add(&m->users, 1);
		atomic_store(&m->last_use, cold_now(m));
		/* renew=auto: serving keeps the lease; a renew too late
		 * (expiring) fails the request as the expiry does */
		if (!m->renew_manual)
			lease_renew(m->lease, 0, false);
	}
	pthread_mutex_unlock(&m->burst_lock);
	return err;
}

void model_warm_leave(struct model *m)
{
	atomic_fetch_sub(&m->users, 1);
	pthread_cond_broadcast(&m->burst_cond);
}

void model_req_ended(struct model *m)
{
	atomic_store(&m->last_use, cold_now(m));
	pthread_cond_broadcast(&m->burst_cond);
}

/* burst=: the idle timer fired. Cold when idle long enough, else
 * queued again for when it will be. The reference it held is ours. */
static void model_idle_fire(struct timer *t, struct timer_round *rd)
{
	struct model *m = caa_container_of(t, struct model, idle);
	int64_t idle = (int64_t)m->burst_s * NSEC_PER_SEC, now, due;

	(void)rd;
	pthread_mutex_lock(&m->burst_lock);
	now = cold_now(m);
	due = atomic_load(&m->last_use) + idle;
	if (atomic_load(&m->state) != MODEL_WARM) {
		/* cold, expired or unloaded: warm again re-arms */
	} else if (atomic_load(&m->users) || atomic_load(&m->running)) {
		idle_add(m, now + idle);
	} else if (now >= due) {
		model_drop_lease(m, MODEL_COLD);
	} else {
		idle_add(m, due);
	}
	pthread_mutex_unlock(&m->burst_lock);
	model_put(m);
}

int model_set_cold(struct model *m)
{
	int err = 0;

	pthread_mutex_lock(&m->burst_lock);
	switch (atomic_load(&m->state)) {
	case MODEL_COLD:
		break;
	case MODEL_WARM:
	case MODEL_EXPIRED:
		if (atomic_load(&m->users) || atomic_load(&m->running)) {
			err = model_fail(m, -EBUSY, "cold: requests in "
					 "flight");
			break;
		}
		model_drop_lease(m, MODEL_COLD);
		break;
	default:
		err = -ENOENT;
	}
	pthread_mutex_unlock(&m->burst_lock);
	return err;
}

int model_set_warm(struct model *m)
{
	int err;

	pthread_mutex_lock(&m->burst_lock);
	err = model_make_warm(m, 0, true);
	pthread_mutex_unlock(&m->burst_lock);
	return err;
}

struct model *model_fallback(struct model *m)
{
	struct model *o;

	if (!m->fallback[0])
		return NULL;
	o = model_find(m->set, m->fallback);
	if (o && (o == m || o->owner != m->owner)) {
		model_put(o);
		o = NULL;
	}
	return o;
}

void model_render_burst(struct model *m, struct strbuf *sb)
{
	strbuf_printf(sb, "burst %u\nrenew %s\nwait_ms %u\nfallback %s\n"
		      "id %llu\ncold_starts %llu\nlast_cold_start_us %llu\n"
		      "fallbacks %llu\nwaiting %u\nevictions %llu\n",
		      m->burst_s,
		      m->renew_manual ? "manual" : "auto", m->wait_ms,
		      m->fallback[0] ? m->fallback : "-",
		      (unsigned long long)m->id,
		      (unsigned long long)atomic_load(&m->cold_starts),
		      (unsigned long long)atomic_load(&m->last_cold_us),
		      (unsigned long long)atomic_load(&m->fallbacks),
		      atomic_load(&m->waiting),
		      (unsigned long long)atomic_load(&m->evictions));
}
