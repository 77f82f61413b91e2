// SPDX-License-Identifier: MIT
/*
 * The gateway's translations, pure (no I/O, no global state): an OpenAI
 * completion body into the model's text-form requests
 * (Documentation/models.md), a KServe v2 infer
 * body into a gl_infer_tensor request and the answer back into JSON, and
 * an errno into an HTTP error. selftests/fuzz/gateway.c feeds them any
 * bytes.
 * Invariant: any body is either a request whose every field is in range
 * or a gw_err naming the field; nothing is read outside the buffers
 * given, and every failure path frees what it took.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/stopstr.h"
#include "tools/gateway/gateway.h"
#include "uapi/model.h"

#define MAX_TOKENS_MAX	(1u << 20)

void gw_err_set(struct gw_err *e, int status, const char *type,
		const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->retry_after = 0;
	e->type = type;
	e->code = code;
	e->param = param;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

#define BAD(e, param, ...) (gw_err_set(e, 400, "invalid_request_error", \
				      NULL, param, __VA_ARGS__), -EINVAL)

/*
 * gw_errno - @err (a negative errno of gl_model_open() or the ring) as an
 * HTTP error into @e; @param names the field EINVAL blames (or NULL).
 */
void gw_errno(int err, const char *param, struct gw_err *e)
{
	const char *name = strerrorname_np(-err);

	if (!name)
		name = "an unknown errno";
	switch (-err) {
	case EKEYEXPIRED:
		gw_err_set(e, 503, "lease_expired", "lease_expired", NULL,
			   "the model's lease expired (EKEYEXPIRED)");
		e->retry_after = 1;
		return;
	case ETIME:
	case EBUSY:
	case EAGAIN:
		gw_err_set(e, 429, "rate_limit_exceeded", name, NULL,
			   "the model is busy (%s), try again", name);
		e->retry_after = 1;
		return;
	case EFBIG:
	case E2BIG:
		gw_err_set(e, 413, "invalid_request_error",
			   "request_too_large", param, "the request or its "
			   "answer is over the model's bounds (EFBIG)");
		return;
	case EINVAL:
	case EOPNOTSUPP:
		gw_err_set(e, 400, "invalid_request_error", name, param,
			   "the model refused the request (%s)%s%s", name,
			   param ? ": check " : "", param ? param : "");
		return;
	case ENOENT:
		gw_err_set(e, 404, "invalid_request_error", "model_not_found",
			   "model", "no such model, or it has no request "
			   "ring (ENOENT)");
		return;
	case EACCES:
	case EPERM:
		gw_err_set(e, 403, "permission_error", name, "model",
			   "the gateway's user may not use this model (%s)",
			   name);
		return;
	case ETIMEDOUT:
		gw_err_set(e, 504, "server_error", name, NULL,
			   "the model's step timed out (ETIMEDOUT)");
		return;
	case ENOTCONN:
	case ECONNREFUSED:
	case ENXIO:
	case ECANCELED:
	case EPROTO:
		gw_err_set(e, 503, "service_unavailable", name, NULL,
			   "the daemon or the model's ring is gone (%s); "
			   "reconnecting", name);
		e->retry_after = 1;
		return;
	}
	gw_err_set(e, 500, "server_error", name, NULL,
		   "the request failed (%s)", name);
}

/* @e as OpenAI's error object; NULL without memory. */
json_t *gw_err_json(const struct gw_err *e)
{
	return json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message",
			 e->msg, "type", e->type, "param", e->param, "code",
			 e->code);
}

_Static_assert(GW_STOP_MAX <= STOPSTR_MAX && GW_STOP_LEN <= STOPSTR_LEN,
	       "the gateway's stop strings fit the daemon's stop=");

/* gw_name_ok - whether the @n bytes at @s are a model's name. */
bool gw_name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n > GW_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
			    "XYZ0123456789._-", s[i]) || !s[i])
			return false;
	return true;
}

/* One prompt: text ("-- TEXT") or a list of ids ("ids N ..."). */
static int prompt_one(json_t *p, char **out, struct gw_err *e)
{
	size_t n, i, len;
	json_t *v;
	char *s;
	int k;

	if (json_is_string(p)) {
		n = json_string_length(p);
		if (memchr(json_string_value(p), '\0', n))
			return BAD(e, "prompt", "a prompt holds no NUL");
		if (n > GW_REQ_MAX)
			return BAD(e, "prompt", "a prompt over %d bytes",
				   GW_REQ_MAX);
		/* text to the end of the request, less one final newline:
		 * any newlines of its own are kept */
		if (asprintf(out, "-- %s\n", json_string_value(p)) < 0)
			return -ENOMEM;
		return 0;
	}
	if (!json_is_array(p) || !json_array_size(p))
		return BAD(e, "prompt", "prompt: a string, a list of strings, "
			   "a list of token ids or a list of such lists");
	n = json_array_size(p);
	if (n > GW_REQ_MAX / 2)
		return BAD(e, "prompt", "too many token ids");
	len = 4 + 11 * n + 1;
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	strcpy(s, "ids");
	k = 3;
	json_array_foreach(p, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT32_MAX) {
			free(s);
			return BAD(e, "prompt", "prompt: token ids are "
				   "integers 0 .. 2^32 - 1");
		}
		k += snprintf(s + k, len - (size_t)k, " %lld",
			      (long long)json_integer_value(v));
	}
	*out = s;
	return 0;
}

static int parse_prompts(json_t *p, struct gw_cmpl *c, struct gw_err *e)
{
	json_t *first = json_array_get(p, 0);
	size_t i;
	json_t *v;
	int err;

	/* a string, or one list of ids: one prompt */
	if (!json_is_array(p) || json_is_integer(first))
		goto one;
	if (!json_array_size(p))
		return BAD(e, "prompt", "prompt: an empty list");
	if (json_array_size(p) > GW_PROMPT_MAX)
		return BAD(e, "prompt", "more than %d prompts",
			   GW_PROMPT_MAX);
	json_array_foreach(p, i, v) {
		err = prompt_one(v, &c->prompt[c->n_prompt], e);
		if (err)
			return err;
		c->n_prompt++;
	}
	return 0;
one:
	err = prompt_one(p, &c->prompt[0], e);
	if (!err)
		c->n_prompt = 1;
	return err;
}

static int parse_stop(json_t *s, struct gw_cmpl *c, struct gw_err *e)
{
	json_t *one = s;
	size_t i = 0, n = 1;

	if (!s || json_is_null(s))
		return 0;
	if (json_is_array(s)) {
		n = json_array_size(s);
		if (n > GW_STOP_MAX)
			return BAD(e, "stop", "at most %d stop strings",
				   GW_STOP_MAX);
	}
	for (i = 0; i < n; i++) {
		if (json_is_array(s))
			one = json_array_get(s, i);
		if (!json_is_string(one) || !json_string_length(one) ||
		    json_string_length(one) > GW_STOP_LEN)
			return BAD(e, "stop", "stop: strings of 1 .. %d bytes",
				   GW_STOP_LEN);
		memcpy(c->stop[c->n_stop], json_string_value(one),
		       json_string_length(one));
		c->stop[c->n_stop][json_string_length(one)] = '\0';
		if (strlen(c->stop[c->n_stop]) != json_string_length(one))
			return BAD(e, "stop", "stop: no NUL");
		c->n_stop++;
	}
	return 0;
}

/* A number field in [lo, hi] (null: @def); false when it is not. */
static bool num_field(json_t *o, const char *key, double lo, double hi,
		      double def, double *out)
{
	json_t *v = json_object_get(o, key);

	*out = def;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return *out >= lo && *out <= hi;
}

/* Fields OpenAI has that the gateway does not compute: only their
 * defaults are taken. */
static int parse_unsupported(json_t *o, struct gw_err *e)
{
	static const char *const zero[] = { "frequency_penalty",
					    "presence_penalty" };
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		v = json_object_get(o, zero[i]);
		if (v && !json_is_null(v) &&
		    (!json_is_number(v) || json_number_value(v) != 0))
			return BAD(e, zero[i], "%s: only 0 is supported",
				   zero[i]);
	}
	v = json_object_get(o, "n");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) != 1))
		return BAD(e, "n", "n: only 1 is supported");
	v = json_object_get(o, "best_of");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) != 1))
		return BAD(e, "best_of", "best_of: only 1 is supported");
	v = json_object_get(o, "echo");
	if (v && !json_is_null(v) && !json_is_false(v))
		return BAD(e, "echo", "echo: not supported");
	v = json_object_get(o, "logprobs");
	if (v && !json_is_null(v))
		return BAD(e, "logprobs", "logprobs: not supported");
	v = json_object_get(o, "suffix");
	if (v && !json_is_null(v))
		return BAD(e, "suffix", "suffix: not supported");
	return 0;
}

static int parse_fields(json_t *o, struct gw_cmpl *c, struct gw_err *e)
{
	json_t *v;
	double d;
	int err;

	v = json_object_get(o, "model");
	if (!json_is_string(v) ||
	    !gw_name_ok(json_string_value(v), json_string_length(v)))
		return BAD(e, "model", "model: a model's name is required");
	strcpy(c->model, json_string_value(v));
	v = json_object_get(o, "prompt");
	if (!v)
		return BAD(e, "prompt", "prompt: required");
	err = parse_prompts(v, c, e);
	if (err)
		return err;
	if (!num_field(o, "max_tokens", 1, MAX_TOKENS_MAX, 16, &d) ||
	    d != floor(d))
		return BAD(e, "max_tokens", "max_tokens: an integer 1 .. %u",
			   MAX_TOKENS_MAX);
	c->max_tokens = (uint32_t)d;
	if (!num_field(o, "temperature", 0, 2, 1, &c->temperature))
		return BAD(e, "temperature", "temperature: 0 .. 2");
	if (!num_field(o, "top_p", 0, 1, 1, &c->top_p) || c->top_p <= 0)
		return BAD(e, "top_p", "top_p: over 0, at most 1");
	v = json_object_get(o, "seed");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v))
			return BAD(e, "seed", "seed: an integer");
		c->seed = (uint64_t)json_integer_value(v);
		c->has_seed = true;
	}
	v = json_object_get(o, "stream");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return BAD(e, "stream", "stream: true or false");
	c->stream = json_is_true(v);
	v = json_object_get(o, "stream_options");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v))
			return BAD(e, "stream_options", "stream_options: an "
				   "object");
		c->include_usage = json_is_true(json_object_get(v,
							"include_usage"));
	}
	err = parse_stop(json_object_get(o, "stop"), c, e);
	if (err)
		return err;
	return parse_unsupported(o, e);
}

/*
 * gw_cmpl_parse - the @len bytes of a POST /v1/completions body into @c
 * (free it with gw_cmpl_free(), also after a failure). Returns 0, or
 * -EINVAL with @e naming the field (a 400), or -ENOMEM.
 */
int gw_cmpl_parse(const char *body, size_t len, struct gw_cmpl *c,
		  struct gw_err *e)
{
	json_error_t jerr;
	json_t *o;
	int err;

	memset(c, 0, sizeof(*c));
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return BAD(e, NULL, "the body is not JSON: %s", jerr.text);
	if (!json_is_object(o))
		err = BAD(e, NULL, "the body is not a JSON object");
	else
		err = parse_fields(o, c, e);
	json_decref(o);
	return err;
}

/* gw_cmpl_free - what gw_cmpl_parse() allocated in @c. */
void gw_cmpl_free(struct gw_cmpl *c)
{
	unsigned int i;

	for (i = 0; i < c->n_prompt; i++)
		free(c->prompt[i]);
	c->n_prompt = 0;
}

/*
 * gw_cmpl_request - prompt @i of @c as one text-form request (usage=1:
 * the answer ends with the usage trailer; each stop string as a
 * percent-encoded stop=, so the daemon ends the answer after the first
 * it makes; a text prompt after "-- " to the end) into @buf of @size
 * bytes, with @seed. Returns its length, or -EFBIG (over @size).
 */
int gw_cmpl_request(const struct gw_cmpl *c, unsigned int i, uint64_t seed,
		    char *buf, size_t size)
{
	char stop[3 * GW_STOP_LEN + 1];
	unsigned int k;
	int n, len;

	len = snprintf(buf, size, "max_tokens=%u temperature=%.9g "
		       "top_p=%.9g seed=%llu usage=1", c->max_tokens,
		       c->temperature, c->top_p, (unsigned long long)seed);
	for (k = 0; k < c->n_stop; k++) {
		if (len < 0 || (size_t)len >= size)
			return -EFBIG;
		if (stopstr_encode(c->stop[k], strlen(c->stop[k]), stop,
				   sizeof(stop)) < 0)
			return -EFBIG;
		len += snprintf(buf + len, size - (size_t)len, " stop=%s",
				stop);
	}
	if (len < 0 || (size_t)len >= size)
		return -EFBIG;
	n = snprintf(buf + len, size - (size_t)len, " %s", c->prompt[i]);
	if (n < 0 || (size_t)(len + n) >= size)
		return -EFBIG;
	return len + n;
}

/* The numbers of a tensor's data, flat or nested row-major, into @v. */
static int tensor_data(json_t *d, float *v, size_t want, size_t *got,
		       int depth)
{
	json_t *x;
	size_t i;
	double f;

	if (depth > 4 || !json_is_array(d))
		return -EINVAL;
	json_array_foreach(d, i, x) {
		if (json_is_array(x)) {
			if (tensor_data(x, v, want, got, depth + 1))
				return -EINVAL;
			continue;
		}
		if (!json_is_number(x) || *got == want)
			return -EINVAL;
		f = json_number_value(x);
		if (!isfinite(f) || fabs(f) > 3.4028234663852886e38)
			return -EINVAL;
		v[(*got)++] = (float)f;
	}
	return 0;
}

static int tensor_input(json_t *in, uint32_t inputs, uint32_t max_batch,
			void **req, size_t *req_len, struct gw_err *e)
{
	json_t *shape = json_object_get(in, "shape");
	struct gl_infer_tensor *h;
	json_int_t rows, cols;
	size_t n, got = 0;

	if (!json_is_string(json_object_get(in, "datatype")) ||
	    strcmp(json_string_value(json_object_get(in, "datatype")),
		   "FP32"))
		return BAD(e, "inputs[0].datatype", "datatype: FP32 only");
	if (!json_is_array(shape) || json_array_size(shape) != 2 ||
	    !json_is_integer(json_array_get(shape, 0)) ||
	    !json_is_integer(json_array_get(shape, 1)))
		return BAD(e, "inputs[0].shape", "shape: [rows, cols]");
	rows = json_integer_value(json_array_get(shape, 0));
	cols = json_integer_value(json_array_get(shape, 1));
	if (cols != inputs)
		return BAD(e, "inputs[0].shape", "shape: the model takes %u "
			   "columns", inputs);
	if (rows < 1 || rows > max_batch) {
		gw_err_set(e, rows < 1 ? 400 : 413, "invalid_request_error",
			   NULL, "inputs[0].shape", "shape: 1 .. %u rows (the "
			   "model's max_batch)", max_batch);
		return rows < 1 ? -EINVAL : -EFBIG;
	}
	n = (size_t)rows * (size_t)cols;
	if (sizeof(*h) + n * sizeof(float) > GW_REQ_MAX) {
		gw_err_set(e, 413, "invalid_request_error", "request_too_large",
			   "inputs[0].shape", "a request over %d bytes",
			   GW_REQ_MAX);
		return -EFBIG;
	}
	h = calloc(1, sizeof(*h) + n * sizeof(float));
	if (!h)
		return -ENOMEM;
	if (tensor_data(json_object_get(in, "data"), (float *)(h + 1), n,
			&got, 0) || got != n) {
		free(h);
		return BAD(e, "inputs[0].data", "data: %zu finite numbers, "
			   "flat or nested row-major", n);
	}
	h->magic = GL_INFER_MAGIC;
	h->dtype = GL_INFER_F32;
	h->rows = (uint32_t)rows;
	h->cols = (uint32_t)cols;
	*req = h;
	*req_len = sizeof(*h) + n * sizeof(float);
	return 0;
}

/*
 * gw_tensor_parse - a KServe v2 infer body of @len bytes for an mlp of
 * @inputs columns and @max_batch rows into one gl_infer_tensor request
 * (*@req, malloc'ed, *@req_len bytes) and the request's "id" (*@id,
 * malloc'ed, or NULL). Returns 0, -EINVAL (@e names the field, a 400),
 * -EFBIG (a 413) or -ENOMEM.
 */
int gw_tensor_parse(const char *body, size_t len, uint32_t inputs,
		    uint32_t max_batch, void **req, size_t *req_len,
		    char **id, struct gw_err *e)
{
	json_error_t jerr;
	json_t *o, *ins, *v;
	int err;

	*req = NULL;
	*id = NULL;
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return BAD(e, NULL, "the body is not JSON: %s", jerr.text);
	ins = json_object_get(o, "inputs");
	v = json_object_get(o, "id");
	if (!json_is_object(o))
		err = BAD(e, NULL, "the body is not a JSON object");
	else if (v && !json_is_string(v))
		err = BAD(e, "id", "id: a string");
	else if (!json_is_array(ins) || json_array_size(ins) != 1 ||
		 !json_is_object(json_array_get(ins, 0)))
		err = BAD(e, "inputs", "inputs: one tensor");
	else
		err = tensor_input(json_array_get(ins, 0), inputs, max_batch,
				   req, req_len, e);
	if (!err && v) {
		*id = strdup(json_string_value(v));
		if (!*id) {
			free(*req);
			*req = NULL;
			err = -ENOMEM;
		}
	}
	json_decref(o);
	return err;
}

/*
 * gw_tensor_answer - an mlp's answer (@len bytes: a gl_infer_tensor of
 * @outputs columns and its values) as KServe's "outputs" array; NULL when
 * it is malformed or without memory. Non-finite values are null.
 */
json_t *gw_tensor_answer(const void *ans, size_t len, uint32_t outputs)
{
	struct gl_infer_tensor h;
	json_t *data, *o;
	size_t i, n;
	float f;

	if (len < sizeof(h))
		return NULL;
	memcpy(&h, ans, sizeof(h));
	n = (size_t)h.rows * h.cols;
	if (h.magic != GL_INFER_MAGIC || h.cols != outputs ||
	    len != sizeof(h) + n * sizeof(float))
		return NULL;
	data = json_array();
	for (i = 0; data && i < n; i++) {
		memcpy(&f, (const char *)ans + sizeof(h) + i * sizeof(f),
		       sizeof(f));
		if (json_array_append_new(data, isfinite(f) ? json_real(f) :
					  json_null())) {
			json_decref(data);
			data = NULL;
		}
	}
	if (!data)
		return NULL;
	o = json_pack("[{s:s,s:s,s:[I,I],s:o}]", "name", "output",
		      "datatype", "FP32", "shape", (json_int_t)h.rows,
		      (json_int_t)h.cols, "data", data);
	return o;
}
