/* SPDX-License-Identifier: MIT */
/*
 * The client side of a model's request ring (models/NAME/io, the io
 * region of its lease model.NAME; GL_OP_INFER in Documentation/ring.md):
 * open a model by name, send requests, from one thread or several at
 * once, and take each answer whole or chunk by chunk as the completions
 * stream in. Built on the ring API of ring.c, whose waits report a dead
 * daemon as -ENOTCONN.
 *
 * The data area is split into slots (gl_model_set_slots(), 1 by
 * default: the whole area): a request is written at the start of a free
 * slot and the rest of the slot is its answer buffer; each request is
 * tagged by a user_data of its own. A caller that finds every slot taken
 * waits for one. One thread at a time reads the CQ (the reader, outside
 * the handle's lock, in gl_ring_wait_cqe(), so the ring's wait and wake
 * protocol, GL_RING_CQ_WAIT included, is ring.c's); it hands each
 * completion to its request's slot and wakes the owner on the slot's
 * condition variable; an owner whose request has news while it reads
 * gives the role to a waiting owner. No thread ever spins on the lock.
 *
 * The daemon gone (ENOTCONN, the seed's Disconnected) is transient when
 * the caller set a retry limit (gl_model_set_retry()): the handle waits
 * with exponential backoff for a daemon on the same mount point to serve
 * the model again, reopens its ring (a new mount, a new ring; the first
 * caller that finds the ring gone reopens it, the others use the new
 * one) and sends the request again, and reports ENOTCONN once the limit
 * passed.
 *
 * Invariant: a slot is taken from the submission of its request until
 * that request's last completion was read (or the ring failed), so the
 * daemon never writes into a slot another request owns; a ring (struct
 * model_map) is unmapped only when the handle and every request on it
 * let it go (refs). Completions with a user_data no slot holds (left by
 * an earlier user of the ring) are dropped. A request is sent again only
 * while none of its answer reached the caller. m->lock guards every
 * field of the handle, its maps and their slots.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/lib/internal.h"

#define MODEL_LEASE_PREFIX	"model."
#define MODEL_ALIGN		64	/* a slot's and an answer's alignment */

struct model_slot {
	pthread_cond_t cond;	/* its owner waits here for news */
	bool busy;		/* a request of its owner's in flight */
	bool waiting;		/* its owner sleeps on cond */
	bool ended;		/* its last completion came */
	int status;		/* then: 0 or -errno */
	uint64_t user_data;	/* the request's tag */
	uint64_t ans_max;	/* bytes of its answer buffer */
	uint64_t told;		/* answer bytes the completions told */
};

/* One mapped ring and its slots. */
struct model_map {
	struct gl_ring *ring;
	char *data;		/* the ring's data area */
	size_t data_size;
	size_t slot_size;	/* bytes per slot, MODEL_ALIGN-aligned */
	unsigned int nslots;	/* <= the SQ's entries */
	unsigned int refs;	/* the handle's (while current), each
				 * request's */
	unsigned int busy;	/* slots taken */
	uint64_t gen;		/* which map of the handle it is */
	bool reading;		/* a thread waits on the CQ for all */
	int err;		/* the ring's -errno once a read failed */
	struct model_slot slot[GL_MODEL_SLOTS_MAX];
};

struct gl_model {
	pthread_mutex_t lock;
	pthread_cond_t room;	/* a slot came free, or the map failed */
	struct model_map *map;	/* the current ring */
	uint64_t seq;		/* user_data of the last request */
	uint64_t gens;		/* maps made */
	unsigned int nslots;	/* asked with gl_model_set_slots() */
	unsigned int retry_ms;	/* how long ENOTCONN is retried; 0: not */
	char lease[GL_NAME_MAX + 1];	/* model.NAME */
	char mnt[];		/* the mount point, to reopen the tree by */
};

/* One request in flight: its map (a reference) and slot. */
struct model_call {
	struct model_map *map;
	struct model_slot *sl;
	uint64_t at;		/* data-area offset of its answer buffer */
	uint64_t seen;		/* answer bytes taken by the caller */
};

/* Split @map into @n slots: 0 or -EINVAL (slots too small to hold a
 * request and an answer). */
static int map_split(struct model_map *map, unsigned int n)
{
	unsigned int sq = ((struct gl_ring_sq *)map->ring)->entries;
	size_t size;

	/* never more requests than SQ entries: the SQ is never full */
	if (n > sq)
		n = sq;
	size = (map->data_size / n) & ~(size_t)(MODEL_ALIGN - 1);
	if (size < 2 * MODEL_ALIGN)
		return -EINVAL;
	map->nslots = n;
	map->slot_size = size;
	return 0;
}

static void map_free(struct model_map *map)
{
	unsigned int i;

	gl_ring_close(map->ring);
	for (i = 0; i < GL_MODEL_SLOTS_MAX; i++)
		pthread_cond_destroy(&map->slot[i].cond);
	free(map);
}

/* Drop a reference to @map; under m->lock (or the handle's last user). */
static void map_put(struct model_map *map)
{
	if (map && !--map->refs)
		map_free(map);
}

/* Map the request ring of @m's lease on tree @g and make it the current
 * one, letting the old one go. 0 or gl_ring_open()'s -errno, -ENOMEM,
 * -EINVAL (a data area too small for the slots); @m unchanged then.
 * Takes m->lock; when @gen is not 0 and the current map is not map @gen
 * any more (another caller reopened it), the new map is dropped. */
static int model_map(struct gl_model *m, struct gl *g, uint64_t gen)
{
	struct model_map *map = calloc(1, sizeof(*map)), *old = NULL;
	unsigned int i;
	int err;

	if (!map)
		return -ENOMEM;
	err = gl_ring_open(g, m->lease, &map->ring);
	if (err) {
		free(map);
		return err;
	}
	for (i = 0; i < GL_MODEL_SLOTS_MAX; i++)
		pthread_cond_init(&map->slot[i].cond, NULL);
	map->data = gl_ring_data(map->ring, &map->data_size);
	map->refs = 1;
	pthread_mutex_lock(&m->lock);
	err = map_split(map, m->nslots);
	if (!err && gen && m->map && m->map->gen != gen) {
		old = map;	/* somebody was quicker */
	} else if (!err) {
		map->gen = ++m->gens;
		old = m->map;
		m->map = map;
		pthread_cond_broadcast(&m->room);
	}
	map_put(err ? map : old);
	pthread_mutex_unlock(&m->lock);
	return err;
}

/*
 * gl_model_open - map the request ring of model @name (models/NAME/io:
 * the io region of lease model.NAME, made by writing "io SIZE" to
 * models/NAME/ctl). Returns 0 with *@out (free it with gl_model_close()),
 * or -EINVAL (a bad name), -ENOENT (no such model, or it has no ring),
 * -ENOMEM, -EKEYEXPIRED, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_model_open(struct gl *g, const char *name,
			    struct gl_model **out)
{
	char lease[GL_NAME_MAX + 2];
	const char *mnt = gl_mount_path(g);
	struct gl_model *m;
	int n, err;

	*out = NULL;
	if (!name)
		return -EINVAL;
	n = snprintf(lease, sizeof(lease), MODEL_LEASE_PREFIX "%s", name);
	if (n < 0 || (size_t)n > GL_NAME_MAX || gl_name_valid(lease))
		return -EINVAL;
	m = calloc(1, sizeof(*m) + strlen(mnt) + 1);
	if (!m)
		return -ENOMEM;
	memcpy(m->lease, lease, (size_t)n + 1);
	strcpy(m->mnt, mnt);
	m->nslots = 1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->room, NULL);
	err = model_map(m, g, 0);
	if (err) {
		pthread_cond_destroy(&m->room);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

/*
 * gl_model_set_retry - retry requests of @m for up to @max_ms
 * milliseconds when the daemon is gone (0, the default: report
 * -ENOTCONN at once). Returns 0, or -EINVAL when @m is NULL.
 */
GL_EXPORT int gl_model_set_retry(struct gl_model *m, unsigned int max_ms)
{
	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->retry_ms = max_ms;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/*
 * gl_model_set_slots - let @m carry up to @n requests at once (1, the
 * default: the whole data area is one request's), each in 1/@n of the
 * data area (a request and its answer; an answer that outgrows its
 * slot fails with -EFBIG), and at most as many as the ring's SQ has
 * entries. Kept across reopens. Returns 0, or -EINVAL (@m NULL, @n 0 or
 * over GL_MODEL_SLOTS_MAX, or slots under 128 bytes), -EBUSY (requests
 * are in flight). Takes the handle's lock.
 */
GL_EXPORT int gl_model_set_slots(struct gl_model *m, unsigned int n)
{
	int err;

	if (!m || !n || n > GL_MODEL_SLOTS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	err = m->map->busy ? -EBUSY : map_split(m->map, n);
	if (!err)
		m->nslots = n;
	pthread_mutex_unlock(&m->lock);
	return err;
}

static int64_t model_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void model_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A request's -errno as the caller sees it: a ring that died because
 * its daemon is gone (a clean stop cancels the requests and kills the
 * rings after it unmounted) says -ENOTCONN. */
static int model_err(struct model_map *map, int err)
{
	if ((err == -ECANCELED || err == -EKEYEXPIRED || err == -EPROTO) &&
	    __gl_ring_gone(map->ring))
		return -ENOTCONN;
	return err;
}

/* Reopen the tree and the model's ring once, unless map @gen was
 * replaced already. 0 or -errno: -ENOTCONN (no daemon serves the mount
 * point) and -ENOENT (the model, or its ring, is not back yet) may
 * pass. */
static int model_reopen(struct gl_model *m, uint64_t gen)
{
	struct gl *g;
	int err;

	pthread_mutex_lock(&m->lock);
	err = m->map->gen != gen;
	pthread_mutex_unlock(&m->lock);
	if (err)
		return 0;
	err = gl_open(m->mnt, &g);
	if (err)
		return err;
	err = model_map(m, g, gen);
	gl_close(g);
	return err;
}

/*
 * After -ENOTCONN on map @gen: reopen with exponential backoff
 * (GL_MODEL_RETRY_FIRST_MS doubling up to GL_MODEL_RETRY_STEP_MS) until
 * *@deadline (set from retry_ms on the call's first failure, < 0
 * before). 0 once reopened (by this caller or another); -ENOTCONN when
 * no retry is set or the deadline passed; a reopen's other -errno
 * (-EACCES, -EKEYEXPIRED, -ENOMEM, -EINVAL) at once.
 */
static int model_reconnect(struct gl_model *m, uint64_t gen,
			   int64_t *deadline)
{
	int64_t now = model_now_ms(), step = GL_MODEL_RETRY_FIRST_MS;
	unsigned int retry_ms;
	int err;

	pthread_mutex_lock(&m->lock);
	retry_ms = m->retry_ms;
	pthread_mutex_unlock(&m->lock);
	if (!retry_ms)
		return -ENOTCONN;
	if (*deadline < 0)
		*deadline = now + retry_ms;
	for (;;) {
		err = model_reopen(m, gen);
		if (!err)
			return 0;
		if (err != -ENOTCONN && err != -ENOENT)
			return err;
		now = model_now_ms();
		if (now >= *deadline)
			return -ENOTCONN;
		model_sleep_ms(step < *deadline - now ? step :
			       *deadline - now);
		step = step * 2 < GL_MODEL_RETRY_STEP_MS ? step * 2 :
			GL_MODEL_RETRY_STEP_MS;
	}
}

/* gl_model_close - unmap and free @m; NULL is ignored. No request of
 * @m may be in flight. */
GL_EXPORT void gl_model_close(struct gl_model *m)
{
	if (!m)
		return;
	map_put(m->map);
	pthread_cond_destroy(&m->room);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* @map failed with @err: every owner learns it (under m->lock). */
static void map_fail(struct gl_model *m, struct model_map *map, int err)
{
	unsigned int i;

	map->err = err;
	for (i = 0; i < map->nslots; i++)
		pthread_cond_signal(&map->slot[i].cond);
	pthread_cond_broadcast(&m->room);
}

/* Nobody reads @map's CQ: wake one owner that waits, to read it. */
static void map_handoff(struct model_map *map)
{
	unsigned int i;

	if (map->reading)
		return;
	for (i = 0; i < map->nslots; i++)
		if (map->slot[i].waiting) {
			pthread_cond_signal(&map->slot[i].cond);
			return;
		}
}

/* Hand completion @c to the slot whose request it is (under m->lock). */
static void map_post(struct model_map *map, const struct gl_cqe *c)
{
	struct model_slot *sl = NULL;
	uint64_t end = (uint64_t)c->ans.off + c->ans.len;
	unsigned int i;

	for (i = 0; i < map->nslots && !sl; i++)
		if (map->slot[i].busy && !map->slot[i].ended &&
		    map->slot[i].user_data == c->user_data)
			sl = &map->slot[i];
	if (!sl)
		return;	/* an earlier user's */
	if (!(c->flags & GL_CQE_F_MORE)) {
		sl->ended = true;
		if (c->status)
			sl->status = c->status > 0 ? -EPROTO : c->status;
	}
	/* the daemon's word, checked all the same */
	if (!c->status && !sl->status) {
		if (c->ans.off != sl->told || end > sl->ans_max)
			sl->status = -EPROTO;
		else
			sl->told = end;
	}
	pthread_cond_signal(&sl->cond);
}

/* Read one completion of @map for everybody: m->lock held, dropped
 * while waiting; map->reading is ours meanwhile. */
static void map_read(struct gl_model *m, struct model_map *map)
{
	struct gl_cqe *cqe, c;
	int err;

	map->reading = true;
	pthread_mutex_unlock(&m->lock);
	err = gl_ring_wait_cqe(map->ring, &cqe, -1);
	if (!err) {
		memcpy(&c, cqe, sizeof(c));
		gl_ring_cqe_seen(map->ring, cqe);
	}
	pthread_mutex_lock(&m->lock);
	map->reading = false;
	if (err)
		map_fail(m, map, err);
	else
		map_post(map, &c);
}

/*
 * Wait, under m->lock, until @call's request has news (answer bytes
 * past call->seen, or its end): 0, or the ring's -errno (-ENOTCONN,
 * -EKEYEXPIRED, -EPROTO). Reads the CQ while nobody else does; gives
 * that role on before it returns.
 */
static int model_wait(struct gl_model *m, struct model_call *call)
{
	struct model_map *map = call->map;
	struct model_slot *sl = call->sl;
	int err;

	for (;;) {
		if (sl->told > call->seen || sl->ended) {
			err = 0;
			break;
		}
		if (map->err) {
			err = map->err;
			break;
		}
		if (!map->reading) {
			map_read(m, map);
			continue;
		}
		sl->waiting = true;
		pthread_cond_wait(&sl->cond, &m->lock);
		sl->waiting = false;
	}
	map_handoff(map);
	return err;
}

/*
 * Send @req (@len bytes) in a free slot of the current map, with at
 * most @size answer bytes, waiting for a slot while all are taken:
 * 0 with @call set (end it with model_end()), or -errno with *@gen the
 * map's: -EFBIG (over the slot), gl_ring_submit()'s, or the ring's
 * (model_err()). Under m->lock.
 */
static int model_start(struct gl_model *m, const void *req, size_t len,
		       size_t size, struct model_call *call, uint64_t *gen)
{
	size_t ans = (len + MODEL_ALIGN - 1) & ~(size_t)(MODEL_ALIGN - 1);
	struct model_map *map;
	struct model_slot *sl;
	struct gl_sqe *sqe;
	unsigned int i;
	uint64_t at;
	int err;

	for (;;) {
		map = m->map;
		*gen = map->gen;
		if (map->err)
			return model_err(map, map->err);
		for (i = 0; i < map->nslots; i++)
			if (!map->slot[i].busy)
				break;
		if (i < map->nslots)
			break;
		pthread_cond_wait(&m->room, &m->lock);
	}
	if (len > UINT32_MAX || ans > map->slot_size)
		return -EFBIG;
	sqe = gl_ring_get_sqe(map->ring);
	if (!sqe)
		return -EBUSY;	/* somebody else fills our SQ */
	sl = &map->slot[i];
	at = (uint64_t)i * map->slot_size;
	memcpy(map->data + at, req, len);
	sl->ans_max = map->slot_size - ans < size ? map->slot_size - ans :
						   size;
	sl->user_data = ++m->seq;
	gl_ring_prep_infer(sqe, at, (uint32_t)len, at + ans, sl->ans_max,
			   sl->user_data);
	err = gl_ring_submit(map->ring);
	if (err < 0)
		return model_err(map, err);
	sl->busy = true;
	sl->ended = false;
	sl->status = 0;
	sl->told = 0;
	map->busy++;
	map->refs++;
	call->map = map;
	call->sl = sl;
	call->at = at + ans;
	call->seen = 0;
	return 0;
}

/* Let @call's slot go once its request ended (drained after an error
 * of ours) or its ring failed; under m->lock. */
static void model_end(struct gl_model *m, struct model_call *call)
{
	struct model_map *map = call->map;
	struct model_slot *sl = call->sl;

	while (!sl->ended && !model_wait(m, call))
		call->seen = sl->told;
	sl->busy = false;
	map->busy--;
	/* all: one that finds it may still fail before it takes it */
	pthread_cond_broadcast(&m->room);
	map_handoff(map);
	map_put(map);
}

/* One try of gl_model_stream(); *@sent once @fn has been called; *@gen
 * the map it used. */
static ssize_t model_stream_once(struct gl_model *m, const void *req,
				 size_t len,
				 int (*fn)(void *arg, const void *buf,
					   size_t n),
				 void *arg, int *sent, uint64_t *gen)
{
	struct model_call call;
	uint64_t from, to;
	int err, stop = 0;
	bool ended;

	pthread_mutex_lock(&m->lock);
	err = model_start(m, req, len, SIZE_MAX, &call, gen);
	if (err)
		goto out;
	while (!(err = model_wait(m, &call))) {
		from = call.seen;
		to = call.sl->told;
		ended = call.sl->ended;
		err = ended ? call.sl->status : 0;
		call.seen = to;
		if (to > from && fn && !stop && !err) {
			pthread_mutex_unlock(&m->lock);
			*sent = 1;
			stop = fn(arg, call.map->data + call.at + from,
				  to - from);
			if (stop > 0)
				stop = 0;
			pthread_mutex_lock(&m->lock);
		}
		if (ended)
			break;
	}
	if (err)
		err = model_err(call.map, err);
	model_end(m, &call);
out:
	pthread_mutex_unlock(&m->lock);
	if (err)
		return err;
	return stop ? stop : (ssize_t)call.seen;
}

/*
 * gl_model_stream - send one request (@len bytes, the text or binary
 * form a write to models/NAME/infer takes) and call @fn(@arg, bytes, n)
 * for each part of the answer as it comes, in order, pointing into the
 * ring's data area (valid during the call). A negative return of @fn
 * stops the calls; the request still runs to its end, and that value is
 * returned. Safe to call from several threads at once on one handle
 * (up to gl_model_set_slots() requests in flight, the others wait for a
 * slot); @fn runs without the handle's lock. Returns the answer's
 * length, or -errno: the request's (-EINVAL, -EFBIG: the request or
 * its answer outgrew its slot, -EBUSY, -EKEYEXPIRED, -ECANCELED, ...)
 * or the ring's (-ENOTCONN: the daemon is gone, and it did not come
 * back within gl_model_set_retry()'s limit, or @fn had been called
 * already; -EKEYEXPIRED: the ring died, its lease dropped or expired).
 */
GL_EXPORT ssize_t gl_model_stream(struct gl_model *m, const void *req,
				  size_t len,
				  int (*fn)(void *arg, const void *buf,
					    size_t n),
				  void *arg)
{
	int64_t deadline = -1;
	uint64_t gen;
	ssize_t ret;
	int sent = 0, err;

	for (;;) {
		ret = model_stream_once(m, req, len, fn, arg, &sent, &gen);
		/* half an answer cannot be taken back: no second try */
		if (ret != -ENOTCONN || sent)
			return ret;
		err = model_reconnect(m, gen, &deadline);
		if (err)
			return err;
	}
}

/* One try of gl_model_infer(); *@gen the map it used. */
static ssize_t model_infer_once(struct gl_model *m, const void *req,
				size_t len, void *ans, size_t size,
				uint64_t *gen)
{
	struct model_call call;
	int err;

	pthread_mutex_lock(&m->lock);
	err = model_start(m, req, len, size, &call, gen);
	if (err)
		goto out;
	while (!(err = model_wait(m, &call))) {
		call.seen = call.sl->told;
		if (call.sl->ended) {
			err = call.sl->status;
			break;
		}
	}
	if (err) {
		err = model_err(call.map, err);
	} else {
		/* the slot is ours until model_end(): copy unlocked */
		pthread_mutex_unlock(&m->lock);
		memcpy(ans, call.map->data + call.at, call.seen);
		pthread_mutex_lock(&m->lock);
	}
	model_end(m, &call);
out:
	pthread_mutex_unlock(&m->lock);
	return err ? err : (ssize_t)call.seen;
}

/*
 * gl_model_infer - gl_model_stream() with the whole answer copied into
 * @ans (@size bytes): returns its length, or -EFBIG when it does not fit
 * (the daemon stops the request), or gl_model_stream()'s -errno. Safe
 * from several threads at once, as gl_model_stream(). With a retry
 * limit set, a request cut by the daemon's death is sent again once the
 * model is back.
 */
GL_EXPORT ssize_t gl_model_infer(struct gl_model *m, const void *req,
				 size_t len, void *ans, size_t size)
{
	int64_t deadline = -1;
	uint64_t gen;
	ssize_t ret;
	int err;

	for (;;) {
		ret = model_infer_once(m, req, len, ans, size, &gen);
		if (ret != -ENOTCONN)
			return ret;
		err = model_reconnect(m, gen, &deadline);
		if (err)
			return err;
	}
}
