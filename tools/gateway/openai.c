// SPDX-License-Identifier: MIT
/*
 * The OpenAI routes: GET /v1/models, GET /v1/models/NAME, POST
 * /v1/completions, whole or as server-sent events. A completion's prompts
 * run one after another on the model's ring (xlate.c makes each request
 * and reads each answer); a stream's requests run on a thread of their
 * own that hands the events to libmicrohttpd's reader through a buffer.
 * Invariant: a stream's context has two references, the producer
 * thread's and the connection's; whoever drops the last frees it, and
 * the model is given back by the producer before it drops its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tools/gateway/gateway.h"

static json_t *model_obj(const char *name)
{
	return json_pack("{s:s,s:s,s:I,s:s}", "id", name, "object", "model",
			 "created", (json_int_t)0, "owned_by", "gpulease");
}

/* GET /v1/models */
int gw_openai_models(struct gw_req *r)
{
	struct gw_info *v;
	struct gw_err e;
	json_t *data;
	int n, i;

	n = gw_model_list(&v);
	if (n < 0) {
		gw_errno(n, NULL, &e);
		return gw_reply_err(r, &e);
	}
	data = json_array();
	for (i = 0; data && i < n; i++)
		if (json_array_append_new(data, model_obj(v[i].name))) {
			json_decref(data);
			data = NULL;
		}
	free(v);
	if (!data)
		return -ENOMEM;
	return gw_reply_json(r, 200, json_pack("{s:s,s:o}", "object", "list",
					       "data", data));
}

/* GET /v1/models/NAME */
int gw_openai_model(struct gw_req *r, const char *name)
{
	struct gw_info info;
	struct gw_err e;
	int err;

	gw_req_set_model(r, name);
	err = gw_model_info(name, &info);
	if (err) {
		gw_errno(err, "model", &e);
		return gw_reply_err(r, &e);
	}
	return gw_reply_json(r, 200, model_obj(name));
}

/* A completion being made: the parsed request and one prompt's answer. */
struct cmpl {
	struct gw_cmpl c;
	struct gw_model *m;		/* taken for the whole completion */
	struct gw_info info;
	uint64_t seed;
	char id[80];
	json_int_t created;
	struct gw_text t;
	unsigned int i;			/* the prompt being answered */
	char served_by[GW_NAME_MAX + 1];	/* a fallback that served a
						 * prompt, or "" */
	uint64_t prompt_tokens, completion_tokens;
	/* streaming */
	pthread_mutex_t lock;
	pthread_cond_t grown;
	char *ev;			/* events not yet read */
	size_t ev_len, ev_cap, ev_rd;
	bool finished;			/* no more events */
	bool gone;			/* the client's connection is done */
	int refs;			/* under lock */
};

static void cmpl_free(struct cmpl *k)
{
	gw_cmpl_free(&k->c);
	gw_text_free(&k->t);
	free(k->ev);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->grown);
	free(k);
}

static const char *finish_reason(const struct cmpl *k)
{
	uint64_t room;

	if (k->t.stopped || !k->t.has_usage)
		return "stop";
	room = k->info.max_ctx > k->t.prompt_tokens ?
	       k->info.max_ctx - k->t.prompt_tokens : 0;
	return k->t.completion_tokens >= k->c.max_tokens ||
	       k->t.completion_tokens >= room ? "length" : "stop";
}

/* The model that served the prompt being answered (the one asked,
 * unless its fallback served it): the "model" of responses and chunks. */
static const char *served(const struct cmpl *k)
{
	return k->t.served_by[0] ? k->t.served_by :
	       k->served_by[0] ? k->served_by : k->c.model;
}

static json_t *usage_obj(const struct cmpl *k)
{
	return json_pack("{s:I,s:I,s:I}", "prompt_tokens",
			 (json_int_t)k->prompt_tokens, "completion_tokens",
			 (json_int_t)k->completion_tokens, "total_tokens",
			 (json_int_t)(k->prompt_tokens + k->completion_tokens));
}

/* One prompt through the ring; @fn feeds k->t. 0 or -errno. */
static int run_prompt(struct cmpl *k, int (*fn)(void *, const void *,
						size_t))
{
	char req[GW_REQ_MAX];
	ssize_t n;
	int len;

	memset(&k->t, 0, sizeof(k->t));
	k->t.c = &k->c;
	len = gw_cmpl_request(&k->c, k->i, k->seed, req, sizeof(req));
	if (len < 0)
		return len;
	n = gw_model_call(k->m, req, (size_t)len, fn, k);
	if (n < 0)
		return (int)n;
	gw_text_end(&k->t);
	if (!k->served_by[0])
		memcpy(k->served_by, k->t.served_by, sizeof(k->served_by));
	k->prompt_tokens += k->t.prompt_tokens;
	k->completion_tokens += k->t.completion_tokens;
	return 0;
}

static int feed_whole(void *arg, const void *buf, size_t n)
{
	struct cmpl *k = arg;

	return gw_text_feed(&k->t, buf, n);
}

/* The whole text of k->t, cleaned, as JSON. */
static json_t *text_all(struct cmpl *k)
{
	size_t room = 3 * (k->t.len - k->t.sent) + 16, n;
	char *s = malloc(room);
	json_t *j;

	if (!s)
		return NULL;
	n = gw_text_take(&k->t, s, room);
	j = json_stringn(s, n);
	free(s);
	return j;
}

static int whole(struct gw_req *r, struct cmpl *k)
{
	json_t *choices = json_array(), *ch, *text;
	struct gw_err e;
	int err = 0;

	for (k->i = 0; choices && k->i < k->c.n_prompt; k->i++) {
		err = run_prompt(k, feed_whole);
		if (err)
			break;
		text = text_all(k);	/* first: it finds the stop strings */
		ch = json_pack("{s:o,s:I,s:n,s:s}", "text", text, "index",
			       (json_int_t)k->i, "logprobs", "finish_reason",
			       finish_reason(k));
		gw_text_free(&k->t);
		if (json_array_append_new(choices, ch)) {
			err = -ENOMEM;
			break;
		}
	}
	gw_text_free(&k->t);
	gw_model_put(k->m);
	if (k->served_by[0])
		gw_req_set_served_by(r, k->served_by);
	if (!choices || err) {
		json_decref(choices);
		if (!err || err == -ENOMEM)
			return -ENOMEM;
		gw_errno(err, "prompt", &e);
		return gw_reply_err(r, &e);
	}
	return gw_reply_json(r, 200, json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}",
		"id", k->id, "object", "text_completion", "created",
		k->created, "model", served(k), "choices", choices, "usage",
		usage_obj(k)));
}

/* Queue one event (@j taken) for the reader; under k->lock. */
static int event_locked(struct cmpl *k, json_t *j, const char *raw)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	const char *p = j ? s : raw;
	size_t n, cap;
	char *b;

	json_decref(j);
	if (!p)
		return -ENOMEM;
	n = strlen(p) + 8;
	if (k->ev_len + n > k->ev_cap) {
		cap = k->ev_cap ? k->ev_cap : 1024;
		while (cap < k->ev_len + n)
			cap *= 2;
		b = realloc(k->ev, cap);
		if (!b) {
			free(s);
			return -ENOMEM;
		}
		k->ev = b;
		k->ev_cap = cap;
	}
	k->ev_len += (size_t)sprintf(k->ev + k->ev_len, "data: %s\n\n", p);
	free(s);
	pthread_cond_broadcast(&k->grown);
	return 0;
}

static json_t *chunk(struct cmpl *k, json_t *text, const char *finish)
{
	json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:[{s:o,s:I,s:n,s:s?}]}",
			      "id", k->id, "object", "text_completion",
			      "created", k->created, "model", served(k),
			      "choices", "text", text, "index",
			      (json_int_t)k->i, "logprobs", "finish_reason",
			      finish);

	if (j && k->c.include_usage)
		json_object_set_new(j, "usage", json_null());
	return j;
}

/* The text k->t can give out now as one event; under k->lock. */
static int take_locked(struct cmpl *k)
{
	char out[3 * 1024 + 16];
	size_t n;
	int err;

	while ((n = gw_text_take(&k->t, out, sizeof(out)))) {
		err = event_locked(k, chunk(k, json_stringn(out, n), NULL),
				   NULL);
		if (err)
			return err;
	}
	return 0;
}

static int feed_stream(void *arg, const void *buf, size_t n)
{
	struct cmpl *k = arg;
	int err;

	pthread_mutex_lock(&k->lock);
	err = k->gone ? -ECONNRESET : gw_text_feed(&k->t, buf, n);
	if (!err)
		err = take_locked(k);
	pthread_mutex_unlock(&k->lock);
	return err;
}

static void unref(struct cmpl *k)
{
	int left;

	pthread_mutex_lock(&k->lock);
	left = --k->refs;
	pthread_mutex_unlock(&k->lock);
	if (!left)
		cmpl_free(k);
}

static void *producer(void *arg)
{
	struct cmpl *k = arg;
	struct gw_err e;
	int err = 0;

	for (k->i = 0; !err && k->i < k->c.n_prompt; k->i++) {
		err = run_prompt(k, feed_stream);
		pthread_mutex_lock(&k->lock);
		if (!err)
			err = take_locked(k);
		if (!err)
			err = event_locked(k, chunk(k, json_string(""),
						    finish_reason(k)), NULL);
		gw_text_free(&k->t);
		pthread_mutex_unlock(&k->lock);
	}
	gw_model_put(k->m);
	pthread_mutex_lock(&k->lock);
	if (err && err != -ECONNRESET) {
		gw_errno(err, "prompt", &e);
		event_locked(k, gw_err_json(&e), NULL);
	} else if (!err && k->c.include_usage) {
		event_locked(k, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id",
					  k->id, "object", "text_completion",
					  "created", k->created, "model",
					  served(k), "choices", "usage",
					  usage_obj(k)), NULL);
	}
	if (!err)
		event_locked(k, NULL, "[DONE]");
	k->finished = true;
	pthread_cond_broadcast(&k->grown);
	pthread_mutex_unlock(&k->lock);
	unref(k);
	return NULL;
}

static ssize_t stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
	struct cmpl *k = ctx;
	size_t n;

	pthread_mutex_lock(&k->lock);
	while (k->ev_rd == k->ev_len && !k->finished)
		pthread_cond_wait(&k->grown, &k->lock);
	n = k->ev_len - k->ev_rd;
	if (n > max)
		n = max;
	memcpy(buf, k->ev + k->ev_rd, n);
	k->ev_rd += n;
	pthread_mutex_unlock(&k->lock);
	return (ssize_t)n;
}

static void stream_done(void *ctx)
{
	struct cmpl *k = ctx;

	pthread_mutex_lock(&k->lock);
	k->gone = true;
	pthread_mutex_unlock(&k->lock);
	unref(k);
}

static int stream(struct gw_req *r, struct cmpl *k)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	k->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = -pthread_create(&t, &attr, producer, k);
	pthread_attr_destroy(&attr);
	if (err) {
		gw_model_put(k->m);
		cmpl_free(k);
		return err;
	}
	return gw_reply_stream(r, k, stream_read, stream_done);
}

/* POST /v1/completions */
int gw_openai_completions(struct gw_req *r, const char *body, size_t len)
{
	struct gw_err e;
	struct cmpl *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->grown, NULL);
	err = gw_cmpl_parse(body, len, &k->c, &e);
	if (!err) {
		gw_req_set_model(r, k->c.model);
		err = gw_model_get(k->c.model, &k->m, &k->info);
		if (err)
			gw_errno(err, "model", &e);
		else if (k->info.mlp) {
			gw_model_put(k->m);
			err = -EOPNOTSUPP;
			gw_err_set(&e, 400, "invalid_request_error",
				   "model_not_supported", "model", "%s is an "
				   "mlp: use /v2/models/%s/infer",
				   k->c.model, k->c.model);
		}
	}
	if (err) {
		cmpl_free(k);
		return err == -ENOMEM ? err : gw_reply_err(r, &e);
	}
	k->seed = k->c.seed;
	if (!k->c.has_seed &&
	    getrandom(&k->seed, sizeof(k->seed), 0) != sizeof(k->seed))
		k->seed = (uint64_t)time(NULL);
	snprintf(k->id, sizeof(k->id), "cmpl-%s", gw_req_id(r));
	k->created = (json_int_t)time(NULL);
	if (k->c.stream)
		return stream(r, k);
	err = whole(r, k);
	cmpl_free(k);
	return err;
}
