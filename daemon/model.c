// SPDX-License-Identifier: MIT
/*
 * The model set: models/ctl (load, unload, the listing), each model's
 * ctl and stats, and its lease's owner operations (expiry turns it
 * expired, a drop by someone else unloads it through model_unload's
 * path). Requests are model-infer.c's, loading model-load.c's.
 * The lease's owner operations get the set as context and find the
 * model by its lease under the set's lock (model_of_lease()).
 * Invariant: a name is in the set from the start of its load to its
 * unload, so two loads of one name never race; a model leaves the list
 * exactly once (whoever sees it in the list under the lock removes it),
 * and its lease is dropped by whoever removed it, unless the lease's
 * own drop is what removed it. Burst models, renewal and memory
 * pressure (the states cold and expired, lease swaps) are model-cold.c's.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/model/team.h"
#include "daemon/parse.h"
#include "daemon/registry.h"
#include "daemon/strbuf.h"

#define MODEL_NAME_MAX	(GL_NAME_MAX - 6)	/* "model." + NAME */
#define MODEL_WAIT_MAX_MS	3600000u	/* wait_ms=: an hour */
#define MODEL_WAIT_MS		1000u		/* wait_ms='s default */

static const char *const state_names[] = {
	[MODEL_LOADING] = "loading",
	[MODEL_WARM] = "warm",
	[MODEL_EXPIRED] = "expired",
	[MODEL_COLD] = "cold",
	[MODEL_UNLOADED] = "unloaded",
};

int model_set_init(struct model_set *s, struct lease_table *lt,
		   struct registry *reg, const struct policy *pol)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		return -err;
	err = gl_last_error_init(&s->last_error);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		return err;
	}
	CDS_INIT_LIST_HEAD(&s->models);
	s->lt = lt;
	s->reg = reg;
	s->pol = pol;
	atomic_init(&s->next_id, 1);
	return 0;
}

void model_get(struct model *m)
{
	atomic_fetch_add(&m->refs, 1);
}

void model_put(struct model *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	if (m->lease)
		lease_put(m->lease);
	model_src_free(m);
	model_cold_destroy(m);
	tokenizer_free(&m->tok);
	team_free(m->team);
	model_batch_destroy(m);
	gl_last_error_destroy(&m->last_error);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

uint64_t model_id(const struct model *m)
{
	return m->id;
}

const char *model_name(const struct model *m)
{
	return m->name;
}

uid_t model_owner(const struct model *m)
{
	return m->owner;
}

gid_t model_group(const struct model *m)
{
	return m->group;
}

int model_check(struct model *m)
{
	switch (atomic_load(&m->state)) {
	case MODEL_WARM:
	case MODEL_COLD:
		return 0;
	case MODEL_EXPIRED:
		return m->renew_manual ? 0 : -EKEYEXPIRED;
	default:
		return -ENOENT;
	}
}

/* The failure slots' errnos; the last slot is every other one. */
static const int fail_errnos[MODEL_FAIL_REASONS - 1] = {
	EINVAL, EFBIG, EBUSY, EOPNOTSUPP, EKEYEXPIRED, ECANCELED, ETIMEDOUT,
	ETIME, EFAULT, ENOMEM, ENOENT,
};

const char *model_fail_reason(int i)
{
	assert(i >= 0 && i < MODEL_FAIL_REASONS);
	return i < MODEL_FAIL_REASONS - 1 ? gl_errno_name(fail_errnos[i]) :
					    "other";
}

void model_count_failure(struct model *m, int err)
{
	int i;

	for (i = 0; i < MODEL_FAIL_REASONS - 1; i++)
		if (fail_errnos[i] == -err)
			break;
	atomic_fetch_add(&m->fail[i], 1);
	atomic_fetch_add(&m->failures, 1);
}

void model_meter_read(struct model *m, struct model_meter *out)
{
	int i;

	out->requests = atomic_load(&m->requests);
	out->tokens = atomic_load(&m->tokens);
	out->bytes_in = atomic_load(&m->bytes_in);
	out->bytes_out = atomic_load(&m->bytes_out);
	for (i = 0; i < MODEL_FAIL_REASONS; i++)
		out->fail[i] = atomic_load(&m->fail[i]);
	for (i = 0; i < MODEL_REFUSE_REASONS; i++)
		out->refused[i] = atomic_load(&m->admit.refused[i]);
	out->latency = &m->latency;
	out->cold_starts = atomic_load(&m->cold_starts);
	out->cold_start = &m->cold_start;
	out->fallbacks = atomic_load(&m->fallbacks);
	out->fallback = m->fallback[0] ? m->fallback : NULL;
	out->lease_ns = atomic_load(&m->lease_ns);
	/* the set's lock is held (model_for_each): m->lease stays */
	if (m->lease)
		out->lease_ns += (uint64_t)(clock_mono() -
					    m->lease->born_mono);
	out->queue_time = &m->batch.queue_time;
	out->batch_size = &m->batch.batch_size;
}

void model_set_bytes(struct model_set *s, uint64_t *in, uint64_t *out)
{
	*in = atomic_load(&s->bytes_in);
	*out = atomic_load(&s->bytes_out);
}

extern const struct lease_ops model_lease_ops;

const char *model_lease_model(const struct lease *l)
{
	/* only model-load.c acquires leases with these ops, as model.NAME */
	if (l->ops != &model_lease_ops || strncmp(l->name, "model.", 6))
		return NULL;
	return l->name + 6;
}

static bool model_visible_to(const struct model *m, uid_t uid)
{
	return uid == 0 || uid == m->owner;
}

/* Take @m off the list if it is still there: true for the one caller
 * that did. */
static bool model_unlist(struct model *m)
{
	struct model_set *s = m->set;
	bool listed;

	pthread_mutex_lock(&s->lock);
	listed = atomic_load(&m->state) != MODEL_UNLOADED;
	if (listed) {
		cds_list_del(&m->link);
		atomic_store(&m->state, MODEL_UNLOADED);
	}
	pthread_mutex_unlock(&s->lock);
	return listed;
}

/*
 * The one unload path. @drop: drop the lease too (unload, teardown);
 * false when the lease's own drop brought us here. The lease's drop
 * ends every request (queued steps with ECANCELED, the running one
 * cancelled) and frees the memory before it returns.
 */
static int model_retire(struct model *m, uid_t uid, bool drop)
{
	uint32_t delay;

	if (!model_visible_to(m, uid))
		return model_fail(m, -EACCES, "uid %u may not unload it",
				  (unsigned)uid);
	if (!model_unlist(m))
		return -ENOENT;
	delay = atomic_load(&m->set->pol->model_retire_delay_ms);
	if (delay)	/* debug knob: requests meet a delisted model */
		usleep(delay * 1000);
	pthread_mutex_lock(&m->burst_lock);
	model_cold_disarm(m);
	if (drop && m->lease)	/* none while cold */
		lease_drop(m->lease, 0, false);
	pthread_mutex_unlock(&m->burst_lock);
	gl_info("model %s unloaded", m->name);
	model_put(m);	/* the list's */
	return 0;
}

/*
 * The model that holds @l, with a reference, or NULL (a load still in
 * progress is its loader's). The lease's owner operations carry the set,
 * not the model: the set outlives every lease, while a model may be
 * freed by the time a late expiry of its dropped lease calls back.
 */
static struct model *model_of_lease(struct model_set *s, struct lease *l)
{
	struct model *m, *found = NULL;

	pthread_mutex_lock(&s->lock);
	cds_list_for_each_entry(m, &s->models, link) {
		if (m->lease != l || atomic_load(&m->state) == MODEL_LOADING)
			continue;
		model_get(m);
		found = m;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

static void model_expired(struct model *m)
{
	int want = MODEL_WARM;

	if (atomic_compare_exchange_strong(&m->state, &want, MODEL_EXPIRED))
		model_fail(m, -EKEYEXPIRED, "its lease expired; requests "
			   "fail until it is unloaded");
}

static void model_on_expire(void *ctx, struct lease *l)
{
	struct model *m = model_of_lease(ctx, l);

	if (!m)
		return;
	model_expired(m);
	model_put(m);
}

static void model_on_drop(void *ctx, struct lease *l)
{
	struct model *m = model_of_lease(ctx, l);

	if (!m)
		return;
	model_retire(m, 0, false);
	model_put(m);
}

const struct lease_ops model_lease_ops = {
	.on_expire = model_on_expire,
	.on_drop = model_on_drop,
};

struct model *model_for_lease(struct lease *l)
{
	if (l->ops != &model_lease_ops)
		return NULL;
	return model_of_lease(l->ops_ctx, l);
}

int model_for_lease_err(struct lease *l)
{
	struct model_set *s = l->ops_ctx;

	if (l->ops != &model_lease_ops)
		return -EINVAL;
	return atomic_load(&s->stopping) ? -ECANCELED : -ENOENT;
}

int model_io_path(struct model *m, char *buf, size_t size)
{
	struct lease *l;
	int err;

	if (atomic_load(&m->state) != MODEL_WARM)
		return -ENOENT;
	l = model_lease_get(m);
	if (!l)
		return -ENOENT;
	err = lease_io_path(l, buf, size);
	lease_put(l);
	return err;
}

void model_set_destroy(struct model_set *s)
{
	struct model *m;

	/* a request that reaches a model being retired now is the stop's
	 * (req_start(): ECANCELED), not an unload's */
	atomic_store(&s->stopping, true);
	for (;;) {
		pthread_mutex_lock(&s->lock);
		m = cds_list_empty(&s->models) ? NULL :
			cds_list_first_entry(&s->models, struct model, link);
		if (m)
			model_get(m);
		pthread_mutex_unlock(&s->lock);
		if (!m)
			break;
		model_retire(m, 0, true);
		model_put(m);
	}
	gl_last_error_destroy(&s->last_error);
	pthread_mutex_destroy(&s->lock);
}

struct model *model_find(struct model_set *s, const char *name)
{
	struct model *m, *found = NULL;

	pthread_mutex_lock(&s->lock);
	cds_list_for_each_entry(m, &s->models, link) {
		if (atomic_load(&m->state) == MODEL_LOADING ||
		    strcmp(m->name, name))
			continue;
		model_get(m);
		found = m;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

int model_for_each(struct model_set *s, uid_t uid,
		   int (*fn)(void *arg, struct model *m), void *arg)
{
	struct model *m;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	cds_list_for_each_entry(m, &s->models, link) {
		if (atomic_load(&m->state) == MODEL_LOADING ||
		    !model_visible_to(m, uid))
			continue;
		err = fn(arg, m);
		if (err)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int parse_opt_u32(const char *v, uint32_t lo, uint32_t hi,
			 uint32_t *out)
{
	return parse_u32(v, out) || *out < lo || *out > hi ? -EINVAL : 0;
}

/* The options after NAME PATH. 0 or -EINVAL naming the bad word. */
static int model_opts_parse(struct cmdline *cl, struct model_opts *o,
			    const char **bad)
{
	const char *v;
	int i, err;

	o->path = cl->argv[2];
	for (i = 3; i < cl->argc; i++) {
		*bad = cl->argv[i];
		if (parse_key(cl->argv[i], "tokenizer", &v))
			err = *v == '/' ? (o->tokenizer = v, 0) : -EINVAL;
		else if (parse_key(cl->argv[i], "vram", &v))
			err = parse_size(v, &o->vram);
		else if (parse_key(cl->argv[i], "ttl", &v))
			err = parse_opt_u32(v, 1, UINT32_MAX, &o->ttl);
		else if (parse_key(cl->argv[i], "device", &v))
			err = parse_opt_u32(v, 0, GL_MAX_DEVICES - 1,
					    &o->device);
		else if (parse_key(cl->argv[i], "max_batch", &v))
			err = parse_opt_u32(v, 1, MODEL_MAX_BATCH,
					    &o->max_batch);
		else if (parse_key(cl->argv[i], "max_ctx", &v))
			err = parse_opt_u32(v, 1, UINT32_MAX, &o->max_ctx);
		else if (parse_key(cl->argv[i], "threads", &v))
			err = parse_opt_u32(v, 1, LLAMA_MAX_THREADS,
					    &o->threads);
		else if (parse_key(cl->argv[i], "deadline_ms", &v))
			err = parse_opt_u32(v, 0, MODEL_DEADLINE_MAX_MS,
					    &o->deadline_ms);
		else if (parse_key(cl->argv[i], "burst", &v))
			err = parse_opt_u32(v, 1, GL_TTL_LIMIT, &o->burst);
		else if (parse_key(cl->argv[i], "renew", &v))
			err = !strcmp(v, "manual") ? (o->renew_manual = true,
						      0) :
			      !strcmp(v, "auto") ? (o->renew_manual = false,
						    0) : -EINVAL;
		else if (parse_key(cl->argv[i], "wait_ms", &v))
			err = parse_opt_u32(v, 0, MODEL_WAIT_MAX_MS,
					    &o->wait_ms);
		else if (parse_key(cl->argv[i], "fallback", &v))
			err = parse_name(v) || strlen(v) > MODEL_NAME_MAX ||
			      !strcmp(v, cl->argv[1]) ? -EINVAL :
			      (o->fallback = v, 0);
		else if (parse_key(cl->argv[i], "max_queue", &v))
			err = parse_opt_u32(v, 0, MODEL_MAX_QUEUE,
					    &o->max_queue);
		else if (parse_key(cl->argv[i], "max_delay_us", &v))
			err = parse_opt_u32(v, 0, MODEL_MAX_DELAY_US,
					    &o->max_delay_us);
		else
			err = -EINVAL;
		if (err)
			return err;
	}
	return 0;
}

static struct model *model_new(struct model_set *s, const char *name,
			       uid_t uid, gid_t gid)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL)) {
		free(m);
		return NULL;
	}
	if (gl_last_error_init(&m->last_error)) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	if (model_cold_init(m)) {
		gl_last_error_destroy(&m->last_error);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	atomic_init(&m->refs, 1);	/* the list's */
	atomic_init(&m->state, MODEL_LOADING);
	m->set = s;
	m->id = atomic_fetch_add(&s->next_id, 1);
	strcpy(m->name, name);
	m->owner = uid;
	m->group = gid;
	m->ke = registry_find(s->reg, "matmul");
	model_batch_init(m);
	return m;
}

/* Take @name for a load: the new model is listed as loading. */
static int model_reserve(struct model_set *s, struct model *m)
{
	struct model *o;

	pthread_mutex_lock(&s->lock);
	cds_list_for_each_entry(o, &s->models, link) {
		if (!strcmp(o->name, m->name)) {
			pthread_mutex_unlock(&s->lock);
			return -EEXIST;
		}
	}
	cds_list_add_tail(&m->link, &s->models);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

#define set_fail(s, name, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (name), &(s)->last_error, (err), \
		   __VA_ARGS__)

static int model_load(struct model_set *s, const struct model_cred *c,
		      struct cmdline *cl)
{
	struct model_opts o = { .wait_ms = MODEL_WAIT_MS,
				 .max_queue = MODEL_QUEUE_DEFAULT };
	const char *name = cl->argv[1], *bad = "";
	char why[200] = "";
	struct model *m;
	int err;

	if (cl->argc < 3 || parse_name(name) ||
	    strlen(name) > MODEL_NAME_MAX)
		return set_fail(s, "models/ctl", -EINVAL, "load: a NAME of "
				"at most %d of [A-Za-z0-9._-] and a PATH",
				MODEL_NAME_MAX);
	if (cl->argv[2][0] != '/')
		return set_fail(s, name, -EINVAL, "load: PATH must be "
				"absolute");
	if (model_opts_parse(cl, &o, &bad))
		return set_fail(s, name, -EINVAL, "load: bad option '%.32s'",
				bad);
	if (!registry_find(s->reg, "matmul"))
		return set_fail(s, name, -EINVAL, "no kernels");
	m = model_new(s, name, c->uid, c->gid);
	if (!m)
		return set_fail(s, name, -ENOMEM, "no memory for a model");
	atomic_init(&m->admit.deadline_ms, o.deadline_ms);
	m->burst_s = o.burst;
	m->renew_manual = o.renew_manual;
	m->wait_ms = o.wait_ms;
	if (o.fallback)
		strcpy(m->fallback, o.fallback);
	err = model_reserve(s, m);
	if (err) {
		model_put(m);
		return set_fail(s, name, err, "load: the name is taken");
	}
	err = model_load_files(m, c, &o, why, sizeof(why));
	if (err) {
		pthread_mutex_lock(&s->lock);
		cds_list_del(&m->link);
		pthread_mutex_unlock(&s->lock);
		model_put(m);
		return set_fail(s, name, err, "load: %s", why);
	}
	m->batch.max_queue = o.max_queue;
	m->batch.max_delay_us = o.max_delay_us;
	atomic_store(&m->state, MODEL_WARM);
	model_cold_arm(m);
	/* an expiry or a drop of the lease during the load was not ours
	 * to hear (loading): see to it now */
	err = lease_check(m->lease);
	if (err == -EKEYEXPIRED)
		model_expired(m);
	if (err && err != -EKEYEXPIRED) {
		model_retire(m, 0, false);
		return set_fail(s, name, err, "load: its lease was dropped "
				"during the load");
	}
	gl_info("model %s loaded: %s, %llu bytes in lease model.%s",
		m->name, m->arch, (unsigned long long)m->need, m->name);
	return 0;
}

int model_ctl_write(struct model_set *s, const struct model_cred *c,
		    const char *buf, size_t len)
{
	struct cmdline cl;
	struct model *m;
	int err;

	err = parse_cmdline(&cl, buf, len);
	if (err < 0)
		return set_fail(s, "models/ctl", err, "malformed line");
	if (!strcmp(cl.argv[0], "load"))
		return model_load(s, c, &cl);
	if (strcmp(cl.argv[0], "unload") || cl.argc != 2)
		return set_fail(s, "models/ctl", -EINVAL, "'load NAME PATH "
				"[key=value...]' or 'unload NAME'");
	m = model_find(s, cl.argv[1]);
	if (!m)
		return set_fail(s, cl.argv[1], -ENOENT, "unload: no such "
				"model");
	err = model_retire(m, c->uid, true);
	model_put(m);
	return err;
}

static int model_line(void *arg, struct model *m)
{
	return strbuf_printf(arg, "%s %s model.%s %llu\n", m->name,
			     state_names[atomic_load(&m->state)], m->name,
			     (unsigned long long)(m->lease ?
				atomic_load(&m->lease->vram) : 0));
}

int model_ctl_render(struct model_set *s, uid_t uid, struct strbuf *sb)
{
	char last[LOG_LAST_ERROR_LEN];

	model_for_each(s, uid, model_line, sb);
	if (uid == 0) {
		gl_last_error_get(&s->last_error, last, sizeof(last));
		strbuf_printf(sb, "last_error %s\n", last);
	}
	return sb->err;
}

/* The bytes of @m's lease now: 0 while cold. */
static uint64_t model_vram(struct model *m)
{
	struct lease *l = model_lease_get(m);
	uint64_t v = l ? atomic_load(&l->vram) : 0;

	if (l)
		lease_put(l);
	return v;
}

/* An mlp's ctl: its sizes, inputs and outputs. */
static int model_render_mlp(struct model *m, struct strbuf *sb,
			    const char *last)
{
	const struct mlp_plan *p = &m->mplan;

	strbuf_printf(sb, "state %s\nlease model.%s\narch %s\n"
		      "vram %llu\nweights %llu\nactivations %llu\nkv 0\n"
		      "tokenizer 0\nmax_batch %u\ninputs %u\noutputs %u\n"
		      "requests %llu\nrunning %u\nqueued %u\nmax_queue %u\n"
		      "max_delay_us %u\nthreads %u\nlast_error %s\n",
		      state_names[atomic_load(&m->state)], m->name, m->arch,
		      (unsigned long long)model_vram(m),
		      (unsigned long long)p->weight_bytes,
		      (unsigned long long)p->act_bytes, p->max_batch,
		      p->cfg.layer[0].in, p->cfg.layer[p->cfg.n_layers - 1].out,
		      (unsigned long long)atomic_load(&m->requests),
		      atomic_load(&m->running), model_batch_queued(m),
		      m->batch.max_queue, m->batch.max_delay_us,
		      team_threads(m->team), last);
	model_admit_render(m, sb);
	model_render_burst(m, sb);
	return sb->err;
}

int model_render_ctl(struct model *m, struct strbuf *sb)
{
	const struct llama_plan *p = &m->plan;
	/* the tokenizer's tables, last in the block (model-load.c) */
	uint64_t tok = (m->tok.bytes + LLAMA_ALIGN - 1) &
		       ~(uint64_t)(LLAMA_ALIGN - 1);
	char last[LOG_LAST_ERROR_LEN];

	gl_last_error_get(&m->last_error, last, sizeof(last));
	if (m->mlp)
		return model_render_mlp(m, sb, last);
	strbuf_printf(sb, "state %s\nlease model.%s\narch %s\n"
		      "vram %llu\nweights %llu\nactivations %llu\nkv %llu\n"
		      "tokenizer %llu\nmax_batch %u\nmax_ctx %u\nvocab %u\n"
		      "requests %llu\nrunning %u\nqueued %u\nmax_queue %u\n"
		      "threads %u\nlast_error %s\n",
		      state_names[atomic_load(&m->state)], m->name, m->arch,
		      (unsigned long long)model_vram(m),
		      (unsigned long long)p->weight_bytes,
		      (unsigned long long)(p->act_bytes + m->need -
					   p->total_bytes - tok),
		      (unsigned long long)p->kv_bytes,
		      (unsigned long long)tok, p->max_batch,
		      p->max_ctx, p->cfg.vocab_size,
		      (unsigned long long)atomic_load(&m->requests),
		      atomic_load(&m->running), model_batch_queued(m),
		      m->batch.max_queue, team_threads(m->team), last);
	model_admit_render(m, sb);
	model_render_burst(m, sb);
	return sb->err;
}

int model_render_stats(struct model *m, struct strbuf *sb)
{
	strbuf_printf(sb, "requests %llu\nfailures %llu\ntokens %llu\n"
		      "running %u\nbytes_in %llu\nbytes_out %llu\n"
		      "latency_count %llu\nlatency_sum_us %llu\n"
		      "steps %llu\nbatch_rows %llu\nqueue_count %llu\n"
		      "queue_sum_us %llu\n",
		      (unsigned long long)atomic_load(&m->requests),
		      (unsigned long long)atomic_load(&m->failures),
		      (unsigned long long)atomic_load(&m->tokens),
		      atomic_load(&m->running),
		      (unsigned long long)atomic_load(&m->bytes_in),
		      (unsigned long long)atomic_load(&m->bytes_out),
		      (unsigned long long)atomic_load(&m->latency.count),
		      (unsigned long long)atomic_load(&m->latency.sum_us),
		      (unsigned long long)atomic_load(&m->batch.steps),
		      (unsigned long long)atomic_load(&m->batch.batch_size.sum),
		      (unsigned long long)
			atomic_load(&m->batch.queue_time.count),
		      (unsigned long long)
			atomic_load(&m->batch.queue_time.sum_us));
	model_admit_stats(m, sb);
	return sb->err;
}

/* "io SIZE": the request ring, the lease's io region, made as a
 * lease's (Documentation/ring.md), and again at each cold start. */
static int model_set_io(struct model *m, const char *size)
{
	struct lease *l;
	uint64_t bytes;
	int err;

	if (parse_size(size, &bytes))
		return model_fail(m, -EINVAL, "io SIZE");
	err = model_check(m);
	if (!err && atomic_load(&m->state) != MODEL_WARM)
		err = -EBUSY;	/* cold: "warm" first */
	l = err ? NULL : model_lease_get(m);
	if (!l)
		return model_fail(m, err ? err : -EBUSY,
				  "io: the model is not warm");
	pthread_mutex_lock(&m->burst_lock);
	err = lease_set_io(l, bytes);
	if (!err)
		m->io_size = bytes;
	pthread_mutex_unlock(&m->burst_lock);
	lease_put(l);
	return err;
}

int model_write_ctl(struct model *m, uid_t uid, const char *buf, size_t len)
{
	struct cmdline cl;
	int err, admit;

	err = parse_cmdline(&cl, buf, len);
	if (err < 0 || !cl.argc)
		return model_fail(m, err < 0 ? err : -EINVAL, "ctl takes "
				  "'unload', 'warm', 'cold', 'io SIZE' or "
				  "'deadline_ms N'");
	admit = model_admit_ctl(m, uid, cl.argc, cl.argv);
	if (admit != -ENOTTY)
		return admit;
	if (!model_visible_to(m, uid))
		return model_fail(m, -EACCES, "uid %u may not write its ctl",
				  (unsigned)uid);
	if (cl.argc == 2 && !strcmp(cl.argv[0], "io"))
		return model_set_io(m, cl.argv[1]);
	if (cl.argc == 1 && !strcmp(cl.argv[0], "warm"))
		return model_set_warm(m);
	if (cl.argc == 1 && !strcmp(cl.argv[0], "cold"))
		return model_set_cold(m);
	if (cl.argc != 1 || strcmp(cl.argv[0], "unload"))
		return model_fail(m, -EINVAL, "ctl takes 'unload', 'warm', "
				  "'cold', 'io SIZE' or 'deadline_ms N'");
	return model_retire(m, uid, true);
}
