// SPDX-License-Identifier: MIT
/*
 * A language model's request on models/NAME/infer, parsed into token ids
 * and sampling options: the text form (one line of "key=value" options,
 * then "ids N ..." or the prompt's text) and the binary form
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
	if (!err) {
		tokenizer_view(&m->tok, base, &v);
		err = tokenizer_encode(&v.tk, text, strlen(text), ids, max, n);
	}
	lease_mem_put(m->lease);
	return err;
}

/* "key=value" options, then "ids N N ...", or the prompt's text ("--
 * TEXT" when TEXT starts like an option), in @line (NUL-terminated,
 * cut up here). 0 or -errno with the reason in *@why. */
static int parse_line_ask(const struct model *m, char *line,
			  struct model_ask *a, const char **why)
{
	const struct llama_plan *p = &m->plan;
	char *w, *save = NULL, *end, *text = NULL;
	uint64_t max_tokens, v;
	const char *val;
	bool gone;
	float f;
	int err;

	max_tokens = p->max_ctx < 16 ? p->max_ctx : 16;	/* the default */
	a->sp.top_p = 1.0f;
	for (w = strtok_r(line, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (parse_key(w, "max_tokens", &val)) {
			if (parse_u64(val, &max_tokens))
				return ASK_FAIL(-EINVAL, "max_tokens: no "
						"number");
		} else if (parse_key(w, "deadline_ms", &val)) {
			if (parse_u32(val, &a->deadline_ms))
				return ASK_FAIL(-EINVAL, "deadline_ms: no "
						"number");
		} else if (parse_key(w, "seed", &val)) {
			if (parse_u64(val, &a->seed))
				return ASK_FAIL(-EINVAL, "seed: no u64");
		} else if (parse_key(w, "temperature", &val) ||
			   parse_key(w, "top_p", &val)) {
			f = strtof(val, &end);
			if (!*val || *end)
				return ASK_FAIL(-EINVAL, "temperature or "
						"top_p: no number");
			if (w[0] == 't' && w[1] == 'e')
				a->sp.temperature = f;
			else
				a->sp.top_p = f;
		} else if (parse_key(w, "output", &val)) {
			if (strcmp(val, "ids") && strcmp(val, "text"))
				return ASK_FAIL(-EINVAL, "output: text or "
						"ids");
			a->out = strcmp(val, "ids") ? MODEL_OUT_TEXT :
						       MODEL_OUT_IDS;
		} else if (parse_key(w, "usage", &val)) {
			if (strcmp(val, "0") && strcmp(val, "1"))
				return ASK_FAIL(-EINVAL, "usage: 0 or 1");
			a->usage = val[0] == '1';
		} else if (!strcmp(w, "ids")) {
			break;
		} else if (strchr(w, '=') && strcmp(w, "--")) {
			return ASK_FAIL(-EINVAL, "an unknown option");
		} else {
			/* "--": the text is what follows, else from w on */
			text = strcmp(w, "--") ? w : save;
			if (text == w && save && *save)
				save[-1] = ' ';	/* the rest of the line */
			break;
		}
	}
	if (!w)
		return ASK_FAIL(-EINVAL, "no prompt");
	a->stop = tokenizer_loaded(&m->tok) && a->out == MODEL_OUT_TEXT;
	a->ids = calloc(p->max_ctx, sizeof(*a->ids));
	if (!a->ids)
		return ASK_FAIL(-ENOMEM, "no memory for the prompt");
	if (text) {
		err = ask_encode(m, text, a->ids, p->max_ctx, &a->n_ids,
				 &gone);
		if (err)
			return ASK_FAIL(err, gone ? "the model's lease has "
					"no memory to read its tokenizer in" :
					err == -EFBIG ? "prompt of "
					"max_ctx ids or more" :
					err == -EOPNOTSUPP ? "no tokenizer "
					"loaded, give 'ids N ...'" : "text "
					"the tokenizer cannot encode");
	}
	for (w = text ? NULL : strtok_r(NULL, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (parse_u64(w, &v) || v >= p->cfg.vocab_size)
			return ASK_FAIL(-EINVAL, "ids: an id outside the "
					"vocabulary");
		if (a->n_ids == p->max_ctx)
			return ASK_FAIL(-EFBIG, "prompt of max_ctx ids or "
					"more");
		a->ids[a->n_ids++] = (uint32_t)v;
	}
	return ask_check(p, a, max_tokens, why);
}

static int parse_text(const struct model *m, const char *buf, size_t len,
		      struct model_ask *a, const char **why)
{
	char *line;
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	if (memchr(buf, '\n', len) || memchr(buf, '\0', len))
		return ASK_FAIL(-EINVAL, "a request is one line");
	line = malloc(len + 1);
	if (!line)
		return ASK_FAIL(-ENOMEM, "no memory for a request");
	memcpy(line, buf, len);
	line[len] = '\0';
	err = parse_line_ask(m, line, a, why);
	free(line);
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
