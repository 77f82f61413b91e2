// SPDX-License-Identifier: MIT
/*
 * A language model's request on models/NAME/infer, parsed into token ids
 * and sampling options: the text form ("key=value" options, stop
 * strings among them (stopstr.c), then "ids N ..." on the first line,
 * or the prompt's text, which may run over several lines) and the
 * binary form
 * (uapi/model.h: a gl_infer_ids header, then n_ids u32 ids). Both forms
 * end in one check of the options and the prompt against the model's
 * plan (ask_check), so they accept and refuse the same values with the
 * same errno. Documentation/models.md, "models/NAME/" and "The binary
 * form".
 * Invariant: reads only the request's @len bytes and the model's fixed
 * plan and tokenizer (a placed one under its lease's memory read lock);
 * on failure nothing is kept (a->ids freed, NULL).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dev/dev.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/parse.h"
#include "uapi/model.h"

#define ASK_FAIL(err, reason)	(*why = (reason), (err))

/*
 * The options and prompt length both forms share, against @p: EINVAL
 * for a value outside its range, EFBIG for a prompt or an answer over
 * max_ctx; then the answer's length cut to the positions the prompt
 * leaves. 0 or -errno with the field named in *@why.
 */
static int ask_check(const struct llama_plan *p, struct model_ask *a,
		     uint64_t max_tokens, const char **why)
{
	if (!a->n_ids)
		return ASK_FAIL(-EINVAL, "no prompt");
	if (a->n_ids >= p->max_ctx)
		return ASK_FAIL(-EFBIG, "prompt of max_ctx ids or more");
	if (!max_tokens)
		return ASK_FAIL(-EINVAL, "max_tokens 0");
	if (max_tokens > p->max_ctx)
		return ASK_FAIL(-EFBIG, "max_tokens over max_ctx");
	if (!(a->sp.temperature >= 0.0f && a->sp.temperature <= 100.0f))
		return ASK_FAIL(-EINVAL, "temperature outside 0..100");
	if (!(a->sp.top_p > 0.0f && a->sp.top_p <= 1.0f))
		return ASK_FAIL(-EINVAL, "top_p outside (0, 1]");
	if (a->deadline_ms > MODEL_DEADLINE_MAX_MS)
		return ASK_FAIL(-EINVAL, "deadline_ms over a day");
	a->max_tokens = (uint32_t)max_tokens;
	if (a->max_tokens > p->max_ctx - a->n_ids)
		a->max_tokens = p->max_ctx - a->n_ids;
	return 0;
}

/*
 * @text into at most @max ids with @m's tokenizer. A placed one is read
 * in its lease's block, under the lease's memory read lock (a resize may
 * move the block; an expiry or drop frees it); *@gone says the memory
 * was not there (the lease's error, or -EFAULT when it shrank under the
 * model). 0 or tokenizer_encode()'s -errno otherwise.
 */
static int ask_encode(const struct model *m, const char *text, uint32_t *ids,
		      uint32_t max, uint32_t *n, bool *gone)
{
	struct tokenizer_view v;
	struct lease_mem mem;
	void *base = NULL;
	int err;

	*gone = false;
	if (!m->tok.bytes)	/* none, or loaded on the heap */
		return tokenizer_encode(&m->tok, text, strlen(text), ids,
					max, n);
	err = lease_mem_get(m->lease, &mem);
	if (!err && mem.vram < m->need)
		err = -EFAULT;
	if (!err)
		err = mem.dev->ops->resolve(mem.region, 0, m->need, &base);
	*gone = err;
	if (!err) {	/* on another device the tables are the host's */
		tokenizer_view(&m->tok, model_host_base(m, base), &v);
		err = tokenizer_encode(&v.tk, text, strlen(text), ids, max, n);
	}
	lease_mem_put(m->lease);
	return err;
}

/* The prompt's text into a->ids with @m's tokenizer. */
static int ask_text(const struct model *m, const char *text,
		    struct model_ask *a, const char **why)
{
	bool gone;
	int err;

	err = ask_encode(m, text, a->ids, m->plan.max_ctx, &a->n_ids, &gone);
	if (err)
		return ASK_FAIL(err, gone ? "the model's lease has no memory "
				"to read its tokenizer in" :
				err == -EFBIG ? "prompt of max_ctx ids or "
				"more" : err == -EOPNOTSUPP ? "no tokenizer "
				"loaded, give 'ids N ...'" : "text the "
				"tokenizer cannot encode");
	return 0;
}

/* The ids after "ids", in the words of @s (NUL-terminated, cut up). */
static int ask_ids(const struct model *m, char *s, struct model_ask *a,
		   const char **why)
{
	const struct llama_plan *p = &m->plan;
	char *w, *save = NULL;
	uint64_t v;

	for (w = strtok_r(s, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (parse_u64(w, &v) || v >= p->cfg.vocab_size)
			return ASK_FAIL(-EINVAL, "ids: an id outside the "
					"vocabulary");
		if (a->n_ids == p->max_ctx)
			return ASK_FAIL(-EFBIG, "prompt of max_ctx ids or "
					"more");
		a->ids[a->n_ids++] = (uint32_t)v;
	}
	return 0;
}

/* One "key=value" option @w (NUL-terminated) into @a. */
static int ask_option(char *w, struct model_ask *a, uint64_t *max_tokens,
		      const char **why)
{
	const char *val;
	char *end;
	float f;

	if (parse_key(w, "max_tokens", &val)) {
		if (parse_u64(val, max_tokens))
			return ASK_FAIL(-EINVAL, "max_tokens: no number");
	} else if (parse_key(w, "deadline_ms", &val)) {
		if (parse_u32(val, &a->deadline_ms))
			return ASK_FAIL(-EINVAL, "deadline_ms: no number");
	} else if (parse_key(w, "seed", &val)) {
		if (parse_u64(val, &a->seed))
			return ASK_FAIL(-EINVAL, "seed: no u64");
	} else if (parse_key(w, "temperature", &val) ||
		   parse_key(w, "top_p", &val)) {
		f = strtof(val, &end);
		if (!*val || *end)
			return ASK_FAIL(-EINVAL, "temperature or top_p: no "
					"number");
		if (w[0] == 't' && w[1] == 'e')
			a->sp.temperature = f;
		else
			a->sp.top_p = f;
	} else if (parse_key(w, "output", &val)) {
		if (strcmp(val, "ids") && strcmp(val, "text"))
			return ASK_FAIL(-EINVAL, "output: text or ids");
		a->out = strcmp(val, "ids") ? MODEL_OUT_TEXT : MODEL_OUT_IDS;
	} else if (parse_key(w, "usage", &val)) {
		if (strcmp(val, "0") && strcmp(val, "1"))
			return ASK_FAIL(-EINVAL, "usage: 0 or 1");
		a->usage = val[0] == '1';
	} else if (parse_key(w, "stop", &val)) {
		return stopstr_add(&a->stops, val, why);
	} else {
		return ASK_FAIL(-EINVAL, "an unknown option");
	}
	return 0;
}

/*
 * The text form in @req (NUL-terminated, cut up here): on its first
 * line, words apart by spaces, "key=value" options, then the prompt:
 * "ids N N ..." (the rest of that line), or text: from the first word
 * that is no option, or after the word "--" and the one space or
 * newline that ends it, to the end of @req: only text holds newlines.
 * 0 or -errno with the reason in *@why.
 */
static int parse_req_ask(const struct model *m, char *req,
			 struct model_ask *a, const char **why)
{
	const struct llama_plan *p = &m->plan;
	char *w = req, *we, *eol = req + strcspn(req, "\n"), *text = NULL;
	uint64_t max_tokens;
	bool ids = false;
	int err;

	max_tokens = p->max_ctx < 16 ? p->max_ctx : 16;	/* the default */
	a->sp.top_p = 1.0f;
	for (;;) {
		w += strspn(w, " ");
		if (w >= eol)
			return ASK_FAIL(-EINVAL, *eol ? "no prompt on the "
					"first line (text of several lines "
					"follows '--')" : "no prompt");
		we = w + strcspn(w, " \n");
		if (we - w == 2 && !memcmp(w, "--", 2)) {
			text = *we ? we + 1 : we;	/* past one byte */
			break;
		}
		if (we - w == 3 && !memcmp(w, "ids", 3)) {
			if (*eol)
				return ASK_FAIL(-EINVAL, "ids: a newline in "
						"the request (only text "
						"holds newlines)");
			ids = true;
			w = we;
			break;
		}
		if (!memchr(w, '=', (size_t)(we - w))) {
			text = w;	/* the text is from here on */
			break;
		}
		if (*we == '\n')
			return ASK_FAIL(-EINVAL, "no prompt on the first "
					"line (text of several lines "
					"follows '--')");
		if (*we)
			*we++ = '\0';
		err = ask_option(w, a, &max_tokens, why);
		if (err)
			return err;
		w = we;
	}
	a->stop = tokenizer_loaded(&m->tok) && a->out == MODEL_OUT_TEXT;
	a->ids = calloc(p->max_ctx, sizeof(*a->ids));
	if (!a->ids)
		return ASK_FAIL(-ENOMEM, "no memory for the prompt");
	err = ids ? ask_ids(m, w, a, why) : ask_text(m, text, a, why);
	if (err)
		return err;
	return ask_check(p, a, max_tokens, why);
}

static int parse_text(const struct model *m, const char *buf, size_t len,
		      struct model_ask *a, const char **why)
{
	char *req;
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	if (memchr(buf, '\0', len))
		return ASK_FAIL(-EINVAL, "a NUL byte in the request");
	req = malloc(len + 1);
	if (!req)
		return ASK_FAIL(-ENOMEM, "no memory for a request");
	memcpy(req, buf, len);
	req[len] = '\0';
	err = parse_req_ask(m, req, a, why);
	free(req);
	return err;
}

/* The binary form: a gl_infer_ids header, then exactly n_ids u32 ids. */
static int parse_bin(const struct model *m, const char *buf, size_t len,
		     struct model_ask *a, const char **why)
{
	const struct llama_plan *p = &m->plan;
	struct gl_infer_ids h;
	uint32_t i;
	int err;

	if (len < sizeof(h))
		return ASK_FAIL(-EINVAL, "a request is a gl_infer_ids "
				"header and its ids");
	memcpy(&h, buf, sizeof(h));
	if (h.reserved0 || h.reserved[0])
		return ASK_FAIL(-EINVAL, "reserved: not zero");
	if (h.flags & ~(GL_INFER_STOP_EOS | GL_INFER_SERVED_BY))
		return ASK_FAIL(-EINVAL, "flags: an unknown bit");
	if (len - sizeof(h) != (size_t)h.n_ids * sizeof(uint32_t))
		return ASK_FAIL(-EINVAL, "n_ids: not the ids that follow");
	a->n_ids = h.n_ids;
	a->sp.temperature = h.temperature;
	a->sp.top_p = h.top_p;
	a->seed = h.seed;
	a->deadline_ms = h.deadline_ms;
	a->out = MODEL_OUT_U32;
	a->stop = h.flags & GL_INFER_STOP_EOS;
	a->served_hdr = h.flags & GL_INFER_SERVED_BY;
	err = ask_check(p, a, h.max_tokens, why);
	if (err)
		return err;
	a->ids = malloc((size_t)h.n_ids * sizeof(uint32_t));
	if (!a->ids)
		return ASK_FAIL(-ENOMEM, "no memory for the prompt");
	memcpy(a->ids, buf + sizeof(h), (size_t)h.n_ids * sizeof(uint32_t));
	for (i = 0; i < h.n_ids; i++)
		if (a->ids[i] >= p->cfg.vocab_size)
			return ASK_FAIL(-EINVAL, "ids: an id outside the "
					"vocabulary");
	return 0;
}

int model_ask_parse(const struct model *m, const char *buf, size_t len,
		    struct model_ask *a, const char **why)
{
	uint32_t magic = 0;
	int err;

	memset(a, 0, sizeof(*a));
	if (len >= sizeof(magic))
		memcpy(&magic, buf, sizeof(magic));
	if (magic == GL_INFER_MAGIC)
		return ASK_FAIL(-EOPNOTSUPP, "tensors are an mlp's; a "
				"language model takes gl_infer_ids");
	if (magic == GL_INFER_IDS_MAGIC)
		err = parse_bin(m, buf, len, a, why);
	else
		err = parse_text(m, buf, len, a, why);
	if (err) {
		free(a->ids);
		a->ids = NULL;
	}
	return err;
}
