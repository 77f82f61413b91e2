/* SPDX-License-Identifier: MIT */
/*
 * gpulease-gateway: the models of a running gpuleased over HTTP
 * (OpenAI completions, KServe v2 tensors, its own metrics), reached
 * through libgpulease's model ring API (gl_model(3)) only.
 * Documentation/gateway.md.
 *
 * Files: main.c (options, the server), http.c (routing, responses,
 * limits, the log line), xlate.c and text.c (pure translation of bodies
 * to ring requests and answers back, errno to HTTP: the fuzz target's),
 * backend.c (the daemon connection, model handles, reconnecting),
 * openai.c, kserve.c (the routes), metrics.c (GET /metrics).
 */
#ifndef GPULEASE_GATEWAY_H
#define GPULEASE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define GW_NAME_MAX	58	/* a model's name, as models/ctl's */
#define GW_STOP_MAX	4	/* stop strings, as OpenAI's */
#define GW_STOP_LEN	64	/* bytes of one stop string */
#define GW_PROMPT_MAX	16	/* prompts in one completion request */
#define GW_REQ_MAX	65536	/* a ring request, as the daemon's bound */

/* An error as an HTTP answer: status, OpenAI's type, code and param. */
struct gw_err {
	int status;		/* HTTP status */
	int retry_after;	/* seconds for Retry-After; 0: none */
	const char *type;	/* "invalid_request_error", ... */
	const char *code;	/* or NULL */
	const char *param;	/* the bad field, or NULL */
	char msg[160];
};

/* xlate.c: a POST /v1/completions body, parsed and checked. */
struct gw_cmpl {
	char model[GW_NAME_MAX + 1];
	char *prompt[GW_PROMPT_MAX];	/* malloc'ed text-form prompts:
					 * "-- TEXT\n" (TEXT may hold
					 * newlines) or "ids N ..." */
	unsigned int n_prompt;		/* 1 .. GW_PROMPT_MAX */
	uint32_t max_tokens;		/* 1 .. 1 << 20; default 16 */
	double temperature;		/* 0 .. 2; default 1 */
	double top_p;			/* (0, 1]; default 1 */
	uint64_t seed;
	bool has_seed;
	bool stream;
	bool include_usage;		/* stream_options.include_usage */
	char stop[GW_STOP_MAX][GW_STOP_LEN + 1];
	unsigned int n_stop;
};

bool gw_name_ok(const char *s, size_t n);
int gw_cmpl_parse(const char *body, size_t len, struct gw_cmpl *c,
		  struct gw_err *e);
void gw_cmpl_free(struct gw_cmpl *c);
int gw_cmpl_request(const struct gw_cmpl *c, unsigned int i, uint64_t seed,
		    char *buf, size_t size);

/* text.c: a language model's answer as it streams in. */
struct gw_text {
	char *buf;			/* what came, malloc'ed */
	size_t len, cap;
	size_t sent;			/* bytes of buf given out as text */
	const struct gw_cmpl *c;	/* its stop strings */
	bool stopped;			/* a stop string was found */
	bool head;			/* the first line was looked at */
	size_t start;			/* where the text begins: past a
					 * "served_by NAME" line */
	char served_by[GW_NAME_MAX + 1];	/* that NAME, or "" */
	bool done;			/* the answer ended */
	uint32_t prompt_tokens, completion_tokens;
	bool has_usage;			/* the daemon's trailer was found */
};

int gw_text_feed(struct gw_text *t, const void *p, size_t n);
int gw_text_end(struct gw_text *t);
size_t gw_text_take(struct gw_text *t, char *out, size_t size);
void gw_text_free(struct gw_text *t);
size_t gw_utf8_clean(const char *in, size_t n, bool final, char *out,
		     size_t *used);

/* xlate.c: KServe v2 tensors for an mlp model. */
int gw_tensor_parse(const char *body, size_t len, uint32_t inputs,
		    uint32_t max_batch, void **req, size_t *req_len,
		    char **id, struct gw_err *e);
json_t *gw_tensor_answer(const void *ans, size_t len, uint32_t outputs);

/* xlate.c: an errno from the ring or the daemon as an HTTP error. */
void gw_errno(int err, const char *param, struct gw_err *e);
void gw_err_set(struct gw_err *e, int status, const char *type,
		const char *code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
json_t *gw_err_json(const struct gw_err *e);

/* backend.c: the daemon and its models. */
struct gw_info {
	char name[GW_NAME_MAX + 1];
	bool mlp;
	uint32_t max_batch, max_ctx, inputs, outputs;
};
struct gw_model;

int gw_backend_init(const char *mount);
void gw_backend_exit(void);
bool gw_backend_ready(void);
int gw_model_get(const char *name, struct gw_model **out,
		 struct gw_info *info);
ssize_t gw_model_call(struct gw_model *m, const void *req, size_t len,
		      int (*fn)(void *arg, const void *buf, size_t n),
		      void *arg);
void gw_model_put(struct gw_model *m);
int gw_model_list(struct gw_info **out);
int gw_model_info(const char *name, struct gw_info *info);

/* http.c: one request being answered, as the routes see it. */
struct gw_req;

const char *gw_req_model(struct gw_req *r);
void gw_req_set_model(struct gw_req *r, const char *name);
void gw_req_set_served_by(struct gw_req *r, const char *value);
int gw_reply_json(struct gw_req *r, int status, json_t *j);
int gw_reply_err(struct gw_req *r, const struct gw_err *e);
int gw_reply_text(struct gw_req *r, int status, const char *s, size_t len,
		  const char *type);
int gw_reply_stream(struct gw_req *r, void *ctx,
		    ssize_t (*read)(void *ctx, uint64_t pos, char *buf,
				    size_t max),
		    void (*done)(void *ctx));
const char *gw_req_id(struct gw_req *r);

/* the routes: 0 once a reply is queued, or -errno (a 500) */
int gw_openai_models(struct gw_req *r);
int gw_openai_model(struct gw_req *r, const char *name);
int gw_openai_completions(struct gw_req *r, const char *body, size_t len);
int gw_kserve_live(struct gw_req *r);
int gw_kserve_ready(struct gw_req *r);
int gw_kserve_model(struct gw_req *r, const char *name, bool ready);
int gw_kserve_infer(struct gw_req *r, const char *name, const char *body,
		    size_t len);

/* metrics.c */
enum gw_route {
	GW_R_MODELS,
	GW_R_COMPLETIONS,
	GW_R_V2_HEALTH,
	GW_R_V2_MODEL,
	GW_R_V2_INFER,
	GW_R_METRICS,
	GW_R_OTHER,
	GW_R_COUNT,
};
extern const char *const gw_route_names[GW_R_COUNT];
void gw_metrics_observe(enum gw_route route, int status, uint64_t us);
long long gw_metrics_inflight(int delta);
char *gw_metrics_render(size_t *len);
int gw_metrics_reply(struct gw_req *r);

/* main.c: --tokens FILE, API keys to tenants */
bool gw_tokens_loaded(void);
const char *gw_tokens_find(const char *key);

/* http.c: the server */
struct MHD_Daemon;
struct sockaddr;
struct MHD_Daemon *gw_http_start(const struct sockaddr *addr,
				 unsigned int conns, unsigned int timeout);

/* main.c: the options the routes read */
struct gw_opts {
	const char *mount;
	unsigned int max_inflight;	/* requests running at once */
	unsigned int model_inflight;	/* of one model, on its ring */
	size_t max_body;		/* bytes of a request body */
	unsigned int retry_after;	/* seconds, on 429 and 503 */
};
extern struct gw_opts gw_opts;
void gw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
