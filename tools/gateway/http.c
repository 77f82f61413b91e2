// SPDX-License-Identifier: MIT
/*
 * The gateway's HTTP side on libmicrohttpd: a request's context (its id,
 * route, body, start time), the body bound (413), bearer tokens (401),
 * the in-flight bound (429), routing to openai.c, kserve.c and
 * metrics.c, the replies (JSON, or a stream for server-sent events) and
 * one log line per request when libmicrohttpd says it is complete.
 * Invariant: every request gets exactly one reply from the route or
 * here, each carrying X-Request-Id; its context is freed by the
 * completion callback alone, after the log line and the metrics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tools/gateway/gateway.h"

struct gw_req {
	struct MHD_Connection *conn;
	const char *method;		/* libmicrohttpd's, valid until done */
	char url[128];			/* for the log, cut */
	char id[65];			/* X-Request-Id */
	char model[GW_NAME_MAX + 1];
	char served_by[GW_NAME_MAX + 1];	/* X-Gpulease-Served-By or "" */
	char tenant[64];
	enum gw_route route;
	char *body;			/* malloc'ed */
	size_t len;
	bool too_big;			/* over max_body: dropped, 413 */
	bool inflight;			/* counted in the in-flight gauge */
	int status;			/* the reply's */
	int64_t start_ns;
};

static atomic_ullong gw_seq;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* gw_log - one line to stderr, written whole. */
void gw_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

const char *gw_req_id(struct gw_req *r)
{
	return r->id;
}

const char *gw_req_model(struct gw_req *r)
{
	return r->model;
}

void gw_req_set_model(struct gw_req *r, const char *name)
{
	snprintf(r->model, sizeof(r->model), "%s", name);
}

/* gw_req_set_served_by - the X-Gpulease-Served-By header of @r's reply:
 * the model (or, for an mlp, "id=N") that served the request in the
 * place of the one asked (its fallback=). */
void gw_req_set_served_by(struct gw_req *r, const char *value)
{
	snprintf(r->served_by, sizeof(r->served_by), "%s", value);
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
			    "XYZ0123456789._-:", s[i]))
			return false;
	return true;
}

static int queue(struct gw_req *r, int status, struct MHD_Response *resp,
		 const char *type, int retry_after)
{
	char ra[16];
	int ret;

	if (!resp)
		return -ENOMEM;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Request-Id", r->id);
	if (r->served_by[0])
		MHD_add_response_header(resp, "X-Gpulease-Served-By",
					r->served_by);
	if (retry_after) {
		snprintf(ra, sizeof(ra), "%d", retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	r->status = status;
	ret = MHD_queue_response(r->conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret == MHD_YES ? 0 : -EIO;
}

static int reply_json(struct gw_req *r, int status, json_t *j,
		      int retry_after)
{
	char *s;

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(j);
	if (!s)
		return -ENOMEM;
	return queue(r, status, MHD_create_response_from_buffer(strlen(s), s,
					MHD_RESPMEM_MUST_FREE),
		     "application/json", retry_after);
}

/* gw_reply_json - @j (taken) as the reply, with @status. 0 or -errno. */
int gw_reply_json(struct gw_req *r, int status, json_t *j)
{
	return reply_json(r, status, j, 0);
}

/* gw_reply_err - @e as an OpenAI error object. 0 or -errno. */
int gw_reply_err(struct gw_req *r, const struct gw_err *e)
{
	return reply_json(r, e->status, gw_err_json(e), e->retry_after);
}

/* gw_reply_text - @len bytes of @s (copied) as @type. 0 or -errno. */
int gw_reply_text(struct gw_req *r, int status, const char *s, size_t len,
		  const char *type)
{
	return queue(r, status, MHD_create_response_from_buffer(len,
					(void *)s, MHD_RESPMEM_MUST_COPY),
		     type, 0);
}

struct stream_cb {
	void *ctx;
	ssize_t (*read)(void *ctx, uint64_t pos, char *buf, size_t max);
	void (*done)(void *ctx);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_cb *s = cls;
	ssize_t n = s->read(s->ctx, pos, buf, max);

	return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	struct stream_cb *s = cls;

	s->done(s->ctx);
	free(s);
}

/*
 * gw_reply_stream - a 200 of server-sent events: libmicrohttpd calls
 * @read (which may block until it has bytes; 0 ends the stream) and, once
 * the connection is done with it, @done, exactly once, also when this
 * fails (-ENOMEM, -EIO).
 */
int gw_reply_stream(struct gw_req *r, void *ctx,
		    ssize_t (*read)(void *ctx, uint64_t pos, char *buf,
				    size_t max),
		    void (*done)(void *ctx))
{
	struct stream_cb *s = malloc(sizeof(*s));
	struct MHD_Response *resp;

	if (!s) {
		done(ctx);
		return -ENOMEM;
	}
	*s = (struct stream_cb){ ctx, read, done };
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
						 stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		return -ENOMEM;
	}
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	return queue(r, 200, resp, "text/event-stream", 0);
}

static int fail(struct gw_req *r, int status, const char *type,
		const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct gw_req *r, int status, const char *type,
		const char *code, const char *fmt, ...)
{
	struct gw_err e;
	va_list ap;

	gw_err_set(&e, status, type, code, NULL, "%s", "");
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	if (status == 429 || status == 503)
		e.retry_after = (int)gw_opts.retry_after;
	return gw_reply_err(r, &e);
}

/* The bearer token's tenant, when --tokens is given. false: a 401. */
static bool authorised(struct gw_req *r)
{
	const char *h, *tenant;

	if (!gw_tokens_loaded() || r->route == GW_R_METRICS ||
	    r->route == GW_R_V2_HEALTH)
		return true;
	h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	tenant = gw_tokens_find(h + 7);
	if (!tenant)
		return false;
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	return true;
}

static enum gw_route classify(const char *url)
{
	if (!strcmp(url, "/v1/completions"))
		return GW_R_COMPLETIONS;
	if (!strncmp(url, "/v1/models", 10))
		return GW_R_MODELS;
	if (!strncmp(url, "/v2/health/", 11) || !strcmp(url, "/v2"))
		return GW_R_V2_HEALTH;
	if (!strncmp(url, "/v2/models/", 11)) {
		size_t n = strlen(url);

		return n > 6 && !strcmp(url + n - 6, "/infer") ?
		       GW_R_V2_INFER : GW_R_V2_MODEL;
	}
	if (!strcmp(url, "/metrics"))
		return GW_R_METRICS;
	return GW_R_OTHER;
}

/* /v2/models/NAME[/SUFFIX]: NAME into @name, the suffix returned. */
static const char *v2_name(const char *url, char *name)
{
	const char *p = url + 11, *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (!n || n > GW_NAME_MAX)
		return NULL;
	memcpy(name, p, n);
	name[n] = '\0';
	return slash ? slash : "";
}

static int route(struct gw_req *r, const char *url)
{
	bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method,
							      "POST");
	char name[GW_NAME_MAX + 1];
	const char *rest;

	switch (r->route) {
	case GW_R_MODELS:
		if (!get)
			break;
		if (!strcmp(url, "/v1/models"))
			return gw_openai_models(r);
		if (url[10] == '/' && strlen(url + 11) <= GW_NAME_MAX)
			return gw_openai_model(r, url + 11);
		goto not_found;
	case GW_R_COMPLETIONS:
		if (!post)
			break;
		return gw_openai_completions(r, r->body ? r->body : "",
					     r->len);
	case GW_R_V2_HEALTH:
		if (!get)
			break;
		if (!strcmp(url, "/v2/health/live"))
			return gw_kserve_live(r);
		if (!strcmp(url, "/v2/health/ready"))
			return gw_kserve_ready(r);
		goto not_found;
	case GW_R_V2_MODEL:
	case GW_R_V2_INFER:
		rest = v2_name(url, name);
		if (!rest)
			goto not_found;
		gw_req_set_model(r, name);
		if (r->route == GW_R_V2_INFER && !strcmp(rest, "/infer"))
			return post ? gw_kserve_infer(r, name, r->body ?
						      r->body : "", r->len) :
				      fail(r, 405, "invalid_request_error",
					   "method_not_allowed", "%s: POST "
					   "only", url);
		if (!get)
			break;
		if (!*rest || !strcmp(rest, "/ready"))
			return gw_kserve_model(r, name, *rest);
		goto not_found;
	case GW_R_METRICS:
		if (!get)
			break;
		return gw_metrics_reply(r);
	default:
		goto not_found;
	}
	return fail(r, 405, "invalid_request_error", "method_not_allowed",
		    "%s: method not allowed", url);
not_found:
	return fail(r, 404, "invalid_request_error", "not_found",
		    "%s: no such route", url);
}

/* The whole request is in: authorise, bound, route. */
static int dispatch(struct gw_req *r, const char *url)
{
	long long n;

	if (!authorised(r))
		return fail(r, 401, "invalid_request_error",
			    "invalid_api_key", "%s: a known bearer token is "
			    "required", url);
	if (r->too_big)
		return fail(r, 413, "invalid_request_error",
			    "request_too_large", "%s: the body is over "
			    "--max-body", url);
	if (r->route == GW_R_COMPLETIONS || r->route == GW_R_V2_INFER) {
		n = gw_metrics_inflight(1);
		r->inflight = true;
		if (n >= gw_opts.max_inflight)
			return fail(r, 429, "rate_limit_exceeded",
				    "too_many_requests", "%s: too many "
				    "requests in flight", url);
	}
	return route(r, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct gw_req *r = *ctx;
	const char *h;
	char *nb;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = conn;
		r->method = method;
		r->start_ns = now_ns();
		r->route = classify(url);
		snprintf(r->url, sizeof(r->url), "%s", url);
		snprintf(r->model, sizeof(r->model), "-");
		snprintf(r->tenant, sizeof(r->tenant), "-");
		h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						"X-Request-Id");
		if (h && id_ok(h))
			snprintf(r->id, sizeof(r->id), "%s", h);
		else
			snprintf(r->id, sizeof(r->id), "gw-%llx-%llx",
				 (unsigned long long)getpid(),
				 (unsigned long long)atomic_fetch_add(&gw_seq,
								      1));
		h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (h && strtoull(h, NULL, 10) > gw_opts.max_body)
			r->too_big = true;
		*ctx = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->len + *upload_size > gw_opts.max_body) {
			r->too_big = true;
			free(r->body);
			r->body = NULL;
		}
		if (!r->too_big) {
			nb = realloc(r->body, r->len + *upload_size + 1);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			memcpy(r->body + r->len, upload, *upload_size);
			r->len += *upload_size;
			r->body[r->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (dispatch(r, url)) {
		struct gw_err e;

		gw_err_set(&e, 500, "server_error", NULL, NULL,
			   "the gateway could not answer");
		if (!r->status && gw_reply_err(r, &e))
			return MHD_NO;
	}
	return MHD_YES;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **ctx,
		    enum MHD_RequestTerminationCode why)
{
	struct gw_req *r = *ctx;
	uint64_t us;

	if (!r)
		return;
	us = (uint64_t)(now_ns() - r->start_ns) / 1000;
	gw_metrics_observe(r->route, r->status, us);
	if (r->inflight)
		gw_metrics_inflight(-1);
	gw_log("gw: id=%s method=%s route=%s model=%s tenant=%s status=%d "
	       "latency_us=%llu%s", r->id, r->method, r->url, r->model,
	       r->tenant, r->status, (unsigned long long)us,
	       why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
	       " aborted=1");
	free(r->body);
	free(r);
	*ctx = NULL;
}

/*
 * gw_http_start - serve on @addr, a thread per connection (libmicrohttpd
 * polls the listening socket on a thread of its own and hands each
 * connection a thread): a route may block on a model (a completion waits
 * for its answer on the connection's thread) without holding up any
 * other connection. A thread pool ran routes on the thread that accepted
 * their connection, and it accepts a burst at once: a /metrics request
 * that came with a completion waited for the completion's end. At most
 * @conns connections (so threads), idle ones closed after @timeout
 * seconds. Returns the daemon or NULL.
 */
struct MHD_Daemon *gw_http_start(const struct sockaddr *addr,
				 unsigned int conns, unsigned int timeout)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL,
				NULL, on_request, NULL,
				MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_CONNECTION_LIMIT, conns,
				MHD_OPTION_CONNECTION_TIMEOUT, timeout,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)65536,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_END);
}
