// SPDX-License-Identifier: MIT
/*
 * The gateway's side of the daemon: one libgpulease handle on the mount,
 * one model ring handle per model (gl_model(3)), opened on first use and
 * shared by the model's requests, and reconnection. A ring handle
 * carries up to --model-inflight requests at once (gl_model_set_slots()),
 * so the daemon batches a model's concurrent requests; more wait in
 * gw_model_get() for one to end. When a call finds the daemon gone
 * (ENOTCONN) every handle is stale: the connection's generation moves
 * on, the mount is opened again on a later request, no sooner than the
 * backoff (0.1 s doubling to 2 s) allows, and each model's ring is
 * reopened on its next request (a restarted daemon gives new rings).
 * A model's info (arch, sizes) comes from reading models/NAME/ctl, once
 * per ring handle (a model loaded again has a new ring, so a new handle).
 * Invariant: gw.lock guards gw (the handle, the generation, the table);
 * an entry's lock guards its current handle, its count in flight and its
 * handles' references; a handle is closed when the entry and every
 * request let it go. gw.lock is never taken while waiting on the ring,
 * and entry locks are taken before gw.lock, never after; no lock is held
 * during a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/gateway/gateway.h"
#include "tools/lib/gpulease.h"

#define MODELS_MAX	64
#define BACKOFF_MIN_NS	100000000LL
#define BACKOFF_MAX_NS	2000000000LL

/* One ring handle of a model: what gw_model_get() hands out. */
struct gw_model {
	struct gw_entry *e;		/* fixed */
	struct gl_model *h;		/* fixed */
	uint64_t gen;			/* gw.gen h was opened in */
	struct gw_info info;		/* read when h was opened */
	unsigned int refs;		/* under e->lock: the entry's while
					 * current, and each request's */
};

/* A model of the table. */
struct gw_entry {
	pthread_mutex_t lock;
	pthread_cond_t room;		/* inflight went under the bound */
	char name[GW_NAME_MAX + 1];	/* fixed once in the table */
	struct gw_model *cur;		/* or NULL; under lock */
	unsigned int inflight;		/* requests taken; under lock */
};

static struct {
	pthread_mutex_t lock;
	const char *mount;
	struct gl *g;			/* or NULL: down */
	uint64_t gen;			/* bumped when the daemon is lost */
	int64_t next_try;		/* ns: no reconnect before */
	int64_t backoff;		/* ns */
	struct gw_entry models[MODELS_MAX];
	unsigned int n_models;
} gw = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Open the mount if it is down and the backoff allows; under gw.lock. */
static int connect_locked(void)
{
	int err;

	if (gw.g)
		return 0;
	if (now_ns() < gw.next_try)
		return -ENOTCONN;
	err = gl_open(gw.mount, &gw.g);
	if (err) {
		gw.g = NULL;
		gw.backoff = gw.backoff ? gw.backoff * 2 : BACKOFF_MIN_NS;
		if (gw.backoff > BACKOFF_MAX_NS)
			gw.backoff = BACKOFF_MAX_NS;
		gw.next_try = now_ns() + gw.backoff;
		return -ENOTCONN;
	}
	gw.backoff = 0;
	gw_log("gw: connected to %s", gl_mount_path(gw.g));
	return 0;
}

/* The daemon is gone (found in generation @gen): drop the handle. */
static void lost(uint64_t gen)
{
	pthread_mutex_lock(&gw.lock);
	if (gw.gen == gen && gw.g) {	/* without gw.g: backing off */
		gw.gen++;
		gl_close(gw.g);
		gw.g = NULL;
		gw.backoff = BACKOFF_MIN_NS;
		gw.next_try = now_ns() + gw.backoff;
		gw_log("gw: lost the daemon; reconnecting");
	}
	pthread_mutex_unlock(&gw.lock);
}

/* Let handle @hm go: closed with its last reference; under its
 * entry's lock (or alone, at exit). */
static void handle_put(struct gw_model *hm)
{
	if (--hm->refs)
		return;
	gl_model_close(hm->h);
	free(hm);
}

/*
 * gw_backend_init - the daemon mounted at @mount (NULL: libgpulease's
 * default, $GPULEASE_MOUNT or /gpu). Returns 0; a daemon not there yet
 * is not an error (requests get 503 until it is).
 */
int gw_backend_init(const char *mount)
{
	unsigned int i;

	gw.mount = mount;
	for (i = 0; i < MODELS_MAX; i++) {
		pthread_mutex_init(&gw.models[i].lock, NULL);
		pthread_cond_init(&gw.models[i].room, NULL);
	}
	pthread_mutex_lock(&gw.lock);
	connect_locked();
	pthread_mutex_unlock(&gw.lock);
	return 0;
}

/* gw_backend_exit - close every handle; no request may be running. */
void gw_backend_exit(void)
{
	unsigned int i;

	for (i = 0; i < gw.n_models; i++) {
		if (gw.models[i].cur)
			handle_put(gw.models[i].cur);
		gw.models[i].cur = NULL;
	}
	gl_close(gw.g);
	gw.g = NULL;
}

/* gw_backend_ready - whether the daemon answers (reconnecting if due). */
bool gw_backend_ready(void)
{
	char path[4096];
	uint64_t gen;
	bool ok, had;

	pthread_mutex_lock(&gw.lock);
	ok = !connect_locked();
	if (ok) {
		snprintf(path, sizeof(path), "%s/ctl", gl_mount_path(gw.g));
		ok = !access(path, F_OK);
	}
	had = gw.g;
	gen = gw.gen;
	pthread_mutex_unlock(&gw.lock);
	if (!ok && had)
		lost(gen);
	return ok;
}

/* Read models/@name/ctl into @info; under gw.lock with gw.g set. */
static int info_locked(const char *name, struct gw_info *info)
{
	char path[4096], key[32];
	unsigned long long v;
	char line[256], val[64];
	FILE *f;

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	snprintf(path, sizeof(path), "%s/models/%s/ctl", gl_mount_path(gw.g),
		 name);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOTCONN || errno == ENXIO ? -ENOTCONN :
		       errno == EACCES ? -EACCES : -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %63s", key, val) != 2)
			continue;
		v = strtoull(val, NULL, 10);
		if (!strcmp(key, "arch"))
			info->mlp = !strcmp(val, "mlp");
		else if (!strcmp(key, "max_batch"))
			info->max_batch = (uint32_t)v;
		else if (!strcmp(key, "max_ctx"))
			info->max_ctx = (uint32_t)v;
		else if (!strcmp(key, "inputs"))
			info->inputs = (uint32_t)v;
		else if (!strcmp(key, "outputs"))
			info->outputs = (uint32_t)v;
	}
	fclose(f);
	return 0;
}

/* gw_model_info - model @name's arch and sizes. 0, -ENOENT, -ENOTCONN,
 * -EACCES. */
int gw_model_info(const char *name, struct gw_info *info)
{
	int err;

	pthread_mutex_lock(&gw.lock);
	err = connect_locked();
	if (!err)
		err = info_locked(name, info);
	pthread_mutex_unlock(&gw.lock);
	return err;
}

/*
 * gw_model_list - the models the gateway's user sees (models/ctl's
 * lines), as a malloc'ed array in *@out. Returns their count, or
 * -ENOTCONN, -ENOMEM.
 */
int gw_model_list(struct gw_info **out)
{
	char path[4096], line[512], name[GW_NAME_MAX + 2];
	struct gw_info *v = NULL, *nv;
	int n = 0, err;
	uint64_t gen;
	FILE *f;

	*out = NULL;
	pthread_mutex_lock(&gw.lock);
	gen = gw.gen;
	err = connect_locked();
	if (err)
		goto out;
	snprintf(path, sizeof(path), "%s/models/ctl", gl_mount_path(gw.g));
	f = fopen(path, "re");
	if (!f) {
		err = -ENOTCONN;
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%59s", name) != 1 ||
		    !strcmp(name, "last_error") || strlen(name) > GW_NAME_MAX)
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv) {
			err = -ENOMEM;
			break;
		}
		v = nv;
		if (!info_locked(name, &v[n]))
			n++;
	}
	fclose(f);
out:
	pthread_mutex_unlock(&gw.lock);
	if (err) {
		free(v);
		if (err == -ENOTCONN)
			lost(gen);
		return err;
	}
	*out = v;
	return n;
}

static struct gw_entry *find_locked(const char *name)
{
	unsigned int i;

	for (i = 0; i < gw.n_models; i++)
		if (!strcmp(gw.models[i].name, name))
			return &gw.models[i];
	if (gw.n_models == MODELS_MAX)
		return NULL;
	snprintf(gw.models[gw.n_models].name, sizeof(gw.models[0].name), "%s",
		 name);
	return &gw.models[gw.n_models++];
}

/*
 * Open model @name's ring handle as @e's current one, carrying up to
 * --model-inflight requests (fewer when the ring's data area is too
 * small for so many slots). Under e->lock, then gw.lock. 0 or -errno.
 */
static int handle_open(struct gw_entry *e, const char *name)
{
	struct gw_model *hm = calloc(1, sizeof(*hm));
	unsigned int n = gw_opts.model_inflight;
	int err;

	if (!hm)
		return -ENOMEM;
	err = gl_model_open(gw.g, name, &hm->h);
	hm->gen = gw.gen;
	if (!err)
		err = info_locked(name, &hm->info);
	while (!err && gl_model_set_slots(hm->h, n) == -EINVAL && n > 1)
		n /= 2;
	if (err) {
		gl_model_close(hm->h);
		free(hm);
		return err;
	}
	hm->e = e;
	hm->refs = 1;
	e->cur = hm;
	return 0;
}

/*
 * gw_model_get - model @name's ring handle, taken for one request (at
 * most --model-inflight of a model's at once: more wait here for one to
 * end), and its @info (or NULL). Returns 0 (give it back with
 * gw_model_put()), or gl_model_open()'s -errno (-ENOENT: no such model
 * or no ring), or -ENOTCONN (the daemon is gone), -ENOSPC (too many
 * models), -ENOMEM.
 */
int gw_model_get(const char *name, struct gw_model **out,
		 struct gw_info *info)
{
	struct gw_entry *e;
	uint64_t gen;
	int err;

	pthread_mutex_lock(&gw.lock);
	err = connect_locked();
	e = err ? NULL : find_locked(name);
	pthread_mutex_unlock(&gw.lock);
	if (err)
		return err;
	if (!e)
		return -ENOSPC;
	pthread_mutex_lock(&e->lock);
	while (e->inflight >= gw_opts.model_inflight)
		pthread_cond_wait(&e->room, &e->lock);
	pthread_mutex_lock(&gw.lock);
	gen = gw.gen;
	err = connect_locked();
	if (!err && e->cur && e->cur->gen != gw.gen) {
		handle_put(e->cur);
		e->cur = NULL;
	}
	if (!err && !e->cur)
		err = handle_open(e, name);
	pthread_mutex_unlock(&gw.lock);
	if (err) {
		/* the place we may have been woken for is another's */
		pthread_cond_signal(&e->room);
		pthread_mutex_unlock(&e->lock);
		if (err == -ENOTCONN)
			lost(gen);
		return err;
	}
	e->inflight++;
	e->cur->refs++;
	*out = e->cur;
	if (info)
		*info = e->cur->info;
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/*
 * gw_model_call - one request on @m (taken by gw_model_get()) through
 * gl_model_stream(), concurrently with the model's other requests;
 * @fn gets the answer's parts. Returns its length or gl_model_stream()'s
 * -errno; a dead daemon or ring also makes the handle stale, so the
 * next request opens another (this one is closed once its last request
 * gives it back).
 */
ssize_t gw_model_call(struct gw_model *m, const void *req, size_t len,
		      int (*fn)(void *arg, const void *buf, size_t n),
		      void *arg)
{
	ssize_t n = gl_model_stream(m->h, req, len, fn, arg);
	struct gw_entry *e = m->e;

	if (n == -ENOTCONN)
		lost(m->gen);
	if (n == -ENOTCONN || n == -EPROTO || n == -ECANCELED ||
	    n == -EKEYEXPIRED) {
		pthread_mutex_lock(&e->lock);
		if (e->cur == m) {
			e->cur = NULL;
			handle_put(m);	/* the entry's; ours is still held */
		}
		pthread_mutex_unlock(&e->lock);
	}
	return n;
}

/* gw_model_put - give back @m, taken by gw_model_get(): a waiting
 * request of the model may run. */
void gw_model_put(struct gw_model *m)
{
	struct gw_entry *e = m->e;

	pthread_mutex_lock(&e->lock);
	e->inflight--;
	pthread_cond_signal(&e->room);
	handle_put(m);
	pthread_mutex_unlock(&e->lock);
}
