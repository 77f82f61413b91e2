// SPDX-License-Identifier: MIT
/*
 * The KServe v2 (Open Inference Protocol) routes: health, a model's
 * metadata and readiness, and infer with JSON tensors for mlp models,
 * translated by xlate.c into one gl_infer_tensor request on the model's
 * ring and its answer back.
 * Invariant: a model taken with gw_model_get() is given back on every
 * path before the reply is queued.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gateway/gateway.h"
#include "uapi/model.h"

/* GET /v2/health/live: the gateway answers. */
int gw_kserve_live(struct gw_req *r)
{
	return gw_reply_json(r, 200, json_pack("{s:b}", "live", 1));
}

/* GET /v2/health/ready: the daemon answers too (503 while it does not). */
int gw_kserve_ready(struct gw_req *r)
{
	bool ok = gw_backend_ready();

	return gw_reply_json(r, ok ? 200 : 503, json_pack("{s:b}", "ready",
							  ok));
}

static json_t *tensor_meta(const char *name, uint32_t cols)
{
	return json_pack("[{s:s,s:s,s:[i,I]}]", "name", name, "datatype",
			 "FP32", "shape", -1, (json_int_t)cols);
}

/* GET /v2/models/NAME and /v2/models/NAME/ready */
int gw_kserve_model(struct gw_req *r, const char *name, bool ready)
{
	struct gw_info info;
	struct gw_err e;
	json_t *j;
	int err;

	err = gw_model_info(name, &info);
	if (err) {
		gw_errno(err, "model", &e);
		return gw_reply_err(r, &e);
	}
	if (ready)
		return gw_reply_json(r, 200, json_pack("{s:s,s:b}", "name",
						       name, "ready", 1));
	if (info.mlp)
		j = json_pack("{s:s,s:[s],s:s,s:o,s:o}", "name", name,
			      "versions", "1", "platform", "gpulease-mlp",
			      "inputs", tensor_meta("input", info.inputs),
			      "outputs", tensor_meta("output", info.outputs));
	else
		j = json_pack("{s:s,s:[s],s:s,s:[],s:[]}", "name", name,
			      "versions", "1", "platform", "gpulease-llama",
			      "inputs", "outputs");
	return gw_reply_json(r, 200, j);
}

struct answer {
	char *buf;
	size_t len, cap;
};

static int collect(void *arg, const void *p, size_t n)
{
	struct answer *a = arg;
	char *b;

	if (a->len + n > a->cap) {
		b = realloc(a->buf, a->len + n);
		if (!b)
			return -ENOMEM;
		a->buf = b;
		a->cap = a->len + n;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
	return 0;
}

/* POST /v2/models/NAME/infer */
int gw_kserve_infer(struct gw_req *r, const char *name, const char *body,
		    size_t len)
{
	struct answer a = { 0 };
	uint64_t served_by = 0;
	struct gw_info info;
	char hdr[32];
	struct gw_model *m;
	size_t req_len = 0;
	void *req = NULL;
	char *id = NULL;
	json_t *outs;
	struct gw_err e;
	ssize_t n;
	int err;

	err = gw_model_get(name, &m, &info);
	if (err) {
		gw_errno(err, "model", &e);
		return gw_reply_err(r, &e);
	}
	if (!info.mlp) {
		gw_model_put(m);
		gw_err_set(&e, 400, "invalid_request_error",
			   "model_not_supported", "model", "%s is a language "
			   "model: use /v1/completions", name);
		return gw_reply_err(r, &e);
	}
	err = gw_tensor_parse(body, len, info.inputs, info.max_batch, &req,
			      &req_len, &id, &e);
	if (err) {
		gw_model_put(m);
		return err == -ENOMEM ? err : gw_reply_err(r, &e);
	}
	n = gw_model_call(m, req, req_len, collect, &a);
	gw_model_put(m);
	free(req);
	outs = n < 0 ? NULL : gw_tensor_answer(a.buf, a.len, info.outputs);
	if (outs)	/* well formed: a whole header */
		memcpy(&served_by, a.buf + offsetof(struct gl_infer_tensor,
						    served_by),
		       sizeof(served_by));
	free(a.buf);
	if (n < 0 || !outs) {
		free(id);
		gw_errno(n < 0 ? (int)n : -EPROTO, "inputs", &e);
		return gw_reply_err(r, &e);
	}
	outs = json_pack("{s:s,s:s,s:o}", "model_name", name,
			 "model_version", "1", "outputs", outs);
	if (outs && id)
		json_object_set_new(outs, "id", json_string(id));
	if (outs && served_by) {	/* its fallback: by id, no name */
		snprintf(hdr, sizeof(hdr), "id=%llu",
			 (unsigned long long)served_by);
		gw_req_set_served_by(r, hdr);
		json_object_set_new(outs, "parameters", json_pack("{s:I}",
				    "served_by_id", (json_int_t)served_by));
	}
	free(id);
	return gw_reply_json(r, 200, outs);
}
