/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for gpulease-gateway's translations
 * (tools/gateway/xlate.c, text.c). The first byte picks one: 'c' an OpenAI
 * completion body (then each prompt's text-form request), 't' a KServe v2
 * infer body for an mlp of 3 inputs and 4 rows, anything else a language
 * model's answer fed in pieces (stop strings "ab" and "\n") and taken
 * out. Any bytes are a request whose fields are in range, or an error
 * of status 400 or 413 naming what it can (its requests: stop strings
 * encoded so they decode back, newlines only in a text prompt); an
 * answer (perhaps after a fallback's "served_by NAME" line) is valid
 * UTF-8, never holds a stop string, and the bytes taken out never exceed
 * what went in three times over.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/stopstr.h"
#include "tools/gateway/gateway.h"
#include "uapi/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A request's first line: newlines only in a text prompt after "-- ",
 * each stop string as a stop= word that decodes back to it. */
static void request_stops(const struct gw_cmpl *c, const char *req,
			  size_t len)
{
	const char *nl = memchr(req, '\n', len), *w = req;
	struct stopstr_set set = { 0 };
	const char *why;
	char word[3 * GW_STOP_LEN + 8];
	unsigned int k;
	size_t n;

	if (nl)
		assert(memmem(req, (size_t)(nl - req), " -- ", 4));
	while ((w = strstr(w, " stop=")) && (!nl || w < nl) &&
	       set.n < c->n_stop) {
		w += 6;
		n = strcspn(w, " ");
		assert(n < sizeof(word));
		memcpy(word, w, n);
		word[n] = '\0';
		assert(!stopstr_add(&set, word, &why));
	}
	assert(set.n == c->n_stop);
	for (k = 0; k < set.n; k++)
		assert(set.one[k].len == strlen(c->stop[k]) &&
		       !memcmp(set.one[k].s, c->stop[k], set.one[k].len));
}

static void cmpl(const char *p, size_t n)
{
	static char req[GW_REQ_MAX + 256];
	struct gw_cmpl c;
	struct gw_err e;
	unsigned int i;
	int err, len;

	err = gw_cmpl_parse(p, n, &c, &e);
	if (err) {
		assert(err == -EINVAL || err == -ENOMEM);
		assert(err != -EINVAL || e.status == 400);
		gw_cmpl_free(&c);
		return;
	}
	assert(c.n_prompt >= 1 && c.n_prompt <= GW_PROMPT_MAX);
	assert(c.max_tokens >= 1 && c.temperature >= 0 &&
	       c.temperature <= 2 && c.top_p > 0 && c.top_p <= 1);
	assert(c.n_stop <= GW_STOP_MAX);
	for (i = 0; i < c.n_prompt; i++) {
		len = gw_cmpl_request(&c, i, c.seed, req, sizeof(req));
		if (len < 0)
			continue;
		assert(!memchr(req, '\0', (size_t)len));
		request_stops(&c, req, (size_t)len);
	}
	gw_cmpl_free(&c);
}

static void tensor(const char *p, size_t n)
{
	struct gl_infer_tensor h;
	size_t len = 0;
	void *req = NULL;
	char *id = NULL;
	struct gw_err e;
	int err;

	err = gw_tensor_parse(p, n, 3, 4, &req, &len, &id, &e);
	if (err) {
		assert(!req && !id);
		assert(err == -ENOMEM || e.status == 400 || e.status == 413);
		return;
	}
	memcpy(&h, req, sizeof(h));
	assert(h.magic == GL_INFER_MAGIC && h.cols == 3 && h.rows >= 1 &&
	       h.rows <= 4 && len == sizeof(h) + h.rows * 3 * sizeof(float));
	json_decref(gw_tensor_answer(req, len, 3));
	free(req);
	free(id);
}

static bool utf8_ok(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	json_decref(j);
	return j != NULL;
}

static void answer(const uint8_t *p, size_t n)
{
	struct gw_cmpl c = { .n_stop = 2 };
	struct gw_text t = { .c = &c };
	char out[3 * 64 + 16];
	size_t i = 0, k, got = 0, o;

	strcpy(c.stop[0], "ab");
	strcpy(c.stop[1], "\n");
	while (i < n) {
		k = 1 + p[i] % 7;	/* a piece's length */
		if (k > n - i)
			k = n - i;
		if (gw_text_feed(&t, p + i, k))
			goto out;
		i += k;
		while ((o = gw_text_take(&t, out, sizeof(out)))) {
			assert(utf8_ok(out, o));
			assert(!memmem(out, o, "\n", 1));
			got += o;
		}
	}
	gw_text_end(&t);
	while ((o = gw_text_take(&t, out, sizeof(out)))) {
		assert(utf8_ok(out, o));
		assert(!memmem(out, o, "\n", 1));
		got += o;
	}
	assert(got <= 3 * n);
out:
	gw_text_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] == 'c')
		cmpl((const char *)data + 1, size - 1);
	else if (data[0] == 't')
		tensor((const char *)data + 1, size - 1);
	else
		answer(data + 1, size - 1);
	return 0;
}
